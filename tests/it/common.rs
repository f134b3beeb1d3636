//! Test harness shared by the integration tests: runs the real `logs2eca`
//! binary in a private temporary directory and observes it only from the
//! outside (stdout, stderr, files, `/proc`, the systemd notify socket).
//!
//! Synchronisation is event-based: a daemon counts as started once it sends
//! `READY=1` on `NOTIFY_SOCKET`, and every wait has a deadline, so a broken
//! daemon fails a test instead of hanging it. When a test panics, the
//! daemon's stderr is printed.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Upper bound for every wait on the daemon. Generous, because tests run in
/// parallel on small machines; a passing test never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Interval of the bounded polls (files written by commands, `/proc`).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The followed file, relative to the sandbox root (which is the daemon's
/// working directory). It lives in a subdirectory so that the harness's own
/// files (stderr capture, notify socket, command outputs) do not generate
/// inotify events in the watched directory.
pub const LOG: &str = "logs/app.log";

/// Fragment of the log line the daemon writes once it has reaped a command
/// that exited normally ("command exited with status N").
pub const COMMAND_EXITED: &str = "exited with status";

/// Name of the file in the sandbox that receives the daemon's stderr.
const STDERR_FILE: &str = "logs2eca.stderr";

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logs2eca")
}

/// A `Command` with an environment that holds nothing but `PATH`: no
/// `LOGS2ECA_*`, no `NOTIFY_SOCKET`, no `RUST_LOG` from the caller.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env(
        "PATH",
        std::env::var_os("PATH").unwrap_or("/usr/bin:/bin".into()),
    );
    cmd
}

// ---------------------------------------------------------------------------
// Sandbox: a private directory per test.

/// A temporary directory holding the followed file's directory (`logs/`) and
/// everything else a test needs. Removed on drop.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("logs2eca-test")
            .tempdir()
            .expect("create temp dir");
        fs::create_dir(dir.path().join("logs")).expect("create logs dir");
        Sandbox { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Absolute path of `rel` inside the sandbox.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Absolute path of the followed file.
    pub fn log(&self) -> PathBuf {
        self.path(LOG)
    }

    /// Appends `bytes` to `rel` with one `write` call, creating the file if
    /// needed.
    #[track_caller]
    pub fn append(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        append(&self.path(rel), bytes.as_ref());
    }

    /// Replaces the contents of `rel` (same inode if it exists).
    #[track_caller]
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        let path = self.path(rel);
        check(fs::write(&path, bytes), || {
            format!("write {}", path.display())
        });
    }

    /// Truncates `rel` to nothing in place (same inode), as copytruncate
    /// does.
    #[track_caller]
    pub fn truncate(&self, rel: impl AsRef<Path>) {
        let path = self.path(rel);
        let file = OpenOptions::new().write(true).open(&path);
        let file = check(file, || format!("open {} to truncate it", path.display()));
        check(file.set_len(0), || format!("truncate {}", path.display()));
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }

    /// Waits until `rel` holds at least `n` complete lines and returns all
    /// its lines. Meant for files that commands append to.
    #[track_caller]
    pub fn wait_for_lines(&self, rel: impl AsRef<Path>, n: usize) -> Vec<String> {
        let rel = rel.as_ref();
        wait_until(&format!("{n} line(s) in {}", rel.display()), || {
            let text = self.read(rel)?;
            let complete = text.matches('\n').count();
            (complete >= n).then(|| text.lines().map(String::from).collect())
        })
    }

    /// Waits until `rel` exists and returns its contents. Meant for files
    /// that a command moves into place atomically.
    #[track_caller]
    pub fn wait_for_file(&self, rel: impl AsRef<Path>) -> String {
        let rel = rel.as_ref();
        wait_until(&format!("file {}", rel.display()), || self.read(rel))
    }
}

