//! The daemon's side of the state file (§6): what is saved (the files'
//! positions, the gate's keys and the matches it holds), and when: soon
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
use std::time::{Duration, Instant, SystemTime};

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::checkpoint::saver::{FINAL_SAVE_PATIENCE, Saver, Store};
use crate::checkpoint::state::{
    EnvRecord, FieldRecord, GateRecord, HeldRecord, JobRecord, JournalRecord, KeyRecord,
    RunningRecord, SAVE_INTERVAL, SaveSchedule, State, StateFile, WallTime,
};
use crate::input::file::rotation::LogPath;
use crate::input::journal::{Journal, Position};
use crate::react::followup::{Action, Job};
use crate::react::gate;
use crate::react::linetime::Time;
use crate::react::reaction::Reaction;
use crate::react::runs::JobSnapshot;
use std::sync::atomic::AtomicBool;

/// How soon after a command is spawned the state is saved: the window in
/// which a crash runs that command once more at restart. Long enough for
/// the command's first steps not to share the CPU with the capture and the
/// write (measured: an immediate save cost the trigger 0.15-0.2 ms at p50,
/// this none), short enough that a crash repeats at most the last command
/// (commands take longer than this to run one after another).
pub const AFTER_SPAWN: Duration = Duration::from_millis(2);

/// How many bytes of held lines a save keeps at most.
pub const MAX_HELD_SAVED: usize = 1 << 20;

/// What a source keeps in the state: its position, and a count that
/// moves with it (a change is something new to save).
pub trait Checkpoint {
    fn progress(&self) -> u64;
    fn save_into(&self, state: &mut State);
}

impl Checkpoint for LogPath {
    fn progress(&self) -> u64 {
        LogPath::progress(self)
    }

    fn save_into(&self, state: &mut State) {
        LogPath::save_into(self, state);
    }
}

impl Checkpoint for Journal {
    fn progress(&self) -> u64 {
        Journal::progress(self)
    }

    fn save_into(&self, state: &mut State) {
        let position = self.position();
        state.journal = Some(JournalRecord {
            cursor: position.cursor,
            received_unix_us: position.time_us,
        });
    }
}

/// The journal's position a saved state holds.
pub fn journal_position(state: &State) -> Option<Position> {
    state.journal.as_ref().map(|record| Position {
        cursor: record.cursor.clone(),
        time_us: record.received_unix_us,
    })
}

pub struct Persist {
    saver: Saver,
    schedule: SaveSchedule,
    /// The position and the reaction's generation last seen: a change is
    /// something new to save.
    seen: (u64, u64),
    /// Held matches did not all fit in the last save (warned once).
    held_cut_warned: bool,
    /// Saves handed to the writer so far: the metrics file follows them.
    saves: u64,
    /// The settings the keys are kept under, saved for `logs2eca status`.
    gate: GateRecord,
}

impl Persist {
    pub fn new(file: StateFile, gate: GateRecord) -> std::io::Result<Self> {
        Self::with_store(file, gate)
    }

