//! The daemon as a process (SPEC §5) and the scan mode's contract (§1):
//! systemd readiness, clean shutdown on SIGTERM/SIGINT without orphans or
//! zombies, no wake-ups while idle, and `--once --from-beginning --dry-run`
//! printing exactly what grep prints.

use std::thread;
use std::time::Duration;

use crate::common::{
    COMMAND_EXITED, Daemon, LOG, Sandbox, TIMEOUT, clean_command, context_switches, poll, run,
    run_to_completion, wait_for_group_gone, zombie_children,
};

const DRY_RUN: [&str; 5] = ["-n", "-l", LOG, "-p", "ERROR"];

#[test]
fn ready_is_sent_on_notify_socket_once_watching() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    // `start` returns once READY=1 has arrived; a line appended right after
    // it must be processed.
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    sandbox.append(LOG, "ERROR right after READY=1\n");
    daemon.expect_line("ERROR right after READY=1");
}

#[test]
fn ready_is_sent_on_abstract_notify_socket() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::builder(&sandbox)
        .args(DRY_RUN)
        .abstract_notify_socket()
        .start();
    sandbox.append(LOG, "ERROR right after READY=1\n");
    daemon.expect_line("ERROR right after READY=1");
}

/// A parent may block signals and exec us with them blocked (the mask is
/// inherited): the daemon unblocks the ones it handles, so SIGTERM still
/// stops it, and SIGCHLD still tells it a command ended.
#[test]
fn signals_blocked_by_the_parent_are_unblocked() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let block = "use POSIX; \
        sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM, SIGHUP, SIGCHLD)) or die; \
        exec @ARGV or die";
    let mut daemon = Daemon::builder(&sandbox)
        .wrapper(["perl", "-e", block])
        .args(["-l", LOG, "-p", "ERROR", "-c", "true"])
        .start();
    sandbox.append(LOG, "ERROR one\n");
    daemon.wait_for_log(&[COMMAND_EXITED]);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
}

/// Stops the daemon with `signal` while a command runs: the command
/// finishes (the stop grace), then the daemon exits 0, STOPPING=1 sent,
/// and nothing left of the command's group.
fn check_stop_signal(signal: i32) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let command = "sh -c 'echo $$ > cmd.pid; sleep 0.5; echo finished > done.txt'";
    let mut daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", "ERROR", "-w", "0", "-c", command],
    );
    sandbox.append(LOG, "ERROR start the command\n");
    let pgid = crate::common::wait_for_pid_file(&sandbox, "cmd.pid");

    daemon.signal(signal);
    let status = daemon.wait_exit(crate::common::TIMEOUT);
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert_eq!(
        sandbox.read("done.txt").as_deref(),
        Some("finished\n"),
        "the command was let finish"
    );
    daemon.expect_notify("STOPPING=1");
    wait_for_group_gone(pgid, Duration::from_secs(1));
}

#[test]
fn sigterm_stops_the_daemon_and_its_command() {
    check_stop_signal(libc::SIGTERM);
}

#[test]
fn sigint_stops_the_daemon_and_its_command() {
    check_stop_signal(libc::SIGINT);
}

/// A second SIGTERM or SIGINT while the first one's grace runs stops at
/// once: an operator who asks twice is not kept waiting, and the command's
/// group (which ignores SIGTERM here) is killed all the same.
#[test]
fn a_second_stop_signal_stops_at_once_and_kills_the_group() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let command = r#"sh -c 'trap "" TERM; echo $$ > pgid; while :; do sleep 1; done'"#;
    let mut daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", "ERROR", "-w", "0", "-c", command],
    );
    sandbox.append(LOG, "ERROR start the command\n");
    let pgid = crate::common::wait_for_pid_file(&sandbox, "pgid");
    // Stopping lets the command finish (it would not: it loops); the second
    // signal does not wait for that.
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log(&["received SIGTERM: stopping"]);
    daemon.signal(libc::SIGINT);
    let status = daemon.wait_exit(Duration::from_secs(2));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    daemon.wait_for_log(&["received SIGINT again: stopping now"]);
    wait_for_group_gone(pgid, Duration::from_secs(1));
}

#[test]
fn finished_commands_leave_no_zombies() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let command = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> out.txt'"#;
    let daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", "ERROR", "-w", "0", "-c", command],
    );
    for n in 1..=3 {
        sandbox.append(LOG, format!("ERROR {n}\n"));
        sandbox.wait_for_lines("out.txt", n);
        // Logged once the daemon has reaped the command.
        daemon.wait_for_log_count(&[COMMAND_EXITED], n);
    }
    let zombies = zombie_children(daemon.pid());
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
}

