//! The event loop. One channel carries everything that can happen: file
//! system events from the watcher thread and signals from the signal
//! thread; the only timers are the deadlines the state asks for (a command's
//! timeout, the end of a cooldown with suppressed matches, a rotated file's
//! grace). With none of those pending the loop blocks in `recv`: an idle
//! daemon does not wake up at all.
//!
//! Events are taken in batches: everything queued is folded into one set of
//! things to do, so a burst of writes costs one read, not one per event.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::action::SHUTDOWN_KILL_GRACE;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::follow::Start;
use crate::reaction::Reaction;
use crate::readiness::Notifier;
use crate::rotation::LogPath;
use crate::watch::{self, FsEvent, Watch};

enum Event {
    Fs(FsEvent),
    Signal(i32),
}

/// What one batch of events asks for.
#[derive(Default)]
struct Todo {
    /// Look at the path: identity, truncation, new bytes.
    refresh: bool,
    /// Something else changed in a watched directory: maybe a writer of a
    /// rotated file.
    read_retired: bool,
    reload: bool,
    child_exited: bool,
    stop: Option<i32>,
    fatal: Option<String>,
}

struct Daemon {
    config: Config,
    log: LogPath,
    reaction: Reaction,
    /// `None` with `--once`, and once stopping.
    watch: Option<Watch>,
    /// The names whose events concern us: the path and its symlink target,
    /// spelled as the watcher reports them.
    watched_names: Vec<PathBuf>,
    notifier: Notifier,
    /// The last read stopped at its budget: read on without waiting.
    more_to_read: bool,
}

/// Runs until stopped by a signal (or, with `--once`, the end of the file).
pub fn run(config: Config) -> Result<()> {
    log_summary(&config);
    let (tx, rx) = mpsc::channel();
    forward_signals(tx.clone())?;
    // The watch goes in before the file is opened: whatever is appended
    // after the start offset is fixed is seen by an event or the first read.
    let watch = if config.once {
        None
    } else {
        let mut watch = Watch::new(move |event| {
            let _ = tx.send(Event::Fs(event));
        })?;
        watch.set_dirs(watch::dirs_for(&watch::watched_name(&config.path), None))?;
        Some(watch)
    };
    let start = if config.from_beginning {
        Start::Beginning
    } else {
        Start::End
    };
    if config.once {
        // Nothing to wait for: the file must be there.
        std::fs::metadata(&config.path).map_err(|err| cannot_open(&config, err))?;
    }
    let log = LogPath::open(&config.path, start).map_err(|err| cannot_open(&config, err))?;
    let mut daemon = Daemon {
        log,
        reaction: Reaction::new(&config),
        watch,
        watched_names: Vec::new(),
        notifier: Notifier::from_env(),
        more_to_read: false,
        config,
    };
    let now = Instant::now();
    if daemon.config.once {
        daemon.with_lines(now, |log, sink| {
            while log.refresh(now, sink).more {}
            // As grep does, a last line without its newline is still a line.
            log.finish(sink);
        });
    } else {
        daemon.update_watches()?;
        daemon.notifier.ready();
        daemon.refresh(now);
    }
    daemon.run(&rx)
}

