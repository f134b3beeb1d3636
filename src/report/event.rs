//! What the follower, the journal and the runner report, as values: a
//! rotation, a truncation, a file that appeared, entries vacuumed while
//! stopped, a journalctl started again, a command that exited. The parts emit
//! these; this module alone words them and chooses their level, as
//! `gate::Notice` is worded in one place. Tests assert on the values (see
//! [`record`]), so that the wording can change without touching them.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use log::Level;

use crate::react::action::{seconds, signal_name};

/// What happened to a followed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Opened at start (or with `--once`).
    Following {
        path: PathBuf,
        offset: u64,
    },
    /// At start, with a saved state: a file at the path the state did not
    /// know, read from its first byte.
    FollowingNew {
        path: PathBuf,
    },
    /// At start, the file at the path is one a saved state had as rotated.
    ContinuingSaved {
        path: PathBuf,
    },
    /// At start, the same file as saved: continued at its offset.
    Resuming {
        path: PathBuf,
        offset: u64,
    },
    /// At start, the file has the saved identity but other content.
    RereadingChanged {
        path: PathBuf,
        why: String,
    },
    /// At start: the saved file was rotated while we were stopped.
    RotatedWhileStopped {
        path: PathBuf,
        found: PathBuf,
        offset: u64,
    },
    /// At start: a rotated file of the saved state, found.
    FinishingSaved {
        found: PathBuf,
        offset: u64,
    },
    /// At start: a saved file is nowhere to be found.
    GoneWhileStopped {
        path: PathBuf,
        lost: Lost,
    },
    CannotCompareSaved {
        path: PathBuf,
        error: String,
    },
    CannotLookForSaved {
        path: PathBuf,
        error: String,
    },
    /// stat(2) on the path fails for another reason than "not found".
    CannotLook {
        path: PathBuf,
        error: String,
    },
    CanLookAgain {
        path: PathBuf,
    },
    /// The path names no file any more.
    Gone {
        path: PathBuf,
        moved_to: Option<PathBuf>,
    },
    /// The path names another file: ours was rotated.
    Rotated {
        path: PathBuf,
        moved_to: Option<PathBuf>,
    },
    CannotOpen {
        path: PathBuf,
        error: String,
    },
    /// The path names again the file it named before (still open).
    Returned {
        path: PathBuf,
        offset: u64,
    },
    /// The path names a file closed not long ago: continued.
    ReadBefore {
        path: PathBuf,
        offset: u64,
    },
    /// A new file at the path, read from its first byte.
    Appeared {
        path: PathBuf,
    },
    /// `name` as [`name`] gives it.
    Truncated {
        name: String,
    },
    CannotCheckTruncation {
        name: String,
        error: String,
    },
    CannotRead {
        name: String,
        error: String,
    },
    TooManyRotated {
        max: usize,
    },
    /// A rotated file's grace is over.
    Closed {
        name: String,
        bytes: u64,
    },
    /// The path names no file yet.
    Waiting {
        path: PathBuf,
    },
    /// A directory on the way to the path does not exist yet.
    WaitingForDirectory {
        dir: PathBuf,
    },
    /// inotify lost events: everything is looked at again.
    Overflow {
        path: PathBuf,
    },
}

/// What was lost of a file that is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    Bytes { count: u64, after: u64 },
    After(u64),
}

/// What happened to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A match started it.
    Started {
        excerpt: String,
        pid: i32,
        /// What made the trigger: the key and the count.
        why: String,
    },
    CannotStart {
        excerpt: String,
        error: String,
        why: String,
    },
    TimedOut {
        pid: i32,
        after: Duration,
    },
    StillRunning {
        pid: i32,
    },
    /// logs2eca is stopping.
    Stopping {
        pid: i32,
    },
    /// A command an earlier logs2eca left running when it died.
    LeftRunning {
        pid: i32,
    },
    DidNotDie {
        pid: i32,
        wait: Duration,
    },
    Exited {
        pid: i32,
        status: ExitStatus,
        took: Duration,
    },
}

