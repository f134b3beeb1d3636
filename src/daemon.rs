//! The event loop. It waits in poll(2) on two descriptors, the inotify
//! queue and the signal pipe, with a timeout only for the deadlines the
//! state asks for (a command's timeout, the end of a cooldown with
//! suppressed matches, a rotated file's grace, a poll interval when inotify
//! cannot be used). With none of those pending an idle daemon does not wake
//! up at all.
//!
//! Nothing but these events can make the loop wait: no thread and no
//! queue of our own stand between the kernel and the loop, so nothing can
//! grow without bound. Everything that is ready is folded into one set of
//! things to do, so a burst of writes costs one read, not one per event.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime};

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use crate::action::SHUTDOWN_KILL_GRACE;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::follow::{Sink, Start};
use crate::persist::{self, Persist};
use crate::reaction::Reaction;
use crate::readiness::Notifier;
use crate::resolve::{self, Resolution};
use crate::rotation::LogPath;
use crate::signals::Signals;
use crate::state::{State, StateFile};
use crate::summary::Summary;
use crate::watch::{self, Watch};

/// How often the path is looked at when inotify cannot watch it.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

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

struct Daemon {
    config: Config,
    log: LogPath,
    reaction: Reaction,
    signals: Signals,
    /// `None` with `--once`, and once stopping.
    watch: Option<Watch>,
    /// What the path resolved to when the watches were last set.
    resolution: Resolution,
    /// Set when inotify cannot watch what we need: look every interval.
    poll_every: Option<Duration>,
    next_poll: Option<Instant>,
    notifier: Notifier,
    /// The last read stopped at its budget: read on without waiting.
    more_to_read: bool,
    /// The state file, held locked for as long as we run.
    state: Option<Persist>,
    /// `--once --dry-run`: the counts its report ends with.
    summary: Option<Summary>,
}

/// Runs until stopped by a signal (or, with `--once`, the end of the file).
pub fn run(config: Config) -> Result<()> {
    // Before the summary: a daemon that cannot start says only why.
    let (state_file, saved) = open_state(&config)?;
    log_summary(&config);
    let signals = Signals::new()
        .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    let watch = if config.once {
        None
    } else {
        let watch = Watch::new().map_err(|err| {
            Error::failure(format!("cannot start inotify: {}", watch::describe(&err)))
        })?;
        Some(watch)
    };
    let start = if config.from_beginning || config.once {
        Start::Beginning
    } else {
        Start::End
    };
    if config.once {
        // Nothing to wait for: the file must be there.
        std::fs::metadata(&config.path).map_err(|err| cannot_open(&config, err))?;
    }
    let now = Instant::now();
    let log = match &saved {
        Some(state) => LogPath::resume(&config.path, state, now),
        None => LogPath::open(&config.path, start),
    };
    let mut reaction = Reaction::new(&config);
    if let Some(state) = saved {
        let keys = state.keys.into_iter().map(persist::from_record).collect();
        reaction.import_keys(keys, now, SystemTime::now());
    }
    let mut daemon = Daemon {
        log: log.map_err(|err| cannot_open(&config, err))?,
        reaction,
        signals,
        watch,
        resolution: Resolution::default(),
        poll_every: None,
        next_poll: None,
        notifier: Notifier::from_env(),
        more_to_read: false,
        state: state_file.map(Persist::new),
        summary: (config.once && config.command.is_none()).then(|| Summary::new(now)),
        config,
    };
    if daemon.config.once {
        while daemon.with_lines(now, |log, sink| log.refresh(now, sink).more)
            && !daemon.reaction.output_closed()
        {}
        // As grep does, a last line without its newline is still a line;
        // unless a state file keeps it for the next run to complete.
        if daemon.state.is_none() {
            daemon.with_lines(now, |log, sink| log.finish(sink));
        }
    } else {
        daemon.update_watches();
        // What was appended between opening and watching raised no event.
        daemon.refresh(now);
        daemon.notifier.ready(&daemon.status());
    }
    daemon.run()
}

