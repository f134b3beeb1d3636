//! What outlives a restart: the state file's format and store (`state`),
//! what is kept of the files and the keys (`persist`) and when it is
//! saved (`saver`).

pub mod persist;
pub mod saver;
pub mod state;
