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

/// How many rotated files are kept open at most. Rotating faster than this
/// many times per grace period is pathological; closing the oldest early
/// keeps descriptors bounded (the soft limit is often 1024).
const MAX_RETIRED: usize = 64;

/// How much of the current file one refresh reads: a writer faster than us
/// must not keep the loop from signals and timeouts.
const READ_BUDGET: u64 = 64 << 20;

type Sink<'a> = &'a mut dyn FnMut(&[u8]);

#[derive(Debug)]
struct Retired {
    file: Follower,
    close_at: Instant,
    /// Where the file was when it was rotated: its writers' appends raise
    /// events there, so the directory stays watched until the file closes.
    dir: Option<PathBuf>,
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
    /// The directory the current file was found in (through symlinks).
    current_dir: Option<PathBuf>,
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
            current_dir: current.as_ref().and_then(|_| resolved_dir(path)),
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

    /// The directories of the rotated files still open.
    pub fn retired_dirs(&self) -> impl Iterator<Item = &Path> {
        self.retired.iter().filter_map(|old| old.dir.as_deref())
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
            old.file.release_buffer();
        }
    }

    /// When the next rotated file is due to be closed.
    pub fn deadline(&self) -> Option<Instant> {
        self.retired.iter().map(|old| old.close_at).min()
    }

    /// Closes the rotated files whose grace is over, after a last read.
    /// Returns whether any was closed.
    pub fn expire(&mut self, now: Instant, sink: Sink) -> bool {
        // A file that grew since the last look earns a new grace period.
        self.read_retired(now, sink);
        let before = self.retired.len();
        self.retired.retain_mut(|old| {
            if old.close_at > now {
                return true;
            }
            close(&mut old.file, sink);
            false
        });
        self.retired.len() < before
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
            file.release_buffer();
            if self.retired.len() >= MAX_RETIRED {
                log::warn!("more than {MAX_RETIRED} rotated files open: closing the oldest early");
                let mut oldest = self.retired.remove(0);
                close(&mut oldest.file, sink);
            }
            self.retired.push(Retired {
                file,
                close_at: now + ROTATE_GRACE,
                dir: self.current_dir.take(),
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
                self.current_dir = resolved_dir(&self.path);
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

/// The directory that holds the file `path` resolves to.
fn resolved_dir(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path)
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

/// The last look at a rotated file before it is closed.
fn close(file: &mut Follower, sink: Sink) {
    if let Err(err) = file.read_appended(u64::MAX, sink) {
        log::warn!("cannot read the rotated file: {err}");
    }
    file.finish(sink);
    log::info!(
        "closed the rotated file (read {} bytes in all)",
        file.offset()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    /// A LogPath on `dir/app.log`, and the lines it hands out.
    struct Fixture {
        dir: tempfile::TempDir,
        log: LogPath,
        lines: Vec<String>,
    }

    impl Fixture {
        fn new(content: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("app.log"), content).unwrap();
            let log = LogPath::open(&dir.path().join("app.log"), Start::End).unwrap();
            Fixture {
                dir,
                log,
                lines: Vec::new(),
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn append(&self, name: &str, text: &str) {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(name))
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        fn collect(lines: &mut Vec<String>) -> impl FnMut(&[u8]) + '_ {
            |block: &[u8]| {
                let text = String::from_utf8_lossy(&block[..block.len() - 1]);
                lines.extend(text.split('\n').map(str::to_owned));
            }
        }

        fn refresh(&mut self, now: Instant) -> Refresh {
            self.log.refresh(now, &mut Self::collect(&mut self.lines))
        }

        fn expire(&mut self, now: Instant) {
            self.log.expire(now, &mut Self::collect(&mut self.lines));
        }
    }

    #[test]
    fn rename_rotation_reads_the_old_file_to_its_end_then_the_new_from_zero() {
        let t0 = Instant::now();
        let mut f = Fixture::new("old line\n");
        f.append("app.log", "one\n");
        fs::rename(f.path("app.log"), f.path("app.log.1")).unwrap();
        f.append("app.log.1", "two\n");
        f.append("app.log", "three\n");
        assert_eq!(
            f.refresh(t0),
            Refresh {
                replaced: true,
                more: false
            }
        );
        assert_eq!(f.lines, ["one", "two", "three"]);
        assert_eq!(
            f.refresh(t0),
            Refresh::default(),
            "nothing new, nothing twice"
        );
        assert_eq!(f.lines.len(), 3);
    }

    #[test]
    fn a_rotated_file_is_kept_while_it_grows_and_closed_after_the_grace() {
        let t0 = Instant::now();
        let mut f = Fixture::new("");
        fs::rename(f.path("app.log"), f.path("app.log.1")).unwrap();
        f.refresh(t0);
        assert_eq!(f.log.deadline(), Some(t0 + ROTATE_GRACE));
        let t1 = t0 + Duration::from_secs(4);
        f.append("app.log.1", "late\npartial");
        f.expire(t1);
        assert_eq!(f.lines, ["late"]);
        assert_eq!(
            f.log.deadline(),
            Some(t1 + ROTATE_GRACE),
            "growth extends the grace"
        );
        f.expire(t1 + ROTATE_GRACE);
        assert!(!f.log.has_retired());
        assert_eq!(
            f.lines,
            ["late", "partial"],
            "a held partial line is a line at close"
        );
    }

    #[test]
    fn rotated_files_kept_open_are_bounded() {
        let t0 = Instant::now();
        let mut f = Fixture::new("");
        for i in 0..MAX_RETIRED + 6 {
            fs::rename(f.path("app.log"), f.path(&format!("app.log.{i}"))).unwrap();
            f.append("app.log", &format!("line {i}\n"));
            f.refresh(t0);
            assert!(f.log.retired.len() <= MAX_RETIRED);
        }
        assert_eq!(f.lines.len(), MAX_RETIRED + 6);
    }

    #[test]
    fn truncated_and_refilled_past_the_offset_is_read_from_zero() {
        let t0 = Instant::now();
        let mut f = Fixture::new("");
        f.append("app.log", "first\n");
        f.refresh(t0);
        fs::write(f.path("app.log"), "refilled, longer than before\n").unwrap();
        f.refresh(t0);
        assert_eq!(f.lines, ["first", "refilled, longer than before"]);
    }

    #[test]
    fn delete_then_recreate() {
        let t0 = Instant::now();
        let mut f = Fixture::new("");
        fs::remove_file(f.path("app.log")).unwrap();
        assert!(f.refresh(t0).replaced);
        f.append("app.log", "new\n");
        assert!(f.refresh(t0).replaced);
        assert_eq!(f.lines, ["new"]);
    }
}