impl Daemon {
    fn run(&mut self, rx: &Receiver<Event>) -> Result<()> {
        let mut stop_at: Option<Instant> = None;
        loop {
            if self.config.once && !self.reaction.is_running() {
                self.reaction.report_suppressed();
                return Ok(());
            }
            let busy = self.more_to_read.then(Instant::now);
            let deadline = [busy, self.log.deadline(), self.reaction.deadline(), stop_at]
                .into_iter()
                .flatten()
                .min();
            let first = match deadline {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            let mut todo = Todo::default();
            match first {
                Ok(event) => self.note(event, &mut todo),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::failure("the watcher and signal threads are gone"));
                }
            }
            for event in rx.try_iter() {
                self.note(event, &mut todo);
            }
            let now = Instant::now();
            if let Some(reason) = todo.fatal {
                return Err(Error::failure(reason));
            }
            if todo.child_exited {
                self.reaction.on_child_exit(now);
            }
            if let (Some(signal), None) = (todo.stop, stop_at) {
                log::info!("received {}: stopping", signal_name(signal));
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
                    log::info!("stopped");
                    return Ok(());
                }
                continue;
            }
            if todo.reload {
                self.reload(now);
            } else if todo.refresh || self.more_to_read {
                self.refresh(now);
            } else if todo.read_retired {
                self.read_retired(now);
            }
            self.expire(now);
            self.reaction.on_deadline(now);
        }
    }

    /// Folds one event into the batch's to-do list.
    fn note(&self, event: Event, todo: &mut Todo) {
        match event {
            Event::Signal(SIGCHLD) => todo.child_exited = true,
            Event::Signal(SIGHUP) => todo.reload = !self.config.once,
            Event::Signal(signal) => todo.stop = Some(signal),
            Event::Fs(FsEvent::Rescan(why)) => {
                log::warn!("{why}: looking at {} again", self.config.path.display());
                todo.refresh = true;
            }
            Event::Fs(FsEvent::Changed { paths, removed }) => {
                let dir = self.watched_names.first().and_then(|name| name.parent());
                if removed && let Some(dir) = dir.filter(|d| paths.iter().any(|p| p == d)) {
                    todo.fatal = Some(format!("the directory {} was removed", dir.display()));
                } else if paths.is_empty() || paths.iter().any(|p| self.watched_names.contains(p)) {
                    todo.refresh = true;
                } else {
                    todo.read_retired = true;
                }
            }
        }
    }

    /// Hands every new line of the followed files to the matcher.
    fn with_lines<T>(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut LogPath, &mut dyn FnMut(&[u8])) -> T,
    ) -> T {
        let matcher = &self.config.matcher;
        let reaction = &mut self.reaction;
        let result = read(&mut self.log, &mut |block| {
            matcher.for_each_match(block, |line| reaction.on_match(line, now))
        });
        reaction.flush();
        result
    }

    fn refresh(&mut self, now: Instant) {
        loop {
            let refresh = self.with_lines(now, |log, sink| log.refresh(now, sink));
            self.more_to_read = refresh.more;
            if !refresh.replaced {
                return;
            }
            // The new file may live in a directory we did not watch (a
            // swapped symlink): watch it, then look again, since what was
            // appended before the watch was in place raised no event.
            if let Err(err) = self.update_watches() {
                log::warn!("{err}");
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
            && let Err(err) = self.update_watches()
        {
            log::warn!("{err}");
        }
    }

    /// SIGHUP: look at the path again. The same, untruncated file keeps its
    /// offset (nothing is read twice); another file is a rotation.
    fn reload(&mut self, now: Instant) {
        log::info!("received SIGHUP: reopening {}", self.config.path.display());
        self.notifier.reloading();
        self.refresh(now);
        self.notifier.ready();
    }

    /// Watches the path's directory, a symlink target's, and those of the
    /// rotated files still open.
    fn update_watches(&mut self) -> Result<()> {
        let name = watch::watched_name(&self.config.path);
        let target = self.log.target();
        let mut dirs = watch::dirs_for(&name, target.as_deref());
        for dir in self.log.retired_dirs() {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
        self.watched_names = std::iter::once(name).chain(target).collect();
        if let Some(watch) = self.watch.as_mut() {
            watch.set_dirs(dirs)?;
        }
        Ok(())
    }
}

fn forward_signals(tx: Sender<Event>) -> Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGCHLD])
        .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(Event::Signal(signal)).is_err() {
                    return;
                }
            }
        })
        .map_err(|err| Error::failure(format!("cannot start the signal thread: {err}")))?;
    Ok(())
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
