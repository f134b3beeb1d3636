//! The dry run's output: each line that would trigger, on stdout, as it
//! was read (without its newline), or with `--json` one JSON object per
//! line (for `jq`). Kept apart from the gate so that the decision does not
//! know about formats.
//!
//! Write errors never end the process by themselves; a closed pipe is
//! remembered so that the loop can stop, as `grep … | head -1` does.
//!
//! With a state file a printed line is what a spawn is to a command: it
//! must not come out again after a crash. So it is held in memory and
//! handed over with the next save, whose writer prints it just before the
//! state that covers it takes the file's place (`checkpoint::saver`).

use std::io::{BufWriter, Stdout, Write};

use serde_json::{Map, Value, json};

use crate::input::file::follow::LineOrigin;
use crate::react::linetime::Time;

pub struct Printer {
    out: BufWriter<Stdout>,
    /// `--json`: the followed path, which every object names.
    json: Option<String>,
    printed: u64,
    closed: bool,
    /// With a state file: the lines printed but not out yet.
    held: Option<Vec<u8>>,
}

/// What a JSON object tells about a line.
pub struct Details<'a> {
    pub origin: LineOrigin,
    pub groups: &'a [(String, &'a [u8])],
    pub key: Option<&'a [u8]>,
    /// The line's time (§11).
    pub time: Time,
}

impl Printer {
    /// Lines as they are, or JSON objects naming `file` when `json`.
    pub fn new(json: Option<String>) -> Self {
        Printer {
            out: BufWriter::with_capacity(64 << 10, std::io::stdout()),
            json,
            printed: 0,
            closed: false,
            held: None,
        }
    }

    /// From now on lines are held until [`Printer::take_held`] takes them.
    pub fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Does a line need its details (`--json`)?
    pub fn wants_details(&self) -> bool {
        self.json.is_some()
    }

    /// A line would trigger.
    pub fn print(&mut self, line: &[u8], details: Option<Details>) {
        if self.closed {
            return;
        }
        self.printed += 1;
        let json = self.json.as_deref();
        let written = match &mut self.held {
            Some(held) => write_line(held, json, line, details),
            None => write_line(&mut self.out, json, line, details),
        };
        self.note(written);
    }

    /// The lines held so far, to be printed by whoever writes the save
    /// that covers them.
    pub fn take_held(&mut self) -> Vec<u8> {
        self.held.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// How many bytes of lines are held.
    pub fn held_len(&self) -> usize {
        self.held.as_ref().map_or(0, Vec::len)
    }

    /// The reader of what the writer of the saves printed has gone.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// How many lines were printed (would have triggered).
    pub fn printed(&self) -> u64 {
        self.printed
    }

    /// Ends a batch of lines: the output becomes visible.
    pub fn flush(&mut self) {
        // Held lines are printed by the writer of the saves, which may be
        // blocked on a slow reader holding standard output's lock: a
        // flush of nothing would wait for that lock, and the loop with it.
        if !self.closed && self.held.is_none() {
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

/// One line as the output shows it: as it was read, or a JSON object.
fn write_line(
    out: &mut impl Write,
    json: Option<&str>,
    line: &[u8],
    details: Option<Details>,
) -> std::io::Result<()> {
    match (json, details) {
        (Some(file), Some(details)) => {
            let object = to_json(file, line, &details);
            serde_json::to_writer(&mut *out, &object).map_err(std::io::Error::from)?;
        }
        _ => out.write_all(line)?,
    }
    out.write_all(b"\n")
}

/// Bytes that are not UTF-8 are shown with U+FFFD, as a terminal would:
/// JSON strings are text.
fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn to_json(file: &str, line: &[u8], details: &Details) -> Value {
    let groups: Map<String, Value> = details
        .groups
        .iter()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect();
    json!({
        "line": text(line),
        "file": file,
        "offset": details.origin.offset,
        "groups": groups,
        "key": details.key.map(text),
        "time": details.time.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::file::identity::FileId;

    #[test]
    fn an_object_has_every_field_and_survives_bytes_that_are_not_utf8() {
        let groups = [
            ("0".to_owned(), &b"user=b\xffb"[..]),
            ("user".to_owned(), &b"b\xffb"[..]),
        ];
        let details = Details {
            origin: LineOrigin {
                file: FileId {
                    dev: 1,
                    ino: 2,
                    born: None,
                },
                offset: 42,
            },
            groups: &groups,
            key: Some(b"b\xffb"),
            time: Time::from_system(
                std::time::SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_millis(1_764_644_645_120),
            ),
        };
        let object = to_json("/var/log/a.log", b"login user=b\xffb\n<3>", &details);
        assert_eq!(object["line"], "login user=b\u{fffd}b\n<3>");
        assert_eq!(object["file"], "/var/log/a.log");
        assert_eq!(object["offset"], 42);
        assert_eq!(object["groups"]["user"], "b\u{fffd}b");
        assert_eq!(object["key"], "b\u{fffd}b");
        assert_eq!(object["time"], "2025-12-02T03:04:05.12Z");
        let one_line = serde_json::to_string(&object).unwrap();
        assert!(!one_line.contains('\n'), "{one_line}");
    }
}
