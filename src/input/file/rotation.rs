//! The followed path over time: which file is behind it now, the old
//! files a rotation left behind, and the files recently closed.
//!
//! A file is followed by identity ([`FileIdentity`]: which file object, and
//! what it held), never by name. When the path starts naming another file (rename and create,
//! delete and recreate, a swapped symlink, the directory replaced), the old file is
//! read to its end and kept open for a grace period, because writers that
//! have not reopened yet still append to it; the new file is read from its
//! first byte. A file that comes back to the path (moved away and back, a
//! symlink swapped back) is recognised, open or recently closed, and
//! continued at its offset. A truncation in place rewinds to 0, for the
//! current file and the rotated ones alike. Only "not found" means a file
//! is gone: any other failure to look at the path changes nothing.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::fs::{File, Metadata};

use crate::checkpoint::SourceCheckpoint;
use crate::checkpoint::state::{self, FileRecord, FilesRecord, Recovery, SourcePiece};
use crate::input::file::follow::{Follower, LineSink, StartAt};
#[cfg(doc)]
use crate::input::file::identity::FileIdentity;
use crate::input::file::identity::{FileId, FilePosition};
use crate::report::event::{self, FileEvent, Lost, emit};

/// How long a rotated file is kept open after its last growth.
pub const ROTATE_GRACE: Duration = Duration::from_secs(5);

/// How many rotated files are kept open at most. Rotating faster than this
/// many times per grace period is pathological; closing the oldest early
/// keeps descriptors bounded (the soft limit is often 1024).
const MAX_RETIRED: usize = 64;

/// How many closed files are remembered, and for how long, so that one
/// that comes back continues where it was instead of being read again.
pub const MAX_REMEMBERED: usize = 64;
pub const REMEMBER_FOR: Duration = Duration::from_secs(600);

/// How many directories that rotated files went to are remembered.
const MAX_ROTATED_DIRS: usize = 8;

/// How much one turn of the loop reads, all files together (the current
/// one and the rotated ones): a writer faster than us, even one still
/// appending to a rotated file, must not keep the loop from signals and
/// timeouts.
pub const READ_BUDGET: u64 = 64 << 20;

#[derive(Debug)]
struct Retired {
    file: Follower,
    close_at: Instant,
}

#[derive(Debug)]
struct Closed {
    at: FilePosition,
    when: Instant,
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
    closed: VecDeque<Closed>,
    /// A file we failed to open, so the failure is logged once.
    unreadable: Option<FileId>,
    /// Looking at the path fails (not "not found"): logged once.
    stat_failing: bool,
    /// Directories rotated files were seen in, most recent last.
    rotated_dirs: Vec<PathBuf>,
    /// What one turn may read ([`READ_BUDGET`]; less in tests).
    budget_per_turn: u64,
    /// What this turn may still read (see [`LogPath::start_turn`]).
    budget: u64,
    /// Times the path named another file, or its file was truncated.
    rotations: u64,
    /// Moves whenever what the state keeps of the files changes: a read,
    /// a truncation, a file opened, rotated or closed (see
    /// [`LogPath::generation`]).
    generation: u64,
}

impl LogPath {
    /// Opens the file at start. A missing file (or directory) is waited
    /// for; any other failure to open it is the caller's to report.
    pub fn open(path: &Path, start: StartAt) -> io::Result<Self> {
        let log = Self::open_quietly(path, start)?;
        if let Some(file) = &log.current {
            emit!(FileEvent::Following {
                path: path.to_path_buf(),
                offset: file.offset(),
            });
        }
        Ok(log)
    }

    /// As `open`, saying nothing: a resume says where it resumes.
    fn open_quietly(path: &Path, start: StartAt) -> io::Result<Self> {
        let current = match Follower::open(path, start) {
            Ok(file) => Some(file),
            Err(err) if is_gone(&err) => None,
            Err(err) => return Err(err),
        };
        Ok(LogPath {
            path: path.to_path_buf(),
            retired: Vec::new(),
            closed: VecDeque::new(),
            unreadable: None,
            stat_failing: false,
            rotated_dirs: Vec::new(),
            budget_per_turn: READ_BUDGET,
            budget: READ_BUDGET,
            rotations: 0,
            // A file opened is a position the state does not have yet.
            generation: u64::from(current.is_some()),
            current,
        })
    }

