//! The action: run the command safely and account for it.
//!
//! The command line was split once at start; it is executed directly, so
//! nothing in a log line is ever interpreted by a shell: the line reaches the
//! command only as environment values. The command runs in its own process
//! group so that a timeout or a shutdown reaches everything it started.
//!
//! Children are reaped with `waitpid(-1)` on SIGCHLD, which also reaps the
//! orphans a PID 1 adopts in a container. When we are stopping a command,
//! the rest of its group is killed while its exited leader is still
//! unreaped: a zombie keeps its process group id from being reused, so the
//! group kill cannot hit an unrelated process.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a timed-out command gets between SIGTERM and SIGKILL.
pub const TIMEOUT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How long a running command gets when logs2eca itself is stopped; short,
/// so that the daemon stops within a second.
pub const SHUTDOWN_KILL_GRACE: Duration = Duration::from_millis(500);

/// Largest value handed to the command in one environment variable (Linux
/// refuses single strings over 128 KiB in exec).
pub const MAX_ENV_VALUE: usize = 64 << 10;

/// The command as configured: resolved program and its arguments.
#[derive(Debug, Clone)]
pub struct CommandLine {
    /// The program, resolved to a path at start.
    pub program: PathBuf,
    /// argv as the user wrote it, `argv[0]` included.
    pub argv: Vec<String>,
}

#[derive(Debug)]
struct Running {
    pid: libc::pid_t,
    /// Whose run this is (the caller's key), handed back when it ends.
    tag: usize,
    started: Instant,
    /// When to send SIGTERM (the timeout), until it is sent.
    term_at: Option<Instant>,
    /// When to send SIGKILL, once SIGTERM was sent.
    kill_at: Option<Instant>,
}

/// How a run ended, for the log and the cooldown.
#[derive(Debug)]
pub struct Finished {
    pub pid: libc::pid_t,
    /// The tag given to `spawn`.
    pub tag: usize,
    pub status: ExitStatus,
    pub duration: Duration,
}

/// The commands running now, each in its own process group with its own
/// timeout. How many may run at once is the caller's rule (the gate's).
#[derive(Debug)]
pub struct Runner {
    command: CommandLine,
    timeout: Option<Duration>,
    /// Few entries (at most `--max-running`): a linear scan is the fastest
    /// lookup, and it only happens when a child exits or a timer fires.
    running: Vec<Running>,
}

impl Runner {
    pub fn new(command: CommandLine, timeout: Option<Duration>) -> Self {
        Runner {
            command,
            timeout,
            running: Vec::new(),
        }
    }

    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// Starts the command with `env` added to our environment; `tag` comes
    /// back in its `Finished`.
    pub fn spawn(
        &mut self,
        env: &[(String, OsString)],
        tag: usize,
        now: Instant,
    ) -> std::io::Result<libc::pid_t> {
        let mut command = Command::new(&self.command.program);
        command
            .arg0(&self.command.argv[0])
            .args(&self.command.argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            // Our readiness socket is not the command's to use.
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .process_group(0);
        let child = command.spawn()?;
        // The pid is all we keep: reaping happens in `reap`, for every child.
        let pid = child.id() as libc::pid_t;
        self.running.push(Running {
            pid,
            tag,
            started: now,
            term_at: self.timeout.map(|t| now + t),
            kill_at: None,
        });
        Ok(pid)
    }

    /// The next moment `on_deadline` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.running
            .iter()
            .filter_map(|run| run.kill_at.or(run.term_at))
            .min()
    }

    /// Enforces the timeouts: SIGTERM to the group, then SIGKILL.
    pub fn on_deadline(&mut self, now: Instant) {
        for run in &mut self.running {
            if run.kill_at.is_some_and(|at| now >= at) {
                log::warn!(
                    "command (pid {}) still running: sending SIGKILL to its process group",
                    run.pid
                );
                signal_group(run.pid, libc::SIGKILL);
                run.kill_at = None;
            } else if run.term_at.is_some_and(|at| now >= at) {
                log::warn!(
                    "command (pid {}) timed out after {}: sending SIGTERM to its process group",
                    run.pid,
                    seconds(now - run.started)
                );
                signal_group(run.pid, libc::SIGTERM);
                run.term_at = None;
                run.kill_at = Some(now + TIMEOUT_KILL_GRACE);
            }
        }
    }

    /// logs2eca is stopping: SIGTERM every running command's group now and
    /// SIGKILL them after a short grace.
    pub fn terminate(&mut self, now: Instant) {
        for run in &mut self.running {
            if run.kill_at.is_none() {
                log::info!(
                    "stopping command (pid {}): sending SIGTERM to its process group",
                    run.pid
                );
                signal_group(run.pid, libc::SIGTERM);
            }
            run.term_at = None;
            let kill_at = now + SHUTDOWN_KILL_GRACE;
            run.kill_at = Some(run.kill_at.map_or(kill_at, |at| at.min(kill_at)));
        }
    }

