//! What outlives a restart (SPEC §6): each part of the daemon exports its
//! own piece of the state and restores itself from it; this module only
//! assembles the pieces into one document and decides when it is written.
//!
//! - the source ([`SourceCheckpoint`]: a path's files by identity and
//!   offset, the journal's cursor), restored by `LogPath::resume` and
//!   `Journal::open`;
//! - the gate and the runner ([`ReactionCheckpoint`], implemented in
//!   `react::checkpoint`): the keys' windows and cooldowns, the held
//!   matches, the commands running and the runs to do, restored by
//!   `Reaction::restore`.
//!
//! The document's format and store are in `state`, when it is saved in
//! `persist`, the thread that writes it in `saver`.

pub(crate) mod persist;
pub(crate) mod saver;
pub(crate) mod state;

use std::time::{Instant, SystemTime};

use state::{GatePiece, RunnerPiece, SourcePiece};

/// What a source keeps in the state: its position, and a count of its
/// changes, which the source moves whenever its position changes (a
/// change is something new to save).
pub trait SourceCheckpoint {
    fn checkpoint(&self) -> SourcePiece;
    fn generation(&self) -> u64;
}

/// What the reaction keeps: the gate's piece, the runner's piece, and a
/// count of their changes.
pub trait ReactionCheckpoint {
    fn gate_piece(&self, now: Instant) -> GatePiece;
    fn runner_piece(&self, now: Instant, wall: SystemTime) -> RunnerPiece;
    fn generation(&self) -> u64;
    /// A dry run's lines printed since the last save: not in the state,
    /// but printed by the writer with the save that covers them (see
    /// `saver`), so that a crash never prints a line twice.
    fn take_output(&mut self) -> Vec<u8>;
}