    /// Opens the file at start where a saved state says we were: the same
    /// file continues at its offset, a file rotated while we were down is
    /// found by identity and finished first, a rewritten one is read from
    /// 0, and what cannot be found is reported with what was lost.
    pub fn resume(path: &Path, saved: &FilesRecord, now: Instant) -> io::Result<Self> {
        let mut log = LogPath::open_quietly(path, StartAt::Beginning)?;
        log.rotated_dirs = saved.rotated_dirs.clone();
        let dirs = saved.candidate_dirs(path);
        for record in &saved.rotated {
            if let Some(file) = log.find_saved(record, None, &dirs) {
                log.retired.push(Retired {
                    file,
                    close_at: now + ROTATE_GRACE,
                });
            }
        }
        // A rotated file of the saved state may be back at the path: it
        // continues at its saved offset, not from 0 as a new file would.
        if let Some(id) = log.current.as_ref().map(Follower::id)
            && let Some(i) = log.retired.iter().position(|old| old.file.id().is(&id))
        {
            emit!(FileEvent::ContinuingSaved {
                path: path.to_path_buf(),
            });
            log.current = Some(log.retired.remove(i).file);
        }
        let Some(record) = &saved.current else {
            // Any other file that appeared while we were down is all new.
            if log.current.is_some() {
                emit!(FileEvent::FollowingNew {
                    path: path.to_path_buf(),
                });
            }
            return Ok(log);
        };
        let at_path = log
            .current
            .as_ref()
            .map(|f| (f.file(), f.file().metadata()));
        let at_path = match at_path {
            Some((file, Ok(meta))) => Some((file, meta)),
            _ => None,
        };
        match state::resolve(record, at_path.as_ref().map(|(f, m)| (*f, m)), &dirs) {
            Ok(Recovery::Resume { offset }) => {
                if let Some(file) = log.current.as_mut() {
                    file.skip_to(offset, record.at.skipping)?;
                    emit!(FileEvent::Resuming {
                        path: path.to_path_buf(),
                        offset,
                    });
                }
            }
            Ok(Recovery::FromStart(why)) => {
                emit!(FileEvent::RereadingChanged {
                    path: path.to_path_buf(),
                    why: why.to_string(),
                });
            }
            Ok(Recovery::Rotated(found)) => {
                emit!(FileEvent::RotatedWhileStopped {
                    path: path.to_path_buf(),
                    found: found.path.clone(),
                    offset: found.offset,
                });
                let file = Follower::resume_file(found.file, found.offset, record.at.skipping)?;
                if !log.retired.iter().any(|r| r.file.id().is(&file.id())) {
                    log.retired.push(Retired {
                        file,
                        close_at: now + ROTATE_GRACE,
                    });
                }
            }
            Ok(Recovery::Gone { unread_bytes }) => warn_gone(record, unread_bytes),
            Err(err) => emit!(FileEvent::CannotCompareSaved {
                path: path.to_path_buf(),
                error: err.to_string(),
            }),
        }
        Ok(log)
    }

    /// A rotated file of the saved state, found where it is now.
    fn find_saved(
        &self,
        record: &FileRecord,
        at_path: Option<(&File, &Metadata)>,
        dirs: &[PathBuf],
    ) -> Option<Follower> {
        match state::resolve(record, at_path, dirs) {
            Ok(Recovery::Rotated(found)) => {
                emit!(FileEvent::FinishingSaved {
                    found: found.path.clone(),
                    offset: found.offset,
                });
                Follower::resume_file(found.file, found.offset, record.at.skipping).ok()
            }
            Ok(Recovery::Gone { unread_bytes }) => {
                warn_gone(record, unread_bytes);
                None
            }
            Ok(_) => None,
            Err(err) => {
                emit!(FileEvent::CannotLookForSaved {
                    path: record.path.clone(),
                    error: err.to_string(),
                });
                None
            }
        }
    }

    /// What a state file keeps of the files: the current one and the
    /// rotated ones being finished, each at the first line not processed,
    /// and where rotated files went.
    pub fn files_record(&self) -> FilesRecord {
        let record = |file: &Follower| {
            let path = file.current_path().unwrap_or_else(|| self.path.clone());
            Some(FileRecord {
                path,
                at: file.processed_position().ok()?,
                len: file.file().metadata().ok()?.len(),
            })
        };
        FilesRecord {
            current: self.current.as_ref().and_then(record),
            rotated: self
                .retired
                .iter()
                .filter_map(|old| record(&old.file))
                .collect(),
            rotated_dirs: self.rotated_dirs.clone(),
        }
    }

