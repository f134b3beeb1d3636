//! Files are known by identity (device, inode, first bytes), directories by
//! the directory itself: no file system event can make the daemon read a
//! line twice, lose one, or go deaf (SPEC §3). Each test is one of the ways
//! a follower that knows files by name was fooled.
//!
//! The daemon runs in dry-run mode and prints each matching line. Absence is
//! shown with a sentinel: lines are processed in order, so if the sentinel
//! is the next line printed, nothing before it was printed twice.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{PermissionsExt, symlink};

use crate::common::{Daemon, Detector, LOG, PrivateMounts, Sandbox, each_detector, run};

const DRY_RUN: [&str; 5] = ["-n", "-l", LOG, "-p", "ERROR"];

fn sentinel(sandbox: &Sandbox, daemon: &Daemon, file: &str) {
    sandbox.append(file, "ERROR sentinel\n");
    daemon.expect_line("ERROR sentinel");
}

fn a_file_moved_away_and_back_continues_where_it_was(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old\n");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR one\n");
    daemon.expect_line("ERROR one");

    fs::rename(sandbox.log(), sandbox.path("elsewhere.log")).unwrap();
    daemon.wait_for_log(&["moved away"]);
    fs::rename(sandbox.path("elsewhere.log"), sandbox.log()).unwrap();
    daemon.wait_for_log(&["again the file it was before"]);
    sandbox.append(LOG, "ERROR new\n");
    daemon.expect_line("ERROR new");
    sentinel(&sandbox, &daemon, LOG);
}

fn a_file_back_after_it_was_closed_continues_where_it_was(detector: Detector) {
    // Rotated away for longer than the grace period: closed, but its
    // identity and offset are remembered.
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old\n");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    fs::rename(sandbox.log(), sandbox.path("elsewhere.log")).unwrap();
    daemon.wait_for_log(&["closed the rotated file"]);
    fs::rename(sandbox.path("elsewhere.log"), sandbox.log()).unwrap();
    daemon.wait_for_log(&["again a file read before"]);
    sentinel(&sandbox, &daemon, LOG);
}

fn a_symlink_swapped_to_another_target_and_back_reads_nothing_twice(detector: Detector) {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("blue")).unwrap();
    fs::create_dir(sandbox.path("green")).unwrap();
    sandbox.write("blue/app.log", "ERROR blue old\n");
    sandbox.write("green/app.log", "");
    symlink(sandbox.path("blue/app.log"), sandbox.log()).unwrap();
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    let swap = |to: &str| {
        symlink(sandbox.path(to), sandbox.path("logs/next")).unwrap();
        fs::rename(sandbox.path("logs/next"), sandbox.log()).unwrap();
    };
    swap("green/app.log");
    sandbox.append("green/app.log", "ERROR green\n");
    daemon.expect_line("ERROR green");
    swap("blue/app.log");
    daemon.wait_for_log(&["again the file it was before"]);
    sandbox.append("blue/app.log", "ERROR blue again\n");
    daemon.expect_line("ERROR blue again");
    sentinel(&sandbox, &daemon, "blue/app.log");
}

fn a_passing_stat_error_is_not_a_rotation(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old\n");
    fs::set_permissions(sandbox.log(), fs::Permissions::from_mode(0o644)).unwrap();
    let daemon = Daemon::builder(&sandbox)
        .args(detector.args(&DRY_RUN))
        .unprivileged()
        .start();
    let logs = sandbox.path("logs");
    let mode = fs::metadata(&logs).unwrap().permissions().mode();
    fs::set_permissions(&logs, fs::Permissions::from_mode(0o000)).unwrap();
    daemon.signal(libc::SIGHUP); // Look now, while the directory is closed.
    daemon.wait_for_log(&["cannot look at"]);
    fs::set_permissions(&logs, fs::Permissions::from_mode(mode)).unwrap();
    sandbox.append(LOG, "ERROR after\n");
    daemon.expect_line("ERROR after");
    sentinel(&sandbox, &daemon, LOG);
}

