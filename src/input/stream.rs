//! Standard input as a stream (`-l -`): what `journalctl -f` or
//! `kubectl logs -f` pipe in. A stream has no name to look at again, no
//! position to keep and nothing to rotate: every byte read is new, and the
//! end of input is the end of the run.
//!
//! Reading must never block the loop, whose signals and timeouts cannot
//! wait for the next line. Standard input is not made non-blocking for
//! this: that flag belongs to the open file, which a terminal or a pipe
//! shares with other processes, and would stay set after we exit. Instead
//! each read is preceded by a poll(2) that says it will not block. Lines
//! are cut by the same bounded `LineBuffer` as files: a line split across
//! writes is one line, and a last line without `\n` is a line at the end.
//!
//! Blocks carry an origin as a file's do ([`crate::input::file::follow::LineOrigin`]), so
//! that the reaction treats both alike: the stream's identity is fixed
//! ([`STREAM`]) and its offset counts the bytes read. Nothing saves it: a
//! stream has no state file.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};

use crate::input::file::follow::{BufferOrigin, LineSink};
use crate::input::file::identity::FileId;
use crate::input::file::lines::LineBuffer;
use crate::sys;

/// The identity blocks read from a stream carry: no file has it (no file
/// system has device 0 and inode 0).
pub const STREAM: FileId = FileId {
    dev: 0,
    ino: 0,
    born: None,
};

#[derive(Debug)]
pub struct Stream {
    /// A duplicate of descriptor 0: reads go straight to it, with no
    /// buffer of the standard library's in between that poll(2) cannot see.
    input: File,
    lines: LineBuffer,
    /// Bytes read so far: where the next read starts in the stream.
    offset: u64,
    ended: bool,
    /// Why reading stopped before the end of input, if it did.
    error: Option<String>,
    /// poll(2) said there is input (or its end) since the last read.
    ready: bool,
    /// The last read stopped at its budget: read on without waiting.
    more: bool,
}

impl Stream {
    pub fn stdin() -> io::Result<Self> {
        let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        Ok(Stream {
            input,
            lines: LineBuffer::new(),
            offset: 0,
            ended: false,
            error: None,
            ready: false,
            more: false,
        })
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What to wait on for more input; `None` once it has ended (a pipe
    /// at its end is always "ready").
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.ended).then(|| self.input.as_fd())
    }

    /// Has the input ended (or failed)?
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Why the input could not be read to its end, if so.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// poll(2) said the input is ready (or not).
    pub fn note_ready(&mut self, ready: bool) {
        self.ready |= ready;
    }

    /// Did the last read stop at its budget?
    pub fn more(&self) -> bool {
        self.more
    }

    /// Reads, if the input was ready or a read is pending, until about
    /// `budget` bytes.
    pub fn read(&mut self, budget: u64, sink: LineSink) {
        if std::mem::take(&mut self.ready) || self.more {
            self.more = self.read_available(budget, sink);
        }
    }

    /// Reads what is there, without blocking, until about `budget` bytes;
    /// returns whether it stopped at the budget with more to read.
    fn read_available(&mut self, budget: u64, sink: LineSink) -> bool {
        let mut total = 0;
        while !self.ended {
            if total >= budget {
                return true;
            }
            match sys::readable(self.input.as_fd()) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(err) => {
                    self.fail(&err, sink);
                    break;
                }
            }
            match self.input.read(self.lines.spare()) {
                Ok(0) => {
                    log::info!("end of standard input");
                    self.end(sink);
                }
                Ok(n) => {
                    let origin = self.buffer_origin();
                    self.offset += n as u64;
                    self.lines
                        .commit(n, &mut |block| sink(block, origin.at(block)));
                    total += n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // Someone else made it non-blocking, and another reader
                // took what poll(2) saw.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
                Err(err) => self.fail(&err, sink),
            }
        }
        false
    }

    fn fail(&mut self, err: &io::Error, sink: LineSink) {
        self.error = Some(format!("cannot read standard input: {err}"));
        self.end(sink);
    }

    /// As grep does, a last line without its newline is still a line.
    fn end(&mut self, sink: LineSink) {
        let origin = self.buffer_origin();
        self.lines
            .finish(&mut |block| sink(block, origin.at(block)));
        self.lines.release();
        self.ended = true;
    }

    /// Where the line buffer's first byte is in the stream.
    fn buffer_origin(&self) -> BufferOrigin {
        BufferOrigin::new(STREAM, self.offset, &self.lines)
    }
}
