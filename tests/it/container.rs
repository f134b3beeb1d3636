//! The container case without a container runtime: an empty root made by
//! the test (the static binary, a static BusyBox as `/bin/sh`, the log
//! directory), entered with `unshare --mount --pid --fork` and `chroot`,
//! logs2eca as PID 1 configured by nothing but `env -i LOGS2ECA_…`. This is
//! what a `FROM scratch` image gives it, so these tests need root (they are
//! skipped with a message otherwise), an x86-64 host and a static BusyBox
//! (Debian's `busybox-static`).
//!
//! The static binary is the one `LOGS2ECA_STATIC_BIN` names (CI builds the
//! release one and checks it before the tests); without that variable it
//! is built here, once per run, as the README documents but in the debug
//! profile and in a target directory of its own (`target/static`).

use std::ffi::OsStr;
use std::fs;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::symlink;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{
    Sandbox, TIMEOUT, all_processes, append, bin, check, proc_stat, send_signal, wait_child,
    wait_until, zombie_children,
};

/// The target whose glibc links statically with `crt-static`.
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The root, relative to the sandbox.
const ROOT: &str = "root";

/// Where the action writes, inside the root.
const MATCHED: &str = "matched";

/// The command, for BusyBox's `sh`: records the line, then leaves a
/// `sleep` behind that PID 1 adopts when the shell exits. The `sleep`
/// leaves the command's process group first (`setsid`), since what stays
/// in the group is killed when the command exits.
const ACTION: &str = r#"sh -c 'echo "$LOGS2ECA_MATCH_LINE" >> /matched; setsid sh -c "echo > /detached; exec sleep 1000" & while [ ! -e /detached ]; do sleep 0.01; done; exit 0'"#;

/// A matching line runs a `sh -c` action in the empty root; the orphan it
/// leaves is adopted and reaped by logs2eca as PID 1; SIGTERM stops it
/// with exit 0. `/dev/null` is bind-mounted into the root, as every
/// container runtime provides it.
#[test]
fn in_an_empty_root_as_pid_1_it_runs_the_action_reaps_orphans_and_stops() {
    let Some(tools) = Tools::find() else { return };
    let sandbox = Sandbox::new();
    let root = make_root(&sandbox, &tools, true);
    let mut pid1 = Pid1::start(&sandbox, &tools, &root);

    // Configured by the environment alone: nothing else is in it.
    let environ = fs::read(format!("/proc/{}/environ", pid1.pid)).expect("read environ");
    let names: Vec<String> = environ
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v.split(|&b| b == b'=').next().unwrap()).into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("LOGS2ECA_") || n == "NOTIFY_SOCKET"),
        "the environment of PID 1 holds more than its settings: {names:?}"
    );

    append(&root.join("logs/app.log"), b"ERROR in the empty root\n");
    assert_eq!(
        sandbox.wait_for_lines(format!("{ROOT}/{MATCHED}"), 1),
        ["ERROR in the empty root"]
    );
    pid1.wait_for_log("exited with status 0");

    // The shell has exited: its `sleep` now belongs to PID 1, logs2eca.
    let orphan = wait_until("the action's sleep to be adopted by logs2eca", || {
        all_processes()
            .into_iter()
            .find(|p| p.ppid == pid1.pid && p.is_live() && comm(p.pid).as_deref() == Some("sleep"))
            .map(|p| p.pid)
    });
    send_signal(orphan, libc::SIGKILL);
    wait_until("the adopted orphan to be reaped", || {
        proc_stat(orphan)
            .is_none_or(|p| p.ppid != pid1.pid)
            .then_some(())
    });
    assert!(zombie_children(pid1.pid).is_empty());

    let status = pid1.stop();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    pid1.expect_notify("STOPPING=1");
}

