//! The systemd journal as a source (SPEC §10), against real journal files:
//! fixtures written by `systemd-journal-remote` from export-format text
//! into a directory of the test's own, read with `--journal-directory`, so
//! that no running journald is needed. Entries are appended while the
//! daemon runs (journalctl notices, as it does journald's writes) or while
//! it is stopped; two boots are two `_BOOT_ID`s. The checks against a
//! real journald run in CI's booted container (`.ci/systemd-checks`).
//!
//! Without `systemd-journal-remote` (Debian: the package of that name)
//! or `journalctl` these tests say so and pass without checking anything.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crate::common::{Daemon, Sandbox, TIMEOUT, context_switches, run, wait_until};

const BOOT_1: &str = "11111111111111111111111111111111";
const BOOT_2: &str = "22222222222222222222222222222222";

/// The journal files of a test, and the clock of its entries.
struct Fixture {
    remote: PathBuf,
    dir: PathBuf,
    /// Microseconds since the epoch of the next entry: every entry is
    /// later than the one before, as journald's are.
    clock: AtomicU64,
}

impl Fixture {
    /// A fixture in `sandbox`, or `None` (with a message) where the tools
    /// are missing.
    fn new(sandbox: &Sandbox) -> Option<Fixture> {
        let remote = ["/lib/systemd", "/usr/lib/systemd"]
            .iter()
            .map(|dir| Path::new(dir).join("systemd-journal-remote"))
            .find(|path| path.exists());
        let journalctl = Command::new("journalctl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let (Some(remote), true) = (remote, journalctl) else {
            eprintln!(
                "skipped: journal tests need journalctl and systemd-journal-remote \
                 (apt-get install systemd-journal-remote)"
            );
            return None;
        };
        let dir = sandbox.path("journal");
        std::fs::create_dir(&dir).unwrap();
        Some(Fixture {
            remote,
            dir,
            clock: AtomicU64::new(1_700_000_000_000_000),
        })
    }

    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// Appends entries with these messages to `file` (created if new),
    /// from boot `boot`, logged by `unit`.
    fn write(&self, file: &str, boot: &str, unit: &str, messages: &[&str]) {
        let mut export = String::new();
        for message in messages {
            let t = self.clock.fetch_add(1000, Ordering::Relaxed);
            export.push_str(&format!(
                "__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={boot}\n\
                 _MACHINE_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=fixture\n\
                 _SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER={}\n_PID=4242\nPRIORITY=3\n\
                 _SOURCE_REALTIME_TIMESTAMP={}\nMESSAGE={message}\n\n",
                t % 1_000_000_000,
                unit.trim_end_matches(".service"),
                t - 500,
            ));
        }
        let mut child = Command::new(&self.remote)
            .arg(format!("--output={}", self.dir.join(file).display()))
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run systemd-journal-remote");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(export.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "systemd-journal-remote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The cursor of the newest entry, as journalctl tells it.
    fn newest_cursor(&self) -> String {
        let out = Command::new("journalctl")
            .args(["--output=json", "--lines=1", "--merge", "--directory"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let entry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        entry["__CURSOR"].as_str().unwrap().to_owned()
    }
}

/// A dry run on the fixture's journal, with a state file.
fn dry_run(sandbox: &Sandbox, fixture: &Fixture, pattern: &str) -> Vec<String> {
    [
        "--journal-directory",
        fixture.dir(),
        "-n",
        "-p",
        pattern,
        "--state-file",
        sandbox.path("state.json").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn start(sandbox: &Sandbox, args: &[String]) -> Daemon {
    Daemon::builder(sandbox).args(args).start()
}

/// Stops the daemon as systemd would, and waits for its exit 0.
fn stop(mut daemon: Daemon) {
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(TIMEOUT).success(), "{}", daemon.stderr());
}

/// Writes a sentinel entry and waits for it: what came before it on
/// stdout is all that will.
#[track_caller]
fn expect_sentinel(fixture: &Fixture, file: &str, daemon: &Daemon) {
    fixture.write(file, BOOT_2, "app.service", &["fail: sentinel"]);
    daemon.expect_line("fail: sentinel");
}

#[test]
fn entries_are_handled_once_while_running_and_the_command_gets_their_fields() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write(
        "a.journal",
        BOOT_1,
        "app.service",
        &["fail: before the start"],
    );
    let out = sandbox.path("out");
    let command = format!(
        "sh -c 'printf \"%s|%s|%s|%s|%s|%s|%s\\n\" \"$LOGS2ECA_MATCH_LINE\" \
         \"$LOGS2ECA_JOURNAL_UNIT\" \"$LOGS2ECA_JOURNAL_IDENTIFIER\" \"$LOGS2ECA_JOURNAL_PID\" \
         \"$LOGS2ECA_JOURNAL_PRIORITY\" \"$LOGS2ECA_JOURNAL_HOSTNAME\" \"$LOGS2ECA_MATCH_TIME\" \
         >> {}'",
        out.display()
    );
    let args: Vec<String> = [
        "--journal-directory",
        fixture.dir(),
        "-p",
        "/fail: (\\w+)/",
        "-w",
        "0",
        "-c",
        &command,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let daemon = start(&sandbox, &args);
    fixture.write(
        "a.journal",
        BOOT_1,
        "app.service",
        &["fail: one", "ok: two"],
    );
    // A new file in the directory, as journald's rotation makes.
    fixture.write("b.journal", BOOT_1, "ssh.service", &["fail: three"]);
    let lines = sandbox.wait_for_lines("out", 2);
    let time = lines[0].rsplit('|').next().unwrap().to_owned();
    assert_eq!(
        lines,
        [
            format!("fail: one|app.service|app|4242|3|fixture|{time}"),
            format!(
                "fail: three|ssh.service|ssh|4242|3|fixture|{}",
                lines[1].rsplit('|').next().unwrap()
            ),
        ]
    );
    // _SOURCE_REALTIME_TIMESTAMP: 500 us before the received time, which
    // ends in 000 (the fraction is shown without its trailing zeros).
    assert!(
        time.starts_with("2023-11-14T22:") && time.contains('.') && time.ends_with("5Z"),
        "{time}"
    );
    fixture.write("b.journal", BOOT_1, "ssh.service", &["fail: four"]);
    let lines = sandbox.wait_for_lines("out", 3);
    assert!(lines[2].starts_with("fail: four|"), "{lines:?}");
    drop(daemon);
    assert_eq!(sandbox.wait_for_lines("out", 3).len(), 3);
}

#[test]
fn a_message_that_is_not_text_is_a_line_of_bytes() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    // The export format gives a binary field as its length and bytes.
    let mut export = Vec::new();
    export.extend_from_slice(
        b"__REALTIME_TIMESTAMP=1700000000000000\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=11111111111111111111111111111111\nMESSAGE\n",
    );
    let message = b"fail: \xff\x01 binary";
    export.extend_from_slice(&(message.len() as u64).to_le_bytes());
    export.extend_from_slice(message);
    export.extend_from_slice(b"\n\n");
    let mut child = Command::new(&fixture.remote)
        .arg(format!("--output={}/a.journal", fixture.dir()))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    assert!(child.wait().unwrap().success());
    let outcome = run(
        &sandbox,
        &[
            "--once",
            "-n",
            "--journal-directory",
            fixture.dir(),
            "-p",
            "binary",
        ],
        &[],
    );
    assert!(outcome.status.success(), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, b"fail: \xff\x01 binary\n");
}

#[test]
fn entries_written_while_stopped_are_handled_at_start_once() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: old"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 1"]);
    daemon.expect_line("fail: 1");
    stop(daemon);

    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 2", "fail: 3"]);
    let daemon = start(&sandbox, &args);
    daemon.expect_lines(&["fail: 2", "fail: 3"]);
    expect_sentinel(&fixture, "a.journal", &daemon);
    stop(daemon);