/// Appends `bytes` to `path` with a single `write` call, creating the file.
#[track_caller]
pub fn append(path: &Path, bytes: &[u8]) {
    let file = OpenOptions::new().append(true).create(true).open(path);
    let mut file = check(file, || format!("open {} for append", path.display()));
    check(file.write_all(bytes), || {
        format!("append to {}", path.display())
    });
}

/// The value of `result`, or a panic that says what failed (`what`) and why.
#[track_caller]
pub fn check<T, E: std::fmt::Display>(result: Result<T, E>, what: impl FnOnce() -> String) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{}: {e}", what()),
    }
}

// ---------------------------------------------------------------------------
// Bounded waiting.

/// Polls `check` until it returns `Some` and returns the value; panics after
/// `TIMEOUT`, naming `what` was awaited.
#[track_caller]
pub fn wait_until<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_until_within(TIMEOUT, what, check)
}

/// After a SIGKILL, a command the daemon was starting holds a copy of the
/// state file's lock until its exec closes it; under load that can outlast
/// the daemon. A supervisor waits for all of a unit's processes to be gone
/// before it restarts it: wait for `lock` to be free, as it would.
#[track_caller]
pub fn wait_for_unlocked(lock: &Path) {
    wait_until("the state file's lock to be free", || {
        let file = File::open(lock).ok()?;
        // SAFETY: flock(2) on a descriptor we own; closing it unlocks.
        let rc = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        };
        (rc == 0).then_some(())
    });
}

#[track_caller]
pub fn wait_until_within<T>(timeout: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    match poll(timeout, check) {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `check` until it returns `Some`, at most `timeout`.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Waits for `child` to exit, at most `timeout`; `None` if it is still
/// running.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    poll(timeout, || child.try_wait().expect("try_wait"))
}

// ---------------------------------------------------------------------------
// One-shot runs (usage errors, `--once`, `--help`).

/// What a finished process left behind.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `logs2eca args` in `sandbox` with a clean environment plus `env`
/// and waits (bounded) for it to exit.
#[track_caller]
pub fn run(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = clean_command(bin());
    cmd.current_dir(sandbox.root())
        .args(args)
        .envs(env.iter().copied());
    run_to_completion(cmd)
}

/// Runs `cmd` with its output captured and waits (bounded) for it to exit.
#[track_caller]
pub fn run_to_completion(mut cmd: Command) -> Outcome {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = check(child, || format!("spawn {cmd:?}"));
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let Some(status) = wait_child(&mut child, TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{cmd:?} did not exit within {TIMEOUT:?}; stderr:\n{}",
            String::from_utf8_lossy(&stderr.join().unwrap())
        );
    };
    Outcome {
        status,
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).expect("read pipe");
        bytes
    })
}

// ---------------------------------------------------------------------------
// The daemon.

/// Where the daemon's systemd notifications go.
enum NotifyAddress {
    /// A socket file in the sandbox.
    Path,
    /// A Linux abstract socket, passed as `@name`.
    Abstract,
}

/// Configures a daemon before it is started; see [`Daemon::builder`].
pub struct DaemonBuilder<'a> {
    sandbox: &'a Sandbox,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    notify: NotifyAddress,
    wrapper: Vec<OsString>,
    /// Let any user send to the notify socket (a daemon that dropped root).
    open_notify: bool,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
}

