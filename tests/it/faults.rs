//! Things that go wrong around the daemon, and that must not wedge or crash
//! it: an inotify queue overflow, a thousand rotations (descriptors and
//! memory come back), commands that hang, ignore SIGTERM, daemonize, flood
//! their output or cannot run, a SIGHUP storm nobody acknowledges, and
//! running as PID 1 of a PID namespace.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::{
    COMMAND_EXITED, Daemon, LOG, Sandbox, all_processes, live_group_members, open_fds,
    peak_rss_kib, proc_stat, rss_kib, send_signal, wait_for_group_gone, wait_for_pid_file,
    wait_until, wait_until_within, zombie_children,
};

const DRY_RUN: [&str; 5] = ["-n", "-l", LOG, "-p", "ERROR"];

/// Records `$LOGS2ECA_MATCH_LINE $LOGS2ECA_SUPPRESSED` in `runs.txt`, then
/// misbehaves in the way the line asks for.
const MISBEHAVING: &str = r#"sh -c '
printf "%s %s\n" "$LOGS2ECA_MATCH_LINE" "$LOGS2ECA_SUPPRESSED" >> runs.txt
case "$LOGS2ECA_MATCH_LINE" in
*hang*) echo $$ > cmd.pid; sleep 300 & sleep 300 ;;
*stubborn*) trap "" TERM; echo $$ > cmd.pid; sleep 300 & sleep 300 ;;
*daemonize*)
    setsid sh -c "echo \$\$ > escaped.pid; exec sleep 300" </dev/null >/dev/null 2>&1 &
    sleep 300 </dev/null >/dev/null 2>&1 &
    echo $! > background.pid
    while [ ! -s escaped.pid ]; do sleep 0.01; done ;;
*loud*)
    head -c 20000000 /dev/zero | tr "\0" o
    head -c 1000000 /dev/zero | tr "\0" e >&2 ;;
esac'"#;

fn start_misbehaving(sandbox: &Sandbox, extra: &[&str]) -> Daemon {
    sandbox.write(LOG, "");
    let args = [&["-l", LOG, "-p", "ERROR", "-c", MISBEHAVING][..], extra].concat();
    Daemon::start(sandbox, args)
}

/// Kills `pid` when dropped, for processes that escaped the daemon on
/// purpose (a command that daemonizes).
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            send_signal(pid, libc::SIGKILL);
        }
    }
}

/// Appends `line` and waits until the command has recorded it in
/// `runs.txt` (line `n`, counting from 1) with `suppressed`.
#[track_caller]
fn trigger(sandbox: &Sandbox, n: usize, line: &str, suppressed: u64) {
    sandbox.append(LOG, format!("{line}\n"));
    let runs = sandbox.wait_for_lines("runs.txt", n);
    assert_eq!(
        runs[n - 1],
        format!("{line} {suppressed}"),
        "runs: {runs:?}"
    );
}

// ---------------------------------------------------------------------------
// inotify queue overflow.

#[test]
fn inotify_queue_overflow_loses_nothing() {
    let queue: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    if queue > 200_000 {
        eprintln!("skipped: fs.inotify.max_queued_events is {queue}, too many files to create");
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    sandbox.append(LOG, "ERROR before\n");
    daemon.expect_line("ERROR before");

    daemon.freeze();
    // At least one event per file: more than the queue holds. What follows
    // (an append, a rotation, the new file) raises events that are dropped.
    for i in 0..queue + 100 {
        File::create(sandbox.path(format!("logs/noise.{i}"))).unwrap();
    }
    sandbox.append(LOG, "ERROR appended during the overflow\n");
    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.append("logs/app.log.1", "ERROR late write to the rotated file\n");
    sandbox.write(LOG, "ERROR in the new file\n");
    daemon.resume();

    let mut got: Vec<String> = (0..3).map(|_| daemon.next_line()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "ERROR appended during the overflow",
            "ERROR in the new file",
            "ERROR late write to the rotated file",
        ]
    );
    daemon.wait_for_log(&["inotify queue overflow"]);
    sandbox.append(LOG, "ERROR sentinel\n");
    daemon.expect_line("ERROR sentinel");
}

