//! A followed path as a source: the files over time (`rotation`) together
//! with how their changes are seen. inotify on the directories that decide
//! what the path names (`watch`, `resolve`), a look every interval where
//! inotify is not wanted or cannot see (`polling`, `fstype`), and the
//! grace of rotated files are all this source's own: the loop only learns
//! which descriptor to wait on and when to come back.

use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::checkpoint::state::FilesRecord;
use crate::error::{Error, Result};
use crate::input::file::follow::{LineSink, StartAt};
use crate::input::file::fstype;
use crate::input::file::polling::{Poll, Schedule};
use crate::input::file::resolve::{self, Resolution};
use crate::input::file::rotation::LogPath;
use crate::input::file::watch::{self, Watch};
use crate::react::action::seconds;
use crate::report::event::{FileEvent, emit};
use crate::report::status_line::Reading;

/// Looks at the path in one read, at most, while it keeps naming another
/// file.
const MAX_REFRESH_ROUNDS: usize = 3;

/// How a path is opened and watched.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read what is in the file already (else start at its end).
    pub from_beginning: bool,
    /// `--once`: read to the end and stop; nothing to watch, and the file
    /// must be there.
    pub once: bool,
    pub poll: Poll,
}

/// What the next read has to do, gathered from the events and the clock.
#[derive(Debug, Default)]
struct Todo {
    /// Look at the path: identity, truncation, new bytes.
    refresh: bool,
    /// Resolve the path again and set the watches: a directory moved, a
    /// symlink changed.
    rewatch: bool,
    /// Something else changed in a watched directory: maybe a writer of a
    /// rotated file.
    read_retired: bool,
}

pub struct FileSource {
    path: PathBuf,
    /// As the user wrote it, for the status.
    path_as_given: String,
    log: LogPath,
    /// `None` with `--once`, `--poll DURATION`, inotify that could not
    /// start, and once stopping.
    watch: Option<Watch>,
    /// What the path resolved to when the watches were last set.
    resolution: Resolution,
    /// When to look without an inotify event.
    polling: Schedule,
    /// inotify cannot be used and `--poll never` forbids polling instead.
    cannot_watch: Option<Error>,
    /// The last read stopped at its budget: read on without waiting.
    more: bool,
    todo: Todo,
}

