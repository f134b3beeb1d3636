//! `logs2eca status [STATE_FILE | NAME]`: what a monitor is doing, read
//! from its state file (SPEC §12), for people or, with `--json`, for
//! scripts. What fail2ban-client status JAIL is to a jail.
//!
//! The state file is read without its lock: it is replaced by a rename at
//! each save, so a reader sees one whole version, and a running daemon is
//! neither stopped nor slowed by a look. What it shows is as of the last
//! save (at most a second behind a daemon that is reading, and exact for
//! an idle one: nothing changed since); the lag is measured now, against
//! the file's size.
//!
//! Whether the daemon runs is told from the pid its lock file keeps and
//! whether that process is a logs2eca; the lock itself is not touched.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::checkpoint::state::{FileRecord, GateSettings, KeyRecord, State, WallTime};
use crate::error::{Error, Result};
use crate::input::file::identity::FileId;
use crate::report::clock;

/// Where the template unit `logs2eca@NAME` keeps its state.
pub const UNIT_STATE_ROOT: &str = "/var/lib/logs2eca";

/// How many keys are shown unless asked otherwise.
pub const DEFAULT_KEYS: usize = 20;

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub target: Option<String>,
    pub json: bool,
    /// At most this many keys; 0: all.
    pub keys: usize,
}

/// Prints the report (the one place that writes to stdout).
pub fn run(request: &Request) -> Result<()> {
    let path = state_path(
        request.target.as_deref(),
        std::env::var_os("STATE_DIRECTORY"),
    )?;
    let bytes = fs::read(&path).map_err(|err| {
        let hint = match &request.target {
            Some(name) if !name.contains('/') && err.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    " (a word without / names a logs2eca@{name} monitor; write ./{name} for a file here)"
                )
            }
            _ => String::new(),
        };
        Error::failure(format!(
            "cannot read the state file {}: {err}{hint}",
            path.display()
        ))
    })?;
    let state = State::from_json(&bytes)
        .map_err(|why| Error::failure(format!("the state file {} is {why}", path.display())))?;
    let report = Report::gather(&path, &state, SystemTime::now(), daemon(&path));
    let text = if request.json {
        let mut text = report.json(request.keys).to_string();
        text.push('\n');
        text
    } else {
        report.text(request.keys)
    };
    use std::io::Write as _;
    // A closed stdout (`| head`) is no failure.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}

/// The state file a target names: a path (it has a `/`), a monitor's NAME
/// (a word without one), or, with none, `$STATE_DIRECTORY/state.json`.
pub fn state_path(
    target: Option<&str>,
    state_directory: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    match target.filter(|t| !t.is_empty()) {
        Some(path) if path.contains('/') => Ok(PathBuf::from(path)),
        Some(name) if name == "." || name == ".." => Err(Error::usage(format!(
            "'{name}' is not a monitor name: give a state file or a NAME"
        ))),
        Some(name) => Ok(Path::new(UNIT_STATE_ROOT).join(name).join("state.json")),
        None => {
            let dir = state_directory
                .as_deref()
                .and_then(|dirs| {
                    use std::os::unix::ffi::OsStrExt;
                    dirs.as_bytes().split(|&b| b == b':').next()
                })
                .filter(|dir| !dir.is_empty())
                .ok_or_else(|| {
                    Error::usage(
                        "status: give a state file or a monitor NAME (STATE_DIRECTORY is not set)",
                    )
                })?;
            use std::os::unix::ffi::OsStrExt;
            Ok(Path::new(std::ffi::OsStr::from_bytes(dir)).join("state.json"))
        }
    }
}

/// Is a logs2eca running with this state file? From the pid in its lock
/// file: `None` when there is no pid to go by.
fn daemon(state: &Path) -> Option<(u32, bool)> {
    let mut lock = state.as_os_str().to_owned();
    lock.push(".lock");
    let pid: u32 = fs::read_to_string(lock).ok()?.trim().parse().ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some((pid, comm.trim_end() == "logs2eca"))
}

/// One open file, as saved, and how far behind reading it is now.
#[derive(Debug)]
struct FileView {
    path: PathBuf,
    offset: u64,
    /// Its size now, if the same file is still where it was last seen.
    size: Option<u64>,
}

impl FileView {
    fn of(record: &FileRecord) -> Self {
        let size = fs::metadata(&record.path)
            .ok()
            .filter(|m| record.at.identity.id.is(&FileId::at(&record.path, m)))
            .map(|m| m.len());
        FileView {
            path: record.path.clone(),
            offset: record.at.offset,
            size,
        }
    }

