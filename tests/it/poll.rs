//! Polling (SPEC §8): with `--poll DURATION` every change is noticed by our
//! own look at the path each interval, through the same rotation,
//! truncation and identity rules as inotify; idle then means one wake-up
//! per interval. With `auto`, a host out of inotify instances or watches
//! falls back to polling and says which sysctl to raise; `never` exits 1.
//!
//! Absence is shown with a sentinel, as in `follow`: lines are processed in
//! order, so if the sentinel is the next line printed, nothing before it
//! was printed twice.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::common::{Daemon, LOG, Sandbox, TIMEOUT, context_switches};

/// A dry-run daemon following [`LOG`] for `ERROR`, looking every 200 ms.
const POLLING: [&str; 7] = ["-n", "-l", LOG, "-p", "ERROR", "--poll", "200ms"];
const SENTINEL: &str = "ERROR sentinel";

#[track_caller]
fn expect_sentinel(sandbox: &Sandbox, daemon: &Daemon) {
    sandbox.append(LOG, format!("{SENTINEL}\n"));
    daemon.expect_line(SENTINEL);
}

/// Does `pid` hold an inotify descriptor?
fn uses_inotify(pid: i32) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .any(|target| target.as_os_str() == "anon_inode:inotify")
}

#[test]
fn an_interval_polls_without_inotify_and_sees_appends_once() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR old\n");
    let daemon = Daemon::start(&sandbox, POLLING);
    assert!(
        !uses_inotify(daemon.pid()),
        "--poll 200ms must not use inotify"
    );
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();
    writer.write_all(b"ERROR 1\nINFO x\nERR").unwrap();
    daemon.expect_line("ERROR 1");
    writer.write_all(b"OR split\n").unwrap();
    daemon.expect_line("ERROR split");
    expect_sentinel(&sandbox, &daemon);
}

#[test]
fn polling_sees_rename_rotation_once() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, POLLING);
    let mut writer = OpenOptions::new().append(true).open(sandbox.log()).unwrap();
    writer.write_all(b"ERROR 1\n").unwrap();
    daemon.expect_line("ERROR 1");

    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    writer.write_all(b"ERROR 2\n").unwrap(); // lands in app.log.1
    sandbox.write(LOG, "ERROR 3\n");
    let mut rotated = [daemon.next_line(), daemon.next_line()];
    rotated.sort();
    assert_eq!(rotated, ["ERROR 2", "ERROR 3"]);

    // A writer that has not reopened yet, seen by a later look.
    writer.write_all(b"ERROR 4 late in the old file\n").unwrap();
    daemon.expect_line("ERROR 4 late in the old file");
    expect_sentinel(&sandbox, &daemon);
}

#[test]
fn polling_sees_delete_and_recreate_once() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, POLLING);
    sandbox.append(LOG, "ERROR before delete\n");
    daemon.expect_line("ERROR before delete");

    fs::remove_file(sandbox.log()).unwrap();
    daemon.wait_for_log(&["app.log was deleted"]);
    sandbox.write(LOG, "ERROR in the recreated file\n");
    daemon.expect_line("ERROR in the recreated file");
    expect_sentinel(&sandbox, &daemon);
}

#[test]
fn polling_sees_copytruncate_once() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, POLLING);
    sandbox.append(LOG, "INFO some history\nERROR before copytruncate\n");
    daemon.expect_line("ERROR before copytruncate");

    fs::copy(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    let file = OpenOptions::new().write(true).open(sandbox.log()).unwrap();
    file.set_len(0).unwrap();
    drop(file);
    // Refilled past the old offset before the next look: only the
    // fingerprint shows the truncation.
    sandbox.append(
        LOG,
        "ERROR after, a first line longer than everything before it\n",
    );
    daemon.expect_line("ERROR after, a first line longer than everything before it");
    expect_sentinel(&sandbox, &daemon);
}

#[test]
fn polling_wakes_about_once_per_interval_while_idle() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let daemon = Daemon::start(&sandbox, POLLING);
    sandbox.append(LOG, "ERROR once\n");
    daemon.expect_line("ERROR once");

    // A measurement window, not synchronisation: 2 s at 200 ms are about
    // 10 looks, each one wake-up.
    let pid = daemon.pid();
    let before = context_switches(pid);
    thread::sleep(Duration::from_secs(2));
    let switches = context_switches(pid) - before;
    assert!(
        (5..=40).contains(&switches),
        "{switches} context switches in 2 s polling every 200 ms"
    );
}

// ---------------------------------------------------------------------------
// A host out of inotify instances or watches.

/// Which inotify limit a test exhausts.
#[derive(Clone, Copy)]
enum Limit {
    /// `inotify_init` fails with EMFILE.
    Instances,
    /// `inotify_add_watch` fails with ENOSPC.
    Watches,
}

impl Limit {
    fn sysctl(self) -> &'static str {
        match self {
            Limit::Instances => "fs.inotify.max_user_instances",
            Limit::Watches => "fs.inotify.max_user_watches",
        }
    }

    /// The same limit for the users of one user namespace.
    fn namespace_file(self) -> &'static str {
        match self {
            Limit::Instances => "/proc/sys/user/max_inotify_instances",
            Limit::Watches => "/proc/sys/user/max_inotify_watches",
        }
    }

    fn global_file(self) -> String {
        format!("/proc/sys/{}", self.sysctl().replace('.', "/"))
    }
}