    // Nothing new: a start handles nothing again.
    let daemon = start(&sandbox, &args);
    expect_sentinel(&fixture, "a.journal", &daemon);
}

#[test]
fn a_restart_after_a_reboot_handles_the_previous_boots_tail() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: boot 1 start"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: boot 1 a"]);
    daemon.expect_line("fail: boot 1 a");
    stop(daemon);

    // Logged after the stop: the end of boot 1, then a new boot (journald
    // starts a new file at a boot).
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: boot 1 tail"]);
    fixture.write("b.journal", BOOT_2, "app.service", &["fail: boot 2 a"]);
    let daemon = start(&sandbox, &args);
    daemon.expect_lines(&["fail: boot 1 tail", "fail: boot 2 a"]);
    // And a third boot while running: no boot is kept to.
    fixture.write(
        "c.journal",
        "33333333333333333333333333333333",
        "app.service",
        &["fail: boot 3"],
    );
    daemon.expect_line("fail: boot 3");
    expect_sentinel(&fixture, "c.journal", &daemon);
}

#[test]
fn a_rare_match_still_moves_the_position() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["noise"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: rare"]);
    daemon.expect_line("fail: rare");
    let noise: Vec<String> = (0..50).map(|i| format!("noise {i}")).collect();
    let noise: Vec<&str> = noise.iter().map(String::as_str).collect();
    fixture.write("a.journal", BOOT_1, "app.service", &noise);
    // The state's cursor reaches the last entry, which did not match.
    let newest = fixture.newest_cursor();
    wait_until("the state to hold the newest cursor", || {
        sandbox
            .read("state.json")
            .filter(|state| state.contains(&newest))
    });
    stop(daemon);
    let state = sandbox.read("state.json").unwrap();
    assert!(state.contains(&newest), "{state}\n{newest}");

    let daemon = start(&sandbox, &args);
    // Nothing is read again: the next line is the sentinel.
    expect_sentinel(&fixture, "a.journal", &daemon);
}

