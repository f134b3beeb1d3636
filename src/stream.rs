//! Standard input as a stream (`-l -`): what `journalctl -f` or
//! `kubectl logs -f` pipe in. A stream has no name to look at again, no
//! offset to keep and nothing to rotate: every byte read is new, and the
//! end of input is the end of the run.
//!
//! Reading must never block the loop, whose signals and timeouts cannot
//! wait for the next line. Standard input is not made non-blocking for
//! this: that flag belongs to the open file, which a terminal or a pipe
//! shares with other processes, and would stay set after we exit. Instead
//! each read is preceded by a poll(2) that says it will not block. Lines
//! are cut by the same bounded `LineBuffer` as files: a line split across
//! writes is one line, and a last line without `\n` is a line at the end.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};

use crate::lines::LineBuffer;
use crate::ready;

#[derive(Debug)]
pub struct Stream {
    /// A duplicate of descriptor 0: reads go straight to it, with no
    /// buffer of the standard library's in between that poll(2) cannot see.
    input: File,
    lines: LineBuffer,
    ended: bool,
    /// Why reading stopped before the end of input, if it did.
    error: Option<String>,
}

impl Stream {
    pub fn stdin() -> io::Result<Self> {
        let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        Ok(Stream {
            input,
            lines: LineBuffer::new(),
            ended: false,
            error: None,
        })
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

    /// Reads what is there, without blocking, until about `budget` bytes;
    /// returns whether it stopped at the budget with more to read.
    pub fn read_available(&mut self, budget: u64, sink: &mut dyn FnMut(&[u8])) -> bool {
        let mut total = 0;
        while !self.ended {
            if total >= budget {
                return true;
            }
            match ready::readable(self.input.as_fd()) {
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
                    self.lines.commit(n, sink);
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

    fn fail(&mut self, err: &io::Error, sink: &mut dyn FnMut(&[u8])) {
        self.error = Some(format!("cannot read standard input: {err}"));
        self.end(sink);
    }

    /// As grep does, a last line without its newline is still a line.
    fn end(&mut self, sink: &mut dyn FnMut(&[u8])) {
        self.lines.finish(sink);
        self.lines.release();
        self.ended = true;
    }
}