    /// Kills the groups and waits for the commands: the last step of a stop.
    pub fn kill_and_wait(&mut self, now: Instant) -> Vec<Finished> {
        let mut ended = Vec::new();
        for run in std::mem::take(&mut self.running) {
            signal_group(run.pid, libc::SIGKILL);
            let mut status = 0;
            // SAFETY: waitpid only writes the status through the pointer,
            // which points at a live local. SIGKILL cannot be ignored: this
            // wait is short.
            let pid = unsafe { libc::waitpid(run.pid, &mut status, 0) };
            if pid == run.pid {
                ended.push(finished(&run, status, now));
            }
        }
        ended
    }

    /// Reaps every exited child (SIGCHLD arrived); returns the ends of our
    /// commands among them.
    pub fn reap(&mut self, now: Instant) -> Vec<Finished> {
        for run in &self.running {
            if run.kill_at.is_some() && has_exited(run.pid) {
                // We were stopping it: its leader is gone, finish the group
                // off while the unreaped leader still pins the group id.
                signal_group(run.pid, libc::SIGKILL);
            }
        }
        let mut ours = Vec::new();
        let running = &mut self.running;
        reap_children(
            |pid, status| match running.iter().position(|run| run.pid == pid) {
                Some(at) => ours.push(finished(&running.swap_remove(at), status, now)),
                None => log::debug!("reaped process {pid}"),
            },
        );
        ours
    }
}

/// Reaps every child that has exited, without blocking: our command, and
/// the orphans a PID 1 adopts.
pub fn reap_children(mut on_exit: impl FnMut(libc::pid_t, libc::c_int)) {
    loop {
        let mut status = 0;
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return; // 0: children left, none exited; -1: no children.
        }
        on_exit(pid, status);
    }
}

fn finished(run: &Running, status: i32, now: Instant) -> Finished {
    Finished {
        pid: run.pid,
        tag: run.tag,
        status: ExitStatus::from_raw(status),
        duration: now.saturating_duration_since(run.started),
    }
}

/// Logs how a run ended: success at info, anything else as a warning.
pub fn log_finished(f: &Finished) {
    let took = seconds(f.duration);
    match (f.status.code(), f.status.signal()) {
        (Some(0), _) => log::info!("command (pid {}) exited with status 0 after {took}", f.pid),
        (Some(code), _) => log::warn!(
            "command (pid {}) exited with status {code} after {took}",
            f.pid
        ),
        (None, Some(sig)) => log::warn!(
            "command (pid {}) killed by signal {sig} ({}) after {took}",
            f.pid,
            signal_name(sig)
        ),
        (None, None) => log::warn!(
            "command (pid {}) ended ({:?}) after {took}",
            f.pid,
            f.status
        ),
    }
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // ESRCH only means the group is already empty.
    unsafe { libc::kill(-pgid, signal) };
}

/// Has `pid` exited? Asked without reaping it.
fn has_exited(pid: libc::pid_t) -> bool {
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    rc == 0 && unsafe { info.si_pid() } == pid
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "other",
    }
}

/// A duration as a person reads it in a log: `12ms`, `2.50s`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// The environment a run gets for the line that triggered it.
pub fn match_env(
    line: &[u8],
    file: &str,
    groups: &[(String, &[u8])],
    suppressed: u64,
) -> Vec<(String, OsString)> {
    let mut env = vec![
        ("LOGS2ECA_MATCH_LINE".to_owned(), env_value(line)),
        ("LOGS2ECA_MATCH_FILE".to_owned(), OsString::from(file)),
        (
            "LOGS2ECA_SUPPRESSED".to_owned(),
            OsString::from(suppressed.to_string()),
        ),
    ];
    env.extend(
        groups
            .iter()
            .map(|(name, value)| (format!("LOGS2ECA_GROUP_{name}"), env_value(value))),
    );
    env
}

/// Bytes as an environment value: at most `MAX_ENV_VALUE` bytes, and NUL
/// (which the environment cannot carry) replaced by U+FFFD.
pub fn env_value(bytes: &[u8]) -> OsString {
    let bytes = &bytes[..bytes.len().min(MAX_ENV_VALUE)];
    let mut value = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b == 0 {
            value.extend_from_slice("\u{fffd}".as_bytes());
        } else {
            value.push(b);
        }
    }
    OsString::from_vec(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_bounded_and_carry_no_nul() {
        let long = vec![b'a'; MAX_ENV_VALUE + 10];
        assert_eq!(env_value(&long).len(), MAX_ENV_VALUE);
        assert_eq!(env_value(b"a\0b").into_vec(), "a\u{fffd}b".as_bytes());
        assert_eq!(env_value(b"\xff ok").into_vec(), b"\xff ok");
    }

    #[test]
    fn match_env_names_every_group() {
        let groups = [
            ("0".to_owned(), &b"user=bob"[..]),
            ("user".to_owned(), &b"bob"[..]),
        ];
        let env = match_env(b"login user=bob", "/var/log/a.log", &groups, 4);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "LOGS2ECA_MATCH_LINE",
                "LOGS2ECA_MATCH_FILE",
                "LOGS2ECA_SUPPRESSED",
                "LOGS2ECA_GROUP_0",
                "LOGS2ECA_GROUP_user"
            ]
        );
        assert_eq!(env[2].1, "4");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_millis(12)), "12ms");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.50s");
    }
}