/// A root without `/dev` (a bare `FROM scratch` run by a runtime that does
/// not provide one): the spawn fails with ENOENT from opening the command's
/// standard input, and the warning says so instead of a bare "No such file
/// or directory" that reads as a missing program.
#[test]
fn in_a_root_without_dev_null_the_failed_start_names_it() {
    let Some(tools) = Tools::find() else { return };
    let sandbox = Sandbox::new();
    let root = make_root(&sandbox, &tools, false);
    let mut pid1 = Pid1::start(&sandbox, &tools, &root);

    append(&root.join("logs/app.log"), b"ERROR with no /dev\n");
    let log = pid1.wait_for_log("cannot start the command");
    assert!(
        log.contains("cannot start the command: /dev/null is missing ("),
        "{log}"
    );
    assert!(!root.join(MATCHED).exists());

    let status = pid1.stop();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

// ---------------------------------------------------------------------------

/// What the tests need from the host, found once.
struct Tools {
    binary: PathBuf,
    busybox: PathBuf,
    chroot: PathBuf,
}

impl Tools {
    /// `None`, with the reason printed, where the tests cannot run.
    fn find() -> Option<Tools> {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("skipped: unshare --mount --pid and chroot need root");
            return None;
        }
        if !cfg!(target_arch = "x86_64") {
            eprintln!("skipped: the static build is documented for x86-64 only");
            return None;
        }
        let Some(busybox) = find_program("busybox") else {
            eprintln!("skipped: no busybox (install busybox-static)");
            return None;
        };
        if has_interpreter(&busybox) {
            eprintln!(
                "skipped: {} is linked dynamically (install busybox-static)",
                busybox.display()
            );
            return None;
        }
        let Some(chroot) = find_program("chroot") else {
            eprintln!("skipped: no chroot");
            return None;
        };
        let probe = Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--kill-child", "--", "true"])
            .status();
        if !probe.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("skipped: `unshare --mount --pid --fork` does not work here ({probe:?})");
            return None;
        }
        let binary = static_binary().clone();
        assert!(
            !has_interpreter(&binary),
            "{} has a dynamic loader (PT_INTERP): it is not static",
            binary.display()
        );
        Some(Tools {
            binary,
            busybox,
            chroot,
        })
    }
}

/// The static binary: `LOGS2ECA_STATIC_BIN`, or built once per test run.
fn static_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("LOGS2ECA_STATIC_BIN") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "LOGS2ECA_STATIC_BIN={} is no file",
                path.display()
            );
            return path;
        }
        // Next to the tests' own build: target/static.
        let target_dir = Path::new(bin())
            .parent()
            .and_then(Path::parent)
            .expect("the binary is in a target directory")
            .join("static");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(&cargo)
            .args([
                "build", "--quiet", "--locked", "--bin", "logs2eca", "--target",
            ])
            .arg(STATIC_TARGET)
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null())
            .output();
        let output = check(output, || format!("run {}", Path::new(&cargo).display()));
        assert!(
            output.status.success(),
            "the static build failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        target_dir.join(STATIC_TARGET).join("debug/logs2eca")
    })
}

/// `name` in `PATH` or in the system directories `PATH` may leave out.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether the ELF file at `path` names a dynamic loader (a `PT_INTERP`
/// program header): every dynamically linked executable does, a static
/// one (static-pie included) does not.
fn has_interpreter(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let elf = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        elf.len() >= 64 && elf.starts_with(b"\x7fELF") && elf[4] == 2 && elf[5] == 1,
        "{} is no 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == PT_INTERP
    })
}

/// The empty root: `/logs2eca`, BusyBox as `/bin/sh` (and as `sleep` and
/// `setsid`, the other programs the action runs), `/logs/app.log`, and with
/// `dev_null` an empty `/dev/null` to bind the host's onto.
fn make_root(sandbox: &Sandbox, tools: &Tools, dev_null: bool) -> PathBuf {
    let root = sandbox.path(ROOT);
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("logs")).unwrap();
    fs::copy(&tools.binary, root.join("logs2eca")).unwrap();
    fs::copy(&tools.busybox, root.join("bin/busybox")).unwrap();
    symlink("busybox", root.join("bin/sh")).unwrap();
    symlink("busybox", root.join("bin/sleep")).unwrap();
    symlink("busybox", root.join("bin/setsid")).unwrap();
    fs::write(root.join("logs/app.log"), "").unwrap();
    if dev_null {
        fs::create_dir(root.join("dev")).unwrap();
        fs::write(root.join("dev/null"), "").unwrap();
    }
    root
}

