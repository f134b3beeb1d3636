//! The runs of the command and of its undo, from start to what follows
//! them: a success starts the key's cooldown and schedules the undo, a
//! failure backs off and retries (`--retry`), a run that a stop
//! interrupted is kept to be done again at the next start, and a run that
//! takes long is said so (SPEC §4).
//!
//! The gate decides when a key's command may start; from there `Runs`
//! owns it: while it backs off between attempts its key stays busy in the
//! gate (matches suppressed or queued) with its slot free, and only the
//! last attempt's end starts the cooldown. An undo is not a trigger and
//! needs no slot, but its key is busy while it runs, so that the key's
//! command and its undo never run at once (and a key never has two undos).
//!
//! Each run counts on the lines' time (SPEC §11) from its trigger's line:
//! a run that started at line time T and took D ends at T + D, and the
//! gate hears of it at that time. Back-offs and undo delays are waited for
//! on the process's clock (a replay does not run commands); the line time
//! of what they start is the line time of the run they follow plus the
//! time waited since, or the clock's time for a run restored at start.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::time::{Duration, Instant, SystemTime};

use crate::react::action::{self, CommandLine, Finished, Runner, Stopped, seconds};
use crate::react::followup::{Action, Agenda, Job, Retry};
use crate::react::gate::{Gate, Held, KeyId};
use crate::react::linetime::Time;
use crate::report::counters::CommandResult;

/// `--undo CMD --undo-after DURATION`.
#[derive(Debug, Clone)]
pub struct UndoPlan {
    pub command: CommandLine,
    pub after: Duration,
    /// Undos pending at most (`--max-keys`): beyond, the one due first
    /// runs early, so that memory stays bounded and nothing stays applied.
    pub max_pending: usize,
}

/// A run going on now.
#[derive(Debug)]
struct Run {
    job: Job,
    /// An undo holds its key busy while it runs (the gate's id), so that
    /// the key's command does not run at the same time.
    holds: Option<KeyId>,
    /// The command's key in the gate (none for an undo).
    key: Option<KeyId>,
    /// The line time the run counts from, and when it started.
    since: (Time, Instant),
}

/// How a run ended, for the counters: its result and how long it took
/// (none: it could not start).
pub type Ended = (CommandResult, Option<Duration>);

/// A job as the state file keeps it: wall-clock times, since a monotonic
/// clock means nothing after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSnapshot {
    pub job: Job,
    /// When it is due; `None`: at once (it was running, or due already).
    pub due: Option<SystemTime>,
    /// An undo held back while its key's command runs again.
    pub held: bool,
}

/// A command or undo running now, for `STATUS=` and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningCommand {
    pub pid: libc::pid_t,
    pub action: Action,
    pub key: Box<[u8]>,
    pub attempt: u32,
    pub running_for: Duration,
    /// Past the long-run warning.
    pub long: bool,
}

/// What the runs are doing now (`STATUS=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    pub running: Vec<RunningCommand>,
    /// Failed runs waiting to be tried again.
    pub retries: usize,
    /// Undos not due yet.
    pub undos: usize,
}

#[derive(Debug)]
pub struct Runs {
    runner: Runner,
    retry: Option<Retry>,
    undo: Option<UndoPlan>,
    /// The runs going on, by the tag the runner hands back.
    runs: HashMap<usize, Run>,
    next_tag: usize,
    /// Retries and undos waiting for their time.
    agenda: Agenda,
    /// Retries of the command that are due and wait for a free slot, in
    /// the order they fell due.
    ready: VecDeque<Job>,
    /// Runs a stop interrupted: the state keeps them for the next start.
    interrupted: Vec<Job>,
    /// A state file keeps what is still to run across a restart.
    kept: bool,
    /// Stopping: nothing new starts (what waits stays for the state).
    stopping: bool,
    /// Stopping without a state file: undos run now, not never.
    undo_at_stop: bool,
    /// The stop grace is over: runs that end now were stopped by us.
    terminating: bool,
    /// With a state file, each spawn and each end holds the gate's starts
    /// back until the save that records it is written (SPEC §6: a crash
    /// repeats at most one command); the reaction lets them go.
    hold_after_spawn: bool,
    /// Runs started and ended so far: each is worth a save.
    started: u64,
    ended: u64,
    /// Per key with a retry or undo to come: the line time the last run
    /// of its command ended at, and when (what follows counts on from it).
    reference: HashMap<Box<[u8]>, (Time, Instant)>,
    /// The runs that ended (or could not start) since `take_ended`.
    ended_runs: Vec<Ended>,
    /// The latest line time a slot or a key was freed at since
    /// `take_freed`.
    freed: Option<Time>,
}

