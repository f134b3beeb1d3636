//! Writing the state file off the event loop. A save is a write, two
//! fsyncs and a rename: milliseconds on a good disk, and unbounded on a
//! stalled one. The loop only captures the state (a few reads of the
//! open files) and hands it over; a thread of its own writes it, so that
//! neither a trigger that arrives meanwhile nor a signal waits for the
//! disk. Only the latest state matters: one handed over while a write is
//! under way replaces the one that waited.
//!
//! The end of a run waits for the last write, once, for at most
//! [`FINAL_SAVE_PATIENCE`], and less if asked to hurry (a second SIGTERM):
//! a stalled disk (a hung NFS server, `fsfreeze`) can delay a stop by that
//! much and no more.

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
    /// Writes `state`; returns the size of what it wrote.
    fn save(&mut self, state: &State) -> u64;
}

impl Store for StateFile {
    fn save(&mut self, state: &State) -> u64 {
        // A failure is logged by the store itself.
        let _ = StateFile::save(self, state);
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
    /// Asked to hurry while waiting.
    Hurried,
}

#[derive(Default)]
struct Slot {
    next: Option<State>,
    busy: bool,
    closing: bool,
    /// The size of the last document written.
    last_len: u64,
}

pub struct Saver {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    /// A wait for the last save already ended without it: the end of the
    /// run does not wait a second time.
    stalled: bool,
}

impl Saver {
    /// Starts the thread that owns `file` (and with it the lock).
    pub fn start(file: impl Store) -> std::io::Result<Self> {
        let shared = Arc::new((Mutex::new(Slot::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("state".into())
            // Serialising and writing the state is shallow: a small stack,
            // not the default 2 MiB.
            .stack_size(256 << 10)
            .spawn(move || write_loop(file, &theirs))?;
        Ok(Saver {
            shared,
            thread: Some(thread),
            stalled: false,
        })
    }

    /// Hands `state` over to be written (the logging of a failure is the
    /// writer's).
    pub fn submit(&self, state: State) {
        let (slot, wake) = &*self.shared;
        lock(slot).next = Some(state);
        wake.notify_all();
    }

    /// The size of the last document written, 0 before the first.
    pub fn last_len(&self) -> u64 {
        lock(&self.shared.0).last_len
    }

    /// Waits until what was handed over is written, for `patience` at
    /// most, for [`HURRY_FLOOR`] at most once `hurry` is set, and not at
    /// all once an earlier wait found the disk stalled.
    pub fn wait(&mut self, patience: Duration, hurry: &AtomicBool) -> Flushed {
        let (slot, wake) = &*self.shared;
        let started = Instant::now();
        let deadline = started + patience;
        let mut guard = lock(slot);
        while guard.next.is_some() || guard.busy {
            if self.stalled {
                return Flushed::GaveUp;
            }
            if hurry.load(Ordering::Relaxed) && started.elapsed() >= HURRY_FLOOR {
                log::warn!("the state file is still being written: not waiting for it");
                self.stalled = true;
                return Flushed::Hurried;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!("the state file is still being written: not waiting any longer");
                self.stalled = true;
                return Flushed::GaveUp;
            }
            guard = match wake.wait_timeout(guard, left.min(HURRY_CHECK)) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        Flushed::Written
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.wait(FINAL_SAVE_PATIENCE, &AtomicBool::new(false));
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

fn write_loop(mut file: impl Store, shared: &(Mutex<Slot>, Condvar)) {
    let (slot, wake) = shared;
    loop {
        let state = {
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
        let len = file.save(&state);
        let mut guard = lock(slot);
        guard.busy = false;
        guard.last_len = len;
        drop(guard);
        wake.notify_all();
    }
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
        fn save(&mut self, _state: &State) -> u64 {
            let _ = self.0.recv();
            0
        }
    }

    fn state() -> State {
        State::new(Path::new("/var/log/app.log"), WallTime::from_unix_ms(0))
    }

    /// A stalled disk delays the end of a run once, by the patience, not
    /// once per wait (D15): the wait at drop does not wait again.
    #[test]
    fn a_stalled_disk_is_waited_for_once() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state());
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_millis(30), &calm),
            Flushed::GaveUp
        );
        // Any later wait, whatever its patience, returns at once.
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &calm),
            Flushed::GaveUp
        );
        drop(saver); // would hang for FINAL_SAVE_PATIENCE if it waited again
        let _ = release.send(());
    }

    /// Asked to hurry (a second SIGTERM) while waiting on a stalled disk,
    /// the wait ends without its patience running out.
    #[test]
    fn a_wait_for_a_stalled_disk_ends_when_asked_to_hurry() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state());
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

    /// A disk that works: the wait returns once the state is written.
    #[test]
    fn a_working_disk_is_waited_for_until_written() {
        let (release, stalled) = mpsc::channel();
        let mut saver = Saver::start(Stalled(stalled)).unwrap();
        saver.submit(state());
        release.send(()).unwrap();
        let calm = AtomicBool::new(false);
        assert_eq!(
            saver.wait(Duration::from_secs(3600), &calm),
            Flushed::Written
        );
    }
}
