//! What the loop reads lines from: a path followed across rotation
//! ([`FileSource`]), or standard input as a stream ([`Stream`], `-l -`).
//!
//! The loop talks to this one type, so that it has one shape for every
//! input: a descriptor to wait on, a deadline to come back at, what to do
//! when either arrives (`on_ready`, then `read`), a reload, the position a
//! state file keeps, a status, and whether the input has ended. How a
//! source sees its changes (inotify, polling, poll(2) on a pipe) is its
//! own business; a new kind of input is a new variant here.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::input::file::follow::LineSink;
use crate::input::file::rotation::LogPath;
use crate::input::file::source::FileSource;
use crate::input::stream::Stream;
use crate::report::status_line::Reading;

/// How much of a stream one read takes: the loop must get back to its
/// signals and timeouts under a flood.
const STREAM_BUDGET: u64 = 64 << 20;

pub enum Source {
    /// Boxed: the larger of the two by far, and there is one per process.
    File(Box<FileSource>),
    Stream(Stream),
}

impl Source {
    /// The descriptor to wait on for this source, if any.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::File(file) => file.fd(),
            Source::Stream(stream) => stream.fd(),
        }
    }

    /// When the source wants to be looked at without an event.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        match self {
            Source::File(file) => file.deadline(now),
            Source::Stream(stream) => stream.more().then_some(now),
        }
    }

    /// The source's descriptor was `ready` (or not), and it is `now`: take
    /// in what happened, before anything is read. An error means the
    /// source cannot go on: the run stops with it.
    pub fn on_ready(&mut self, ready: bool, now: Instant) -> Option<Error> {
        match self {
            Source::File(file) => file.on_ready(ready, now),
            Source::Stream(stream) => {
                stream.note_ready(ready);
                None
            }
        }
    }

    /// Reads what is new (everything there is, to `reload`); returns
    /// whether what the checkpoint keeps changed beyond an offset (a
    /// rotation): worth a save at once.
    pub fn read(&mut self, reload: bool, now: Instant, sink: LineSink) -> bool {
        match self {
            Source::File(file) => file.read(reload, now, sink),
            Source::Stream(stream) => {
                stream.read(STREAM_BUDGET, sink);
                false
            }
        }
    }

    /// The first look, before the first wait: for a path, the watches are
    /// set and what is new since opening is read. Returns whether that
    /// changed what the checkpoint keeps beyond an offset.
    pub fn begin(&mut self, now: Instant, sink: LineSink) -> Result<bool> {
        match self {
            Source::File(file) => file.begin(now, sink),
            Source::Stream(_) => Ok(false),
        }
    }

    /// `--once`: reads one budget's worth; whether there is more.
    pub fn read_more(&mut self, now: Instant, sink: LineSink) -> bool {
        match self {
            Source::File(file) => file.read_more(now, sink),
            Source::Stream(stream) => {
                stream.read(STREAM_BUDGET, sink);
                stream.more()
            }
        }
    }

    /// The end for good (`--once`): a partial last line is a line. A
    /// stream finishes its last line itself, at its end.
    pub fn finish(&mut self, sink: LineSink) {
        if let Source::File(file) = self {
            file.finish(sink);
        }
    }

    /// Closes the rotated files whose grace is over by `at` (`--once`: all).
    pub fn close_rotated(&mut self, at: Instant, sink: LineSink) {
        if let Source::File(file) = self {
            file.close_rotated(at, sink);
        }
    }

    /// Stopping: no more events to wait for.
    pub fn stop_watching(&mut self) {
        if let Source::File(file) = self {
            file.stop_watching();
        }
    }

    /// Has the last read stopped at its budget, with more already there
    /// to read? Cooldowns on the lines' time end only once caught up.
    pub fn behind(&self) -> bool {
        match self {
            Source::File(file) => file.behind(),
            Source::Stream(stream) => stream.more(),
        }
    }

    /// Is there nothing more to read, ever? A path never ends.
    pub fn ended(&self) -> bool {
        match self {
            Source::File(_) => false,
            Source::Stream(stream) => stream.ended(),
        }
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            Source::File(_) => None,
            Source::Stream(stream) => stream.error(),
        }
    }

    /// What the service manager shows as our status.
    pub fn status(&self) -> Reading<'_> {
        match self {
            Source::File(file) => file.status(),
            Source::Stream(stream) => Reading::Stream {
                bytes: stream.offset(),
            },
        }
    }

    /// The followed path, whose position a state file keeps; `None` for a
    /// stream.
    pub fn as_path(&self) -> Option<&LogPath> {
        match self {
            Source::File(file) => Some(file.log()),
            Source::Stream(_) => None,
        }
    }
}
