//! inotify on the directories that decide what the followed path names
//! (see `resolve`), read by the loop itself.
//!
//! Directories are known by their watch descriptor, which the kernel ties to
//! the directory itself, not to its path: a directory renamed away reports
//! that it moved (`IN_MOVE_SELF`), and is never mistaken for the one created
//! at its old path. Watching the directory rather than the file is what
//! lets us see a file appear, be renamed away, deleted or replaced.
//!
//! The loop reads the events when poll(2) says there are some: no thread and
//! no queue of our own between the kernel and the loop. The kernel's queue is
//! the bound on events in flight, and its overflow is a rescan, so a flood
//! of events in the directory costs no memory. No debouncing either: an
//! event reaches the loop as soon as the kernel reports it, and nothing
//! wakes up while nothing happens.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use crate::input::file::resolve::Name;

/// Buffer for one read of events; about 1,000 events of short names.
const BUFFER: usize = 32 << 10;

/// Reads per call: a flood of events must not keep the loop from its
/// other work. What is left is read at the next turn.
const MAX_READS: usize = 8;

/// What a batch of events asks the loop to do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// One of the names that decide the path changed: look at the path.
    pub path: bool,
    /// One of those names was created, moved or deleted, or a watched
    /// directory moved, was deleted or lost its watch: resolve the path
    /// again.
    pub layout: bool,
    /// Something else changed in a watched directory: maybe a writer of a
    /// rotated file.
    pub other: bool,
    /// The kernel's queue overflowed: events were lost.
    pub overflow: bool,
    /// The read stopped at its bound with events left.
    pub more: bool,
}

pub struct Watch {
    inotify: Inotify,
    dirs: Vec<(PathBuf, WatchDescriptor)>,
    names: Vec<(WatchDescriptor, OsString)>,
    buffer: Box<[u8]>,
}

impl Watch {
    pub fn new() -> io::Result<Self> {
        Ok(Watch {
            inotify: Inotify::init()?,
            dirs: Vec::new(),
            names: Vec::new(),
            buffer: vec![0; BUFFER].into_boxed_slice(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Watches exactly the directories of `names` and `extra_dirs`, and
    /// reports changes of `names` as changes of the path. Returns the
    /// directories that could not be watched, with why.
    pub fn set(&mut self, names: &[Name], extra_dirs: &[PathBuf]) -> Vec<(PathBuf, io::Error)> {
        let mask = WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::MODIFY
            | WatchMask::ATTRIB
            | WatchMask::MOVE_SELF
            | WatchMask::DELETE_SELF
            | WatchMask::ONLYDIR
            | WatchMask::DONT_FOLLOW;
        let wanted = names.iter().map(|n| &n.dir).chain(extra_dirs);
        let mut dirs: Vec<(PathBuf, WatchDescriptor)> = Vec::new();
        let mut failed = Vec::new();
        for dir in wanted {
            if dirs.iter().any(|(d, _)| d == dir) {
                continue;
            }
            // Adding a directory already watched (under this or another
            // path) gives back its descriptor: one directory, one watch.
            match self.inotify.watches().add(dir, mask) {
                Ok(wd) => dirs.push((dir.clone(), wd)),
                Err(err) => failed.push((dir.clone(), err)),
            }
        }
        for (dir, wd) in &self.dirs {
            if !dirs.iter().any(|(_, w)| w == wd) {
                // The directory may be gone already; nothing to undo then.
                let _ = self.inotify.watches().remove(wd.clone());
                log::debug!("no longer watching directory {}", dir.display());
            }
        }
        for (dir, wd) in &dirs {
            if !self.dirs.iter().any(|(_, w)| w == wd) {
                log::debug!("watching directory {}", dir.display());
            }
        }
        self.names = names
            .iter()
            .filter_map(|n| {
                let (_, wd) = dirs.iter().find(|(d, _)| *d == n.dir)?;
                Some((wd.clone(), n.name.clone()))
            })
            .collect();
        self.dirs = dirs;
        failed
    }

    /// Reads the events the kernel has queued, without blocking.
    pub fn read(&mut self) -> io::Result<Seen> {
        let mut seen = Seen::default();
        for _ in 0..MAX_READS {
            let events = match self.inotify.read_events(&mut self.buffer) {
                Ok(events) => events,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(seen),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            for event in events {
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    seen.overflow = true;
                } else if event.mask.intersects(
                    EventMask::MOVE_SELF
                        | EventMask::DELETE_SELF
                        | EventMask::IGNORED
                        | EventMask::UNMOUNT,
                ) {
                    if event.mask.contains(EventMask::IGNORED) {
                        // The kernel dropped this watch: nothing to remove.
                        self.dirs.retain(|(_, wd)| *wd != event.wd);
                    }
                    seen.layout = true;
                } else if event.name.is_some_and(|name| {
                    self.names
                        .iter()
                        .any(|(wd, n)| *wd == event.wd && n.as_os_str() == name)
                }) {
                    // Appends to the file only ask for a read; anything
                    // else done to one of our names (created, moved,
                    // deleted, its mode changed) may change what the path
                    // names, and where to watch.
                    seen.path = true;
                    seen.layout |= event.mask != EventMask::MODIFY;
                } else {
                    seen.other = true;
                }
            }
        }
        seen.more = true;
        Ok(seen)
    }
}

/// A watch error in the words an operator needs, with the knob to turn.
pub fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EMFILE) => {
            "too many inotify instances (raise the sysctl fs.inotify.max_user_instances)".into()
        }
        Some(libc::ENOSPC) => {
            "inotify watch limit reached (raise the sysctl fs.inotify.max_user_watches)".into()
        }
        _ => err.to_string(),
    }
}
