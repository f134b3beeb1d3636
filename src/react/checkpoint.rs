//! The reaction's pieces of the state file (§6), exported and restored
//! here and nowhere else: the gate's ([`GatePiece`]: the keys' windows,
//! cooldowns and suppressed counts, the matches it holds, its settings)
//! and the runner's ([`RunnerPiece`]: the commands running, the runs to
//! do or do again). `checkpoint::persist` only puts them in the document.

use std::cell::Cell;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, Instant, SystemTime};

use crate::checkpoint::ReactionCheckpoint;
use crate::checkpoint::state::{
    EnvRecord, FieldRecord, GatePiece, GateSettings, HeldRecord, JobRecord, KeyRecord, RunnerPiece,
    RunningRecord, WallTime,
};
use crate::input::journal;
use crate::react::action;
use crate::react::followup::{Action, Job};
use crate::react::gate::KeySnapshot;
use crate::react::linetime::{LineClock, Time};
use crate::react::reaction::Reaction;
use crate::react::runs::JobSnapshot;
use crate::settings::config::Config;

/// How many bytes of held lines a save keeps at most.
pub const MAX_HELD_SAVED: usize = 1 << 20;

/// What the reaction needs to export its pieces besides itself.
#[derive(Debug, Default)]
pub struct Kept {
    /// The settings the keys are kept under, saved for `logs2eca status`.
    settings: GateSettings,
    /// Held matches did not all fit in the last save (warned once).
    held_cut_warned: Cell<bool>,
}

impl Kept {
    pub fn new(config: &Config) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Kept {
            settings: GateSettings {
                wait_ms: ms(config.wait),
                threshold: config.gate.threshold.count,
                window_ms: ms(config.gate.threshold.window),
            },
            held_cut_warned: Cell::new(false),
        }
    }
}

impl ReactionCheckpoint for Reaction {
    fn gate_piece(&self, now: Instant) -> GatePiece {
        GatePiece {
            held: self.held_records(),
            keys: self.export_keys(now).into_iter().map(key_record).collect(),
            settings: Some(self.kept().settings),
        }
    }

    fn runner_piece(&self, now: Instant, wall: SystemTime) -> RunnerPiece {
        RunnerPiece {
            jobs: self
                .export_jobs(now, wall)
                .into_iter()
                .map(job_record)
                .collect(),
            running: self
                .running_commands()
                .into_iter()
                .map(|(pgid, start_ticks, key)| RunningRecord {
                    pgid,
                    start_ticks,
                    key,
                })
                .collect(),
        }
    }

    fn generation(&self) -> u64 {
        Reaction::generation(self)
    }

    fn take_output(&mut self) -> Vec<u8> {
        Reaction::take_output(self)
    }
}

impl Reaction {
    /// The matches the gate holds, as the state keeps them: at most
    /// `MAX_HELD_SAVED` bytes of lines, so that a deep queue of long lines
    /// cannot make every save (one after each spawn) megabytes long.
    fn held_records(&self) -> Vec<HeldRecord> {
        let held = self.held_lines();
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
                key_from_line: false,
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
        let warned = &self.kept().held_cut_warned;
        if left_out > 0 && !warned.get() {
            log::warn!(
                "{left_out} held match(es) beyond {} KiB of lines are not in the saved state: \
                 a crash now would lose them",
                MAX_HELD_SAVED >> 10
            );
        }
        warned.set(left_out > 0);
        records
    }

    /// Puts back the gate's and the runner's pieces of a saved state: the
    /// keys' windows and cooldowns, the runs to do, then the matches that
    /// were held, in their order. A command a crash left running is ended
    /// first.
    pub fn restore(
        &mut self,
        config: &Config,
        clock: &mut LineClock,
        mut gate: GatePiece,
        runner: RunnerPiece,
        now: Instant,
    ) {
        // A command a crash left running must not run twice at once: its
        // group is ended, and its key's cooldown counts from now, its end.
        let wall = WallTime::from_system(SystemTime::now());
        for left in &runner.running {
            if action::end_left_running(left.pgid, left.start_ticks) {
                match gate.keys.iter_mut().find(|k| k.key == left.key) {
                    Some(key) => key.last_end_unix_ms = Some(wall),
                    None => gate.keys.push(KeyRecord {
                        key: left.key.clone(),
                        last_end_unix_ms: Some(wall),
                        ..KeyRecord::default()
                    }),
                }
            }
        }
        self.import_keys(gate.keys.into_iter().map(key_snapshot).collect());
        // Runs that were going on, interrupted, backing off or not due yet:
        // before the held matches, which came after them.
        let jobs: Vec<_> = runner.jobs.into_iter().map(job_snapshot).collect();
        let known = jobs.iter().flatten().count();
        if known < jobs.len() {
            log::warn!(
                "{} saved run(s) of an unknown kind in the state: dropped",
                jobs.len() - known
            );
        }
        self.import_jobs(jobs.into_iter().flatten().collect(), now, SystemTime::now());
        // What was queued or waiting for a slot had not run: it goes through
        // the gate again, in its order, before anything new.
        if !gate.held.is_empty() {
            log::info!(
                "{} match(es) held when the state was saved: handling them again",
                gate.held.len()
            );
        }
        // Only lines the settings of this run still let through: the pattern
        // or the exclusion may have changed since.
        let mut dropped = 0;
        let arrival = Time::now();
        for held in &gate.held {
            // A line held cut to its first bytes may match only past the cut:
            // it cannot be checked again, and is kept.
            let cut = held.line.len() >= action::MAX_ENV_VALUE;
            if cut || config.matcher.matches(&held.line) {
                // A journal entry's fields, as its command would have had them.
                let extra: Vec<(&'static str, Vec<u8>)> = held
                    .fields
                    .iter()
                    .filter_map(|f| Some((journal::known_variable(&f.name)?, f.value.clone())))
                    .collect();
                let time = clock.alone(&held.line, arrival);
                // Nor can its key be taken from it again: it keeps the one it
                // had. A whole line gives its key again (under this run's
                // `--key`), and so does a cut one whose saved key is not to
                // be trusted (version 1's).
                let key = (cut && !held.key_from_line).then_some(&held.key[..]);
                self.on_restored(&held.line, key, held.trigger, &extra, time, now);
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            log::warn!(
                "{dropped} held match(es) from the saved state no longer match the pattern: dropped"
            );
        }
    }
}

/// A key of the gate as the state file keeps it, and back.
fn key_record(key: KeySnapshot) -> KeyRecord {
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

fn key_snapshot(key: KeyRecord) -> KeySnapshot {
    KeySnapshot {
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
fn job_record(snapshot: JobSnapshot) -> JobRecord {
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
fn job_snapshot(record: JobRecord) -> Option<JobSnapshot> {
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
