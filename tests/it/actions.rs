//! Actions you can rely on (SPEC §4, §5): a stop lets running commands
//! finish and keeps what it interrupts, a crash loses no command, failed
//! commands are retried, actions are undone after a while, and a command
//! that hangs is said to.
//!
//! Commands record what they saw in files of the sandbox; what they must
//! not do again is shown by a later line whose run comes after it.

use std::fs;
use std::time::Duration;

use crate::common::{COMMAND_EXITED, Daemon, LOG, Sandbox, TIMEOUT, send_signal, wait_until};

const STATE: &str = "state.json";

/// Records the line, and the attempt, in `runs.txt`.
const RECORD: &str =
    r#"sh -c 'printf "%s %s\n" "$LOGS2ECA_ATTEMPT" "$LOGS2ECA_MATCH_LINE" >> runs.txt'"#;

/// Records the line and its group in `pgids`, then stays while `hold`
/// exists, and records that it finished in `done.txt`.
const RECORD_AND_HOLD: &str = r#"sh -c 'echo $$ >> pgids; printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; while [ -e hold ]; do sleep 0.02; done; printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> done.txt'"#;

/// The undo: records its action and line in `undos.txt`.
const UNDO: &str =
    r#"sh -c 'printf "%s %s\n" "$LOGS2ECA_ACTION" "$LOGS2ECA_MATCH_LINE" >> undos.txt'"#;

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    sandbox
}

fn args<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    [&["-l", LOG, "-p", "ERROR", "-c", command][..], extra].concat()
}

/// Waits until the saved state contains `text`.
fn wait_for_state(sandbox: &Sandbox, text: &str) {
    wait_until(&format!("the state to hold {text}"), || {
        sandbox.read(STATE)?.contains(text).then_some(())
    });
}

/// What a supervisor does before it restarts a killed unit: the processes
/// the daemon left behind go.
fn kill_groups(sandbox: &Sandbox, n: usize) {
    for pgid in sandbox.wait_for_lines("pgids", n) {
        send_signal(-pgid.parse::<i32>().unwrap(), libc::SIGKILL);
    }
}

/// SIGTERM while 500 matches arrive with `-w 0` and a state file: the
/// running commands (16 at once, each taking a moment before it records
/// its line) finish, the queued ones wait in the state, and after the
/// restart every line has run exactly once.
#[test]
fn a_stop_under_wait_zero_loses_no_match() {
    let sandbox = sandbox();
    let command = r#"sh -c 'sleep 0.05; printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/ERROR n=(\w+)/",
        "--key",
        "1",
        "--max-running",
        "16",
        "-c",
        command,
        "-w",
        "0",
        "--state-file",
        STATE,
    ];
    let mut daemon = Daemon::start(&sandbox, args);
    let total = 500;
    let batch: String = (0..250).map(|n| format!("ERROR n={n}\n")).collect();
    sandbox.append(LOG, batch);
    // Stopped while its commands run one after another.
    sandbox.wait_for_lines("runs.txt", 20);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    let rest: String = (250..total).map(|n| format!("ERROR n={n}\n")).collect();
    sandbox.append(LOG, rest);
    let _daemon = Daemon::start(&sandbox, args);
    // Runs go on in parallel, but with a state file each starts once the
    // save of the spawn before it is written (at most 1 MiB/s of state):
    // 500 starts take seconds. Wait (bounded) until each line has run.
    let count = |runs: &str| {
        let mut counts = vec![0; total];
        for line in runs.lines() {
            if let Some(Ok(n)) = line.strip_prefix("ERROR n=").map(str::parse::<usize>) {
                counts[n] += 1;
            }
        }
        counts
    };
    let _ = crate::common::poll(6 * TIMEOUT, || {
        let runs = sandbox.read("runs.txt")?;
        count(&runs).iter().all(|&c| c > 0).then_some(())
    });
    let counts = count(&sandbox.read("runs.txt").unwrap_or_default());
    let wrong: Vec<(usize, i32)> = (0..total)
        .map(|n| (n, counts[n]))
        .filter(|&(_, c)| c != 1)
        .collect();
    assert!(wrong.is_empty(), "(line, runs) not run once: {wrong:?}");
}

/// SIGKILL while a command runs: the command is in the state, and runs
/// again (to its end) after the restart.
#[test]
fn a_command_running_at_a_crash_runs_again_after_the_restart() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let args = args(RECORD_AND_HOLD, &["--state-file", STATE]);
    let mut daemon = Daemon::start(&sandbox, &args);
    sandbox.append(LOG, "ERROR one\n");
    sandbox.wait_for_lines("runs.txt", 1);
    wait_for_state(&sandbox, "\"jobs\"");
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    kill_groups(&sandbox, 1);
    assert_eq!(sandbox.read("done.txt"), None, "it did not finish");
    fs::remove_file(sandbox.path("hold")).unwrap();
    let daemon = Daemon::start(&sandbox, &args);
    assert_eq!(sandbox.wait_for_lines("done.txt", 1), ["ERROR one"]);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 2), ["ERROR one"; 2]);
    daemon.wait_for_log(&["run(s) of the saved state to do"]);
}

