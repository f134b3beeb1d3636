//! Exactly once across restarts (SPEC §6): with a state file, the lines
//! written while the daemon was down are processed at the next start, once,
//! whatever happened to the file meanwhile; a cooldown outlives the
//! process; `--once` becomes the cron mode; and an idle daemon writes
//! nothing.
//!
//! Commands record their line in `runs.txt`; absence is shown with a
//! sentinel line whose run must come next.

use std::fs;
use std::time::Duration;

use crate::common::{COMMAND_EXITED, Daemon, LOG, Sandbox, TIMEOUT, context_switches, run};

/// Records the line that made the run.
const RECORD: &str = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt'"#;
const STATE: &str = "state/state.json";

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write(LOG, "ERROR before the first start\n");
    sandbox
}

/// Starts the daemon with `-w 0` unless `extra` sets another cooldown.
fn start(sandbox: &Sandbox, extra: &[&str]) -> Daemon {
    let wait: &[&str] = if extra.contains(&"-w") {
        &[]
    } else {
        &["-w", "0"]
    };
    let args = [
        &[
            "-l",
            LOG,
            "-p",
            "ERROR",
            "-c",
            RECORD,
            "--state-file",
            STATE,
        ][..],
        wait,
        extra,
    ]
    .concat();
    Daemon::start(sandbox, args)
}

fn stop(mut daemon: Daemon) {
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
}

/// Records the line that made the run, then runs for as long as the file
/// `hold` exists: the process groups are listed in `pgids`, for
/// [`kill_commands`].
const RECORD_AND_STAY: &str = r#"sh -c 'echo $$ >> pgids; printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; while [ -e hold ]; do sleep 0.02; done'"#;

/// Stops the daemon while a [`RECORD_AND_STAY`] command runs: SIGTERM,
/// then `hold` goes, so the command finishes within the stop grace.
fn stop_letting_finish(mut daemon: Daemon, sandbox: &Sandbox) {
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log(&["received SIGTERM: stopping"]);
    fs::remove_file(sandbox.path("hold")).unwrap();
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
}

/// Kills the process groups of the commands a SIGKILLed daemon left behind
/// (at least `n` of them), as a supervisor would before a restart.
fn kill_commands(sandbox: &Sandbox, n: usize) {
    for pgid in sandbox.wait_for_lines("pgids", n) {
        crate::common::send_signal(-pgid.parse::<i32>().unwrap(), libc::SIGKILL);
    }
}

/// Appends `sentinel` and returns the runs once its own is among them.
fn runs_up_to(sandbox: &Sandbox, sentinel: &str) -> Vec<String> {
    sandbox.append(LOG, format!("{sentinel}\n"));
    crate::common::wait_until("the sentinel's run", || {
        let text = sandbox.read("runs.txt")?;
        let runs: Vec<String> = text.lines().map(String::from).collect();
        runs.iter().any(|r| r == sentinel).then_some(runs)
    })
}

/// Appends `line` and waits for the run it makes, which must be run `n`.
#[track_caller]
fn expect_run(sandbox: &Sandbox, n: usize, line: &str) -> Vec<String> {
    sandbox.append(LOG, format!("{line}\n"));
    let runs = sandbox.wait_for_lines("runs.txt", n);
    assert_eq!(runs.last().map(String::as_str), Some(line), "{runs:?}");
    runs
}

#[test]
fn lines_written_while_stopped_are_processed_once_at_the_next_start() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    expect_run(&sandbox, 1, "ERROR 1");
    stop(daemon);
    sandbox.append(LOG, "ERROR 2 while stopped\nERROR 3 while stopped\n");
    let _daemon = start(&sandbox, &[]);
    let runs = expect_run(&sandbox, 4, "ERROR 4 sentinel");
    assert_eq!(
        runs,
        [
            "ERROR 1",
            "ERROR 2 while stopped",
            "ERROR 3 while stopped",
            "ERROR 4 sentinel"
        ]
    );
}

/// Rotated while stopped, each way: the old file is found by identity and
/// finished, then the new one is read from its start.
#[test]
fn a_file_rotated_while_stopped_is_finished_then_the_new_one_read() {
    for style in ["rename", "olddir"] {
        let sandbox = sandbox();
        fs::create_dir(sandbox.path("old")).unwrap();
        let daemon = start(&sandbox, &[]);
        if style == "olddir" {
            // A directory is searched once rotated files were seen there.
            fs::rename(sandbox.log(), sandbox.path("old/app.log.0")).unwrap();
            daemon.wait_for_log(&["moved away (to", "old/app.log.0"]);
        }
        expect_run(&sandbox, 1, "ERROR 1");
        stop(daemon);
        sandbox.append(LOG, "ERROR 2 in the old file\n");
        let to = match style {
            "rename" => "logs/app.log.1",
            _ => "old/app.log.1",
        };
        fs::rename(sandbox.log(), sandbox.path(to)).unwrap();
        sandbox.write(LOG, "ERROR 3 in the new file\n");
        let daemon = start(&sandbox, &[]);
        let runs = expect_run(&sandbox, 4, "ERROR 4 sentinel");
        assert_eq!(
            runs[1..3],
            ["ERROR 2 in the old file", "ERROR 3 in the new file"],
            "{style}"
        );
        drop(daemon);
    }
}

#[test]
fn a_file_deleted_while_stopped_is_reported_with_what_was_lost() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    expect_run(&sandbox, 1, "ERROR 1");
    stop(daemon);
    sandbox.append(LOG, "ERROR 2 lost with the file\n");
    // Deleted by renaming the new file over it: the new one cannot reuse
    // the old inode number (that case is a rewritten file, read from 0).
    sandbox.write("logs/app.log.new", "ERROR 3 in the new file\n");
    fs::rename(sandbox.path("logs/app.log.new"), sandbox.log()).unwrap();
    let daemon = start(&sandbox, &[]);
    let runs = expect_run(&sandbox, 3, "ERROR 4 sentinel");
    assert_eq!(runs[1], "ERROR 3 in the new file");
    let warning = daemon.wait_for_log(&["is gone", "after offset"]);
    assert!(warning.contains("WARN"), "{warning}");
}

