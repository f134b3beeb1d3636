//! The event loop. It waits in poll(2) on the signal pipe and the
//! source's descriptor (inotify for a path, standard input for a stream,
//! journalctl's output for the journal),
//! with a timeout only for the deadlines the parts ask for (a command's
//! timeout, the end of a cooldown with suppressed matches, a source's next
//! look, a save of the state file that is behind). With none of those
//! pending an idle daemon does not wake up at all. With a state file it
//! also waits on the saver's pipe, which speaks only when a start waits
//! for the save of the spawn before it.
//!
//! Nothing but these events can make the loop wait: no thread and no
//! queue of our own stand between the kernel and the loop, so nothing can
//! grow without bound. The loop knows no source's insides: how a path's
//! changes are seen (inotify, polling, remote file systems) is the file
//! source's, and a stream's end is the stream's.
//!
//! One turn is [`Daemon::step`]: given what woke it and the time, with no
//! waiting of its own, so that tests step it with a made-up clock.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use crate::checkpoint::persist::Persist;
use crate::checkpoint::state::{State, StateFile};
use crate::error::{Error, Result};
use crate::input::file::rotation::LogPath;
use crate::input::file::source::{FileSource, Options};
use crate::input::journal::{self, Journal};
use crate::input::source::{Source, SourceSink};
use crate::input::stream::Stream;
use crate::react::action::{OsSpawner, SHUTDOWN_KILL_GRACE, STOP_GRACE, Spawner, seconds};
use crate::react::linetime::{LineClock, Time};
use crate::react::reaction::Reaction;
use crate::report::counters::Counters;
use crate::report::live::{Live, View};
use crate::report::metrics::Sample;
use crate::report::readiness::Notifier;
use crate::report::status_line::{LongRun, Snapshot};
use crate::report::summary::Summary;
use crate::settings::config::Config;
use crate::signals::Signals;
use crate::sys::poll;

/// How many bytes of a dry run's printed lines wait for their save at
/// most: past this (a backlog read in one go) the save is written at once
/// and waited for.
const MAX_HELD_OUTPUT: usize = 1 << 20;

/// How much of a file one turn reads while a dry run's lines are held: the
/// held lines are looked at between turns, so what one turn prints is what
/// they can exceed `MAX_HELD_OUTPUT` by (a few MiB at most: a JSON object
/// is several times its line). The default, 64 MiB, held hundreds of MiB
/// of JSON objects at once.
const HELD_READ_BUDGET: u64 = 256 << 10;

/// What one turn of the loop has to do, from the signals.
#[derive(Default)]
struct Todo {
    reload: bool,
    child_exited: bool,
    stop: Option<i32>,
}

/// How the run goes, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Follow the path (or the journal) until stopped, across rotation.
    Follow,
    /// Read standard input until it ends or we are stopped (`-l -`).
    Stream,
    /// Read the file to its end, then stop (`--once`).
    Once,
}

impl Mode {
    fn of(config: &Config) -> Mode {
        if config.once {
            Mode::Once
        } else if config.stdin {
            Mode::Stream
        } else {
            Mode::Follow
        }
    }
}

/// A stop under way (SIGTERM, SIGINT): running commands may finish until
/// `terminate_at` ([`STOP_GRACE`]), then their groups get SIGTERM, and
/// SIGKILL at `kill_at`.
#[derive(Debug, Clone, Copy)]
struct Stop {
    terminate_at: Instant,
    kill_at: Option<Instant>,
}

impl Stop {
    fn next(&self) -> Instant {
        self.kill_at.unwrap_or(self.terminate_at)
    }
}

/// What woke the loop: the signals that arrived and which descriptors are
/// ready. The outer `run` gathers it from poll(2); a test makes it up.
#[derive(Debug, Default)]
struct Wake {
    signals: Vec<i32>,
    /// The source's descriptor is ready (inotify events, standard input).
    input: bool,
    /// The saver wrote the state a start waited for.
    saved: bool,
}