    fn lag(&self) -> Option<u64> {
        self.size.map(|size| size.saturating_sub(self.offset))
    }
}

/// One key, with its times made relative to now.
#[derive(Debug)]
struct KeyView {
    key: Vec<u8>,
    /// Matches within the threshold window now.
    in_window: usize,
    running: bool,
    cooldown_ends: Option<SystemTime>,
    cooldown_left: Option<Duration>,
    suppressed: u64,
    held: usize,
    /// When a failed command of the key is retried (`--retry`).
    retry_due: Option<SystemTime>,
    /// When the key's undo runs (`--undo`); none while it waits for the
    /// end of the key's command, which postponed it.
    undo_due: Option<SystemTime>,
    /// The key's latest activity: the order keys are shown in.
    recent: SystemTime,
}

#[derive(Debug)]
struct Report {
    state_file: PathBuf,
    followed: PathBuf,
    saved: SystemTime,
    now: SystemTime,
    daemon: Option<(u32, bool)>,
    current: Option<FileView>,
    rotated: Vec<FileView>,
    gate: Option<GateSettings>,
    held_triggers: usize,
    held_queued: usize,
    held_lines: Vec<String>,
    keys: Vec<KeyView>,
    /// Retries backing off and undos pending.
    retries: usize,
    undos: usize,
}

/// How many held lines are listed.
const HELD_SHOWN: usize = 5;
/// How much of each is shown.
const HELD_LINE_CUT: usize = 120;

impl Report {
    fn gather(path: &Path, state: &State, now: SystemTime, daemon: Option<(u32, bool)>) -> Self {
        let gate = state.gate.settings;
        let mut keys: Vec<KeyView> = state
            .gate
            .keys
            .iter()
            .map(|key| key_view(key, gate, now, state))
            .collect();
        keys.sort_by(|a, b| b.recent.cmp(&a.recent).then_with(|| a.key.cmp(&b.key)));
        let held_triggers = state.gate.held.iter().filter(|h| h.trigger).count();
        Report {
            state_file: path.to_path_buf(),
            followed: state.path.clone(),
            saved: state.saved_unix_ms.to_system(),
            now,
            daemon,
            current: state.files.current.as_ref().map(FileView::of),
            rotated: state.files.rotated.iter().map(FileView::of).collect(),
            gate,
            held_triggers,
            held_queued: state.gate.held.len() - held_triggers,
            held_lines: state
                .gate
                .held
                .iter()
                .take(HELD_SHOWN)
                .map(|h| {
                    let text = String::from_utf8_lossy(&h.line);
                    text.chars().take(HELD_LINE_CUT).collect()
                })
                .collect(),
            keys,
            retries: pending(state, "do"),
            undos: pending(state, "undo"),
        }
    }

    /// Bytes not read yet in every open file; `None` if any is unknown.
    fn lag(&self) -> Option<u64> {
        self.current
            .iter()
            .chain(&self.rotated)
            .map(FileView::lag)
            .sum()
    }