/// How a rotated file is named in the logs: where it is now.
pub fn name(current: Option<&std::path::Path>) -> String {
    match current {
        Some(path) => format!("the rotated file {}", path.display()),
        None => "the rotated (deleted) file".to_owned(),
    }
}

impl FileEvent {
    pub fn level(&self) -> Level {
        use FileEvent::*;
        match self {
            CannotOpen { .. } => Level::Error,
            GoneWhileStopped { .. }
            | CannotCompareSaved { .. }
            | CannotLookForSaved { .. }
            | CannotLook { .. }
            | CannotCheckTruncation { .. }
            | CannotRead { .. }
            | TooManyRotated { .. }
            | Waiting { .. }
            | WaitingForDirectory { .. }
            | Overflow { .. } => Level::Warn,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for FileEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FileEvent::*;
        match self {
            Following { path, offset } => {
                write!(f, "following {} from offset {offset}", path.display())
            }
            FollowingNew { path } => {
                write!(f, "following {} from the start: it is new", path.display())
            }
            ContinuingSaved { path } => write!(
                f,
                "{} is again a file read before: continuing it",
                path.display()
            ),
            Resuming { path, offset } => {
                write!(f, "resuming {} at offset {offset}", path.display())
            }
            RereadingChanged { path, why } => {
                write!(f, "{}: {why}: reading it from the start", path.display())
            }
            RotatedWhileStopped {
                path,
                found,
                offset,
            } => write!(
                f,
                "{} was rotated while stopped: finishing {} from offset {offset}, then the new file from the start",
                path.display(),
                found.display()
            ),
            FinishingSaved { found, offset } => write!(
                f,
                "finishing the rotated file {} from offset {offset}",
                found.display()
            ),
            GoneWhileStopped { path, lost } => {
                let lost = match lost {
                    Lost::Bytes { count, after } => format!("{count} byte(s) after offset {after}"),
                    Lost::After(after) => {
                        format!("whatever was written to it after offset {after}")
                    }
                };
                write!(
                    f,
                    "{} is gone (deleted or moved out of reach while stopped): {lost} could not be read",
                    path.display()
                )
            }
            CannotCompareSaved { path, error } => write!(
                f,
                "cannot compare {} with the saved state: {error}; reading it from the start",
                path.display()
            ),
            CannotLookForSaved { path, error } => {
                write!(f, "cannot look for {}: {error}", path.display())
            }
            CannotLook { path, error } => write!(
                f,
                "cannot look at {}: {error}; reading on from the file already open",
                path.display()
            ),
            CanLookAgain { path } => write!(f, "{} can be looked at again", path.display()),
            Gone { path, moved_to } => {
                let what = match moved_to {
                    Some(to) => format!("was moved away (to {})", to.display()),
                    None => "was deleted".to_owned(),
                };
                write!(
                    f,
                    "{} {what}: finishing it, then waiting for a new file",
                    path.display()
                )
            }
            Rotated { path, moved_to } => {
                let moved_to = match moved_to {
                    Some(to) => format!("now {}", to.display()),
                    None => "deleted".to_owned(),
                };
                write!(
                    f,
                    "{} was rotated (the old file is {moved_to}): finishing it",
                    path.display()
                )
            }
            CannotOpen { path, error } => write!(f, "cannot open {}: {error}", path.display()),
            Returned { path, offset } => write!(
                f,
                "{} is again the file it was before: continuing at offset {offset}",
                path.display()
            ),
            ReadBefore { path, offset } => write!(
                f,
                "{} is again a file read before: continuing at offset {offset}",
                path.display()
            ),
            Appeared { path } => {
                write!(f, "{} appeared: reading it from the start", path.display())
            }
            Truncated { name } => write!(f, "{name} was truncated: reading it from the start"),
            CannotCheckTruncation { name, error } => {
                write!(f, "cannot check {name} for truncation: {error}")
            }
            CannotRead { name, error } => write!(f, "cannot read {name}: {error}"),
            TooManyRotated { max } => write!(
                f,
                "more than {max} rotated files open: closing the oldest early"
            ),
            Closed { name, bytes } => write!(f, "closed {name} (read {bytes} bytes in all)"),
            Waiting { path } => write!(f, "{} does not exist: waiting for it", path.display()),
            WaitingForDirectory { dir } => write!(
                f,
                "the directory {} does not exist: waiting for it",
                dir.display()
            ),
            Overflow { path } => write!(
                f,
                "inotify queue overflow: looking at {} again",
                path.display()
            ),
        }
    }
}

impl RunEvent {
    pub fn level(&self) -> Level {
        use std::os::unix::process::ExitStatusExt as _;
        match self {
            RunEvent::Started { .. } | RunEvent::Stopping { .. } => Level::Info,
            RunEvent::Exited { status, .. } if status.code() == Some(0) => Level::Info,
            RunEvent::Exited { status, .. } if status.signal().is_some() => Level::Warn,
            _ => Level::Warn,
        }
    }
}

impl fmt::Display for RunEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt as _;
        match self {
            RunEvent::Started { excerpt, pid, why } => {
                write!(f, "match: {excerpt} -> started command (pid {pid}); {why}")
            }
            RunEvent::CannotStart {
                excerpt,
                error,
                why,
            } => write!(
                f,
                "match: {excerpt} -> cannot start the command: {error}; {why}"
            ),
            RunEvent::TimedOut { pid, after } => write!(
                f,
                "command (pid {pid}) timed out after {}: sending SIGTERM to its process group",
                seconds(*after)
            ),
            RunEvent::StillRunning { pid } => write!(
                f,
                "command (pid {pid}) still running: sending SIGKILL to its process group"
            ),
            RunEvent::Stopping { pid } => write!(
                f,
                "stopping command (pid {pid}): sending SIGTERM to its process group"
            ),
            RunEvent::LeftRunning { pid } => write!(
                f,
                "command (pid {pid}) left running by a logs2eca that died: ending its process group before its key runs again"
            ),
            RunEvent::DidNotDie { pid, wait } => write!(
                f,
                "command (pid {pid}) did not die within {} of SIGKILL: leaving it",
                seconds(*wait)
            ),
            RunEvent::Exited { pid, status, took } => {
                let took = seconds(*took);
                match (status.code(), status.signal()) {
                    (Some(code), _) => {
                        write!(
                            f,
                            "command (pid {pid}) exited with status {code} after {took}"
                        )
                    }
                    (None, Some(sig)) => write!(
                        f,
                        "command (pid {pid}) killed by signal {sig} ({}) after {took}",
                        signal_name(sig)
                    ),
                    (None, None) => {
                        write!(f, "command (pid {pid}) ended ({status:?}) after {took}")
                    }
                }
            }
        }
    }
}