struct Daemon {
    config: Config,
    mode: Mode,
    input: Source,
    reaction: Reaction,
    notifier: Notifier,
    /// The status line and the metrics file.
    live: Live,
    /// The state file, held locked for as long as we run.
    state: Option<Persist>,
    /// `--once --dry-run`: the counts its report ends with.
    summary: Option<Summary>,
    /// The matching lines' times (§11).
    clock: LineClock,
    /// Stopping: when the running commands are stopped.
    stopping: Option<Stop>,
    /// The input ended (`--once`, a stream): the last runs are under way.
    ending: bool,
    /// Why the run fails once it has stopped, if it does.
    failure: Option<Error>,
    /// Set by a SIGTERM or SIGINT as it arrives (cleared when a stop
    /// begins): a stop asked for again does not wait on a stalled disk.
    hurry: Arc<AtomicBool>,
    /// A stop signal taken while `--once` was scanning, for the loop.
    pending_stop: Option<i32>,
}

/// The parts of a daemon the status line and the metrics are made from,
/// borrowed field by field so that `live` stays free to change.
macro_rules! view {
    ($daemon:expr) => {
        DaemonView {
            input: &$daemon.input,
            reaction: &$daemon.reaction,
            state: $daemon.state.as_ref(),
        }
    };
}

/// Runs until stopped by a signal (or, with `--once`, the end of the file).
pub fn run(config: Config) -> Result<()> {
    // Before the summary: a daemon that cannot start says only why.
    let (state_file, saved) = open_state(&config)?;
    log_summary(&config);
    let mut signals = Signals::new()
        .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    let now = Instant::now();
    let mut daemon = Daemon::new(
        config,
        state_file,
        saved,
        Box::new(OsSpawner::default()),
        now,
    )?;
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&daemon.hurry))
            .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    }
    daemon.begin(now, &mut || signals.pending().collect())?;
    loop {
        if let Some(end) = daemon.end() {
            return end;
        }
        let wake = daemon.wait(&mut signals, daemon.deadline(Instant::now()))?;
        if let Some(end) = daemon.step(wake, Instant::now()) {
            return end;
        }
    }
}

impl Daemon {
    /// Everything a run needs, set up: the source opened (where the saved
    /// state says), the watcher started, the saved keys and held matches
    /// restored. Commands are started by `spawner`.
    fn new(
        config: Config,
        state_file: Option<StateFile>,
        saved: Option<State>,
        spawner: Box<dyn Spawner>,
        now: Instant,
    ) -> Result<Daemon> {
        let mode = Mode::of(&config);
        let mut input = if let Some(settings) = &config.journal {
            let position = saved.as_ref().and_then(|state| state.journal.clone());
            Source::Journal(Box::new(
                Journal::open(
                    settings.clone(),
                    position,
                    config.from_beginning,
                    mode == Mode::Once,
                )
                .map_err(|err| Error::failure(err.0))?,
            ))
        } else if mode == Mode::Stream {
            Source::Stream(
                Stream::stdin()
                    .map_err(|err| Error::failure(format!("cannot read standard input: {err}")))?,
            )
        } else {
            let options = Options {
                from_beginning: config.from_beginning,
                once: mode == Mode::Once,
                poll: config.poll,
            };
            Source::File(Box::new(FileSource::open(
                &config.path,
                &config.path_as_given,
                &options,
                saved.as_ref().map(|state| &state.files),
                now,
            )?))
        };
        let mut reaction = Reaction::new(&config, spawner);
        if state_file.is_some() && mode != Mode::Stream {
            // At most one spawn not on disk yet (SPEC §6): a crash repeats
            // at most one command.
            reaction.hold_starts_until_saved();
            if let (Source::File(file), true) = (&mut input, reaction.is_dry_run()) {
                file.set_budget_per_turn(HELD_READ_BUDGET);
            }
        }
        let mut clock = LineClock::new(config.times.clone());
        if let Some(state) = saved {
            reaction.restore(&config, &mut clock, state.gate, state.runner, now);
        }
        let mut daemon = Daemon {
            mode,
            input,
            reaction,
            notifier: Notifier::from_env(),
            live: Live::without_metrics(),
            state: state_file
                .map(Persist::new)
                .transpose()
                .map_err(|err| Error::failure(format!("cannot start the state writer: {err}")))?,
            // Counting the lines is a pass of its own over every byte:
            // only when the summary will be logged (not with -q).
            summary: (mode == Mode::Once
                && config.command.is_none()
                && log::log_enabled!(log::Level::Info))
            .then(|| Summary::new(now)),
            stopping: None,
            ending: false,
            failure: None,
            hurry: Arc::new(AtomicBool::new(false)),
            pending_stop: None,
            clock,
            config,
        };
        // The count of lines is read by the summary and the metrics file
        // only: without them, no pass of its own over every byte.
        let counted = daemon.summary.is_some() || daemon.config.metrics_file.is_some();
        daemon.reaction.count_lines(counted);
        if let Some(path) = &daemon.config.metrics_file {
            daemon.live = Live::with_metrics(path, &daemon.config.path_as_given, &view!(daemon))
                .map_err(|err| {
                    Error::failure(format!(
                        "cannot write the metrics file {}: {err}",
                        path.display()
                    ))
                })?;
        }
        Ok(daemon)
    }