impl FileSource {
    /// Opens `path` (where `saved` says we were, if given) and starts
    /// watching for changes the way `options` asks.
    pub fn open(
        path: &Path,
        path_as_given: &str,
        options: &Options,
        saved: Option<&FilesRecord>,
        now: Instant,
    ) -> Result<FileSource> {
        let mut polling = Schedule::new(options.poll, now);
        let watch = if options.once {
            None
        } else if !polling.wants_inotify() {
            if let Poll::Every(every) = options.poll {
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
        let cannot_open =
            |err: io::Error| Error::failure(format!("cannot open {path_as_given}: {err}"));
        let start = if options.from_beginning || options.once {
            StartAt::Beginning
        } else {
            StartAt::End
        };
        if options.once {
            // Nothing to wait for: the file must be there.
            std::fs::metadata(path).map_err(cannot_open)?;
        }
        let log = match saved {
            Some(state) => LogPath::resume(path, state, now),
            None => LogPath::open(path, start),
        }
        .map_err(cannot_open)?;
        Ok(FileSource {
            path: path.to_path_buf(),
            path_as_given: path_as_given.to_owned(),
            log,
            watch,
            resolution: Resolution::default(),
            polling,
            cannot_watch: None,
            more: false,
            todo: Todo::default(),
        })
    }

    /// The path over time, whose positions a state file keeps.
    pub fn log(&self) -> &LogPath {
        &self.log
    }

    /// Sets how much one turn reads, of all the files.
    pub fn set_budget_per_turn(&mut self, budget: u64) {
        self.log.set_budget_per_turn(budget);
    }

    /// Sets the watches and reads what is new since the file was opened
    /// (what was appended before the watches were in place raised no
    /// event). Returns whether the path named another file meanwhile.
    pub fn begin(&mut self, now: Instant, sink: LineSink) -> Result<bool> {
        self.log.start_turn();
        self.update_watches();
        if let Some(err) = self.cannot_watch.take() {
            return Err(err);
        }
        Ok(self.refresh(now, sink))
    }

    /// As if the last read had stopped at its budget.
    #[cfg(test)]
    pub fn pretend_more_to_read(&mut self) {
        self.more = true;
    }

    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.watch.as_ref().map(Watch::fd)
    }

    /// When to come back without an event: at once while a read is
    /// pending, the next look when polling, a rotated file's grace.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        [
            self.more.then_some(now),
            self.log.deadline(),
            self.polling.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes in what happened: inotify's events if `ready`, and a look if
    /// one is due at `now`. An error means the path cannot be followed any
    /// more (inotify failed, or cannot watch and `--poll never`).
    pub fn on_ready(&mut self, ready: bool, now: Instant) -> Option<Error> {
        if ready && let Err(err) = self.note_fs_events() {
            return Some(Error::failure(format!("cannot read inotify events: {err}")));
        }
        if let Some(err) = self.cannot_watch.take() {
            return Some(err);
        }
        if self.polling.due(now) {
            // A look does what an inotify event on the path would.
            self.todo.refresh = true;
            self.todo.rewatch = self.watch.is_some();
        }
        None
    }

    /// Reads what `on_ready` found (or everything, to `reload`), and closes
    /// the rotated files whose grace is over. Returns whether the files
    /// changed (a rotation, a file closed): worth a save at once.
    pub fn read(&mut self, reload: bool, now: Instant, sink: LineSink) -> bool {
        self.log.start_turn();
        let todo = std::mem::take(&mut self.todo);
        let mut changed = false;
        if todo.rewatch {
            self.update_watches();
        }
        if reload {
            self.update_watches();
            changed |= self.refresh(now, sink);
        } else if todo.refresh || todo.rewatch || self.more {
            changed |= self.refresh(now, sink);
        } else if todo.read_retired && self.log.has_retired() {
            self.log.read_retired(now, sink);
        }
        if self.log.deadline().is_some_and(|at| at <= now) && self.log.expire(now, sink) {
            changed = true;
            self.update_watches();
        }
        // One budget for every file of the turn: what is left is read on
        // the next turn, without waiting.
        self.more |= self.log.spent();
        changed
    }

    /// `--once`: reads one budget's worth; whether there is more.
    pub fn read_more(&mut self, now: Instant, sink: LineSink) -> bool {
        self.log.start_turn();
        self.log.refresh(now, sink).more
    }

    /// The end for good (`--once`): a partial last line is a line.
    pub fn finish(&mut self, sink: LineSink) {
        self.log.finish(sink);
    }

    /// Closes the rotated files whose grace is over by `at`, after a last
    /// read (`--once`: all of them, no writer is waited for).
    pub fn close_rotated(&mut self, at: Instant, sink: LineSink) {
        self.log.start_turn();
        self.log.expire(at, sink);
    }

    /// Did the last read stop at its budget?
    pub fn behind(&self) -> bool {
        self.more
    }

    /// Stopping: no more events.
    pub fn stop_watching(&mut self) {
        self.watch = None;
    }

    /// What the service manager shows as our status.
    pub fn status(&self) -> Reading<'_> {
        match (&self.resolution.missing_dir, self.log.offset()) {
            (Some(dir), _) => Reading::Waiting {
                what: format!("the directory {}", dir.display()).into(),
            },
            (None, None) => Reading::Waiting {
                what: self.path_as_given.as_str().into(),
            },
            (None, Some(offset)) => Reading::File {
                path: &self.path_as_given,
                offset,
            },
        }
    }

    fn note_fs_events(&mut self) -> io::Result<()> {
        let Some(watch) = self.watch.as_mut() else {
            return Ok(());
        };
        let seen = watch.read()?;
        if seen.overflow {
            emit!(FileEvent::Overflow {
                path: self.path.clone(),
            });
        }
        self.todo.rewatch |= seen.layout || seen.overflow;
        self.todo.refresh |= seen.path || seen.layout || seen.overflow || seen.more;
        self.todo.read_retired |= seen.other;
        Ok(())
    }

    /// Looks at the path and reads; returns whether it named another file
    /// (then saved at once by the caller).
    fn refresh(&mut self, now: Instant, sink: LineSink) -> bool {
        let mut replaced = false;
        // A path swapped faster than we look could keep this going: after
        // a few rounds, signals and timeouts get their turn first.
        for _ in 0..MAX_REFRESH_ROUNDS {
            let refresh = self.log.refresh(now, sink);
            self.more = refresh.more;
            if !refresh.replaced {
                return replaced;
            }
            replaced = true;
            // The new file may live in a directory we did not watch (a
            // swapped symlink): watch it, then look again, since what was
            // appended before the watch was in place raised no event.
            if !self.update_watches() {
                return replaced;
            }
        }
        self.more = true;
        replaced
    }

    /// Resolves the path again and watches what decides it, and the
    /// directories of the rotated files still open. Returns whether the
    /// watches changed.
    fn update_watches(&mut self) -> bool {
        let resolution = resolve::resolve(&self.path);
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
    /// write (see `polling::Schedule::remote`). Returns whether one of
    /// `dirs` is remote.
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
            emit!(FileEvent::WaitingForDirectory { dir: dir.clone() });
        } else if !self.log.is_open() {
            emit!(FileEvent::Waiting {
                path: self.path.clone(),
            });
        }
    }
}
