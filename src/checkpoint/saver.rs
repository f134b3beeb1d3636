//! Writing the state file off the event loop. A save is a write, two
//! fsyncs and a rename: milliseconds on a good disk, and unbounded on a
//! stalled one. The loop only captures the state (a few reads of the
//! open files) and hands it over; a thread of its own writes it, so that
//! neither a trigger that arrives meanwhile nor a signal waits for the
//! disk. Only the latest state matters: one handed over while a write is
//! under way replaces the one that waited.
//!
//! The loop learns that a write is done through a pipe, and only when it
//! asked to (a start waits for the save of the spawn before it, see
//! `persist`): the thread writes a byte once the state it wrote is as new
//! as asked, so a save nobody waits for wakes nobody.
//!
//! A dry run's printed lines (with a state file) come with the state that
//! covers them, and this thread prints them after the state is on disk
//! under its temporary name and before the rename makes it the state: a
//! crash before the rename reads them again and prints them once, a crash
//! after it has printed them. Only a crash within the rename itself
//! prints them twice; none loses them.
//!
//! The end of a run waits for the last write, once, for at most
//! [`FINAL_SAVE_PATIENCE`] of the disk's time, and less if asked to hurry
//! (a second SIGTERM): a stalled disk (a hung NFS server, `fsfreeze`) can
//! delay a stop by that much and no more. The time the thread spends
//! printing is not the disk's: a reader of standard output that is slow
//! (a pager, a terminal stopped with Ctrl-S, `| (sleep 10; cat)`) holds
//! the end back as long as it holds the lines back, as it would hold grep
//! back, and only a hurry cuts that short. Giving up there would lose the
//! lines being printed and the state that covers them.

use std::io::{PipeReader, PipeWriter, Read as _, Write as _};
use std::os::fd::{AsFd as _, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checkpoint::state::{State, StateFile};

/// How long the end of a run waits for the last save: long enough for any
/// disk that works, short enough that a stalled one cannot keep a stop
/// from finishing.
pub const FINAL_SAVE_PATIENCE: Duration = Duration::from_secs(5);

/// How often a wait for the last save looks whether it should hurry.
const HURRY_CHECK: Duration = Duration::from_millis(20);

/// How long a wait asked to hurry still gives the write: a disk that works
/// writes in milliseconds, and the last state is worth that much.
const HURRY_FLOOR: Duration = Duration::from_millis(250);

/// Where states are written: the state file, or a fake in tests.
pub trait Store: Send + 'static {
    /// Writes `state`, calling `before_commit` (at most once) just before
    /// it becomes the saved state; returns the size of what it wrote.
    fn save(&mut self, state: &State, before_commit: &mut dyn FnMut()) -> u64;
}

impl Store for StateFile {
    fn save(&mut self, state: &State, before_commit: &mut dyn FnMut()) -> u64 {
        // A failure is logged by the store itself.
        let _ = StateFile::save_then(self, state, before_commit);
        self.last_len()
    }
}

/// How a wait for the last save ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything handed over is written.
    Written,
    /// The patience ran out: the disk is stalled.
    GaveUp,
    /// Asked to hurry while waiting on the disk.
    Hurried,
    /// Asked to hurry while the thread was printing (standard output's
    /// reader is slow): what is left to print stays with the thread, as
    /// the standard output is its until the write ends.
    HurriedPrinting,
}

#[derive(Default)]
struct Slot {
    /// The state to write next, with the generation (a number that grows
    /// with each state handed over) it was taken at.
    next: Option<(State, u64)>,
    busy: bool,
    closing: bool,
    /// The size of the last document written.
    last_len: u64,
    /// The generation of the last state the thread is done with (written,
    /// or failed to write: a failure is warned about, not waited on).
    written: u64,
    /// The loop waits for this generation to be written: a byte on the
    /// pipe when it is.
    wanted: Option<u64>,
    /// Printed lines, each batch with the generation of the state that
    /// covers it: printed just before that state (or a later one) is
    /// committed, and left here until then, so that a write that stalls
    /// can give them back.
    output: Vec<(u64, Vec<u8>)>,
    /// Standard output's reader has gone.
    output_closed: bool,
    /// Since when the thread is printing, while it is.
    printing_since: Option<Instant>,
    /// How long the thread has printed in all, not counting a print under
    /// way: a wait does not count it as the disk's.
    printed_for: Duration,
    /// How many writes the thread is done with (written or failed).
    completed: u64,
}

