//! `--metrics-file`: the counters in Prometheus' text format (SPEC §12),
//! for node_exporter's textfile collector (or anything that reads it).
//!
//! The file is replaced, never edited (and readable by all, 0644, as
//! a collector runs as a user of its own): the text is written to FILE.tmp
//! and renamed over FILE, so that a reader sees the old version or the new
//! one, whole. It is written when the state would be saved (after a spawn,
//! at most once a second while reading advances, at a rotation, at the
//! end), when a command ends, and never while idle: a scrape of an idle
//! monitor reads the same file again, and that is right, as nothing
//! changed. No fsync: after a crash the metrics start over anyway.
//!
//! The writing is done by a thread of its own, as the state file's is, so
//! that a stalled disk never delays the loop; only the latest text
//! matters, so one handed over while a write is under way replaces the one
//! that waited.
//!
//! Every series carries two labels: `monitor`, the metrics file's name
//! without `.prom` (the textfile collector reads a directory of such files,
//! one per monitor, and the label keeps their series apart), and `log`,
//! the followed path as given.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::report::clock;
use crate::report::counters::{CommandResult, Counters};

/// How long the end of a run waits for the last metrics write.
const FINAL_WRITE_PATIENCE: Duration = Duration::from_secs(2);

/// What the file shows besides the counters: the gauges of the moment.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    pub counters: &'a Counters,
    pub keys: usize,
    pub held: usize,
    pub running: usize,
    /// Bytes written to the followed file(s) and not read yet; `None` for
    /// a stream.
    pub lag_bytes: Option<u64>,
}

/// The labels every series carries.
#[derive(Debug, Clone)]
pub struct Labels(String);

impl Labels {
    /// For the metrics file `file`, following `log`.
    pub fn new(file: &Path, log: &str) -> Self {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let monitor = name.strip_suffix(".prom").unwrap_or(&name);
        Labels(format!(
            "monitor=\"{}\",log=\"{}\"",
            escape(monitor),
            escape(log)
        ))
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole file.
pub fn render(labels: &Labels, sample: &Sample) -> String {
    let c = sample.counters;
    let l = &labels.0;
    let mut out = String::with_capacity(4096);
    let mut one = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name}{{{l}}} {value}");
    };
    one(
        "logs2eca_start_time_seconds",
        "gauge",
        "When this logs2eca started, in seconds since the epoch.",
        clock::unix_seconds(c.started),
    );
    one(
        "logs2eca_lines_total",
        "counter",
        "Whole lines read.",
        c.lines as f64,
    );
    one(
        "logs2eca_bytes_total",
        "counter",
        "Bytes of whole lines read.",
        c.bytes as f64,
    );
    one(
        "logs2eca_matches_total",
        "counter",
        "Lines that matched the pattern and not the exclusion.",
        c.matches as f64,
    );
    one(
        "logs2eca_excluded_total",
        "counter",
        "Lines that matched the pattern and the exclusion.",
        c.excluded as f64,
    );
    one(
        "logs2eca_triggers_total",
        "counter",
        "Matches that started the command (or, in a dry run, were printed).",
        c.triggers as f64,
    );
    one(
        "logs2eca_suppressed_total",
        "counter",
        "Matches suppressed: by a cooldown, a full queue or a full key table.",
        c.suppressed as f64,
    );
    one(
        "logs2eca_rotations_total",
        "counter",
        "Times the path named another file, or the file was truncated.",
        c.rotations as f64,
    );
    one(
        "logs2eca_last_trigger_time_seconds",
        "gauge",
        "When the last trigger happened, in seconds since the epoch; 0 before the first.",
        c.last_trigger.map_or(0.0, clock::unix_seconds),
    );
    one(
        "logs2eca_keys_tracked",
        "gauge",
        "Keys with a window, a cooldown or a command.",
        sample.keys as f64,
    );
    one(
        "logs2eca_queue_depth",
        "gauge",
        "Matches held: queued behind their key's run, or waiting for a free slot.",
        sample.held as f64,
    );
    one(
        "logs2eca_commands_running",
        "gauge",
        "Commands running now.",
        sample.running as f64,
    );
    if let Some(lag) = sample.lag_bytes {
        one(
            "logs2eca_lag_bytes",
            "gauge",
            "Bytes written to the followed file and not read yet.",
            lag as f64,
        );
    }
    let name = "logs2eca_commands_total";
    let _ = writeln!(out, "# HELP {name} Commands that ended, by result.");
    let _ = writeln!(out, "# TYPE {name} counter");
    for result in CommandResult::ALL {
        let _ = writeln!(
            out,
            "{name}{{{l},result=\"{}\"}} {}",
            result.label(),
            c.commands(result)
        );
    }
    let name = "logs2eca_command_duration_seconds";
    let _ = writeln!(out, "# HELP {name} How long commands ran.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (le, count) in c.durations.cumulative() {
        let le = le.map_or("+Inf".to_owned(), |le| le.to_string());
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_sum{{{l}}} {}", c.durations.sum);
    let _ = writeln!(out, "{name}_count{{{l}}} {}", c.durations.count);
    out
}

#[derive(Default)]
struct Slot {
    next: Option<String>,
    busy: bool,
    closing: bool,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

/// What `--check` says of a metrics file at `path`: an error when a start
/// would fail to write it (its directory missing or not writable).
pub fn inspect(path: &Path) -> Result<(), String> {
    let cannot = |why: String| format!("cannot write the metrics file {}: {why}", path.display());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(cannot(format!("{} is not a directory", dir.display()))),
        Err(err) => return Err(cannot(format!("{}: {err}", dir.display()))),
    }
    crate::sys::access(dir, libc::W_OK).map_err(|err| cannot(format!("{}: {err}", dir.display())))
}

/// The metrics file and the thread that writes it.
pub struct MetricsFile {
    shared: Shared,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsFile {
    /// Writes `first` to `path` now, on the caller's thread, so that a file
    /// that cannot be written stops the start with the reason; then starts
    /// the thread for the writes that follow.
    pub fn create(path: &Path, first: &str) -> io::Result<Self> {
        let writer = Writer::new(path);
        writer.write(first)?;
        let shared: Shared = Arc::default();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || write_loop(writer, &theirs))?;
        Ok(MetricsFile {
            shared,
            thread: Some(thread),
        })
    }

