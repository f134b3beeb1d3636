//! A [`Spawner`] without processes, for unit tests of the timing logic
//! (timeouts, the stop sequence, the loop): it records what was started and
//! signalled, and its children end when a test says so or when a signal
//! would end them.

use std::cell::RefCell;
use std::ffi::OsString;
use std::rc::Rc;
use std::time::Duration;

use super::{CommandLine, Spawner};

/// What the fake's children did; shared between the test and the runner.
#[derive(Debug, Default)]
pub(crate) struct Processes {
    next_pid: libc::pid_t,
    /// Every start: the pid and the environment it was given.
    pub spawned: Vec<(libc::pid_t, Vec<(String, OsString)>)>,
    /// Every signal sent: to which group, which signal.
    pub signals: Vec<(libc::pid_t, libc::c_int)>,
    /// Started and not exited.
    alive: Vec<libc::pid_t>,
    /// Exited and not reaped yet: pid and raw wait status.
    exited: Vec<(libc::pid_t, libc::c_int)>,
    /// The children ignore SIGTERM (only SIGKILL ends them).
    pub ignore_term: bool,
    /// The next this many spawns fail (as a program gone missing would).
    pub failing_spawns: usize,
}

impl Processes {
    /// `pid` exits with `code` (a zombie until reaped).
    pub fn exit(&mut self, pid: libc::pid_t, code: i32) {
        self.end(pid, (code & 0xff) << 8);
    }

    /// `pid` is killed by `signal` from outside (not through the runner).
    pub fn kill(&mut self, pid: libc::pid_t, signal: libc::c_int) {
        self.end(pid, signal);
    }

    /// The `LOGS2ECA_MATCH_LINE` each start was given, in order.
    pub fn lines(&self) -> Vec<String> {
        self.spawned
            .iter()
            .map(|(_, env)| {
                env.iter()
                    .find(|(name, _)| name == "LOGS2ECA_MATCH_LINE")
                    .map(|(_, value)| value.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The signals sent so far, as (group, signal).
    pub fn signalled(&self) -> &[(libc::pid_t, libc::c_int)] {
        &self.signals
    }

    fn end(&mut self, pid: libc::pid_t, status: libc::c_int) {
        if let Some(at) = self.alive.iter().position(|&p| p == pid) {
            self.alive.swap_remove(at);
            self.exited.push((pid, status));
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FakeSpawner(pub Rc<RefCell<Processes>>);

impl FakeSpawner {
    pub fn processes(&self) -> std::cell::RefMut<'_, Processes> {
        self.0.borrow_mut()
    }
}

impl Spawner for FakeSpawner {
    fn spawn(
        &mut self,
        _command: &CommandLine,
        env: &[(String, OsString)],
    ) -> std::io::Result<libc::pid_t> {
        let mut p = self.0.borrow_mut();
        if p.failing_spawns > 0 {
            p.failing_spawns -= 1;
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        p.next_pid += 1;
        let pid = 1000 + p.next_pid;
        p.spawned.push((pid, env.to_vec()));
        p.alive.push(pid);
        Ok(pid)
    }

    fn signal_group(&mut self, pgid: libc::pid_t, signal: libc::c_int) {
        let mut p = self.0.borrow_mut();
        p.signals.push((pgid, signal));
        if signal == libc::SIGKILL || (signal == libc::SIGTERM && !p.ignore_term) {
            // A raw wait status of a death by signal is the signal number.
            p.end(pgid, signal);
        }
    }

    fn has_exited(&mut self, pid: libc::pid_t) -> bool {
        self.0.borrow().exited.iter().any(|&(p, _)| p == pid)
    }

    fn try_reap(&mut self, pid: libc::pid_t) -> Option<(libc::pid_t, libc::c_int)> {
        let mut p = self.0.borrow_mut();
        let at = p.exited.iter().position(|&(p, _)| p == pid)?;
        Some(p.exited.remove(at))
    }

    fn pause(&mut self, _how_long: Duration) {}
}
