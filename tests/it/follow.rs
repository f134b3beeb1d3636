//! Following the file (SPEC §3): start position, files that appear later,
//! rotation by rename, delete, copytruncate and symlink swap, SIGHUP reopen,
//! incomplete lines and long lines.
//!
//! Every test runs the daemon in dry-run mode, which prints each matching
//! line on stdout. Absence is shown with a sentinel: lines are processed in
//! order, so if the sentinel is the next line printed, nothing before it
//! triggered.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::symlink;

use crate::common::{Daemon, Detector, LOG, Sandbox, each_detector, peak_rss_kib};

/// Arguments for a dry-run daemon following [`LOG`] for `ERROR`.
const DRY_RUN: [&str; 5] = ["-n", "-l", LOG, "-p", "ERROR"];
const SENTINEL: &str = "ERROR sentinel";

fn sentinel_line() -> String {
    format!("{SENTINEL}\n")
}

#[test]
fn lines_present_at_start_do_not_trigger() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old\nINFO old\n");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

#[test]
fn from_beginning_processes_lines_present_at_start() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old 1\nINFO old\nERROR old 2\n");
    let daemon = Daemon::start(&sandbox, [&DRY_RUN[..], &["--from-beginning"]].concat());
    daemon.expect_lines(&["ERROR old 1", "ERROR old 2"]);
    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

fn file_created_after_start_is_read_from_its_beginning(detector: Detector) {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.write(LOG, "ERROR first line of a new file\nERROR second\n");
    daemon.expect_lines(&["ERROR first line of a new file", "ERROR second"]);
}

fn rotation_by_rename_loses_nothing_and_duplicates_nothing(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));

    // An application that keeps its descriptor across the rename.
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();
    writer.write_all(b"ERROR 1\n").unwrap();
    daemon.expect_line("ERROR 1");

    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    writer.write_all(b"ERROR 2\n").unwrap(); // lands in app.log.1
    sandbox.write(LOG, "ERROR 3\n");

    // The old file is read before or after the new one; either order is fine.
    let mut rotated = [daemon.next_line(), daemon.next_line()];
    rotated.sort();
    assert_eq!(rotated, ["ERROR 2", "ERROR 3"]);

    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

