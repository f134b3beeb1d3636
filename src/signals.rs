//! Signals as readable bytes: the handlers (signal-hook's) only write to a
//! socket pair, and the loop polls its read end next to the inotify
//! descriptor. A signal wakes the loop directly, with no thread between.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

/// The signals the daemon catches; a command starts with each back at its
/// default (see `sys::spawn`).
pub(crate) const CAUGHT: [i32; 4] = [SIGTERM, SIGINT, SIGHUP, SIGCHLD];

pub struct Signals {
    delivery: SignalDelivery<UnixStream, SignalOnly>,
}

impl Signals {
    /// Catches SIGTERM, SIGINT, SIGHUP and SIGCHLD from now on, also if
    /// the process started with them blocked (a parent that blocked them
    /// before exec): they are unblocked once caught, so that one pending
    /// since before reaches the handler, not the default action.
    pub fn new() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, CAUGHT)?;
        let blocked = crate::sys::unblock_signals(&CAUGHT)?;
        if !blocked.is_empty() {
            log::debug!("signal(s) {blocked:?} were blocked at start: unblocked");
        }
        Ok(Signals { delivery })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.delivery.get_read().as_fd()
    }

    /// The signals received since the last call, each once; never blocks.
    pub fn pending(&mut self) -> impl Iterator<Item = i32> + '_ {
        self.delivery.pending()
    }
}
