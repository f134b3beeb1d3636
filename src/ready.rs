//! Which descriptors are ready to be read: poll(2), the one place the
//! daemon waits, and the check that keeps a read of standard input from
//! blocking.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// poll(2) on `fds` for reading, at most `timeout` (`None`: until one is
/// ready); which of them are ready. A hang-up or an error counts as ready:
/// the read that follows says which. A signal that interrupts the wait is
/// delivered through the signal pipe.
pub fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up, so that a deadline is never woken up for too early.
    let millis = timeout.map_or(-1, |t| {
        let ms = t.as_nanos().div_ceil(1_000_000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    });
    // SAFETY: `pollfds` is a valid array of `pollfd` of the length passed,
    // and its descriptors are borrowed for the duration of the call.
    let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, millis) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(pollfds.iter().map(|p| p.revents != 0).collect())
}

/// Can `fd` be read now without blocking?
pub fn readable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(poll(&[fd], Some(Duration::ZERO))?[0])
}
