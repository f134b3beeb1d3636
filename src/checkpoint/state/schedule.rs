//! When to write the state while following: at most once a second while
//! reading advances, and never while idle, so that a busy log costs one
//! small write a second and an idle daemon sets no timer at all. The saves
//! the daemon forces (after a spawn, at a rotation, at shutdown) reset the
//! interval too. The clock is a parameter, so this is tested without
//! sleeping.

use std::time::{Duration, Instant};

/// The shortest time between two saves caused by reading.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// The write rate the saves may cost on average, whatever the log holds:
/// after a save of N bytes the next waits N / MAX_SAVE_RATE (a 7 MB state
/// of 10,000 keys is saved every 7 s, a 2 KB one every 2 ms at most).
/// Only the saves that cannot wait (a rotation, the last) go beyond it.
pub const MAX_SAVE_RATE: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaveNeed {
    /// What is on disk is current.
    Clean,
    /// Something to save, at `at` at the latest.
    Due { at: Instant },
}

#[derive(Debug, Clone)]
pub struct SaveSchedule {
    interval: Duration,
    last: Option<Instant>,
    pending: SaveNeed,
    /// How long after the last save the next may come: the last one's
    /// size at [`MAX_SAVE_RATE`].
    gap: Duration,
}

impl SaveSchedule {
    pub fn new(interval: Duration) -> Self {
        SaveSchedule {
            interval,
            last: None,
            pending: SaveNeed::Clean,
            gap: Duration::ZERO,
        }
    }

    /// Reading advanced at `now`: the state on disk is behind.
    pub fn dirty(&mut self, now: Instant) {
        if let SaveNeed::Clean = self.pending {
            let at = self
                .last
                .map_or(now, |last| (last + self.interval).max(now));
            self.pending = SaveNeed::Due { at };
        }
    }

    /// Something must be saved by `at` at the latest (after a spawn),
    /// whatever the interval says.
    pub fn due_by(&mut self, at: Instant) {
        self.pending = match self.pending {
            SaveNeed::Due { at: due } => SaveNeed::Due { at: due.min(at) },
            SaveNeed::Clean => SaveNeed::Due { at },
        };
    }

    /// When to save next; `None` while there is nothing to save.
    pub fn deadline(&self) -> Option<Instant> {
        match self.pending {
            SaveNeed::Due { at } => Some(match self.last {
                Some(last) => at.max(last + self.gap),
                None => at,
            }),
            SaveNeed::Clean => None,
        }
    }

    /// The last save wrote `bytes`: the next waits for them to be paid
    /// for at [`MAX_SAVE_RATE`].
    pub fn last_size(&mut self, bytes: u64) {
        self.gap = Duration::from_secs_f64(bytes as f64 / MAX_SAVE_RATE as f64);
    }

    /// Is a save due at `now`?
    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|at| at <= now)
    }

    /// A save (due or forced) succeeded at `now`.
    pub fn saved(&mut self, now: Instant) {
        self.last = Some(now);
        self.pending = SaveNeed::Clean;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_due_by_a_moment_comes_then_even_within_the_interval() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.saved(t0);
        s.dirty(at(t0, 10));
        assert_eq!(s.deadline(), Some(at(t0, 1_000)));
        s.due_by(at(t0, 30));
        assert_eq!(s.deadline(), Some(at(t0, 30)));
        s.due_by(at(t0, 500));
        assert_eq!(s.deadline(), Some(at(t0, 30)), "the earlier wins");
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn idle_sets_no_timer() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        assert_eq!(s.deadline(), None);
        assert!(!s.is_due(at(t0, 10_000)));
        s.dirty(t0);
        s.saved(t0);
        assert_eq!(s.deadline(), None, "saved: nothing pending");
    }

    #[test]
    fn the_first_advance_after_idle_saves_at_once() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.dirty(t0);
        assert_eq!(s.deadline(), Some(t0));
        s.saved(t0);
        s.dirty(at(t0, 5_000));
        assert_eq!(
            s.deadline(),
            Some(at(t0, 5_000)),
            "long after the last save"
        );
    }

    #[test]
    fn a_steady_advance_saves_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.dirty(t0);
        s.saved(t0);
        let mut saves = vec![];
        for ms in (10..3_000).step_by(10) {
            let now = at(t0, ms);
            s.dirty(now);
            if s.is_due(now) {
                saves.push(ms);
                s.saved(now);
            }
        }
        assert_eq!(saves, [1_000, 2_000]);
    }

    #[test]
    fn more_advances_do_not_push_the_deadline_back() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.saved(t0);
        s.dirty(at(t0, 100));
        s.dirty(at(t0, 900));
        assert_eq!(s.deadline(), Some(at(t0, 1_000)));
    }

    #[test]
    fn a_forced_save_resets_the_interval() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.saved(t0);
        s.dirty(at(t0, 100));
        s.saved(at(t0, 500)); // after a spawn
        assert_eq!(s.deadline(), None);
        s.dirty(at(t0, 600));
        assert_eq!(s.deadline(), Some(at(t0, 1_500)));
    }

    /// D9: the size of the state bounds how often it is written, so that a
    /// log that fills the key table cannot make the saves cost more than
    /// MAX_SAVE_RATE; a small state is not held back.
    #[test]
    fn a_large_state_is_saved_less_often() {
        let t0 = Instant::now();
        let mut s = SaveSchedule::new(SAVE_INTERVAL);
        s.saved(t0);
        s.last_size(7 * MAX_SAVE_RATE); // 7 MiB: 7 s of the budget
        s.due_by(at(t0, 2)); // a spawn
        assert_eq!(s.deadline(), Some(at(t0, 7_000)));
        let mut saves = vec![];
        for ms in (10..30_000).step_by(10) {
            let now = at(t0, ms);
            s.dirty(now);
            s.due_by(now + Duration::from_millis(2));
            if s.is_due(now) {
                saves.push(ms);
                s.saved(now);
            }
        }
        assert_eq!(saves, [7_000, 14_000, 21_000, 28_000]);
        // 2 KiB: 2 ms, no later than a spawn's save anyway.
        s.last_size(2 << 10);
        s.saved(t0);
        s.due_by(at(t0, 2));
        assert_eq!(s.deadline(), Some(at(t0, 2)));
    }
}
