//! The event loop. It waits in poll(2) on the signal pipe and the inotify
//! queue (or standard input, with `-l -`), with a timeout only for the
//! deadlines the state asks for (a command's timeout, the end of a cooldown
//! with suppressed matches, a rotated file's grace, the next look when
//! polling, see `poll`, a save of the state file that is behind). With none
//! of those pending an idle daemon does not wake up at all.
//!
//! Nothing but these events can make the loop wait: no thread and no
//! queue of our own stand between the kernel and the loop, so nothing can
//! grow without bound. Everything that is ready is folded into one set of
//! things to do, so a burst of writes costs one read, not one per event.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use crate::checkpoint::persist::{self, Persist};
use crate::checkpoint::state::{State, StateFile};
use crate::error::{Error, Result};
use crate::input::file::follow::{LineSink, StartAt};
use crate::input::file::fstype;
use crate::input::file::polling::{Poll, Schedule};
use crate::input::file::resolve::{self, Resolution};
use crate::input::file::rotation::LogPath;
use crate::input::file::watch::{self, Watch};
use crate::input::source::Source;
use crate::input::stream::Stream;
use crate::react::action::{OsSpawner, SHUTDOWN_KILL_GRACE, Spawner, seconds};
use crate::react::reaction::Reaction;
use crate::report::readiness::Notifier;
use crate::report::summary::Summary;
use crate::settings::config::Config;
use crate::signals::Signals;
use crate::sys::poll;

/// Looks at the path in one refresh, at most, while it keeps naming
/// another file.
const MAX_REFRESH_ROUNDS: usize = 3;

/// What one turn of the loop has to do.
#[derive(Default)]
struct Todo {
    /// Look at the path: identity, truncation, new bytes.
    refresh: bool,
    /// Resolve the path again and set the watches: a directory moved, a
    /// symlink changed.
    rewatch: bool,
    /// Something else changed in a watched directory: maybe a writer of a
    /// rotated file.
    read_retired: bool,
    reload: bool,
    child_exited: bool,
    stop: Option<i32>,
}

/// How the run goes, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Follow the path until stopped, across rotation.
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

/// What woke the loop: the signals that arrived and which descriptors are
/// ready. The outer `run` gathers it from poll(2); a test makes it up.
#[derive(Debug, Default)]
struct Wake {
    signals: Vec<i32>,
    /// The inotify descriptor has events.
    watch: bool,
    /// The source's descriptor (standard input) has data or its end.
    input: bool,
}

struct Daemon {
    config: Config,
    mode: Mode,
    input: Source,
    reaction: Reaction,
    /// `None` with `--once`, a stream, `--poll DURATION`, inotify that
    /// could not start, and once stopping.
    watch: Option<Watch>,
    /// What the path resolved to when the watches were last set.
    resolution: Resolution,
    /// When to look without an inotify event.
    polling: Schedule,
    /// inotify cannot be used and `--poll never` forbids polling instead.
    cannot_watch: Option<Error>,
    notifier: Notifier,
    /// What `STATUS=` last said: what was awaited, and whether the file
    /// was open (sent again when either changes, e.g. the file appears).
    status_shown: Option<(Option<PathBuf>, bool)>,
    /// The last read stopped at its budget: read on without waiting.
    more_to_read: bool,
    /// The state file, held locked for as long as we run.
    state: Option<Persist>,
    /// `--once --dry-run`: the counts its report ends with.
    summary: Option<Summary>,
    /// Stopping: the running commands are killed at this moment.
    stopping: Option<Instant>,
    /// Why the run fails once it has stopped, if it does.
    failure: Option<Error>,
    /// A stop signal taken while `--once` was scanning, for the loop.
    pending_stop: Option<i32>,
}