#[test]
fn journal_matches_select_entries_and_a_resume_loses_none_of_them() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: app old"]);
    let mut args = dry_run(&sandbox, &fixture, "fail");
    args.extend(["-u".to_owned(), "ssh".to_owned()]);
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: app"]);
    fixture.write("a.journal", BOOT_1, "ssh.service", &["fail: ssh 1"]);
    daemon.expect_line("fail: ssh 1");
    stop(daemon);
    // While stopped: an entry of another unit, then one of ours. Resuming
    // with --after-cursor and a match, journalctl 252 skips the first
    // matching entry after the saved one when that one does not match.
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: app 2"]);
    fixture.write("a.journal", BOOT_1, "ssh.service", &["fail: ssh 2"]);
    let daemon = start(&sandbox, &args);
    daemon.expect_line("fail: ssh 2");
    fixture.write("a.journal", BOOT_1, "ssh.service", &["fail: ssh 3"]);
    daemon.expect_line("fail: ssh 3");
    stop(daemon);

    // --journal-match, with journalctl's OR of groups.
    let outcome = run(
        &sandbox,
        &[
            "--once",
            "-n",
            "--journal-directory",
            fixture.dir(),
            "-p",
            "fail",
            "--journal-match",
            "_SYSTEMD_UNIT=app.service MESSAGE=\"fail: app 2\" + MESSAGE=\"fail: ssh 3\"",
        ],
        &[],
    );
    assert!(outcome.status.success(), "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "fail: app 2\nfail: ssh 3\n");
}

#[test]
fn a_match_held_at_a_stop_runs_after_the_restart_with_its_fields() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["start"]);
    let out = sandbox.path("out");
    let command = format!(
        "sh -c 'echo \"$LOGS2ECA_MATCH_LINE|$LOGS2ECA_JOURNAL_UNIT\" >> {}; sleep 0.3'",
        out.display()
    );
    let args: Vec<String> = [
        "--journal-directory",
        fixture.dir(),
        "-p",
        "fail",
        "-w",
        "0",
        "-c",
        &command,
        "--state-file",
        sandbox.path("state.json").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "ssh.service", &["fail: 1", "fail: 2"]);
    sandbox.wait_for_lines("out", 1);
    // The second waits behind the first (-w 0): held, and saved so.
    stop(daemon);
    let state = sandbox.read("state.json").unwrap();
    assert!(state.contains("LOGS2ECA_JOURNAL_UNIT"), "{state}");
    let _daemon = start(&sandbox, &args);
    let lines = sandbox.wait_for_lines("out", 2);
    assert_eq!(lines, ["fail: 1|ssh.service", "fail: 2|ssh.service"]);
}

