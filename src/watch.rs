//! inotify on the directories that hold the followed path.
//!
//! Watching the directory rather than the file is what lets us see a file
//! appear, be renamed away, deleted or replaced. A symlinked path needs two
//! directories: the link's (a swap of the link) and the target's (appends to
//! the target). No debouncer: an event reaches the loop as soon as the
//! kernel reports it, and nothing wakes up while nothing happens.

use std::path::{Path, PathBuf};

use notify::{Config, EventKind, INotifyWatcher, RecursiveMode, Watcher};

use crate::error::{Error, Result};

/// What the watcher reports, reduced to what the loop needs.
#[derive(Debug)]
pub enum FsEvent {
    /// Something happened to these paths.
    Changed { paths: Vec<PathBuf>, removed: bool },
    /// Events were lost (queue overflow) or the watcher failed: look again.
    Rescan(String),
}

pub struct Watch {
    watcher: INotifyWatcher,
    dirs: Vec<PathBuf>,
}

impl Watch {
    pub fn new(send: impl Fn(FsEvent) + Send + 'static) -> Result<Self> {
        let handler = move |event: notify::Result<notify::Event>| {
            send(match event {
                Ok(event) if event.need_rescan() => {
                    FsEvent::Rescan("inotify queue overflow".into())
                }
                Ok(event) => FsEvent::Changed {
                    removed: matches!(event.kind, EventKind::Remove(_)),
                    paths: event.paths,
                },
                Err(err) => FsEvent::Rescan(err.to_string()),
            })
        };
        let watcher = INotifyWatcher::new(handler, Config::default())
            .map_err(|err| Error::failure(format!("cannot start inotify: {}", describe(&err))))?;
        Ok(Watch {
            watcher,
            dirs: Vec::new(),
        })
    }

    /// Watches exactly `dirs`, adding and removing watches as needed.
    pub fn set_dirs(&mut self, dirs: Vec<PathBuf>) -> Result<()> {
        for dir in dirs.iter().filter(|d| !self.dirs.contains(d)) {
            self.watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|err| {
                    Error::failure(format!(
                        "cannot watch {}: {}",
                        dir.display(),
                        describe(&err)
                    ))
                })?;
            log::debug!("watching directory {}", dir.display());
        }
        for dir in self.dirs.iter().filter(|d| !dirs.contains(d)) {
            // The directory may be gone already; nothing to undo then.
            let _ = self.watcher.unwatch(dir);
            log::debug!("no longer watching directory {}", dir.display());
        }
        self.dirs = dirs;
        Ok(())
    }
}

/// `path` (absolute) with its directory resolved, as the watcher will
/// report it: two spellings of one directory would share one inotify watch.
pub fn watched_name(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(name),
        _ => path.to_path_buf(),
    }
}

/// The directories to watch for `path` (absolute): its own, and its
/// target's when it is a symlink into another directory.
pub fn dirs_for(path: &Path, target: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path.parent().into_iter().map(Path::to_path_buf).collect();
    if let Some(dir) = target.and_then(Path::parent)
        && !dirs.iter().any(|d| d == dir)
    {
        dirs.push(dir.to_path_buf());
    }
    dirs
}

/// A watch error in the words an operator needs, with the knob to turn.
fn describe(err: &notify::Error) -> String {
    use notify::ErrorKind;
    match &err.kind {
        ErrorKind::PathNotFound => "directory does not exist".into(),
        ErrorKind::MaxFilesWatch => {
            "inotify watch limit reached (raise the sysctl fs.inotify.max_user_watches)".into()
        }
        ErrorKind::Io(io) if io.raw_os_error() == Some(libc::EMFILE) => {
            "too many inotify instances (raise the sysctl fs.inotify.max_user_instances)".into()
        }
        ErrorKind::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            "inotify watch limit reached (raise the sysctl fs.inotify.max_user_watches)".into()
        }
        ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "directory does not exist".into()
        }
        ErrorKind::Io(io) => io.to_string(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_into_another_directory_adds_that_directory() {
        let link = Path::new("/var/log/app.log");
        assert_eq!(dirs_for(link, None), [Path::new("/var/log")]);
        assert_eq!(
            dirs_for(link, Some(Path::new("/var/log/app.log"))),
            [Path::new("/var/log")]
        );
        assert_eq!(
            dirs_for(link, Some(Path::new("/srv/app/current.log"))),
            [Path::new("/var/log"), Path::new("/srv/app")]
        );
    }
}
