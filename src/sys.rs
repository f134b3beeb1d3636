//! Every call into the C library that Rust cannot check: the one place
//! where `unsafe` is allowed (the crate root denies it everywhere else).
//!
//! Each function is a safe wrapper whose `SAFETY` comment says why the
//! call cannot break memory safety: which pointers it is given, and why
//! they are valid for as long as the call runs. What the wrappers return is
//! plain data (`io::Result`, a bool, a number), so the callers need no
//! knowledge of C conventions such as `-1` and `errno`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// poll(2) on `fds` for reading, at most `timeout` (`None`: until one is
/// ready); which of them are ready. A hang-up or an error counts as ready:
/// the read that follows says which. A signal that interrupts the wait is
/// delivered through the signal pipe. The one place the daemon waits.
pub(crate) fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
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

/// Makes reads of `fd` return `WouldBlock` instead of waiting: for the
/// ends of pipes that only this process holds (journalctl's output), never
/// for a descriptor shared with others (standard input).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL on a descriptor the borrow keeps open takes no
    // pointer and changes nothing.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; F_SETFL only changes the open file's status flags.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Can `fd` be read now without blocking? The check that keeps a read of
/// standard input from blocking.
pub(crate) fn readable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(poll(&[fd], Some(Duration::ZERO))?[0])
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares
/// `MONOTONIC_USEC=` with.
pub(crate) fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec through the pointer,
    // which points at a live local; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1000
}

/// waitpid(2) with `WNOHANG` for `pid`: `Some((pid, status))` for a child
/// reaped, `None` if it has not exited (or there is no such child).
pub(crate) fn try_reap(pid: libc::pid_t) -> Option<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    // SAFETY: waitpid only writes the status through the pointer, which
    // points at a live local.
    let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (reaped > 0).then_some((reaped, status))
}

/// An exited child, if any, without reaping it (`waitid(P_ALL)` with
/// `WNOWAIT`): the kernel shows one at a time, the same until it is reaped.
pub(crate) fn exited_child() -> Option<libc::pid_t> {
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid only writes the siginfo through the pointer, which
    // points at a live local; P_ALL ignores the id.
    let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
    // SAFETY: waitid succeeded with WEXITED, so the kernel filled in the
    // child fields of the union that si_pid reads (zero when no child has
    // exited, from the zeroed value: WNOHANG).
    let pid = if rc == 0 { unsafe { info.si_pid() } } else { 0 };
    (pid > 0).then_some(pid)
}

/// Has `pid` exited? Asked without reaping it, so that a zombie leader
/// keeps pinning its process group id.
pub(crate) fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid only writes the siginfo through the pointer, which
    // points at a live local.
    let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    // SAFETY: waitid succeeded with WEXITED, so the kernel filled in the
    // child fields of the union that si_pid reads (it is zero otherwise,
    // from the zeroed value).
    rc == 0 && unsafe { info.si_pid() } == pid
}

/// Sends `signal` to the process group `pgid`. An error can only mean the
/// group is already empty (ESRCH), which is what the caller wanted.
pub(crate) fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes no pointers; a negative pid names a group, and
    // `pgid` is one of our children's, pinned while its leader is unreaped.
    unsafe { libc::kill(-pgid, signal) };
}

/// `ARG_MAX`, the kernel's limit on arguments plus environment at exec;
/// `None` if it cannot be told.
pub(crate) fn arg_max() -> Option<usize> {
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let value = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    usize::try_from(value).ok()
}

/// lseek(2) with `SEEK_DATA`: the start of the next data at or after
/// `offset`; `None` where the file system cannot tell or there is no data
/// after `offset`. Moves the descriptor's file position, which callers
/// that read only with positioned reads do not use.
pub(crate) fn seek_data(fd: BorrowedFd<'_>, offset: u64) -> Option<u64> {
    let offset = libc::off_t::try_from(offset).ok()?;
    // SAFETY: lseek takes no pointers; the descriptor is borrowed, so open,
    // for the duration of the call.
    let data = unsafe { libc::lseek(fd.as_raw_fd(), offset, libc::SEEK_DATA) };
    u64::try_from(data).ok()
}

/// The `f_type` of the file system `path` is on (statfs(2)).
pub(crate) fn fs_type(path: &Path) -> io::Result<u64> {
    let c_path = c_path(path)?;
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `buf` is a valid statfs that
    // outlives the call.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut buf) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f_type(&buf))
}

/// The `f_type` of the file system the open file `fd` is on (fstatfs(2)).
pub(crate) fn fs_type_of(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is borrowed, so open, for the duration of the
    // call, and `buf` is a valid statfs that outlives it.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut buf) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f_type(&buf))
}

// `f_type`'s C type differs between architectures; the bits are what
// count.
#[allow(clippy::unnecessary_cast)]
fn f_type(buf: &libc::statfs) -> u64 {
    buf.f_type as u64
}