/// The daemon keeps no queue of file system events of its own: while its
/// loop is held up (here by a dry-run reader that does not read), a flood
/// of events in the watched directory piles up in the kernel's bounded
/// queue, which overflows into a rescan, not in the daemon's memory.
#[test]
fn a_flood_of_events_while_the_loop_is_held_up_costs_no_memory() {
    const FILES: usize = 100_000;
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let daemon = Daemon::builder(&sandbox)
        .args(DRY_RUN)
        .stdout(writer)
        .start();
    // More matching output than the pipe holds: the loop blocks writing it.
    let line = format!("ERROR {}\n", "x".repeat(1000));
    sandbox.append(LOG, line.repeat(1000));
    for i in 0..FILES {
        File::create(sandbox.path(format!("logs/noise.{i}"))).unwrap();
    }
    // Unblock the loop: read everything it prints up to the sentinel.
    sandbox.append(LOG, "ERROR sentinel\n");
    let mut out = std::io::BufReader::new(&mut reader);
    let mut text = String::new();
    while !text.ends_with("ERROR sentinel\n") {
        text.clear();
        std::io::BufRead::read_line(&mut out, &mut text).expect("read the daemon's stdout");
        assert!(!text.is_empty(), "the daemon closed its stdout");
    }
    let peak = peak_rss_kib(daemon.pid());
    assert!(peak < 24 * 1024, "peak RSS {peak} KiB after {FILES} events");
}

// ---------------------------------------------------------------------------
// Descriptors and memory.

#[test]
fn a_thousand_rotations_leave_descriptors_and_memory_as_they_were() {
    const ROTATIONS: usize = 1000;
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    let pid = daemon.pid();
    sandbox.append(LOG, "ERROR warm-up\n");
    daemon.expect_line("ERROR warm-up");
    let fds_before = open_fds(pid);
    let rss_before = rss_kib(pid);

    let started = Instant::now();
    let mut fds_max = fds_before;
    for n in 0..ROTATIONS {
        // Half by rename, half by delete; each new file has a line, and
        // each rotated file gets one more after the rotation.
        let line = format!("ERROR rotation {n}");
        if n % 2 == 0 {
            fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
        } else {
            fs::remove_file(sandbox.log()).unwrap();
        }
        sandbox.write(LOG, format!("{line}\n"));
        daemon.expect_line(&line);
        if n % 100 == 0 {
            fds_max = fds_max.max(open_fds(pid));
        }
    }
    let rotating = started.elapsed();
    let peak = peak_rss_kib(pid);
    let rss_after_rotations = rss_kib(pid);

    // Rotated files are closed 5 s after their last growth.
    let fds_after = wait_until_within(
        Duration::from_secs(20),
        "the rotated files to be closed",
        || {
            let n = open_fds(pid);
            (n <= fds_before).then_some(n)
        },
    );
    sandbox.append(LOG, "ERROR sentinel\n");
    daemon.expect_line("ERROR sentinel");
    let rss_after = rss_kib(pid);
    eprintln!(
        "{ROTATIONS} rotations in {rotating:?}: fds {fds_before} -> max {fds_max} -> \
         {fds_after}; RSS {rss_before} KiB -> {rss_after_rotations} KiB right after \
         -> {rss_after} KiB after the grace; peak {peak} KiB"
    );
    assert_eq!(fds_after, fds_before, "descriptors leaked");
    assert!(
        rss_after <= rss_before + 2048,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

// ---------------------------------------------------------------------------
// Commands that misbehave.

#[test]
fn hanging_command_is_killed_at_its_timeout_and_reading_goes_on() {
    let sandbox = Sandbox::new();
    let daemon = start_misbehaving(&sandbox, &["-w", "0", "-t", "0.5"]);
    trigger(&sandbox, 1, "ERROR hang", 0);
    let pgid = wait_for_pid_file(&sandbox, "cmd.pid");
    // Reading goes on while the command hangs: with -w 0 these wait their
    // turn and run, in order, once the hanging run is killed.
    sandbox.append(LOG, "ERROR while hanging 1\nERROR while hanging 2\n");
    wait_for_group_gone(pgid, Duration::from_secs(10));
    daemon.wait_for_log(&["timed out"]);
    daemon.wait_for_log(&["killed by signal 15"]);
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 3)[1..],
        ["ERROR while hanging 1 0", "ERROR while hanging 2 0"]
    );
    trigger(&sandbox, 4, "ERROR after the hang", 0);
}

