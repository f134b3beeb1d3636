//! The action: run the command safely and account for it.
//!
//! The command line was split once at start; it is executed directly, so
//! nothing in a log line is ever interpreted by a shell: the line reaches the
//! command only as environment values. The command runs in its own process
//! group so that a timeout or a shutdown reaches everything it started.
//!
//! A command is reaped by its pid on SIGCHLD, never with `waitpid(-1)`:
//! journalctl, the journal source's child, is that source's to reap, with
//! its status. As PID 1 in a container the orphans the kernel re-parents
//! to us are reaped too ([`reap_orphans`]). When a command exits (or is
//! stopped), the rest of its group is killed (SIGKILL) while its exited
//! leader is still unreaped: a zombie keeps its process group id from being
//! reused, so the group kill cannot hit an unrelated process. What the
//! command left in the background ends with it; a process that left the
//! group (`setsid`) is beyond reach.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::react::linetime::Time;
use crate::react::spawn_error;
use crate::report::event::{RunEvent, emit};
use crate::sys;

#[cfg(test)]
pub(crate) mod fake;

/// How long a timed-out command gets between SIGTERM and SIGKILL.
pub const TIMEOUT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How long a stop waits for commands to die after SIGKILL: only a
/// process stuck in the kernel takes longer, and it must not keep
/// logs2eca from exiting.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// How long a running command gets between the SIGTERM and the SIGKILL of a
/// stop, once the stop grace is over; short, so that the daemon then stops
/// within a second.
pub const SHUTDOWN_KILL_GRACE: Duration = Duration::from_millis(500);

/// How long a stop (SIGTERM, SIGINT) lets running commands finish before
/// their groups are stopped: well within systemd's default
/// `TimeoutStopSec=` of 90 s, with room for the SIGKILL and the last save.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// A command that runs longer than this is logged as a warning (and shown
/// in `STATUS=`): a `curl` without `-m` must not silence the monitor
/// without a word.
pub const LONG_RUN: Duration = Duration::from_secs(60);

/// Largest value handed to the command in one environment variable, in
/// bytes after conversion (Linux refuses a single `NAME=value` string over
/// 128 KiB, `MAX_ARG_STRLEN`, in exec).
pub const MAX_ENV_VALUE: usize = 64 << 10;

/// Most bytes the variables added for a run may take together. The kernel
/// refuses an exec whose arguments and environment exceed `ARG_MAX` (a
/// quarter of the stack limit, 2 MiB by default, 128 KiB at least);
/// [`added_env_budget`] takes less than this when the inherited environment
/// leaves less room.
pub const MAX_ADDED_ENV: usize = 256 << 10;

/// Set to `1` in the command's environment when a value was cut or left out
/// to stay within the limits.
pub const TRUNCATED_VAR: &str = "LOGS2ECA_TRUNCATED";

/// The command as configured: resolved program and its arguments.
#[derive(Debug, Clone)]
pub struct CommandLine {
    /// The program, resolved to a path at start.
    pub program: PathBuf,
    /// argv as the user wrote it, `argv[0]` included.
    pub argv: Vec<String>,
}

/// What the runner asks of the system: start a process in a group of its
/// own, signal a group, and learn which children ended. The seam between
/// the timing logic (timeouts, the stop sequence) and real processes, so
/// that the first is unit-tested without spawning (see `FakeSpawner` in the
/// tests).
pub trait Spawner: std::fmt::Debug {
    /// Starts `command` with `env` added to our environment, in a new
    /// process group whose id is the returned pid.
    fn spawn(
        &mut self,
        command: &CommandLine,
        env: &[(String, OsString)],
    ) -> std::io::Result<libc::pid_t>;
    /// Sends `signal` to the process group `pgid`.
    fn signal_group(&mut self, pgid: libc::pid_t, signal: libc::c_int);
    /// Has `pid` exited? Asked without reaping it.
    fn has_exited(&mut self, pid: libc::pid_t) -> bool;
    /// Reaps `pid` if it exited: its pid and raw wait status; `None` if it
    /// did not.
    fn try_reap(&mut self, pid: libc::pid_t) -> Option<(libc::pid_t, libc::c_int)>;
    /// Waits a little before looking again for a child killed at the end.
    fn pause(&mut self, how_long: Duration);
}