impl Slot {
    /// How long the thread has printed in all, up to `now`.
    fn printing_time(&self, now: Instant) -> Duration {
        self.printed_for
            + self
                .printing_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

pub struct Saver {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    /// Readable once a write the loop waits for is done.
    done: PipeReader,
    /// The thread is gone (it could only have panicked): nothing is waited
    /// for any more, and the pipe, at its end, is not polled.
    gone: bool,
    thread: Option<JoinHandle<()>>,
    /// A wait for the last save already ended without it, when the
    /// thread had completed this many writes: no wait waits again until it
    /// completes another (the disk is back).
    stalled: Option<u64>,
    /// The last wait was cut short by a hurry: the one at drop does not
    /// wait (for the disk, nor for a slow reader).
    hurried: bool,
}

impl Saver {
    /// Starts the thread that owns `file` (and with it the lock).
    pub fn start(file: impl Store) -> std::io::Result<Self> {
        let shared = Arc::new((Mutex::new(Slot::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let (done, tell) = std::io::pipe()?;
        let thread = std::thread::Builder::new()
            .name("state".into())
            // Serialising and writing the state is shallow: a small stack,
            // not the default 2 MiB.
            .stack_size(256 << 10)
            .spawn(move || write_loop(file, &theirs, tell))?;
        Ok(Saver {
            shared,
            done,
            gone: false,
            thread: Some(thread),
            stalled: None,
            hurried: false,
        })
    }

    /// Hands `state`, taken at `generation`, over to be written (the
    /// logging of a failure is the writer's), with the printed lines it
    /// covers (after those of a state it replaces).
    pub fn submit(&self, state: State, generation: u64, output: Vec<u8>) {
        let (slot, wake) = &*self.shared;
        let mut guard = lock(slot);
        guard.next = Some((state, generation));
        if !output.is_empty() {
            guard.output.push((generation, output));
        }
        drop(guard);
        wake.notify_all();
    }

    /// Has standard output's reader gone?
    pub fn output_closed(&self) -> bool {
        lock(&self.shared.0).output_closed
    }

    /// Printed lines handed over and not printed yet (a stalled disk at
    /// the end of a run): taken back, for the caller to print.
    pub fn take_output(&self) -> Vec<Vec<u8>> {
        let batches = std::mem::take(&mut lock(&self.shared.0).output);
        batches.into_iter().map(|(_, lines)| lines).collect()
    }

    /// The generation of the last state written (or that failed to be).
    pub fn written(&self) -> u64 {
        if self.gone {
            return u64::MAX;
        }
        lock(&self.shared.0).written
    }

    /// Asks for a byte on [`Saver::fd`] once the state of `generation` (or
    /// a later one) is written. `false`: it already is, and no byte comes.
    pub fn wake_when_written(&self, generation: u64) -> bool {
        let mut slot = lock(&self.shared.0);
        if self.gone || slot.written >= generation {
            return false;
        }
        slot.wanted = Some(generation);
        true
    }

    /// Readable when a write asked for by `wake_when_written` is done;
    /// `None` once the thread is gone.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.gone).then(|| self.done.as_fd())
    }

    /// Empties the pipe, once poll(2) said it is readable (one byte per
    /// request, so one read takes them all). Its end means the thread is
    /// gone.
    pub fn on_ready(&mut self) {
        let mut bytes = [0; 64];
        if let Ok(0) = self.done.read(&mut bytes) {
            self.gone = true;
        }
    }

    /// The size of the last document written, 0 before the first.
    pub fn last_len(&self) -> u64 {
        lock(&self.shared.0).last_len
    }

    /// Waits until what was handed over is written, for `patience` at
    /// most of the disk's time (the time spent printing is not counted),
    /// for [`HURRY_FLOOR`] at most once `hurry` is set, and not at all
    /// while an earlier wait's stall lasts.
    pub fn wait(&mut self, patience: Duration, hurry: &AtomicBool) -> Flushed {
        let (slot, wake) = &*self.shared;
        let started = Instant::now();
        let mut guard = lock(slot);
        let printed_before = guard.printing_time(started);
        while guard.next.is_some() || guard.busy {
            if self.gone {
                return Flushed::GaveUp;
            }
            if let Some(at) = self.stalled {
                if guard.completed == at {
                    return Flushed::GaveUp;
                }
                // The stalled write ended: the disk works again.
                self.stalled = None;
            }
            let now = Instant::now();
            let printing = guard.printing_since.is_some();
            if hurry.load(Ordering::Relaxed) && now.duration_since(started) >= HURRY_FLOOR {
                self.hurried = true;
                if printing {
                    log::warn!("standard output is not being read: not waiting for it");
                    return Flushed::HurriedPrinting;
                }
                log::warn!("the state file is still being written: not waiting for it");
                self.stalled = Some(guard.completed);
                return Flushed::Hurried;
            }
            let printed = guard.printing_time(now).saturating_sub(printed_before);
            let disk = now.duration_since(started).saturating_sub(printed);
            let left = patience.saturating_sub(disk);
            if left.is_zero() && !printing {
                log::warn!("the state file is still being written: not waiting any longer");
                self.stalled = Some(guard.completed);
                return Flushed::GaveUp;
            }
            let nap = if printing {
                HURRY_CHECK
            } else {
                left.min(HURRY_CHECK)
            };
            guard = match wake.wait_timeout(guard, nap) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        self.stalled = None;
        self.hurried = false;
        Flushed::Written
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        if !self.hurried {
            self.wait(FINAL_SAVE_PATIENCE, &AtomicBool::new(false));
        }
        let (slot, wake) = &*self.shared;
        lock(slot).closing = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.is_finished()
        {
            let _ = thread.join();
        }
    }
}

fn write_loop(mut file: impl Store, shared: &(Mutex<Slot>, Condvar), mut tell: PipeWriter) {
    let (slot, wake) = shared;
    loop {
        let (state, generation) = {
            let mut guard = lock(slot);
            loop {
                if let Some(state) = guard.next.take() {
                    guard.busy = true;
                    break state;
                }
                if guard.closing {
                    return;
                }
                guard = match wake.wait(guard) {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        };
        let mut closed = false;
        let mut print_covered = || {
            let lines: Vec<Vec<u8>> = {
                let mut guard = lock(slot);
                let covered = guard.output.partition_point(|&(g, _)| g <= generation);
                let lines: Vec<Vec<u8>> = guard
                    .output
                    .drain(..covered)
                    .map(|(_, lines)| lines)
                    .collect();
                if !lines.is_empty() {
                    guard.printing_since = Some(Instant::now());
                }
                lines
            };
            if lines.is_empty() {
                return;
            }
            closed |= print(&lines);
            let mut guard = lock(slot);
            if let Some(since) = guard.printing_since.take() {
                guard.printed_for += since.elapsed();
            }
        };
        let len = file.save(&state, &mut print_covered);
        // A write that failed before its end prints all the same: a
        // failing disk does not hold the output back.
        print_covered();
        let mut guard = lock(slot);
        guard.output_closed |= closed;
        guard.busy = false;
        guard.last_len = len;
        guard.written = generation;
        guard.completed += 1;
        let asked = guard.wanted.is_some_and(|wanted| generation >= wanted);
        if asked {
            guard.wanted = None;
        }
        drop(guard);
        wake.notify_all();
        if asked {
            // One byte per request: the pipe cannot fill.
            let _ = tell.write_all(&[1]);
        }
    }
}

/// Prints a dry run's lines on standard output (by this thread, or by the
/// loop for lines a stalled disk did not write); `true`: its reader has
/// gone.
pub fn print(output: &[Vec<u8>]) -> bool {
    // Nothing to print takes no lock: the writer thread may hold stdout's
    // while a slow reader blocks it.
    if output.is_empty() {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let written = output
        .iter()
        .try_for_each(|lines| out.write_all(lines))
        .and_then(|()| out.flush());
    written.is_err_and(|err| err.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The slot's lock; a panic elsewhere while holding it leaves data that is
/// still whole (an option and two flags), so a poisoned lock is used as is.
fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::mpsc;

    use super::*;
    use crate::checkpoint::state::WallTime;

    /// A disk that hangs until the test lets it go.
    struct Stalled(mpsc::Receiver<()>);

    impl Store for Stalled {
        fn save(&mut self, _state: &State, _before_commit: &mut dyn FnMut()) -> u64 {
            let _ = self.0.recv();
            0
        }
    }

    fn state() -> State {
        State::new(Path::new("/var/log/app.log"), WallTime::from_unix_ms(0))
    }

    /// A dry run's lines handed over with states that replace each other
    /// while a write is under way are all kept, in order; a stalled end
    /// takes them back (for the loop to print) rather than lose them.
    #[test]
    fn printed_lines_of_replaced_states_add_up_and_a_stall_gives_them_back() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state(), 1, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !lock(&saver.shared.0).busy {
            assert!(Instant::now() < deadline, "the writer never took the state");
            std::thread::yield_now();
        }
        saver.submit(state(), 2, b"n=2\n".to_vec());
        saver.submit(state(), 3, b"n=3\n".to_vec());
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_millis(30), &calm),
            Flushed::GaveUp
        );
        assert_eq!(saver.take_output().concat(), b"n=2\nn=3\n");
        assert!(saver.take_output().is_empty());
        drop(saver);
        let _ = release.send(());
    }

    /// A saver whose write is stalled until `release` is sent to, and
    /// which gave up waiting for it once.
    fn given_up_on_a_stalled_write() -> (Saver, mpsc::Sender<()>, AtomicBool) {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state(), 1, Vec::new());
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_millis(30), &calm),
            Flushed::GaveUp
        );
        (saver, release, calm)
    }

    /// A stalled disk delays the end of a run once, by the patience, not
    /// once per wait (D15): the wait at drop does not wait again.
    #[test]
    fn a_stalled_disk_is_waited_for_once() {
        let (mut saver, release, calm) = given_up_on_a_stalled_write();
        // Any later wait, whatever its patience, returns at once.
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &calm),
            Flushed::GaveUp
        );
        drop(saver); // would hang for FINAL_SAVE_PATIENCE if it waited again
        let _ = release.send(());
    }

    /// Once the stalled write ends, the disk is waited for again: a stall
    /// does not make every later wait give up (and the dry run's lines
    /// print before their state is written).
    #[test]
    fn a_stall_ends_with_the_write_it_waited_for() {
        let (mut saver, release, calm) = given_up_on_a_stalled_write();
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while saver.written() < 1 {
            assert!(Instant::now() < deadline, "the write never ended");
            std::thread::yield_now();
        }
        saver.submit(state(), 2, Vec::new());
        let waited = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| saver.wait(Duration::from_secs(3600), &calm));
            release.send(()).unwrap();
            waiting.join().unwrap()
        });
        assert_eq!(waited, Flushed::Written);
    }

    /// Asked to hurry (a second SIGTERM) while waiting on a stalled disk,
    /// the wait ends without its patience running out.
    #[test]
    fn a_wait_for_a_stalled_disk_ends_when_asked_to_hurry() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state(), 1, Vec::new());
        let hurry = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&hurry);
        let second_sigterm = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            flag.store(true, Ordering::Relaxed);
        });
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &hurry),
            Flushed::Hurried
        );
        second_sigterm.join().unwrap();
        drop(saver);
        let _ = release.send(());
    }

    /// The descriptor speaks once the generation asked for is written, and
    /// not for a write nobody asked about.
    #[test]
    fn the_descriptor_is_readable_once_the_generation_asked_for_is_written() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        let readable = |saver: &Saver, wait: Duration| {
            crate::sys::poll(&[saver.fd().unwrap()], Some(wait)).unwrap()[0]
        };
        saver.submit(state(), 3, Vec::new());
        release.send(()).unwrap();
        saver.wait(Duration::from_secs(3600), &AtomicBool::new(false));
        assert_eq!(saver.written(), 3);
        assert!(!readable(&saver, Duration::ZERO), "nobody asked");
        assert!(!saver.wake_when_written(3), "already written");
        assert!(saver.wake_when_written(5));
        saver.submit(state(), 4, Vec::new());
        release.send(()).unwrap();
        saver.wait(Duration::from_secs(3600), &AtomicBool::new(false));
        assert!(!readable(&saver, Duration::ZERO), "4 is not 5");
        saver.submit(state(), 6, Vec::new());
        release.send(()).unwrap();
        assert!(readable(&saver, Duration::from_secs(10)));
        saver.on_ready();
        assert!(!readable(&saver, Duration::ZERO), "read");
    }

    /// A store that panics.
    struct Broken;

    impl Store for Broken {
        fn save(&mut self, _state: &State, _before_commit: &mut dyn FnMut()) -> u64 {
            panic!("a bug in the store");
        }
    }

    /// Should the thread die, the pipe's end says so: it is polled no
    /// more (it would be readable forever) and nothing waits for a write.
    #[test]
    fn a_thread_that_died_holds_nothing_back() {
        let mut saver = Saver::start(Broken).unwrap();
        saver.submit(state(), 1, Vec::new());
        assert!(saver.wake_when_written(1));
        let fd = saver.fd().unwrap();
        assert!(crate::sys::poll(&[fd], Some(Duration::from_secs(10))).unwrap()[0]);
        saver.on_ready();
        assert!(saver.fd().is_none());
        assert_eq!(saver.written(), u64::MAX);
        assert!(!saver.wake_when_written(2));
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &calm),
            Flushed::GaveUp
        );
    }

    /// A disk that works: the wait returns once the state is written.
    #[test]
    fn a_working_disk_is_waited_for_until_written() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state(), 1, Vec::new());
        release.send(()).unwrap();
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &calm),
            Flushed::Written
        );
    }
}