#[test]
fn command_ignoring_sigterm_is_killed_after_the_grace() {
    let sandbox = Sandbox::new();
    let daemon = start_misbehaving(&sandbox, &["-w", "0", "-t", "0.3"]);
    trigger(&sandbox, 1, "ERROR stubborn", 0);
    let pgid = wait_for_pid_file(&sandbox, "cmd.pid");
    daemon.wait_for_log(&["timed out", "SIGTERM"]);
    let term_seen = Instant::now();
    // SIGTERM is ignored: the group lives on until SIGKILL, 2 s later.
    wait_for_group_gone(pgid, Duration::from_secs(10));
    let survived = term_seen.elapsed();
    daemon.wait_for_log(&["still running", "SIGKILL"]);
    daemon.wait_for_log(&["killed by signal 9"]);
    assert!(
        survived >= Duration::from_millis(1500),
        "the group was gone {survived:?} after SIGTERM, although it ignores SIGTERM"
    );
    trigger(&sandbox, 2, "ERROR after", 0);
}

#[test]
fn command_that_daemonizes_does_not_hold_the_daemon_up() {
    let sandbox = Sandbox::new();
    let daemon = start_misbehaving(&sandbox, &["-w", "0"]);
    trigger(&sandbox, 1, "ERROR daemonize", 0);
    let escaped = wait_for_pid_file(&sandbox, "escaped.pid");
    let background = wait_for_pid_file(&sandbox, "background.pid");
    let _cleanup = KillOnDrop(vec![escaped, background]);
    daemon.wait_for_log(&[COMMAND_EXITED, "0"]);
    // The command has exited (it waited for the escaped one to leave its
    // group: what stays in the group dies with it); what it left behind
    // does not keep the next match from running it again.
    trigger(&sandbox, 2, "ERROR next", 0);
    daemon.wait_for_log_count(&[COMMAND_EXITED], 2);
    trigger(&sandbox, 3, "ERROR and next", 0);
    daemon.wait_for_log_count(&[COMMAND_EXITED], 3);
    // Out of the daemon's reach by design (own session): still running.
    assert!(proc_stat(escaped).is_some_and(|p| p.is_live()));
}

#[test]
fn command_printing_megabytes_does_not_disturb_the_daemon() {
    let sandbox = Sandbox::new();
    let daemon = start_misbehaving(&sandbox, &["-w", "0"]);
    trigger(&sandbox, 1, "ERROR loud", 0);
    // 20 MB on stdout, 1 MB on stderr, then a normal exit.
    daemon.wait_for_log(&[COMMAND_EXITED, "0"]);
    trigger(&sandbox, 2, "ERROR quiet", 0);
    let peak = peak_rss_kib(daemon.pid());
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn exit_127_and_a_vanished_program_do_not_stop_the_daemon() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let program = sandbox.path("prog");
    let script = "#!/bin/sh\nprintf '%s\\n' \"$LOGS2ECA_MATCH_LINE\" >> runs.txt\nexit 127\n";
    let install = || {
        fs::write(&program, script).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    };
    install();
    let daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", "ERROR", "-w", "0", "-c", "./prog"],
    );

    sandbox.append(LOG, "ERROR 1\n");
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), ["ERROR 1"]);
    daemon.wait_for_log(&["exited with status 127"]);

    // The program was resolved at start; now it is gone.
    fs::remove_file(&program).unwrap();
    sandbox.append(LOG, "ERROR 2\n");
    daemon.wait_for_log(&["cannot start the command"]);
    sandbox.append(LOG, "ERROR 3\n");
    daemon.wait_for_log_count(&["cannot start the command"], 2);

    install();
    sandbox.append(LOG, "ERROR 4\n");
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["ERROR 1", "ERROR 4"]
    );
    daemon.wait_for_log_count(&["exited with status 127"], 2);
}

// ---------------------------------------------------------------------------
// Signals.

/// systemd reads its notify socket; a peer that does not must not wedge the
/// daemon (the socket's queue is short: `net.unix.max_dgram_qlen`).
#[test]
fn sighup_storm_with_an_unread_notify_socket_does_not_wedge() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    for n in 0..100 {
        daemon.signal(libc::SIGHUP);
        // Each SIGHUP is taken on its own (pending signals merge), and the
        // daemon goes on reading in between.
        let line = format!("ERROR after SIGHUP {n}");
        sandbox.append(LOG, format!("{line}\n"));
        daemon.expect_line(&line);
    }
}

