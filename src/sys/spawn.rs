//! Starting a command without glibc's `posix_spawn`, which Rust's
//! `Command` uses: its child shares our memory until the `exec`, so it
//! first makes sure no handler of ours can run there, and does it for every
//! signal (about 120 `rt_sigaction` calls, while the loop waits: 0.04 ms
//! of a 0.11 ms spawn on a small virtual machine, see BENCHMARKS.md). Here
//! the child resets only the signals this process catches, which it knows.
//!
//! The child is made with `clone(CLONE_VM | CLONE_VFORK)` on a stack of its
//! own (never `vfork()` from Rust, which would share the caller's frames),
//! as glibc and musl do inside `posix_spawn`. Everything it uses (paths,
//! `argv`, `envp`, a copy of the signal mask) is built by the parent before
//! the clone; the child makes only system calls, in this order:
//!
//! 1. every caught signal back to `SIG_DFL` (a signal ignored stays
//!    ignored), and SIGPIPE to `SIG_DFL` as Rust's `Command` does (the Rust
//!    runtime ignores it in our process);
//! 2. `setpgid(0, 0)`: a process group of its own;
//! 3. `/dev/null` (opened by the parent) as standard input; standard output
//!    and error are ours;
//! 4. the signal mask the parent had, restored (all signals are blocked
//!    from before the clone until here, so no handler of ours runs in the
//!    child; glibc keeps its two internal signals unblockable, and their
//!    handlers act only on a signal a thread of the process sent itself);
//! 5. `execve` of the path resolved at start: no `PATH` search here.
//!
//! The libc functions it calls are thin wrappers of one system call each,
//! and are bound when the program loads (Rust links with `-z now`), so the
//! child never enters the dynamic linker. The other threads of the process
//! go on while the child runs; it touches nothing of theirs.
//!
//! If a step fails, the child stores its `errno` where the parent reads it
//! and exits with 127; the parent (suspended by `CLONE_VFORK` until the
//! child has called `execve` successfully or exited) reaps it and returns
//! the same error `Command::spawn` would have. Through memory rather than
//! a close-on-exec pipe, as glibc does: `CLONE_VFORK` orders the child's
//! store before the parent's load, and a pipe would cost four more system
//! calls per command and two descriptors that can run out.