    /// A count of the changes of what the state keeps of the files (a
    /// read, a truncation, a file opened, rotated or closed): a state
    /// saved at another generation is behind.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// What the state keeps of the files changed.
    fn moved(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Is a file open at the path?
    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    /// How far the file open at the path was processed: the first byte
    /// not processed yet. `None` while no file is open.
    pub fn offset(&self) -> Option<u64> {
        self.current.as_ref().map(Follower::processed_offset)
    }

    /// Rotated files still open, being finished.
    pub fn rotated_open(&self) -> usize {
        self.retired.len()
    }

    /// Times the path named another file, or its file was truncated.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Bytes in the open files not processed yet: their sizes now minus
    /// the offsets (one `fstat` per open file).
    pub fn lag(&self) -> u64 {
        self.current
            .iter()
            .chain(self.retired.iter().map(|old| &old.file))
            .filter_map(|f| {
                let len = f.file().metadata().ok()?.len();
                Some(len.saturating_sub(f.processed_offset()))
            })
            .sum()
    }

    /// The end for good (`--once`): held partial lines are lines.
    pub fn finish(&mut self, sink: LineSink) {
        if let Some(file) = self.current.as_mut() {
            file.finish(sink);
            self.moved();
        }
    }

    /// The directories the rotated files still open are in now: their
    /// writers' appends raise events there.
    pub fn retired_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for dir in self
            .retired
            .iter()
            .filter_map(|old| old.file.current_path()?.parent().map(Path::to_path_buf))
        {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    pub fn has_retired(&self) -> bool {
        !self.retired.is_empty()
    }

    /// A new turn of the loop: the read budget is full again. Every read
    /// of the turn, of any file, takes from it.
    pub fn start_turn(&mut self) {
        self.budget = self.budget_per_turn;
    }

    /// Sets how much one turn reads (a dry run that holds its lines for
    /// their save reads less at a time, see `daemon`).
    pub fn set_budget_per_turn(&mut self, budget: u64) {
        self.budget_per_turn = budget;
        self.budget = budget;
    }

    /// Is the turn's budget spent? Then there may be more to read.
    pub fn spent(&self) -> bool {
        self.budget == 0
    }

    /// Looks at the path again: reads the rotated files, notices a new,
    /// returning or truncated file, and reads what was appended.
    pub fn refresh(&mut self, now: Instant, sink: LineSink) -> Refresh {
        self.read_retired(now, sink);
        if self.spent() {
            // The rotated files' lines come first: the path waits for the
            // next turn.
            return Refresh {
                replaced: false,
                more: true,
            };
        }
        let current_id = self.current.as_ref().map(Follower::id);
        let mut refresh = Refresh::default();
        match std::fs::metadata(&self.path) {
            Ok(meta) if current_id.is_some_and(|id| id.is_at(&meta)) => {
                self.can_look();
                if let Some(file) = self.current.as_mut()
                    && check_truncation(file, &self.path.display().to_string(), sink)
                {
                    self.rotations += 1;
                    self.moved();
                }
            }
            Ok(_) => {
                self.can_look();
                refresh.replaced = self.replace(now, sink);
            }
            Err(err) if is_gone(&err) => {
                self.can_look();
                refresh.replaced = self.gone(now, sink);
            }
            Err(err) => {
                if !std::mem::replace(&mut self.stat_failing, true) {
                    emit!(FileEvent::CannotLook {
                        path: self.path.clone(),
                        error: err.to_string(),
                    });
                }
            }
        }
        if refresh.replaced {
            self.moved();
        }
        refresh.more = self.read_current(sink);
        refresh
    }

    /// Looking at the path works (again).
    fn can_look(&mut self) {
        if std::mem::take(&mut self.stat_failing) {
            emit!(FileEvent::CanLookAgain {
                path: self.path.clone(),
            });
        }
    }

    /// The path names no file: the one we followed, if any, is rotated.
    fn gone(&mut self, now: Instant, sink: LineSink) -> bool {
        let Some(file) = &self.current else {
            return false;
        };
        emit!(FileEvent::Gone {
            path: self.path.clone(),
            moved_to: file.current_path(),
        });
        self.retire_current(now, sink);
        true
    }

    /// The path names another file than the one we follow (or one at all).
    /// Returns whether what we follow changed.
    fn replace(&mut self, now: Instant, sink: LineSink) -> bool {
        let file = match Follower::open(&self.path, StartAt::Beginning) {
            Ok(file) => file,
            Err(err) if is_gone(&err) => return self.gone(now, sink),
            Err(err) => {
                let id = std::fs::metadata(&self.path)
                    .ok()
                    .map(|m| FileId::at(&self.path, &m));
                if id != self.unreadable {
                    emit!(FileEvent::CannotOpen {
                        path: self.path.clone(),
                        error: err.to_string(),
                    });
                    self.unreadable = id;
                }
                // Another file is at the path, if one we cannot read: the
                // one we followed was rotated away all the same.
                return self.current.is_some() && self.gone(now, sink);
            }
        };
        if self
            .current
            .as_ref()
            .is_some_and(|cur| cur.id().is(&file.id()))
        {
            return false; // Back before we opened: nothing changed.
        }
        self.unreadable = None;
        if let Some(old) = &self.current {
            emit!(FileEvent::Rotated {
                path: self.path.clone(),
                moved_to: old.current_path(),
            });
        }
        self.retire_current(now, sink);
        let file = self.recognise(file, now, sink);
        self.current = Some(file);
        true
    }

    /// A file that appeared at the path. One we know (still open after a
    /// rotation, or closed not long ago) continues where we were in it: no
    /// line is read twice. Any other is read from its first byte.
    fn recognise(&mut self, mut file: Follower, now: Instant, sink: LineSink) -> Follower {
        if let Some(i) = self
            .retired
            .iter()
            .position(|old| old.file.id().is(&file.id()))
        {
            let mut old = self.retired.remove(i).file;
            check_truncation(&mut old, &self.path.display().to_string(), sink);
            emit!(FileEvent::Returned {
                path: self.path.clone(),
                offset: old.offset(),
            });
            return old;
        }
        self.closed
            .retain(|c| now.duration_since(c.when) < REMEMBER_FOR);
        if let Some(i) = self
            .closed
            .iter()
            .position(|c| c.at.identity.id.is(&file.id()))
            && let Some(closed) = self.closed.remove(i)
            && file.resume(&closed.at)
        {
            emit!(FileEvent::ReadBefore {
                path: self.path.clone(),
                offset: file.offset(),
            });
            return file;
        }
        emit!(FileEvent::Appeared {
            path: self.path.clone(),
        });
        file
    }

    /// Reads what was appended to the rotated files (any event in their
    /// directories may be one of their writers).
    pub fn read_retired(&mut self, now: Instant, sink: LineSink) {
        let mut moved = false;
        for old in &mut self.retired {
            if self.budget == 0 {
                break;
            }
            let name = retired_name(&old.file);
            moved |= check_truncation(&mut old.file, &name, sink);
            match old.file.read_appended(self.budget, sink) {
                Ok(0) => {}
                Ok(n) => {
                    self.budget = self.budget.saturating_sub(n);
                    old.close_at = now + ROTATE_GRACE;
                    moved = true;
                }
                Err(err) => emit!(FileEvent::CannotRead {
                    name,
                    error: err.to_string(),
                }),
            }
            old.file.release_buffer();
        }
        if moved {
            self.moved();
        }
    }

    /// When the next rotated file is due to be closed.
    pub fn deadline(&self) -> Option<Instant> {
        self.retired.iter().map(|old| old.close_at).min()
    }

    /// Closes the rotated files whose grace is over, after a last read.
    /// Returns whether any was closed.
    pub fn expire(&mut self, now: Instant, sink: LineSink) -> bool {
        // A file that grew since the last look earns a new grace period.
        self.read_retired(now, sink);
        if self.spent() {
            // Not read to its end: closed on a later turn.
            return false;
        }
        let before = self.retired.len();
        let mut closed = Vec::new();
        self.retired.retain_mut(|old| {
            if old.close_at > now {
                return true;
            }
            closed.push(close(&mut old.file, sink));
            false
        });
        for at in closed {
            self.remember(at, now);
        }
        if self.retired.len() < before {
            self.moved();
        }
        self.retired.len() < before
    }

    fn remember(&mut self, at: FilePosition, now: Instant) {
        if self.closed.len() >= MAX_REMEMBERED {
            self.closed.pop_front();
        }
        self.closed.push_back(Closed { at, when: now });
    }

    fn retire_current(&mut self, now: Instant, sink: LineSink) {
        let Some(mut file) = self.current.take() else {
            return;
        };
        self.rotations += 1;
        self.moved();
        let name = retired_name(&file);
        // Truncated and then rotated between two looks: the lines written
        // after the truncation are at the start of the old file.
        check_truncation(&mut file, &name, sink);
        // What the budget leaves unread is read as a rotated file's, on
        // later turns, before anything of the new file.
        match file.read_appended(self.budget, sink) {
            Ok(n) => self.budget = self.budget.saturating_sub(n),
            Err(err) => emit!(FileEvent::CannotRead {
                name,
                error: err.to_string(),
            }),
        }
        file.release_buffer();
        if let Some(dir) = file.current_path().as_deref().and_then(Path::parent) {
            self.rotated_dirs.retain(|d| d != dir);
            if self.rotated_dirs.len() >= MAX_ROTATED_DIRS {
                self.rotated_dirs.remove(0);
            }
            self.rotated_dirs.push(dir.to_path_buf());
        }
        if self.retired.len() >= MAX_RETIRED {
            emit!(FileEvent::TooManyRotated { max: MAX_RETIRED });
            let mut oldest = self.retired.remove(0);
            let at = close(&mut oldest.file, sink);
            self.remember(at, now);
        }
        self.retired.push(Retired {
            file,
            close_at: now + ROTATE_GRACE,
        });
    }

    /// Reads the current file; true if it has more than the budget allowed.
    fn read_current(&mut self, sink: LineSink) -> bool {
        let Some(file) = self.current.as_mut() else {
            return false;
        };
        let budget = self.budget;
        match file.read_appended(budget, sink) {
            Ok(n) => {
                self.budget = budget.saturating_sub(n);
                if n > 0 {
                    self.moved();
                }
                n >= budget
            }
            Err(err) => {
                emit!(FileEvent::CannotRead {
                    name: self.path.display().to_string(),
                    error: err.to_string(),
                });
                false
            }
        }
    }
}

impl SourceCheckpoint for LogPath {
    fn checkpoint(&self) -> SourcePiece {
        SourcePiece::Files(self.files_record())
    }

    fn generation(&self) -> u64 {
        LogPath::generation(self)
    }
}

/// Only "not found" (or a component that is no longer a directory) means
/// that the path names no file. A permission error or any other passing
/// failure says nothing about the file we have open.
pub fn is_gone(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENOTDIR)
}

fn warn_gone(record: &FileRecord, unread_bytes: Option<u64>) {
    let lost = match unread_bytes {
        Some(count) => Lost::Bytes {
            count,
            after: record.at.offset,
        },
        None => Lost::After(record.at.offset),
    };
    emit!(FileEvent::GoneWhileStopped {
        path: record.path.clone(),
        lost,
    });
}

/// A rotated file as the logs name it: where it is now.
fn retired_name(file: &Follower) -> String {
    event::name(file.current_path().as_deref())
}

/// Rewinds `file` if it was truncated; whether it was.
fn check_truncation(file: &mut Follower, name: &str, sink: LineSink) -> bool {
    match file.is_truncated() {
        Ok(false) => false,
        Ok(true) => {
            emit!(FileEvent::Truncated {
                name: name.to_owned(),
            });
            file.rewind(sink);
            true
        }
        Err(err) => {
            emit!(FileEvent::CannotCheckTruncation {
                name: name.to_owned(),
                error: err.to_string(),
            });
            false
        }
    }
}

/// The last look at a rotated file before it is closed; returns what to
/// remember of it.
fn close(file: &mut Follower, sink: LineSink) -> FilePosition {
    let name = retired_name(file);
    if let Err(err) = file.read_appended(u64::MAX, sink) {
        emit!(FileEvent::CannotRead {
            name: name.clone(),
            error: err.to_string(),
        });
    }
    file.finish(sink);
    emit!(FileEvent::Closed {
        name,
        bytes: file.offset(),
    });
    file.position()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::file::follow::LineOrigin;
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
            let log = LogPath::open(&dir.path().join("app.log"), StartAt::End).unwrap();
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

        fn collect(lines: &mut Vec<String>) -> impl FnMut(&[u8], LineOrigin) + '_ {
            |block: &[u8], _| {
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

    /// One read budget per turn for every file (D6): a rotated file that
    /// keeps growing is read a budget at a time, and the new file only
    /// once the rotated one is read to its end, so lines keep their order.
    #[test]
    fn one_budget_per_turn_covers_the_rotated_files_too() {
        use crate::input::file::lines::CHUNK;
        let t0 = Instant::now();
        let mut f = Fixture::new("");
        // Reads go by chunks: a budget of one byte is one chunk a turn.
        f.log.set_budget_per_turn(1);
        fs::rename(f.path("app.log"), f.path("app.log.1")).unwrap();
        let line = |n: usize| format!("old {n} {}\n", "x".repeat(CHUNK / 2));
        for n in 0..4 {
            f.append("app.log.1", &line(n));
        }
        f.append("app.log", "new\n");
        let mut per_turn = Vec::new();
        loop {
            f.log.start_turn();
            let before = f.lines.len();
            let refresh = f.refresh(t0);
            per_turn.push(f.lines.len() - before);
            if !refresh.more {
                break;
            }
            assert!(per_turn.len() < 10, "no progress: {per_turn:?}");
        }
        let short: Vec<&str> = f.lines.iter().map(|l| &l[..l.len().min(5)]).collect();
        assert_eq!(short, ["old 0", "old 1", "old 2", "old 3", "new"]);
        // Four lines of half a chunk each and one short one: at least three
        // turns where one turn would have read them all.
        assert!(per_turn.len() >= 3, "{per_turn:?}");
        assert!(per_turn.iter().all(|&n| n <= 2), "{per_turn:?}");
    }

    /// What the follower reports of a rotation, a truncation and a
    /// deletion are values: the order and the names, not the wording.
    #[test]
    fn rotation_truncation_and_deletion_are_reported_as_events() {
        use crate::report::event::{Event, record};
        let t0 = Instant::now();
        let mut f = Fixture::new("old line\n");
        let log = f.path("app.log");
        let rotated = f.path("app.log.1");
        fs::rename(&log, &rotated).unwrap();
        f.append("app.log", "new\n");
        let (_, events) = record(|| f.refresh(t0));
        assert_eq!(
            events,
            [
                Event::File(FileEvent::Rotated {
                    path: log.clone(),
                    moved_to: Some(rotated.clone()),
                }),
                Event::File(FileEvent::Appeared { path: log.clone() }),
            ]
        );
        fs::write(&log, "").unwrap();
        f.append("app.log", "x\n");
        let (_, events) = record(|| f.refresh(t0));
        assert_eq!(
            events,
            [Event::File(FileEvent::Truncated {
                name: log.display().to_string(),
            })]
        );
        fs::remove_file(&log).unwrap();
        let (_, events) = record(|| f.refresh(t0));
        assert_eq!(
            events,
            [Event::File(FileEvent::Gone {
                path: log.clone(),
                moved_to: None,
            })]
        );
        let (_, events) = record(|| f.expire(t0 + ROTATE_GRACE));
        let closed: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::File(FileEvent::Closed { .. })))
            .collect();
        assert_eq!(closed.len(), 2, "both rotated files closed: {events:?}");
        assert_eq!(f.lines, ["new", "x"]);
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

    /// The generation moves with what the state keeps (a read, a rotation,
    /// a truncation, a rotated file closed), and only then: an idle look
    /// leaves it, so nothing is saved while idle.
    #[test]
    fn the_generation_moves_with_the_position_and_only_then() {
        let t0 = Instant::now();
        let mut f = Fixture::new("old\n");
        let mut last = f.log.generation();
        let mut moved = |f: &mut Fixture| {
            let now = f.log.generation();
            std::mem::replace(&mut last, now) != now
        };
        f.refresh(t0);
        assert!(!moved(&mut f), "nothing new");
        f.append("app.log", "one\n");
        f.refresh(t0);
        assert!(moved(&mut f), "a read");
        f.append("app.log", "partial");
        f.refresh(t0);
        assert!(moved(&mut f), "a partial line read");
        fs::rename(f.path("app.log"), f.path("app.log.1")).unwrap();
        f.refresh(t0);
        assert!(moved(&mut f), "a rotation");
        f.refresh(t0);
        assert!(!moved(&mut f), "nothing new");
        f.append("app.log.1", "two\n");
        f.refresh(t0);
        assert!(moved(&mut f), "a rotated file read");
        f.expire(t0 + ROTATE_GRACE);
        assert!(moved(&mut f), "a rotated file closed");
        f.append("app.log", "three\n");
        f.refresh(t0);
        assert!(moved(&mut f), "the new file");
        fs::write(f.path("app.log"), "").unwrap();
        f.refresh(t0);
        assert!(moved(&mut f), "a truncation");
        f.refresh(t0);
        assert!(!moved(&mut f), "nothing new");
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
