//! What follows a run: a retry after a failure (`--retry`), the undo after a
//! success (`--undo`), and a run that a stop interrupted, done again at the
//! next start. An action that was started is finished or run again, never
//! silently lost (SPEC §4).
//!
//! A run is a [`Job`]: which program (the command or its undo), for which
//! key, with the match's environment and the attempt's number. Jobs that
//! wait for their time sit in the [`Agenda`], at most one per key and kind
//! (one retry, one undo), ordered by when they fall due. All of it is plain
//! data with the clock as a parameter: unit-tested without a process or a
//! sleep, and saved in the state file as it is.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::time::{Duration, Instant};

/// The longest back-off between two attempts, whatever `--retry` and the
/// attempt's number make of it (the longest DURATION accepted).
pub const MAX_BACKOFF: Duration = Duration::from_secs(365 * 24 * 3600);

/// `--retry N/DURATION`: a failed run is tried again up to `times` more
/// times, after `first`, then twice that, four times...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub times: u32,
    pub first: Duration,
}

impl Retry {
    /// Whether a failure of attempt `attempt` (from 1) is tried again.
    pub fn allows(&self, attempt: u32) -> bool {
        attempt <= self.times
    }

    /// The back-off after attempt `attempt` (from 1) failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        2u32.checked_pow(attempt.saturating_sub(1))
            .and_then(|factor| self.first.checked_mul(factor))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }
}

/// Which program a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The command (`-c`).
    Do,
    /// Its undo (`--undo`).
    Undo,
}

impl Action {
    /// As the program sees it in `LOGS2ECA_ACTION`, and as the state keeps it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Do => "do",
            Action::Undo => "undo",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        match name {
            "do" => Some(Action::Do),
            "undo" => Some(Action::Undo),
            _ => None,
        }
    }
}

/// One run to do: the program, the key it is for, what it is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub action: Action,
    /// The key's value (empty without `--key`).
    pub key: Box<[u8]>,
    /// The match's variables (`LOGS2ECA_MATCH_LINE`...), as the command's
    /// first attempt got them.
    pub vars: Vec<(String, OsString)>,
    /// From 1; a run done again after a stop keeps its number.
    pub attempt: u32,
}

impl Job {
    /// The environment this run adds: the attempt and the action first
    /// (small, always there), then the match's variables.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env = Vec::with_capacity(self.vars.len() + 2);
        env.push(("LOGS2ECA_ACTION".to_owned(), self.action.name().into()));
        env.push((
            "LOGS2ECA_ATTEMPT".to_owned(),
            self.attempt.to_string().into(),
        ));
        env.extend(self.vars.iter().cloned());
        env
    }

    /// The same run, one attempt later.
    pub fn next_attempt(&self) -> Job {
        Job {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }
}

/// A job waiting in the agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub job: Job,
    pub due: Instant,
    /// An undo held back while its key's command runs again: a new
    /// trigger postponed it, and the run's end decides when it falls due.
    pub held: bool,
}

type Slot = (Action, Box<[u8]>);

/// The jobs waiting for their time, one per key and action.
#[derive(Debug, Default)]
pub struct Agenda {
    entries: HashMap<Slot, Pending>,
    /// The entries that are not held, by when they are due.
    by_due: BTreeSet<(Instant, Slot)>,
}

impl Agenda {
    /// Puts `job` on the agenda for `due`, replacing the one of the same
    /// key and action (there is never more than one).
    pub fn schedule(&mut self, job: Job, due: Instant) {
        let slot = (job.action, job.key.clone());
        self.take(job.action, &job.key);
        self.by_due.insert((due, slot.clone()));
        self.entries.insert(
            slot,
            Pending {
                job,
                due,
                held: false,
            },
        );
    }

    /// The pending job of `key` and `action`, if any.
    pub fn get(&self, action: Action, key: &[u8]) -> Option<&Pending> {
        self.entries.get(&(action, key.into()))
    }

    /// Holds the job back until `release` (its due time no longer counts).
    /// Returns whether there was one.
    pub fn hold(&mut self, action: Action, key: &[u8]) -> bool {
        let slot: Slot = (action, key.into());
        let Some(pending) = self.entries.get_mut(&slot) else {
            return false;
        };
        if !pending.held {
            self.by_due.remove(&(pending.due, slot));
            pending.held = true;
        }
        true
    }

    /// Takes the job of `key` and `action` off the agenda.
    pub fn take(&mut self, action: Action, key: &[u8]) -> Option<Pending> {
        let slot: Slot = (action, key.into());
        let pending = self.entries.remove(&slot)?;
        if !pending.held {
            self.by_due.remove(&(pending.due, slot));
        }
        Some(pending)
    }

    /// The next moment a job falls due; held jobs have none.
    pub fn deadline(&self) -> Option<Instant> {
        self.by_due.first().map(|(due, _)| *due)
    }

