//! What the loop reads lines from: a path followed across rotation
//! ([`LogPath`]), standard input as a stream ([`Stream`], `-l -`), or the
//! systemd journal ([`Journal`], whose entries the loop reads itself: each
//! comes with fields for the command).
//!
//! The loop talks to this one type, so that it has one shape for both: it
//! waits, refreshes, reads, and stops when the source has ended. What only
//! a path has (rotated files, their grace, the directories to watch, the
//! position a state file keeps) is empty for a stream.

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Instant;

use crate::follow::Sink;
use crate::journal::Journal;
use crate::persist::Checkpoint;
use crate::rotation::{LogPath, Refresh};
use crate::stream::Stream;

/// How much of a stream one refresh reads: the loop must get back to its
/// signals and timeouts under a flood.
const STREAM_BUDGET: u64 = 64 << 20;

#[derive(Debug)]
pub enum Source {
    Path(LogPath),
    Stream(Stream),
    Journal(Journal),
}

impl Source {
    /// Is there a path whose directories decide what is read?
    pub fn is_path(&self) -> bool {
        matches!(self, Source::Path(_))
    }

    /// The followed path, whose position a state file keeps; `None` for a
    /// stream.
    pub fn as_path(&self) -> Option<&LogPath> {
        match self {
            Source::Path(log) => Some(log),
            Source::Stream(_) | Source::Journal(_) => None,
        }
    }

    /// What a state file keeps of the source; `None` for a stream.
    pub fn checkpoint(&self) -> Option<&dyn Checkpoint> {
        match self {
            Source::Path(log) => Some(log),
            Source::Journal(journal) => Some(journal),
            Source::Stream(_) => None,
        }
    }

    /// A descriptor to wait on besides inotify: a stream's input,
    /// journalctl's output.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::Path(_) => None,
            Source::Stream(stream) => stream.fd(),
            Source::Journal(journal) => journal.fd(),
        }
    }

    /// Is there nothing more to read, ever? A path never ends.
    pub fn ended(&self) -> bool {
        match self {
            Source::Path(_) => false,
            Source::Stream(stream) => stream.ended(),
            Source::Journal(journal) => journal.ended(),
        }
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            Source::Path(_) => None,
            Source::Stream(stream) => stream.error(),
            Source::Journal(journal) => journal.error(),
        }
    }

    /// Is something open to read from?
    pub fn is_open(&self) -> bool {
        match self {
            Source::Path(log) => log.is_open(),
            Source::Stream(stream) => !stream.ended(),
            Source::Journal(journal) => !journal.ended(),
        }
    }

    /// Looks for what is new and reads it (see [`LogPath::refresh`]).
    pub fn refresh(&mut self, now: Instant, sink: Sink) -> Refresh {
        match self {
            Source::Path(log) => log.refresh(now, sink),
            Source::Stream(stream) => Refresh {
                replaced: false,
                more: stream.read_available(STREAM_BUDGET, sink),
            },
            // Read by the loop with its fields (`Daemon::read_journal`).
            Source::Journal(_) => Refresh {
                replaced: false,
                more: false,
            },
        }
    }

    /// The end for good (`--once`): held partial lines are lines.
    pub fn finish(&mut self, sink: Sink) {
        match self {
            Source::Path(log) => log.finish(sink),
            // A stream finishes its last line itself, at its end; the
            // journal has no partial lines.
            Source::Stream(_) | Source::Journal(_) => {}
        }
    }

    pub fn has_retired(&self) -> bool {
        match self {
            Source::Path(log) => log.has_retired(),
            Source::Stream(_) | Source::Journal(_) => false,
        }
    }

    pub fn retired_dirs(&self) -> Vec<PathBuf> {
        match self {
            Source::Path(log) => log.retired_dirs(),
            Source::Stream(_) | Source::Journal(_) => Vec::new(),
        }
    }

    pub fn read_retired(&mut self, now: Instant, sink: Sink) {
        if let Source::Path(log) = self {
            log.read_retired(now, sink);
        }
    }

    /// When the next rotated file is due to be closed; when journalctl
    /// is due to be started again.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Source::Path(log) => log.deadline(),
            Source::Stream(_) => None,
            Source::Journal(journal) => journal.deadline(),
        }
    }

    /// Closes the rotated files whose grace is over; whether any was.
    pub fn expire(&mut self, now: Instant, sink: Sink) -> bool {
        match self {
            Source::Path(log) => log.expire(now, sink),
            Source::Stream(_) | Source::Journal(_) => false,
        }
    }
}