/// Runs the daemon as PID 1 of a new PID namespace, as in a container
/// without an init: orphans that the command leaves are re-parented to it
/// and must be reaped; SIGTERM stops it cleanly.
#[test]
fn as_pid_1_it_reaps_adopted_orphans_and_stops_on_sigterm() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: creating a PID namespace needs root");
        return;
    }
    let probe = crate::common::clean_command("unshare")
        .args(["--pid", "--fork", "--kill-child", "--", "true"])
        .status();
    if !probe.as_ref().is_ok_and(|s| s.success()) {
        eprintln!("skipped: `unshare --pid --fork` does not work here ({probe:?})");
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    // The orphans leave the command's process group (`setsid`, before the
    // command exits: what stays in the group dies with the command). They
    // record their host pids (as seen from outside: `$!` is
    // the namespace's pid, so they read their own from /proc/self/stat
    // through the host's /proc, which the namespace still mounts).
    let command = r#"sh -c '
printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> runs.txt
for i in 1 2 3; do
    setsid sh -c "read -r self _ < /proc/self/stat; echo \$self >> orphans.txt; exec sleep 1" &
done
while [ "$(cat orphans.txt 2>/dev/null | wc -l)" -lt 3 ]; do sleep 0.01; done
exit 0'"#;
    let mut daemon = Daemon::builder(&sandbox)
        .wrapper(["unshare", "--pid", "--fork", "--kill-child", "--"])
        .args(["-l", LOG, "-p", "ERROR", "-w", "0", "-c", command])
        .start();
    let unshare = daemon.pid();
    let pid1 = wait_until("logs2eca under unshare", || {
        all_processes()
            .into_iter()
            .find(|p| p.ppid == unshare)
            .map(|p| p.pid)
    });
    let in_namespace = fs::read_to_string(format!("/proc/{pid1}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("NSpid:"))?.to_owned();
            line.split_whitespace().last().map(String::from)
        });
    assert_eq!(in_namespace.as_deref(), Some("1"), "logs2eca is not PID 1");

    sandbox.append(LOG, "ERROR leave orphans\n");
    sandbox.wait_for_lines("runs.txt", 1);
    let orphans: BTreeSet<i32> = sandbox
        .wait_for_lines("orphans.txt", 3)
        .iter()
        .map(|l| l.trim().parse().expect("a pid in orphans.txt"))
        .collect();
    daemon.wait_for_log(&[COMMAND_EXITED, "0"]);
    // The command has exited; its children, still sleeping, now belong to
    // PID 1 of the namespace: logs2eca.
    for &orphan in &orphans {
        if let Some(p) = proc_stat(orphan) {
            assert!(
                p.ppid == pid1 || !p.is_live(),
                "orphan {orphan} has parent {}, not logs2eca ({pid1})",
                p.ppid
            );
        }
    }
    // Once they exit, logs2eca reaps them: no zombie is left.
    wait_until("the adopted orphans to be reaped", || {
        orphans
            .iter()
            .all(|&pid| proc_stat(pid).is_none_or(|p| p.ppid != pid1))
            .then_some(())
    });
    assert!(zombie_children(pid1).is_empty());

    // Still following after all that.
    sandbox.append(LOG, "ERROR again\n");
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 2),
        ["ERROR leave orphans", "ERROR again"]
    );
    daemon.wait_for_log_count(&[COMMAND_EXITED, "0"], 2);
    wait_until("the second run's orphans to be reaped", || {
        let orphans = sandbox.wait_for_lines("orphans.txt", 6);
        orphans
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .all(|pid: i32| proc_stat(pid).is_none_or(|p| p.ppid != pid1))
            .then_some(())
    });

    // SIGTERM to PID 1 (from outside the namespace: delivered because it
    // has a handler) stops it cleanly; unshare passes its status on.
    send_signal(pid1, libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    daemon.expect_notify("STOPPING=1");
    assert!(proc_stat(pid1).is_none(), "logs2eca is still there");
    assert!(live_group_members(pid1).is_empty());
}