/// The daemon has already moved on to the new file when a writer that has
/// not reopened yet appends to the old one: that line is still read.
fn writer_still_on_the_rotated_file_is_read_during_the_grace_period(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();

    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR in the new file\n");
    daemon.expect_line("ERROR in the new file");

    writer
        .write_all(b"ERROR late write to the old file\n")
        .unwrap();
    daemon.expect_line("ERROR late write to the old file");

    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

fn rotation_by_delete_and_recreate(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR before delete\n");
    daemon.expect_line("ERROR before delete");

    fs::remove_file(sandbox.log()).unwrap();
    sandbox.write(LOG, "ERROR in the recreated file\n");
    daemon.expect_line("ERROR in the recreated file");

    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

fn copytruncate_restarts_at_offset_zero(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "INFO some history\nERROR before copytruncate\n");
    daemon.expect_line("ERROR before copytruncate");

    // What logrotate's copytruncate does: copy, then truncate in place.
    fs::copy(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.truncate(LOG);
    sandbox.append(LOG, "ERROR after\n");
    daemon.expect_line("ERROR after");

    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

/// Truncated and refilled beyond the old offset before the daemon reads
/// again: the size alone does not show the truncation.
fn truncate_and_refill_past_old_offset_is_detected(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR first\n");
    daemon.expect_line("ERROR first");

    daemon.freeze();
    // Read from the old offset (12), the new content would yield a fragment
    // of its first line ("ne, much longer...") and only the last line.
    let refill = "ERROR new first line, much longer than the old content\n\
                  INFO filler\n\
                  ERROR refill\n";
    let file = OpenOptions::new().write(true).open(sandbox.log()).unwrap();
    file.set_len(0).unwrap();
    drop(file);
    sandbox.append(LOG, refill);
    daemon.resume();

    daemon.expect_lines(&[
        "ERROR new first line, much longer than the old content",
        "ERROR refill",
    ]);
    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

#[test]
fn sighup_on_unchanged_file_rereads_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let mut daemon = Daemon::start(&sandbox, DRY_RUN);
    sandbox.append(LOG, "ERROR 1\nINFO x\nERROR 2\n");
    daemon.expect_lines(&["ERROR 1", "ERROR 2"]);

    daemon.signal(libc::SIGHUP);
    daemon.expect_notify("RELOADING=1");
    daemon.expect_notify("READY=1");

    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

fn sighup_after_rotation_follows_the_new_file(detector: Detector) {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let mut daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));
    sandbox.append(LOG, "ERROR old file\n");
    daemon.expect_line("ERROR old file");

    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR new file\n");
    daemon.signal(libc::SIGHUP);
    daemon.expect_notify("RELOADING=1");
    daemon.expect_notify("READY=1");

    // Whether inotify or the reopen noticed the new file first, its line is
    // processed exactly once.
    daemon.expect_line("ERROR new file");
    sandbox.append(LOG, sentinel_line());
    daemon.expect_line(SENTINEL);
}

fn symlink_into_another_directory_is_followed_and_swapping_it_rotates(detector: Detector) {
    let sandbox = Sandbox::new();
    for dir in ["target1", "target2"] {
        fs::create_dir(sandbox.path(dir)).unwrap();
    }
    let first_target = sandbox.path("target1/app.log");
    let second_target = sandbox.path("target2/app.log");
    sandbox.write(&first_target, "");
    symlink(&first_target, sandbox.log()).unwrap();
    let daemon = Daemon::start(&sandbox, detector.args(&DRY_RUN));

    sandbox.append(&first_target, "ERROR in first target\n");
    daemon.expect_line("ERROR in first target");

    // `ln -sfn target2/app.log logs/app.log`: a new link renamed over the old.
    sandbox.write(&second_target, "ERROR already in second target\n");
    symlink(&second_target, sandbox.path("logs/app.log.tmp")).unwrap();
    fs::rename(sandbox.path("logs/app.log.tmp"), sandbox.log()).unwrap();
    daemon.expect_line("ERROR already in second target");

    sandbox.append(&second_target, "ERROR appended to second target\n");
    daemon.expect_line("ERROR appended to second target");
}

#[test]
fn a_50_mb_line_keeps_memory_bounded() {
    const MIB: usize = 1 << 20;
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);

    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();
    let chunk = vec![b'x'; MIB];
    for _ in 0..50 {
        writer.write_all(&chunk).unwrap();
    }
    writer.write_all(b"\nERROR after long line\n").unwrap();
    daemon.expect_line("ERROR after long line");

    let peak = peak_rss_kib(daemon.pid());
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB is not under 32 MiB");
}

#[test]
fn line_written_in_two_parts_matches_once_as_one_line() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, DRY_RUN);
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();

    // The first write ends in the middle of a line, and the daemon has read
    // that write once it prints its complete line.
    writer.write_all(b"ERROR whole\nERR").unwrap();
    daemon.expect_line("ERROR whole");
    writer.write_all(b"OR split\n").unwrap();
    daemon.expect_line("ERROR split");

    writer.write_all(sentinel_line().as_bytes()).unwrap();
    daemon.expect_line(SENTINEL);
}

each_detector!(
    file_created_after_start_is_read_from_its_beginning,
    rotation_by_rename_loses_nothing_and_duplicates_nothing,
    writer_still_on_the_rotated_file_is_read_during_the_grace_period,
    rotation_by_delete_and_recreate,
    copytruncate_restarts_at_offset_zero,
    truncate_and_refill_past_old_offset_is_detected,
    sighup_after_rotation_follows_the_new_file,
    symlink_into_another_directory_is_followed_and_swapping_it_rotates,
);
