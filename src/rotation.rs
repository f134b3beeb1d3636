//! The followed path over time: which file is behind it now, and the old
//! files a rotation left behind.
//!
//! When the path starts naming another file (rename + create, delete +
//! recreate, a swapped symlink), the old file is read to its end and kept
//! open for a grace period, because writers that have not reopened yet still
//! append to it; the new file is read from its first byte. A truncation in
//! place rewinds to 0. Every byte of every file is read exactly once.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::follow::{FileId, Follower, Start};

/// How long a rotated file is kept open after its last growth.
pub const ROTATE_GRACE: Duration = Duration::from_secs(5);

/// How much of the current file one refresh reads: a writer faster than us
/// must not keep the loop from signals and timeouts.
const READ_BUDGET: u64 = 64 << 20;

type Sink<'a> = &'a mut dyn FnMut(&[u8]);

#[derive(Debug)]
struct Retired {
    file: Follower,
    close_at: Instant,
}

/// What a [`LogPath::refresh`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// The path names another file than before (or none): its watches may
    /// need to change.
    pub replaced: bool,
    /// The read budget ran out before the end of the file.
    pub more: bool,
}

#[derive(Debug)]
pub struct LogPath {
    path: PathBuf,
    current: Option<Follower>,
    retired: Vec<Retired>,
    /// A file we failed to open, so the failure is logged once.
    unreadable: Option<FileId>,
}

impl LogPath {
    /// Opens the file at start. A missing file is waited for; any other
    /// failure to open it is the caller's to report.
    pub fn open(path: &Path, start: Start) -> io::Result<Self> {
        let current = match Follower::open(path, start) {
            Ok(file) => {
                log::info!("following {} from offset {}", path.display(), file.offset());
                Some(file)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                log::info!("{} does not exist yet: waiting for it", path.display());
                None
            }
            Err(err) => return Err(err),
        };
        Ok(LogPath {
            path: path.to_path_buf(),
            current,
            retired: Vec::new(),
            unreadable: None,
        })
    }

    /// The file the path resolves to (through symlinks), if it exists.
    pub fn target(&self) -> Option<PathBuf> {
        std::fs::canonicalize(&self.path).ok()
    }

    /// The end for good (`--once`): held partial lines are lines.
    pub fn finish(&mut self, sink: Sink) {
        if let Some(file) = self.current.as_mut() {
            file.finish(sink);
        }
    }

    pub fn has_retired(&self) -> bool {
        !self.retired.is_empty()
    }

    /// Looks at the path again: reads the rotated files, notices a new or
    /// truncated file, and reads what was appended.
    pub fn refresh(&mut self, now: Instant, sink: Sink) -> Refresh {
        self.read_retired(now, sink);
        let found = std::fs::metadata(&self.path).map(|meta| FileId::of(&meta));
        let current_id = self.current.as_ref().map(Follower::id);
        let mut refresh = Refresh::default();
        match (found, current_id) {
            (Ok(id), Some(current)) if id == current => self.check_truncation(sink),
            (Ok(_), Some(_)) => {
                log::info!(
                    "{} was rotated: reading the new file from the start",
                    self.path.display()
                );
                self.retire_current(now, sink);
                self.open_new();
                refresh.replaced = true;
            }
            (Ok(_), None) => {
                self.open_new();
                refresh.replaced = self.current.is_some();
            }
            (Err(_), Some(_)) => {
                log::info!(
                    "{} was deleted or moved away: waiting for it",
                    self.path.display()
                );
                self.retire_current(now, sink);
                refresh.replaced = true;
            }
            (Err(_), None) => {}
        }
        refresh.more = self.read_current(sink);
        refresh
    }

    /// Reads what was appended to the rotated files (any event in their
    /// directory may be one of their writers).
    pub fn read_retired(&mut self, now: Instant, sink: Sink) {
        for old in &mut self.retired {
            match old.file.read_appended(u64::MAX, sink) {
                Ok(0) => {}
                Ok(_) => old.close_at = now + ROTATE_GRACE,
                Err(err) => log::warn!("cannot read the rotated file: {err}"),
            }
        }
    }

    /// When the next rotated file is due to be closed.
    pub fn deadline(&self) -> Option<Instant> {
        self.retired.iter().map(|old| old.close_at).min()
    }

    /// Closes the rotated files whose grace is over, after a last read.
    pub fn expire(&mut self, now: Instant, sink: Sink) {
        self.read_retired(now, sink);
        self.retired.retain_mut(|old| {
            if old.close_at > now {
                return true;
            }
            old.file.finish(sink);
            log::info!(
                "closed the rotated file (read {} bytes in all)",
                old.file.offset()
            );
            false
        });
    }

    fn check_truncation(&mut self, sink: Sink) {
        let Some(file) = self.current.as_mut() else {
            return;
        };
        match file.is_truncated() {
            Ok(false) => {}
            Ok(true) => {
                log::info!(
                    "{} was truncated: reading it from the start",
                    self.path.display()
                );
                file.rewind(sink);
            }
            Err(err) => log::warn!("cannot check {} for truncation: {err}", self.path.display()),
        }
    }

    fn retire_current(&mut self, now: Instant, sink: Sink) {
        if let Some(mut file) = self.current.take() {
            if let Err(err) = file.read_appended(u64::MAX, sink) {
                log::warn!("cannot read the rotated file: {err}");
            }
            self.retired.push(Retired {
                file,
                close_at: now + ROTATE_GRACE,
            });
        }
    }

    fn open_new(&mut self) {
        match Follower::open(&self.path, Start::Beginning) {
            Ok(file) => {
                log::info!(
                    "{} appeared: reading it from the start",
                    self.path.display()
                );
                self.unreadable = None;
                self.current = Some(file);
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                let id = std::fs::metadata(&self.path).ok().map(|m| FileId::of(&m));
                if id != self.unreadable {
                    log::error!("cannot open {}: {err}", self.path.display());
                    self.unreadable = id;
                }
            }
        }
    }

    /// Reads the current file; true if it has more than the budget allowed.
    fn read_current(&mut self, sink: Sink) -> bool {
        let Some(file) = self.current.as_mut() else {
            return false;
        };
        match file.read_appended(READ_BUDGET, sink) {
            Ok(n) => n >= READ_BUDGET,
            Err(err) => {
                log::warn!("cannot read {}: {err}", self.path.display());
                false
            }
        }
    }
}