/// Real processes, started by `sys::spawn` rather than `Command`: the same
/// process (program, `argv[0]`, environment, process group, `/dev/null` as
/// standard input, our standard output and error, our working directory,
/// the same errors), without glibc's `posix_spawn` resetting every signal
/// in the child (see `sys/spawn.rs`).
#[derive(Debug, Default)]
pub struct OsSpawner {
    /// The child's stack between clone and exec: mapped at the first
    /// spawn, kept for the next.
    stack: Option<sys::spawn::ChildStack>,
}

impl Spawner for OsSpawner {
    fn spawn(
        &mut self,
        command: &CommandLine,
        env: &[(String, OsString)],
    ) -> std::io::Result<libc::pid_t> {
        // As `Command` does: the strings first, then standard input, then
        // the process.
        let program = c_string(command.program.as_os_str().as_bytes())?;
        let argv = command
            .argv
            .iter()
            .map(|arg| c_string(arg.as_bytes()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let envp = environment(env)?;
        let stdin = sys::open_at(None, Path::new(spawn_error::DEV_NULL), libc::O_RDWR)
            .map_err(spawn_error::explain)?;
        let stack = match &mut self.stack {
            Some(stack) => stack,
            None => self.stack.insert(sys::spawn::ChildStack::new()?),
        };
        // The program is executed by the path resolved at start, with no
        // search of PATH now (a name without a slash, found through an
        // empty PATH entry, is relative to the working directory, as it
        // was when found).
        sys::spawn::spawn(stack, &program, &argv, &envp, stdin.as_fd())
            .map_err(spawn_error::explain)
    }

    fn signal_group(&mut self, pgid: libc::pid_t, signal: libc::c_int) {
        sys::signal_group(pgid, signal);
    }

    fn has_exited(&mut self, pid: libc::pid_t) -> bool {
        sys::has_exited(pid)
    }

    fn try_reap(&mut self, pid: libc::pid_t) -> Option<(libc::pid_t, libc::c_int)> {
        sys::try_reap(pid)
    }

    fn pause(&mut self, how_long: Duration) {
        std::thread::sleep(how_long);
    }
}

/// The command's environment as `Command` builds it: ours, with `added`
/// set over it and without `NOTIFY_SOCKET` (our readiness socket is not the
/// command's to use), one `NAME=value` per name, in the order of the names.
fn environment(added: &[(String, OsString)]) -> std::io::Result<Vec<CString>> {
    let mut vars: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for (name, value) in added {
        vars.insert(name.into(), value.clone());
    }
    vars.remove(std::ffi::OsStr::new("NOTIFY_SOCKET"));
    vars.into_iter()
        .map(|(name, value)| {
            let mut pair = name.into_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            c_string(&pair)
        })
        .collect()
}

/// `bytes` as a C string; the error `Command` gives for a NUL in them.
fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

#[derive(Debug)]
struct Running {
    pid: libc::pid_t,
    /// Whose run this is (the caller's key), handed back when it ends.
    tag: usize,
    started: Instant,
    /// When to say that it runs long, until said.
    warn_at: Option<Instant>,
    /// When to send SIGTERM (the timeout), until it is sent.
    term_at: Option<Instant>,
    /// When to send SIGKILL, once SIGTERM was sent.
    kill_at: Option<Instant>,
    /// Why we signalled its group, once we did.
    stopped: Option<Stopped>,
}

/// Why logs2eca stopped a command (the metrics count these apart from
/// commands that failed on their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It ran longer than `--timeout`.
    Timeout,
    /// logs2eca was stopping.
    Shutdown,
}

/// How a run ended, for the log and the cooldown.
#[derive(Debug)]
pub struct Finished {
    pub pid: libc::pid_t,
    /// The tag given to `spawn`.
    pub tag: usize,
    pub status: ExitStatus,
    pub duration: Duration,
    /// Why we stopped it, if we did.
    pub stopped: Option<Stopped>,
}

/// The commands running now, each in its own process group with its own
/// timeout. How many may run at once is the caller's rule (the gate's).
#[derive(Debug)]
pub struct Runner {
    command: CommandLine,
    timeout: Option<Duration>,
    /// When a run counts as long ([`LONG_RUN`]).
    long_run: Duration,
    /// Few entries (at most `--max-running`): a linear scan is the fastest
    /// lookup, and it only happens when a child exits or a timer fires.
    running: Vec<Running>,
    spawner: Box<dyn Spawner>,
}

impl Runner {
    /// Runs `command` through `spawner` (real processes: [`OsSpawner`]).
    pub fn new(command: CommandLine, timeout: Option<Duration>, spawner: Box<dyn Spawner>) -> Self {
        Runner {
            command,
            timeout,
            long_run: LONG_RUN,
            running: Vec::new(),
            spawner,
        }
    }