    fn text(&self, limit: usize) -> String {
        let mut out = String::new();
        let mut row = |label: &str, value: String| {
            let _ = writeln!(out, "{label:<10} {value}");
        };
        row("state", self.state_file.display().to_string());
        row(
            "saved",
            format!(
                "{} ({} ago)",
                clock::utc(self.saved),
                clock::span(self.now.duration_since(self.saved).unwrap_or_default())
            ),
        );
        row(
            "daemon",
            match self.daemon {
                Some((pid, true)) => format!("running (pid {pid})"),
                Some((pid, false)) => format!("not running (last pid {pid})"),
                None => "not running".to_owned(),
            },
        );
        row("follows", self.followed.display().to_string());
        let describe = |file: &FileView| match file.size {
            Some(size) => format!(
                "{} at offset {} of {size} ({} byte(s) not read yet)",
                file.path.display(),
                file.offset,
                size.saturating_sub(file.offset)
            ),
            None => format!(
                "{} at offset {} (the file is no longer there)",
                file.path.display(),
                file.offset
            ),
        };
        row(
            "file",
            self.current
                .as_ref()
                .map_or("none: waiting for it to appear".to_owned(), describe),
        );
        for file in &self.rotated {
            row("rotated", format!("{} (being finished)", describe(file)));
        }
        if let Some(gate) = self.gate {
            let mut settings = format!("cooldown {}", clock::span_ms(gate.wait_ms));
            if gate.threshold > 1 {
                let _ = write!(
                    settings,
                    ", threshold {} in {}",
                    gate.threshold,
                    clock::span_ms(gate.window_ms)
                );
            }
            row("settings", settings);
        }
        if self.retries + self.undos > 0 {
            row(
                "pending",
                format!(
                    "{} retry(ies), {} undo(s) (their times per key with --json)",
                    self.retries, self.undos
                ),
            );
        }
        row(
            "held",
            match (self.held_triggers, self.held_queued) {
                (0, 0) => "nothing".to_owned(),
                (t, q) => format!("{t} trigger(s) waiting for a slot, {q} match(es) queued"),
            },
        );
        for line in &self.held_lines {
            let _ = writeln!(out, "           {line}");
        }
        let shown = self.shown(limit);
        let _ = writeln!(
            out,
            "keys       {}{}",
            self.keys.len(),
            if shown.len() < self.keys.len() {
                format!(" (the {} most recent shown)", shown.len())
            } else if self.keys.len() > 1 {
                " (most recent first)".to_owned()
            } else {
                String::new()
            }
        );
        if !shown.is_empty() {
            let _ = writeln!(
                out,
                "  {:<24} {:>9} {:>14} {:>7} {:>10} {:>4}",
                "KEY", "IN WINDOW", "COOLDOWN LEFT", "RUNNING", "SUPPRESSED", "HELD"
            );
        }
        for key in shown {
            let name = if key.key.is_empty() {
                "(every line)".to_owned()
            } else {
                String::from_utf8_lossy(&key.key).into_owned()
            };
            // A running key's cooldown starts when its command ends.
            let cooldown = key.cooldown_left.map_or("-".to_owned(), clock::span);
            let _ = writeln!(
                out,
                "  {:<24} {:>9} {:>14} {:>7} {:>10} {:>4}",
                name,
                key.in_window,
                cooldown,
                if key.running { "yes" } else { "no" },
                key.suppressed,
                key.held
            );
        }
        out
    }

    fn shown(&self, limit: usize) -> &[KeyView] {
        let n = if limit == 0 {
            self.keys.len()
        } else {
            limit.min(self.keys.len())
        };
        &self.keys[..n]
    }

    fn json(&self, limit: usize) -> Value {
        let time = |t: SystemTime| json!({"utc": clock::utc(t), "unix": clock::unix_seconds(t)});
        let file = |f: &FileView| {
            json!({
                "path": f.path.to_string_lossy(),
                "offset": f.offset,
                "size": f.size,
                "lag_bytes": f.lag(),
            })
        };
        let keys: Vec<Value> = self
            .shown(limit)
            .iter()
            .map(|k| {
                json!({
                    "key": String::from_utf8_lossy(&k.key),
                    "in_window": k.in_window,
                    "running": k.running,
                    "cooldown_ends": k.cooldown_ends.map(time),
                    "cooldown_left_seconds": k.cooldown_left.map(|d| d.as_secs_f64()),
                    "suppressed": k.suppressed,
                    "held": k.held,
                    "retry_due": k.retry_due.map(time),
                    "undo_due": k.undo_due.map(time),
                })
            })
            .collect();
        json!({
            "state_file": self.state_file.to_string_lossy(),
            "follows": self.followed.to_string_lossy(),
            "saved": time(self.saved),
            "saved_seconds_ago": self.now.duration_since(self.saved).unwrap_or_default().as_secs_f64(),
            "daemon": {
                "running": self.daemon.is_some_and(|(_, running)| running),
                "pid": self.daemon.map(|(pid, _)| pid),
            },
            "current": self.current.as_ref().map(file),
            "rotated": self.rotated.iter().map(file).collect::<Vec<_>>(),
            "lag_bytes": self.lag(),
            "settings": self.gate.map(|g| json!({
                "wait_seconds": g.wait_ms as f64 / 1000.0,
                "threshold": g.threshold,
                "window_seconds": g.window_ms as f64 / 1000.0,
            })),
            "held": {
                "triggers": self.held_triggers,
                "queued": self.held_queued,
                "lines": self.held_lines,
            },
            "pending": {"retries": self.retries, "undos": self.undos},
            "keys_tracked": self.keys.len(),
            "keys": keys,
        })
    }
}

