//! What the loop reads lines from: a path followed across rotation
//! ([`LogPath`]), or standard input as a stream ([`Stream`], `-l -`).
//!
//! The loop talks to this one type, so that it has one shape for both: it
//! waits, refreshes, reads, and stops when the source has ended. What only
//! a path has (rotated files, their grace, the directories to watch, the
//! position a state file keeps) is empty for a stream.

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Instant;

use crate::input::file::follow::LineSink;
use crate::input::file::rotation::{LogPath, Refresh};
use crate::input::stream::Stream;

/// How much of a stream one refresh reads: the loop must get back to its
/// signals and timeouts under a flood.
const STREAM_BUDGET: u64 = 64 << 20;

// One value for the life of the process: the size difference is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Source {
    Path(LogPath),
    Stream(Stream),
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
            Source::Stream(_) => None,
        }
    }

    /// A descriptor to wait on besides inotify: a stream's input.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::Path(_) => None,
            Source::Stream(stream) => stream.fd(),
        }
    }

    /// Is there nothing more to read, ever? A path never ends.
    pub fn ended(&self) -> bool {
        match self {
            Source::Path(_) => false,
            Source::Stream(stream) => stream.ended(),
        }
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            Source::Path(_) => None,
            Source::Stream(stream) => stream.error(),
        }
    }

    /// Is something open to read from?
    pub fn is_open(&self) -> bool {
        match self {
            Source::Path(log) => log.is_open(),
            Source::Stream(stream) => !stream.ended(),
        }
    }

    /// Looks for what is new and reads it (see [`LogPath::refresh`]).
    pub fn refresh(&mut self, now: Instant, sink: LineSink) -> Refresh {
        match self {
            Source::Path(log) => log.refresh(now, sink),
            Source::Stream(stream) => Refresh {
                replaced: false,
                more: stream.read_available(STREAM_BUDGET, sink),
            },
        }
    }

    /// The end for good (`--once`): held partial lines are lines.
    pub fn finish(&mut self, sink: LineSink) {
        match self {
            Source::Path(log) => log.finish(sink),
            // A stream finishes its last line itself, at its end.
            Source::Stream(_) => {}
        }
    }

    pub fn has_retired(&self) -> bool {
        match self {
            Source::Path(log) => log.has_retired(),
            Source::Stream(_) => false,
        }
    }

    pub fn retired_dirs(&self) -> Vec<PathBuf> {
        match self {
            Source::Path(log) => log.retired_dirs(),
            Source::Stream(_) => Vec::new(),
        }
    }

    pub fn read_retired(&mut self, now: Instant, sink: LineSink) {
        if let Source::Path(log) = self {
            log.read_retired(now, sink);
        }
    }

    /// When the next rotated file is due to be closed.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Source::Path(log) => log.deadline(),
            Source::Stream(_) => None,
        }
    }

    /// Closes the rotated files whose grace is over; whether any was.
    pub fn expire(&mut self, now: Instant, sink: LineSink) -> bool {
        match self {
            Source::Path(log) => log.expire(now, sink),
            Source::Stream(_) => false,
        }
    }
}
