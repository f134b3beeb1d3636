//! The action (SPEC §4) with real commands: what reaches the command's
//! environment, that log lines are only ever data, the cooldown and its
//! suppressed count, the timeout, and failing commands.
//!
//! Commands record what they saw in files of the sandbox, which the tests
//! poll with a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{
    COMMAND_EXITED, Daemon, GROUP_COMMAND, LOG, Sandbox, wait_for_group_command,
    wait_for_group_gone, wait_until,
};

/// Appends the matching line and the suppressed count to `out.txt`.
const RECORD_LINE: &str =
    r#"sh -c 'printf "%s %s\n" "$LOGS2ECA_MATCH_LINE" "$LOGS2ECA_SUPPRESSED" >> out.txt'"#;

fn start(sandbox: &Sandbox, command: &str, extra: &[&str]) -> Daemon {
    sandbox.write(LOG, "");
    let args = [&["-l", LOG, "-p", "ERROR", "-c", command][..], extra].concat();
    Daemon::start(sandbox, args)
}

#[test]
fn match_details_reach_the_command_environment() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    // Written to a temporary name and moved into place, so that the test
    // never sees a partial file.
    let command =
        "sh -c 'env | grep -e ^LOGS2ECA_ -e ^NOTIFY_SOCKET= > env.tmp; mv env.tmp env.out'";
    let _daemon = Daemon::start(
        &sandbox,
        [
            "-l",
            LOG,
            "-p",
            r"/user=(?P<user>\w+) code=(\d+)(?P<port> port=\d+)?/",
            "-c",
            command,
        ],
    );
    let line = "2025-06-01T10:00:00.25+02:00 sshd: login failed user=alice code=42 from 10.0.0.1";
    sandbox.append(LOG, format!("{line}\n"));

    let env: BTreeMap<String, String> = sandbox
        .wait_for_file("env.out")
        .lines()
        .map(|l| {
            let (key, value) = l.split_once('=').unwrap();
            (key.to_owned(), value.to_owned())
        })
        .collect();
    // The optional group 3 (`port`) did not take part: it is not set.
    let expected: BTreeMap<String, String> = [
        ("LOGS2ECA_MATCH_LINE", line),
        ("LOGS2ECA_MATCH_FILE", LOG),
        ("LOGS2ECA_GROUP_0", "user=alice code=42"),
        ("LOGS2ECA_GROUP_1", "alice"),
        ("LOGS2ECA_GROUP_2", "42"),
        ("LOGS2ECA_GROUP_user", "alice"),
        ("LOGS2ECA_SUPPRESSED", "0"),
        ("LOGS2ECA_COUNT", "1"),
        ("LOGS2ECA_ACTION", "do"),
        ("LOGS2ECA_ATTEMPT", "1"),
        // The line's own time, in UTC (§11).
        ("LOGS2ECA_MATCH_TIME", "2025-06-01T08:00:00.25Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(env, expected);
}

#[test]
fn log_line_is_never_interpreted_by_a_shell() {
    let sandbox = Sandbox::new();
    // The trailing `$(touch pwned0)` would be run by a shell before the
    // command; executed directly it is just two more arguments of `sh`.
    let command = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> out.txt' arg0 $(touch pwned0)"#;
    let daemon = start(&sandbox, command, &[]);
    let line = r#"ERROR $(touch pwned1) `touch pwned2` ; touch pwned3 | touch pwned4 && touch pwned5 > pwned6 'x "y \z $HOME"#;
    sandbox.append(LOG, format!("{line}\n"));

    assert_eq!(sandbox.wait_for_lines("out.txt", 1), [line]);
    daemon.wait_for_log(&[COMMAND_EXITED]);
    for n in 0..=6 {
        let pwned = format!("pwned{n}");
        assert!(!sandbox.path(&pwned).exists(), "{pwned} was created");
    }
}

#[test]
fn cooldown_suppresses_matches_and_passes_their_count_on() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, RECORD_LINE, &["-w", "1"]);
    sandbox.append(LOG, "ERROR 1\nERROR 2\nERROR 3\nERROR 4\nERROR 5\n");
    assert_eq!(sandbox.wait_for_lines("out.txt", 1), ["ERROR 1 0"]);

    // The suppressed count is logged once the cooldown has ended.
    daemon.wait_for_log(&["suppressed", " 4 "]);
    sandbox.append(LOG, "ERROR 6\n");
    assert_eq!(
        sandbox.wait_for_lines("out.txt", 2),
        ["ERROR 1 0", "ERROR 6 4"]
    );
}