/// Runs the daemon with `limit` at 0 for it, and only for it.
///
/// Where user namespaces are allowed, the daemon runs in one of its own
/// whose limit is 0: the kernel counts inotify instances and watches per
/// user namespace as well, so the host and the tests running alongside
/// keep theirs. Otherwise, as root, the host's sysctl is set to 0 around
/// the daemon's start and put back by a guard, also on panic. Otherwise
/// the test is skipped.
enum Starved {
    Namespace(Vec<String>),
    Host(HostLimit),
}

impl Starved {
    fn new(limit: Limit) -> Option<Starved> {
        let userns = Command::new("unshare")
            .args(["--user", "--map-root-user", "true"])
            .status()
            .is_ok_and(|status| status.success());
        if userns {
            let script = format!("echo 0 > {} && exec \"$0\" \"$@\"", limit.namespace_file());
            return Some(Starved::Namespace(
                ["unshare", "--user", "--map-root-user", "sh", "-c", &script]
                    .map(String::from)
                    .to_vec(),
            ));
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!(
                "skipped: no user namespace and not root, cannot lower {}",
                limit.sysctl()
            );
            return None;
        }
        Some(Starved::Host(HostLimit::lower(limit)))
    }

    /// Starts the daemon through `start` while the limit is 0.
    fn start<T>(self, start: impl FnOnce(Vec<String>) -> T) -> T {
        match self {
            Starved::Namespace(wrapper) => start(wrapper),
            Starved::Host(guard) => {
                let started = start(Vec::new());
                // The daemon has met the limit (it is ready, or it exited):
                // give the host its limit back at once.
                drop(guard);
                started
            }
        }
    }
}

/// Serialises the tests that lower a host sysctl.
static HOST_LIMIT: Mutex<()> = Mutex::new(());

/// The host's inotify limit at 0 until dropped, which restores it.
struct HostLimit {
    file: String,
    old: String,
    _lock: MutexGuard<'static, ()>,
}

impl HostLimit {
    fn lower(limit: Limit) -> HostLimit {
        let lock = HOST_LIMIT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = limit.global_file();
        let old = fs::read_to_string(&file).unwrap();
        fs::write(&file, "0").unwrap();
        HostLimit {
            file,
            old,
            _lock: lock,
        }
    }
}

impl Drop for HostLimit {
    fn drop(&mut self) {
        if let Err(err) = fs::write(&self.file, self.old.trim()) {
            eprintln!(
                "could not restore {} to {}: {err}",
                self.file,
                self.old.trim()
            );
        }
    }
}

/// With `auto`, a limit that keeps inotify from working is a warning that
/// names the sysctl, and the file is followed by polling every second.
fn falls_back_to_polling(limit: Limit) {
    let Some(starved) = Starved::new(limit) else {
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let args = ["-n", "-l", LOG, "-p", "ERROR"];
    let daemon = starved.start(|wrapper| {
        Daemon::builder(&sandbox)
            .wrapper(wrapper)
            .args(args)
            .start()
    });
    let warning = daemon.wait_for_log(&[limit.sysctl()]);
    assert!(warning.contains("every 1s"), "{warning}");

    sandbox.append(LOG, "ERROR by polling\n");
    daemon.expect_line("ERROR by polling");
    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR after rotation\n");
    daemon.expect_line("ERROR after rotation");
    expect_sentinel(&sandbox, &daemon);
}

#[test]
fn out_of_inotify_instances_auto_polls_and_names_the_sysctl() {
    falls_back_to_polling(Limit::Instances);
}

#[test]
fn out_of_inotify_watches_auto_polls_and_names_the_sysctl() {
    falls_back_to_polling(Limit::Watches);
}

/// With `never`, the same limit is exit 1, naming it.
fn never_exits(limit: Limit) {
    let Some(starved) = Starved::new(limit) else {
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let args = ["-n", "-l", LOG, "-p", "ERROR", "--poll", "never"];
    let status = starved.start(|wrapper| {
        let mut daemon = Daemon::builder(&sandbox)
            .wrapper(wrapper)
            .args(args)
            .spawn_unready();
        let status = daemon.wait_exit(TIMEOUT);
        (status, daemon.stderr())
    });
    let (status, stderr) = status;
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("logs2eca: ") && last.contains(limit.sysctl()) && last.contains("never"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn out_of_inotify_instances_never_exits_1_naming_the_sysctl() {
    never_exits(Limit::Instances);
}

#[test]
fn out_of_inotify_watches_never_exits_1_naming_the_sysctl() {
    never_exits(Limit::Watches);
}

#[test]
fn a_poll_interval_under_10ms_is_refused() {
    let sandbox = Sandbox::new();
    for value in ["0", "5ms", "soon"] {
        let outcome = crate::common::run(
            &sandbox,
            &["-n", "-l", LOG, "-p", "ERROR", "--poll", value],
            &[],
        );
        assert_eq!(
            outcome.status.code(),
            Some(2),
            "{value}: {}",
            outcome.stderr
        );
        assert!(outcome.stderr.contains("--poll"), "{}", outcome.stderr);
    }
    let outcome = crate::common::run(
        &sandbox,
        &["-n", "-l", LOG, "-p", "ERROR", "--check"],
        &[("LOGS2ECA_POLL", "250ms")],
    );
    assert!(
        outcome.stdout_text().contains("--poll")
            && outcome
                .stdout_text()
                .contains("250ms  [environment LOGS2ECA_POLL]"),
        "{}",
        outcome.stdout_text()
    );
}