/// Runs until stopped by a signal (or, with `--once`, the end of the file).
pub fn run(config: Config) -> Result<()> {
    // Before the summary: a daemon that cannot start says only why.
    let (state_file, saved) = open_state(&config)?;
    log_summary(&config);
    let mut signals = Signals::new()
        .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    let now = Instant::now();
    let mut daemon = Daemon::new(config, state_file, saved, Box::new(OsSpawner), now)?;
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

/// Opens the followed path at start (a missing one is waited for), where
/// the saved state says we were if there is one.
fn open_path(config: &Config, saved: Option<&State>, now: Instant) -> Result<LogPath> {
    let start = if config.from_beginning || config.once {
        StartAt::Beginning
    } else {
        StartAt::End
    };
    if config.once {
        // Nothing to wait for: the file must be there.
        std::fs::metadata(&config.path).map_err(|err| cannot_open(config, err))?;
    }
    match saved {
        Some(state) => LogPath::resume(&config.path, state, now),
        None => LogPath::open(&config.path, start),
    }
    .map_err(|err| cannot_open(config, err))
}

/// Puts back what a saved state keeps of the reaction: the keys' windows
/// and cooldowns, then the matches that were held, in their order.
fn restore(config: &Config, reaction: &mut Reaction, state: State, now: Instant) {
    let keys = state.keys.into_iter().map(persist::from_record).collect();
    reaction.import_keys(keys, now, SystemTime::now());
    // What was queued or waiting for a slot had not run: it goes through
    // the gate again, in its order, before anything new.
    if !state.held.is_empty() {
        log::info!(
            "{} match(es) held when the state was saved: handling them again",
            state.held.len()
        );
    }
    // Only lines the settings of this run still let through: the pattern
    // or the exclusion may have changed since.
    let mut dropped = 0;
    for held in &state.held {
        // A line held cut to its first bytes may match only past the cut:
        // it cannot be checked again, and is kept.
        let cut = held.line.len() >= crate::react::action::MAX_ENV_VALUE;
        if cut || config.matcher.matches(&held.line) {
            reaction.on_restored(&held.line, held.trigger, now);
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
        let mut polling = Schedule::new(config.poll, now);
        let watch = if mode != Mode::Follow {
            None
        } else if !polling.wants_inotify() {
            if let Poll::Every(every) = config.poll {
                log::info!("looking for changes every {} (--poll)", seconds(every));
            }
            None
        } else {
            match Watch::new() {
                Ok(watch) => Some(watch),
                Err(err) => {
                    let why = format!("cannot start inotify: {}", watch::describe(&err));
                    polling.without_inotify(&why, now)?;
                    None
                }
            }
        };
        let input = if mode == Mode::Stream {
            Source::Stream(
                Stream::stdin()
                    .map_err(|err| Error::failure(format!("cannot read standard input: {err}")))?,
            )
        } else {
            Source::Path(open_path(&config, saved.as_ref(), now)?)
        };
        let mut reaction = Reaction::new(&config, spawner);
        if let Some(state) = saved {
            restore(&config, &mut reaction, state, now);
        }
        Ok(Daemon {
            mode,
            input,
            reaction,
            watch,
            resolution: Resolution::default(),
            polling,
            cannot_watch: None,
            notifier: Notifier::from_env(),
            status_shown: None,
            more_to_read: false,
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
            failure: None,
            pending_stop: None,
            config,
        })
    }

    /// The first turn: `--once` reads the file to its end (or until
    /// `signals`, which returns those that arrived without waiting, brings
    /// a stop); otherwise the watches are set, what is already new is read,
    /// and we are ready.
    fn begin(&mut self, now: Instant, signals: &mut dyn FnMut() -> Vec<i32>) -> Result<()> {
        if self.mode == Mode::Once {
            while self.with_lines(now, |log, sink| log.refresh(now, sink).more)
                && !self.reaction.output_closed()
            {
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
                self.with_lines(now, |log, sink| log.finish(sink));
            }
            // No writer is waited for: a rotated file read to its end is
            // done with, and is not in the state for the next run to look
            // for (and to warn about when logrotate has deleted it).
            let every_grace_over = now + Duration::from_secs(365 * 86_400);
            self.with_lines(now, |log, sink| log.expire(every_grace_over, sink));
        } else {
            self.update_watches();
            if let Some(err) = self.cannot_watch.take() {
                return Err(err);
            }
            // What was appended between opening and watching raised no event.
            self.refresh(now);
            self.notifier.ready(&self.status());
            self.status_shown = Some((self.resolution.missing_dir.clone(), self.input.is_open()));
        }
        Ok(())
    }

    /// Of `signals` (taken during the `--once` scan): the stop signal, if
    /// one came; a child's exit is handled, SIGHUP means nothing there.
    fn take_stop(&mut self, signals: Vec<i32>, now: Instant) -> Option<i32> {
        let mut stop = None;
        for signal in signals {
            match signal {
                SIGCHLD => self.reaction.on_child_exit(now),
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
            && !self.reaction.is_running()
            && self.stopping.is_none()
            && self.pending_stop.is_none()
        {
            let suppressed = self.reaction.report_suppressed();
            match &self.summary {
                Some(summary) => log::info!(
                    "{}; the pattern is {}",
                    summary.report(self.reaction.printed(), suppressed.count, Instant::now()),
                    crate::settings::shown::pattern(&self.config.matcher.pattern)
                ),
                None => self.log_suppressed(suppressed),
            }
            self.save_state_last(Instant::now());
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
        if let Some(kill_at) = self.stopping {
            // Stopping: only the grace and the commands' timeouts matter;
            // the rest is not served any more, and a deadline of its that
            // passed would make the loop spin.
            return [Some(kill_at), self.reaction.deadline()]
                .into_iter()
                .flatten()
                .min();
        }
        let busy = (self.more_to_read || self.pending_stop.is_some()).then_some(now);
        [
            busy,
            self.input.deadline(),
            self.reaction.deadline(),
            self.polling.deadline(),
            self.state.as_ref().and_then(Persist::deadline),
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
                // A stream has nothing to reopen.
                SIGHUP => todo.reload = self.mode == Mode::Follow,
                other => todo.stop = Some(other),
            }
        }
        if wake.watch
            && let Err(err) = self.note_fs_events(&mut todo)
        {
            self.failure = Some(Error::failure(format!("cannot read inotify events: {err}")));
            todo.stop = Some(SIGTERM);
        }
        if let Some(err) = self.cannot_watch.take() {
            self.failure = Some(err);
            todo.stop = Some(SIGTERM);
        }
        todo.refresh |= wake.input;
        if self.polling.due(now) {
            // A look does what an inotify event on the path would.
            todo.refresh = true;
            todo.rewatch = self.watch.is_some();
        }
        if todo.child_exited {
            self.reaction.on_child_exit(now);
        }
        if let Some(signal) = todo.stop {
            if self.stopping.is_some() {
                // Asked twice: no more grace.
                log::warn!("received {} again: stopping now", signal_name(signal));
                self.reaction.kill(now);
                self.save_state_last(now);
                return Some(self.failure.take().map_or(Ok(()), Err));
            }
            if self.failure.is_none() {
                log::info!("received {}: stopping", signal_name(signal));
                if self.mode == Mode::Once {
                    // Not as if it had completed: a script or a timer must
                    // not take a partial scan for a whole one.
                    self.failure = Some(Error::failure(format!(
                        "stopped by {} before --once completed",
                        signal_name(signal)
                    )));
                }
            }
            self.notifier.stopping();
            self.watch = None;
            self.reaction.terminate(now);
            self.stopping = Some(now + SHUTDOWN_KILL_GRACE);
        }
        if let Some(kill_at) = self.stopping {
            if now >= kill_at {
                self.reaction.kill(now);
            }
            if !self.reaction.is_running() {
                let suppressed = self.reaction.report_suppressed();
                self.log_suppressed(suppressed);
                self.save_state_last(now);
                log::info!("stopped");
                return Some(self.failure.take().map_or(Ok(()), Err));
            }
            return None;
        }
        if todo.rewatch {
            self.update_watches();
        }
        if todo.reload {
            self.reload(now);
        } else if todo.refresh || todo.rewatch || self.more_to_read {
            self.refresh(now);
        } else if todo.read_retired {
            self.read_retired(now);
        }
        self.expire(now);
        self.update_status();
        self.reaction.on_deadline(now);
        // A stream has no state file: `state` is `None` with one.
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.as_path()) {
            // Queued commands start as others end, outside any read.
            state.note_progress(log, &self.reaction, now);
            state.on_deadline(&self.config.path, log, &self.reaction, now);
        }
        None
    }

    /// Saves the state now, if there is a state file (written off the
    /// loop: see `saver`).
    fn save_state(&mut self, now: Instant) {
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.as_path()) {
            state.save(&self.config.path, log, &self.reaction, now);
        }
    }

    /// The last save of a run: written before logs2eca exits.
    fn save_state_last(&mut self, now: Instant) {
        self.save_state(now);
        if let Some(state) = &self.state {
            state.flush();
        }
    }

    /// Blocks until a signal, a file system event or input arrives, or
    /// until `deadline`: the one place the daemon waits.
    fn wait(&self, signals: &mut Signals, deadline: Option<Instant>) -> Result<Wake> {
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let watch = self.watch.as_ref().map(Watch::fd);
        let input = self.input.fd();
        let fds: Vec<_> = [Some(signals.fd()), watch, input]
            .into_iter()
            .flatten()
            .collect();
        let ready =
            poll(&fds, timeout).map_err(|err| Error::failure(format!("cannot wait: {err}")))?;
        let mut ready = ready.into_iter();
        let signalled = ready.next().unwrap_or(false);
        let mut wake = Wake {
            signals: Vec::new(),
            watch: watch.is_some() && ready.next().unwrap_or(false),
            input: input.is_some() && ready.next().unwrap_or(false),
        };
        if signalled {
            wake.signals.extend(signals.pending());
        }
        Ok(wake)
    }

    fn note_fs_events(&mut self, todo: &mut Todo) -> io::Result<()> {
        let Some(watch) = self.watch.as_mut() else {
            return Ok(());
        };
        let seen = watch.read()?;
        if seen.overflow {
            log::warn!(
                "inotify queue overflow: looking at {} again",
                self.config.path.display()
            );
        }
        todo.rewatch |= seen.layout || seen.overflow;
        todo.refresh |= seen.path || seen.layout || seen.overflow || seen.more;
        todo.read_retired |= seen.other;
        Ok(())
    }

    /// Hands every new line of the followed files to the matcher.
    fn with_lines<T>(&mut self, now: Instant, read: impl FnOnce(&mut Source, LineSink) -> T) -> T {
        let matcher = &self.config.matcher;
        let reaction = &mut self.reaction;
        let summary = &mut self.summary;
        let result = read(&mut self.input, &mut |block, origin| {
            // Nobody reads a dry run's output any more: skip the work until
            // the loop stops.
            if reaction.output_closed() {
                return;
            }
            let mut matched = 0;
            let excluded = matcher.for_each_match(block, |line| {
                matched += 1;
                reaction.on_match(line, origin.of(block, line), now)
            });
            if let Some(summary) = summary.as_mut() {
                summary.add(block, matched + excluded, excluded);
            }
        });
        reaction.flush();
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.input.as_path()) {
            state.note_progress(log, &self.reaction, now);
        }
        result
    }

    fn refresh(&mut self, now: Instant) {
        // A path swapped faster than we look could keep this going: after
        // a few rounds, signals and timeouts get their turn first.
        for _ in 0..MAX_REFRESH_ROUNDS {
            let refresh = self.with_lines(now, |log, sink| log.refresh(now, sink));
            self.more_to_read = refresh.more;
            if !refresh.replaced {
                return;
            }
            self.save_state(now);
            // The new file may live in a directory we did not watch (a
            // swapped symlink): watch it, then look again, since what was
            // appended before the watch was in place raised no event.
            if !self.update_watches() {
                return;
            }
        }
        self.more_to_read = true;
    }

    fn read_retired(&mut self, now: Instant) {
        if self.input.has_retired() {
            self.with_lines(now, |log, sink| log.read_retired(now, sink));
        }
    }

    fn expire(&mut self, now: Instant) {
        if self.input.deadline().is_some_and(|at| at <= now)
            && self.with_lines(now, |log, sink| log.expire(now, sink))
        {
            self.save_state(now);
            self.update_watches();
        }
    }

    /// SIGHUP: look at the path again. The same, untruncated file keeps its
    /// offset (nothing is read twice); another file is a rotation.
    fn reload(&mut self, now: Instant) {
        log::info!("received SIGHUP: reopening {}", self.config.path.display());
        self.notifier.reloading();
        self.update_watches();
        self.refresh(now);
        self.notifier.ready(&self.status());
        self.status_shown = Some((self.resolution.missing_dir.clone(), self.input.is_open()));
    }

    /// Resolves the path again and watches what decides it, and the
    /// directories of the rotated files still open. Returns whether the
    /// watches changed.
    fn update_watches(&mut self) -> bool {
        if !self.input.is_path() {
            return false;
        }
        let resolution = resolve::resolve(&self.config.path);
        let changed = resolution != self.resolution;
        if changed {
            self.log_waiting(&resolution);
        }
        // A walk stopped by an error (a directory we may not search for a
        // moment) says nothing new: keep watching what we watched.
        let Some(watch) = self.watch.as_mut().filter(|_| resolution.error.is_none()) else {
            self.resolution = resolution;
            return changed;
        };
        let retired_dirs = self.input.retired_dirs();
        let now = Instant::now();
        let mut blind = false;
        for (dir, err) in watch.set(&resolution.names, &retired_dirs) {
            blind = true;
            let why = format!("cannot watch {}: {}", dir.display(), watch::describe(&err));
            if let Err(err) = self.polling.without_inotify(&why, now) {
                self.cannot_watch.get_or_insert(err);
            }
        }
        blind |= self.look_for_remote(resolution.dirs().iter().chain(&retired_dirs), now);
        if !blind {
            // What made us poll (a watch that failed, a remote directory)
            // is over: inotify sees everything again.
            self.polling.inotify_sees_all();
        }
        self.resolution = resolution;
        changed
    }

    /// inotify sees no write made by another host: poll where one may
    /// write (see `poll::Schedule::remote`). Returns whether one of `dirs`
    /// is remote.
    fn look_for_remote<'a>(
        &mut self,
        dirs: impl Iterator<Item = &'a PathBuf>,
        now: Instant,
    ) -> bool {
        let mut remote = false;
        for dir in dirs {
            match fstype::of(dir) {
                Ok(f_type) => {
                    if let Some(fs) = fstype::remote(f_type) {
                        remote = true;
                        self.polling.remote(dir, fs, now);
                    }
                }
                Err(err) => log::debug!("cannot tell the file system of {}: {err}", dir.display()),
            }
        }
        remote
    }

    fn log_waiting(&self, resolution: &Resolution) {
        if let Some(err) = &resolution.error {
            // The follower says the same when it looks at the path.
            log::debug!("{err}");
        } else if let Some(dir) = &resolution.missing_dir {
            log::warn!(
                "the directory {} does not exist: waiting for it",
                dir.display()
            );
        } else if !self.input.is_open() {
            log::warn!(
                "{} does not exist: waiting for it",
                self.config.path.display()
            );
        }
    }

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

    /// Sends `STATUS=` again when what it says has changed (a file that
    /// was waited for appeared, or went away).
    fn update_status(&mut self) {
        if self.status_shown.is_none() || !self.input.is_path() {
            // Not ready yet (the first status goes with READY=1), or a stream.
            return;
        }
        let open = self.input.is_open();
        let now = (&self.resolution.missing_dir, open);
        if self
            .status_shown
            .as_ref()
            .is_some_and(|(dir, was_open)| (dir, *was_open) == now)
        {
            return;
        }
        self.status_shown = Some((self.resolution.missing_dir.clone(), open));
        self.notifier.status(&self.status());
    }

    /// What the service manager shows as our status.
    fn status(&self) -> String {
        match (&self.resolution.missing_dir, self.input.is_open()) {
            (Some(dir), _) => format!("waiting for the directory {}", dir.display()),
            (None, false) => format!("waiting for {}", self.config.path_as_given),
            (None, true) => format!("following {}", self.config.path_as_given),
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

fn cannot_open(config: &Config, err: std::io::Error) -> Error {
    Error::failure(format!("cannot open {}: {err}", config.path_as_given))
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
            "run {} (cooldown {}, timeout {})",
            crate::settings::shown::argv_redacted(&command.argv),
            crate::react::action::seconds(config.wait),
            config
                .timeout
                .map_or("none".into(), crate::react::action::seconds),
        ),
    };
    log::info!(
        "{} {}: on lines matching {}{exclude}, {action}",
        if config.once { "scanning" } else { "following" },
        config.path_as_given,
        crate::settings::shown::pattern(&config.matcher.pattern),
    );
}

#[cfg(test)]
mod tests;