fn a_dangling_symlink_is_followed_once_its_target_appears(detector: Detector) {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("srv")).unwrap();
    symlink("../srv/target", sandbox.log()).unwrap();
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append("srv/target", "ERROR X\n");
    daemon.expect_line("ERROR X");

    // Swapped to a target that does not exist yet.
    symlink("../srv/target2", sandbox.path("logs/next")).unwrap();
    fs::rename(sandbox.path("logs/next"), sandbox.log()).unwrap();
    daemon.wait_for_log(&["moved away (to", "srv/target"]);
    sandbox.append("srv/target2", "ERROR Y\n");
    daemon.expect_line("ERROR Y");
    sentinel(&sandbox, &daemon, "srv/target2");
}

fn the_directory_renamed_and_recreated_is_followed_again(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR one\n");
    daemon.expect_line("ERROR one");

    fs::rename(sandbox.path("logs"), sandbox.path("logs.1")).unwrap();
    fs::create_dir(sandbox.path("logs")).unwrap();
    sandbox.append(LOG, "ERROR two\n");
    daemon.expect_line("ERROR two");
    // The file that moved with the old directory is finished as rotated.
    sandbox.append("logs.1/app.log", "ERROR late in the old directory\n");
    daemon.expect_line("ERROR late in the old directory");
    sentinel(&sandbox, &daemon, LOG);
}

#[test]
fn a_missing_directory_is_waited_for_and_waited_for_again_when_removed() {
    let sandbox = Sandbox::new();
    let args = ["-n", "-l", "var/log/app.log", "-p", "ERROR"];
    let mut daemon = Daemon::builder(&sandbox).args(args).spawn_unready();
    let ready = daemon.expect_notify("READY=1");
    assert!(
        ready.contains("STATUS=waiting for the directory"),
        "READY while waiting says what is missing: {ready:?}"
    );
    daemon.wait_for_log(&["does not exist: waiting for it"]);
    fs::create_dir_all(sandbox.path("var/log")).unwrap();
    sandbox.append("var/log/app.log", "ERROR one\n");
    daemon.expect_line("ERROR one");

    fs::rename(sandbox.path("var/log"), sandbox.path("var/log.old")).unwrap();
    sandbox.append("var/log.old/app.log", "ERROR finished as rotated\n");
    daemon.expect_line("ERROR finished as rotated");
    fs::remove_dir_all(sandbox.path("var")).unwrap();
    daemon.wait_for_log_count(&["does not exist: waiting for it"], 2);
    fs::create_dir_all(sandbox.path("var/log")).unwrap();
    sandbox.append("var/log/app.log", "ERROR two\n");
    daemon.expect_line("ERROR two");
    assert!(daemon.is_running(), "no exit on a removed directory");
}

fn truncated_then_rotated_between_two_looks_loses_nothing(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR a long first line, longer than what follows\n");
    daemon.expect_line("ERROR a long first line, longer than what follows");

    daemon.freeze();
    sandbox.truncate(LOG);
    sandbox.append(LOG, "ERROR b1\n");
    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR c1\n");
    daemon.resume();
    daemon.expect_lines(&["ERROR b1", "ERROR c1"]);
    sentinel(&sandbox, &daemon, LOG);
}

fn a_file_rotated_into_another_directory_is_read_promptly(detector: Detector) {
    // logrotate's `olddir`: the rotated file's new directory is watched from
    // the moment it is found there, so a late write is read at once, not
    // when the 5 s grace ends.
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("old")).unwrap();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();
    fs::rename(sandbox.log(), sandbox.path("old/app.log.1")).unwrap();
    daemon.wait_for_log(&["moved away (to", "old/app.log.1"]);
    writer.write_all(b"ERROR late\n").unwrap();
    let line = daemon.next_line_within(std::time::Duration::from_secs(2));
    assert_eq!(line.as_deref(), Some("ERROR late"), "read by an event");
}

fn a_hole_longer_than_a_line_is_skipped(detector: Detector) {
    // copytruncate under a writer without O_APPEND: the writer's next
    // write lands at its old offset, after a hole of NULs.
    let sandbox = Sandbox::new();
    let filler = "INFO filler line\n".repeat(150_000); // 2.5 MB
    sandbox.write(LOG, &filler);
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    let mut writer = OpenOptions::new().write(true).open(sandbox.log()).unwrap();
    writer.seek(SeekFrom::End(0)).unwrap();
    daemon.freeze();
    sandbox.truncate(LOG);
    writer.write_all(b"ERROR after the hole\n").unwrap();
    daemon.resume();
    daemon.expect_line("ERROR after the hole");
    writer.write_all(b"ERROR sentinel\n").unwrap();
    daemon.expect_line("ERROR sentinel");
}