    /// The first turn: `--once` reads the file to its end (or until
    /// `signals`, which returns those that arrived without waiting, brings
    /// a stop); otherwise the watches are set, what is already new is read,
    /// and we are ready.
    fn begin(&mut self, now: Instant, signals: &mut dyn FnMut() -> Vec<i32>) -> Result<()> {
        if self.mode == Mode::Once {
            while self.with_lines(now, |input, sink| input.read_more(now, sink))
                && !self.reaction.output_closed()
            {
                self.hand_over_output(now);
                // A long scan still stops at once when asked to (between
                // two read budgets).
                self.pending_stop = self.take_stop(signals(), Instant::now());
                if self.pending_stop.is_some() {
                    return Ok(());
                }
            }
            // As grep does, a last line without its newline is still a line;
            // unless a state file keeps it for the next run to complete.
            if self.state.is_none() {
                self.with_lines(now, |input, sink| input.finish(sink));
            }
            // No writer is waited for: a rotated file read to its end is
            // done with, and is not in the state for the next run to look
            // for (and to warn about when logrotate has deleted it).
            let every_grace_over = now + Duration::from_secs(365 * 86_400);
            self.with_lines(now, |input, sink| {
                input.close_rotated(every_grace_over, sink)
            });
        } else {
            let begun = self.with_lines(now, |input, sink| input.begin(now, sink));
            if begun? {
                // Another file at the path already: kept at once.
                self.save_state(now);
            }
            self.ready(now);
        }
        Ok(())
    }

    /// `READY=1`, with the status line, once start-up's code pages are
    /// given back: what it ran (the argument parser, the regex compiler, the
    /// state reader) an idle daemon does not run again.
    fn ready(&mut self, now: Instant) {
        match crate::sys::release_clean_file_pages() {
            Ok(bytes) => log::debug!(
                "gave back the pages of {} KiB of clean file mappings",
                bytes >> 10
            ),
            Err(e) => log::debug!("cannot read /proc/self/smaps: {e}"),
        }
        let view = view!(self);
        let status = self.live.ready_status(now, &view);
        self.notifier.ready(&status);
    }

    /// The end of a turn: the metrics file if due, the status line if it
    /// changed.
    fn after_turn(&mut self, now: Instant) {
        if let Some(log) = self.input.as_path() {
            self.reaction.count_rotations(log.rotations());
        }
        let view = view!(self);
        if let Some(status) = self.live.after_turn(now, &view) {
            self.notifier.status(&status);
        }
    }

    /// As PID 1: the orphans re-parented to us, not our commands nor the
    /// source's journalctl, which are reaped by their pids.
    fn reap_orphans(&self) {
        let journalctl = self.input.child_pid();
        crate::react::action::reap_orphans(|pid| {
            journalctl == Some(pid) || self.reaction.is_command(pid)
        });
    }

    /// Of `signals` (taken during the `--once` scan): the stop signal, if
    /// one came; a child's exit is handled, SIGHUP means nothing there.
    fn take_stop(&mut self, signals: Vec<i32>, now: Instant) -> Option<i32> {
        let mut stop = None;
        for signal in signals {
            match signal {
                SIGCHLD => {
                    self.reaction.on_child_exit(now);
                    self.reap_orphans();
                }
                SIGHUP => {}
                other => stop = Some(other),
            }
        }
        stop
    }