#[test]
fn a_sigkill_under_a_steady_writer_loses_nothing_and_repeats_at_most_one_per_crash() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["before"]);
    let fixture = Arc::new(fixture);
    let out = sandbox.path("out");
    // Each run takes 10 ms, as real commands take longer than the 2 ms
    // between a spawn and the save after it (SPEC §6's one repeat).
    let command = format!(
        "sh -c 'echo \"$LOGS2ECA_MATCH_LINE\" >> {}; sleep 0.01'",
        out.display()
    );
    let args: Vec<String> = [
        "--journal-directory",
        fixture.dir(),
        "-p",
        "/^n \\d+$/",
        "-w",
        "0",
        "-c",
        &command,
        "--state-file",
        sandbox.path("state.json").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let total = 300;
    // What each start handled (`match:`, `queued:`, `suppressed:` at debug
    // level), kept across the crashes: a loss is then explained by the
    // start that read the entry and what it did with it.
    let start = |sandbox: &Sandbox, args: &[String]| {
        Daemon::builder(sandbox)
            .env("RUST_LOG", "info,logs2eca::react::reaction=debug")
            .args(args)
            .start()
    };
    let mut logs: Vec<String> = Vec::new();
    // Started first: a start without a state begins at the end.
    let mut daemon = start(&sandbox, &args);
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let fixture = Arc::clone(&fixture);
        let writing = Arc::clone(&writing);
        thread::spawn(move || {
            for batch in 0..total / 5 {
                let lines: Vec<String> = (0..5).map(|i| format!("n {}", batch * 5 + i)).collect();
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                fixture.write("a.journal", BOOT_1, "app.service", &lines);
            }
            writing.store(false, Ordering::Relaxed);
        })
    };
    let mut crashes = 0;
    while writing.load(Ordering::Relaxed) && crashes < 4 {
        // Some progress between crashes: a command has run since, and a
        // state was saved (a crash before the first save is a start
        // without a state: at the end, as documented).
        let seen = sandbox.read("out").map_or(0, |t| t.lines().count());
        let saved = sandbox.read("state.json");
        wait_until("a command to run", || {
            (sandbox.read("out").map_or(0, |t| t.lines().count()) > seen).then_some(())
        });
        wait_until("a state saved by this start", || {
            sandbox
                .read("state.json")
                .filter(|now| Some(now) != saved.as_ref())
        });
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(TIMEOUT);
        logs.push(daemon.stderr());
        crashes += 1;
        // As a supervisor would: until the command the daemon was
        // starting has closed its copy of the lock.
        crate::common::wait_for_unlocked(&sandbox.path("state.json.lock"));
        daemon = start(&sandbox, &args);
    }
    writer.join().unwrap();
    fixture.write("a.journal", BOOT_1, "app.service", &["n 999999"]);
    // Each command starts only once the save of the one before is
    // written (SPEC §6: at most one spawn not yet saved), an fsync each:
    // 300 of them take more than TIMEOUT on a loaded machine.
    let lines = crate::common::wait_until_within(TIMEOUT * 12, "every entry's command", || {
        let text = sandbox.read("out")?;
        text.contains("n 999999\n").then_some(text)
    });
    logs.push(daemon.stderr());
    drop(daemon);
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for line in lines.lines() {
        let n: u64 = line.strip_prefix("n ").unwrap().parse().unwrap();
        *counts.entry(n).or_default() += 1;
    }
    let lost: Vec<u64> = (0..total as u64)
        .filter(|n| !counts.contains_key(n))
        .collect();
    if let Some(&first) = lost.first() {
        // Where the first lost entry went in each start, and what each
        // start took over from the state (a start killed may not have
        // written its last log lines: its log queue dies with it).
        let entry = format!(": n {first}");
        let mut trace = String::new();
        for (i, log) in logs.iter().enumerate() {
            trace.push_str(&format!("--- start {i} ---\n"));
            for line in log.lines().filter(|l| {
                l.ends_with(&entry)
                    || l.contains(&format!("{entry} ->"))
                    || l.contains("held when the state was saved")
                    || l.contains("of the saved state to do")
                    || l.contains("WARN")
            }) {
                trace.push_str(line);
                trace.push('\n');
            }
        }
        panic!("entries {lost:?} were lost ({crashes} crashes); n {first} in each start:\n{trace}");
    }
    let twice: Vec<u64> = counts
        .iter()
        .filter(|&(_, &c)| c > 1)
        .map(|(&n, _)| n)
        .collect();
    let repeats: u32 = counts.values().map(|c| c - 1).sum();
    assert!(
        repeats <= crashes,
        "{repeats} repeated runs in {crashes} crashes: {twice:?}"
    );
}

#[test]
fn a_journalctl_that_exits_is_started_again_after_the_last_entry() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["start"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 1"]);
    daemon.expect_line("fail: 1");
    for round in 0..2 {
        let child = journalctl_of(daemon.pid());
        crate::common::send_signal(child, libc::SIGKILL);
        let said =
            daemon.wait_for_log_count(&["journalctl exited", "starting it again"], round + 1);
        // Its status is the journal source's to collect, not the
        // reaping of the commands'.
        assert!(said.contains("(signal: 9 (SIGKILL))"), "{said}");
        fixture.write(
            "a.journal",
            BOOT_1,
            "app.service",
            &[&format!("fail: after {round}")],
        );
        daemon.expect_line(&format!("fail: after {round}"));
    }
    expect_sentinel(&fixture, "a.journal", &daemon);
}