/// logs2eca as PID 1 of a new PID and mount namespace, chrooted into the
/// empty root.
struct Pid1 {
    /// `unshare`, which passes the exit status of its child on.
    child: Child,
    /// logs2eca, as the host sees it.
    pid: i32,
    notify: UnixDatagram,
    stderr: PathBuf,
}

impl Pid1 {
    /// Starts it and waits for its `READY=1`.
    fn start(sandbox: &Sandbox, tools: &Tools, root: &Path) -> Pid1 {
        // An abstract socket: reachable from the chroot without a file in it.
        let name = format!(
            "logs2eca-container-test-{}-{}",
            std::process::id(),
            unique()
        );
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let notify = UnixDatagram::bind_addr(&address).expect("bind the notify socket");
        notify.set_read_timeout(Some(TIMEOUT)).unwrap();
        let stderr = sandbox.path("logs2eca.stderr");
        // The shell is the new PID 1 until it execs `env -i`, which execs
        // `chroot`, which execs logs2eca: PID 1 all along.
        let script = r#"root=$1; shift
if [ -e "$root/dev/null" ]; then mount --bind /dev/null "$root/dev/null" || exit 125; fi
exec env -i "$@""#;
        let settings: [(&str, &str); 4] = [
            ("LOGS2ECA_LOG_FILE", "/logs/app.log"),
            ("LOGS2ECA_EVENT_PATTERN", "ERROR"),
            ("LOGS2ECA_WAIT", "0"),
            ("LOGS2ECA_COMMAND", ACTION),
        ];
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "sh",
                "-c",
            ])
            .arg(script)
            .arg("sh")
            .arg(root);
        for (key, value) in settings {
            command.arg(format!("{key}={value}"));
        }
        let child = command
            .arg(format!("NOTIFY_SOCKET=@{name}"))
            .arg(&tools.chroot)
            .arg(root)
            .arg("/logs2eca")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn unshare");
        let unshare = child.id() as i32;
        let mut pid1 = Pid1 {
            child,
            pid: 0,
            notify,
            stderr,
        };
        pid1.expect_notify("READY=1");
        pid1.pid = wait_until("logs2eca under unshare", || {
            all_processes()
                .into_iter()
                .find(|p| p.ppid == unshare)
                .map(|p| p.pid)
        });
        assert_eq!(
            fs::read_link(format!("/proc/{}/exe", pid1.pid))
                .ok()
                .as_deref()
                .and_then(Path::file_name),
            Some(OsStr::new("logs2eca")),
            "the namespace's first process is not logs2eca"
        );
        assert_eq!(
            ns_pid(pid1.pid).as_deref(),
            Some("1"),
            "logs2eca is not PID 1"
        );
        pid1
    }

    /// Waits for a notification that contains `state`.
    #[track_caller]
    fn expect_notify(&mut self, state: &str) {
        let mut buffer = [0u8; 4096];
        loop {
            match self.notify.recv(&mut buffer) {
                Ok(n) if String::from_utf8_lossy(&buffer[..n]).contains(state) => return,
                Ok(_) => {}
                Err(e) => panic!(
                    "no {state} on the notify socket ({e}); stderr:\n{}",
                    self.log()
                ),
            }
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for a log line containing `fragment` and returns the log.
    #[track_caller]
    fn wait_for_log(&self, fragment: &str) -> String {
        wait_until(&format!("'{fragment}' in the log"), || {
            let log = self.log();
            log.contains(fragment).then_some(log)
        })
    }

    /// SIGTERM to PID 1 (delivered from outside the namespace because it
    /// has a handler); returns the exit status.
    #[track_caller]
    fn stop(&mut self) -> ExitStatus {
        send_signal(self.pid, libc::SIGTERM);
        match wait_child(&mut self.child, Duration::from_secs(5)) {
            Some(status) => status,
            None => panic!("logs2eca did not stop on SIGTERM; stderr:\n{}", self.log()),
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        // unshare --kill-child takes the namespace with it.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("logs2eca's stderr:\n{}", self.log());
        }
    }
}

/// The pid of `pid` in its own PID namespace.
fn ns_pid(pid: i32) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last().map(String::from)
}

fn comm(pid: i32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// A number not handed out before in this test run.
fn unique() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}