    /// Has the run ended? With what result, if so. Asked before each wait.
    fn end(&mut self) -> Option<Result<()>> {
        if self.reaction.output_closed() {
            log::debug!("standard output is closed: stopping");
            self.save_state_last(Instant::now());
            return Some(Ok(()));
        }
        if (self.mode == Mode::Once || self.input.ended())
            && !self.reaction.waits_for_save()
            && self.stopping.is_none()
            && self.pending_stop.is_none()
        {
            // Retries still to come are waited for; undos not due yet are
            // kept by the state file, or run now without one.
            if self.reaction.activity(Instant::now()).retries > 0 {
                return None;
            }
            if !self.ending && !self.reaction.is_running() {
                self.ending = true;
                self.reaction
                    .begin_stop(self.state.is_some(), Instant::now());
            }
            if self.reaction.is_running() {
                return None;
            }
            let suppressed = self.reaction.report_suppressed();
            if self.state.is_none() {
                self.reaction.report_unkept();
            }
            // Before the summary: the last save prints a dry run's last
            // lines, which come before the line that counts them.
            self.save_state_last(Instant::now());
            match &self.summary {
                Some(summary) => log::info!(
                    "{}; the pattern is {}",
                    summary.report(
                        self.reaction.printed(),
                        suppressed.count,
                        (!self.clock.by_arrival()).then(|| self.clock.untimed()),
                        Instant::now()
                    ),
                    crate::settings::shown::pattern(&self.config.matcher.pattern)
                ),
                None => self.log_suppressed(suppressed),
            }
            return Some(match self.input.error() {
                Some(why) => Err(Error::failure(why)),
                None => Ok(()),
            });
        }
        None
    }

