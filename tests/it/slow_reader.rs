//! A dry run's output to a reader that is slow (a pager, a terminal
//! stopped with Ctrl-S, `| (sleep 10; cat)`): with a state file the lines
//! are printed by the writer of the save that covers them, and the end of
//! the run waits for that reader as grep would, however long it takes:
//! every line comes out, and the state is saved after them. The patience
//! of the end of a run is for a stalled disk only.
//!
//! The reader here is a pipe the test reads only once the daemon would
//! have given up (its patience for the disk is 5 s): a daemon that gave up
//! exited by then, with the lines that did not fit in the pipe lost and
//! its state not saved.

use std::io::Read as _;
use std::time::Duration;

use crate::common::{Daemon, DaemonBuilder, LOG, Sandbox, TIMEOUT};

const STATE: &str = "state/state.json";

/// Longer than the patience the end of a run has for the disk.
const PAST_THE_PATIENCE: Duration = Duration::from_secs(8);

/// Many more lines than a pipe holds (64 KiB).
const LINES: usize = 20_000;

fn sandbox() -> (Sandbox, u64) {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("state")).unwrap();
    let text: String = (0..LINES).map(|n| format!("ERROR line {n}\n")).collect();
    sandbox.write(LOG, &text);
    (sandbox, text.len() as u64)
}

/// A dry run with a state file, its standard output a pipe the test
/// reads: the daemon to start (given more arguments where a test needs
/// them), and the pipe's read end.
fn dry_run_into_a_pipe(sandbox: &Sandbox) -> (DaemonBuilder<'_>, std::io::PipeReader) {
    let (reader, writer) = std::io::pipe().unwrap();
    let daemon = Daemon::builder(sandbox)
        .args(["-n", "-l", LOG, "-p", "ERROR", "--state-file", STATE])
        .stdout(writer);
    (daemon, reader)
}

/// Reads the pipe to its end in the background.
fn drain(mut reader: std::io::PipeReader) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("read the pipe");
        text
    })
}

/// Every line, once, in order.
#[track_caller]
fn assert_all_lines(printed: &str) {
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), LINES, "lines printed");
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("ERROR line {n}"));
    }
}

/// The state file saved at the end of the log.
#[track_caller]
fn assert_saved_at(sandbox: &Sandbox, end: u64) {
    let state = sandbox.read(STATE).expect("the state file");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        state["files"]["current"]["offset"].as_u64(),
        Some(end),
        "{state}"
    );
}

/// The daemon is still there past the patience for the disk: it waits
/// for its reader (this wait is a sentinel, for an exit that must not
/// come).
#[track_caller]
fn assert_waits_for_its_reader(daemon: &mut Daemon) {
    let exited = crate::common::poll(PAST_THE_PATIENCE, || (!daemon.is_running()).then_some(()));
    assert!(
        exited.is_none(),
        "exited while its output was not read; stderr:\n{}",
        daemon.stderr()
    );
}

/// `--once -n --state-file … | (sleep 8; cat)`: all 20,000 lines, and the
/// state saved at the end (the review saw 3,276 lines, the last one cut,
/// the state not saved, and the next run print them all again).
#[test]
fn a_scan_waits_for_a_slow_reader_and_saves_after_all_its_lines() {
    let (sandbox, end) = sandbox();
    let (daemon, reader) = dry_run_into_a_pipe(&sandbox);
    let mut daemon = daemon.args(["--once"]).spawn_unready();
    assert_waits_for_its_reader(&mut daemon);
    let printed = drain(reader);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    assert_all_lines(&printed.join().unwrap());
    assert_saved_at(&sandbox, end);
    let stderr = daemon.stderr();
    assert!(!stderr.contains("not waiting"), "{stderr}");
    // The summary comes after the lines it counts.
    assert!(stderr.contains("20000 would trigger"), "{stderr}");
}

/// The same at a SIGTERM while following: the stop waits for the reader,
/// prints every line and saves after them.
#[test]
fn a_stop_waits_for_a_slow_reader_and_saves_after_all_its_lines() {
    let (sandbox, end) = sandbox();
    let (daemon, reader) = dry_run_into_a_pipe(&sandbox);
    let mut daemon = daemon.args(["--from-beginning"]).spawn_unready();
    // READY=1 comes once the log is read, with the status line that says
    // so.
    daemon.expect_status("the whole log read", |status| {
        status.contains(&format!("at offset {end}"))
    });
    daemon.signal(libc::SIGTERM);
    assert_waits_for_its_reader(&mut daemon);
    let printed = drain(reader);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    assert_all_lines(&printed.join().unwrap());
    assert_saved_at(&sandbox, end);
}

/// A second SIGTERM still cuts the wait for a reader short, saying what
/// it does not wait for; the lines not printed are not lost: their state
/// is not saved, so the next run prints them.
#[test]
fn a_second_sigterm_does_not_wait_for_the_reader() {
    let (sandbox, _) = sandbox();
    let (daemon, reader) = dry_run_into_a_pipe(&sandbox);
    let mut daemon = daemon.args(["--from-beginning"]).start();
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log(&["received SIGTERM: stopping"]);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    daemon.wait_for_log(&["standard output is not being read: not waiting for it"]);
    let first = drain(reader).join().unwrap();
    // The next run (a scan to the end) prints what the first did not,
    // from where the first saved.
    let (daemon, reader) = dry_run_into_a_pipe(&sandbox);
    let printed = drain(reader);
    let mut daemon = daemon.args(["--once", "--from-beginning"]).spawn_unready();
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    let again = printed.join().unwrap();
    let numbers = |text: &str| -> std::collections::BTreeSet<usize> {
        text.lines()
            .filter_map(|line| line.strip_prefix("ERROR line ")?.parse().ok())
            .collect()
    };
    let all: std::collections::BTreeSet<usize> =
        numbers(&first).union(&numbers(&again)).copied().collect();
    assert_eq!(all.len(), LINES, "a line lost");
}

/// A backlog read at once by a dry run with a state file: its lines are
/// held for their save, at most about 1 MiB of them at a time, not what a
/// whole read turn (64 MiB of log) prints. The review saw a 75 MB log
/// printed as JSON peak at 595 MB; an 8 MB one peaked at 78 MiB (debug build), and
/// peaks at a few MB now (the bound leaves room for an allocator's slack).
#[test]
fn a_backlog_printed_as_json_holds_little_memory() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("state")).unwrap();
    let mut text = String::new();
    for n in 0.. {
        if text.len() >= 8 << 20 {
            break;
        }
        text.push_str(&format!("ERROR line {n}\n"));
    }
    sandbox.write(LOG, &text);
    let end = text.len();
    let (daemon, reader) = dry_run_into_a_pipe(&sandbox);
    let printed = std::thread::spawn(move || {
        use std::io::BufRead as _;
        std::io::BufReader::new(reader).lines().count()
    });
    let mut daemon = daemon.args(["--json", "--from-beginning"]).spawn_unready();
    // A debug build prints JSON slowly: a status line a turn (each
    // bounded), until the last.
    let deadline = std::time::Instant::now() + 12 * TIMEOUT;
    let at_end = format!("at offset {end};");
    while !daemon.expect_status("a turn", |_| true).contains(&at_end) {
        assert!(std::time::Instant::now() < deadline, "the log never read");
    }
    let peak_mib = crate::common::peak_rss_kib(daemon.pid()) / 1024;
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
    assert_eq!(printed.join().unwrap(), text.lines().count());
    eprintln!("peak RSS {peak_mib} MiB");
    assert!(peak_mib < 40, "peak RSS {peak_mib} MiB");
}
