//! Writing the state file off the event loop. A save is a write, two
//! fsyncs and a rename: milliseconds on a good disk, and unbounded on a
//! stalled one. The loop only captures the state (a few reads of the
//! open files) and hands it over; a thread of its own writes it, so that
//! neither a trigger that arrives meanwhile nor a signal waits for the
//! disk. Only the latest state matters: one handed over while a write is
//! under way replaces the one that waited.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checkpoint::state::{State, StateFile};

/// How long the end of a run waits for the last save: long enough for any
/// disk that works, short enough that a stalled one cannot keep a stop
/// from finishing.
const FINAL_SAVE_PATIENCE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Slot {
    next: Option<State>,
    busy: bool,
    closing: bool,
}

pub struct Saver {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Saver {
    /// Starts the thread that owns `file` (and with it the lock).
    pub fn start(file: StateFile) -> std::io::Result<Self> {
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
        })
    }

    /// Hands `state` over to be written (the logging of a failure is the
    /// writer's).
    pub fn submit(&self, state: State) {
        let (slot, wake) = &*self.shared;
        lock(slot).next = Some(state);
        wake.notify_all();
    }

    /// Waits until what was handed over is written, at most a few seconds.
    pub fn wait(&self) {
        let (slot, wake) = &*self.shared;
        let deadline = Instant::now() + FINAL_SAVE_PATIENCE;
        let mut guard = lock(slot);
        while guard.next.is_some() || guard.busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!("the state file is still being written: not waiting any longer");
                return;
            }
            guard = match wake.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.wait();
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

fn write_loop(mut file: StateFile, shared: &(Mutex<Slot>, Condvar)) {
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
        file.save(&state);
        lock(slot).busy = false;
        wake.notify_all();
    }
}

/// The slot's lock; a panic elsewhere while holding it leaves data that is
/// still whole (an option and two flags), so a poisoned lock is used as is.
fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
