//! The daemon's side of the state file (§6): what is saved (the files'
//! positions and the gate's keys), and when — after a command is spawned,
//! at a rotation, at most once a second while reading advances, at the
//! end, and never while idle.
//!
//! The order of a save after a spawn is what makes the guarantee: the
//! command is started first (its latency is untouched), then the position
//! past its line is written. A crash between the two runs that command once
//! more at restart; no crash can lose a line.

use std::path::Path;
use std::time::{Instant, SystemTime};

use crate::gate;
use crate::reaction::Reaction;
use crate::rotation::LogPath;
use crate::state::{
    KeyRecord, SAVE_INTERVAL, SaveOutcome, SaveSchedule, State, StateFile, WallTime,
};

pub struct Persist {
    file: StateFile,
    schedule: SaveSchedule,
    /// The position and spawn count last seen: a change is something new
    /// to save.
    seen: (u64, u64),
}

impl Persist {
    pub fn new(file: StateFile) -> Self {
        Persist {
            file,
            schedule: SaveSchedule::new(SAVE_INTERVAL),
            seen: (0, 0),
        }
    }

    /// When a save is due; `None` while nothing changed since the last.
    pub fn deadline(&self) -> Option<Instant> {
        self.schedule.deadline()
    }

    /// After lines were handled or commands started: a spawn is saved at
    /// once, an advance of the position within a second.
    pub fn note_progress(&mut self, path: &Path, log: &LogPath, reaction: &Reaction, now: Instant) {
        let seen = (log.progress(), reaction.started());
        if seen == self.seen {
            return;
        }
        let spawned = seen.1 != self.seen.1;
        self.seen = seen;
        if spawned {
            self.save(path, log, reaction, now);
        } else {
            self.schedule.dirty(now);
        }
    }

    /// Saves if a save is due at `now`.
    pub fn on_deadline(&mut self, path: &Path, log: &LogPath, reaction: &Reaction, now: Instant) {
        if self.schedule.is_due(now) {
            self.save(path, log, reaction, now);
        }
    }

    /// Saves now (a rotation, the end).
    pub fn save(&mut self, path: &Path, log: &LogPath, reaction: &Reaction, now: Instant) {
        let wall = SystemTime::now();
        let mut state = State::new(path, WallTime::from_system(wall));
        let held: Vec<_> = reaction.held_origins().collect();
        log.save_into(&mut state, &held);
        state.keys = reaction
            .export_keys(now, wall)
            .into_iter()
            .map(to_record)
            .collect();
        self.seen = (log.progress(), reaction.started());
        match self.file.save(&state) {
            SaveOutcome::Written | SaveOutcome::Recovered => self.schedule.saved(now),
            SaveOutcome::Failed | SaveOutcome::FailedAgain => self.schedule.failed(now),
        }
    }
}

/// The gate's keys as the state file keeps them, and back.
fn to_record(key: gate::KeyRecord) -> KeyRecord {
    KeyRecord {
        key: key.key,
        last_end_unix_ms: key.last_end.map(WallTime::from_system),
        suppressed: key.suppressed,
        window_unix_ms: key.window.into_iter().map(WallTime::from_system).collect(),
    }
}

pub fn from_record(key: KeyRecord) -> gate::KeyRecord {
    gate::KeyRecord {
        key: key.key,
        last_end: key.last_end_unix_ms.map(WallTime::to_system),
        suppressed: key.suppressed,
        window: key
            .window_unix_ms
            .into_iter()
            .map(WallTime::to_system)
            .collect(),
    }
}