use std::ffi::{CStr, CString, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals this process has handlers for, which the child puts back to
/// `SIG_DFL` before it unblocks signals: the daemon's (`signals.rs`),
/// SIGBUS (`mapped.rs`, and the Rust runtime's stack-overflow handler, with
/// SIGSEGV).
pub(crate) fn caught_signals() -> impl Iterator<Item = libc::c_int> {
    crate::signals::CAUGHT
        .into_iter()
        .chain([libc::SIGBUS, libc::SIGSEGV])
}

/// The most caught signals the child is told about.
const MAX_CAUGHT: usize = 8;
const _: () = assert!(crate::signals::CAUGHT.len() + 2 <= MAX_CAUGHT);

/// Bytes of the child's stack: it makes a few system calls through libc's
/// wrappers and calls nothing else. Far more than it uses; untouched pages
/// cost nothing.
const STACK_SIZE: usize = 64 << 10;

/// The memory the child runs on between the clone and the exec: mapped
/// once, with a page below it that faults (so that an overflow kills the
/// child instead of writing over our memory), and used by one spawn at a
/// time (`&mut`).
#[derive(Debug)]
pub(crate) struct ChildStack {
    /// The whole mapping, the guard page first.
    base: *mut c_void,
    len: usize,
}

impl ChildStack {
    pub(crate) fn new() -> io::Result<Self> {
        let page = super::page_size();
        let len = STACK_SIZE + page;
        // SAFETY: a new private anonymous mapping; no pointer of ours is
        // passed and nothing else refers to the memory returned.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the first page of the mapping just made, which nothing
        // uses: it becomes the guard page.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address: stacks grow down on every Linux target Rust
    /// supports. Page-aligned, so aligned as every ABI asks.
    fn top(&mut self) -> *mut c_void {
        self.base.wrapping_byte_add(self.len)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`; no child runs on it
        // (the parent waits in `spawn` until the child is done with it).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What the child reads (and, for `error`, writes): built by the parent,
/// which stays suspended while the child runs, so none of it changes or is
/// freed under the child.
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    stdin: libc::c_int,
    caught: [libc::c_int; MAX_CAUGHT],
    caught_len: usize,
    /// The parent's signal mask before it blocked every signal.
    mask: libc::sigset_t,
    default: libc::sigaction,
    ignore: libc::sigaction,
    /// The `errno` of the step that failed; 0 if none did.
    error: AtomicI32,
}

/// Starts `program` with `argv` and `envp` (each `NAME=value`), `stdin` as
/// its standard input and our standard output and error, in a new process
/// group whose id is the returned pid. The error is the one of the step that
/// failed, as `Command::spawn` reports it (`ENOENT`, `EACCES`, `ENOEXEC`,
/// ...), or of the clone.
pub(crate) fn spawn(
    stack: &mut ChildStack,
    program: &CStr,
    argv: &[CString],
    envp: &[CString],
    stdin: BorrowedFd<'_>,
) -> io::Result<libc::pid_t> {
    let argv = pointers(argv);
    let envp = pointers(envp);
    let mut caught = [0; MAX_CAUGHT];
    let mut caught_len = 0;
    for signal in caught_signals() {
        caught[caught_len] = signal;
        caught_len += 1;
    }
    let mut args = ChildArgs {
        program: program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        stdin: stdin.as_raw_fd(),
        caught,
        caught_len,
        mask: empty_set(),
        default: disposition(libc::SIG_DFL),
        ignore: disposition(libc::SIG_IGN),
        error: AtomicI32::new(0),
    };
    let mut all = empty_set();
    // SAFETY: fills a sigset_t that is a live local.
    unsafe { libc::sigfillset(&mut all) };
    // SAFETY: both pointers are to live sigset_t values; this only changes
    // the calling thread's mask, restored below on every path.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut args.mask) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: `child` runs on `stack`, a mapping of ours that nothing else
    // uses while this thread is suspended (CLONE_VFORK suspends it until
    // the child has called execve successfully or exited, after which the
    // child no longer touches our memory). It reads `args`, `argv`, `envp`
    // and `program`, which live on this frame or in buffers this frame
    // owns until the end of the function, and makes only system calls
    // (async-signal-safe, lock-free libc wrappers), so the other threads of
    // this process cannot hold anything it needs. Every signal but glibc's
    // two internal ones is blocked until it has put the caught ones back
    // to SIG_DFL, so none of our handlers runs in it (glibc's handlers of
    // those two ignore any signal not sent by the process to itself with
    // tgkill, which cannot reach a process of its own like the child).
    let pid = unsafe { libc::clone(child, stack.top(), flags, (&raw mut args).cast::<c_void>()) };
    let clone_error = io::Error::last_os_error();
    // SAFETY: the mask saved above, a live local.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &args.mask, ptr::null_mut()) };
    if pid < 0 {
        return Err(clone_error);
    }
    match args.error.load(Ordering::SeqCst) {
        0 => Ok(pid),
        errno => {
            reap(pid);
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// The child between clone and exec. Only system calls: no allocation, no
/// lock, no panic; it never returns (exec or `_exit`).
extern "C" fn child(args: *mut c_void) -> libc::c_int {
    // SAFETY: `spawn` passes a pointer to its `ChildArgs`, alive and
    // unchanged while the parent is suspended.
    let args = unsafe { &*args.cast::<ChildArgs>() };
    // SAFETY: the pointers in `args` are valid as `spawn` says; the
    // functions called are async-signal-safe system call wrappers.
    let errno = unsafe { prepare_and_exec(args) };
    args.error.store(errno, Ordering::SeqCst);
    // SAFETY: ends the child without running anything of the parent's
    // (no atexit handlers, no buffers flushed).
    unsafe { libc::_exit(127) }
}

/// Steps 1 to 5 of the module comment; returns the `errno` of the step that
/// failed (execve returns only if it failed).
///
/// # Safety
///
/// `args` as built by `spawn`, in the child of `clone`.
unsafe fn prepare_and_exec(args: &ChildArgs) -> libc::c_int {
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    for &signal in &args.caught[..args.caught_len] {
        let mut old = args.default;
        // SAFETY: both pointers are to live sigaction values.
        if unsafe { libc::sigaction(signal, &args.default, &mut old) } != 0 {
            return errno();
        }
        if old.sa_sigaction == libc::SIG_IGN {
            // SAFETY: as above.
            unsafe { libc::sigaction(signal, &args.ignore, ptr::null_mut()) };
        }
    }
    // SAFETY: as above.
    if unsafe { libc::sigaction(libc::SIGPIPE, &args.default, ptr::null_mut()) } != 0 {
        return errno();
    }
    // SAFETY: takes no pointers.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        return errno();
    }
    // SAFETY: takes no pointers; `stdin` is open (the parent holds it) and
    // close-on-exec. Standard input already being that descriptor only
    // happens if fd 0 was closed when it was opened; then it must only lose
    // its close-on-exec flag.
    let rc = unsafe {
        if args.stdin == libc::STDIN_FILENO {
            libc::fcntl(libc::STDIN_FILENO, libc::F_SETFD, 0)
        } else {
            libc::dup2(args.stdin, libc::STDIN_FILENO)
        }
    };
    if rc < 0 {
        return errno();
    }
    // SAFETY: a pointer to a live sigset_t.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &args.mask, ptr::null_mut()) };
    if rc != 0 {
        return rc;
    }
    // SAFETY: NUL-terminated strings and NULL-terminated arrays of them,
    // built by the parent and alive while it waits.
    unsafe { libc::execve(args.program, args.argv, args.envp) };
    errno()
}

/// Waits for a child that has exited (or is about to) before it could
/// exec, so that it leaves no zombie.
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status through a pointer to a live
        // local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// A NULL-terminated array of the strings' pointers, valid while they are.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain([ptr::null()])
        .collect()
}

fn empty_set() -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid value of this plain C type.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a pointer to a live sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    set
}

/// `handler` (SIG_DFL or SIG_IGN) with no flags and an empty mask.
fn disposition(handler: libc::sighandler_t) -> libc::sigaction {
    // SAFETY: an all-zero sigaction is a valid value of this plain C struct.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    action.sa_mask = empty_set();
    action
}

/// The disposition of `signal` now: `None` if it is the default or
/// ignored, else the handler's address.
#[cfg(test)]
pub(crate) fn handler_of(signal: libc::c_int) -> Option<usize> {
    let mut old = disposition(libc::SIG_DFL);
    // SAFETY: a query only (no new action); `old` is a live local.
    let rc = unsafe { libc::sigaction(signal, ptr::null(), &mut old) };
    (rc == 0 && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN)
        .then_some(old.sa_sigaction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Every signal with a handler in this process, once the daemon's are
    /// installed, is one the child puts back to the default: otherwise a
    /// handler of ours could run in the child, on our memory, between the
    /// unblocking and the exec. Checked in a process of its own (this test
    /// binary run again for this test alone): the daemon's handlers, once
    /// installed, would swallow a Ctrl-C of the other tests.
    #[test]
    fn every_signal_we_catch_is_reset_in_the_child() {
        const INSIDE: &str = "LOGS2ECA_TEST_CAUGHT_SIGNALS";
        const NAME: &str = "sys::spawn::tests::every_signal_we_catch_is_reset_in_the_child";
        if std::env::var_os(INSIDE).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--test-threads=1"])
                .env(INSIDE, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        let _signals = crate::signals::Signals::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"line\n").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // Installs the SIGBUS handler.
        drop(crate::sys::Mapped::new(file.as_fd(), 0, 5).unwrap());

        let reset: Vec<_> = caught_signals().collect();
        assert!(reset.len() <= MAX_CAUGHT);
        let handled: Vec<_> = (1..=libc::SIGRTMAX())
            .filter(|&signal| handler_of(signal).is_some())
            .collect();
        assert!(handled.contains(&libc::SIGCHLD), "{handled:?}");
        let missed: Vec<_> = handled.iter().filter(|s| !reset.contains(s)).collect();
        assert!(missed.is_empty(), "handlers not reset: {missed:?}");
    }
}
