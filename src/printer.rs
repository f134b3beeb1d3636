//! The dry run's output: each line that would trigger, on stdout, as it
//! was read (without its newline). Kept apart from the gate so that other
//! output formats can be added here without touching the decision.

use std::io::{BufWriter, Stdout, Write};

pub struct Printer {
    out: BufWriter<Stdout>,
}

impl Printer {
    pub fn new() -> Self {
        Printer {
            out: BufWriter::with_capacity(64 << 10, std::io::stdout()),
        }
    }

    /// A line would trigger.
    pub fn print(&mut self, line: &[u8]) {
        // A closed stdout (`| head`) is not worth dying for mid-run.
        let _ = self
            .out
            .write_all(line)
            .and_then(|()| self.out.write_all(b"\n"));
    }

    /// Ends a batch of lines: the output becomes visible.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Default for Printer {
    fn default() -> Self {
        Printer::new()
    }
}
