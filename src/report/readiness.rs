//! The systemd notification protocol (`sd_notify`), as far as we use it.
//!
//! `READY=1` tells the service manager, and our tests, that the watch is in
//! place and the start offset fixed: from then on every appended line is
//! seen. Written here rather than taken from a crate because the protocol is
//! one datagram, and the crates at hand do not handle the abstract socket
//! names (`@name`) that some service managers and containers use.

use std::cell::Cell;
use std::ffi::OsString;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// A failure is logged once, not at every notification.
    warned: Cell<bool>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`; without it every notification is a no-op.
    pub fn from_env() -> Self {
        let Some(name) = std::env::var_os("NOTIFY_SOCKET").filter(|n| !n.is_empty()) else {
            return Notifier::default();
        };
        match connect(&name) {
            Ok(target) => Notifier {
                target: Some(target),
                warned: Cell::new(false),
            },
            Err(err) => {
                log::warn!("NOTIFY_SOCKET {}: {err}", name.to_string_lossy());
                Notifier::default()
            }
        }
    }

    /// Ready, with a one-line status for `systemctl status` (what is
    /// followed, or what is being waited for).
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}\n", one_line(status)));
    }

    /// A new one-line status, without a change of state.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}\n", one_line(status)));
    }

    /// Sent before a reload; newer systemd wants the monotonic time with it.
    pub fn reloading(&self) {
        let usec = crate::sys::monotonic_usec();
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}\n"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\n");
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target
            && let Err(err) = socket.send_to_addr(message.as_bytes(), addr)
            && !self.warned.replace(true)
        {
            log::warn!("cannot notify the service manager: {err} (not logged again)");
        }
    }
}

/// A status is one line of the notification: no control characters.
fn one_line(status: &str) -> String {
    status
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn connect(name: &OsString) -> io::Result<(UnixDatagram, SocketAddr)> {
    let bytes = name.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(name))?,
    };
    let socket = UnixDatagram::unbound()?;
    // A service manager that does not read its socket must not stop the
    // daemon: a full queue drops the notification instead of blocking.
    socket.set_nonblocking(true)?;
    Ok((socket, addr))
}
