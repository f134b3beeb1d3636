//! What a line leads to: does it match (`pattern`), when may it act
//! (`gate`), and the command itself (`action`), tied together per match by
//! `reaction`.

pub mod action;
pub mod gate;
pub mod pattern;
pub mod reaction;
