//! The daemon's side of the state file (§6): the pieces the parts export
//! (see `checkpoint`) assembled into one state, and when: soon
//! after anything the reaction keeps changed (a command spawned or ended,
//! a match counted, suppressed, queued or printed), at a rotation, at most
//! once a second while reading only advances, at the end, and never while
//! idle.
//!
//! The order of a save after a spawn is what makes the guarantee: the
//! command is started first (its latency is untouched), then, 2 ms later,
//! the position past its line is written (by the saver's thread, off the
//! loop). A crash between the two runs that command once more at restart;
//! no crash can lose a line.
//!
//! At most one command is in that window: a start that could follow
//! (a queued match, a trigger waiting for a slot, another key's trigger)
//! waits until the save of the spawn before it is written, so that a slow
//! write cannot let a second spawn in before the first is on disk. The
//! loop hears of that write through the saver's pipe ([`Persist::fd`]),
//! asked for only while a start waits, so an idle daemon never wakes.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

use crate::checkpoint::saver::{FINAL_SAVE_PATIENCE, Flushed, Saver, Store};
use crate::checkpoint::state::{SAVE_INTERVAL, SaveSchedule, State, StateFile, WallTime};
use crate::checkpoint::{ReactionCheckpoint, SourceCheckpoint};

/// How soon after a command is spawned the state is saved: the window in
/// which a crash runs that command once more at restart. Long enough for
/// the command's first steps not to share the CPU with the capture and the
/// write (measured: an immediate save cost the trigger 0.15-0.2 ms at p50,
/// this none), short enough that a crash repeats at most the last command
/// (commands take longer than this to run one after another).
pub const AFTER_SPAWN: Duration = Duration::from_millis(2);

pub struct Persist {
    saver: Saver,
    schedule: SaveSchedule,
    /// The source's and the reaction's generations last seen: a change
    /// is something new to save.
    seen: (u64, u64),
    /// Saves handed to the writer so far: the metrics file follows them.
    saves: u64,
}

impl Persist {
    pub fn new(file: StateFile) -> std::io::Result<Self> {
        Self::with_store(file)
    }

    /// Saves into `store` (the state file, or a fake disk in tests).
    pub fn with_store(store: impl Store) -> std::io::Result<Self> {
        Ok(Persist {
            saver: Saver::start(store)?,
            schedule: SaveSchedule::new(SAVE_INTERVAL),
            seen: (0, 0),
            saves: 0,
        })
    }

    /// When a save is due; `None` while nothing changed since the last.
    pub fn deadline(&self) -> Option<Instant> {
        self.schedule.deadline()
    }

    /// After lines were handled or commands started or ended: a change
    /// of the reaction is saved within `AFTER_SPAWN` (a match re-read
    /// after a crash could get another verdict: a suppressed one, once the
    /// cooldown is over, would run the command; a cooldown saved as
    /// starting at the spawn would end early; a command that ended would
    /// run again), an advance of the position alone within a second.
    pub fn note_progress(
        &mut self,
        log: &dyn SourceCheckpoint,
        reaction: &dyn ReactionCheckpoint,
        now: Instant,
    ) {
        let seen = (log.generation(), reaction.generation());
        if seen == self.seen {
            return;
        }
        let reacted = seen.1 != self.seen.1;
        self.seen = seen;
        self.schedule.dirty(now);
        if reacted {
            // Soon, but not at once: a command's start would share the CPU
            // with the capture and the write.
            self.schedule.due_by(now + AFTER_SPAWN);
        }
    }

    /// Saves if a save is due at `now`.
    pub fn on_deadline(
        &mut self,
        path: &Path,
        log: &dyn SourceCheckpoint,
        reaction: &mut dyn ReactionCheckpoint,
        now: Instant,
    ) {
        if self.schedule.is_due(now) {
            self.save(path, log, reaction, now);
        }
    }

    /// Saves now (a rotation, the end); the dry run's lines printed so
    /// far come out with it.
    pub fn save(
        &mut self,
        path: &Path,
        log: &dyn SourceCheckpoint,
        reaction: &mut dyn ReactionCheckpoint,
        now: Instant,
    ) {
        let wall = SystemTime::now();
        let state = State::of(
            path,
            WallTime::from_system(wall),
            log.checkpoint(),
            reaction.gate_piece(now),
            reaction.runner_piece(now, wall),
        );
        self.seen = (log.generation(), reaction.generation());
        // A failure is the saver's to report; the next save is due when
        // reading advances again, as after any save: none while idle.
        self.saver
            .submit(state, reaction.generation(), reaction.take_output());
        self.schedule.saved(now);
        // The size of the save before this one: what the next must wait
        // for at MAX_SAVE_RATE (D9).
        self.schedule.last_size(self.saver.last_len());
        self.saves += 1;
    }

    /// Saves handed to the writer so far.
    pub fn saves(&self) -> u64 {
        self.saves
    }

    /// The reaction's generation that the last written state was taken
    /// at: every spawn up to it is on disk (or its write failed, which was
    /// warned about: a failing disk does not hold commands back).
    pub fn written(&self) -> u64 {
        self.saver.written()
    }

    /// Asks for [`Persist::fd`] to become readable once the state of
    /// `generation` is written; `false`: it already is.
    pub fn wake_when_written(&self, generation: u64) -> bool {
        self.saver.wake_when_written(generation)
    }

    /// What the loop waits on, besides the signals and the input.
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.saver.fd()
    }

    /// The descriptor was readable: read what it held.
    pub fn on_ready(&mut self) {
        self.saver.on_ready();
    }

    /// Waits (a few seconds of a stalled disk at most, less once `hurry`
    /// is set; as long as standard output's reader takes) until the saves
    /// handed over are written: the end of a run. Returns the printed
    /// lines of a save that is not written because the disk stalled (to
    /// print now); those of a hurry while the writer prints stay with it
    /// (printing them beside it would wait for the same reader, and a
    /// restart prints them, as their state is not saved).
    pub fn flush(&mut self, hurry: &AtomicBool) -> Vec<Vec<u8>> {
        match self.saver.wait(FINAL_SAVE_PATIENCE, hurry) {
            Flushed::Written | Flushed::HurriedPrinting => Vec::new(),
            Flushed::GaveUp | Flushed::Hurried => self.saver.take_output(),
        }
    }

    /// Has the reader of the printed lines gone?
    pub fn output_closed(&self) -> bool {
        self.saver.output_closed()
    }
}
