//! What a running daemon shows of itself, and when: the `STATUS=` line
//! (see `status_line` for its rhythm) and the metrics file (see `metrics`).
//!
//! The loop calls [`Live::after_turn`] at the end of each of its turns; this
//! decides, from the counters and the state file's saves, whether the
//! metrics file is due and whether a status line may go out. The metrics
//! file is written at each save of the state file; without a state file at
//! the moments a save would be (its own [`SaveSchedule`] with the same
//! rules: a trigger within 2 ms, reading at most once a second, a rotation
//! at once); and, either way, when a command ended, since its result is
//! what an alert on failing commands reads. Nothing here asks for a
//! deadline while idle.

use std::path::Path;
use std::time::Instant;

use crate::checkpoint::persist::AFTER_SPAWN;
use crate::checkpoint::state::{SAVE_INTERVAL, SaveSchedule};
use crate::report::counters::{CommandResult, Counters};
use crate::report::metrics::{Labels, MetricsFile, Sample, render};
use crate::report::status_line::{Snapshot, StatusThrottle};

/// What the counters were at the last look.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    version: u64,
    triggers: u64,
    ended: u64,
    rotations: u64,
    saves: u64,
}

impl Seen {
    fn of(counters: &Counters, saves: u64) -> Self {
        Seen {
            version: counters.version(),
            triggers: counters.triggers,
            ended: CommandResult::ALL
                .iter()
                .map(|&r| counters.commands(r))
                .sum(),
            rotations: counters.rotations,
            saves,
        }
    }
}

struct Metrics {
    file: MetricsFile,
    labels: Labels,
    /// When the next write is due, without a state file.
    schedule: SaveSchedule,
    seen: Seen,
}

pub struct Live {
    status: StatusThrottle,
    metrics: Option<Metrics>,
}

/// What `after_turn` needs of the daemon, gathered only when needed (the
/// lag costs a `fstat` per open file).
pub trait View {
    fn counters(&self) -> &Counters;
    /// Saves of the state file so far; `None` without a state file.
    fn saves(&self) -> Option<u64>;
    fn snapshot(&self, now: Instant) -> Snapshot<'_>;
    fn sample(&self) -> Sample<'_>;
}

impl Live {
    /// Without a metrics file: the status line only.
    pub fn without_metrics() -> Self {
        Live {
            status: StatusThrottle::default(),
            metrics: None,
        }
    }

    /// With the metrics file at `path`, written now (an error stops the
    /// start: the directory is missing or not writable).
    pub fn with_metrics(path: &Path, log: &str, view: &dyn View) -> std::io::Result<Self> {
        let labels = Labels::new(path, log);
        let file = MetricsFile::create(path, &render(&labels, &view.sample()))?;
        Ok(Live {
            status: StatusThrottle::default(),
            metrics: Some(Metrics {
                file,
                labels,
                schedule: SaveSchedule::new(SAVE_INTERVAL),
                seen: Seen::of(view.counters(), view.saves().unwrap_or(0)),
            }),
        })
    }

    /// The status line to send with `READY=1`, counted as sent.
    pub fn ready_status(&mut self, now: Instant, view: &dyn View) -> String {
        let snapshot = view.snapshot(now);
        let text = snapshot.text();
        self.status.sent(now, snapshot.fingerprint(), text.clone());
        text
    }

    /// The end of a turn of the loop: writes the metrics file if due;
    /// returns the status line to send, if one should go out.
    pub fn after_turn(&mut self, now: Instant, view: &dyn View) -> Option<String> {
        if let Some(metrics) = &mut self.metrics {
            let seen = Seen::of(view.counters(), view.saves().unwrap_or(0));
            let before = std::mem::replace(&mut metrics.seen, seen);
            let write_now = seen.ended != before.ended
                || match view.saves() {
                    Some(_) => seen.saves != before.saves,
                    None => {
                        if seen.version != before.version {
                            metrics.schedule.dirty(now);
                        }
                        if seen.triggers != before.triggers {
                            metrics.schedule.due_by(now + AFTER_SPAWN);
                        }
                        seen.rotations != before.rotations || metrics.schedule.is_due(now)
                    }
                };
            if write_now {
                metrics.file.submit(render(&metrics.labels, &view.sample()));
                metrics.schedule.saved(now);
            }
        }
        let snapshot = view.snapshot(now);
        self.status
            .offer(now, snapshot.fingerprint(), || snapshot.text())
    }

    /// The last write of a run, waited for (briefly).
    pub fn finish(&mut self, view: &dyn View) {
        if let Some(metrics) = &self.metrics {
            metrics.file.submit(render(&metrics.labels, &view.sample()));
            metrics.file.flush();
        }
    }

    /// When something is due: a metrics write (without a state file) or a
    /// status line held back by the one-a-second rule. `None` while idle.
    pub fn deadline(&self) -> Option<Instant> {
        let metrics = self.metrics.as_ref().and_then(|m| m.schedule.deadline());
        [metrics, self.status.deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}