    /// Hands `text` over to be written.
    pub fn submit(&self, text: String) {
        let (slot, wake) = &*self.shared;
        lock(slot).next = Some(text);
        wake.notify_all();
    }

    /// Waits (briefly) until what was handed over is written.
    pub fn flush(&self) {
        let (slot, wake) = &*self.shared;
        let deadline = Instant::now() + FINAL_WRITE_PATIENCE;
        let mut guard = lock(slot);
        while guard.next.is_some() || guard.busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            guard = match wake.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for MetricsFile {
    fn drop(&mut self) {
        self.flush();
        let (slot, wake) = &*self.shared;
        lock(slot).closing = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.is_finished()
        {
            let _ = thread.join();
        }
    }
}

struct Writer {
    path: PathBuf,
    temp: PathBuf,
    /// The last write failed (and was warned about).
    failing: bool,
}

impl Writer {
    fn new(path: &Path) -> Self {
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        Writer {
            path: path.to_path_buf(),
            temp: temp.into(),
            failing: false,
        }
    }

    /// Readable by all: a collector runs as a user of its own, and the
    /// units' `UMask=0077` would make it ours alone.
    fn write(&self, text: &str) -> io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt;
        let mut file = fs::File::create(&self.temp)?;
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
        file.write_all(text.as_bytes())?;
        drop(file);
        fs::rename(&self.temp, &self.path)
    }

    /// Writes, warning once about failures and once about recovering.
    fn write_logged(&mut self, text: &str) {
        match self.write(text) {
            Ok(()) if self.failing => {
                self.failing = false;
                log::info!("the metrics file {} is written again", self.path.display());
            }
            Ok(()) => {}
            Err(err) if !self.failing => {
                self.failing = true;
                log::warn!(
                    "cannot write the metrics file {}: {err} (retrying at the next write, not logged again)",
                    self.path.display()
                );
            }
            Err(_) => {}
        }
    }
}

fn write_loop(mut writer: Writer, shared: &(Mutex<Slot>, Condvar)) {
    let (slot, wake) = shared;
    loop {
        let text = {
            let mut guard = lock(slot);
            loop {
                if let Some(text) = guard.next.take() {
                    guard.busy = true;
                    break text;
                }
                if guard.closing {
                    return;
                }
                guard = match wake.wait(guard) {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        };
        writer.write_logged(&text);
        lock(slot).busy = false;
        wake.notify_all();
    }
}

/// A poisoned lock still guards whole data (an option and two flags).
fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn sample(counters: &Counters) -> Sample<'_> {
        Sample {
            counters,
            keys: 3,
            held: 2,
            running: 1,
            lag_bytes: Some(40),
        }
    }

    /// The value of the series that starts with `series` (its name and
    /// labels as written).
    fn value(text: &str, series: &str) -> f64 {
        let line = text
            .lines()
            .find(|line| line.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn the_counters_are_written_with_their_labels() {
        let mut c = Counters::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        c.on_block(b"a\nb\n", 1, 1);
        c.on_trigger(UNIX_EPOCH + Duration::from_millis(1_700_000_100_500));
        c.on_command_end(CommandResult::Failed, Some(Duration::from_millis(20)));
        c.on_command_end(CommandResult::Timeout, Some(Duration::from_secs(40)));
        let labels = Labels::new(Path::new("/x/web.prom"), "/var/log/a \"b\".log");
        let text = render(&labels, &sample(&c));
        let l = r#"{monitor="web",log="/var/log/a \"b\".log""#;
        assert_eq!(value(&text, &format!("logs2eca_lines_total{l}}}")), 2.0);
        assert_eq!(value(&text, &format!("logs2eca_bytes_total{l}}}")), 4.0);
        assert_eq!(value(&text, &format!("logs2eca_matches_total{l}}}")), 1.0);
        assert_eq!(value(&text, &format!("logs2eca_excluded_total{l}}}")), 1.0);
        assert_eq!(
            value(&text, &format!("logs2eca_last_trigger_time_seconds{l}}}")),
            1_700_000_100.5
        );
        assert_eq!(
            value(&text, &format!("logs2eca_start_time_seconds{l}}}")),
            1_700_000_000.0
        );
        assert_eq!(value(&text, &format!("logs2eca_lag_bytes{l}}}")), 40.0);
        assert_eq!(value(&text, &format!("logs2eca_queue_depth{l}}}")), 2.0);
        for (result, n) in [
            ("ok", 0.0),
            ("failed", 1.0),
            ("timeout", 1.0),
            ("killed", 0.0),
        ] {
            let series = format!("logs2eca_commands_total{l},result=\"{result}\"}}");
            assert_eq!(value(&text, &series), n, "{result}");
        }
        let bucket = |le: &str| {
            value(
                &text,
                &format!("logs2eca_command_duration_seconds_bucket{l},le=\"{le}\"}}"),
            )
        };
        assert_eq!(bucket("0.01"), 0.0);
        assert_eq!(bucket("0.1"), 1.0);
        assert_eq!(bucket("60"), 2.0);
        assert_eq!(bucket("+Inf"), 2.0);
        assert_eq!(
            value(
                &text,
                &format!("logs2eca_command_duration_seconds_count{l}}}")
            ),
            2.0
        );
    }

    #[test]
    fn every_series_has_help_and_type_once() {
        let c = Counters::new(SystemTime::now());
        let text = render(&Labels::new(Path::new("m.prom"), "-"), &sample(&c));
        let mut names = Vec::new();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).unwrap();
            assert!(!names.contains(&name), "{name} twice");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            names.push(name);
        }
        assert!(names.len() >= 15, "{names:?}");
    }

    #[test]
    fn a_stream_has_no_lag_in_bytes() {
        let c = Counters::new(SystemTime::now());
        let mut s = sample(&c);
        s.lag_bytes = None;
        let text = render(&Labels::new(Path::new("m.prom"), "-"), &s);
        assert!(!text.contains("logs2eca_lag_bytes"), "{text}");
    }

    #[test]
    fn the_file_is_replaced_whole_and_the_last_text_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        let file = MetricsFile::create(&path, "first\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        for n in 0..50 {
            file.submit(format!("text {n}\n"));
        }
        file.flush();
        assert_eq!(fs::read_to_string(&path).unwrap(), "text 49\n");
        assert!(!dir.path().join("m.prom.tmp").exists());
    }

    #[test]
    fn a_file_that_cannot_be_written_fails_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        let err = MetricsFile::create(&dir.path().join("no/such/dir/m.prom"), "x").err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
    }
}
