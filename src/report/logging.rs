//! Logging to stderr, where systemd's journal and `docker logs` pick it up.
//!
//! Three promises: logging never makes the daemon wait (lines go through a
//! bounded queue to a writer thread, see `queue`), no write to stderr ever
//! panics, and every line reads right where it lands (journal priorities
//! when stderr is the journal, a timestamp otherwise; one message is always
//! one line, see `line`).
//!
//! Which records are written is env_logger's filter, kept for its `RUST_LOG`
//! syntax (`info`, `logs2eca::action=debug`, ...); `-v`/`-q` win over
//! `RUST_LOG`, which wins over the default (info). Formatting and writing
//! are ours, since env_logger writes to stderr in the calling thread.

mod line;
mod queue;

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsFd;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use log::{LevelFilter, Log, Metadata, Record};

use crate::error::{Error, Result};
use line::Format;
use queue::Queue;

/// Bytes of log lines waiting for a slow stderr before lines are dropped:
/// a few hundred lines, a small fraction of the daemon's memory.
const QUEUE_CAPACITY: usize = 64 << 10;

/// How long an exit waits for stderr to take the last lines. A reader that
/// takes longer does not keep the process (and its service) from stopping.
const EXIT_FLUSH: Duration = Duration::from_secs(1);

/// Where every line to stderr goes, once the format is known.
struct Output {
    format: Format,
    /// `None` if no thread could be started: lines are then written
    /// directly (a process that cannot start a thread has worse problems
    /// than a stalled stderr).
    queue: Option<Queue>,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// The settings that decide what is logged and how (`RUST_LOG` aside).
pub struct Settings<'a> {
    /// `--log-format`.
    pub format: Option<&'a str>,
    /// `-v`, counted.
    pub verbose: u8,
    /// `-q`, counted.
    pub quiet: u8,
}

/// Sets up logging from `--log-format`, `-v`/`-q` and `RUST_LOG`.
pub fn init(settings: &Settings<'_>) -> Result<()> {
    let format = match settings.format.map(str::trim) {
        None | Some("" | "auto") => detect_format(),
        Some("journal") => Format::Journal,
        Some("plain") => Format::Plain,
        Some(other) => {
            return Err(Error::usage(format!(
                "invalid --log-format '{other}': expected auto, journal or plain"
            )));
        }
    };
    output_with(format);
    let filter = filter(settings);
    let max_level = filter.filter();
    if log::set_boxed_logger(Box::new(Logger { filter })).is_ok() {
        log::set_max_level(max_level);
    }
    Ok(())
}

/// Queues the line an exit with an error ends with, `logs2eca: <message>`,
/// whatever the log level. Works before `init` too (usage errors), in the
/// format the environment calls for.
pub fn fatal(message: &str) {
    let output = OUTPUT.get_or_init(|| Output::start(detect_format()));
    let format = output.format;
    output.write(true, |out| line::render_fatal(format, message, out));
}

/// Writes out what is queued before the process exits, waiting at most
/// `EXIT_FLUSH` for a stalled stderr.
pub fn finish() {
    if let Some(Output {
        queue: Some(queue), ..
    }) = OUTPUT.get()
    {
        queue.flush(EXIT_FLUSH);
    }
}

fn output_with(format: Format) -> &'static Output {
    OUTPUT.get_or_init(|| Output::start(format))
}

impl Output {
    fn start(format: Format) -> Output {
        let report: queue::DropReport = Box::new(move |n, out| {
            let message = format!("{n} log line(s) dropped: stderr was not read fast enough");
            line::render(format, log::Level::Warn, &message, SystemTime::now(), out);
        });
        Output {
            format,
            queue: Queue::start(std::io::stderr(), QUEUE_CAPACITY, report).ok(),
        }
    }

    fn write(&self, always: bool, render: impl FnOnce(&mut Vec<u8>)) {
        match &self.queue {
            Some(queue) if always => queue.push_always(render),
            Some(queue) => queue.push(render),
            None => {
                let mut bytes = Vec::new();
                render(&mut bytes);
                let _ = std::io::Write::write_all(&mut std::io::stderr(), &bytes);
            }
        }
    }
}

/// Formats records and hands them to the queue; env_logger decides which.
struct Logger {
    filter: env_logger::Logger,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let Some(output) = OUTPUT.get() else { return };
        let message = record.args().to_string();
        let (format, level) = (output.format, record.level());
        output.write(false, |out| {
            line::render(format, level, &message, SystemTime::now(), out)
        });
    }

    fn flush(&self) {}
}

fn filter(settings: &Settings<'_>) -> env_logger::Logger {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(LevelFilter::Info);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let level = match (settings.verbose, settings.quiet) {
        (0, 0) => None,
        (1, _) => Some(LevelFilter::Debug),
        (2.., _) => Some(LevelFilter::Trace),
        (_, 1) => Some(LevelFilter::Warn),
        (_, 2) => Some(LevelFilter::Error),
        (_, _) => Some(LevelFilter::Off),
    };
    if let Some(level) = level {
        builder.filter_level(level);
    }
    builder.build()
}

/// The journal when stderr is a stream systemd connected to it. The
/// variable alone proves nothing: children inherit it while their stderr
/// goes elsewhere (`cmd 2>file` in a unit's script), so the device and
/// inode it names must be those of our stderr.
fn detect_format() -> Format {
    let stream = std::env::var_os("JOURNAL_STREAM");
    if is_journal(stream.as_deref(), stderr_identity()) {
        Format::Journal
    } else {
        Format::Plain
    }
}

fn stderr_identity() -> Option<(u64, u64)> {
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Whether `JOURNAL_STREAM` (`DEVICE:INODE`, in decimal) names `stderr`.
fn is_journal(journal_stream: Option<&OsStr>, stderr: Option<(u64, u64)>) -> bool {
    let Some((dev, ino)) = journal_stream
        .and_then(OsStr::to_str)
        .and_then(|value| value.split_once(':'))
    else {
        return false;
    };
    match (dev.parse::<u64>(), ino.parse::<u64>()) {
        (Ok(dev), Ok(ino)) => stderr == Some((dev, ino)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_stderr_itself() {
        let stderr = Some((2049, 123_456));
        let named = |s: &str| is_journal(Some(OsStr::new(s)), stderr);
        assert!(named("2049:123456"));
        assert!(!named("2049:123457"), "another file");
        assert!(!named("2050:123456"), "another device");
        assert!(!named(""));
        assert!(!named("2049"));
        assert!(!named("x:123456"));
        assert!(!named("2049:123456:7"));
        assert!(!is_journal(None, stderr), "no variable");
        assert!(!is_journal(Some(OsStr::new("2049:123456")), None));
    }
}
