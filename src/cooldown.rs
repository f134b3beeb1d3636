//! The rule that keeps one incident from firing a hundred restarts.
//!
//! A match triggers only when no command is running and the last one exited
//! at least `wait` ago. Other matches are suppressed: counted, reported once
//! when the cooldown ends, and handed to the next run. The clock is a
//! parameter (`now`), so the rule is tested without sleeping, and a timer is
//! only needed while there is a count to report: idle stays idle.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Running,
    Cooling { until: Instant },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the command; `suppressed` matches were held back since the last run.
    Run {
        suppressed: u64,
    },
    Suppress,
}

#[derive(Debug)]
pub struct Cooldown {
    wait: Duration,
    state: State,
    suppressed: u64,
}

impl Cooldown {
    pub fn new(wait: Duration) -> Self {
        Cooldown {
            wait,
            state: State::Idle,
            suppressed: 0,
        }
    }

    /// A line matched at `now`.
    pub fn try_trigger(&mut self, now: Instant) -> Decision {
        match self.state {
            State::Running => {}
            State::Cooling { until } if now < until => {}
            State::Idle | State::Cooling { .. } => {
                self.state = State::Running;
                return Decision::Run {
                    suppressed: std::mem::take(&mut self.suppressed),
                };
            }
        }
        self.suppressed += 1;
        Decision::Suppress
    }

    /// The command exited (or could not be started) at `now`. Returns the
    /// suppressed count to report if the cooldown is already over (`-w 0`).
    pub fn finished(&mut self, now: Instant) -> Option<u64> {
        self.state = State::Cooling {
            until: now + self.wait,
        };
        self.expire(now)
    }

    /// When `expire` has something to report; `None` while nothing was
    /// suppressed, so an idle daemon sets no timer.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Cooling { until } if self.suppressed > 0 => Some(until),
            _ => None,
        }
    }

    /// Ends the cooldown if it is over, returning the suppressed count to
    /// report (the count itself still goes to the next run).
    pub fn expire(&mut self, now: Instant) -> Option<u64> {
        match self.state {
            State::Cooling { until } if now >= until => {
                self.state = State::Idle;
                (self.suppressed > 0).then_some(self.suppressed)
            }
            _ => None,
        }
    }

    /// Matches suppressed since the last run.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(3);

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn the_first_match_runs_and_matches_during_the_run_are_counted() {
        let t0 = Instant::now();
        let mut c = Cooldown::new(WAIT);
        assert_eq!(c.try_trigger(t0), Decision::Run { suppressed: 0 });
        assert_eq!(c.try_trigger(at(t0, 10)), Decision::Suppress);
        assert_eq!(
            c.try_trigger(at(t0, 20_000)),
            Decision::Suppress,
            "still running"
        );
        assert_eq!(c.suppressed(), 2);
        assert_eq!(c.deadline(), None, "no cooldown before the command exits");
    }

    #[test]
    fn matches_during_the_wait_are_suppressed_and_reported_once_at_its_end() {
        let t0 = Instant::now();
        let mut c = Cooldown::new(WAIT);
        c.try_trigger(t0);
        assert_eq!(c.finished(at(t0, 1000)), None);
        assert_eq!(c.deadline(), None, "nothing to report: no timer");
        assert_eq!(c.try_trigger(at(t0, 1500)), Decision::Suppress);
        assert_eq!(c.try_trigger(at(t0, 3999)), Decision::Suppress);
        assert_eq!(c.deadline(), Some(at(t0, 4000)));
        assert_eq!(c.expire(at(t0, 3999)), None, "not yet");
        assert_eq!(c.expire(at(t0, 4000)), Some(2));
        assert_eq!(c.deadline(), None);
        assert_eq!(c.expire(at(t0, 5000)), None, "reported once");
        assert_eq!(c.try_trigger(at(t0, 6000)), Decision::Run { suppressed: 2 });
        assert_eq!(c.suppressed(), 0);
    }

    #[test]
    fn a_match_after_the_wait_runs_even_without_expire() {
        let t0 = Instant::now();
        let mut c = Cooldown::new(WAIT);
        c.try_trigger(t0);
        c.finished(at(t0, 100));
        assert_eq!(c.try_trigger(at(t0, 3100)), Decision::Run { suppressed: 0 });
    }

    #[test]
    fn wait_zero_triggers_whenever_no_command_runs() {
        let t0 = Instant::now();
        let mut c = Cooldown::new(Duration::ZERO);
        assert_eq!(c.try_trigger(t0), Decision::Run { suppressed: 0 });
        assert_eq!(c.try_trigger(t0), Decision::Suppress);
        assert_eq!(c.finished(at(t0, 5)), Some(1), "reported when the run ends");
        assert_eq!(c.try_trigger(at(t0, 5)), Decision::Run { suppressed: 1 });
        assert_eq!(c.finished(at(t0, 6)), None);
        assert_eq!(c.try_trigger(at(t0, 6)), Decision::Run { suppressed: 0 });
    }

    #[test]
    fn five_quick_matches_make_one_run_then_a_later_match_carries_four() {
        let t0 = Instant::now();
        let mut c = Cooldown::new(Duration::from_secs(1));
        let decisions: Vec<_> = (0..5).map(|i| c.try_trigger(at(t0, i))).collect();
        assert_eq!(decisions[0], Decision::Run { suppressed: 0 });
        assert!(decisions[1..].iter().all(|d| *d == Decision::Suppress));
        c.finished(at(t0, 50));
        assert_eq!(c.expire(at(t0, 1050)), Some(4));
        assert_eq!(c.try_trigger(at(t0, 2000)), Decision::Run { suppressed: 4 });
    }
}
