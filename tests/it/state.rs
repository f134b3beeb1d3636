//! The state file around the real binary (SPEC §6, §1's `--state-file`):
//! one daemon per state file, a bad state file never keeps monitoring from
//! starting, a state directory that cannot be written stops the start, and
//! a disk that fills up at run time is warned about once.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::common::{Daemon, LOG, Outcome, PrivateMounts, Sandbox, TIMEOUT, run};

/// A dry-run daemon on the sandbox's log: what it matches is printed.
const ARGS: [&str; 5] = ["-l", LOG, "-p", "ERROR", "--dry-run"];

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write(LOG, "");
    sandbox
}

/// Asserts a start-up failure: exit 1 and one `logs2eca: ` line holding
/// every fragment.
#[track_caller]
fn assert_fails(outcome: &Outcome, fragments: &[&str]) {
    assert_eq!(
        outcome.status.code(),
        Some(1),
        "stderr:\n{}",
        outcome.stderr
    );
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(lines[0].starts_with("logs2eca: "), "{}", lines[0]);
    for fragment in fragments {
        assert!(lines[0].contains(fragment), "{fragment:?} in {}", lines[0]);
    }
}

#[test]
fn a_second_instance_on_the_same_state_file_exits_1_naming_the_holder() {
    let sandbox = sandbox();
    let state_dir = sandbox.path("state");
    // The first finds its state file through systemd's StateDirectory=, the
    // second is given the same file relative to its working directory.
    // (A dry run would not take the default state file: it runs `true`.)
    let first = Daemon::builder(&sandbox)
        .args(["-l", LOG, "-p", "ERROR", "-c", "true"])
        .env("STATE_DIRECTORY", state_dir.to_str().unwrap())
        .start();
    let mut args = ARGS.to_vec();
    args.extend(["--state-file", "state/state.json"]);
    let second = run(&sandbox, &args, &[]);
    let pid = format!("(pid {})", first.pid());
    let state_file = state_dir.join("state.json");
    assert_fails(
        &second,
        &[
            &state_file.display().to_string(),
            "in use by another logs2eca",
            &pid,
        ],
    );
    // The same through the variable.
    let file = state_file.to_str().unwrap();
    let third = run(&sandbox, &ARGS, &[("LOGS2ECA_STATE_FILE", file)]);
    assert_fails(&third, &[&pid]);

    // The lock dies with its holder: the file left beside the state is no
    // obstacle.
    drop(first);
    let mut again = Daemon::builder(&sandbox).args(&args).start();
    sandbox.append(LOG, "ERROR after the restart\n");
    again.expect_line("ERROR after the restart");
    again.signal(libc::SIGTERM);
    assert_eq!(again.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn a_corrupt_or_foreign_state_file_is_moved_aside_and_the_daemon_starts() {
    for (name, content) in [
        ("corrupt", &b"{\"version\":1,\"path\":"[..]),
        ("another version", b"{\"version\":2,\"path\":\"/x\"}"),
    ] {
        let sandbox = sandbox();
        sandbox.write("state/state.json", content);
        let daemon = Daemon::builder(&sandbox)
            .args(ARGS)
            .args(["--state-file", "state/state.json"])
            .start();
        sandbox.append(LOG, "ERROR one\n");
        daemon.expect_line("ERROR one");
        assert_eq!(
            fs::read(sandbox.path("state/state.json.bad"))
                .ok()
                .as_deref(),
            Some(content),
            "{name}: moved aside whole"
        );
        let warning = daemon.wait_for_log(&["state/state.json is unusable", "state.json.bad"]);
        assert!(warning.contains("WARN"), "{name}: {warning}");
    }
}

#[test]
fn a_state_directory_that_cannot_be_written_stops_the_start_naming_it() {
    let sandbox = sandbox();
    sandbox.write("a-file", "");
    for dir in ["missing", "a-file"] {
        let state_file = format!("{dir}/state.json");
        let mut args = ARGS.to_vec();
        args.extend(["--state-file", &state_file]);
        let outcome = run(&sandbox, &args, &[]);
        let named = format!("state directory {}:", sandbox.path(dir).display());
        assert_fails(&outcome, &[&named]);
    }

    // A real directory that refuses writes: read-only for root too.
    let read_only = sandbox.path("state");
    let outcome = PrivateMounts::run(|mounts| {
        mounts.read_only(&read_only);
        let mut args = ARGS.to_vec();
        args.extend(["--state-file", "state/state.json"]);
        run(&sandbox, &args, &[])
    });
    if let Some(outcome) = outcome {
        let named = format!("state directory {}:", read_only.display());
        assert_fails(&outcome, &[&named, "Read-only file system"]);
    }
}

/// Fills the file system of `dir` with a file named `filler`.
fn fill(dir: &Path) {
    let mut filler = File::create(dir.join("filler")).unwrap();
    let block = [b'x'; 4096];
    while filler.write_all(&block).is_ok() {}
}

#[test]
fn a_full_disk_at_run_time_is_warned_about_once_and_following_goes_on() {
    let sandbox = sandbox();
    let state_dir = sandbox.path("state");
    PrivateMounts::run(|mounts| {
        mounts.tmpfs(&state_dir, "64k");
        let mut daemon = Daemon::builder(&sandbox)
            .args(ARGS)
            .args(["--state-file", "state/state.json", "-v"])
            .start();
        fill(&state_dir);
        sandbox.append(LOG, "ERROR 1\n");
        daemon.expect_line("ERROR 1");
        daemon.wait_for_log(&["cannot save the state"]);
        // A second failed save, logged at debug level only.
        sandbox.append(LOG, "ERROR 2\n");
        daemon.expect_line("ERROR 2");
        daemon.wait_for_log(&["cannot save the state", "(again)"]);

        fs::remove_file(state_dir.join("filler")).unwrap();
        sandbox.append(LOG, "ERROR 3\n");
        daemon.expect_line("ERROR 3");
        daemon.wait_for_log(&["the state is saved again"]);
        let warnings = daemon
            .stderr()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("cannot save the state"))
            .count();
        assert_eq!(warnings, 1, "warned once");
        daemon.signal(libc::SIGTERM);
        assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
        let state = fs::read_to_string(state_dir.join("state.json")).unwrap();
        let end = fs::metadata(sandbox.log()).unwrap().len();
        assert!(
            state.contains(&format!("\"offset\":{end}")),
            "the last save has every line: {state}"
        );
    });
}