#[test]
fn timeout_kills_the_whole_group_and_the_daemon_goes_on() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, GROUP_COMMAND, &["-t", "0.5", "-w", "0"]);
    sandbox.append(LOG, "ERROR 1\n");
    let pgid = wait_for_group_command(&sandbox);
    wait_for_group_gone(pgid, Duration::from_secs(10));
    daemon.wait_for_log(&["timed out"]);
    // Logged once the daemon has reaped the command; then the next match
    // runs it again.
    daemon.wait_for_log(&["killed by signal"]);

    sandbox.append(LOG, "ERROR 2\n");
    wait_until("a second run of the command", || {
        let pid: i32 = sandbox.read("cmd.pid")?.trim().parse().ok()?;
        (pid != pgid).then_some(())
    });
}

/// Runs a command that ends badly, checks the log, and that the next match
/// still runs the command.
fn check_bad_ending(script: &str, log_fragments: &[&str]) {
    let sandbox = Sandbox::new();
    let command = format!(r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> out.txt; {script}'"#);
    let daemon = start(&sandbox, &command, &["-w", "0"]);
    sandbox.append(LOG, "ERROR 1\n");
    assert_eq!(sandbox.wait_for_lines("out.txt", 1), ["ERROR 1"]);
    daemon.wait_for_log(log_fragments);

    sandbox.append(LOG, "ERROR 2\n");
    assert_eq!(sandbox.wait_for_lines("out.txt", 2), ["ERROR 1", "ERROR 2"]);
}

#[test]
fn failing_command_is_logged_and_the_daemon_goes_on() {
    check_bad_ending("exit 3", &["exited with status 3"]);
}

#[test]
fn killed_command_is_logged_and_the_daemon_goes_on() {
    check_bad_ending("kill -KILL $$", &["killed by signal 9"]);
}

/// Records the byte length of the line and of group 1, whether group 40
/// is set, and the truncation marker, as one line of `out.txt`.
const RECORD_SIZES: &str = r#"sh -c 'printf "%s %s %s %s\n" "$(printf %s "$LOGS2ECA_MATCH_LINE" | wc -c)" "$(printf %s "$LOGS2ECA_GROUP_1" | wc -c)" "${LOGS2ECA_GROUP_40+set}" "$LOGS2ECA_TRUNCATED" >> out.txt'"#;

/// A NUL becomes three bytes (U+FFFD) in the environment: the 64 KiB cap
/// applies after that conversion, so a line of NULs cannot make the exec
/// fail with E2BIG (128 KiB per variable).
#[test]
fn a_line_of_nuls_still_runs_the_command() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let _daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", "/(ERROR)/", "-w", "0", "-c", RECORD_SIZES],
    );
    let mut line = vec![0u8; 50_000];
    line.extend_from_slice(b"ERROR\n");
    sandbox.append(LOG, &line);
    // 21,845 whole U+FFFD are the most that fit in 64 KiB.
    assert_eq!(
        sandbox.wait_for_lines("out.txt", 1),
        ["65535 5  1"],
        "line bytes, group 1 bytes, group 40, truncated"
    );
}

/// 41 values of 64 KiB (the line and 40 groups) are more than the kernel
/// takes in one exec: the added environment has a budget, later groups are
/// cut or left out, and the command is told so.
#[test]
fn many_large_groups_still_run_the_command() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let pattern = format!("/{}ERROR x+{}/", "(".repeat(40), ")".repeat(40));
    let _daemon = Daemon::start(
        &sandbox,
        ["-l", LOG, "-p", &pattern, "-w", "0", "-c", RECORD_SIZES],
    );
    sandbox.append(LOG, format!("ERROR {}\n", "x".repeat(100_000)));
    assert_eq!(
        sandbox.wait_for_lines("out.txt", 1),
        ["65536 65536  1"],
        "line bytes, group 1 bytes, group 40, truncated"
    );
}