impl Daemon {
    fn run(&mut self) -> Result<()> {
        let mut stop_at: Option<Instant> = None;
        let mut failure: Option<Error> = None;
        loop {
            if self.reaction.output_closed() {
                log::debug!("standard output is closed: stopping");
                self.save_state(Instant::now());
                return Ok(());
            }
            if self.config.once && !self.reaction.is_running() {
                self.reaction.report_suppressed();
                if let Some(summary) = &self.summary {
                    log::info!(
                        "{}",
                        summary.report(self.reaction.printed(), Instant::now())
                    );
                }
                self.save_state(Instant::now());
                return Ok(());
            }
            let busy = self.more_to_read.then(Instant::now);
            let deadline = [
                busy,
                self.log.deadline(),
                self.reaction.deadline(),
                stop_at,
                self.next_poll,
                self.state.as_ref().and_then(Persist::deadline),
            ]
            .into_iter()
            .flatten()
            .min();
            let (signalled, watched) = self.wait(deadline)?;
            let mut todo = Todo::default();
            if signalled {
                for signal in self.signals.pending() {
                    match signal {
                        SIGCHLD => todo.child_exited = true,
                        SIGHUP => todo.reload = !self.config.once,
                        other => todo.stop = Some(other),
                    }
                }
            }
            if watched && let Err(err) = self.note_fs_events(&mut todo) {
                failure = Some(Error::failure(format!("cannot read inotify events: {err}")));
                todo.stop = Some(SIGTERM);
            }
            let now = Instant::now();
            if self.next_poll.is_some_and(|at| at <= now) {
                todo.refresh = true;
                todo.rewatch = self.watch.is_some();
                self.next_poll = self.poll_every.map(|every| now + every);
            }
            if todo.child_exited {
                self.reaction.on_child_exit(now);
            }
            if let Some(signal) = todo.stop {
                if stop_at.is_some() {
                    // Asked twice: no more grace.
                    log::warn!("received {} again: stopping now", signal_name(signal));
                    self.reaction.kill(now);
                    return failure.map_or(Ok(()), Err);
                }
                if failure.is_none() {
                    log::info!("received {}: stopping", signal_name(signal));
                }
                self.notifier.stopping();
                self.watch = None;
                self.reaction.terminate(now);
                stop_at = Some(now + SHUTDOWN_KILL_GRACE);
            }
            if let Some(at) = stop_at {
                if now >= at {
                    self.reaction.kill(now);
                }
                if !self.reaction.is_running() {
                    self.reaction.report_suppressed();
                    self.save_state(now);
                    log::info!("stopped");
                    return failure.map_or(Ok(()), Err);
                }
                continue;
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
            self.reaction.on_deadline(now);
            if let Some(state) = self.state.as_mut() {
                // Queued commands start as others end, outside any read.
                state.note_progress(&self.config.path, &self.log, &self.reaction, now);
                state.on_deadline(&self.config.path, &self.log, &self.reaction, now);
            }
        }
    }

    /// Saves the state now, if there is a state file.
    fn save_state(&mut self, now: Instant) {
        if let Some(state) = self.state.as_mut() {
            state.save(&self.config.path, &self.log, &self.reaction, now);
        }
    }

    /// Blocks until a signal or a file system event arrives, or until
    /// `deadline`. Returns which of the two is ready.
    fn wait(&self, deadline: Option<Instant>) -> Result<(bool, bool)> {
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let mut fds = vec![self.signals.fd()];
        fds.extend(self.watch.as_ref().map(Watch::fd));
        let ready =
            poll(&fds, timeout).map_err(|err| Error::failure(format!("cannot wait: {err}")))?;
        Ok((ready[0], ready.get(1).copied().unwrap_or(false)))
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
    fn with_lines<T>(&mut self, now: Instant, read: impl FnOnce(&mut LogPath, Sink) -> T) -> T {
        let matcher = &self.config.matcher;
        let reaction = &mut self.reaction;
        let summary = &mut self.summary;
        let result = read(&mut self.log, &mut |block, origin| {
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
        if let Some(state) = self.state.as_mut() {
            state.note_progress(&self.config.path, &self.log, &self.reaction, now);
        }
        result
    }

    fn refresh(&mut self, now: Instant) {
        loop {
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
    }

    fn read_retired(&mut self, now: Instant) {
        if self.log.has_retired() {
            self.with_lines(now, |log, sink| log.read_retired(now, sink));
        }
    }

    fn expire(&mut self, now: Instant) {
        if self.log.deadline().is_some_and(|at| at <= now)
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
    }

    /// Resolves the path again and watches what decides it, and the
    /// directories of the rotated files still open. Returns whether the
    /// watches changed.
    fn update_watches(&mut self) -> bool {
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
        for (dir, err) in watch.set(&resolution.names, &self.log.retired_dirs()) {
            if self.poll_every.is_none() {
                log::warn!(
                    "cannot watch {}: {}; looking for changes every {}s instead",
                    dir.display(),
                    watch::describe(&err),
                    FALLBACK_POLL.as_secs()
                );
                self.poll_every = Some(FALLBACK_POLL);
                self.next_poll = Some(Instant::now() + FALLBACK_POLL);
            }
        }
        self.resolution = resolution;
        changed
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
        } else if !self.log.is_open() {
            log::warn!(
                "{} does not exist: waiting for it",
                self.config.path.display()
            );
        }
    }

    /// What the service manager shows as our status.
    fn status(&self) -> String {
        match (&self.resolution.missing_dir, self.log.is_open()) {
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

/// poll(2) on `fds` for reading; which of them are ready. A signal that
/// interrupts the wait is delivered through the signal pipe.
fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up, so that a deadline is never woken up for too early.
    let millis = timeout.map_or(-1, |t| {
        let ms = t.as_nanos().div_ceil(1_000_000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    });
    // SAFETY: `pollfds` is a valid array of `pollfd` of the length passed,
    // and its descriptors are borrowed for the duration of the call.
    let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, millis) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(pollfds.iter().map(|p| p.revents != 0).collect())
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
            log::warn!(
                "the state in {} is for {}, not {}: starting without it",
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
        .map(|x| format!(" but not {}", x.source()))
        .unwrap_or_default();
    let action = match &config.command {
        None => "print them (dry run)".to_owned(),
        Some(command) => format!(
            "run {:?} (cooldown {}, timeout {})",
            command.argv.join(" "),
            crate::action::seconds(config.wait),
            config.timeout.map_or("none".into(), crate::action::seconds),
        ),
    };
    log::info!(
        "{} {}: on lines matching {}{exclude}, {action}",
        if config.once { "scanning" } else { "following" },
        config.path_as_given,
        config.matcher.pattern.source(),
    );
}