#[test]
fn idle_daemon_does_not_wake_up() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    sandbox.append(LOG, "ERROR once\n");
    daemon.expect_line("ERROR once");

    // Let the daemon finish its work on that line (bounded): its counters
    // stay the same over 100 ms.
    let pid = daemon.pid();
    let mut last = context_switches(pid);
    poll(Duration::from_secs(5), || {
        thread::sleep(Duration::from_millis(100));
        let now = context_switches(pid);
        let settled = now == last;
        last = now;
        settled.then_some(())
    })
    .expect("the daemon never settled");

    // A measurement window, not synchronisation.
    let before = context_switches(pid);
    thread::sleep(Duration::from_secs(2));
    let after = context_switches(pid);
    assert!(
        after - before <= 1,
        "{} context switches in 2 s while idle",
        after - before
    );
}

/// A deterministic log of `n` lines: levels, numbers and subsystems drawn
/// from a fixed-seed generator, with some bytes that are not UTF-8.
fn generated_log(n: usize) -> Vec<u8> {
    const LEVELS: [&str; 5] = ["INFO", "WARN", "ERROR", "error", "DEBUG"];
    const WHAT: [&str; 5] = ["disk", "net", "cpu", "disk full", "network"];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut log = Vec::new();
    for i in 0..n {
        let r = next();
        let level = LEVELS[(r % 5) as usize];
        let what = WHAT[((r >> 8) % 5) as usize];
        let number = (r >> 16) % 1000;
        let number = if (r >> 32) % 7 == 0 {
            format!("#{number}")
        } else {
            number.to_string()
        };
        log.extend_from_slice(
            format!(
                "2024-05-01T12:00:{:02} host app[{i}]: {level} {number} {what} ",
                i % 60
            )
            .as_bytes(),
        );
        if (r >> 40) % 11 == 0 {
            log.extend_from_slice(b"\xff\xfe latin1 caf\xe9 ");
        }
        log.extend_from_slice(b"end\n");
    }
    log
}

#[test]
fn scan_mode_prints_exactly_what_grep_prints() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, generated_log(100_000));
    for (pattern, grep_flag, grep_pattern) in [
        ("disk full", "-F", "disk full"),
        ("/ERROR [0-9]+ (disk|net)/", "-E", "ERROR [0-9]+ (disk|net)"),
    ] {
        let ours = run(
            &sandbox,
            &[
                "--once",
                "--from-beginning",
                "--dry-run",
                "-l",
                LOG,
                "-p",
                pattern,
            ],
            &[],
        );
        assert_eq!(ours.status.code(), Some(0), "stderr:\n{}", ours.stderr);

        let mut grep = clean_command("grep");
        grep.env("LC_ALL", "C").current_dir(sandbox.root()).args([
            grep_flag,
            "--",
            grep_pattern,
            LOG,
        ]);
        let theirs = run_to_completion(grep);
        assert_eq!(theirs.status.code(), Some(0), "grep: {}", theirs.stderr);

        assert!(
            ours.stdout == theirs.stdout,
            "pattern {pattern:?}: logs2eca printed {} lines, grep {} lines",
            ours.stdout.split(|&b| b == b'\n').count() - 1,
            theirs.stdout.split(|&b| b == b'\n').count() - 1,
        );
    }
}

/// Every way out takes the running commands' groups along, a fatal error
/// too: here a symlink swapped into a directory the daemon may not watch,
/// with `--poll never` (so it cannot go on by polling).
#[test]
fn a_fatal_error_takes_the_running_commands_group_along() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let sandbox = Sandbox::new();
    for (dir, mode) in [("open", 0o777), ("closed", 0o311)] {
        std::fs::create_dir(sandbox.path(dir)).unwrap();
        sandbox.write(format!("{dir}/app.log"), "");
        let file = sandbox.path(format!("{dir}/app.log"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(sandbox.path(dir), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    symlink("../open/app.log", sandbox.log()).unwrap();
    let command = r#"sh -c 'echo $$ > cmd.pid; exec sleep 30'"#;
    let mut daemon = Daemon::builder(&sandbox)
        .args([
            "-l", LOG, "-p", "ERROR", "-w", "0", "--poll", "never", "-c", command,
        ])
        .unprivileged()
        .start();
    sandbox.append("open/app.log", "ERROR start the command\n");
    let pgid = crate::common::wait_for_pid_file(&sandbox, "cmd.pid");
    symlink("../closed/app.log", sandbox.path("logs/next")).unwrap();
    std::fs::rename(sandbox.path("logs/next"), sandbox.log()).unwrap();
    let status = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(1), "exit status {status:?}");
    wait_for_group_gone(pgid, Duration::from_secs(1));
}