/// The `Sig*` masks of a `/proc/PID/status`, by name.
fn signal_masks(status: &str) -> BTreeMap<String, u64> {
    status
        .lines()
        .filter_map(|line| {
            let (name, hex) = line.split_once(":\t")?;
            let mask = u64::from_str_radix(hex.trim(), 16).ok()?;
            Some((name.to_owned(), mask))
        })
        .filter(|(name, _)| name.starts_with("Sig") && name != "SigQ")
        .collect()
}

/// The command starts as the daemon was started, not as the daemon runs:
/// the signals the daemon catches and SIGPIPE (which the Rust runtime
/// ignores) at their default, every other signal as the daemon has it
/// (ignored or not), and the daemon's signal mask.
#[test]
fn the_command_starts_with_default_signal_dispositions() {
    let sandbox = Sandbox::new();
    let daemon = start(
        &sandbox,
        "sh -c 'exec grep ^Sig /proc/self/status > sig.txt'",
        &["-w", "0"],
    );
    let status = format!("/proc/{}/status", daemon.pid());
    let ours = signal_masks(&std::fs::read_to_string(status).unwrap());
    sandbox.append(LOG, "ERROR 1\n");
    let seen = signal_masks(&sandbox.wait_for_lines("sig.txt", 5).join("\n"));
    daemon.wait_for_log(&[COMMAND_EXITED]);

    let bit = |signal: i32| 1u64 << (signal - 1);
    let caught = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD]
        .map(bit)
        .iter()
        .fold(0, |all, b| all | b);
    assert_eq!(ours["SigCgt"] & caught, caught, "daemon: {ours:x?}");
    assert_ne!(ours["SigIgn"] & bit(libc::SIGPIPE), 0, "daemon: {ours:x?}");
    assert_eq!(seen["SigBlk"], ours["SigBlk"], "mask: {seen:x?}");
    assert_eq!(
        seen["SigIgn"],
        ours["SigIgn"] & !bit(libc::SIGPIPE),
        "ignored: {seen:x?}, daemon: {ours:x?}"
    );
    assert_eq!(seen["SigPnd"], 0, "{seen:x?}");
}

/// A program that can no longer be executed (it was checked at start) is
/// logged with the system's words, as `Command::spawn` gave them, and the
/// daemon goes on.
#[test]
fn a_program_that_became_unexecutable_is_logged_in_the_usual_words() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let program = sandbox.path("prog");
    let make = |mode: u32| {
        std::fs::write(&program, "#!/bin/sh\necho ran >> out.txt\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    make(0o755);
    let daemon = start(&sandbox, "./prog", &["-w", "0"]);
    make(0o644);
    sandbox.append(LOG, "ERROR 1\n");
    daemon.wait_for_log(&["cannot start the command: Permission denied (os error 13)"]);
    std::fs::remove_file(&program).unwrap();
    sandbox.append(LOG, "ERROR 2\n");
    daemon.wait_for_log(&["cannot start the command: No such file or directory (os error 2)"]);
    make(0o755);
    sandbox.append(LOG, "ERROR 3\n");
    assert_eq!(sandbox.wait_for_lines("out.txt", 1), ["ran"]);
}

/// What the command is started with besides its environment: `/dev/null`
/// as standard input, logs2eca's standard error, logs2eca's working
/// directory, and a process group of its own (its pid).
#[test]
fn the_command_gets_dev_null_our_stderr_our_directory_and_its_own_group() {
    let sandbox = Sandbox::new();
    let command = r#"sh -c 'printf "%s\n" "$(readlink /proc/$$/fd/0)" "$(readlink /proc/$$/fd/2)" "$(pwd -P)" $$ "$(cut -d" " -f5 /proc/$$/stat)" > ids.tmp; mv ids.tmp ids.txt'"#;
    let _daemon = start(&sandbox, command, &["-w", "0"]);
    sandbox.append(LOG, "ERROR 1\n");
    let ids = sandbox.wait_for_lines("ids.txt", 5);
    let root = sandbox.root().canonicalize().unwrap();
    assert_eq!(ids[0], "/dev/null", "{ids:?}");
    assert_eq!(
        ids[1],
        root.join("logs2eca.stderr").to_str().unwrap(),
        "{ids:?}"
    );
    assert_eq!(ids[2], root.to_str().unwrap(), "{ids:?}");
    assert_eq!(ids[3], ids[4], "pid and process group: {ids:?}");
}
