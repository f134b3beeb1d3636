//! A read-only view of part of a file, mapped instead of copied: a large
//! backlog (`--once`, catch-up after a restart) is searched where the page
//! cache holds it, as ripgrep does, without the copy `pread` makes.
//!
//! A mapped file that is truncated under the reader raises SIGBUS on the
//! first access past its new end, which would kill the process (logrotate's
//! copytruncate does exactly that, and may do it while a backlog is read).
//! So a handler replaces such a page with a page of zeros and notes it; the
//! reader asks [`Mapped::faulted`] and stops there, as at a truncation.
//! Zeros hold no `\n`: no line is made of them, except one whose bytes were
//! taken away between finding its end and matching it (see the caller).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The mapped range the handler may repair: only one mapping exists at a
/// time (the loop's thread makes it, reads it and drops it).
static START: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
static FAULTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();
/// The page size, read once outside the handler.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

pub(crate) struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
    /// Where the asked-for offset is in the mapping (it starts on a page).
    skip: usize,
}

impl Mapped {
    /// Maps `len` bytes of `fd` from `offset`. Not populated at once
    /// (`MAP_POPULATE`): the kernel's fault-around maps the cached pages a
    /// fault at a time as the scan reaches them, which measured cheaper in
    /// system time (4.4 against 7.6 ms for a 111 MB scan, BENCHMARKS.md).
    pub(crate) fn new(fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Self> {
        HANDLER.call_once(|| {
            PAGE.store(super::page_size(), Ordering::SeqCst);
            install_handler();
        });
        let page = PAGE.load(Ordering::SeqCst);
        let skip = (offset % page as u64) as usize;
        let start = offset - skip as u64;
        let len = len + skip;
        let start = libc::off_t::try_from(start).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: a new read-only, private mapping chosen by the kernel
        // (no address given), so it overlaps nothing of ours; `fd` is open
        // for the duration of the call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                fd.as_raw_fd(),
                start,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        FAULTED.store(false, Ordering::SeqCst);
        START.store(ptr as usize, Ordering::SeqCst);
        END.store(ptr as usize + len, Ordering::SeqCst);
        Ok(Mapped { ptr, len, skip })
    }

    /// The bytes from the asked-for offset.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes long, readable, and lives
        // until `self` is dropped, which the borrow outlives not. Its
        // pages never fault fatally (the handler gives a page the file
        // lost zeros instead). The bytes may change under the slice when
        // the file is written or truncated meanwhile: the scan reads bytes,
        // never relies on two reads agreeing, and is told of a truncation.
        unsafe {
            std::slice::from_raw_parts((self.ptr as *const u8).add(self.skip), self.len - self.skip)
        }
    }

    /// Did a page of the mapping read past the file's end (it was
    /// truncated)? Its bytes are zeros from there on.
    pub(crate) fn faulted(&self) -> bool {
        FAULTED.load(Ordering::SeqCst)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        START.store(0, Ordering::SeqCst);
        END.store(0, Ordering::SeqCst);
        // SAFETY: exactly the mapping made in `new`; no slice of it
        // outlives `self`.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

fn install_handler() {
    // SAFETY: a zeroed sigaction is a valid value; the handler has the
    // SA_SIGINFO signature, and only makes system calls that are safe in a
    // signal handler (mmap, sigaction) and touches atomics.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    let (start, end) = (START.load(Ordering::SeqCst), END.load(Ordering::SeqCst));
    if (start..end).contains(&addr) {
        let size = PAGE.load(Ordering::SeqCst);
        let page = addr & !(size - 1);
        // SAFETY: the page lies inside our own mapping (checked above),
        // which nothing else uses; it becomes a private page of zeros.
        let ptr = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                size,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if ptr != libc::MAP_FAILED {
            FAULTED.store(true, Ordering::SeqCst);
            return;
        }
    }
    // Not a page of ours: the default action (the access is made again on
    // return and ends the process, as it would have without this handler).
    // SAFETY: resets a disposition; sigaction is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A mapped file truncated under the reader: its pages past the new
    /// end read as zeros and the mapping says so, where the access would
    /// otherwise have killed the process with SIGBUS.
    #[test]
    fn a_file_truncated_under_its_mapping_reads_as_zeros_not_sigbus() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, vec![b'x'; 3 * 65536]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let map = Mapped::new(file.as_fd(), 100, 2 * 65536).unwrap();
        assert_eq!(map.bytes().len(), 2 * 65536);
        assert!(map.bytes().iter().all(|&b| b == b'x'));
        assert!(!map.faulted());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let sum: u64 = map.bytes().iter().map(|&b| u64::from(b)).sum();
        assert_eq!(sum, 0, "a page the file lost reads as zeros");
        assert!(map.faulted());
        drop(map);
        // A new mapping starts without the fault.
        std::fs::write(&path, b"line\n").unwrap();
        let map = Mapped::new(file.as_fd(), 0, 5).unwrap();
        assert_eq!(map.bytes(), b"line\n");
        assert!(!map.faulted());
    }
}