    /// The earliest moment something has to be done without an event;
    /// `None`: nothing, wait for an event however long it takes.
    fn deadline(&self, now: Instant) -> Option<Instant> {
        if let Some(stop) = self.stopping {
            // Stopping: only the grace and the commands' timeouts matter;
            // the rest is not served any more, and a deadline of its that
            // passed would make the loop spin.
            return [Some(stop.next()), self.reaction.deadline()]
                .into_iter()
                .flatten()
                .min();
        }
        [
            self.pending_stop.map(|_| now),
            self.input.deadline(now),
            self.reaction.deadline(),
            self.state.as_ref().and_then(Persist::deadline),
            self.live.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// One turn of the loop: what `wake` says arrived, and the deadlines
    /// that passed by `now`. Returns the run's result once it has stopped.
    fn step(&mut self, wake: Wake, now: Instant) -> Option<Result<()>> {
        let mut todo = Todo {
            stop: self.pending_stop.take(),
            ..Todo::default()
        };
        for signal in wake.signals {
            match signal {
                SIGCHLD => todo.child_exited = true,
                // A stream has nothing to reopen, nor has the journal.
                SIGHUP => todo.reload = self.mode == Mode::Follow && self.config.journal.is_none(),
                other => todo.stop = Some(other),
            }
        }
        if wake.saved
            && let Some(state) = self.state.as_mut()
        {
            state.on_ready();
        }
        // Before the exits and the lines: a spawn saved meanwhile holds
        // nothing back any more.
        self.start_what_waited_for_a_save(now);
        if let Some(err) = self.input.on_ready(wake.input, now) {
            self.failure = Some(err);
            todo.stop = Some(SIGTERM);
        }
        if let Some(signal) = todo.stop {
            if self.stopping.is_some() {
                // Asked twice: no more grace.
                log::warn!("received {} again: stopping now", signal_name(signal));
                self.reaction.kill(now);
                return Some(self.stopped(now));
            }
            // From now on, another SIGTERM means: do not wait.
            self.hurry.store(false, Ordering::Relaxed);
            self.notifier.stopping();
            self.input.stop_watching();
            if self.failure.is_some() {
                // A fatal error: no grace, the groups go with us (what
                // was running is kept to run again).
                self.reaction.kill(now);
                return Some(self.stopped(now));
            }
            log::info!("received {}: stopping", signal_name(signal));
            if self.mode == Mode::Once {
                // Not as if it had completed: a script or a timer must
                // not take a partial scan for a whole one.
                self.failure = Some(Error::failure(format!(
                    "stopped by {} before --once completed",
                    signal_name(signal)
                )));
            }
            self.reaction.begin_stop(self.state.is_some(), now);
            if self.reaction.is_running() {
                log::info!(
                    "letting the running command(s) finish, for {} at most",
                    seconds(STOP_GRACE)
                );
            }
            self.stopping = Some(Stop {
                terminate_at: now + STOP_GRACE,
                kill_at: None,
            });
        }
        // After a stop that arrived with it: a command the same stop
        // killed (all of a unit's processes get its SIGTERM) is kept.
        if todo.child_exited {
            self.reaction.on_child_exit(now);
        }
        // At every turn, not only on SIGCHLD: an orphan can be hidden
        // behind a journalctl that the source reaps later (see
        // `reap_orphans`).
        self.reap_orphans();
        if let Some(stop) = self.stopping.as_mut() {
            if stop.kill_at.is_none() && now >= stop.terminate_at {
                log::warn!(
                    "the stop grace of {} is over: stopping the running command(s)",
                    seconds(STOP_GRACE)
                );
                self.reaction.terminate(now);
                stop.kill_at = Some(now + SHUTDOWN_KILL_GRACE);
            }
            if stop.kill_at.is_some_and(|at| now >= at) {
                self.reaction.kill(now);
            } else {
                // Timeouts hold during the grace too.
                self.reaction.on_deadline(now, false);
            }
            if !self.reaction.is_running() {
                return Some(self.stopped(now));
            }
            return None;
        }
        if todo.reload {
            log::info!("received SIGHUP: reopening {}", self.config.path.display());
            self.notifier.reloading();
        }
        let reload = todo.reload;
        if self.with_lines(now, |input, sink| input.read(reload, now, sink)) {
            // Another file at the path, a rotated one closed: saved at once.
            self.save_state(now);
        }
        if reload {
            self.ready(now);
        }
        self.reaction.on_deadline(now, !self.input.behind());
        // A stream has no state file: `state` is `None` with one.
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.checkpoint()) {
            // Queued commands start as others end, outside any read.
            state.note_progress(log, &self.reaction, now);
            state.on_deadline(&self.config.path, log, &mut self.reaction, now);
        }
        self.start_what_waited_for_a_save(now);
        self.hand_over_output(now);
        self.after_turn(now);
        None
    }

    /// The end of a stop: what is left reported, the state saved (with
    /// the runs to do again). The run's result.
    fn stopped(&mut self, now: Instant) -> Result<()> {
        let suppressed = self.reaction.report_suppressed();
        self.log_suppressed(suppressed);
        if self.state.is_none() {
            self.reaction.report_unkept();
        }
        self.save_state_last(now);
        log::info!("stopped");
        self.failure.take().map_or(Ok(()), Err)
    }

    /// Starts what waited for the save of the last spawn, once that save
    /// is written; else, while something waits, asks the saver to make
    /// its descriptor readable when it is (no polling, and no wake-up for
    /// a save nobody waits for).
    fn start_what_waited_for_a_save(&mut self, now: Instant) {
        let (Some(state), Some(log)) = (self.state.as_mut(), self.input.checkpoint()) else {
            return;
        };
        while let Some(spawn) = self.reaction.unsaved_spawn() {
            // A `false` request: written just now, before it: go on.
            if state.written() < spawn
                && (!self.reaction.waits_for_save() || state.wake_when_written(spawn))
            {
                return;
            }
            self.reaction.spawn_saved(now);
            // A start here is a spawn to save in its turn.
            state.note_progress(log, &self.reaction, now);
        }
    }

    /// Saves the state now, if there is a state file (written off the
    /// loop: see `saver`).
    fn save_state(&mut self, now: Instant) {
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.checkpoint()) {
            state.save(&self.config.path, log, &mut self.reaction, now);
        }
    }

    /// The last save of a run: written (and the printed lines it covers
    /// with it) before logs2eca exits.
    fn save_state_last(&mut self, now: Instant) {
        self.save_state(now);
        if let Some(log) = self.input.as_path() {
            self.reaction.count_rotations(log.rotations());
        }
        let view = view!(self);
        self.live.finish(&view);
        if let Some(state) = &mut self.state {
            // The disk stalled: printed again after a restart rather
            // than never.
            crate::checkpoint::saver::print(&state.flush(&self.hurry));
        }
    }