#[test]
fn a_file_truncated_while_stopped_is_read_from_its_start() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    expect_run(&sandbox, 1, "ERROR 1");
    stop(daemon);
    // copytruncate while stopped: what was copied is in the copy.
    fs::copy(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.truncate(LOG);
    sandbox.append(LOG, "ERROR 2 after the truncation\n");
    let _daemon = start(&sandbox, &[]);
    let runs = expect_run(&sandbox, 3, "ERROR 3 sentinel");
    assert_eq!(runs[1], "ERROR 2 after the truncation");
}

/// The lock of this module's state file is free again (see `common`).
fn wait_for_unlocked(sandbox: &Sandbox) {
    crate::common::wait_for_unlocked(&sandbox.path(format!("{STATE}.lock")));
}

/// Waits until no process works in the sandbox any more: the commands a
/// killed daemon left behind (they run in its working directory) are done.
fn wait_for_commands_done(sandbox: &Sandbox) {
    let root = fs::canonicalize(sandbox.root()).unwrap();
    crate::common::wait_until("the commands left by the crash to end", || {
        let busy = crate::common::all_processes().into_iter().any(|p| {
            p.is_live()
                && fs::read_link(format!("/proc/{}/cwd", p.pid)).is_ok_and(|cwd| cwd == root)
        });
        (!busy).then_some(())
    });
}

/// SIGKILL under a steady writer: every number runs exactly once, but for
/// the one documented duplicate (a crash between a spawn and the save
/// after it).
#[test]
fn sigkill_under_a_steady_writer_loses_nothing() {
    let sandbox = sandbox();
    // Each run takes 10 ms, as real commands take longer than the 2 ms
    // between a spawn and the save after it: a crash repeats at most the
    // last run. Meanwhile the writer queues matches faster than they run.
    let slow = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; sleep 0.01'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-c",
        slow,
        "--state-file",
        STATE,
        "-w",
        "0",
    ];
    let mut daemon = Daemon::start(&sandbox, args);
    let mut written = 0;
    for round in 0..3 {
        for _ in 0..40 {
            sandbox.append(LOG, format!("ERROR n={written}\n"));
            written += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(TIMEOUT);
        wait_for_unlocked(&sandbox);
        // A command spawned just before the crash has run: the restart
        // must not end it before it wrote its line (it would count as
        // never run), however slow the machine.
        wait_for_commands_done(&sandbox);
        // Written while nobody follows.
        for _ in 0..10 {
            sandbox.append(LOG, format!("ERROR n={written}\n"));
            written += 1;
        }
        daemon = Daemon::start(&sandbox, args);
        let _ = round;
    }
    let runs = runs_up_to(&sandbox, "ERROR sentinel");
    let mut counts = vec![0; written];
    for run in &runs {
        if let Some(n) = run.strip_prefix("ERROR n=") {
            counts[n.parse::<usize>().unwrap()] += 1;
        }
    }
    let lost: Vec<usize> = (0..written).filter(|&n| counts[n] == 0).collect();
    let twice: Vec<usize> = (0..written).filter(|&n| counts[n] > 1).collect();
    assert!(lost.is_empty(), "never run: {lost:?}");
    assert!(
        twice.len() <= 6 && counts.iter().all(|&c| c <= 2),
        "at most the runs per crash that started or ended but were not saved: {twice:?}"
    );
    eprintln!("3 SIGKILLs, {written} numbered matches, run twice: {twice:?}");
}

#[test]
fn a_cooldown_holds_across_a_restart() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &["-w", "1h"]);
    expect_run(&sandbox, 1, "ERROR 1");
    daemon.wait_for_log(&["exited with status 0"]);
    stop(daemon);
    // Restarting the daemon does not restart the service again.
    let daemon = start(&sandbox, &["-w", "1h", "-v"]);
    sandbox.append(LOG, "ERROR 2 during the cooldown\n");
    daemon.wait_for_log(&["suppressed: ERROR 2 during the cooldown"]);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), ["ERROR 1"]);
}

#[test]
fn once_with_a_state_file_processes_what_is_new_since_the_last_run() {
    let sandbox = sandbox();
    let args = [
        "--once",
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-w",
        "0",
        "-c",
        RECORD,
        "--state-file",
        STATE,
    ];
    assert_eq!(run(&sandbox, &args, &[]).status.code(), Some(0));
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 1),
        ["ERROR before the first start"]
    );
    sandbox.append(LOG, "ERROR 2\nERROR 3\nERROR 4 not fin");
    assert_eq!(run(&sandbox, &args, &[]).status.code(), Some(0));
    sandbox.append(LOG, "ished\n");
    assert_eq!(run(&sandbox, &args, &[]).status.code(), Some(0));
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 4),
        [
            "ERROR before the first start",
            "ERROR 2",
            "ERROR 3",
            "ERROR 4 not finished"
        ],
        "each line once; an incomplete line waits for the next run"
    );
}

