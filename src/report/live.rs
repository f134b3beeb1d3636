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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::report::status_line::Reading;

    struct Fake {
        counters: Counters,
        saves: Option<u64>,
    }

    impl View for Fake {
        fn counters(&self) -> &Counters {
            &self.counters
        }

        fn saves(&self) -> Option<u64> {
            self.saves
        }

        fn snapshot(&self, _now: Instant) -> Snapshot<'_> {
            Snapshot {
                reading: Reading::File {
                    path: "app.log",
                    offset: self.counters.bytes,
                },
                rotated_open: 0,
                counters: &self.counters,
                running: Vec::new(),
                long: Vec::new(),
                keys: 1,
                held: 0,
                retries: 0,
                undos: 0,
                dry_run: false,
            }
        }

        fn sample(&self) -> Sample<'_> {
            Sample {
                counters: &self.counters,
                keys: 1,
                held: 0,
                running: 0,
                lag_bytes: Some(0),
            }
        }
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// The lines of the metrics file once what was handed over is written.
    fn written(live: &Live, path: &Path) -> u64 {
        live.metrics.as_ref().unwrap().file.flush();
        let text = std::fs::read_to_string(path).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("logs2eca_lines_total{"))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn without_a_state_file_the_metrics_follow_the_save_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        let t0 = Instant::now();
        let mut view = Fake {
            counters: Counters::new(SystemTime::now()),
            saves: None,
        };
        let mut live = Live::with_metrics(&path, "app.log", &view).unwrap();
        live.after_turn(t0, &view);
        assert_eq!(live.deadline(), None, "nothing new: nothing due");

        // The first read after idle: written at once.
        view.counters.on_block(b"a\n", 0, 0);
        live.after_turn(t0, &view);
        assert_eq!(written(&live, &path), 1);
        // More reading within the second: due at its end, not before.
        view.counters.on_block(b"b\n", 0, 0);
        live.after_turn(at(t0, 100), &view);
        assert_eq!(
            live.metrics.as_ref().unwrap().schedule.deadline(),
            Some(at(t0, 1_000))
        );
        // A trigger: due 2 ms later.
        view.counters.on_trigger(SystemTime::now());
        live.after_turn(at(t0, 200), &view);
        assert_eq!(
            live.metrics.as_ref().unwrap().schedule.deadline(),
            Some(at(t0, 202))
        );
        live.after_turn(at(t0, 202), &view);
        assert_eq!(written(&live, &path), 2);
        assert_eq!(live.metrics.as_ref().unwrap().schedule.deadline(), None);
        // A command's end: at once, within the second or not.
        view.counters.on_block(b"c\n", 0, 0);
        view.counters
            .on_command_end(CommandResult::Ok, Some(Duration::from_millis(5)));
        live.after_turn(at(t0, 300), &view);
        assert_eq!(written(&live, &path), 3);
        // Idle: turns without change ask for nothing.
        live.after_turn(at(t0, 5_000), &view);
        live.after_turn(at(t0, 9_000), &view);
        assert_eq!(live.metrics.as_ref().unwrap().schedule.deadline(), None);
    }

    #[test]
    fn with_a_state_file_the_metrics_are_written_with_each_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        let t0 = Instant::now();
        let mut view = Fake {
            counters: Counters::new(SystemTime::now()),
            saves: Some(0),
        };
        let mut live = Live::with_metrics(&path, "app.log", &view).unwrap();
        view.counters.on_block(b"a\n", 0, 0);
        live.after_turn(t0, &view);
        assert_eq!(
            written(&live, &path),
            0,
            "read, but the state not saved yet"
        );
        assert_eq!(live.deadline(), None, "the state's schedule decides");
        view.saves = Some(1);
        live.after_turn(at(t0, 1), &view);
        assert_eq!(written(&live, &path), 1);
    }
}