#[test]
fn idle_neither_logs2eca_nor_its_journalctl_wakes_up() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["start"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 1"]);
    daemon.expect_line("fail: 1");
    // The state write after the line is the last thing to happen.
    wait_until("the state to be saved", || {
        sandbox.read("state.json").filter(|s| s.contains("cursor"))
    });
    thread::sleep(Duration::from_millis(1500));
    let pids = [daemon.pid(), journalctl_of(daemon.pid())];
    let before: Vec<u64> = pids.iter().map(|&p| context_switches(p)).collect();
    // A measurement window, not synchronisation.
    thread::sleep(Duration::from_secs(2));
    let after: Vec<u64> = pids.iter().map(|&p| context_switches(p)).collect();
    assert_eq!(before, after, "wake-ups while idle (logs2eca, journalctl)");
}

#[test]
fn files_vacuumed_while_running_lose_nothing_newer() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["start"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 1"]);
    daemon.expect_line("fail: 1");
    // A rotation (a new file), then the old file vacuumed under the
    // reader, then more in the new one.
    fixture.write("b.journal", BOOT_1, "app.service", &["fail: 2"]);
    std::fs::remove_file(fixture.dir.join("a.journal")).unwrap();
    fixture.write("b.journal", BOOT_1, "app.service", &["fail: 3"]);
    daemon.expect_lines(&["fail: 2", "fail: 3"]);
    expect_sentinel(&fixture, "b.journal", &daemon);
}

#[test]
fn entries_vacuumed_while_stopped_are_a_warning_with_the_time_range() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    fixture.write("a.journal", BOOT_1, "app.service", &["start"]);
    let args = dry_run(&sandbox, &fixture, "fail");
    let daemon = start(&sandbox, &args);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: 1"]);
    daemon.expect_line("fail: 1");
    stop(daemon);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: lost"]);
    // What `journalctl --vacuum-files` does: the oldest files go.
    std::fs::remove_file(fixture.dir.join("a.journal")).unwrap();
    fixture.write("b.journal", BOOT_1, "app.service", &["fail: kept"]);
    let daemon = start(&sandbox, &args);
    daemon.expect_line("fail: kept");
    let warning = daemon.wait_for_log(&["no longer in the journal", "were removed"]);
    // The range: from the last entry read to the oldest one left.
    assert!(
        warning.contains("from 2023-11-14T22:13:20.001000Z to 2023-11-14T22:13:20.003000Z"),
        "{warning}"
    );
    expect_sentinel(&fixture, "b.journal", &daemon);
}

#[test]
fn an_unreadable_or_missing_journal_is_exit_1_with_the_fix() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    let empty = run(
        &sandbox,
        &["--journal-directory", fixture.dir(), "-n", "-p", "x"],
        &[],
    );
    assert_eq!(empty.status.code(), Some(1), "{}", empty.stderr);
    assert!(
        empty.stderr.contains("no journal files in"),
        "{}",
        empty.stderr
    );

    let check = run(
        &sandbox,
        &[
            "--check",
            "--journal-directory",
            fixture.dir(),
            "-n",
            "-p",
            "x",
        ],
        &[],
    );
    assert_eq!(check.status.code(), Some(1), "{}", check.stderr);
    assert!(check.stdout_text().contains("journal: no journal files in"));

    fixture.write("a.journal", BOOT_1, "app.service", &["x"]);
    let check = run(
        &sandbox,
        &[
            "--check",
            "--journal-directory",
            fixture.dir(),
            "-n",
            "-p",
            "x",
        ],
        &[],
    );
    assert!(check.status.success(), "{}", check.stderr);
    assert!(check.stdout_text().contains("journal: readable"));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sandbox.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&fixture.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            fixture.dir.join("a.journal"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        let mut daemon = Daemon::builder(&sandbox)
            .args(["--journal-directory", fixture.dir(), "-n", "-p", "x"])
            .unprivileged()
            .spawn_unready();
        assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(1));
        let stderr = daemon.stderr();
        assert!(
            stderr.contains("Permission denied")
                && stderr.contains("SupplementaryGroups=systemd-journal"),
            "{stderr}"
        );
    } else {
        eprintln!("skipped the permission check: it needs root to run the daemon as another user");
    }
}

