//! A state file of version 1, as the release before version 2 wrote it
//! (tests/fixtures/state-v1, with how it was made), read by this one: a
//! start on it resumes exactly where that release stopped (every line
//! after the saved offsets handled once, none before them, the command
//! that was running run again, the held trigger run), the next save is
//! version 2, and `logs2eca status` reads both versions.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::{Daemon, Sandbox, TIMEOUT, bin, clean_command, state_json, wait_until};

const STATE: &str = "state/state.json";

/// Records the action and the line of each run, as `ACTION LINE`.
const RECORD: &str =
    r#"sh -c 'printf "%s %s\n" "$LOGS2ECA_ACTION" "$LOGS2ECA_MATCH_LINE" >> runs.txt'"#;

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/state-v1", name]
        .iter()
        .collect();
    fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The fixture's state, made this sandbox's: its directory in place of
/// `@ROOT@`, and, with `files`, the device and inode numbers of the
/// sandbox's copies of the logs (their content is the fixture's, so their
/// saved hashes hold); its times moved as if it had been saved just now.
fn installed(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) -> Value {
    let root = sandbox.root().to_str().unwrap();
    let text = String::from_utf8(fixture(name))
        .unwrap()
        .replace("@ROOT@", root);
    let mut state: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(state["version"], 1, "a version-1 fixture");
    for (pointer, file) in files {
        let meta = fs::metadata(sandbox.path(file)).unwrap();
        let record = state.pointer_mut(pointer).unwrap();
        record["dev"] = meta.dev().into();
        record["ino"] = meta.ino().into();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let shift = now - state["saved_unix_ms"].as_u64().unwrap();
    let later = |t: &mut Value| *t = (t.as_u64().unwrap() + shift).into();
    later(&mut state["saved_unix_ms"]);
    // (`get_mut`: indexing a missing field would add it, as null.)
    for key in state["keys"].as_array_mut().unwrap() {
        if let Some(end) = key.get_mut("last_end_unix_ms") {
            later(end);
        }
        if let Some(window) = key.get_mut("window_unix_ms").and_then(Value::as_array_mut) {
            window.iter_mut().for_each(later);
        }
    }
    state
}

/// `logs2eca status --json STATE` in the sandbox.
fn status_json(sandbox: &Sandbox) -> Value {
    let out = clean_command(bin())
        .current_dir(sandbox.root())
        .args(["status", STATE, "--json"])
        .output()
        .expect("run logs2eca status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The runs so far, once there are `n`.
fn runs(sandbox: &Sandbox, n: usize) -> Vec<String> {
    wait_until(&format!("{n} runs"), || {
        let runs: Vec<String> = sandbox
            .read("runs.txt")?
            .lines()
            .map(String::from)
            .collect();
        (runs.len() >= n).then_some(runs)
    })
}

#[test]
fn a_start_on_a_version_1_state_resumes_exactly_where_it_stopped() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write("app.log", fixture("app.log"));
    sandbox.write("app.log.1", fixture("app.log.1"));
    let state = installed(
        &sandbox,
        "file.json",
        &[("/current", "app.log"), ("/rotated/0", "app.log.1")],
    );
    sandbox.write(STATE, state_json(&state));

    // `logs2eca status` reads version 1.
    let report = status_json(&sandbox);
    assert_eq!(report["current"]["offset"], 20, "{report}");
    assert_eq!(report["held"]["triggers"], 1, "{report}");
    assert_eq!(report["keys"].as_array().unwrap().len(), 3, "{report}");

    // Written while stopped: the rotated file's partial line ends and two
    // matches of key d follow; the current file's partial line ends and a
    // second match of key c follows (the first is in its saved window).
    sandbox.append("app.log.1", "\nERROR d 1\nERROR d 2\n");
    sandbox.append("app.log", "\nERROR c 2\n");
    let log = sandbox.path("app.log");
    let daemon = Daemon::start(
        &sandbox,
        [
            "-l",
            log.to_str().unwrap(),
            "-p",
            r"/ERROR (?P<host>\w+)/",
            "--key",
            "host",
            "--threshold",
            "2/1h",
            "-c",
            RECORD,
            "-w",
            "1h",
            "--state-file",
            STATE,
        ],
    );
    // The command that was running runs again; the held trigger runs; the
    // lines after the saved offsets (and only they) are handled: d's
    // trigger, c's with its saved window.
    let mut first = runs(&sandbox, 4);
    first.sort();
    assert_eq!(
        first,
        [
            "do ERROR a 2",
            "do ERROR b 2",
            "do ERROR c 2",
            "do ERROR d 2"
        ]
    );
    // Nothing else: a sentinel's run comes next.
    sandbox.append("app.log", "ERROR z 1\nERROR z 2\n");
    let all = runs(&sandbox, 5);
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(all[4], "do ERROR z 2", "{all:?}");

    let mut daemon = daemon;
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    let text = sandbox.read(STATE).unwrap();
    assert!(text.starts_with(r#"{"version":"2","#), "{text}");
    // `logs2eca status` reads version 2.
    let report = status_json(&sandbox);
    let size = fs::metadata(&log).unwrap().len();
    assert_eq!(report["current"]["offset"], size, "{report}");
}

#[test]
fn status_reads_a_version_1_state_of_the_journal() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    let state = installed(&sandbox, "journal.json", &[]);
    sandbox.write(STATE, state_json(&state));
    let report = status_json(&sandbox);
    assert_eq!(report["held"]["queued"], 1, "{report}");
    assert_eq!(report["held"]["lines"][0], "fail: 2", "{report}");
}