impl Runs {
    /// `kept`: a state file keeps what is still to run.
    pub fn new(runner: Runner, retry: Option<Retry>, undo: Option<UndoPlan>, kept: bool) -> Runs {
        Runs {
            runner,
            retry,
            undo,
            kept,
            runs: HashMap::new(),
            next_tag: 0,
            agenda: Agenda::default(),
            ready: VecDeque::new(),
            interrupted: Vec::new(),
            stopping: false,
            undo_at_stop: false,
            terminating: false,
            hold_after_spawn: false,
            started: 0,
            ended: 0,
            reference: HashMap::new(),
            ended_runs: Vec::new(),
            freed: None,
        }
    }

    /// Each spawn and each end from now on holds the gate's starts (and
    /// the retries due) back until the reaction hears that it is saved.
    pub fn hold_starts_after_spawns(&mut self) {
        self.hold_after_spawn = true;
    }

    /// Does a retry that fell due wait (for a slot, or for a save)?
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The runs that ended since the last call, for the counters.
    pub fn take_ended(&mut self) -> Vec<Ended> {
        std::mem::take(&mut self.ended_runs)
    }

    /// The latest line time a slot (or a key an undo held) was freed at
    /// since the last call: the triggers waiting for it start from it.
    pub fn take_freed(&mut self) -> Option<Time> {
        self.freed.take()
    }

