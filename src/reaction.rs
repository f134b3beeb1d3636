//! What a matching line leads to: the gate decides (threshold, key,
//! cooldown, slots), then the command runs, or in a dry run the line is
//! printed. Reading never waits for a command: a match while it runs is
//! counted or held, never waited for.

use std::time::{Instant, SystemTime};

use regex::bytes::CaptureLocations;

use crate::action::{self, Finished, MAX_ENV_VALUE, Runner, Trigger};
use crate::config::Config;
use crate::follow::Origin;
use crate::gate::{
    Gate, HELD_BYTES, Held, KeyRecord, Notice, QUEUE_BOUND, Settings, Start, Verdict,
};
use crate::pattern::Pattern;
use crate::printer::{Details, Printer};

/// How much of a line goes into a log message.
const LOGGED_LINE: usize = 200;

/// A held match as the state keeps it: its line, whether it is a trigger
/// waiting for a slot, and what its command gets besides the line.
pub type HeldLine<'a> = (&'a [u8], bool, &'a [(&'static str, Vec<u8>)]);

/// What a run does: print (dry run) or run the command.
// One value for the life of the process: the size difference is moot.
#[allow(clippy::large_enum_variant)]
enum Sink {
    /// `--dry-run`: a would-be run takes no time, so its cooldown starts at
    /// once.
    Print(Printer),
    Run {
        runner: Runner,
        file: String,
    },
}

pub struct Reaction {
    /// What is kept of a line that has to wait is its start, as much as
    /// the command would see of it.
    gate: Gate<Pending>,
    sink: Sink,
    pattern: Pattern,
    /// The `--key` groups; empty: one key for every line.
    key_groups: Vec<usize>,
    /// Scratch space for the key of each match.
    key: Vec<u8>,
    locations: CaptureLocations,
    /// Commands started so far: the state is saved after each.
    started: u64,
    /// logs2eca is stopping: what the gate holds stays held (the state
    /// keeps its lines for the next start) instead of starting now, only
    /// to be killed.
    stopping: bool,
}

impl Reaction {
    pub fn new(config: &Config) -> Self {
        let sink = match &config.command {
            None => Sink::Print(Printer::new(
                config.json.then(|| config.path_as_given.clone()),
            )),
            Some(command) => Sink::Run {
                runner: Runner::new(command.clone(), config.timeout),
                file: config.path_as_given.clone(),
            },
        };
        Reaction {
            gate: Gate::new(gate_settings(config)),
            sink,
            pattern: config.matcher.pattern.clone(),
            key_groups: config.gate.key_groups.clone(),
            key: Vec::new(),
            locations: config.matcher.pattern.capture_locations(),
            started: 0,
            stopping: false,
        }
    }

    /// A line matched (and was not excluded); `origin` is where it starts.
    pub fn on_match(&mut self, line: &[u8], origin: Origin, now: Instant) {
        self.arrive(line, origin, &[], now, false);
    }