    /// A dry run's printed lines wait for the next save, which prints
    /// them (see `saver`). Past `MAX_HELD_OUTPUT` (a backlog read in one
    /// go), that save is made now and waited for; and the reader's end,
    /// which the saver sees, ends the run.
    fn hand_over_output(&mut self, now: Instant) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        if state.output_closed() {
            self.reaction.close_output();
        }
        if self.reaction.held_output_len() > MAX_HELD_OUTPUT
            && let Some(log) = self.input.checkpoint()
        {
            state.save(&self.config.path, log, &mut self.reaction, now);
            crate::checkpoint::saver::print(&state.flush(&self.hurry));
        }
    }

    /// Blocks until a signal, a file system event or input arrives, or
    /// until `deadline`: the one place the daemon waits.
    fn wait(&self, signals: &mut Signals, deadline: Option<Instant>) -> Result<Wake> {
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let input = self.input.fd();
        let saver = self.state.as_ref().and_then(Persist::fd);
        let fds: Vec<_> = [Some(signals.fd()), input, saver]
            .into_iter()
            .flatten()
            .collect();
        let ready =
            poll(&fds, timeout).map_err(|err| Error::failure(format!("cannot wait: {err}")))?;
        let mut ready = ready.into_iter();
        let signalled = ready.next().unwrap_or(false);
        let mut wake = Wake {
            signals: Vec::new(),
            input: input.is_some() && ready.next().unwrap_or(false),
            saved: false,
        };
        wake.saved = saver.is_some() && ready.next().unwrap_or(false);
        if signalled {
            wake.signals.extend(signals.pending());
        }
        Ok(wake)
    }

    /// Hands every new line of the followed files to the matcher.
    fn with_lines<T>(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut Source, SourceSink) -> T,
    ) -> T {
        let matcher = &self.config.matcher;
        let reaction = &mut self.reaction;
        let summary = &mut self.summary;
        let clock = &mut self.clock;
        // What "now" is for lines without a timestamp, and for those
        // stamped ahead of it.
        let arrival = Time::now();
        let result = read(&mut self.input, &mut |block, origin, entry| {
            // Nobody reads a dry run's output any more: skip the work until
            // the loop stops.
            if reaction.output_closed() {
                return;
            }
            let mut matched = 0;
            // A journal entry's fields, made once for all its matches.
            let mut extra = None;
            let excluded = matcher.for_each_match(block, |line| {
                matched += 1;
                match entry {
                    None => {
                        let time = clock.time_of(block, line, arrival);
                        reaction.on_match(line, origin.of(block, line), time, now)
                    }
                    Some(entry) => {
                        let time = clock.entry(journal::entry_time(entry), arrival);
                        let extra = extra.get_or_insert_with(|| journal::command_env(entry));
                        reaction.on_entry_match(line, origin, extra, time, now);
                    }
                }
            });
            let lines = match entry {
                None => {
                    clock.end_block(block, arrival);
                    reaction.count_block(block, matched, excluded)
                }
                // A message has no newline of its own.
                Some(_) => reaction.count_entry(block, matched, excluded),
            };
            if let Some(summary) = summary.as_mut() {
                summary.add(lines, matched + excluded, excluded);
            }
        });
        reaction.flush();
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.checkpoint()) {
            state.note_progress(log, &self.reaction, now);
        }
        result
    }
}

impl Daemon {
    /// At the end: the matches suppressed and not reported yet, in one
    /// line. With a state file the cooldown is kept for the next start, so
    /// nothing is said to be over.
    fn log_suppressed(&self, suppressed: crate::react::reaction::Suppressed) {
        if suppressed.count == 0 {
            return;
        }
        let keys = match suppressed.keys {
            0 => String::new(),
            n => format!(" of {n} key(s)"),
        };
        if self.state.is_some() {
            log::info!(
                "stopping in a cooldown that the state file keeps: {} matching line(s){keys} suppressed so far",
                suppressed.count
            );
        } else {
            log::info!(
                "stopping: {} matching line(s){keys} were suppressed by the cooldown",
                suppressed.count
            );
        }
    }
}