/// `--retry 3/100ms` and a command that fails twice: exactly three
/// attempts, numbered; the next match runs after the last one.
#[test]
fn a_command_failing_twice_succeeds_on_its_third_attempt() {
    let sandbox = sandbox();
    // Fails on its first two runs.
    let command = r#"sh -c 'n=$(cat n 2>/dev/null || echo 0); echo $((n + 1)) > n; printf "%s %s\n" "$LOGS2ECA_ATTEMPT" "$LOGS2ECA_MATCH_LINE" >> runs.txt; [ "$n" -ge 2 ]'"#;
    let daemon = Daemon::start(&sandbox, args(command, &["--retry", "3/100ms", "-w", "0"]));
    sandbox.append(LOG, "ERROR x\n");
    daemon.wait_for_log(&["failed (attempt 1 of 4): trying again in 100ms"]);
    // Queued behind the retries, it runs once they are over.
    sandbox.append(LOG, "ERROR sentinel\n");
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 4),
        ["1 ERROR x", "2 ERROR x", "3 ERROR x", "1 ERROR sentinel"]
    );
    daemon.wait_for_log(&["failed (attempt 2 of 4): trying again in 200ms"]);
}

/// SIGKILL while a retry backs off: the retry is in the state and happens
/// after the restart.
#[test]
fn a_retry_pending_at_a_crash_happens_after_the_restart() {
    let sandbox = sandbox();
    let command = r#"sh -c 'printf "%s %s\n" "$LOGS2ECA_ATTEMPT" "$LOGS2ECA_MATCH_LINE" >> runs.txt; [ "$LOGS2ECA_ATTEMPT" -ge 2 ]'"#;
    let args = args(command, &["--retry", "1/2s", "--state-file", STATE]);
    let mut daemon = Daemon::start(&sandbox, &args);
    sandbox.append(LOG, "ERROR x\n");
    daemon.wait_for_log(&["trying again in 2.00s"]);
    wait_for_state(&sandbox, "\"attempt\":2");
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), ["1 ERROR x"]);
    let daemon = Daemon::start(&sandbox, &args);
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["1 ERROR x", "2 ERROR x"]
    );
    daemon.wait_for_log(&["(attempt 2 of 2): started"]);
}

/// An undo that fell due while logs2eca was stopped runs at the start,
/// with the command's line and `LOGS2ECA_ACTION=undo`.
#[test]
fn an_undo_due_while_stopped_runs_at_start() {
    let sandbox = sandbox();
    let args = args(
        RECORD,
        &["--undo", UNDO, "--undo-after", "1s", "--state-file", STATE],
    );
    let mut daemon = Daemon::start(&sandbox, &args);
    sandbox.append(LOG, "ERROR one\n");
    daemon.wait_for_log(&[COMMAND_EXITED]);
    wait_for_state(&sandbox, "\"action\":\"undo\"");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    assert_eq!(sandbox.read("undos.txt"), None, "kept, not run at the stop");
    // Down for longer than the undo's delay.
    std::thread::sleep(Duration::from_millis(1500));
    let _daemon = Daemon::start(&sandbox, &args);
    assert_eq!(sandbox.wait_for_lines("undos.txt", 1), ["undo ERROR one"]);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), ["1 ERROR one"]);
}

/// A second trigger while the undo is pending postpones it: one undo, for
/// the second run, and nothing for the first.
#[test]
fn a_second_trigger_postpones_the_undo() {
    let sandbox = sandbox();
    let daemon = Daemon::start(
        &sandbox,
        args(RECORD, &["-w", "0", "--undo", UNDO, "--undo-after", "3s"]),
    );
    sandbox.append(LOG, "ERROR one\n");
    daemon.wait_for_log_count(&[COMMAND_EXITED], 1);
    sandbox.append(LOG, "ERROR two\n");
    daemon.wait_for_log_count(&[COMMAND_EXITED], 2);
    // The first line's undo would have come first.
    assert_eq!(sandbox.wait_for_lines("undos.txt", 1), ["undo ERROR two"]);
    sandbox.append(LOG, "ERROR three\n");
    assert_eq!(
        sandbox.wait_for_lines("undos.txt", 2),
        ["undo ERROR two", "undo ERROR three"],
        "one undo per trigger that was not postponed"
    );
}

/// Without a state file the pending undos run at the stop, and the stop
/// waits for them.
#[test]
fn without_a_state_file_undos_run_at_stop() {
    let sandbox = sandbox();
    let mut daemon = Daemon::start(
        &sandbox,
        args(RECORD, &["--undo", UNDO, "--undo-after", "1h"]),
    );
    sandbox.append(LOG, "ERROR one\n");
    daemon.wait_for_log(&[COMMAND_EXITED]);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    assert_eq!(
        sandbox.read("undos.txt").as_deref(),
        Some("undo ERROR one\n")
    );
}

/// A command that hangs is a warning, with the matches it suppresses, and
/// shows in `STATUS=`.
#[test]
fn a_hanging_command_is_a_warning_and_shows_in_the_status() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let mut daemon = Daemon::builder(&sandbox)
        .args(args(RECORD_AND_HOLD, &[]))
        .env("LOGS2ECA_TEST_LONG_RUN", "500ms")
        .start();
    sandbox.append(LOG, "ERROR one\n");
    let pgid = sandbox.wait_for_lines("pgids", 1)[0].clone();
    sandbox.append(LOG, "ERROR two\nERROR three\n");
    let warning = daemon.wait_for_log(&["still running after", "suppressed meanwhile"]);
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&format!("(pid {pgid})")), "{warning}");
    let status = daemon.expect_notify_starting("STATUS=following");
    assert!(
        status.starts_with(&format!("STATUS=following {LOG} at offset ")),
        "{status}"
    );
    assert!(
        status.contains(&format!("; do (pid {pgid}) running long, since ")),
        "{status}"
    );
    fs::remove_file(sandbox.path("hold")).unwrap();
    assert_eq!(sandbox.wait_for_lines("done.txt", 1), ["ERROR one"]);
}