/// What happened while following the journal (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalEvent {
    /// journalctl started, at a cursor or at the oldest entry.
    Started {
        pid: u32,
        at: Option<String>,
    },
    /// At start: the saved entry was vacuumed while stopped; what was
    /// logged from `from` to `to` is lost.
    VacuumedWhileStopped {
        journal: String,
        from: String,
        to: String,
    },
    /// At start: the saved entry is gone and no entry is left.
    EmptiedWhileStopped {
        journal: String,
        from: String,
    },
    CannotLookForSaved {
        error: String,
    },
    CannotRead {
        error: String,
    },
    /// An entry longer than `mib` MiB of JSON: skipped.
    TooLong {
        mib: usize,
    },
    /// A line of journalctl's output that is not an entry (said once).
    NotAnEntry {
        error: String,
    },
    /// What journalctl said on stderr as it ended.
    Said {
        text: String,
    },
    /// journalctl ended (`why`): started again after the last entry read,
    /// at once (`None`) or after a wait.
    Restarting {
        why: String,
        after: Option<Duration>,
    },
}

impl JournalEvent {
    pub fn level(&self) -> Level {
        match self {
            JournalEvent::Started { .. } => Level::Debug,
            _ => Level::Warn,
        }
    }
}

impl fmt::Display for JournalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use JournalEvent::*;
        match self {
            Started { pid, at } => match at {
                Some(cursor) => write!(f, "started journalctl (pid {pid}) at {cursor}"),
                None => write!(f, "started journalctl (pid {pid}) at the oldest entry"),
            },
            VacuumedWhileStopped { journal, from, to } => write!(
                f,
                "the last entry read before the stop is no longer in {journal}: entries logged \
                 from {from} to {to} were removed (vacuumed or rotated away) while logs2eca was \
                 stopped; going on from the oldest entry"
            ),
            EmptiedWhileStopped { journal, from } => write!(
                f,
                "the last entry read before the stop is no longer in {journal}: entries logged \
                 since {from} were removed while logs2eca was stopped; going on with new entries"
            ),
            CannotLookForSaved { error } => {
                write!(f, "cannot look for the saved position: {error}")
            }
            CannotRead { error } => write!(f, "cannot read journalctl's output: {error}"),
            TooLong { mib } => write!(f, "a journal entry longer than {mib} MiB of JSON: skipped"),
            NotAnEntry { error } => write!(
                f,
                "journalctl printed a line that is not a journal entry ({error}): skipped"
            ),
            Said { text } => write!(f, "journalctl: {text}"),
            Restarting { why, after: None } => {
                write!(f, "{why}; starting it again after the last entry read")
            }
            Restarting {
                why,
                after: Some(wait),
            } => write!(f, "{why}; starting it again in {}", seconds(*wait)),
        }
    }
}