/// The daemon's parts as the status line and the metrics see them.
struct DaemonView<'a> {
    input: &'a Source,
    reaction: &'a Reaction,
    state: Option<&'a Persist>,
}

impl View for DaemonView<'_> {
    fn counters(&self) -> &Counters {
        self.reaction.counters()
    }

    fn saves(&self) -> Option<u64> {
        self.state.map(Persist::saves)
    }

    fn snapshot(&self, now: Instant) -> Snapshot<'_> {
        let wall = SystemTime::now();
        let activity = self.reaction.activity(now);
        Snapshot {
            reading: self.input.status(),
            rotated_open: self.input.as_path().map_or(0, LogPath::rotated_open),
            counters: self.reaction.counters(),
            running: self.reaction.running_since(now, wall),
            long: activity
                .running
                .iter()
                .filter(|run| run.long)
                .map(|run| LongRun {
                    action: run.action.name(),
                    pid: run.pid,
                    since: wall.checked_sub(run.running_for).unwrap_or(wall),
                })
                .collect(),
            keys: self.reaction.keys(),
            held: self.reaction.held_count(),
            retries: activity.retries,
            undos: activity.undos,
            dry_run: self.reaction.is_dry_run(),
        }
    }

    fn sample(&self) -> Sample<'_> {
        Sample {
            counters: self.reaction.counters(),
            keys: self.reaction.keys(),
            held: self.reaction.held_count(),
            running: self
                .reaction
                .running_since(Instant::now(), SystemTime::now())
                .len(),
            lag_bytes: self.input.as_path().map(LogPath::lag),
        }
    }
}

impl Drop for Daemon {
    /// Whatever way the loop ends (an error, a panic), a running command's
    /// group goes with it.
    fn drop(&mut self) {
        self.reaction.kill(Instant::now());
    }
}

/// Locks and reads the state file, so that a second instance, an unwritable
/// state directory and a bad state file are dealt with at start. A saved
/// state for another path is not ours to resume from.
fn open_state(config: &Config) -> Result<(Option<StateFile>, Option<State>)> {
    let Some(path) = &config.state_file else {
        return Ok((None, None));
    };
    let (file, state) = StateFile::open(path)?;
    let state = state.filter(|state| {
        let ours = state.path == config.path;
        if !ours {
            // Kept, not overwritten by our first save: it is another
            // monitor's position.
            let mut aside = path.as_os_str().to_owned();
            aside.push(".bad");
            let kept = match std::fs::rename(path, &aside) {
                Ok(()) => format!("moved aside to {}", Path::new(&aside).display()),
                Err(err) => format!("cannot move it aside: {err}"),
            };
            log::warn!(
                "the state in {} is for {}, not {} ({kept}): starting without it",
                path.display(),
                state.path.display(),
                config.path.display()
            );
        }
        ours
    });
    Ok((Some(file), state))
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "a signal",
    }
}

fn log_summary(config: &Config) {
    let exclude = config
        .matcher
        .exclude
        .as_ref()
        .map(|x| format!(" but not {}", crate::settings::shown::pattern(x)))
        .unwrap_or_default();
    let action = match &config.command {
        None => "print them (dry run)".to_owned(),
        // The program and how many arguments, not the arguments: they may
        // hold secrets (a token in a webhook URL), and this line goes to
        // the journal, which more people read than the unit's settings.
        Some(command) => format!(
            "run {} (cooldown {}, timeout {}{}){}",
            crate::settings::shown::argv_redacted(&command.argv),
            crate::react::action::seconds(config.wait),
            config
                .timeout
                .map_or("none".into(), crate::react::action::seconds),
            config.retry.map_or(String::new(), |retry| format!(
                ", retry {} time(s) from {}",
                retry.times,
                crate::react::action::seconds(retry.first)
            )),
            config.undo.as_ref().map_or(String::new(), |undo| format!(
                ", undone by {} {} later",
                crate::settings::shown::argv_redacted(&undo.command.argv),
                crate::react::action::seconds(undo.after)
            )),
        ),
    };
    log::info!(
        "{} {}: on lines matching {}{exclude}, {action}",
        if config.once { "scanning" } else { "following" },
        config.source_name(),
        crate::settings::shown::pattern(&config.matcher.pattern),
    );
}

#[cfg(test)]
mod tests;