fn key_view(
    key: &KeyRecord,
    gate: Option<GateSettings>,
    now: SystemTime,
    state: &State,
) -> KeyView {
    let window: Vec<SystemTime> = key.window_unix_ms.iter().map(|t| t.to_system()).collect();
    let in_window = match gate {
        Some(gate) if gate.window_ms > 0 => {
            let span = Duration::from_millis(gate.window_ms);
            window
                .iter()
                .filter(|&&t| now.duration_since(t).unwrap_or_default() < span)
                .count()
        }
        _ => window.len(),
    };
    let last_end = key.last_end_unix_ms.map(|t| t.to_system());
    // A running key's cooldown starts when its command ends: its
    // `last_end` is the save's time, for a restart to hold the cooldown.
    let running = state.runner.running.iter().any(|r| r.key == key.key);
    let cooldown_ends = match (gate, last_end, running) {
        (Some(gate), Some(end), false) => Some(end + Duration::from_millis(gate.wait_ms)),
        _ => None,
    };
    let cooldown_left = cooldown_ends
        .and_then(|end| end.duration_since(now).ok())
        .filter(|left| !left.is_zero());
    let recent = window
        .iter()
        .copied()
        .chain(last_end)
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    KeyView {
        key: key.key.clone(),
        in_window,
        running,
        cooldown_ends: cooldown_ends.filter(|_| cooldown_left.is_some()),
        cooldown_left,
        suppressed: key.suppressed,
        held: state.gate.held.iter().filter(|h| h.key == key.key).count(),
        retry_due: job_due(state, "do", &key.key),
        undo_due: job_due(state, "undo", &key.key),
        recent,
    }
}

/// How many runs of `action` the state has pending: retries backing off
/// (not runs to do again at once), undos (postponed ones too).
fn pending(state: &State, action: &str) -> usize {
    state
        .runner
        .jobs
        .iter()
        .filter(|job| job.action == action && (action == "undo" || job.due_unix_ms.is_some()))
        .count()
}