impl DaemonBuilder<'_> {
    /// Connects the daemon's stdin to `stdin` instead of /dev/null (with
    /// `Stdio::piped()`, [`Daemon::take_stdin`] gives the writing end).
    pub fn stdin(mut self, stdin: impl Into<Stdio>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Connects the daemon's stdout to `stdout` instead of the harness's
    /// line reader ([`Daemon::next_line`] then sees nothing).
    pub fn stdout(mut self, stdout: impl Into<Stdio>) -> Self {
        self.stdout = Some(stdout.into());
        self
    }

    /// Connects the daemon's stderr to `stderr` instead of the capture
    /// file ([`Daemon::stderr`] then sees nothing).
    pub fn stderr(mut self, stderr: impl Into<Stdio>) -> Self {
        self.stderr = Some(stderr.into());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the daemon through `wrapper` (a program and its arguments, such
    /// as `unshare --pid --fork --`): the binary's path and the arguments
    /// are appended to it. [`Daemon::pid`] is then the wrapper's pid.
    pub fn wrapper<S: AsRef<OsStr>>(mut self, wrapper: impl IntoIterator<Item = S>) -> Self {
        self.wrapper = wrapper.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Use an abstract socket (`NOTIFY_SOCKET=@name`) instead of a file.
    pub fn abstract_notify_socket(mut self) -> Self {
        self.notify = NotifyAddress::Abstract;
        self
    }

    /// Spawns the daemon and waits for its first `READY=1`.
    #[track_caller]
    pub fn start(self) -> Daemon {
        let mut daemon = self.spawn_unready();
        daemon.expect_notify("READY=1");
        daemon
    }

    /// When the tests run as root: runs the daemon as `nobody`, so that file
    /// permissions apply to it, and opens the sandbox, the notify socket
    /// and the followed directory to that user. `None` when not root (the
    /// daemon then runs as the unprivileged caller).
    pub fn unprivileged(mut self) -> Self {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::fs::PermissionsExt;
            for dir in [self.sandbox.root(), &self.sandbox.path("logs")] {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
            }
            self.wrapper = [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]
            .iter()
            .map(OsString::from)
            .collect();
            self.open_notify = true;
        }
        self
    }

    /// Spawns the daemon without waiting for anything.
    #[track_caller]
    pub fn spawn_unready(self) -> Daemon {
        let root = self.sandbox.root().to_owned();
        let (notify, notify_env) = bind_notify_socket(&root, &self.notify);
        if self.open_notify {
            use std::os::unix::fs::PermissionsExt;
            let socket = PathBuf::from(&notify_env);
            fs::set_permissions(socket, fs::Permissions::from_mode(0o777)).unwrap();
        }
        let stderr_path = root.join(STDERR_FILE);
        let stderr = File::create(&stderr_path).expect("create stderr capture");
        let mut command = match self.wrapper.split_first() {
            None => clean_command(bin()),
            Some((program, rest)) => {
                let mut command = clean_command(program);
                command.args(rest).arg(bin());
                command
            }
        };
        let mut child = command
            .current_dir(&root)
            .args(&self.args)
            .envs(self.env)
            .env("NOTIFY_SOCKET", notify_env)
            .stdin(self.stdin.unwrap_or_else(Stdio::null))
            .stdout(self.stdout.unwrap_or_else(Stdio::piped))
            .stderr(self.stderr.unwrap_or_else(|| stderr.into()))
            .spawn()
            .expect("spawn logs2eca");
        let (sender, lines) = mpsc::channel();
        let Some(stdout) = child.stdout.take() else {
            return Daemon {
                child,
                status: None,
                lines,
                notify,
                stderr_path,
            };
        };
        thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                if sender
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Daemon {
            child,
            status: None,
            lines,
            notify,
            stderr_path,
        }
    }
}

fn bind_notify_socket(root: &Path, address: &NotifyAddress) -> (UnixDatagram, OsString) {
    match address {
        NotifyAddress::Path => {
            // One per daemon: a test may restart the daemon in its sandbox.
            let path = root.join(format!("notify{}.sock", next_number()));
            let socket = UnixDatagram::bind(&path).expect("bind notify socket");
            (socket, path.into_os_string())
        }
        NotifyAddress::Abstract => {
            let name = format!("logs2eca-test-{}-{}", std::process::id(), next_number());
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
            let socket = UnixDatagram::bind_addr(&addr).expect("bind abstract notify socket");
            (socket, format!("@{name}").into())
        }
    }
}

/// A number not handed out before in this test run.
fn next_number() -> usize {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A running `logs2eca`. Dropping it stops it (SIGTERM, then SIGKILL) and,
/// if the test is panicking, prints its stderr.
pub struct Daemon {
    child: Child,
    status: Option<ExitStatus>,
    lines: Receiver<String>,
    notify: UnixDatagram,
    stderr_path: PathBuf,
}

impl Daemon {
    pub fn builder(sandbox: &Sandbox) -> DaemonBuilder<'_> {
        DaemonBuilder {
            sandbox,
            args: Vec::new(),
            env: Vec::new(),
            notify: NotifyAddress::Path,
            wrapper: Vec::new(),
            open_notify: false,
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }

    /// The writing end of the daemon's stdin, when it was piped; dropping
    /// it is the end of input.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Starts `logs2eca args` in `sandbox` and waits until it is ready.
    #[track_caller]
    pub fn start<S: AsRef<OsStr>>(sandbox: &Sandbox, args: impl IntoIterator<Item = S>) -> Daemon {
        Daemon::builder(sandbox).args(args).start()
    }

    /// Has the daemon not exited?
    pub fn is_running(&mut self) -> bool {
        self.status.is_none() && self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a notify datagram that has `state` as one of its lines
    /// (e.g. `READY=1`) and returns it whole; the datagrams before it are
    /// consumed.
    #[track_caller]
    pub fn expect_notify(&mut self, state: &str) -> String {
        self.expect_notify_line(state, |line| line == state)
    }

    /// Waits for a notify datagram that has a line starting with `prefix`
    /// and returns that line; the datagrams before it are consumed.
    #[track_caller]
    pub fn expect_notify_starting(&mut self, prefix: &str) -> String {
        let message = self.expect_notify_line(prefix, |line| line.starts_with(prefix));
        let line = message.lines().find(|line| line.starts_with(prefix));
        line.unwrap_or_default().to_owned()
    }

    #[track_caller]
    fn expect_notify_line(&mut self, state: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut skipped = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                panic!("no {state} notification within {TIMEOUT:?}; got {skipped:?}");
            }
            self.notify.set_read_timeout(Some(remaining)).unwrap();
            let mut buf = [0u8; 4096];
            let message = match self.notify.recv(&mut buf) {
                Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(e) if is_timeout(&e) => continue,
                Err(e) => panic!("recv on the notify socket: {e}"),
            };
            if message.lines().any(&wanted) {
                return message;
            }
            skipped.push(message);
        }
    }

    /// Waits for a notify datagram whose `STATUS=` line satisfies `want`
    /// and returns that line's value; the datagrams before it are consumed.
    #[track_caller]
    pub fn expect_status(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut skipped = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                panic!("no STATUS= {what} within {TIMEOUT:?}; got {skipped:?}");
            }
            self.notify.set_read_timeout(Some(remaining)).unwrap();
            let mut buf = [0u8; 4096];
            let message = match self.notify.recv(&mut buf) {
                Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(e) if is_timeout(&e) => continue,
                Err(e) => panic!("recv on the notify socket: {e}"),
            };
            let status = message.lines().find_map(|l| l.strip_prefix("STATUS="));
            if let Some(status) = status.filter(|s| want(s)) {
                return status.to_owned();
            }
            skipped.push(message);
        }
    }

    /// The next line the daemon prints on stdout (dry-run output).
    #[track_caller]
    pub fn next_line(&self) -> String {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no line on stdout within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the daemon closed its stdout"),
        }
    }

    /// The next line on stdout if one comes within `timeout`.
    pub fn next_line_within(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Asserts that the next line on stdout is `expected`.
    #[track_caller]
    pub fn expect_line(&self, expected: &str) {
        let line = self.next_line();
        assert_eq!(line, expected, "unexpected line on stdout");
    }

    /// Asserts that the next lines on stdout are `expected`, in order.
    #[track_caller]
    pub fn expect_lines(&self, expected: &[&str]) {
        for line in expected {
            self.expect_line(line);
        }
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: i32) {
        send_signal(self.pid(), signal);
    }

    /// Sends SIGSTOP and waits until every thread of the daemon is stopped,
    /// so that it cannot read anything until [`Daemon::resume`].
    #[track_caller]
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
        let pid = self.pid();
        wait_until("the daemon to stop", || {
            threads(pid)
                .iter()
                .all(|&tid| matches!(task_state(pid, tid), Some('T' | 't')))
                .then_some(())
        });
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Waits at most `timeout` for the daemon to exit; panics if it does not.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let Some(status) = wait_child(&mut self.child, timeout) else {
            panic!("the daemon did not exit within {timeout:?}");
        };
        self.status = Some(status);
        status
    }

    /// The file that receives the daemon's stderr.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// Everything the daemon has written to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until a line of the daemon's stderr contains every fragment in
    /// `fragments`, and returns that line.
    #[track_caller]
    pub fn wait_for_log(&self, fragments: &[&str]) -> String {
        self.wait_for_log_count(fragments, 1)
    }

    /// Waits until `n` lines of the daemon's stderr contain every fragment in
    /// `fragments`, and returns the last of them.
    #[track_caller]
    pub fn wait_for_log_count(&self, fragments: &[&str], n: usize) -> String {
        wait_until(&format!("{n} log line(s) containing {fragments:?}"), || {
            self.stderr()
                .lines()
                .filter(|line| fragments.iter().all(|f| line.contains(f)))
                .nth(n - 1)
                .map(String::from)
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.status.is_none() {
            // Politely first, so that the daemon stops its commands too;
            // asked again, it stops them at once instead of letting them
            // finish within its stop grace.
            self.signal(libc::SIGTERM);
            self.signal(libc::SIGCONT);
            let mut stopped = false;
            for _ in 0..20 {
                if wait_child(&mut self.child, Duration::from_millis(100)).is_some() {
                    stopped = true;
                    break;
                }
                self.signal(libc::SIGTERM);
            }
            if !stopped {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if thread::panicking() {
            eprintln!(
                "--- logs2eca stderr ---\n{}--- end of logs2eca stderr ---",
                self.stderr()
            );
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

pub fn send_signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

// ---------------------------------------------------------------------------
// /proc inspection.

/// The fields of `/proc/<pid>/stat` the tests need.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

impl ProcStat {
    /// Not a zombie (Z) nor dead (X): the process still exists as such.
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

fn parse_stat(pid: i32, text: &str) -> Option<ProcStat> {
    // The command name in parentheses may contain anything; the fixed fields
    // follow the last ')': state, ppid, pgrp, ...
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    Some(ProcStat {
        pid,
        state: fields.next()?.chars().next()?,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(pid, &fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn task_state(pid: i32, tid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    parse_stat(tid, &text).map(|s| s.state)
}

fn numeric_entries(dir: &str) -> Vec<i32> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every process on the system (that is still there when read).
pub fn all_processes() -> Vec<ProcStat> {
    numeric_entries("/proc")
        .into_iter()
        .filter_map(proc_stat)
        .collect()
}

fn threads(pid: i32) -> Vec<i32> {
    numeric_entries(&format!("/proc/{pid}/task"))
}

/// Live (non-zombie) processes in process group `pgid`.
pub fn live_group_members(pgid: i32) -> Vec<ProcStat> {
    all_processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.is_live())
        .collect()
}

/// Zombie children of `ppid`.
pub fn zombie_children(ppid: i32) -> Vec<ProcStat> {
    all_processes()
        .into_iter()
        .filter(|p| p.ppid == ppid && p.state == 'Z')
        .collect()
}

fn status_field(path: &str, name: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Voluntary plus involuntary context switches of all threads of `pid`.
pub fn context_switches(pid: i32) -> u64 {
    threads(pid)
        .into_iter()
        .map(|tid| {
            let path = format!("/proc/{pid}/task/{tid}/status");
            status_field(&path, "voluntary_ctxt_switches:").unwrap_or(0)
                + status_field(&path, "nonvoluntary_ctxt_switches:").unwrap_or(0)
        })
        .sum()
}

/// Waits (bounded) until `pid` has finished what it was doing: every
/// thread asleep (a thread in a write or an fsync is not) and no context
/// switch over 100 ms. What a file shows can come before the work behind it
/// is done (a state file is renamed into place before its directory is
/// synced).
pub fn wait_settled(pid: i32) {
    let mut last = context_switches(pid);
    wait_until("the daemon to settle", || {
        thread::sleep(Duration::from_millis(100));
        let now = context_switches(pid);
        let asleep = threads(pid)
            .into_iter()
            .all(|tid| task_state(pid, tid) == Some('S'));
        let settled = asleep && now == last;
        last = now;
        settled.then_some(())
    });
}

/// Resident set size (`VmRSS`) of `pid`, in KiB.
#[track_caller]
pub fn rss_kib(pid: i32) -> u64 {
    status_field(&format!("/proc/{pid}/status"), "VmRSS:").expect("VmRSS in /proc/<pid>/status")
}

/// Number of open file descriptors of `pid`.
#[track_caller]
pub fn open_fds(pid: i32) -> usize {
    let dir = format!("/proc/{pid}/fd");
    check(fs::read_dir(&dir), || format!("read {dir}")).count()
}

/// Peak resident set size (`VmHWM`) of `pid`, in KiB.
#[track_caller]
pub fn peak_rss_kib(pid: i32) -> u64 {
    status_field(&format!("/proc/{pid}/status"), "VmHWM:").expect("VmHWM in /proc/<pid>/status")
}

/// Reads a pid written by a command (`echo $$ > file`), waiting for it.
#[track_caller]
pub fn wait_for_pid_file(sandbox: &Sandbox, rel: &str) -> i32 {
    let line = sandbox.wait_for_lines(rel, 1).remove(0);
    match line.trim().parse() {
        Ok(pid) => pid,
        Err(_) => panic!("no pid in {rel}: {line:?}"),
    }
}

/// Command that records its pid (= its process group) in `cmd.pid` and then
/// leaves two processes behind in its group, one of them in the background.
pub const GROUP_COMMAND: &str = "sh -c 'echo $$ > cmd.pid; sleep 300 & sleep 300'";

/// Waits until the command started with [`GROUP_COMMAND`] has at least two
/// live processes in its group, and returns the group id.
#[track_caller]
pub fn wait_for_group_command(sandbox: &Sandbox) -> i32 {
    let pgid = wait_for_pid_file(sandbox, "cmd.pid");
    wait_until("the command's two sleeps", || {
        (live_group_members(pgid).len() >= 2).then_some(())
    });
    pgid
}

/// Waits (bounded by `timeout`) until process group `pgid` has no live
/// process left.
#[track_caller]
pub fn wait_for_group_gone(pgid: i32, timeout: Duration) {
    if poll(timeout, || {
        live_group_members(pgid).is_empty().then_some(())
    })
    .is_none()
    {
        let left = live_group_members(pgid);
        // Do not leave them behind for the rest of the test run.
        send_signal(-pgid, libc::SIGKILL);
        panic!("process group {pgid} still has live processes after {timeout:?}: {left:?}");
    }
}

// ---------------------------------------------------------------------------
// Mounts private to a test: a read-only directory, a tiny file system.

/// A thread with a mount namespace of its own, whose mounts vanish with it
/// and are seen by the processes it starts.
pub struct PrivateMounts(());

impl PrivateMounts {
    /// Runs `body` on a new thread in a private mount namespace and returns
    /// its result; `None` (and a message saying the test is skipped) where
    /// that is not allowed, as for a user other than root.
    pub fn run<T: Send>(body: impl FnOnce(&PrivateMounts) -> T + Send) -> Option<T> {
        thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: unshare(2) changes only the calling thread's
                    // namespaces.
                    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                        eprintln!(
                            "skipped: no private mount namespace ({}); run the tests as root",
                            std::io::Error::last_os_error()
                        );
                        return None;
                    }
                    // Mounts made here must not propagate to the host.
                    mount(
                        None,
                        Path::new("/"),
                        None,
                        libc::MS_REC | libc::MS_PRIVATE,
                        None,
                    );
                    Some(body(&PrivateMounts(())))
                })
                .join()
                .expect("the private-mount thread panicked")
        })
    }

    /// Makes the directory `dir` read-only (as root, permissions do not).
    #[track_caller]
    pub fn read_only(&self, dir: &Path) {
        mount(Some(dir.as_os_str()), dir, None, libc::MS_BIND, None);
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        mount(None, dir, None, flags, None);
    }

    /// Mounts a tmpfs of `size` (as `mount -o size=`) on `dir`, writable
    /// by its owner only (a state directory must be).
    #[track_caller]
    pub fn tmpfs(&self, dir: &Path, size: &str) {
        let options = format!("size={size},mode=0700");
        mount(
            Some("tmpfs".as_ref()),
            dir,
            Some("tmpfs"),
            0,
            Some(&options),
        );
    }

    /// Mounts an overlayfs on `dir`, as a container's root is: `lower`
    /// (read-only, as an image layer) under `upper`; `work` is overlayfs's
    /// own scratch directory, on the same file system as `upper`.
    #[track_caller]
    pub fn overlay(&self, dir: &Path, lower: &Path, upper: &Path, work: &Path) {
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        mount(
            Some("overlay".as_ref()),
            dir,
            Some("overlay"),
            0,
            Some(&options),
        );
    }
}

#[track_caller]
fn mount(
    source: Option<&OsStr>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &[u8]| CString::new(s).expect("no NUL");
    let source = source.map(|s| c(s.as_bytes()));
    let (fstype, data) = (
        fstype.map(|s| c(s.as_bytes())),
        data.map(|s| c(s.as_bytes())),
    );
    let target = CString::new(target.as_os_str().as_bytes()).expect("no NUL");
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string that
    // outlives the call.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    if rc != 0 {
        panic!(
            "mount {target:?} ({flags:#x}): {}",
            std::io::Error::last_os_error()
        );
    }
}

/// How the daemon sees a file change: inotify, or a look every 100 ms.
#[derive(Debug, Clone, Copy)]
pub enum Detector {
    Inotify,
    Poll,
}

impl Detector {
    /// `args`, with what selects this detector.
    pub fn args<'a>(self, args: &[&'a str]) -> Vec<&'a str> {
        let mut args = args.to_vec();
        if let Detector::Poll = self {
            args.extend(["--poll", "100ms"]);
        }
        args
    }
}

/// Runs each named follow scenario (a `fn name(detector: Detector)`) once
/// per change detector, as `name::inotify` and `name::poll`, the way
/// ripgrep's `rgtest!` runs a test under both regex engines: polling can
/// never fall behind inotify unseen.
macro_rules! each_detector {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn inotify() {
                super::$name($crate::common::Detector::Inotify)
            }
            #[test]
            fn poll() {
                super::$name($crate::common::Detector::Poll)
            }
        }
    )*};
}
pub(crate) use each_detector;

/// A state document as logs2eca writes it, edited by a test: its
/// `version` first (what tells a state from other files), the rest in any
/// order.
pub fn state_json(state: &serde_json::Value) -> Vec<u8> {
    let mut rest = state.clone();
    let version = rest
        .as_object_mut()
        .and_then(|fields| fields.remove("version"))
        .expect("a state has a version");
    let rest = serde_json::to_string(&rest).unwrap();
    let fields = rest.strip_prefix('{').unwrap();
    let sep = if fields == "}" { "" } else { "," };
    format!("{{\"version\":{version}{sep}{fields}\n").into_bytes()
}