    /// Saves into `store` (the state file, or a fake disk in tests).
    pub fn with_store(store: impl Store, gate: GateRecord) -> std::io::Result<Self> {
        Ok(Persist {
            saver: Saver::start(store)?,
            schedule: SaveSchedule::new(SAVE_INTERVAL),
            seen: (0, 0),
            held_cut_warned: false,
            saves: 0,
            gate,
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
    pub fn note_progress(&mut self, log: &dyn Checkpoint, reaction: &Reaction, now: Instant) {
        let seen = (log.progress(), reaction.generation());
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
        log: &dyn Checkpoint,
        reaction: &mut Reaction,
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
        log: &dyn Checkpoint,
        reaction: &mut Reaction,
        now: Instant,
    ) {
        let wall = SystemTime::now();
        let mut state = State::new(path, WallTime::from_system(wall));
        log.save_into(&mut state);
        state.held = self.held_records(reaction);
        state.gate = Some(self.gate);
        state.running = reaction
            .running_commands()
            .into_iter()
            .map(|(pgid, start_ticks, key)| RunningRecord {
                pgid,
                start_ticks,
                key,
            })
            .collect();
        state.keys = reaction
            .export_keys(now)
            .into_iter()
            .map(to_record)
            .collect();
        state.jobs = reaction
            .export_jobs(now, wall)
            .into_iter()
            .map(job_to_record)
            .collect();
        self.seen = (log.progress(), reaction.generation());
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

    /// The matches the gate holds, as the state keeps them: at most
    /// `MAX_HELD_SAVED` bytes of lines, so that a deep queue of long lines
    /// cannot make every save (one after each spawn) megabytes long.
    fn held_records(&mut self, reaction: &Reaction) -> Vec<HeldRecord> {
        let held = reaction.held_lines();
        let mut bytes = 0;
        let records: Vec<HeldRecord> = held
            .iter()
            .take_while(|(line, ..)| {
                bytes += line.len();
                bytes <= MAX_HELD_SAVED
            })
            .map(|&(line, trigger, key, fields)| HeldRecord {
                line: line.to_vec(),
                trigger,
                key: key.to_vec(),
                fields: fields
                    .iter()
                    .map(|(name, value)| FieldRecord {
                        name: (*name).to_owned(),
                        value: value.clone(),
                    })
                    .collect(),
            })
            .collect();
        let left_out = held.len() - records.len();
        if left_out > 0 && !self.held_cut_warned {
            log::warn!(
                "{left_out} held match(es) beyond {} KiB of lines are not in the saved state: \
                 a crash now would lose them",
                MAX_HELD_SAVED >> 10
            );
        }
        self.held_cut_warned = left_out > 0;
        records
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

    /// Waits (a few seconds at most, less once `hurry` is set) until the
    /// saves handed over are written: the end of a run. Returns the
    /// printed lines of a save that is not written (to print now).
    pub fn flush(&mut self, hurry: &AtomicBool) -> Vec<u8> {
        self.saver.wait(FINAL_SAVE_PATIENCE, hurry);
        self.saver.take_output()
    }

    /// Has the reader of the printed lines gone?
    pub fn output_closed(&self) -> bool {
        self.saver.output_closed()
    }
}

/// The gate's keys as the state file keeps them, and back.
fn to_record(key: gate::KeySnapshot) -> KeyRecord {
    KeyRecord {
        key: key.key,
        last_end_unix_ms: key.last_end.map(|t| WallTime::from_system(t.to_system())),
        suppressed: key.suppressed,
        window_unix_ms: key
            .window
            .into_iter()
            .map(|t| WallTime::from_system(t.to_system()))
            .collect(),
    }
}

pub fn from_record(key: KeyRecord) -> gate::KeySnapshot {
    gate::KeySnapshot {
        key: key.key,
        last_end: key
            .last_end_unix_ms
            .map(|t| Time::from_system(t.to_system())),
        suppressed: key.suppressed,
        window: key
            .window_unix_ms
            .into_iter()
            .map(|t| Time::from_system(t.to_system()))
            .collect(),
    }
}

/// A run still to do as the state file keeps it, and back.
fn job_to_record(snapshot: JobSnapshot) -> JobRecord {
    let job = snapshot.job;
    JobRecord {
        action: job.action.name().to_owned(),
        key: job.key.into_vec(),
        env: job
            .vars
            .into_iter()
            .map(|(name, value)| EnvRecord {
                name,
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        attempt: job.attempt,
        due_unix_ms: snapshot.due.map(WallTime::from_system),
        held: snapshot.held,
    }
}

/// `None` for a record this logs2eca cannot run (an unknown action).
pub fn job_from_record(record: JobRecord) -> Option<JobSnapshot> {
    let action = Action::from_name(&record.action)?;
    Some(JobSnapshot {
        job: Job {
            action,
            key: record.key.into(),
            vars: record
                .env
                .into_iter()
                .map(|var| (var.name, OsString::from_vec(var.value)))
                .collect(),
            attempt: record.attempt.max(1),
        },
        due: record.due_unix_ms.map(WallTime::to_system),
        held: record.held,
    })
}