    /// When each running command (or undo) started.
    pub fn started_at(&self) -> impl Iterator<Item = Instant> + '_ {
        self.runner.started_at()
    }

    /// The command's runs going on: key, the line time the run counts
    /// from, and when it started.
    pub fn running_since(&self) -> impl Iterator<Item = (KeyId, Time, Instant)> + '_ {
        self.runs
            .values()
            .filter_map(|run| Some((run.key?, run.since.0, run.since.1)))
    }

    /// The line time key `id`'s run has reached at `now`, if it runs or
    /// backs off: where its cooldown would start were it to end now.
    pub fn reached(&self, id: KeyId, name: &[u8], now: Instant) -> Option<Time> {
        let (time, since) = self
            .runs
            .values()
            .find(|run| run.key == Some(id))
            .map(|run| run.since)
            .or_else(|| self.reference.get(name).copied())?;
        Some(time + now.saturating_duration_since(since))
    }

    /// The line time of a run of `key` that starts at `now` without a
    /// trigger (a retry, an undo): on from the key's last run.
    fn line_time(&self, key: &[u8], now: Instant) -> Time {
        match self.reference.get(key) {
            Some(&(time, since)) => time + now.saturating_duration_since(since),
            None => Time::now(),
        }
    }

    /// Forgets the key's reference once nothing is to come for it.
    fn prune(&mut self, key: &[u8]) {
        let pending = self.agenda.get(Action::Do, key).is_some()
            || self.agenda.get(Action::Undo, key).is_some()
            || self.ready.iter().any(|job| *job.key == *key);
        if !pending {
            self.reference.remove(key);
        }
    }

    /// Key `id`, held by an undo, is free again at line time `end`: what
    /// it queued meanwhile may trigger, from then on.
    fn release<T: Held>(&mut self, gate: &mut Gate<T>, id: KeyId, end: Time) {
        gate.release(id, end);
        self.freed = self.freed.max(Some(end));
    }

    /// Key `id`'s cooldown starts at line time `end` and its slot is free.
    fn finish<T: Held>(&mut self, gate: &mut Gate<T>, id: KeyId, end: Time) {
        gate.finished(id, end);
        self.freed = self.freed.max(Some(end));
    }

    pub fn is_running(&self) -> bool {
        self.runner.is_running()
    }

    /// Runs started plus runs ended: a change is worth a save.
    pub fn changes(&self) -> u64 {
        self.started + self.ended
    }

    /// The first attempt of the command for gate key `key` (`name`), which
    /// the gate just let run; its run counts from line time `time`. A
    /// pending undo of the key is postponed: the end of this run decides
    /// when it falls due. Returns the pid, or why it could not start (then
    /// a retry may already be scheduled).
    pub fn start_first<T: Held>(
        &mut self,
        gate: &mut Gate<T>,
        key: KeyId,
        vars: Vec<(String, OsString)>,
        time: Time,
        now: Instant,
    ) -> std::io::Result<libc::pid_t> {
        let job = Job {
            action: Action::Do,
            key: gate.key_name(key).into(),
            vars,
            attempt: 1,
        };
        if self.undo.is_some() && self.agenda.hold(Action::Undo, &job.key) {
            log::debug!(
                "undo{} postponed: the command runs again",
                for_key(&job.key)
            );
        }
        self.launch(gate, job, time, now)
    }

    /// Starts `job` now, counting from line time `time`; a spawn that
    /// fails is a failed attempt.
    fn launch<T: Held>(
        &mut self,
        gate: &mut Gate<T>,
        job: Job,
        time: Time,
        now: Instant,
    ) -> std::io::Result<libc::pid_t> {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let program = match job.action {
            Action::Do => None,
            Action::Undo => self.undo.as_ref().map(|undo| &undo.command),
        };
        // An undo makes its key busy, unless it is already (a trigger
        // waits for a slot: it runs after the undo, as it should).
        let (holds, key) = match job.action {
            Action::Do => (None, gate.id_of(&job.key)),
            Action::Undo => (gate.hold(&job.key, time), None),
        };
        match self.runner.spawn_program(program, &job.env(), tag, now) {
            Ok(pid) => {
                self.started += 1;
                if self.hold_after_spawn {
                    gate.hold_starts(true);
                }
                self.runs.insert(
                    tag,
                    Run {
                        job,
                        holds,
                        key,
                        since: (time, now),
                    },
                );
                Ok(pid)
            }
            Err(err) => {
                self.ended_runs.push((CommandResult::Failed, None));
                if let Some(id) = holds {
                    self.release(gate, id, time);
                }
                self.failed(gate, job, time, now);
                Err(err)
            }
        }
    }

    /// Logs the start of a run that is not a trigger's first attempt.
    fn launch_logged<T: Held>(&mut self, gate: &mut Gate<T>, job: Job, now: Instant) {
        let what = match job.action {
            Action::Do => "command",
            Action::Undo => "undo",
        };
        let key = for_key(&job.key);
        let attempt = attempt_of(job.attempt, self.retry);
        let time = self.line_time(&job.key, now);
        match self.launch(gate, job, time, now) {
            Ok(pid) => log::info!("{what}{key}{attempt}: started (pid {pid})"),
            Err(err) => log::warn!("{what}{key}{attempt}: cannot start: {err}"),
        }
    }

    /// SIGCHLD: what ended, and what follows from it (`take_ended`,
    /// `take_freed`).
    pub fn on_child_exit<T: Held>(&mut self, gate: &mut Gate<T>, now: Instant) {
        for finished in self.runner.reap(now) {
            self.end(gate, &finished, now);
        }
        self.start_ready(gate, now);
    }

    fn end<T: Held>(&mut self, gate: &mut Gate<T>, finished: &Finished, now: Instant) {
        let Some(run) = self.runs.remove(&finished.tag) else {
            return;
        };
        self.ended += 1;
        if self.hold_after_spawn {
            // The saved state still has this run as running: a crash now
            // runs it again, so nothing else starts before its end is
            // saved (one repeat per crash at most).
            gate.hold_starts(true);
        }
        let what = match run.job.action {
            Action::Do => "command",
            Action::Undo => "undo",
        };
        action::log_finished(finished);
        let stopped = finished.stopped.map(|why| match why {
            Stopped::Timeout => CommandResult::Timeout,
            Stopped::Shutdown => CommandResult::Killed,
        });
        self.ended_runs.push((
            CommandResult::of(finished.status, stopped),
            Some(finished.duration),
        ));
        // A run that started at line time T and took D ends at T + D.
        let end = run.since.0 + finished.duration;
        if let Some(id) = run.holds {
            self.release(gate, id, end);
        }
        // Killed by a signal we did not send while we stop: the stop's
        // doing all the same (a service manager that signals the whole
        // control group), not a failure of the command.
        let stopped_by_others = self.stopping
            && std::os::unix::process::ExitStatusExt::signal(&finished.status).is_some()
            && finished.stopped.is_none();
        if finished.status.success() {
            self.succeeded(gate, run.job, end, now);
        } else if self.terminating || stopped_by_others {
            if self.kept {
                log::warn!(
                    "{what}{} was stopped before it finished: it runs again at the next start",
                    for_key(&run.job.key)
                );
            } else {
                log::warn!(
                    "{what}{} was stopped before it finished; without a state file it is not \
                     run again",
                    for_key(&run.job.key)
                );
            }
            self.interrupted.push(run.job);
        } else {
            self.failed(gate, run.job, end, now);
        }
    }

    fn succeeded<T: Held>(&mut self, gate: &mut Gate<T>, job: Job, end: Time, now: Instant) {
        if job.action == Action::Undo {
            self.prune(&job.key);
            return;
        }
        if let Some(id) = gate.id_of(&job.key) {
            self.finish(gate, id, end);
        }
        let Some(undo) = &self.undo else {
            self.prune(&job.key);
            return;
        };
        self.reference.insert(job.key.clone(), (end, now));
        // One undo per key: this success's replaces the one it postponed.
        self.agenda.take(Action::Undo, &job.key);
        let undo_job = Job {
            action: Action::Undo,
            attempt: 1,
            ..job
        };
        let due = now + undo.after;
        let max_pending = undo.max_pending;
        if self.agenda.count(Action::Undo) >= max_pending
            && let Some(early) = self.agenda.take_earliest(Action::Undo)
        {
            log::warn!(
                "{max_pending} undos are pending: the one due first{} runs now, early",
                for_key(&early.key)
            );
            self.launch_logged(gate, early, now);
        }
        self.schedule_undo(gate, undo_job, due, now);
    }

    fn schedule_undo<T: Held>(&mut self, gate: &mut Gate<T>, job: Job, due: Instant, now: Instant) {
        if self.undo_at_stop {
            // Stopping without a state file: nothing would keep it.
            self.launch_logged(gate, job, now);
        } else {
            self.agenda.schedule(job, due);
        }
    }

    /// A run failed at line time `end` (or could not start): tried again
    /// after its back-off, or given up on.
    fn failed<T: Held>(&mut self, gate: &mut Gate<T>, job: Job, end: Time, now: Instant) {
        let what = match job.action {
            Action::Do => "command",
            Action::Undo => "undo",
        };
        let key_id = match job.action {
            Action::Do => gate.id_of(&job.key),
            Action::Undo => None,
        };
        if let Some(retry) = self.retry.filter(|retry| retry.allows(job.attempt)) {
            let delay = retry.backoff(job.attempt);
            log::warn!(
                "{what}{} failed (attempt {} of {}): trying again in {}",
                for_key(&job.key),
                job.attempt,
                retry.times + 1,
                seconds(delay)
            );
            if let Some(id) = key_id {
                gate.back_off(id);
                self.reference.insert(job.key.clone(), (end, now));
            }
            self.agenda.schedule(job.next_attempt(), now + delay);
            return;
        }
        if job.attempt > 1 {
            log::warn!(
                "{what}{} failed {} times: giving up",
                for_key(&job.key),
                job.attempt
            );
        }
        if let Some(id) = key_id {
            self.finish(gate, id, end);
            // The undo this run postponed is still owed.
            if let (Some(undo), Some(pending)) =
                (&self.undo, self.agenda.get(Action::Undo, &job.key))
                && pending.held
            {
                let due = now + undo.after;
                self.reference.insert(job.key.clone(), (end, now));
                if let Some(pending) = self.agenda.take(Action::Undo, &job.key) {
                    self.schedule_undo(gate, pending.job, due, now);
                }
            }
        }
        self.prune(&job.key);
    }

    /// The next moment `on_deadline` has something to do: a timeout, a
    /// long-run warning, a retry or an undo falling due.
    pub fn deadline(&self) -> Option<Instant> {
        let agenda = if self.stopping {
            None
        } else {
            self.agenda.deadline()
        };
        [self.runner.deadline(), agenda].into_iter().flatten().min()
    }

    /// Timeouts, long-run warnings, and the retries and undos that fell
    /// due. Returns whether a run has just become long.
    pub fn on_deadline<T: Held>(&mut self, gate: &mut Gate<T>, now: Instant) -> bool {
        let long = self.runner.on_deadline(now);
        for &(tag, pid, took) in &long {
            let Some(run) = self.runs.get(&tag) else {
                continue;
            };
            let (what, suppressed) = match run.job.action {
                Action::Do => (
                    "command",
                    gate.id_of(&run.job.key).map_or(0, |id| gate.suppressed(id)),
                ),
                Action::Undo => ("undo", 0),
            };
            log::warn!(
                "{what}{} (pid {pid}) still running after {}: {suppressed} matching line(s) \
                 suppressed meanwhile",
                for_key(&run.job.key),
                seconds(took)
            );
        }
        self.start_due(gate, now);
        !long.is_empty()
    }

    /// Starts what fell due by `now`: undos at once, retries of the
    /// command when a slot is free.
    pub fn start_due<T: Held>(&mut self, gate: &mut Gate<T>, now: Instant) {
        if self.stopping {
            return;
        }
        while let Some(job) = self.agenda.pop_due(now) {
            match job.action {
                Action::Do => self.ready.push_back(job),
                Action::Undo => self.launch_logged(gate, job, now),
            }
        }
        self.start_ready(gate, now);
    }

    /// Starts the due retries of the command as slots are free; they go
    /// before triggers that wait for a slot, having waited longer.
    pub fn start_ready<T: Held>(&mut self, gate: &mut Gate<T>, now: Instant) {
        if self.stopping {
            return;
        }
        while let Some(job) = self.ready.front() {
            let Some(id) = gate.id_of(&job.key) else {
                // Busy keys are never forgotten: this cannot be.
                self.ready.pop_front();
                continue;
            };
            if !gate.resume(id) {
                return;
            }
            if let Some(job) = self.ready.pop_front() {
                self.launch_logged(gate, job, now);
            }
        }
    }

    /// Stopping: nothing new starts; running commands may finish. Without
    /// a state file (`keep` false) the pending undos run now, since
    /// nothing would keep them.
    pub fn begin_stop<T: Held>(&mut self, gate: &mut Gate<T>, keep: bool, now: Instant) {
        self.stopping = true;
        if keep || self.undo.is_none() {
            return;
        }
        self.undo_at_stop = true;
        let undos: Vec<Job> = self
            .agenda
            .pending()
            .into_iter()
            .filter(|p| p.job.action == Action::Undo && !p.held)
            .map(|p| p.job.clone())
            .collect();
        if !undos.is_empty() {
            log::info!(
                "running {} pending undo(s) now: without a state file nothing keeps them",
                undos.len()
            );
        }
        for job in undos {
            self.agenda.take(Action::Undo, &job.key);
            self.launch_logged(gate, job, now);
        }
    }

    /// The stop grace is over: SIGTERM the groups (SIGKILL follows).
    pub fn terminate(&mut self, now: Instant) {
        self.stopping = true;
        self.terminating = true;
        self.runner.terminate(now);
    }

    /// The last step of a stop: kill what is left and wait for it.
    pub fn kill<T: Held>(&mut self, gate: &mut Gate<T>, now: Instant) {
        self.stopping = true;
        self.terminating = true;
        for finished in self.runner.kill_and_wait(now) {
            self.end(gate, &finished, now);
        }
    }

    /// The end of a run without a state file: what is lost, said once.
    pub fn report_unkept(&self) {
        let retries = self.agenda.count(Action::Do) + self.ready.len();
        if retries > 0 {
            log::warn!(
                "{retries} pending retr(y/ies) dropped: without a state file nothing keeps them"
            );
        }
    }

    /// The commands running now, as the state keeps them to end one left
    /// running by a crash: process group, its leader's start time, key.
    /// Is `pid` a command of ours not reaped yet?
    pub fn is_command(&self, pid: libc::pid_t) -> bool {
        self.runner.running().any(|(p, _)| p == pid)
    }

    pub fn running_commands(&self) -> Vec<(libc::pid_t, u64, Vec<u8>)> {
        self.runner
            .running()
            .filter_map(|(pid, tag)| {
                let run = self.runs.get(&tag)?;
                let ticks = action::start_ticks(pid)?;
                Some((pid, ticks, run.job.key.to_vec()))
            })
            .collect()
    }

    /// What the runs are doing now.
    pub fn activity(&self, now: Instant) -> Activity {
        let running = self
            .runner
            .running_for(now)
            .into_iter()
            .filter_map(|(tag, pid, running_for, long)| {
                let run = self.runs.get(&tag)?;
                Some(RunningCommand {
                    pid,
                    action: run.job.action,
                    key: run.job.key.clone(),
                    attempt: run.job.attempt,
                    running_for,
                    long,
                })
            })
            .collect();
        Activity {
            running,
            retries: self.agenda.count(Action::Do) + self.ready.len(),
            undos: self.agenda.count(Action::Undo),
        }
    }

    /// Every run to do or to do again, for the state file: the running
    /// ones and those a stop interrupted (at once at the next start), the
    /// due retries, and the agenda with its times.
    pub fn export(&self, now: Instant, wall: SystemTime) -> Vec<JobSnapshot> {
        let at_once = |job: &Job| JobSnapshot {
            job: job.clone(),
            due: None,
            held: false,
        };
        let mut running: Vec<(&usize, &Run)> = self.runs.iter().collect();
        running.sort_by_key(|(tag, _)| **tag);
        let mut jobs: Vec<JobSnapshot> = self
            .interrupted
            .iter()
            .chain(running.into_iter().map(|(_, run)| &run.job))
            .chain(&self.ready)
            .map(at_once)
            .collect();
        jobs.extend(self.agenda.pending().into_iter().map(|p| {
            JobSnapshot {
                job: p.job.clone(),
                due: Some(
                    wall.checked_add(p.due.saturating_duration_since(now))
                        .unwrap_or(wall),
                ),
                held: p.held,
            }
        }));
        jobs
    }

    /// Restores the jobs of a saved state, at start: the command's runs
    /// hold their keys busy until done; what is overdue starts now.
    pub fn import<T: Held>(
        &mut self,
        gate: &mut Gate<T>,
        jobs: Vec<JobSnapshot>,
        now: Instant,
        wall: SystemTime,
    ) {
        let to_instant = |due: Option<SystemTime>| match due {
            Some(due) => now + due.duration_since(wall).unwrap_or(Duration::ZERO),
            None => now,
        };
        let (dos, undos): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .partition(|snapshot| snapshot.job.action == Action::Do);
        let mut count = 0;
        let mut held_keys = std::collections::HashSet::new();
        for snapshot in dos {
            if gate.hold(&snapshot.job.key, Time::now()).is_none() {
                log::warn!(
                    "the saved run of the command{} cannot be kept: every tracked key is busy",
                    for_key(&snapshot.job.key)
                );
                continue;
            }
            count += 1;
            held_keys.insert(snapshot.job.key.clone());
            match snapshot.due.map(|_| to_instant(snapshot.due)) {
                Some(due) if due > now => self.agenda.schedule(snapshot.job, due),
                _ => self.ready.push_back(snapshot.job),
            }
        }
        for snapshot in undos {
            if self.undo.is_none() {
                log::warn!(
                    "a saved undo{} is dropped: --undo is not set any more",
                    for_key(&snapshot.job.key)
                );
                continue;
            }
            count += 1;
            let key = snapshot.job.key.clone();
            self.agenda.schedule(snapshot.job, to_instant(snapshot.due));
            // Held only while its key's command is to run again.
            if snapshot.held && held_keys.contains(&key) {
                self.agenda.hold(Action::Undo, &key);
            }
        }
        if count > 0 {
            log::info!("{count} run(s) of the saved state to do: the command's and undos");
        }
        self.start_due(gate, now);
    }
}

/// ` for key 'k'`, or nothing without a key.
fn for_key(key: &[u8]) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(" for key '{}'", String::from_utf8_lossy(key))
    }
}

/// ` (attempt 2 of 4)` when retries are on and this is not the first.
fn attempt_of(attempt: u32, retry: Option<Retry>) -> String {
    match retry {
        Some(retry) if attempt > 1 => format!(" (attempt {attempt} of {})", retry.times + 1),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