#[test]
fn idle_with_a_state_file_wakes_up_and_writes_nothing() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    expect_run(&sandbox, 1, "ERROR 1");
    // The command wrote its line before it exited: let the daemon reap it
    // (a SIGCHLD and a log line) before the idle window opens.
    daemon.wait_for_log(&[COMMAND_EXITED]);
    // Let the save that follows the read happen (at most a second later).
    crate::common::wait_until("the state to hold ERROR 1", || {
        let state = sandbox.read(STATE)?;
        let end = fs::metadata(sandbox.log()).ok()?.len();
        // ...and the save that follows the command's end.
        (state.contains(&format!("\"offset\":{end}")) && !state.contains("\"jobs\"")).then_some(())
    });
    // The saver finishes that write (its fsync of the directory) after
    // the file is in place: let the threads settle (bounded) first.
    let mut last = context_switches(daemon.pid());
    crate::common::poll(Duration::from_secs(5), || {
        std::thread::sleep(Duration::from_millis(100));
        let now = context_switches(daemon.pid());
        let settled = now == last;
        last = now;
        settled.then_some(())
    });
    // The state is renamed into place before the saver syncs its
    // directory and goes back to sleep: let it finish that write.
    crate::common::wait_settled(daemon.pid());
    let saved = fs::metadata(sandbox.path(STATE))
        .unwrap()
        .modified()
        .unwrap();
    let before = context_switches(daemon.pid());
    std::thread::sleep(Duration::from_secs(2));
    let after = context_switches(daemon.pid());
    assert!(after - before <= 1, "woke up {} times", after - before);
    let now = fs::metadata(sandbox.path(STATE))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(saved, now, "no state write while idle");
}

/// A rotated file the daemon was still finishing when it stopped, moved
/// back to the path while it was down, continues at its saved offset: it is
/// neither read again from 0 nor read twice.
#[test]
fn a_rotated_file_moved_back_while_stopped_continues_at_its_offset() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    expect_run(&sandbox, 1, "ERROR 1");
    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    daemon.wait_for_log(&["moved away (to"]);
    sandbox.append("logs/app.log.1", "ERROR 2 in the rotated file\n");
    sandbox.wait_for_lines("runs.txt", 2);
    stop(daemon);
    fs::rename(sandbox.path("logs/app.log.1"), sandbox.log()).unwrap();
    let _daemon = start(&sandbox, &[]);
    let runs = expect_run(&sandbox, 3, "ERROR 3 sentinel");
    assert_eq!(
        runs,
        ["ERROR 1", "ERROR 2 in the rotated file", "ERROR 3 sentinel"]
    );
}

/// The position saved in the middle of a line longer than the line cap is
/// the line's start: after a restart the line is read whole (its first
/// MiB matched), not its tail as a line of its own.
#[test]
fn a_position_saved_inside_an_overlong_line_is_its_start() {
    let sandbox = sandbox();
    let args = ["-n", "-l", LOG, "-p", "ERROR head", "--state-file", STATE];
    let mut daemon = Daemon::start(&sandbox, args);
    let start = fs::metadata(sandbox.log()).unwrap().len();
    let mut line = b"ERROR head ".to_vec();
    line.resize(3_000_000, b'x');
    sandbox.append(LOG, &line);
    // Read past the cap (and so into the dropped part) before the stop.
    daemon.wait_for_log(&["line longer than"]);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    let state = fs::read_to_string(sandbox.path(STATE)).unwrap();
    assert!(state.contains(&format!("\"offset\":{start},")), "{state}");
    sandbox.append(LOG, " end\nERROR head sentinel\n");
    let daemon = Daemon::start(&sandbox, args);
    let first = daemon.next_line();
    assert!(
        first.starts_with("ERROR head xxx"),
        "{}",
        &first[..first.len().min(40)]
    );
    daemon.expect_line("ERROR head sentinel");
}

/// Started inside a line longer than 1 MiB, logs2eca skips the rest of it
/// (SPEC §3). A state saved while it skips (its position inside that line)
/// says so: after a SIGKILL and a restart the rest is still skipped, not
/// read as a line of its own (D13).
#[test]
fn a_crash_while_skipping_the_rest_of_an_overlong_line_keeps_skipping_it() {
    let sandbox = sandbox();
    // Started at the end of a partial line longer than 1 MiB: inside it.
    let mut line = b"ERROR head ".to_vec();
    line.resize(1_500_000, b'x');
    sandbox.append(LOG, &line);
    let args = ["-n", "-l", LOG, "-p", "ERROR", "--state-file", STATE];
    let mut daemon = Daemon::start(&sandbox, args);
    // More of the line: skipped, and the position saved past it.
    sandbox.append(LOG, vec![b'y'; 200_000]);
    let end = fs::metadata(sandbox.log()).unwrap().len();
    crate::common::wait_until("the state to hold the position inside the line", || {
        let state: serde_json::Value = serde_json::from_str(&sandbox.read(STATE)?).ok()?;
        (state["files"]["current"]["offset"].as_u64()? == end).then_some(())
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    wait_for_unlocked(&sandbox);
    sandbox.append(LOG, "ERROR tail\nERROR sentinel\n");
    let daemon = Daemon::start(&sandbox, args);
    let first = daemon.next_line();
    assert_eq!(first, "ERROR sentinel", "the tail is not a line");
}

/// A match queued behind a running command (`-w 0`) when logs2eca is
/// stopped is not started during the stop, only to be killed: it stays
/// queued in the saved state, and runs after the next start, once.
/// With `--wait 0`, a match queued at a stop is not started during the
/// stop, which lets the running command finish: the restart runs it.
#[test]
fn a_match_queued_at_a_stop_runs_after_the_restart() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-w",
        "0",
        "-c",
        RECORD_AND_STAY,
        "--state-file",
        STATE,
        "-v",
    ];
    let daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERROR A\nERROR B queued\n");
    sandbox.wait_for_lines("runs.txt", 1);
    daemon.wait_for_log(&["queued: ERROR B queued"]);
    stop_letting_finish(daemon, &sandbox);
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 1),
        ["ERROR A"],
        "B never started"
    );
    let _daemon = Daemon::start(&sandbox, args);
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["ERROR A", "ERROR B queued"]
    );
}