/// Unblocks `signals` in the calling thread's signal mask
/// (pthread_sigmask(3)), and returns those of them that were blocked. A
/// mask is inherited across exec: a parent that blocked a signal before
/// starting us would otherwise keep it from us for good.
pub(crate) fn unblock_signals(signals: &[i32]) -> io::Result<Vec<i32>> {
    // SAFETY: an all-zero sigset_t is a valid value of this plain C type,
    // and sigemptyset/sigaddset only write to the live local they are given.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a pointer to a live sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &signal in signals {
        // SAFETY: a pointer to a live sigset_t; an invalid signal number is
        // reported, not undefined.
        if unsafe { libc::sigaddset(&mut set, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: both pointers are to live sigset_t values; this changes only
    // the calling thread's mask.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, &mut old) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(signals
        .iter()
        .copied()
        // SAFETY: a pointer to a live sigset_t.
        .filter(|&signal| unsafe { libc::sigismember(&old, signal) } == 1)
        .collect())
}

/// access(2): may we (with our real ids) do `mode` (`libc::X_OK`,
/// `libc::W_OK`) to `path`?
pub(crate) fn access(path: &Path, mode: libc::c_int) -> io::Result<()> {
    let c_path = c_path(path)?;
    // SAFETY: access(2) reads a NUL-terminated path that outlives the call.
    if unsafe { libc::access(c_path.as_ptr(), mode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// flock(2) `LOCK_EX | LOCK_NB` on `fd`: `WouldBlock` if another open file
/// description holds the lock.
pub(crate) fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: flock takes no pointers; the descriptor is borrowed, so open,
    // for the duration of the call.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// openat(2) with `O_CLOEXEC` added, retried when a signal interrupts it:
/// `name` in the directory `dir` (`None`: the working directory).
pub(crate) fn open_at(
    dir: Option<BorrowedFd<'_>>,
    name: &Path,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let c_name = c_path(name)?;
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    loop {
        // SAFETY: openat reads a NUL-terminated string that outlives the
        // call; `dir` is a borrowed descriptor, so open during the call,
        // or AT_FDCWD. No mode is passed: `flags` never holds O_CREAT.
        let fd = unsafe { libc::openat(dir, c_name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: openat just returned this descriptor, owned by
            // nothing else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The target of the symbolic link that `link` (an `O_PATH | O_NOFOLLOW`
/// descriptor) is: readlinkat(2) with an empty path.
pub(crate) fn read_link_at(link: BorrowedFd<'_>) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: readlinkat writes at most `buf.len()` bytes into `buf`, which
    // outlives the call; the empty path (a static C string) names the
    // borrowed descriptor itself.
    let n = unsafe {
        libc::readlinkat(
            link.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    if n >= buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

/// Our effective user id.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no pointers, has no preconditions and cannot
    // fail.
    unsafe { libc::geteuid() }
}

/// glibc raises its mmap threshold each time a large block is freed, after
/// which the 1.25 MiB read buffers of rotated files come from the heap,
/// where `calloc` must zero them (making every page resident) and where
/// memory freed below a live block is never returned. A fixed threshold
/// keeps every read buffer a private mapping: untouched pages cost nothing,
/// and closing a rotated file gives its memory back to the system.
pub(crate) fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes no pointers and only changes an allocator
    // tunable; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

/// The size of a memory page.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Sets a variable of our own environment, as `--env-file` does before
/// the arguments are read again over it.
pub(crate) fn set_env_before_threads(name: &str, value: &str) {
    // SAFETY: only called while the settings are parsed, before the
    // logging and state threads (or any other) exist, so no thread can
    // read the environment at the same time.
    unsafe { std::env::set_var(name, value) };
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

mod mapped;
pub(crate) use mapped::Mapped;
mod resident;
pub(crate) use resident::release_clean_file_pages;
pub(crate) mod spawn;

/// Mounting, for the tests that need a small or a private file system.
#[cfg(test)]
pub(crate) mod mount {
    use std::ffi::CString;
    use std::io;
    use std::path::Path;

    /// Gives the calling thread its own mount namespace, with mounts that
    /// do not propagate back.
    pub(crate) fn private_namespace() -> io::Result<()> {
        // SAFETY: unshare(2) takes no pointers and changes only this
        // thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a valid NUL-terminated target; null source, type and data
        // are allowed for a propagation change.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Mounts a tmpfs of `size` (as mount(8) spells it: `64k`) at `target`,
    /// writable by its owner only (as a state directory must be).
    pub(crate) fn tmpfs(target: &Path, size: &str) -> io::Result<()> {
        let target = CString::new(target.as_os_str().as_encoded_bytes())?;
        let data = CString::new(format!("size={size},mode=0700"))?;
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
