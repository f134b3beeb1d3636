//! Standard input as a stream (SPEC §8, `-l -`): what `journalctl -f` or
//! `kubectl logs -f` pipe in is matched line by line, a line split across
//! writes matches once, and the end of input ends the run with exit 0 once
//! the commands it started have finished. Nothing of a file's machinery
//! (state, rotation) applies.

use std::io::Write;
use std::process::Stdio;

use crate::common::{COMMAND_EXITED, Daemon, LOG, Sandbox, TIMEOUT, run};

/// Each match appends its line to `out.txt`, slowly enough that the end of
/// input arrives while the last command still runs.
const RECORD: &str = "sh -c 'sleep 0.3; echo \"$LOGS2ECA_MATCH_LINE\" >> out.txt'";

#[test]
fn standard_input_runs_the_command_and_ends_after_it() {
    let sandbox = Sandbox::new();
    let mut daemon = Daemon::builder(&sandbox)
        .args(["-l", "-", "-p", "ERROR", "-w", "0", "-c", RECORD])
        .stdin(Stdio::piped())
        .start();
    let mut input = daemon.take_stdin().unwrap();

    input.write_all(b"INFO quiet\nERROR one\n").unwrap();
    assert_eq!(sandbox.wait_for_lines("out.txt", 1), ["ERROR one"]);

    // The first write ends in the middle of a line; the daemon has read it
    // once the line before it ran its command.
    input.write_all(b"ERROR two\nERR").unwrap();
    assert_eq!(sandbox.wait_for_lines("out.txt", 2)[1], "ERROR two");
    input.write_all(b"OR split\n").unwrap();
    assert_eq!(sandbox.wait_for_lines("out.txt", 3)[2], "ERROR split");

    // A last line without its newline is a line at the end of input.
    input.write_all(b"ERROR last, no newline").unwrap();
    drop(input);
    let status = daemon.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "stderr:\n{}", daemon.stderr());
    // Exited after its last command had finished, not before.
    assert_eq!(
        sandbox.read("out.txt").unwrap().lines().collect::<Vec<_>>(),
        [
            "ERROR one",
            "ERROR two",
            "ERROR split",
            "ERROR last, no newline"
        ]
    );
    let exits = daemon
        .stderr()
        .lines()
        .filter(|line| line.contains(COMMAND_EXITED))
        .count();
    assert_eq!(exits, 4, "stderr:\n{}", daemon.stderr());
}

#[test]
fn a_dry_run_on_standard_input_prints_matches_and_ends_with_it() {
    let sandbox = Sandbox::new();
    let mut daemon = Daemon::builder(&sandbox)
        .args(["-n", "-l", "-", "-p", "ERROR"])
        .stdin(Stdio::piped())
        .start();
    let mut input = daemon.take_stdin().unwrap();
    input.write_all(b"ERROR a\nINFO b\n").unwrap();
    daemon.expect_line("ERROR a");
    input.write_all(b"ERROR c\n").unwrap();
    daemon.expect_line("ERROR c");
    drop(input);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn settings_that_mean_nothing_for_a_stream_are_refused_or_warned_about() {
    let sandbox = Sandbox::new();
    let outcome = run(
        &sandbox,
        &["-n", "-l", "-", "-p", "ERROR", "--state-file", "s.json"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--state-file") && outcome.stderr.contains("-l -"),
        "{}",
        outcome.stderr
    );

    // Standard input is /dev/null here: the run ends at once, exit 0. Not
    // a dry run, which leaves STATE_DIRECTORY alone without a word.
    let state_dir = sandbox.path("state");
    let outcome = run(
        &sandbox,
        &[
            "-c",
            "true",
            "-l",
            "-",
            "-p",
            "ERROR",
            "--from-beginning",
            "--poll",
            "1s",
        ],
        &[("STATE_DIRECTORY", state_dir.to_str().unwrap())],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    for ignored in ["STATE_DIRECTORY", "--from-beginning", "--poll"] {
        assert!(
            outcome
                .stderr
                .lines()
                .any(|line| line.contains(ignored) && line.contains("-l -")),
            "no warning about {ignored}:\n{}",
            outcome.stderr
        );
    }
    assert!(!state_dir.exists(), "no state is kept for a stream");
}

#[test]
fn a_pipe_named_as_the_log_file_points_to_standard_input() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.path(LOG);
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c_path` is NUL-terminated and outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let outcome = run(&sandbox, &["-n", "-l", LOG, "-p", "ERROR"], &[]);
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("not a regular file") && outcome.stderr.contains("-l -"),
        "{}",
        outcome.stderr
    );
}