/// A match held at a stop keeps its line cut to its first 64 KiB in the
/// state, but not its key: a key group past the cut gives the restored
/// match the key it had, not one taken from the cut line (D12).
#[test]
fn a_held_match_keeps_its_key_from_past_the_cut_across_a_restart() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let record_key = r#"sh -c 'printf "%s\n" "$LOGS2ECA_KEY" >> runs.txt; while [ -e hold ]; do sleep 0.02; done'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/^ERROR .*user=(\w+)/",
        "--key",
        "1",
        "-w",
        "0",
        "-c",
        record_key,
        "--state-file",
        STATE,
        "-v",
    ];
    let daemon = Daemon::start(&sandbox, args);
    let long = format!("ERROR {} user=alice", "x".repeat(100_000));
    sandbox.append(LOG, format!("ERROR user=alice first\n{long}\n"));
    sandbox.wait_for_lines("runs.txt", 1);
    daemon.wait_for_log(&["queued: ERROR xxx"]);
    stop_letting_finish(daemon, &sandbox);
    let state = fs::read_to_string(sandbox.path(STATE)).unwrap();
    assert!(state.contains(r#""key":"alice""#), "{state}");
    let _daemon = Daemon::start(&sandbox, args);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 2), ["alice", "alice"]);
}

/// A trigger waiting for a free slot when the daemon is killed has not
/// run: after the restart its key is not cooling down as if it had, and
/// its line, read again, runs the command, after the one that was running
/// (lost with the crash, so run again).
#[test]
fn a_trigger_waiting_for_a_slot_at_a_crash_runs_after_the_restart() {
    let sandbox = sandbox();
    let slow = RECORD_AND_STAY;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/ERR (\w)/",
        "--key",
        "1",
        "-w",
        "10",
        "-c",
        slow,
        "--state-file",
        STATE,
        "-v",
    ];
    sandbox.write("hold", "");
    let mut daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERR A first\n");
    sandbox.wait_for_lines("runs.txt", 1);
    sandbox.append(LOG, "ERR B waits for the slot\n");
    daemon.wait_for_log(&["waiting for a free slot: ERR B"]);
    // Killed once the state knows B is waiting (saved within a second).
    crate::common::wait_until("the state to hold key B", || {
        sandbox.read(STATE)?.contains(r#""key":"B""#).then_some(())
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    // What a supervisor does before a restart: the unit's processes go.
    kill_commands(&sandbox, 1);
    fs::remove_file(sandbox.path("hold")).unwrap();
    let _daemon = Daemon::start(&sandbox, args);
    let runs = sandbox.wait_for_lines("runs.txt", 3);
    assert_eq!(
        runs,
        ["ERR A first", "ERR A first", "ERR B waits for the slot"]
    );
}

/// With keys, matches held for one key (queued behind its running command)
/// are kept in the state as matches: a crash and a restart run them once,
/// and the commands that were running (lost with the crash) once more,
/// and nothing else again for the other keys, whose lines came after them.
#[test]
fn held_matches_of_one_key_do_not_rerun_the_other_keys_after_a_crash() {
    let sandbox = sandbox();
    let slow = RECORD_AND_STAY;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/ERR (\w)/",
        "--key",
        "1",
        "-w",
        "0",
        "--max-running",
        "2",
        "-c",
        slow,
        "--state-file",
        STATE,
        "-v",
    ];
    sandbox.write("hold", "");
    let mut daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERR A 1\nERR A 2 queued\nERR B 1\n");
    sandbox.wait_for_lines("runs.txt", 2);
    daemon.wait_for_log(&["queued: ERR A 2 queued"]);
    // B starts once the save of A's spawn is written: wait for the save
    // of B's spawn too (B no longer held, its run kept to run again), or
    // the crash would repeat B.
    crate::common::wait_until("the state to hold the queued match", || {
        let text = sandbox.read(STATE)?;
        let state: serde_json::Value = serde_json::from_str(&text).ok()?;
        let end = fs::metadata(sandbox.log()).ok()?.len();
        let held: Vec<&str> = state["gate"]["held"]
            .as_array()?
            .iter()
            .filter_map(|h| h["line"].as_str())
            .collect();
        let b_runs = state["runner"]["jobs"]
            .as_array()?
            .iter()
            .any(|job| job["action"] == "do" && job["key"] == "B");
        (held == ["ERR A 2 queued"] && b_runs && text.contains(&format!("\"offset\":{end},")))
            .then_some(())
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    kill_commands(&sandbox, 2);
    wait_for_unlocked(&sandbox);
    fs::remove_file(sandbox.path("hold")).unwrap();
    let _daemon = Daemon::start(&sandbox, args);
    // Key A's sentinel is queued behind A's runs: it comes after them.
    let runs = runs_up_to(&sandbox, "ERR A sentinel");
    let mut sorted = runs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "ERR A 1",
            "ERR A 1",
            "ERR A 2 queued",
            "ERR A sentinel",
            "ERR B 1",
            "ERR B 1"
        ],
        "the running ones twice, the rest once: {runs:?}"
    );
}

/// A trigger that had reached `--threshold` and waited for a slot when
/// logs2eca stopped runs after the restart: it is not one match counting
/// toward a new window.
#[test]
fn a_waiting_trigger_over_a_threshold_runs_after_a_restart() {
    let sandbox = sandbox();
    let slow = r#"sh -c 'printf "%s\n" "$LOGS2ECA_KEY" >> runs.txt; while [ -e hold ]; do sleep 0.02; done'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/k=(?P<k>\w+)/",
        "--key",
        "k",
        "--threshold",
        "2/1m",
        "-w",
        "3",
        "-c",
        slow,
        "--state-file",
        STATE,
        "-v",
    ];
    sandbox.write("hold", "");
    let daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "k=a\nk=a\nk=b\nk=b\n");
    sandbox.wait_for_lines("runs.txt", 1);
    daemon.wait_for_log(&["waiting for a free slot: k=b"]);
    stop_letting_finish(daemon, &sandbox);
    let _daemon = Daemon::start(&sandbox, args);
    assert_eq!(sandbox.wait_for_lines("runs.txt", 2), ["a", "b"]);
}

