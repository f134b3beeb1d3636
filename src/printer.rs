//! The dry run's output: each line that would trigger, on stdout, as it
//! was read (without its newline). Kept apart from the gate so that other
//! output formats can be added here without touching the decision.
//!
//! Write errors never end the process by themselves; a closed pipe is
//! remembered so that the loop can stop, as `grep … | head -1` does.

use std::io::{BufWriter, Stdout, Write};

pub struct Printer {
    out: BufWriter<Stdout>,
    closed: bool,
}

impl Printer {
    pub fn new() -> Self {
        Printer {
            out: BufWriter::with_capacity(64 << 10, std::io::stdout()),
            closed: false,
        }
    }

    /// A line would trigger.
    pub fn print(&mut self, line: &[u8]) {
        if self.closed {
            return;
        }
        let written = self
            .out
            .write_all(line)
            .and_then(|()| self.out.write_all(b"\n"));
        self.note(written);
    }

    /// Ends a batch of lines: the output becomes visible.
    pub fn flush(&mut self) {
        if !self.closed {
            let flushed = self.out.flush();
            self.note(flushed);
        }
    }

    /// The reader has gone: nobody is left to print for.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn note(&mut self, result: std::io::Result<()>) {
        if let Err(err) = result
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
    }
}

impl Default for Printer {
    fn default() -> Self {
        Printer::new()
    }
}
