//! What outlives a restart: the state file's format and store (`state`),
//! what is kept of the files and the keys (`persist`) and when it is
//! saved (`saver`).

pub(crate) mod persist;
pub(crate) mod saver;
pub(crate) mod state;
