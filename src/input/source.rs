//! What the loop reads lines from: a path followed across rotation
//! ([`FileSource`]), standard input as a stream ([`Stream`], `-l -`), or
//! the systemd journal ([`Journal`], whose entries come with fields for
//! the command).
//!
//! The loop talks to this one type, so that it has one shape for every
//! input: a descriptor to wait on, a deadline to come back at, what to do
//! when either arrives (`on_ready`, then `read`), a reload, the position a
//! state file keeps, a status, and whether the input has ended. How a
//! source sees its changes (inotify, polling, poll(2) on a pipe) is its
//! own business; a new kind of input is a new variant here.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use crate::checkpoint::SourceCheckpoint;
use crate::error::{Error, Result};
use crate::input::file::follow::LineOrigin;
use crate::input::file::rotation::LogPath;
use crate::input::file::source::FileSource;
use crate::input::journal::{Entry, Journal};
use crate::input::stream::Stream;
use crate::report::status_line::Reading;

/// How much of a stream one read takes: the loop must get back to its
/// signals and timeouts under a flood.
const STREAM_BUDGET: u64 = 64 << 20;

/// How much of journalctl's output one read takes, for the same reason.
const JOURNAL_BUDGET: usize = 16 << 20;

/// Where a source's lines go: a block of whole lines, where it was read,
/// and, from the journal, the entry it is the message of (its fields go
/// to the command).
pub type SourceSink<'a> = &'a mut dyn FnMut(&[u8], LineOrigin, Option<&Entry<'_>>);

pub enum Source {
    /// Boxed, as the journal: the larger ones by far, and there is one
    /// per process.
    File(Box<FileSource>),
    Stream(Stream),
    Journal(Box<Journal>),
}

impl Source {
    /// The descriptor to wait on for this source, if any.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::File(file) => file.fd(),
            Source::Stream(stream) => stream.fd(),
            Source::Journal(journal) => journal.fd(),
        }
    }

    /// The child process the source runs and reaps itself (journalctl):
    /// not for the daemon's reaping of orphans.
    pub fn child_pid(&self) -> Option<libc::pid_t> {
        match self {
            Source::Journal(journal) => journal.child_pid(),
            Source::File(_) | Source::Stream(_) => None,
        }
    }

    /// When the source wants to be looked at without an event.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        match self {
            Source::File(file) => file.deadline(now),
            Source::Stream(stream) => stream.more().then_some(now),
            Source::Journal(journal) => journal.deadline(now),
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
            // Read whether or not journalctl's output is ready: it is
            // non-blocking, and a restart of journalctl may be due.
            Source::Journal(_) => None,
        }
    }

    /// Reads what is new (everything there is, to `reload`); returns
    /// whether what the checkpoint keeps changed beyond an offset (a
    /// rotation): worth a save at once.
    pub fn read(&mut self, reload: bool, now: Instant, sink: SourceSink) -> bool {
        match self {
            Source::File(file) => file.read(reload, now, &mut |b, o| sink(b, o, None)),
            Source::Stream(stream) => {
                stream.read(STREAM_BUDGET, &mut |b, o| sink(b, o, None));
                false
            }
            // A cursor saves nothing but itself: never worth a save at once.
            Source::Journal(journal) => {
                read_journal(journal, now, sink);
                false
            }
        }
    }

    /// The first look, before the first wait: for a path, the watches are
    /// set and what is new since opening is read. Returns whether that
    /// changed what the checkpoint keeps beyond an offset.
    pub fn begin(&mut self, now: Instant, sink: SourceSink) -> Result<bool> {
        match self {
            Source::File(file) => file.begin(now, &mut |b, o| sink(b, o, None)),
            Source::Stream(_) => Ok(false),
            Source::Journal(journal) => {
                read_journal(journal, now, sink);
                Ok(false)
            }
        }
    }

    /// `--once`: reads one budget's worth; whether there is more.
    pub fn read_more(&mut self, now: Instant, sink: SourceSink) -> bool {
        match self {
            Source::File(file) => file.read_more(now, &mut |b, o| sink(b, o, None)),
            Source::Stream(stream) => {
                stream.read(STREAM_BUDGET, &mut |b, o| sink(b, o, None));
                stream.more()
            }
            Source::Journal(journal) => read_journal(journal, now, sink),
        }
    }

    /// The end for good (`--once`): a partial last line is a line. A
    /// stream finishes its last line itself, at its end; the journal has
    /// no partial lines.
    pub fn finish(&mut self, sink: SourceSink) {
        if let Source::File(file) = self {
            file.finish(&mut |b, o| sink(b, o, None));
        }
    }

    /// Closes the rotated files whose grace is over by `at` (`--once`: all).
    pub fn close_rotated(&mut self, at: Instant, sink: SourceSink) {
        if let Source::File(file) = self {
            file.close_rotated(at, &mut |b, o| sink(b, o, None));
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
            Source::Journal(journal) => journal.behind(),
        }
    }

    /// Is there nothing more to read, ever? A path never ends; the
    /// journal ends with `--once`, or when journalctl keeps failing.
    pub fn ended(&self) -> bool {
        match self {
            Source::File(_) => false,
            Source::Stream(stream) => stream.ended(),
            Source::Journal(journal) => journal.ended(),
        }
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            Source::File(_) => None,
            Source::Stream(stream) => stream.error(),
            Source::Journal(journal) => journal.error(),
        }
    }

    /// What the service manager shows as our status.
    pub fn status(&self) -> Reading<'_> {
        match self {
            Source::File(file) => file.status(),
            Source::Stream(stream) => Reading::Stream {
                bytes: stream.offset(),
            },
            Source::Journal(journal) => Reading::Journal {
                what: journal.name(),
                restarting: journal.restarting(),
            },
        }
    }

    /// The followed path; `None` for a stream or the journal.
    pub fn as_path(&self) -> Option<&LogPath> {
        match self {
            Source::File(file) => Some(file.log()),
            Source::Stream(_) | Source::Journal(_) => None,
        }
    }

    /// What a state file keeps of the source (a path's files and offsets,
    /// the journal's cursor); `None` for a stream.
    pub fn checkpoint(&self) -> Option<&dyn SourceCheckpoint> {
        match self {
            Source::File(file) => Some(file.log()),
            Source::Stream(_) => None,
            Source::Journal(journal) => Some(&**journal),
        }
    }
}

/// Reads one budget of journal entries: each message is a block, whose
/// origin counts the entries read; whether there is more to read at once.
fn read_journal(journal: &mut Journal, now: Instant, sink: SourceSink) -> bool {
    let mut offset = journal.progress();
    journal.read(now, JOURNAL_BUDGET, &mut |message, entry| {
        offset += 1;
        let origin = LineOrigin {
            file: crate::input::journal::JOURNAL,
            offset,
        };
        sink(message, origin, Some(entry));
    })
}
