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
use std::time::{Instant, SystemTime};

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use crate::action::SHUTDOWN_KILL_GRACE;
use crate::action::seconds;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::follow::{FileId, Origin, Sink, Start};
use crate::fstype;
use crate::journal::{self, Journal};
use crate::persist::{self, Persist};
use crate::poll::{Poll, Schedule};
use crate::reaction::Reaction;
use crate::readiness::Notifier;
use crate::ready::poll;
use crate::resolve::{self, Resolution};
use crate::rotation::LogPath;
use crate::signals::Signals;
use crate::source::Source;
use crate::state::{State, StateFile};
use crate::stream::Stream;
use crate::summary::Summary;
use crate::watch::{self, Watch};

/// Looks at the path in one refresh, at most, while it keeps naming
/// another file.
const MAX_REFRESH_ROUNDS: usize = 3;

/// How much of journalctl's output one turn of the loop reads: signals
/// and timeouts get their turn under a flood.
const JOURNAL_BUDGET: usize = 16 << 20;

/// The identity a journal entry's lines carry (no file has inode 1 on
/// device 0); their offset counts the entries read.
const JOURNAL: FileId = FileId { dev: 0, ino: 1 };

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
    log: Source,
    reaction: Reaction,
    signals: Signals,
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
    let now = Instant::now();
    let mut polling = Schedule::new(config.poll, now);
    let watch = if config.once || config.stdin || config.journal.is_some() {
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
    let log = if let Some(settings) = &config.journal {
        let position = saved.as_ref().and_then(persist::journal_position);
        Source::Journal(
            Journal::open(
                settings.clone(),
                position,
                config.from_beginning,
                config.once,
            )
            .map_err(|err| Error::failure(err.0))?,
        )
    } else if config.stdin {
        Source::Stream(
            Stream::stdin()
                .map_err(|err| Error::failure(format!("cannot read standard input: {err}")))?,
        )
    } else {
        Source::Path(open_path(&config, saved.as_ref(), now)?)
    };
    let mut reaction = Reaction::new(&config);
    if let Some(state) = saved {
        let keys = state.keys.into_iter().map(persist::from_record).collect();
        reaction.import_keys(keys, now, SystemTime::now());
        // What was queued or waiting for a slot had not run: it goes
        // through the gate again, in its order, before anything new.
        if !state.held.is_empty() {
            log::info!(
                "{} match(es) held when the state was saved: handling them again",
                state.held.len()
            );
        }
        // Only lines the settings of this run still let through: the
        // pattern or the exclusion may have changed since.
        let mut dropped = 0;
        for held in &state.held {
            if config.matcher.matches(&held.line) {
                let extra: Vec<(&'static str, Vec<u8>)> = held
                    .fields
                    .iter()
                    .filter_map(|f| Some((journal::known_variable(&f.name)?, f.value.clone())))
                    .collect();
                reaction.on_restored(&held.line, held.trigger, &extra, now);
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
    let mut daemon = Daemon {
        log,
        reaction,
        signals,
        watch,
        resolution: Resolution::default(),
        polling,
        cannot_watch: None,
        notifier: Notifier::from_env(),
        more_to_read: false,
        state: state_file
            .map(Persist::new)
            .transpose()
            .map_err(|err| Error::failure(format!("cannot start the state writer: {err}")))?,
        summary: (config.once && config.command.is_none()).then(|| Summary::new(now)),
        config,
    };
    if daemon.config.once {
        while daemon.read(now) && !daemon.reaction.output_closed() {}
        // As grep does, a last line without its newline is still a line;
        // unless a state file keeps it for the next run to complete.
        if daemon.state.is_none() {
            daemon.with_lines(now, |log, sink| log.finish(sink));
        }
    } else {
        daemon.update_watches();
        if let Some(err) = daemon.cannot_watch.take() {
            return Err(err);
        }
        // What was appended between opening and watching raised no event.
        daemon.refresh(now);
        daemon.notifier.ready(&daemon.status());
    }
    daemon.run()
}

/// Opens the followed path at start (a missing one is waited for), where
/// the saved state says we were if there is one.
fn open_path(config: &Config, saved: Option<&State>, now: Instant) -> Result<LogPath> {
    let start = if config.from_beginning || config.once {
        Start::Beginning
    } else {
        Start::End
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

impl Daemon {
    fn run(&mut self) -> Result<()> {
        let mut stop_at: Option<Instant> = None;
        let mut failure: Option<Error> = None;
        loop {
            if self.reaction.output_closed() {
                log::debug!("standard output is closed: stopping");
                self.save_state_last(Instant::now());
                return Ok(());
            }
            if (self.config.once || self.log.ended()) && !self.reaction.is_running() {
                self.reaction.report_suppressed();
                if let Some(summary) = &self.summary {
                    log::info!(
                        "{}",
                        summary.report(self.reaction.printed(), Instant::now())
                    );
                }
                self.save_state_last(Instant::now());
                return match self.log.error() {
                    Some(why) => Err(Error::failure(why)),
                    None => Ok(()),
                };
            }
            let deadline = if stop_at.is_some() {
                // Stopping: only the grace and the commands' timeouts
                // matter; the rest is not served any more, and a deadline
                // of its that passed would make this loop spin.
                [stop_at, self.reaction.deadline()]
                    .into_iter()
                    .flatten()
                    .min()
            } else {
                let busy = self.more_to_read.then(Instant::now);
                [
                    busy,
                    self.log.deadline(),
                    self.reaction.deadline(),
                    self.polling.deadline(),
                    self.state.as_ref().and_then(Persist::deadline),
                ]
                .into_iter()
                .flatten()
                .min()
            };
            let (signalled, watched, input) = self.wait(deadline)?;
            let mut todo = Todo::default();
            if signalled {
                for signal in self.signals.pending() {
                    match signal {
                        SIGCHLD => todo.child_exited = true,
                        // A stream has nothing to reopen.
                        SIGHUP => todo.reload = !self.config.once && self.log.is_path(),
                        other => todo.stop = Some(other),
                    }
                }
            }
            if watched && let Err(err) = self.note_fs_events(&mut todo) {
                failure = Some(Error::failure(format!("cannot read inotify events: {err}")));
                todo.stop = Some(SIGTERM);
            }
            if let Some(err) = self.cannot_watch.take() {
                failure = Some(err);
                todo.stop = Some(SIGTERM);
            }
            todo.refresh |= input;
            let now = Instant::now();
            if self.polling.due(now) {
                // A look does what an inotify event on the path would.
                todo.refresh = true;
                todo.rewatch = self.watch.is_some();
            }
            if todo.child_exited {
                self.reaction.on_child_exit(now);
            }
            if let Some(signal) = todo.stop {
                if stop_at.is_some() {
                    // Asked twice: no more grace.
                    log::warn!("received {} again: stopping now", signal_name(signal));
                    self.reaction.kill(now);
                    self.save_state_last(now);
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
                    self.save_state_last(now);
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
            // A stream has no state file: `state` is `None` with one.
            if let (Some(state), Some(log)) = (self.state.as_mut(), self.log.checkpoint()) {
                // Queued commands start as others end, outside any read.
                state.note_progress(log, &self.reaction, now);
                state.on_deadline(&self.config.path, log, &self.reaction, now);
            }
        }
    }

    /// Saves the state now, if there is a state file (written off the
    /// loop: see `saver`).
    fn save_state(&mut self, now: Instant) {
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.log.checkpoint()) {
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
    /// until `deadline`. Returns which of the three is ready.
    fn wait(&self, deadline: Option<Instant>) -> Result<(bool, bool, bool)> {
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let watch = self.watch.as_ref().map(Watch::fd);
        let input = self.log.fd();
        let fds: Vec<_> = [Some(self.signals.fd()), watch, input]
            .into_iter()
            .flatten()
            .collect();
        let ready =
            poll(&fds, timeout).map_err(|err| Error::failure(format!("cannot wait: {err}")))?;
        let mut ready = ready.into_iter();
        let signalled = ready.next().unwrap_or(false);
        let watched = watch.is_some() && ready.next().unwrap_or(false);
        let input = input.is_some() && ready.next().unwrap_or(false);
        Ok((signalled, watched, input))
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
    fn with_lines<T>(&mut self, now: Instant, read: impl FnOnce(&mut Source, Sink) -> T) -> T {
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
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.log.checkpoint()) {
            state.note_progress(log, &self.reaction, now);
        }
        result
    }

    /// Reads what is new (to the end of `--once`, a part of it at a
    /// time); whether there is more to read at once.
    fn read(&mut self, now: Instant) -> bool {
        match self.log {
            Source::Journal(_) => self.read_journal(now),
            _ => self.with_lines(now, |log, sink| log.refresh(now, sink).more),
        }
    }

    /// Hands each new journal entry's message to the matcher; a match
    /// takes the entry's fields along to the command.
    fn read_journal(&mut self, now: Instant) -> bool {
        let Source::Journal(journal) = &mut self.log else {
            return false;
        };
        let matcher = &self.config.matcher;
        let reaction = &mut self.reaction;
        let summary = &mut self.summary;
        let mut offset = journal.progress();
        let more = journal.read(now, JOURNAL_BUDGET, &mut |message, entry| {
            offset += 1;
            if reaction.output_closed() {
                return;
            }
            let origin = Origin {
                file: JOURNAL,
                offset,
            };
            let mut extra = None;
            let mut matched = 0;
            let excluded = matcher.for_each_match(message, |line| {
                matched += 1;
                let extra = extra.get_or_insert_with(|| journal::command_env(entry));
                reaction.on_entry_match(line, origin, extra, now);
            });
            if let Some(summary) = summary.as_mut() {
                summary.add_entry(message, matched + excluded, excluded);
            }
        });
        reaction.flush();
        if let (Some(state), Some(log)) = (self.state.as_mut(), self.log.checkpoint()) {
            state.note_progress(log, &self.reaction, now);
        }
        more
    }

    fn refresh(&mut self, now: Instant) {
        if let Source::Journal(_) = self.log {
            self.more_to_read = self.read_journal(now);
            return;
        }
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
        if self.log.has_retired() {
            self.with_lines(now, |log, sink| log.read_retired(now, sink));
        }
    }

    fn expire(&mut self, now: Instant) {
        if let Source::Journal(_) = self.log {
            // Due: journalctl is started again, and read.
            if self.log.deadline().is_some_and(|at| at <= now) {
                self.more_to_read = self.read_journal(now);
            }
            return;
        }
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
        if !self.log.is_path() {
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
        let retired_dirs = self.log.retired_dirs();
        let now = Instant::now();
        for (dir, err) in watch.set(&resolution.names, &retired_dirs) {
            let why = format!("cannot watch {}: {}", dir.display(), watch::describe(&err));
            if let Err(err) = self.polling.without_inotify(&why, now) {
                self.cannot_watch.get_or_insert(err);
            }
        }
        if !self.polling.is_polling() {
            self.look_for_remote(resolution.dirs().iter().chain(&retired_dirs), now);
        }
        self.resolution = resolution;
        changed
    }

    /// inotify sees no write made by another host: poll where one may
    /// write (see `poll::Schedule::remote`).
    fn look_for_remote<'a>(&mut self, dirs: impl Iterator<Item = &'a PathBuf>, now: Instant) {
        for dir in dirs {
            match fstype::of(dir) {
                Ok(f_type) => {
                    if let Some(fs) = fstype::remote(f_type) {
                        self.polling.remote(dir, fs, now);
                    }
                }
                Err(err) => log::debug!("cannot tell the file system of {}: {err}", dir.display()),
            }
        }
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
        if let Source::Journal(journal) = &self.log {
            return journal.status();
        }
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
        config.source_name(),
        config.matcher.pattern.source(),
    );
}