    /// The earliest job due by `now`, taken off the agenda.
    pub fn pop_due(&mut self, now: Instant) -> Option<Job> {
        let (due, (action, key)) = self.by_due.first()?.clone();
        if due > now {
            return None;
        }
        self.take(action, &key).map(|pending| pending.job)
    }

    /// Every pending job (for the state file), earliest first, held ones
    /// last.
    pub fn pending(&self) -> Vec<&Pending> {
        let mut all: Vec<&Pending> = self.entries.values().collect();
        all.sort_by_key(|p| (p.held, p.due));
        all
    }

    /// Takes the `action` job that falls due first off the agenda (held
    /// ones are not due: they are left).
    pub fn take_earliest(&mut self, action: Action) -> Option<Job> {
        let key = self
            .by_due
            .iter()
            .find(|(_, (a, _))| *a == action)
            .map(|(_, (_, key))| key.clone())?;
        self.take(action, &key).map(|pending| pending.job)
    }

    /// How many jobs of `action` are pending.
    pub fn count(&self, action: Action) -> usize {
        self.entries.keys().filter(|(a, _)| *a == action).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn job(action: Action, key: &str) -> Job {
        Job {
            action,
            key: key.as_bytes().into(),
            vars: vec![(
                "LOGS2ECA_MATCH_LINE".to_owned(),
                format!("line {key}").into(),
            )],
            attempt: 1,
        }
    }

    #[test]
    fn the_backoff_doubles_from_the_first_delay_and_is_bounded() {
        let retry = Retry {
            times: 3,
            first: 100 * MS,
        };
        let delays: Vec<Duration> = (1..=3).map(|n| retry.backoff(n)).collect();
        assert_eq!(delays, [100 * MS, 200 * MS, 400 * MS]);
        assert!(retry.allows(3), "three retries: after attempts 1, 2 and 3");
        assert!(!retry.allows(4));
        let long = Retry {
            times: 1000,
            first: Duration::from_secs(3600),
        };
        assert_eq!(long.backoff(1000), MAX_BACKOFF);
    }

    #[test]
    fn the_environment_says_the_action_and_the_attempt_first() {
        let mut j = job(Action::Undo, "k").next_attempt();
        j.attempt += 1;
        let env = j.env();
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["LOGS2ECA_ACTION", "LOGS2ECA_ATTEMPT", "LOGS2ECA_MATCH_LINE"]
        );
        assert_eq!(env[0].1, "undo");
        assert_eq!(env[1].1, "3");
    }

    #[test]
    fn one_job_per_key_and_action_in_order_of_due_time() {
        let t0 = Instant::now();
        let mut agenda = Agenda::default();
        agenda.schedule(job(Action::Undo, "a"), t0 + 30 * MS);
        agenda.schedule(job(Action::Undo, "b"), t0 + 10 * MS);
        agenda.schedule(job(Action::Do, "a"), t0 + 20 * MS);
        // The same key and action again replaces, never adds.
        agenda.schedule(job(Action::Undo, "a"), t0 + 40 * MS);
        assert_eq!(agenda.count(Action::Undo), 2);
        assert_eq!(agenda.deadline(), Some(t0 + 10 * MS));
        assert_eq!(agenda.pop_due(t0 + 9 * MS), None);
        let order: Vec<(Action, Box<[u8]>)> = std::iter::from_fn(|| agenda.pop_due(t0 + 40 * MS))
            .map(|j| (j.action, j.key))
            .collect();
        assert_eq!(
            order,
            [
                (Action::Undo, b"b"[..].into()),
                (Action::Do, b"a"[..].into()),
                (Action::Undo, b"a"[..].into())
            ]
        );
        assert_eq!(agenda.deadline(), None);
    }

    #[test]
    fn a_held_job_has_no_deadline_until_scheduled_again() {
        let t0 = Instant::now();
        let mut agenda = Agenda::default();
        agenda.schedule(job(Action::Undo, "a"), t0 + 10 * MS);
        assert!(agenda.hold(Action::Undo, b"a"));
        assert!(!agenda.hold(Action::Undo, b"nothing"));
        assert_eq!(agenda.deadline(), None);
        assert_eq!(agenda.pop_due(t0 + 100 * MS), None);
        assert!(agenda.get(Action::Undo, b"a").unwrap().held);
        assert_eq!(agenda.pending().len(), 1, "still saved");
        let again = agenda.take(Action::Undo, b"a").unwrap().job;
        agenda.schedule(again, t0 + 200 * MS);
        assert_eq!(agenda.deadline(), Some(t0 + 200 * MS));
        agenda.schedule(job(Action::Do, "b"), t0 + 100 * MS);
        agenda.schedule(job(Action::Undo, "c"), t0 + 300 * MS);
        let earliest = agenda.take_earliest(Action::Undo).map(|j| j.key);
        assert_eq!(earliest.as_deref(), Some(&b"a"[..]));
        assert_eq!(agenda.count(Action::Undo), 1);
        assert_eq!(agenda.count(Action::Do), 1);
    }
}