/// When the state's pending `action` run of `key` is due: a retry backing
/// off, or an undo not postponed (a run to do at once has no time).
fn job_due(state: &State, action: &str, key: &[u8]) -> Option<SystemTime> {
    state
        .runner
        .jobs
        .iter()
        .find(|job| job.action == action && job.key == key && !job.held)
        .and_then(|job| job.due_unix_ms)
        .map(WallTime::to_system)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::state::{HeldRecord, JobRecord, RunningRecord};

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn state() -> State {
        let mut state = State::new(
            Path::new("/var/log/app.log"),
            WallTime::from_unix_ms(100_000),
        );
        state.gate.settings = Some(GateSettings {
            wait_ms: 30_000,
            threshold: 3,
            window_ms: 60_000,
        });
        state.gate.keys = vec![
            KeyRecord {
                key: b"old".to_vec(),
                window_unix_ms: vec![WallTime::from_unix_ms(10_000)],
                ..KeyRecord::default()
            },
            KeyRecord {
                key: b"cooling".to_vec(),
                last_end_unix_ms: Some(WallTime::from_unix_ms(90_000)),
                suppressed: 4,
                ..KeyRecord::default()
            },
            KeyRecord {
                key: b"counting".to_vec(),
                window_unix_ms: vec![
                    WallTime::from_unix_ms(20_000),
                    WallTime::from_unix_ms(80_000),
                ],
                ..KeyRecord::default()
            },
            KeyRecord {
                key: b"busy".to_vec(),
                last_end_unix_ms: Some(WallTime::from_unix_ms(100_000)),
                ..KeyRecord::default()
            },
        ];
        state.runner.running = vec![RunningRecord {
            pgid: 4242,
            start_ticks: 1,
            key: b"busy".to_vec(),
        }];
        state.gate.held = vec![
            HeldRecord {
                line: b"ERROR busy again".to_vec(),
                trigger: false,
                key: b"busy".to_vec(),
                key_from_line: false,
                fields: Vec::new(),
            },
            HeldRecord {
                line: b"ERROR busy once more".to_vec(),
                trigger: false,
                key: b"busy".to_vec(),
                key_from_line: false,
                fields: Vec::new(),
            },
        ];
        state
    }

    #[test]
    fn keys_come_most_recent_first_with_their_times_as_of_now() {
        let report = Report::gather(Path::new("/s/state.json"), &state(), at(100_500), None);
        let order: Vec<&[u8]> = report.keys.iter().map(|k| &k.key[..]).collect();
        assert_eq!(order, [&b"busy"[..], b"cooling", b"counting", b"old"]);
        let [busy, cooling, counting, old] = &report.keys[..] else {
            panic!()
        };
        assert!(busy.running && busy.cooldown_left.is_none());
        assert_eq!(busy.held, 2);
        assert_eq!(cooling.cooldown_left, Some(Duration::from_millis(19_500)));
        assert_eq!(cooling.cooldown_ends, Some(at(120_000)));
        assert_eq!(
            counting.in_window, 1,
            "the match at 20s is out of the minute"
        );
        assert_eq!(old.in_window, 0);
        let json = report.json(2);
        assert_eq!(json["keys_tracked"], 4);
        assert_eq!(json["keys"].as_array().unwrap().len(), 2, "bounded");
        assert_eq!(json["keys"][1]["cooldown_left_seconds"], 19.5);
        assert_eq!(json["held"]["queued"], 2);
        assert_eq!(json["saved"]["utc"], "1970-01-01T00:01:40Z");
    }

    #[test]
    fn the_text_has_the_source_the_save_and_a_row_per_key() {
        let report = Report::gather(Path::new("/s/state.json"), &state(), at(101_000), None);
        let text = report.text(3);
        assert!(
            text.contains("saved      1970-01-01T00:01:40Z (1s ago)"),
            "{text}"
        );
        assert!(
            text.contains("file       none: waiting for it to appear"),
            "{text}"
        );
        assert!(
            text.contains("cooldown 30s, threshold 3 in 1m 0s"),
            "{text}"
        );
        assert!(
            text.contains("keys       4 (the 3 most recent shown)"),
            "{text}"
        );
        assert!(text.contains("ERROR busy again"), "{text}");
        let cooling = text.lines().find(|l| l.contains("cooling")).unwrap();
        assert_eq!(
            cooling.split_whitespace().collect::<Vec<_>>(),
            ["cooling", "0", "19s", "no", "4", "0"]
        );
        assert!(!text.contains(" old "), "beyond the bound: {text}");
    }

    /// A retry backing off and an undo pending show their times per key
    /// (`--json`) and their counts; an undo postponed by a run has none.
    #[test]
    fn retries_and_undos_pending_show_when_they_are_due() {
        let mut with_jobs = state();
        let job = |action: &str, key: &[u8], due: Option<u64>, held: bool| JobRecord {
            action: action.to_owned(),
            key: key.to_vec(),
            env: Vec::new(),
            attempt: 2,
            due_unix_ms: due.map(WallTime::from_unix_ms),
            held,
        };
        with_jobs.runner.jobs = vec![
            job("do", b"cooling", Some(130_000), false),
            job("undo", b"counting", Some(3_700_000), false),
            job("undo", b"busy", Some(3_600_000), true),
            job("do", b"busy", None, false),
        ];
        let report = Report::gather(Path::new("/s/state.json"), &with_jobs, at(100_500), None);
        let json = report.json(0);
        let key = |name: &str| {
            json["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["key"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(key("cooling")["retry_due"]["unix"], 130.0);
        assert_eq!(key("cooling")["undo_due"], Value::Null);
        assert_eq!(key("counting")["undo_due"]["utc"], "1970-01-01T01:01:40Z");
        assert_eq!(key("busy")["undo_due"], Value::Null, "postponed");
        assert_eq!(key("busy")["retry_due"], Value::Null, "to run at once");
        assert_eq!(json["pending"], json!({"retries": 1, "undos": 2}));
        assert!(
            report
                .text(0)
                .contains("pending    1 retry(ies), 2 undo(s) (their times per key with --json)"),
            "{}",
            report.text(0)
        );
        let none = Report::gather(Path::new("/s/state.json"), &state(), at(100_500), None);
        assert!(!none.text(0).contains("pending"));
    }

    #[test]
    fn a_word_is_a_monitor_a_path_is_a_file() {
        assert_eq!(
            state_path(Some("web"), None).unwrap(),
            Path::new("/var/lib/logs2eca/web/state.json")
        );
        assert_eq!(
            state_path(Some("./s.json"), None).unwrap(),
            Path::new("./s.json")
        );
        assert_eq!(
            state_path(None, Some("/var/lib/logs2eca/x:/other".into())).unwrap(),
            Path::new("/var/lib/logs2eca/x/state.json")
        );
        assert_eq!(
            state_path(None, None).unwrap_err().status,
            crate::error::ExitStatus::Usage
        );
        assert!(state_path(Some(".."), None).is_err());
    }
}