    /// A line of a journal entry matched: `extra` is what the command
    /// gets of the entry besides the line.
    pub fn on_entry_match(
        &mut self,
        line: &[u8],
        origin: Origin,
        extra: &[(&'static str, Vec<u8>)],
        now: Instant,
    ) {
        self.arrive(line, origin, extra, now, false);
    }

    /// A match the state file kept (held when the daemon stopped), back at
    /// start: `trigger` if it had already reached the threshold and was
    /// waiting for a slot, so it triggers without counting again.
    pub fn on_restored(
        &mut self,
        line: &[u8],
        trigger: bool,
        extra: &[(&'static str, Vec<u8>)],
        now: Instant,
    ) {
        self.arrive(line, Origin::RESTORED, extra, now, trigger);
    }

    fn arrive(
        &mut self,
        line: &[u8],
        origin: Origin,
        extra: &[(&'static str, Vec<u8>)],
        now: Instant,
        trigger: bool,
    ) {
        self.key.clear();
        if !self.key_groups.is_empty() {
            self.pattern.group_values(
                line,
                &self.key_groups,
                b' ',
                &mut self.locations,
                &mut self.key,
            );
        }
        let hold = || Pending {
            line: line[..line.len().min(MAX_ENV_VALUE)].into(),
            origin,
            extra: extra.to_vec(),
        };
        let verdict = if trigger {
            self.gate.on_restored_trigger(&self.key, now, hold)
        } else {
            self.gate.on_match(&self.key, now, hold)
        };
        match verdict {
            Verdict::Run(start) => {
                self.start(start, line, origin, extra, now);
                self.start_waiting(now);
            }
            Verdict::Suppressed => log::debug!("suppressed: {}", excerpt(line)),
            Verdict::Waiting => log::debug!("waiting for a free slot: {}", excerpt(line)),
            Verdict::Queued => log::debug!("queued: {}", excerpt(line)),
            Verdict::Counted | Verdict::Dropped => {}
        }
        self.log_notices();
    }

    /// Runs (or prints) what the gate let through.
    fn start(
        &mut self,
        start: Start,
        line: &[u8],
        origin: Origin,
        extra: &[(&'static str, Vec<u8>)],
        now: Instant,
    ) {
        match &mut self.sink {
            Sink::Print(out) => {
                if out.wants_details() {
                    let groups = self.pattern.captures(line);
                    let key = (!self.key_groups.is_empty()).then(|| self.gate.key_name(start.key));
                    let details = Details {
                        origin,
                        groups: &groups,
                        key,
                    };
                    out.print(line, Some(details));
                } else {
                    out.print(line, None);
                }
                self.gate.finished(start.key, now);
            }
            Sink::Run { runner, file } => {
                let env = action::match_env(&Trigger {
                    line,
                    file,
                    groups: &self.pattern.captures(line),
                    suppressed: start.suppressed,
                    count: u64::from(start.count),
                    key: (!self.key_groups.is_empty()).then(|| self.gate.key_name(start.key)),
                    extra,
                });
                // Logged after the spawn: the write to stderr (a pipe to
                // the journal) is not on the path from match to action.
                match runner.spawn(&env, start.key, now) {
                    Ok(pid) => {
                        self.started += 1;
                        log::info!("match: {} -> started command (pid {pid})", excerpt(line))
                    }
                    Err(err) => {
                        log::warn!(
                            "match: {} -> cannot start the command: {err}",
                            excerpt(line)
                        );
                        self.gate.finished(start.key, now);
                    }
                }
            }
        }
    }

    /// Starts the triggers that waited for a slot, as slots are free.
    fn start_waiting(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        while let Some((start, held)) = self.gate.next_ready() {
            self.start(start, &held.line, held.origin, &held.extra, now);
        }
    }

    fn log_notices(&mut self) {
        let keyed = !self.key_groups.is_empty();
        for notice in self.gate.take_notices() {
            match notice {
                Notice::Suppressed { key, count } if keyed => log::info!(
                    "cooldown over for key '{}': {count} matching line(s) were suppressed",
                    excerpt(&key)
                ),
                Notice::Suppressed { count, .. } => {
                    log::info!("cooldown over: {count} matching line(s) were suppressed")
                }
                Notice::QueueFull { count } => log::warn!(
                    "{count} matching line(s) suppressed: the queue of matches waiting for their \
                     commands is full ({} matches or {} MiB of lines)",
                    QUEUE_BOUND,
                    HELD_BYTES >> 20
                ),
                Notice::TableFull { count } => log::warn!(
                    "{count} matching line(s) of new keys dropped: all tracked keys are busy (raise --max-keys)"
                ),
            }
        }
    }

    /// Stopping, or the end of `--once`: report the counts not yet reported.
    pub fn report_suppressed(&mut self) {
        self.gate.report_all();
        self.log_notices();
    }

    /// Ends a batch of lines: dry-run output becomes visible.
    pub fn flush(&mut self) {
        if let Sink::Print(out) = &mut self.sink {
            out.flush();
        }
    }

    /// The lines of the matches the gate holds, in arrival order, each
    /// with whether it is a trigger waiting for a slot (else a match queued
    /// behind its key's run): handled but not run yet, so the state file
    /// keeps them for a restart.
    pub fn held_lines(&self) -> Vec<HeldLine<'_>> {
        self.gate
            .held()
            .into_iter()
            .map(|(held, trigger)| (&held.line[..], trigger, &held.extra[..]))
            .collect()
    }

    /// Lines a dry run printed (that would have triggered).
    pub fn printed(&self) -> u64 {
        match &self.sink {
            Sink::Print(out) => out.printed(),
            Sink::Run { .. } => 0,
        }
    }

    /// Commands started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// The keys' windows and cooldowns, for the state file.
    pub fn export_keys(&self, now: Instant, wall: SystemTime) -> Vec<KeyRecord> {
        self.gate.export(now, wall)
    }

    /// Restores the keys of a saved state, at start: a cooldown that had
    /// not ended still holds.
    pub fn import_keys(&mut self, keys: Vec<KeyRecord>, now: Instant, wall: SystemTime) {
        self.gate.import(keys, now, wall);
    }

    /// The reader of the dry-run output has gone (`| head -1`): there is
    /// no one left to print for, and the run should end as grep's would.
    pub fn output_closed(&self) -> bool {
        matches!(&self.sink, Sink::Print(out) if out.is_closed())
    }

    pub fn is_running(&self) -> bool {
        matches!(&self.sink, Sink::Run { runner, .. } if runner.is_running())
    }

    pub fn deadline(&self) -> Option<Instant> {
        let runner = match &self.sink {
            Sink::Run { runner, .. } => runner.deadline(),
            Sink::Print(_) => None,
        };
        [runner, self.gate.deadline()].into_iter().flatten().min()
    }

    /// Timeouts and the ends of cooldowns.
    pub fn on_deadline(&mut self, now: Instant) {
        if let Sink::Run { runner, .. } = &mut self.sink {
            runner.on_deadline(now);
        }
        self.gate.on_deadline(now);
        self.log_notices();
    }

    /// SIGCHLD: reap, and start the cooldowns of the commands that ended.
    pub fn on_child_exit(&mut self, now: Instant) {
        let Sink::Run { runner, .. } = &mut self.sink else {
            // Only orphans adopted as PID 1 can have exited.
            action::reap_children(|_, _| {});
            return;
        };
        for finished in runner.reap(now) {
            self.end_run(&finished, now);
        }
        self.start_waiting(now);
        self.log_notices();
    }

    fn end_run(&mut self, finished: &Finished, now: Instant) {
        action::log_finished(finished);
        self.gate.finished(finished.tag, now);
    }

    /// Stopping: terminate the running commands.
    pub fn terminate(&mut self, now: Instant) {
        self.stopping = true;
        if let Sink::Run { runner, .. } = &mut self.sink {
            runner.terminate(now);
        }
    }

    /// The stop grace is over: kill what is left and wait for it.
    pub fn kill(&mut self, now: Instant) {
        if let Sink::Run { runner, .. } = &mut self.sink {
            for finished in runner.kill_and_wait(now) {
                action::log_finished(&finished);
            }
        }
    }
}

/// The gate as the settings ask for it. In a dry run a would-be run takes
/// no time: its cooldown starts at once.
fn gate_settings(config: &Config) -> Settings {
    Settings {
        wait: config.wait,
        threshold: config.gate.threshold,
        max_keys: if config.gate.key_groups.is_empty() {
            1
        } else {
            config.gate.max_keys
        },
        max_running: config.gate.max_running,
        queue_bound: QUEUE_BOUND,
    }
}

/// The start of a line, readable in a log.
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(LOGGED_LINE)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if line.len() > LOGGED_LINE {
        text.push_str("...");
    }
    text
}

/// A match the gate holds until its key may run: what the command will
/// see of the line, and where the line is in its file.
struct Pending {
    line: Box<[u8]>,
    origin: Origin,
    /// The journal entry's fields, for the command (empty for a file).
    extra: Vec<(&'static str, Vec<u8>)>,
}

impl Held for Pending {
    fn bytes(&self) -> usize {
        self.line.len() + self.extra.iter().map(|(_, v)| v.len()).sum::<usize>()
    }
}