/// Any event, as [`record`] collects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    File(FileEvent),
    Journal(JournalEvent),
    Run(RunEvent),
}

/// Logs `event` at its level, under `target` (the emitting module, so
/// that `RUST_LOG` filters by module as before).
pub fn log_event(target: &str, event: Event) {
    let (level, text) = match &event {
        Event::File(e) => (e.level(), e.to_string()),
        Event::Journal(e) => (e.level(), e.to_string()),
        Event::Run(e) => (e.level(), e.to_string()),
    };
    log::log!(target: target, level, "{text}");
    #[cfg(test)]
    RECORDED.with(|recorded| {
        if let Some(events) = recorded.borrow_mut().as_mut() {
            events.push(event);
        }
    });
}

/// Emits a [`FileEvent`], a [`JournalEvent`] or a [`RunEvent`] under the
/// calling module.
macro_rules! emit {
    ($event:expr) => {
        $crate::report::event::log_event(module_path!(), ($event).into())
    };
}
pub(crate) use emit;

impl From<FileEvent> for Event {
    fn from(event: FileEvent) -> Event {
        Event::File(event)
    }
}

impl From<JournalEvent> for Event {
    fn from(event: JournalEvent) -> Event {
        Event::Journal(event)
    }
}

impl From<RunEvent> for Event {
    fn from(event: RunEvent) -> Event {
        Event::Run(event)
    }
}

#[cfg(test)]
thread_local! {
    static RECORDED: std::cell::RefCell<Option<Vec<Event>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `body` and returns what it emitted on this thread, in order.
#[cfg(test)]
pub fn record<T>(body: impl FnOnce() -> T) -> (T, Vec<Event>) {
    RECORDED.with(|recorded| *recorded.borrow_mut() = Some(Vec::new()));
    let result = body();
    let events = RECORDED.with(|recorded| recorded.borrow_mut().take().unwrap_or_default());
    (result, events)
}
