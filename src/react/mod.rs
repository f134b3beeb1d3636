//! What a line leads to: does it match (`pattern`), when may it act
//! (`gate`), and the command itself (`action`), tied together per match by
//! `reaction`.

pub(crate) mod action;
pub(crate) mod gate;
pub mod pattern;
pub(crate) mod reaction;
pub(crate) mod spawn_error;
