//! What a line leads to: does it match (`pattern`), what is its time
//! (`linetime`, the line's own), when may it act (`gate`), and the command
//! itself (`action`), tied together per match by `reaction`; what the
//! state file keeps of them (`checkpoint`).

pub(crate) mod action;
pub(crate) mod checkpoint;
pub(crate) mod followup;
pub mod gate;
pub mod linetime;
pub mod pattern;
pub(crate) mod reaction;
pub(crate) mod runs;
pub(crate) mod spawn_error;