/// Truncated and refilled past the offset, under a constant header longer
/// than the head fingerprint: the bytes before the offset tell it.
fn a_refill_under_a_long_constant_header_is_a_truncation(detector: Detector) {
    let sandbox = Sandbox::new();
    let header = format!("{}\n", "#".repeat(1100));
    sandbox.write(LOG, &header);
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR first\n");
    daemon.expect_line("ERROR first");
    daemon.freeze();
    let refill = format!("{header}ERROR new-1\nERROR new-2\nERROR new-3\n");
    fs::write(sandbox.log(), refill).unwrap();
    daemon.resume();
    daemon.expect_lines(&["ERROR new-1", "ERROR new-2", "ERROR new-3"]);
    sentinel(&sandbox, &daemon, LOG);
}

/// A sandbox whose `logs` directory is an overlayfs, as a container's
/// file system: the log starts in the lower layer (it came with the
/// image), and the first write copies it up to the upper one, which keeps
/// its device and inode but gives it the upper file's birth time.
fn on_overlay<T: Send>(body: impl FnOnce(&Sandbox) -> T + Send) -> Option<T> {
    let sandbox = Sandbox::new();
    // The sandbox has its `logs` directory already.
    for dir in ["lower", "upper", "work"] {
        fs::create_dir(sandbox.path(dir)).unwrap();
    }
    fs::write(sandbox.path("lower/app.log"), "ERROR old 1\nERROR old 2\n").unwrap();
    PrivateMounts::run(|mounts| {
        mounts.overlay(
            &sandbox.path("logs"),
            &sandbox.path("lower"),
            &sandbox.path("upper"),
            &sandbox.path("work"),
        );
        body(&sandbox)
    })
}

#[test]
fn a_copy_up_on_overlayfs_is_the_same_file_for_a_saved_state() {
    let outcome = on_overlay(|sandbox| {
        let once = ["--once", "-n", "-l", LOG, "-p", "ERROR"];
        let once = [&once[..], &["--state-file", "state/s.json"]].concat();
        fs::create_dir(sandbox.path("state")).unwrap();
        let first = run(sandbox, &once, &[]);
        assert_eq!(first.status.code(), Some(0), "{}", first.stderr);
        assert_eq!(first.stdout_text(), "ERROR old 1\nERROR old 2\n");
        sandbox.append(LOG, "ERROR new 3\n");
        assert!(
            fs::exists(sandbox.path("upper/app.log")).unwrap(),
            "the write copied the file up"
        );
        run(sandbox, &once, &[])
    });
    let Some(second) = outcome else { return };
    assert_eq!(second.status.code(), Some(0), "{}", second.stderr);
    assert_eq!(second.stdout_text(), "ERROR new 3\n", "{}", second.stderr);
    assert!(!second.stderr.contains("gone"), "{}", second.stderr);
}

fn a_copy_up_on_overlayfs_is_not_a_rotation(detector: Detector) {
    on_overlay(|sandbox| {
        let daemon = Daemon::start(sandbox, detector.args(&DRY_RUN));
        sandbox.append(LOG, "ERROR new 3\n");
        daemon.expect_line("ERROR new 3");
        sentinel(sandbox, &daemon, LOG);
        let stderr = daemon.stderr();
        assert!(!stderr.contains("truncated"), "{stderr}");
    });
}

each_detector!(
    a_copy_up_on_overlayfs_is_not_a_rotation,
    a_file_moved_away_and_back_continues_where_it_was,
    a_file_back_after_it_was_closed_continues_where_it_was,
    a_symlink_swapped_to_another_target_and_back_reads_nothing_twice,
    a_passing_stat_error_is_not_a_rotation,
    a_dangling_symlink_is_followed_once_its_target_appears,
    the_directory_renamed_and_recreated_is_followed_again,
    truncated_then_rotated_between_two_looks_loses_nothing,
    a_file_rotated_into_another_directory_is_read_promptly,
    a_hole_longer_than_a_line_is_skipped,
    a_refill_under_a_long_constant_header_is_a_truncation,
);