/// Held matches go through this run's pattern again: a line the new
/// settings do not let through (here excluded) does not run the command.
#[test]
fn held_matches_the_new_settings_refuse_are_dropped_at_start() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-w",
        "0",
        "-c",
        RECORD_AND_STAY,
        "--state-file",
        STATE,
        "-v",
    ];
    let daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERROR one\nERROR two noisy\nERROR three\n");
    sandbox.wait_for_lines("runs.txt", 1);
    daemon.wait_for_log(&["queued: ERROR three"]);
    stop_letting_finish(daemon, &sandbox);
    let restart = [&args[..], &["-x", "noisy"]].concat();
    let daemon = Daemon::start(&sandbox, restart);
    daemon.wait_for_log(&["1 held match(es) from the saved state no longer match"]);
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["ERROR one", "ERROR three"]
    );
}

/// The `last_end_unix_ms` of key `key` in the saved state, if there.
fn saved_end(sandbox: &Sandbox, key: &str) -> Option<u64> {
    let state: serde_json::Value = serde_json::from_str(&sandbox.read(STATE)?).ok()?;
    state["gate"]["keys"]
        .as_array()?
        .iter()
        .find(|k| k["key"] == key)?["last_end_unix_ms"]
        .as_u64()
}

/// The end of a command is saved (D1): a command that ran for 3 s under a
/// 2 s cooldown, then a SIGKILL of the daemon. Restarted, the key is still
/// cooling down, since the cooldown counts from the command's end; saved
/// as of the spawn only, it would have been over at the restart and the
/// next match would run the command again.
#[test]
fn a_cooldown_counts_from_the_end_of_a_command_across_a_crash() {
    let sandbox = sandbox();
    let slow = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; sleep 3'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        r"/ERROR (\w+)/",
        "--key",
        "1",
        "-w",
        "2",
        "-c",
        slow,
        "--state-file",
        STATE,
    ];
    let mut daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERROR a first\n");
    // Saved right after the spawn: a running key counts as ending now.
    let spawned = crate::common::wait_until("the spawn to be saved", || saved_end(&sandbox, "a"));
    daemon.wait_for_log(&[COMMAND_EXITED]);
    // And again once the command has ended, 3 s later.
    crate::common::wait_until("the command's end to be saved", || {
        saved_end(&sandbox, "a").filter(|&end| end >= spawned + 2900)
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    wait_for_unlocked(&sandbox);
    let _daemon = Daemon::start(&sandbox, args);
    // More than 2 s after the spawn, less than 2 s after the end.
    sandbox.append(LOG, "ERROR a during the cooldown\n");
    let runs = runs_up_to(&sandbox, "ERROR z sentinel");
    assert_eq!(runs, ["ERROR a first", "ERROR z sentinel"]);
}

/// Is the process `pid` there and not a zombie?
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// A command still running when the daemon was killed (its group survives
/// a SIGKILL of the daemon) is ended at the next start before its key can
/// run again (D1): never two instances of the command at once. Its process
/// group and start time are in the state, saved right after the spawn; so
/// is the run itself, which is then done again.
#[test]
fn a_command_left_running_by_a_crash_is_ended_before_its_key_runs_again() {
    let sandbox = sandbox();
    sandbox.write("hold", "");
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-w",
        "0",
        "-c",
        RECORD_AND_STAY,
        "--state-file",
        STATE,
    ];
    let mut daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERROR one\n");
    let pgid: i32 = sandbox.wait_for_lines("pgids", 1)[0].parse().unwrap();
    // The save after the spawn (2 ms later): the position past the line.
    crate::common::wait_until("the spawn to be saved", || {
        let end = fs::metadata(sandbox.log()).ok()?.len();
        sandbox
            .read(STATE)?
            .contains(&format!("\"offset\":{end}"))
            .then_some(())
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(TIMEOUT);
    wait_for_unlocked(&sandbox);
    assert!(alive(pgid), "the command outlives a SIGKILLed daemon");
    let _daemon = Daemon::start(&sandbox, args);
    // Ended during the start, before READY=1.
    crate::common::wait_until("the old command to be gone", || {
        (!alive(pgid)).then_some(())
    });
    // Then run again, alone: the old one was gone first.
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["ERROR one", "ERROR one"]
    );
    fs::remove_file(sandbox.path("hold")).unwrap();
    let runs = expect_run(&sandbox, 3, "ERROR two");
    assert_eq!(runs, ["ERROR one", "ERROR one", "ERROR two"]);
}

// ---------------------------------------------------------------------------
// The restart torture with every kind of verdict (D4): matches printed (a
// dry run), suppressed (a cooldown) and counted (a threshold), not only
// spawned, across repeated SIGKILLs under a steady writer of numbered
// lines. Whatever was handled before a crash is in the state soon after
// (2 ms), not up to a second later: a line is handled again after a
// restart only if the crash came in that moment, never a second's worth.

/// Kills per torture run.
const KILLS: usize = 6;

/// Numbered lines the writer appends per round (one every `PACE`) before
/// each SIGKILL, which comes right after the last of them.
const PER_ROUND: usize = 30;
const PACE: Duration = Duration::from_millis(10);

/// What one daemon handled before it was killed or stopped: the numbers
/// of the lines `n=K` it printed or logged as triggered or suppressed.
type Handled = Vec<usize>;

/// The numbers in `lines` after `marker` (`n=K`).
fn numbers<'a>(lines: impl Iterator<Item = &'a str>, marker: &str) -> Handled {
    lines
        .filter_map(|line| {
            let rest = &line[line.find(marker)? + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// What one daemon left: its stderr and its stdout.
struct Output {
    stderr: String,
    stdout: String,
}

/// Runs `args` under a steady writer of `ERROR n=K` lines, SIGKILLs it
/// `KILLS` times (right after a round of writes, while it reads them),
/// writes a few lines while it is down, restarts it; then appends
/// sentinel lines until `done` says one (its number given) was handled,
/// and stops it with SIGTERM. Returns the number of lines written
/// (sentinels included) and what each daemon left, in order.
/// With `leave_commands`, a command running at a kill is left to the
/// restart to end (else the restart waits until the commands are done).
fn torture(
    sandbox: &Sandbox,
    args: &[&str],
    leave_commands: bool,
    done: impl Fn(&Output, usize) -> bool,
) -> (usize, Vec<Output>) {
    let mut runs = 0;
    let mut start = || {
        runs += 1;
        let stdout = fs::File::create(sandbox.path(format!("stdout{runs}"))).unwrap();
        let daemon = Daemon::builder(sandbox).args(args).stdout(stdout).start();
        (daemon, runs)
    };
    let output = |daemon: &Daemon, run: usize| Output {
        stderr: daemon.stderr(),
        stdout: sandbox.read(format!("stdout{run}")).unwrap_or_default(),
    };
    let (mut daemon, mut run) = start();
    let mut outputs = Vec::new();
    let mut written = 0;
    for _ in 0..KILLS {
        for i in 0..PER_ROUND {
            // The first of a round: a slow run for the kill to come in.
            let slow = if i == 0 { " slow" } else { "" };
            sandbox.append(LOG, format!("ERROR n={written}{slow}\n"));
            written += 1;
            std::thread::sleep(PACE);
        }
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(TIMEOUT);
        outputs.push(output(&daemon, run));
        wait_for_unlocked(sandbox);
        if !leave_commands {
            wait_for_commands_done(sandbox);
        }
        for _ in 0..5 {
            sandbox.append(LOG, format!("ERROR n={written}\n"));
            written += 1;
        }
        (daemon, run) = start();
    }
    // Sentinels until one is handled: everything before it was read.
    let found = (0..20).any(|_| {
        sandbox.append(LOG, format!("ERROR n={written} sentinel\n"));
        written += 1;
        crate::common::poll(Duration::from_secs(1), || {
            done(&output(&daemon, run), written - 1).then_some(())
        })
        .is_some()
    });
    assert!(found, "no sentinel was handled");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    outputs.push(output(&daemon, run));
    (written, outputs)
}

/// The numbers handled by more than one daemon, with how many times.
fn handled_again(handled: &[Handled]) -> Vec<(usize, usize)> {
    let mut times = std::collections::BTreeMap::new();
    for one in handled {
        let distinct: std::collections::BTreeSet<usize> = one.iter().copied().collect();
        for n in distinct {
            *times.entry(n).or_insert(0) += 1;
        }
    }
    times.into_iter().filter(|&(_, t)| t > 1).collect()
}

/// A dry run with a state file prints every numbered line across the
/// crashes, and none twice: a printed line is held until the save that
/// covers it is written (the review saw 2,011 of 6,328 lines printed twice
/// over 15 SIGKILLs with saves once a second, and a few per kill with the
/// save 2 ms after each print).
#[test]
fn sigkill_under_a_steady_writer_prints_each_line_once() {
    let sandbox = sandbox();
    let args = ["-n", "-l", LOG, "-p", "ERROR n=", "--state-file", STATE];
    let printed = |out: &Output| numbers(out.stdout.lines(), "n=");
    let (written, outputs) = torture(&sandbox, &args, false, |out, n| printed(out).contains(&n));
    let handled: Vec<Handled> = outputs.iter().map(printed).collect();
    let all: std::collections::BTreeSet<usize> = handled.iter().flatten().copied().collect();
    let lost: Vec<usize> = (0..written).filter(|n| !all.contains(n)).collect();
    let again = handled_again(&handled);
    eprintln!("{KILLS} SIGKILLs, {written} lines, printed again: {again:?}");
    assert!(lost.is_empty(), "never printed: {lost:?}");
    assert!(
        again.is_empty(),
        "printed again after a restart (line, times): {again:?}"
    );
    let within: Vec<usize> = handled
        .iter()
        .flat_map(|one| {
            let mut seen = std::collections::BTreeSet::new();
            one.iter()
                .copied()
                .filter(move |n| !seen.insert(*n))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(within.is_empty(), "printed twice by one daemon: {within:?}");
}

/// A SIGKILL a moment (1 ms) after each line is written, while the save
/// that covers its print is still to come (it is due 2 ms after the read):
/// the line is printed once, by whichever daemon's save covered it. A
/// daemon that printed at once and saved after printed it again after
/// nearly every restart. What remains is §6's window, as for a spawn: a
/// kill between the write of the lines and the rename of the save that
/// covers them (microseconds, unless the thread is descheduled right
/// there, as on a loaded machine) prints that run's lines again in the
/// next run that prints anything: never a line of an earlier run, and in
/// a few of 20 kills at most. (A run killed before it read its round's
/// line, or before its first save, leaves it to the next, so one kill in
/// the window may repeat several lines, and a run killed in the window may
/// be followed by runs that print nothing.)
#[test]
fn a_sigkill_a_moment_after_a_print_does_not_print_it_again() {
    let sandbox = sandbox();
    // From the beginning while no state is saved yet: a kill before the
    // first save must not start the next daemon at the end of the file.
    let args = [
        "-n",
        "-l",
        LOG,
        "-p",
        "ERROR n=",
        "--state-file",
        STATE,
        "--from-beginning",
    ];
    let start = |run: usize| {
        let stdout = fs::File::create(sandbox.path(format!("stdout{run}"))).unwrap();
        Daemon::builder(&sandbox).args(args).stdout(stdout).start()
    };
    const ROUNDS: usize = 20;
    let mut daemon = start(0);
    for n in 0..ROUNDS {
        sandbox.append(LOG, format!("ERROR n={n}\n"));
        // Not a synchronisation: where the kill falls. Whether the daemon
        // has read the line by then or not, it must print it once.
        std::thread::sleep(Duration::from_millis(1));
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(TIMEOUT);
        wait_for_unlocked(&sandbox);
        daemon = start(n + 1);
    }
    sandbox.append(LOG, format!("ERROR n={ROUNDS} sentinel\n"));
    let printed = |run: usize| {
        numbers(
            sandbox
                .read(format!("stdout{run}"))
                .unwrap_or_default()
                .lines(),
            "n=",
        )
    };
    crate::common::wait_until("the sentinel to be printed", || {
        printed(ROUNDS).contains(&ROUNDS).then_some(())
    });
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    let runs: Vec<Vec<usize>> = (0..=ROUNDS).map(printed).collect();
    let all: Vec<usize> = runs.iter().flatten().copied().collect();
    let mut distinct = all.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct,
        (0..=ROUNDS).collect::<Vec<_>>(),
        "none lost: {all:?}"
    );
    let again: Vec<usize> = (0..=ROUNDS)
        .filter(|n| all.iter().filter(|m| *m == n).count() > 1)
        .collect();
    // The runs killed between their print and their save: each printed
    // again all the lines it had printed, as many as had waited for it
    // (runs killed before reading leave theirs to the next).
    let mut killed_in_the_window = Vec::new();
    for &n in &again {
        // Printed twice, from the run its line was written under on (that
        // run may have been killed before reading it): by a run killed
        // between its print and its save, then by the next run that
        // printed anything (the runs between were killed before a save).
        let by: Vec<usize> = (0..=ROUNDS).filter(|&k| runs[k].contains(&n)).collect();
        assert!(
            by.len() == 2 && by[0] >= n && runs[by[0] + 1..by[1]].iter().all(Vec::is_empty),
            "line {n} printed again outside the moment of a kill (by runs {by:?}): {runs:?}"
        );
        assert_eq!(all.iter().filter(|m| **m == n).count(), 2, "{runs:?}");
        killed_in_the_window.push(by[0]);
    }
    killed_in_the_window.dedup();
    assert!(
        killed_in_the_window.len() <= 3,
        "{} of {ROUNDS} kills fell between a print and its save: runs \
         {killed_in_the_window:?} printed {again:?} again in {runs:?}",
        killed_in_the_window.len()
    );
}

/// Lines handled again after a restart: only those of the moment before
/// each kill (the 2 ms before a save, and the write), never a second's
/// worth. The kill comes right after the last line of a round: a daemon
/// that saved only once a second handles most of the round's 30 lines
/// (300 ms of writing) again; one that saves 2 ms after each verdict, a
/// few. The bound, two thirds of a round (200 ms of writing) a kill,
/// leaves room for a loaded machine's slow writes.
#[track_caller]
fn assert_within_the_moment_before_each_kill(handled: &[Handled]) {
    for (kill, one) in handled[..KILLS].iter().enumerate() {
        let later: std::collections::BTreeSet<usize> =
            handled[kill + 1..].iter().flatten().copied().collect();
        let repeated: Vec<usize> = one.iter().copied().filter(|n| later.contains(n)).collect();
        assert!(
            repeated.len() <= PER_ROUND * 2 / 3,
            "kill {kill}: {} lines handled before it were handled again after it: {repeated:?}",
            repeated.len()
        );
    }
}

/// Records the line, the count that made the trigger and the suppressed.
const RECORD_COUNTS: &str = r#"sh -c 'printf "%s %s %s\n" "$LOGS2ECA_MATCH_LINE" "$LOGS2ECA_COUNT" "$LOGS2ECA_SUPPRESSED" >> runs.txt'"#;

/// The runs of `runs.txt`: number, count, suppressed.
fn counted_runs(sandbox: &Sandbox) -> Vec<(usize, u64, u64)> {
    let text = sandbox.read("runs.txt").unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut words = line.rsplitn(3, ' ');
            let suppressed = words.next().unwrap().parse().unwrap();
            let count = words.next().unwrap().parse().unwrap();
            let number = numbers(words, "n=")[0];
            (number, count, suppressed)
        })
        .collect()
}

/// Matches counted toward a threshold and suppressed by a cooldown (of
/// 1 s: spawns rarer than kills, so that the saves after them cannot hide
/// late saves of the rest), across SIGKILLs: the counts and suppressed
/// counts the commands are told add up to the lines written, none counted twice nor lost; a line suppressed
/// before a crash is not read again after it (where, the cooldown over by
/// then, it could run the command), but for the moment before each kill;
/// a run repeats only in §6's window (one per kill).
#[test]
fn sigkill_under_a_steady_writer_counts_and_suppresses_each_line_once() {
    let sandbox = sandbox();
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR n=",
        "--threshold",
        "2/1h",
        "-w",
        "1s",
        "-c",
        RECORD_COUNTS,
        "--state-file",
        STATE,
        "-v",
    ];
    let (_, outputs) = torture(&sandbox, &args, false, |_, n| {
        counted_runs(&sandbox).iter().any(|run| run.0 == n)
    });
    let handled: Vec<Handled> = outputs
        .iter()
        .map(|out| {
            let mut one = numbers(out.stderr.lines(), "] match: ERROR n=");
            one.extend(numbers(out.stderr.lines(), "] suppressed: ERROR n="));
            one
        })
        .collect();
    let again = handled_again(&handled);
    // Each run stands for the lines since the trigger before it: its
    // count and its suppressed matches, up to its own line. A run a crash
    // repeats (§6's window: its spawn was not saved yet) stands for some
    // of the lines of the run before it; re-read, its lines may get other
    // verdicts (a cooldown over by then), so it may trigger on another line.
    let runs = counted_runs(&sandbox);
    let mut covered = vec![0u32; runs.iter().map(|r| r.0 + 1).max().expect("runs")];
    let mut repeated = Vec::new();
    for &(n, count, suppressed) in &runs {
        let first = (n + 1)
            .checked_sub((count + suppressed) as usize)
            .unwrap_or_else(|| panic!("run {n} tells more lines than there were: {runs:?}"));
        if covered[first..=n].iter().any(|&c| c > 0) {
            repeated.push(n);
        }
        for c in &mut covered[first..=n] {
            *c += 1;
        }
    }
    let lost: Vec<usize> = (0..covered.len()).filter(|&n| covered[n] == 0).collect();
    eprintln!(
        "{KILLS} SIGKILLs, {} runs, repeated runs {repeated:?}, handled again: {again:?}",
        runs.len()
    );
    assert!(
        lost.is_empty(),
        "neither counted nor suppressed: {lost:?} in {runs:?}"
    );
    assert!(
        repeated.len() <= KILLS,
        "more repeated runs than kills: {repeated:?} in {runs:?}"
    );
    assert_within_the_moment_before_each_kill(&handled);
}

/// Runs for a moment (a `slow` line for longer than a round and a restart),
/// recording its line; one at a time, or the overlap is recorded:
/// `running` is its lock, which SIGTERM (the daemon ending its group)
/// releases too.
const ONE_AT_A_TIME: &str = r#"sh -c 'trap "rmdir running 2>/dev/null; exit 1" TERM; mkdir running 2>/dev/null || printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> overlaps; printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt; case "$LOGS2ECA_MATCH_LINE" in *slow) sleep 1;; *) sleep 0.01;; esac; rmdir running'"#;

/// SIGKILLs during runs (`-w 0`: the slow command of a round's first line
/// runs through the round, the round's matches queued behind it): the
/// command a crash left running is ended at the restart before anything
/// runs again, never two at once; every line runs, again only in §6's
/// window (one per kill).
#[test]
fn sigkill_during_runs_runs_every_line_and_never_two_at_once() {
    let sandbox = sandbox();
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR n=",
        "-w",
        "0",
        "-c",
        ONE_AT_A_TIME,
        "--state-file",
        STATE,
    ];
    let ran =
        |sandbox: &Sandbox| numbers(sandbox.read("runs.txt").unwrap_or_default().lines(), "n=");
    let (written, _) = torture(&sandbox, &args, true, |_, n| ran(&sandbox).contains(&n));
    let runs = ran(&sandbox);
    let mut times = vec![0; written];
    for &n in &runs {
        times[n] += 1;
    }
    let lost: Vec<usize> = (0..written).filter(|&n| times[n] == 0).collect();
    let twice: Vec<usize> = (0..written).filter(|&n| times[n] > 1).collect();
    eprintln!("{KILLS} SIGKILLs during runs, {written} lines, run twice: {twice:?}");
    assert_eq!(sandbox.read("overlaps"), None, "two commands ran at once");
    assert!(lost.is_empty(), "never run: {lost:?}");
    // A command a kill ends runs again from its start (SPEC §4): if the
    // next kill finds it running again, it runs once more. Still one run
    // again per kill at most.
    let repeats: usize = times.iter().map(|&t: &usize| t.saturating_sub(1)).sum();
    assert!(
        repeats <= KILLS,
        "run again beyond one per kill: {twice:?} ({repeats} repeats)"
    );
}

/// The saved record of the followed file, in a state as written.
fn saved_current(state: &mut serde_json::Value) -> &mut serde_json::Value {
    &mut state["files"]["current"]
}

/// A saved file is known by its birth time too, where the file system
/// keeps one: a file born later under the saved inode number, with the
/// same first bytes (here: the saved birth time moved, as a file deleted
/// and another created would have it), is another file, read from its
/// start, and the saved one is reported lost. A record without a birth
/// time (an older state) is compared without it.
#[test]
fn a_file_born_later_under_the_saved_inode_is_read_from_its_start() {
    let sandbox = sandbox();
    let daemon = start(&sandbox, &[]);
    sandbox.append(LOG, "ERROR one\n");
    sandbox.wait_for_lines("runs.txt", 1);
    stop(daemon);
    let mut state: serde_json::Value = serde_json::from_str(&sandbox.read(STATE).unwrap()).unwrap();
    let Some(born) = saved_current(&mut state)["born_ns"].as_u64() else {
        eprintln!("skipped: this file system keeps no birth time");
        return;
    };
    let mut unknown = state.clone();
    saved_current(&mut unknown)
        .as_object_mut()
        .unwrap()
        .remove("born_ns");
    sandbox.write(STATE, crate::common::state_json(&unknown));
    let daemon = start(&sandbox, &[]);
    assert_eq!(
        runs_up_to(&sandbox, "ERROR unknown is no difference"),
        ["ERROR one", "ERROR unknown is no difference"]
    );
    stop(daemon);

    let mut state: serde_json::Value = serde_json::from_str(&sandbox.read(STATE).unwrap()).unwrap();
    saved_current(&mut state)["born_ns"] = (born + 1).into();
    sandbox.write(STATE, crate::common::state_json(&state));
    let daemon = start(&sandbox, &[]);
    daemon.wait_for_log(&["is gone"]);
    assert_eq!(
        runs_up_to(&sandbox, "ERROR sentinel"),
        [
            "ERROR one",
            "ERROR unknown is no difference",
            "ERROR before the first start",
            "ERROR one",
            "ERROR unknown is no difference",
            "ERROR sentinel"
        ]
    );
    stop(daemon);
}