    /// Runs count as long after `long_run` instead of [`LONG_RUN`].
    pub fn set_long_run(&mut self, long_run: Duration) {
        self.long_run = long_run;
    }

    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// When each running command started.
    pub fn started_at(&self) -> impl Iterator<Item = Instant> + '_ {
        self.running.iter().map(|run| run.started)
    }

    /// The commands running now: process group and tag.
    pub fn running(&self) -> impl Iterator<Item = (libc::pid_t, usize)> + '_ {
        self.running.iter().map(|run| (run.pid, run.tag))
    }

    /// Starts `program` (`None`: the command; or another under the same
    /// limits: the undo) with `env` added to our environment.
    pub fn spawn_program(
        &mut self,
        program: Option<&CommandLine>,
        env: &[(String, OsString)],
        tag: usize,
        now: Instant,
    ) -> std::io::Result<libc::pid_t> {
        let pid = self.spawner.spawn(program.unwrap_or(&self.command), env)?;
        self.running.push(Running {
            pid,
            tag,
            started: now,
            warn_at: Some(now + self.long_run),
            term_at: self.timeout.map(|t| now + t),
            kill_at: None,
            stopped: None,
        });
        Ok(pid)
    }

    /// The runs going on now: tag, pid, how long so far, and whether that
    /// counts as long.
    pub fn running_for(&self, now: Instant) -> Vec<(usize, libc::pid_t, Duration, bool)> {
        self.running
            .iter()
            .map(|run| {
                let took = now.saturating_duration_since(run.started);
                (run.tag, run.pid, took, took >= self.long_run)
            })
            .collect()
    }

    /// The next moment `on_deadline` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.running
            .iter()
            .flat_map(|run| [run.kill_at.or(run.term_at), run.warn_at])
            .flatten()
            .min()
    }

    /// Enforces the timeouts: SIGTERM to the group, then SIGKILL. Returns
    /// the runs that have just become long: tag, pid, how long so far.
    pub fn on_deadline(&mut self, now: Instant) -> Vec<(usize, libc::pid_t, Duration)> {
        let mut long = Vec::new();
        for run in &mut self.running {
            if run.warn_at.is_some_and(|at| now >= at) {
                run.warn_at = None;
                long.push((run.tag, run.pid, now.saturating_duration_since(run.started)));
            }
            if run.kill_at.is_some_and(|at| now >= at) {
                emit!(RunEvent::StillRunning { pid: run.pid });
                self.spawner.signal_group(run.pid, libc::SIGKILL);
                run.kill_at = None;
            } else if run.term_at.is_some_and(|at| now >= at) {
                emit!(RunEvent::TimedOut {
                    pid: run.pid,
                    after: now - run.started,
                });
                self.spawner.signal_group(run.pid, libc::SIGTERM);
                run.term_at = None;
                run.kill_at = Some(now + TIMEOUT_KILL_GRACE);
                run.stopped = Some(Stopped::Timeout);
            }
        }
        long
    }

    /// logs2eca is stopping: SIGTERM every running command's group now and
    /// SIGKILL them after a short grace.
    pub fn terminate(&mut self, now: Instant) {
        for run in &mut self.running {
            if run.kill_at.is_none() {
                emit!(RunEvent::Stopping { pid: run.pid });
                self.spawner.signal_group(run.pid, libc::SIGTERM);
            }
            run.term_at = None;
            run.warn_at = None;
            run.stopped.get_or_insert(Stopped::Shutdown);
            let kill_at = now + SHUTDOWN_KILL_GRACE;
            run.kill_at = Some(run.kill_at.map_or(kill_at, |at| at.min(kill_at)));
        }
    }

    /// Kills the groups and waits for the commands: the last step of a stop.
    pub fn kill_and_wait(&mut self, now: Instant) -> Vec<Finished> {
        let mut left = std::mem::take(&mut self.running);
        for run in &mut left {
            self.spawner.signal_group(run.pid, libc::SIGKILL);
            run.stopped.get_or_insert(Stopped::Shutdown);
        }
        // SIGKILL cannot be ignored, but a process stuck in the kernel (a
        // stalled network file system) dies only when the kernel lets it:
        // wait a moment for it, never forever.
        let mut ended = Vec::new();
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            let spawner = &mut self.spawner;
            left.retain(|run| match spawner.try_reap(run.pid) {
                Some((_, status)) => {
                    ended.push(finished(run, status, now));
                    false
                }
                None => true,
            });
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            self.spawner.pause(Duration::from_millis(5));
        }
        for run in &left {
            emit!(RunEvent::DidNotDie {
                pid: run.pid,
                wait: KILL_WAIT,
            });
        }
        ended
    }

    /// Reaps the commands that exited (SIGCHLD arrived), each by its pid:
    /// other children (journalctl) are their owners' to reap, with their
    /// status. Returns the ends of the commands.
    pub fn reap(&mut self, now: Instant) -> Vec<Finished> {
        let mut ours = Vec::new();
        let mut at = 0;
        while at < self.running.len() {
            let pid = self.running[at].pid;
            if !self.spawner.has_exited(pid) {
                at += 1;
                continue;
            }
            // The command is over, so is its group: what it left running
            // in the background (`cmd &`) would otherwise outlive its
            // timeout and the daemon. Killed while the unreaped leader
            // still pins the group id, so the kill cannot reach an
            // unrelated group.
            self.spawner.signal_group(pid, libc::SIGKILL);
            match self.spawner.try_reap(pid) {
                Some((_, status)) => {
                    ours.push(finished(&self.running.swap_remove(at), status, now));
                }
                None => at += 1,
            }
        }
        ours
    }
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`); `None` if there is no such process or it has exited
/// (a zombie). With the pid, it names one process across pid reuse.
pub fn start_ticks(pid: libc::pid_t) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Field 3 was the state; the start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// Ends the process group of a command left running by an earlier
/// logs2eca that died (SIGKILL, a crash): SIGTERM, then SIGKILL after
/// [`SHUTDOWN_KILL_GRACE`]. Only if its leader is the same process (same
/// start time): a pid reused since is left alone. Returns whether it was
/// still running.
pub fn end_left_running(pgid: libc::pid_t, ticks: u64) -> bool {
    if pgid <= 1 || start_ticks(pgid) != Some(ticks) {
        return false;
    }
    emit!(RunEvent::LeftRunning { pid: pgid });
    sys::signal_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + SHUTDOWN_KILL_GRACE;
    while start_ticks(pgid) == Some(ticks) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The rest of the group, and a leader that ignored SIGTERM.
    sys::signal_group(pgid, libc::SIGKILL);
    true
}

/// As PID 1 (in a container), reaps the orphans the kernel re-parents to
/// us, without blocking; elsewhere there are none (logs2eca is no
/// subreaper: what a command leaves behind is re-parented to the init or
/// the service manager above us, which reaps it). `owned(pid)`: a child
/// that its owner reaps by its pid, for its status (a command,
/// journalctl). The kernel shows exited children one at a time: an owned
/// one hides the rest until its owner has reaped it, which is why this is
/// asked at every turn of the loop.
pub fn reap_orphans(owned: impl Fn(libc::pid_t) -> bool) {
    // Asked once: getpid is a system call, and this runs every turn.
    static PID_1: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*PID_1.get_or_init(|| std::process::id() == 1) {
        return;
    }
    while let Some(pid) = sys::exited_child() {
        if owned(pid) {
            return;
        }
        if let Some((pid, _)) = sys::try_reap(pid) {
            log::debug!("reaped process {pid}");
        }
    }
}

fn finished(run: &Running, status: i32, now: Instant) -> Finished {
    Finished {
        pid: run.pid,
        tag: run.tag,
        status: ExitStatus::from_raw(status),
        duration: now.saturating_duration_since(run.started),
        stopped: run.stopped,
    }
}

/// Reports how a run ended: success at info, anything else as a warning.
pub fn log_finished(f: &Finished) {
    emit!(RunEvent::Exited {
        pid: f.pid,
        status: f.status,
        took: f.duration,
    });
}

pub fn signal_name(sig: i32) -> &'static str {
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
///
/// Never more than [`added_env_budget`] bytes, so that no line can make
/// the exec fail with E2BIG: the small values come first, then the line,
/// then the groups in order; a value that does not fit is cut, and those
/// after it are left out. `LOGS2ECA_TRUNCATED=1` tells the command.
pub fn match_env(trigger: &Trigger) -> Vec<(String, OsString)> {
    match_env_within(added_env_budget(), trigger)
}

/// What a run is told about the match that triggered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trigger<'a> {
    pub line: &'a [u8],
    pub file: &'a str,
    /// Capture groups that took part: (name or number, value).
    pub groups: &'a [(String, &'a [u8])],
    /// Matches suppressed since the previous run (of this key).
    pub suppressed: u64,
    /// Matches that made the trigger (`--threshold`).
    pub count: u64,
    /// The key, with `--key`.
    pub key: Option<&'a [u8]>,
    /// The line's time (§11), as `LOGS2ECA_MATCH_TIME`.
    pub time: Option<Time>,
    /// What the source tells of the line besides its text (a journal
    /// entry's fields and time).
    pub extra: &'a [(&'static str, Vec<u8>)],
}

fn match_env_within(budget: usize, t: &Trigger) -> Vec<(String, OsString)> {
    let mut env = AddedEnv {
        vars: Vec::with_capacity(6 + t.groups.len()),
        // Room for the marker is kept from the start.
        left: budget.saturating_sub(env_cost(TRUNCATED_VAR, 1)),
        truncated: false,
    };
    env.add("LOGS2ECA_MATCH_FILE".to_owned(), t.file.as_bytes());
    env.add(
        "LOGS2ECA_SUPPRESSED".to_owned(),
        t.suppressed.to_string().as_bytes(),
    );
    env.add("LOGS2ECA_COUNT".to_owned(), t.count.to_string().as_bytes());
    if let Some(time) = t.time {
        env.add(
            "LOGS2ECA_MATCH_TIME".to_owned(),
            time.to_string().as_bytes(),
        );
    }
    if let Some(key) = t.key {
        env.add("LOGS2ECA_KEY".to_owned(), key);
    }
    for (name, value) in t.extra {
        env.add((*name).to_owned(), value);
    }
    env.add("LOGS2ECA_MATCH_LINE".to_owned(), t.line);
    for (name, value) in t.groups {
        env.add(format!("LOGS2ECA_GROUP_{name}"), value);
    }
    if env.truncated {
        env.vars
            .push((TRUNCATED_VAR.to_owned(), OsString::from("1")));
    }
    env.vars
}

/// The variables of one run, filled within a budget.
struct AddedEnv {
    vars: Vec<(String, OsString)>,
    /// Bytes of the budget still free.
    left: usize,
    /// A value was cut or left out.
    truncated: bool,
}

impl AddedEnv {
    fn add(&mut self, name: String, bytes: &[u8]) {
        let (mut value, cut) = env_value(bytes);
        self.truncated |= cut;
        let fixed = env_cost(&name, 0);
        if fixed >= self.left {
            self.truncated = true;
            self.left = 0;
            return;
        }
        let room = self.left - fixed;
        if value.len() > room {
            value.truncate(char_boundary(&value, room));
            self.truncated = true;
        }
        self.left -= fixed + value.len();
        self.vars.push((name, OsString::from_vec(value)));
    }
}

/// What the kernel counts for one `NAME=value` string of the environment:
/// its bytes, the `=` and the NUL, and the pointer to it.
fn env_cost(name: &str, value_len: usize) -> usize {
    name.len() + 1 + value_len + 1 + std::mem::size_of::<*const u8>()
}

/// The budget of the added environment: [`MAX_ADDED_ENV`], or half of what
/// `ARG_MAX` leaves after the inherited environment if that is less (the
/// other half stays free for the command's arguments). Computed once: our
/// own environment does not change while we run.
pub fn added_env_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        // 128 KiB is the least Linux allows whatever the stack limit.
        let arg_max = sys::arg_max().unwrap_or(0).max(128 << 10);
        let inherited: usize = std::env::vars_os()
            .map(|(name, value)| env_cost(&name.to_string_lossy(), value.len()))
            .sum();
        MAX_ADDED_ENV.min(arg_max.saturating_sub(inherited) / 2)
    })
}

/// Bytes as an environment value: NUL (which the environment cannot
/// carry) replaced by U+FFFD, then cut to `MAX_ENV_VALUE` bytes; the cap
/// applies after the conversion, which makes a NUL three bytes. Also says
/// whether anything was cut.
fn env_value(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut value = Vec::with_capacity(bytes.len().min(MAX_ENV_VALUE));
    for (i, &b) in bytes.iter().enumerate() {
        let piece: &[u8] = if b == 0 { "\u{fffd}".as_bytes() } else { &[b] };
        if value.len() + piece.len() > MAX_ENV_VALUE {
            let cut = char_boundary(&value, value.len());
            value.truncate(cut);
            return (value, i < bytes.len());
        }
        value.extend_from_slice(piece);
    }
    (value, false)
}

/// The largest length at most `at` that does not cut a UTF-8 sequence in
/// two (bytes that are not UTF-8 are kept as they are).
fn char_boundary(value: &[u8], at: usize) -> usize {
    let mut at = at.min(value.len());
    // At most three continuation bytes can precede a boundary.
    for _ in 0..3 {
        if at == 0 || at == value.len() || value[at] & 0xc0 != 0x80 {
            break;
        }
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_bounded_after_conversion_and_carry_no_nul() {
        let long = vec![b'a'; MAX_ENV_VALUE + 10];
        assert_eq!(env_value(&long), (vec![b'a'; MAX_ENV_VALUE], true));
        assert!(!env_value(&long[..MAX_ENV_VALUE]).1);
        assert_eq!(env_value(b"a\0b").0, "a\u{fffd}b".as_bytes());
        assert_eq!(env_value(b"\xff ok").0, b"\xff ok");
        // 50,000 NULs are 150,000 bytes once converted: cut to the cap, on
        // a whole U+FFFD.
        let mut nuls = vec![0u8; 50_000];
        nuls.extend_from_slice(b"ERROR");
        let (value, cut) = env_value(&nuls);
        assert!(cut);
        assert_eq!(value.len(), MAX_ENV_VALUE / 3 * 3);
        assert!(std::str::from_utf8(&value).is_ok());
    }

    #[test]
    fn the_added_environment_stays_within_its_budget() {
        let line = vec![b'x'; 100_000];
        let groups: Vec<(String, &[u8])> = (0..41).map(|i| (i.to_string(), &line[..])).collect();
        let budget = MAX_ADDED_ENV;
        let trigger = Trigger {
            line: &line,
            file: "/var/log/a.log",
            groups: &groups,
            ..Trigger::default()
        };
        let env = match_env_within(budget, &trigger);
        let used: usize = env.iter().map(|(k, v)| env_cost(k, v.len())).sum();
        assert!(used <= budget, "{used} > {budget}");
        assert!(env.iter().all(|(k, v)| k.len() + 1 + v.len() < 128 << 10));
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.len());
        assert_eq!(get("LOGS2ECA_MATCH_FILE"), Some(14));
        assert_eq!(get("LOGS2ECA_MATCH_LINE"), Some(MAX_ENV_VALUE));
        assert_eq!(get("LOGS2ECA_GROUP_0"), Some(MAX_ENV_VALUE));
        assert_eq!(get("LOGS2ECA_GROUP_40"), None);
        assert_eq!(get(TRUNCATED_VAR), Some(1));
        // What fits is not marked.
        let small: [(String, &[u8]); 1] = [("0".to_owned(), b"x")];
        let small = Trigger {
            line: b"ERROR x",
            file: "f",
            groups: &small,
            ..Trigger::default()
        };
        let env = match_env_within(budget, &small);
        assert_eq!(env.iter().filter(|(k, _)| k == TRUNCATED_VAR).count(), 0);
        // A tiny budget still yields a valid, marked environment.
        let env = match_env_within(64, &trigger);
        assert_eq!(env.last().map(|(k, _)| k.as_str()), Some(TRUNCATED_VAR));
    }

    #[test]
    fn cuts_keep_utf8_sequences_whole() {
        let text = "a\u{e9}\u{20ac}".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(char_boundary(text, 2), 1);
        assert_eq!(char_boundary(text, 3), 3);
        assert_eq!(char_boundary(text, 5), 3);
        assert_eq!(char_boundary(b"\xff\xff", 1), 1);
    }

    #[test]
    fn the_budget_is_bounded() {
        let budget = added_env_budget();
        assert!(budget > 0 && budget <= MAX_ADDED_ENV);
    }

    #[test]
    fn match_env_names_every_group() {
        let groups = [
            ("0".to_owned(), &b"user=bob"[..]),
            ("user".to_owned(), &b"bob"[..]),
        ];
        let env = match_env(&Trigger {
            line: b"login user=bob",
            file: "/var/log/a.log",
            groups: &groups,
            suppressed: 4,
            count: 1,
            key: Some(b"bob"),
            time: Some(Time::from_system(
                std::time::UNIX_EPOCH + Duration::from_secs(1_764_644_645),
            )),
            extra: &[("LOGS2ECA_JOURNAL_UNIT", b"ssh.service".to_vec())],
        });
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "LOGS2ECA_MATCH_FILE",
                "LOGS2ECA_SUPPRESSED",
                "LOGS2ECA_COUNT",
                "LOGS2ECA_MATCH_TIME",
                "LOGS2ECA_KEY",
                "LOGS2ECA_JOURNAL_UNIT",
                "LOGS2ECA_MATCH_LINE",
                "LOGS2ECA_GROUP_0",
                "LOGS2ECA_GROUP_user"
            ]
        );
        assert_eq!(env[1].1, "4");
        assert_eq!(env[3].1, "2025-12-02T03:04:05Z");
    }

    /// The errors of a command that cannot be executed are the ones
    /// `Command::spawn` gives (std's spawn is the oracle), and no child is
    /// left behind.
    #[test]
    fn exec_failures_read_as_with_std_command() {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8], mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let cases = [
            dir.path().join("missing"),
            file("not-executable", b"#!/bin/sh\n", 0o644),
            file("no-format", b"\x7fELF\x00garbage", 0o755),
            file("bad-interpreter", b"#!/nonexistent/sh\n", 0o755),
            dir.path().to_owned(),
        ];
        let mut spawner = OsSpawner::default();
        for program in cases {
            let command = CommandLine {
                program: program.clone(),
                argv: vec!["prog".to_owned(), "arg".to_owned()],
            };
            let ours = spawner
                .spawn(&command, &[("LOGS2ECA_COUNT".to_owned(), "1".into())])
                .unwrap_err();
            let std = std::process::Command::new(&program)
                .arg0("prog")
                .arg("arg")
                .stdin(std::process::Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_err();
            assert_eq!(ours.to_string(), std.to_string(), "{}", program.display());
            assert_eq!(ours.kind(), std.kind());
        }
        let with_nul = CommandLine {
            program: "/bin/true".into(),
            argv: vec!["true".to_owned(), "a\0b".to_owned()],
        };
        let ours = spawner.spawn(&with_nul, &[]).unwrap_err();
        let std = std::process::Command::new("/bin/true")
            .arg("a\0b")
            .spawn()
            .unwrap_err();
        assert_eq!(ours.to_string(), std.to_string());
        // Each child that could not exec was reaped (this thread made them).
        let children = std::fs::read_to_string("/proc/thread-self/children").unwrap();
        assert_eq!(children.trim(), "", "children left");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_millis(12)), "12ms");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.50s");
    }
}
