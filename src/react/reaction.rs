//! What a matching line leads to: the gate decides (threshold, key,
//! cooldown, slots), then the command runs, or in a dry run the line is
//! printed. Reading never waits for a command: a match while it runs is
//! counted or held, never waited for.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use regex::bytes::CaptureLocations;

use crate::input::file::follow::LineOrigin;
use crate::react::action::{self, MAX_ENV_VALUE, Runner, Spawner, Trigger};
use crate::react::checkpoint::Kept;
use crate::react::gate::{
    Gate, HELD_BYTES, Held, KeySnapshot, Launch, Notice, QUEUE_BOUND, Settings, Verdict,
};
use crate::react::linetime::Time;
use crate::react::pattern::Pattern;
use crate::react::runs::{Activity, JobSnapshot, Runs, UndoPlan};
use crate::report::counters::Counters;
use crate::report::event::{RunEvent, emit};
use crate::report::printer::{Details, Printer};
use crate::settings::config::Config;

/// How much of a line goes into a log message.
const LOGGED_LINE: usize = 200;

/// A held match as the state keeps it: its line, whether it is a trigger
/// waiting for a slot, its key, and what its command gets besides the line.
pub type HeldLine<'a> = (&'a [u8], bool, &'a [u8], &'a [(&'static str, Vec<u8>)]);

/// A match stamped more than this after the time a running command's run
/// has reached is from a backlog (see `Reaction::deferred`); live lines,
/// stamped to the second or a little late, are not.
const RUN_SLACK: Duration = Duration::from_secs(2);

/// What a run does: print (dry run) or run the command.
// One value for the life of the process: the size difference is moot.
#[allow(clippy::large_enum_variant)]
enum Effect {
    /// `--dry-run`: a would-be run takes no time, so its cooldown starts at
    /// once.
    Print(Printer),
    Run {
        runs: Runs,
        file: String,
    },
}

pub struct Reaction {
    /// What is kept of a line that has to wait is its start, as much as
    /// the command would see of it.
    gate: Gate<HeldMatch>,
    sink: Effect,
    pattern: Pattern,
    /// The `--key` groups; empty: one key for every line.
    key_groups: Vec<usize>,
    /// Scratch space for the key of each match.
    key: Vec<u8>,
    locations: CaptureLocations,
    /// Counts every change of what the state file keeps of the reaction:
    /// a match counted, suppressed, queued or printed (the runs count
    /// their own starts and ends). A save is due soon after each (see
    /// `persist`).
    generation: u64,
    /// Matches stamped after the time a running command's run has reached:
    /// a backlog (a restart, `--once`) read within moments of lines written
    /// over hours. A live run would have ended long before them, so they
    /// wait, in their order, for the runs to end (at T + D) and are then
    /// judged at their times. At most `QUEUE_BOUND` of them.
    deferred: VecDeque<HeldMatch>,
    /// logs2eca is stopping: what the gate holds stays held (the state
    /// keeps its lines for the next start) instead of starting now, only
    /// to be killed.
    stopping: bool,
    /// What was read, matched, run and suppressed, for the status line and
    /// the metrics.
    counters: Counters,
    /// A dry run's suppressed matches, told once in its summary rather
    /// than a line per key.
    dry_suppressed: Suppressed,
    /// What exporting the pieces of the state needs (see `checkpoint`).
    kept: Kept,
    /// With a state file: each spawn holds the next start back until the
    /// save that records it is written (see `persist`).
    hold_until_saved: bool,
    /// The generation of the last spawn while it is not saved yet.
    unsaved_spawn: Option<u64>,
    /// The runs' spawns and ends seen so far (a new one is not saved yet).
    spawns_seen: u64,
}

impl Reaction {
    /// The reaction the settings ask for; its commands are started by
    /// `spawner` (real processes: `action::OsSpawner`).
    pub fn new(config: &Config, spawner: Box<dyn Spawner>) -> Self {
        let sink = match &config.command {
            None => Effect::Print(Printer::new(
                config.json.then(|| config.path_as_given.clone()),
            )),
            Some(command) => {
                let mut runner = Runner::new(command.clone(), config.timeout, spawner);
                runner.set_long_run(config.long_run);
                let undo = config.undo.as_ref().map(|undo| UndoPlan {
                    command: undo.command.clone(),
                    after: undo.after,
                    max_pending: gate_settings(config).max_keys,
                });
                Effect::Run {
                    runs: Runs::new(runner, config.retry, undo, config.state_file.is_some()),
                    file: config.path_as_given.clone(),
                }
            }
        };
        Reaction {
            gate: Gate::new(gate_settings(config)),
            sink,
            pattern: config.matcher.pattern.clone(),
            key_groups: config.gate.key_groups.clone(),
            key: Vec::new(),
            locations: config.matcher.pattern.capture_locations(),
            generation: 0,
            deferred: VecDeque::new(),
            dry_suppressed: Suppressed::default(),
            kept: Kept::new(config),
            stopping: false,
            counters: Counters::new(SystemTime::now()),
            hold_until_saved: false,
            unsaved_spawn: None,
            spawns_seen: 0,
        }
    }

    /// With a state file: after a spawn, no other command starts until the
    /// save that records that spawn is written ([`Reaction::spawn_saved`]),
    /// so that a crash repeats at most one command; a dry run's printed
    /// lines are held for the save that covers them to print
    /// ([`Reaction::take_output`]), so that a crash repeats none.
    pub fn hold_starts_until_saved(&mut self) {
        self.hold_until_saved = true;
        match &mut self.sink {
            Effect::Run { runs, .. } => runs.hold_starts_after_spawns(),
            Effect::Print(out) => out.hold(),
        }
    }

    /// The printed lines held so far, for the save being taken to print.
    pub fn take_output(&mut self) -> Vec<u8> {
        match &mut self.sink {
            Effect::Print(out) => out.take_held(),
            Effect::Run { .. } => Vec::new(),
        }
    }

    /// How many bytes of printed lines are held.
    pub fn held_output_len(&self) -> usize {
        match &self.sink {
            Effect::Print(out) => out.held_len(),
            Effect::Run { .. } => 0,
        }
    }

    /// The reader of the dry run's output has gone (seen by the writer
    /// of the saves).
    pub fn close_output(&mut self) {
        if let Effect::Print(out) = &mut self.sink {
            out.close();
        }
    }

    /// The generation of the last spawn, while no written save holds it.
    pub fn unsaved_spawn(&self) -> Option<u64> {
        self.unsaved_spawn
    }

    /// Does a start wait for the last spawn to be saved?
    pub fn waits_for_save(&self) -> bool {
        let retries = matches!(&self.sink, Effect::Run { runs, .. } if runs.has_ready());
        self.unsaved_spawn.is_some() && (self.gate.has_waiting() || retries)
    }

    /// The save that records the last spawn is written: what waited starts
    /// (the first of it, until its own spawn is saved).
    pub fn spawn_saved(&mut self, now: Instant) {
        self.unsaved_spawn = None;
        self.gate.hold_starts(false);
        // Each waiting match keeps its own time.
        self.start_waiting(Time::from_system(SystemTime::UNIX_EPOCH), now);
    }

    /// A block of lines was read: `matches` matched (and were handed to
    /// `on_match`), `excluded` matched the exclusion too. Returns how many
    /// lines it had (counted once, here).
    pub fn count_block(&mut self, block: &[u8], matches: u64, excluded: u64) -> u64 {
        self.counters.on_block(block, matches, excluded)
    }

    /// Whether the lines read are counted (see [`Counters::count_lines`]).
    pub fn count_lines(&mut self, on: bool) {
        self.counters.count_lines(on);
    }

    /// A journal entry's message was read: as a block, whose last line
    /// has no newline of its own. Returns how many lines it had.
    pub fn count_entry(&mut self, message: &[u8], matches: u64, excluded: u64) -> u64 {
        self.counters.on_entry(message, matches, excluded)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A path was rotated or truncated.
    pub fn count_rotations(&mut self, rotations: u64) {
        self.counters.rotations = rotations;
    }

    /// A line matched (and was not excluded); `origin` is where it starts,
    /// `time` the line's time (§11), `now` when it was read.
    pub fn on_match(&mut self, line: &[u8], origin: LineOrigin, time: Time, now: Instant) {
        let arrival = Arrival {
            origin,
            extra: &[],
            time,
            trigger: false,
        };
        self.arrive(line, None, arrival, now);
    }

    /// A line of a journal entry matched: `extra` is what the command
    /// gets of the entry besides the line.
    pub fn on_entry_match(
        &mut self,
        line: &[u8],
        origin: LineOrigin,
        extra: &[(&'static str, Vec<u8>)],
        time: Time,
        now: Instant,
    ) {
        let arrival = Arrival {
            origin,
            extra,
            time,
            trigger: false,
        };
        self.arrive(line, None, arrival, now);
    }

    /// A match the state file kept (held when the daemon stopped), back at
    /// start: `trigger` if it had already reached the threshold and was
    /// waiting for a slot, so it triggers without counting again. `key`:
    /// the key it had, for a line kept cut to its first bytes (its key
    /// groups may lie past the cut); `None`: taken from the line.
    pub fn on_restored(
        &mut self,
        line: &[u8],
        key: Option<&[u8]>,
        trigger: bool,
        extra: &[(&'static str, Vec<u8>)],
        time: Time,
        now: Instant,
    ) {
        let arrival = Arrival {
            origin: LineOrigin::RESTORED,
            extra,
            time,
            trigger,
        };
        self.arrive(line, key, arrival, now);
    }

    fn arrive(&mut self, line: &[u8], key: Option<&[u8]>, arrival: Arrival, now: Instant) {
        self.generation += 1;
        // The key is taken from the whole line, here: what is held keeps
        // only the line's first bytes.
        let mut scratch = std::mem::take(&mut self.key);
        scratch.clear();
        match key {
            Some(key) => scratch.extend_from_slice(key),
            None => self.key_of(line, &mut scratch),
        }
        if !arrival.trigger && self.ahead_of_the_runs(arrival.time, now) {
            log::debug!("held until a command ends: {}", excerpt(line));
            self.deferred.push_back(HeldMatch {
                line: line[..line.len().min(MAX_ENV_VALUE)].into(),
                key: scratch.as_slice().into(),
                origin: arrival.origin,
                time: arrival.time,
                extra: arrival.extra.to_vec(),
            });
        } else {
            self.judge(line, &scratch, arrival, now);
        }
        self.key = scratch;
    }

    /// The key of a matching line: its `--key` groups' values (none
    /// without `--key`).
    fn key_of(&mut self, line: &[u8], key: &mut Vec<u8>) {
        if !self.key_groups.is_empty() {
            self.pattern
                .group_values(line, &self.key_groups, b' ', &mut self.locations, key);
        }
    }

    /// Puts a match of key `key` through the gate and acts on the verdict.
    fn judge(&mut self, line: &[u8], key: &[u8], arrival: Arrival, now: Instant) {
        let Arrival {
            origin,
            extra,
            time,
            trigger,
        } = arrival;
        let hold = || HeldMatch {
            line: line[..line.len().min(MAX_ENV_VALUE)].into(),
            key: key.into(),
            origin,
            time,
            extra: extra.to_vec(),
        };
        let verdict = if trigger {
            self.gate.on_restored_trigger(key, time, hold)
        } else {
            self.gate.on_match(key, time, hold)
        };
        match verdict {
            Verdict::Run(start) => {
                self.start(start, line, origin, extra, time, now);
                self.start_waiting(time, now);
            }
            Verdict::Suppressed => {
                self.counters.suppressed += 1;
                log::debug!("suppressed: {}", excerpt(line))
            }
            Verdict::Waiting => log::debug!("waiting for a free slot: {}", excerpt(line)),
            Verdict::Queued => log::debug!("queued: {}", excerpt(line)),
            Verdict::Dropped => self.counters.suppressed += 1,
            Verdict::Counted => {}
        }
        self.log_notices();
    }

    /// Is a match at `time` from a backlog that a running command would
    /// have finished before (or do others wait already, ahead of it)? A
    /// live line (stamped about when it is read) never is: with commands
    /// queued one after another, the line time their runs have reached
    /// falls behind the clock by what starting them costs.
    fn ahead_of_the_runs(&self, time: Time, now: Instant) -> bool {
        let Effect::Run { runs, .. } = &self.sink else {
            return false;
        };
        if runs.running_since().next().is_none() || self.deferred.len() >= QUEUE_BOUND {
            return false;
        }
        if !self.deferred.is_empty() {
            return true;
        }
        let from_backlog = time + RUN_SLACK < Time::now();
        from_backlog && self.reached(now).is_some_and(|reached| time > reached)
    }

    /// The line time the runs in progress have reached (the earliest), with
    /// the slack live lines get.
    fn reached(&self, now: Instant) -> Option<Time> {
        let Effect::Run { runs, .. } = &self.sink else {
            return None;
        };
        runs.running_since()
            .map(|(_, start, since)| start + now.saturating_duration_since(since) + RUN_SLACK)
            .min()
    }

    /// The deferred matches that no run in progress is ahead of any more,
    /// in their order; stopping, they stay held (the state keeps them).
    fn release_deferred(&mut self, now: Instant) {
        while !self.stopping
            && let Some(front) = self.deferred.front()
            && self
                .reached(now)
                .is_none_or(|reached| front.time <= reached)
        {
            let Some(held) = self.deferred.pop_front() else {
                break;
            };
            let arrival = Arrival {
                origin: held.origin,
                extra: &held.extra,
                time: held.time,
                trigger: false,
            };
            self.judge(&held.line, &held.key, arrival, now);
        }
    }

    /// Runs (or prints) what the gate let through; its run counts from the
    /// line time `time`.
    fn start(
        &mut self,
        start: Launch,
        line: &[u8],
        origin: LineOrigin,
        extra: &[(&'static str, Vec<u8>)],
        time: Time,
        now: Instant,
    ) {
        self.counters.on_trigger(SystemTime::now());
        self.generation += 1;
        match &mut self.sink {
            Effect::Print(out) => {
                if out.wants_details() {
                    let groups = self.pattern.captures(line);
                    let key = (!self.key_groups.is_empty()).then(|| self.gate.key_name(start.key));
                    let details = Details {
                        origin,
                        groups: &groups,
                        key,
                        time,
                    };
                    out.print(line, Some(details));
                } else {
                    out.print(line, None);
                }
                // A would-be run takes no time.
                self.gate.finished(start.key, time);
            }
            Effect::Run { runs, file } => {
                let env = action::match_env(&Trigger {
                    line,
                    file,
                    groups: &self.pattern.captures(line),
                    suppressed: start.suppressed,
                    count: u64::from(start.count),
                    key: (!self.key_groups.is_empty()).then(|| self.gate.key_name(start.key)),
                    time: Some(time),
                    extra,
                });
                let started = runs.start_first(&mut self.gate, start.key, env, time, now);
                // Logged after the spawn: the write to stderr (a pipe to
                // the journal) is not on the path from match to action.
                // What made the trigger: the key (with --key) and how many
                // matches, as the command is told them.
                let why = match self.key_groups.is_empty() {
                    true => format!("count {}", start.count),
                    false => format!(
                        "key '{}', count {}",
                        excerpt(self.gate.key_name(start.key)),
                        start.count
                    ),
                };
                match started {
                    Ok(pid) => emit!(RunEvent::Started {
                        excerpt: excerpt(line),
                        pid,
                        why,
                    }),
                    Err(err) => emit!(RunEvent::CannotStart {
                        excerpt: excerpt(line),
                        error: err.to_string(),
                        why,
                    }),
                }
                // A start that failed ended at once (counted, and its
                // slot freed unless it is retried).
                self.count_ended();
            }
        }
    }

    /// Counts the runs that ended (or could not start) since the last
    /// call, and notes a spawn not saved yet; returns the latest line time
    /// a slot was freed at meanwhile.
    fn count_ended(&mut self) -> Option<Time> {
        self.note_spawns();
        let Effect::Run { runs, .. } = &mut self.sink else {
            return None;
        };
        for (result, duration) in runs.take_ended() {
            self.counters.on_command_end(result, duration);
        }
        runs.take_freed()
    }

    /// With a state file, a spawn (a trigger's, a retry's or an undo's)
    /// or the end of a run is one not saved yet: the runs held the next
    /// starts back, until the save of this generation is written.
    fn note_spawns(&mut self) {
        let Effect::Run { runs, .. } = &self.sink else {
            return;
        };
        let started = runs.changes();
        if started != self.spawns_seen {
            self.spawns_seen = started;
            if self.hold_until_saved {
                self.unsaved_spawn = Some(self.generation());
            }
        }
    }

    /// Starts the triggers that waited for a slot, as slots are free
    /// (after the due retries, which waited longer); a slot freed at line
    /// time `time` (a trigger's run counts from its own line's time, or
    /// from when it got the slot if that is later).
    fn start_waiting(&mut self, time: Time, now: Instant) {
        if self.stopping {
            return;
        }
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.start_ready(&mut self.gate, now);
        }
        self.note_spawns();
        while let Some((start, held)) = self.gate.next_ready() {
            self.start(
                start,
                &held.line,
                held.origin,
                &held.extra,
                held.time.max(time),
                now,
            );
        }
    }

    fn log_notices(&mut self) {
        let keyed = !self.key_groups.is_empty();
        let dry = matches!(self.sink, Effect::Print(_));
        for notice in self.gate.take_notices() {
            match notice {
                // A key may end several cooldowns in a run: only the
                // matches are added up.
                Notice::Suppressed { count, .. } if dry => self.dry_suppressed.count += count,
                other => log_notice(other, keyed),
            }
        }
    }

    /// Stopping, or the end of `--once`: the counts not reported yet. The
    /// suppressed matches are added up (one line for all keys, not one
    /// each) and returned for the caller to say, since only it knows
    /// whether the cooldown ends here or is kept for the next start.
    pub fn report_suppressed(&mut self) -> Suppressed {
        self.gate.report_all();
        let keyed = !self.key_groups.is_empty();
        let mut total = std::mem::take(&mut self.dry_suppressed);
        for notice in self.gate.take_notices() {
            match notice {
                Notice::Suppressed { count, .. } => {
                    total.count += count;
                    total.keys += 1;
                }
                other => log_notice(other, keyed),
            }
        }
        // Over a dry run a key may have ended several cooldowns, so its
        // keys are not counted; at a stop each key reports once.
        if !keyed || matches!(self.sink, Effect::Print(_)) {
            total.keys = 0;
        }
        total
    }

    /// Ends a batch of lines: dry-run output becomes visible.
    pub fn flush(&mut self) {
        if let Effect::Print(out) = &mut self.sink {
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
            .map(|(held, trigger, key)| (&held.line[..], trigger, key, &held.extra[..]))
            .chain(
                self.deferred
                    .iter()
                    .map(|held| (&held.line[..], false, &held.key[..], &held.extra[..])),
            )
            .collect()
    }

    /// The commands running now, as the state keeps them: process group,
    /// its leader's start time, key. One that ended meanwhile is left out.
    pub fn running_commands(&self) -> Vec<(libc::pid_t, u64, Vec<u8>)> {
        match &self.sink {
            Effect::Run { runs, .. } => runs.running_commands(),
            Effect::Print(_) => Vec::new(),
        }
    }

    /// Lines a dry run printed (that would have triggered).
    pub fn printed(&self) -> u64 {
        match &self.sink {
            Effect::Print(out) => out.printed(),
            Effect::Run { .. } => 0,
        }
    }

    /// Changes of what the state file keeps of the reaction so far, the
    /// runs' starts and ends included.
    pub fn generation(&self) -> u64 {
        let runs = match &self.sink {
            Effect::Run { runs, .. } => runs.changes(),
            Effect::Print(_) => 0,
        };
        self.generation + runs
    }

    /// What the commands are doing now: running (for how long), retries
    /// and undos pending. For `STATUS=`.
    pub fn activity(&self, now: Instant) -> Activity {
        match &self.sink {
            Effect::Run { runs, .. } => runs.activity(now),
            Effect::Print(_) => Activity::default(),
        }
    }

    /// The runs to do or do again, for the state file.
    pub fn export_jobs(&self, now: Instant, wall: SystemTime) -> Vec<JobSnapshot> {
        match &self.sink {
            Effect::Run { runs, .. } => runs.export(now, wall),
            Effect::Print(_) => Vec::new(),
        }
    }

    /// Restores the runs of a saved state, at start (before the held
    /// matches: they were started earlier); what is due starts now.
    pub fn import_jobs(&mut self, jobs: Vec<JobSnapshot>, now: Instant, wall: SystemTime) {
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.import(&mut self.gate, jobs, now, wall);
        } else if !jobs.is_empty() {
            log::warn!(
                "{} saved run(s) of the command not done: this is a dry run",
                jobs.len()
            );
        }
        self.count_ended();
    }

    /// The keys' windows and cooldowns, for the state file: a command
    /// running (or backing off before a retry) counts as ended now, its
    /// trigger's line time plus how long it has run.
    pub fn export_keys(&self, now: Instant) -> Vec<KeySnapshot> {
        let runs = match &self.sink {
            Effect::Run { runs, .. } => Some(runs),
            Effect::Print(_) => None,
        };
        self.gate.export(|id| {
            runs.and_then(|runs| runs.reached(id, self.gate.key_name(id), now))
                .unwrap_or_else(Time::now)
        })
    }

    /// Restores the keys of a saved state, at start: the lines that follow
    /// are compared with their windows and cooldowns.
    pub fn import_keys(&mut self, keys: Vec<KeySnapshot>) {
        self.gate.import(keys);
    }

    pub(super) fn kept(&self) -> &Kept {
        &self.kept
    }

    /// The reader of the dry-run output has gone (`| head -1`): there is
    /// no one left to print for, and the run should end as grep's would.
    pub fn output_closed(&self) -> bool {
        matches!(&self.sink, Effect::Print(out) if out.is_closed())
    }

    pub fn is_running(&self) -> bool {
        matches!(&self.sink, Effect::Run { runs, .. } if runs.is_running())
    }

    pub fn deadline(&self) -> Option<Instant> {
        let runs = match &self.sink {
            Effect::Run { runs, .. } => runs.deadline(),
            Effect::Print(_) => None,
        };
        // The end of a cooldown is a line time: it comes when the clock
        // shows it (at once if it already does). Stopping, it is not
        // served, and one that passed would make the loop spin.
        let cooldown = self
            .gate
            .deadline()
            .filter(|_| !self.stopping)
            .map(|until| Instant::now() + until.saturating_duration_since(Time::now()));
        [runs, cooldown].into_iter().flatten().min()
    }

    /// Timeouts, long runs, retries and undos that fell due, and with
    /// `caught_up` (every line written so far was read) the ends of
    /// cooldowns: a backlog still to read may hold lines whose times fall
    /// in a cooldown the clock has passed. A run that has just become long
    /// shows in the next `STATUS=` (see `activity`).
    pub fn on_deadline(&mut self, now: Instant, caught_up: bool) {
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.on_deadline(&mut self.gate, now);
        }
        if caught_up {
            self.gate.on_deadline(Time::now());
        }
        // A retry or undo that could not start may have freed a slot.
        if let Some(time) = self.count_ended() {
            self.start_waiting(time, now);
        }
        self.log_notices();
    }

    /// SIGCHLD: reap, and start the cooldowns of the commands that ended.
    pub fn on_child_exit(&mut self, now: Instant) {
        // A dry run has no commands: the child that exited is another's
        // (journalctl), or an orphan adopted as PID 1 (see the daemon).
        let Effect::Run { runs, .. } = &mut self.sink else {
            return;
        };
        runs.on_child_exit(&mut self.gate, now);
        if let Some(time) = self.count_ended() {
            self.start_waiting(time, now);
        }
        self.release_deferred(now);
        self.log_notices();
    }

    /// Is `pid` one of our commands, not reaped yet?
    pub fn is_command(&self, pid: libc::pid_t) -> bool {
        matches!(&self.sink, Effect::Run { runs, .. } if runs.is_command(pid))
    }

    /// When each running command started, as wall-clock time.
    pub fn running_since(&self, now: Instant, wall: SystemTime) -> Vec<SystemTime> {
        let Effect::Run { runs, .. } = &self.sink else {
            return Vec::new();
        };
        runs.started_at()
            .map(|at| {
                wall.checked_sub(now.saturating_duration_since(at))
                    .unwrap_or(wall)
            })
            .collect()
    }

    /// Keys tracked now.
    pub fn keys(&self) -> usize {
        self.gate.len()
    }

    /// Matches held now (queued, or waiting for a slot).
    pub fn held_count(&self) -> usize {
        self.gate.held_count()
    }

    pub fn is_dry_run(&self) -> bool {
        matches!(self.sink, Effect::Print(_))
    }

    /// Stopping: nothing new starts; running commands may finish within
    /// the stop grace. `keep`: a state file keeps what is pending (else
    /// the pending undos run now).
    pub fn begin_stop(&mut self, keep: bool, now: Instant) {
        self.stopping = true;
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.begin_stop(&mut self.gate, keep, now);
        }
        self.count_ended();
    }

    /// The stop grace is over: terminate the running commands.
    pub fn terminate(&mut self, now: Instant) {
        self.stopping = true;
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.terminate(now);
        }
    }

    /// The end of the stop: kill what is left and wait for it.
    pub fn kill(&mut self, now: Instant) {
        self.stopping = true;
        if let Effect::Run { runs, .. } = &mut self.sink {
            runs.kill(&mut self.gate, now);
        }
        self.count_ended();
    }

    /// The end of a run without a state file: what is lost, said once.
    pub fn report_unkept(&self) {
        if let Effect::Run { runs, .. } = &self.sink {
            runs.report_unkept();
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
struct HeldMatch {
    /// Cut to `MAX_ENV_VALUE` bytes, as the command sees it.
    line: Box<[u8]>,
    /// Its key, taken from the whole line: the groups may lie past the cut.
    key: Box<[u8]>,
    origin: LineOrigin,
    time: Time,
    /// The journal entry's fields, for the command (empty for a file).
    extra: Vec<(&'static str, Vec<u8>)>,
}

/// How a match arrives at the gate besides its line and key: where it
/// was read, what the command gets besides the line, its time, and whether
/// it is a restored trigger (which does not count again).
#[derive(Clone, Copy)]
struct Arrival<'a> {
    origin: LineOrigin,
    extra: &'a [(&'static str, Vec<u8>)],
    time: Time,
    trigger: bool,
}

impl Held for HeldMatch {
    fn bytes(&self) -> usize {
        self.line.len() + self.extra.iter().map(|(_, v)| v.len()).sum::<usize>()
    }
}

/// Matches suppressed by cooldowns and not reported yet, added up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    pub count: u64,
    /// How many keys they were of (0 without `--key`).
    pub keys: u64,
}

fn log_notice(notice: Notice, keyed: bool) {
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