#[test]
fn a_file_and_the_journal_together_are_a_usage_error() {
    let sandbox = Sandbox::new();
    for args in [
        &["-l", "a.log", "--journal", "-n", "-p", "x"][..],
        &["-l", "-", "-u", "ssh", "-n", "-p", "x"],
    ] {
        let outcome = run(&sandbox, args, &[]);
        assert_eq!(outcome.status.code(), Some(2), "{args:?}");
        assert!(
            outcome.stderr.contains("exclude each other"),
            "{}",
            outcome.stderr
        );
    }
    let outcome = run(
        &sandbox,
        &["--journal-match", "unit=ssh", "-n", "-p", "x"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(2));
    assert!(
        outcome.stderr.contains("--journal-match"),
        "{}",
        outcome.stderr
    );
}

/// The journalctl that `pid` runs.
fn journalctl_of(pid: i32) -> i32 {
    wait_until("logs2eca's journalctl", || {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().find_map(|child| {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).ok()?;
            (comm.trim() == "journalctl").then(|| child.parse().unwrap())
        })
    })
}

/// journalctl's exit status is the journal source's to collect: the
/// reaping of the commands (here a dry run's, which has none) must not
/// take it. A journalctl that fails while something it started still
/// holds its output open is reaped before its output ends: the log gives
/// its status, not "status unknown".
#[test]
fn a_failing_journalctl_is_reported_with_its_exit_status() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("journal")).unwrap();
    // Only the fake below reads it.
    sandbox.write("journal/system.journal", "");
    std::fs::create_dir(sandbox.path("bin")).unwrap();
    // The first run (the check at start) finds an empty journal; the
    // follower fails at once, its output held open a little longer by
    // a process it left behind.
    let fake = sandbox.path("bin/journalctl");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         case \" $* \" in *\" --follow \"*) ;; *) exit 0 ;; esac\n\
         sleep 1 &\n\
         echo 'cannot follow: fake failure' >&2\n\
         exit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        sandbox.path("bin").display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned())
    );
    let journal = sandbox.path("journal");
    let daemon = Daemon::builder(&sandbox)
        .env("PATH", &path)
        .args([
            "--journal-directory",
            journal.to_str().unwrap(),
            "-n",
            "-p",
            "fail",
        ])
        .start();
    let said = daemon.wait_for_log(&["journalctl exited"]);
    assert!(said.contains("(exit status: 3)"), "{said}");
    assert!(said.contains("fake failure"), "{said}");
}

/// A dry run with a state file holds what it prints until the save that
/// covers it (each line printed once across a crash). A turn may take up
/// to 16 MiB of journalctl's output, but what it gets is what the pipe
/// holds while journalctl writes, which it does slower than it is read:
/// what is held stays small (10 MiB peak here), as for a file, whose turns
/// are cut to 256 KiB while output is held.
#[test]
fn a_journal_backlog_printed_as_json_holds_little_memory() {
    let sandbox = Sandbox::new();
    let Some(fixture) = Fixture::new(&sandbox) else {
        return;
    };
    let padding = "x".repeat(200);
    let messages: Vec<String> = (0..40_000)
        .map(|n| format!("fail: entry {n} {padding}"))
        .collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    fixture.write("a.journal", BOOT_1, "app.service", &messages);
    fixture.write("a.journal", BOOT_1, "app.service", &["fail: sentinel"]);
    let (reader, writer) = std::io::pipe().unwrap();
    let printed = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut count = 0;
        for line in std::io::BufReader::new(reader).lines() {
            count += 1;
            if line.unwrap().contains("fail: sentinel") {
                break;
            }
        }
        count
    });
    let mut args = dry_run(&sandbox, &fixture, "fail:");
    args.extend(["--json".to_owned(), "--from-beginning".to_owned()]);
    let mut daemon = Daemon::builder(&sandbox)
        .args(&args)
        .stdout(writer)
        .spawn_unready();
    // Every entry printed: the sentinel, the last, came out.
    assert_eq!(printed.join().unwrap(), messages.len() + 1);
    let peak_mib = crate::common::peak_rss_kib(daemon.pid()) / 1024;
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit(TIMEOUT).code(),
        Some(0),
        "{}",
        daemon.stderr()
    );
    eprintln!("peak RSS {peak_mib} MiB");
    assert!(peak_mib < 40, "peak RSS {peak_mib} MiB");
}
