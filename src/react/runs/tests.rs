//! The runs with a made-up clock and a fake spawner: every timing of
//! retries, undos and stops, without a process or a sleep.

use std::path::PathBuf;

use super::*;
use crate::react::action::fake::FakeSpawner;
use crate::react::gate::{QUEUE_BOUND, Settings, Threshold, Verdict};

const MS: Duration = Duration::from_millis(1);

struct Harness {
    gate: Gate<()>,
    runs: Runs,
    fake: FakeSpawner,
    t0: Instant,
    /// The line time at `t0`.
    line0: Time,
}

struct Plan {
    retry: Option<Retry>,
    undo_after: Option<Duration>,
    timeout: Option<Duration>,
    wait: Duration,
    max_running: usize,
    max_undos: usize,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            retry: None,
            undo_after: None,
            timeout: None,
            wait: Duration::from_secs(3),
            max_running: 1,
            max_undos: 100,
        }
    }
}

fn retry(times: u32, first_ms: u64) -> Option<Retry> {
    Some(Retry {
        times,
        first: Duration::from_millis(first_ms),
    })
}

fn command(name: &str) -> CommandLine {
    CommandLine {
        program: PathBuf::from(name),
        argv: vec![name.to_owned()],
    }
}

impl Harness {
    fn new(plan: Plan) -> Harness {
        let fake = FakeSpawner::default();
        let runner = Runner::new(command("do"), plan.timeout, Box::new(fake.clone()));
        let undo = plan.undo_after.map(|after| UndoPlan {
            command: command("undo"),
            after,
            max_pending: plan.max_undos,
        });
        Harness {
            gate: Gate::new(Settings {
                wait: plan.wait,
                threshold: Threshold::EVERY_MATCH,
                max_keys: 100,
                max_running: plan.max_running,
                queue_bound: QUEUE_BOUND,
            }),
            runs: Runs::new(runner, plan.retry, undo, true),
            fake,
            t0: Instant::now(),
            line0: Time::now(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// The line time `ms` after the start (lines live: as the clock).
    fn time(&self, ms: u64) -> Time {
        self.line0 + Duration::from_millis(ms)
    }

    /// A match of `key` with `line` at `ms`: the gate's verdict, and the
    /// run started if it says so.
    fn trigger(&mut self, key: &str, line: &str, ms: u64) -> Verdict {
        let now = self.at(ms);
        let time = self.time(ms);
        let verdict = self.gate.on_match(key.as_bytes(), time, || ());
        if let Verdict::Run(launch) = verdict {
            let vars = vec![("LOGS2ECA_MATCH_LINE".to_owned(), line.into())];
            let _ = self
                .runs
                .start_first(&mut self.gate, launch.key, vars, time, now);
        }
        verdict
    }

    /// The `n`-th start exits with `code` at `ms`, and is reaped.
    fn exit(&mut self, n: usize, code: i32, ms: u64) {
        let pid = self.pid(n);
        self.fake.processes().exit(pid, code);
        let now = self.at(ms);
        self.runs.on_child_exit(&mut self.gate, now);
    }

    fn tick(&mut self, ms: u64) {
        let now = self.at(ms);
        self.runs.on_deadline(&mut self.gate, now);
    }

    fn pid(&self, n: usize) -> libc::pid_t {
        self.fake.processes().spawned[n].0
    }

    fn spawned(&self) -> usize {
        self.fake.processes().spawned.len()
    }

    /// `(LOGS2ECA_ACTION, LOGS2ECA_ATTEMPT, LOGS2ECA_MATCH_LINE)` of each
    /// start.
    fn starts(&self) -> Vec<(String, String, String)> {
        let p = self.fake.processes();
        p.spawned
            .iter()
            .map(|(_, env)| {
                let get = |name: &str| {
                    env.iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                (
                    get("LOGS2ECA_ACTION"),
                    get("LOGS2ECA_ATTEMPT"),
                    get("LOGS2ECA_MATCH_LINE"),
                )
            })
            .collect()
    }

    fn deadline(&self) -> Option<Instant> {
        self.runs.deadline()
    }
}

fn start(action: &str, attempt: u32, line: &str) -> (String, String, String) {
    (action.to_owned(), attempt.to_string(), line.to_owned())
}

/// `--retry 3/100ms`: after 100 ms, then 200 ms; the key's matches are
/// suppressed meanwhile, and the cooldown starts after the last attempt.
#[test]
fn a_failed_command_is_retried_with_a_doubling_backoff() {
    let mut h = Harness::new(Plan {
        retry: retry(3, 100),
        ..Plan::default()
    });
    assert!(matches!(h.trigger("", "ERROR x", 0), Verdict::Run(_)));
    h.exit(0, 1, 10);
    assert_eq!(h.deadline(), Some(h.at(110)));
    assert_eq!(h.trigger("", "ERROR during", 50), Verdict::Suppressed);
    h.tick(109);
    assert_eq!(h.spawned(), 1, "not before its time");
    h.tick(110);
    h.exit(1, 1, 120);
    assert_eq!(h.deadline(), Some(h.at(320)), "twice the first delay");
    h.tick(320);
    assert_eq!(
        h.starts(),
        [
            start("do", 1, "ERROR x"),
            start("do", 2, "ERROR x"),
            start("do", 3, "ERROR x")
        ]
    );
    assert_eq!(h.runs.activity(h.at(320)).retries, 0);
    h.exit(2, 0, 330);
    assert_eq!(h.deadline(), None);
    // The cooldown (3 s) counts from the end of the last attempt.
    assert_eq!(h.trigger("", "ERROR later", 3329), Verdict::Suppressed);
    assert!(matches!(
        h.trigger("", "ERROR later", 3330),
        Verdict::Run(_)
    ));
}

/// A backlog's trigger (its line an hour old, read now) counts on the
/// line's time: its run and its retry's back-off and run move that time on
/// as they take time, and the cooldown ends at the line time reached by the
/// last attempt's end plus the wait, an hour before the clock's.
#[test]
fn runs_and_retries_count_on_the_line_time_of_their_trigger() {
    let mut h = Harness::new(Plan {
        retry: retry(1, 100),
        ..Plan::default()
    });
    let hour = Duration::from_secs(3600);
    let old = Time::from_system(h.line0.to_system() - hour);
    let at_line = |ms: u64| old + Duration::from_millis(ms);
    let verdict = h.gate.on_match(b"k", at_line(0), || ());
    let Verdict::Run(launch) = verdict else {
        panic!("{verdict:?}")
    };
    let vars = vec![("LOGS2ECA_MATCH_LINE".to_owned(), "ERROR old".into())];
    let now = h.at(0);
    let _ = h
        .runs
        .start_first(&mut h.gate, launch.key, vars, at_line(0), now);
    assert_eq!(
        h.runs
            .running_since()
            .map(|(_, t, _)| t)
            .collect::<Vec<_>>(),
        [at_line(0)]
    );
    h.exit(0, 1, 10);
    assert_eq!(
        h.runs.reached(launch.key, b"k", h.at(60)),
        Some(at_line(60)),
        "backing off, the line time moves on from the failed run's end"
    );
    h.tick(110);
    h.exit(1, 0, 130);
    assert_eq!(h.runs.take_freed(), Some(at_line(130)));
    // The cooldown (3 s) ends at the old line time 130 ms + 3 s.
    assert_eq!(
        h.gate.on_match(b"k", at_line(3129), || ()),
        Verdict::Suppressed
    );
    assert!(matches!(
        h.gate.on_match(b"k", at_line(3130), || ()),
        Verdict::Run(_)
    ));
    let ended = h.runs.take_ended();
    assert_eq!(
        ended.iter().map(|(result, _)| *result).collect::<Vec<_>>(),
        [CommandResult::Failed, CommandResult::Ok]
    );
}

/// At most N more attempts; then the cooldown starts.
#[test]
fn retries_give_up_after_n_more_attempts() {
    let mut h = Harness::new(Plan {
        retry: retry(2, 100),
        ..Plan::default()
    });
    h.trigger("", "ERROR x", 0);
    h.exit(0, 1, 0);
    h.tick(100);
    h.exit(1, 1, 100);
    h.tick(300);
    h.exit(2, 1, 300);
    assert_eq!(h.spawned(), 3);
    assert_eq!(h.deadline(), None, "given up");
    assert_eq!(h.trigger("", "ERROR y", 3299), Verdict::Suppressed);
    assert!(matches!(h.trigger("", "ERROR z", 3300), Verdict::Run(_)));
}

/// A command that cannot be spawned, or is stopped by `--timeout`, is a
/// failure like a non-zero exit.
#[test]
fn spawn_failures_and_timeouts_are_retried() {
    let mut h = Harness::new(Plan {
        retry: retry(2, 100),
        timeout: Some(Duration::from_secs(1)),
        ..Plan::default()
    });
    h.fake.processes().failing_spawns = 1;
    h.trigger("", "ERROR x", 0);
    assert_eq!(h.spawned(), 0);
    assert_eq!(h.deadline(), Some(h.at(100)));
    h.tick(100);
    assert_eq!(h.starts(), [start("do", 2, "ERROR x")]);
    assert_eq!(h.deadline(), Some(h.at(1100)), "its timeout");
    h.tick(1100);
    let pid = h.pid(0);
    assert_eq!(h.fake.processes().signalled(), [(pid, libc::SIGTERM)]);
    h.runs.on_child_exit(&mut h.gate, h.t0 + 1101 * MS);
    assert_eq!(h.deadline(), Some(h.at(1301)), "backing off 200 ms");
    h.tick(1301);
    assert_eq!(h.starts()[1], start("do", 3, "ERROR x"));
}

/// A key backing off frees its slot: another key runs meanwhile, and the
/// retry that falls due while no slot is free starts when one is.
#[test]
fn a_backing_off_key_frees_its_slot() {
    let mut h = Harness::new(Plan {
        retry: retry(1, 100),
        max_running: 1,
        ..Plan::default()
    });
    h.trigger("a", "ERROR a", 0);
    h.exit(0, 1, 10);
    assert!(matches!(h.trigger("b", "ERROR b", 20), Verdict::Run(_)));
    h.tick(110);
    assert_eq!(h.spawned(), 2, "no slot for a's retry yet");
    assert_eq!(h.runs.activity(h.at(110)).retries, 1);
    assert_eq!(
        h.runs.agenda.deadline(),
        None,
        "waiting for a slot, not for a time"
    );
    h.exit(1, 0, 150);
    assert_eq!(h.starts()[2], start("do", 2, "ERROR a"));
}

/// After a success the undo runs `--undo-after` later, with the same
/// variables and `LOGS2ECA_ACTION=undo`; a failed undo is retried.
#[test]
fn the_undo_runs_after_its_delay_and_is_retried_too() {
    let mut h = Harness::new(Plan {
        retry: retry(1, 100),
        undo_after: Some(10_000 * MS),
        ..Plan::default()
    });
    h.trigger("", "ERROR x", 0);
    h.exit(0, 0, 500);
    assert_eq!(h.runs.activity(h.at(500)).undos, 1);
    assert_eq!(h.deadline(), Some(h.at(10_500)));
    h.tick(10_499);
    assert_eq!(h.spawned(), 1);
    h.tick(10_500);
    h.exit(1, 1, 10_600);
    h.tick(10_700);
    h.exit(2, 0, 10_710);
    assert_eq!(
        h.starts(),
        [
            start("do", 1, "ERROR x"),
            start("undo", 1, "ERROR x"),
            start("undo", 2, "ERROR x")
        ]
    );
    assert_eq!(h.deadline(), None);
    assert_eq!(h.runs.activity(h.at(10_710)).undos, 0);
}

/// A new trigger of the key while its undo is pending postpones it: one
/// undo, `--undo-after` after the new run's end, with the new run's line.
#[test]
fn a_new_trigger_postpones_the_undo() {
    let mut h = Harness::new(Plan {
        undo_after: Some(10_000 * MS),
        wait: Duration::from_secs(1),
        ..Plan::default()
    });
    h.trigger("k", "ERROR first", 0);
    h.exit(0, 0, 0);
    assert_eq!(h.deadline(), Some(h.at(10_000)));
    h.trigger("k", "ERROR second", 5000);
    assert_eq!(
        h.runs.agenda.deadline(),
        None,
        "held while the command runs again"
    );
    h.tick(10_000);
    h.exit(1, 0, 6000);
    assert_eq!(h.deadline(), Some(h.at(16_000)));
    h.tick(15_999);
    assert_eq!(h.spawned(), 2, "postponed");
    h.tick(16_000);
    assert_eq!(
        h.starts(),
        [
            start("do", 1, "ERROR first"),
            start("do", 1, "ERROR second"),
            start("undo", 1, "ERROR second")
        ]
    );
    h.exit(2, 0, 16_001);
    assert_eq!(h.deadline(), None, "one undo per key");
}

/// A postponed undo is still owed when the new run fails for good: it
/// falls due `--undo-after` after that end, with its own line.
#[test]
fn a_postponed_undo_survives_a_failed_run() {
    let mut h = Harness::new(Plan {
        undo_after: Some(10_000 * MS),
        wait: Duration::from_secs(1),
        ..Plan::default()
    });
    h.trigger("k", "ERROR first", 0);
    h.exit(0, 0, 0);
    h.trigger("k", "ERROR second", 5000);
    h.exit(1, 1, 6000);
    assert_eq!(h.deadline(), Some(h.at(16_000)));
    h.tick(16_000);
    assert_eq!(h.starts()[2], start("undo", 1, "ERROR first"));
}

/// What the state keeps, and a restart from it: the running command runs
/// again at once (same attempt), an overdue retry at once, an undo at its
/// time; the restored command's key is busy until it is done.
#[test]
fn runs_survive_a_restart_by_wall_clock() {
    let mut h = Harness::new(Plan {
        retry: retry(2, 1000),
        undo_after: Some(60_000 * MS),
        max_running: 3,
        ..Plan::default()
    });
    h.trigger("running", "ERROR running", 0);
    h.trigger("retry", "ERROR retry", 0);
    h.exit(1, 1, 0);
    h.trigger("undo", "ERROR undo", 0);
    h.exit(2, 0, 0);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let saved = h.runs.export(h.at(0), wall);
    let mut summary: Vec<(String, String, Option<SystemTime>)> = saved
        .iter()
        .map(|s| {
            (
                s.job.action.name().to_owned(),
                String::from_utf8_lossy(&s.job.key).into_owned(),
                s.due,
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            ("do".into(), "retry".into(), Some(wall + 1000 * MS)),
            ("do".into(), "running".into(), None),
            ("undo".into(), "undo".into(), Some(wall + 60_000 * MS)),
        ]
    );

    // Down for 5 s.
    let mut again = Harness::new(Plan {
        retry: retry(2, 1000),
        undo_after: Some(60_000 * MS),
        max_running: 3,
        ..Plan::default()
    });
    let now = again.t0;
    again
        .runs
        .import(&mut again.gate, saved, now, wall + 5000 * MS);
    let mut starts = again.starts();
    starts.sort();
    assert_eq!(
        starts,
        [
            start("do", 1, "ERROR running"),
            start("do", 2, "ERROR retry")
        ]
    );
    assert_eq!(again.deadline(), Some(again.at(55_000)), "the undo's time");
    assert_eq!(
        again.trigger("running", "ERROR new", 1),
        Verdict::Suppressed,
        "busy until its run is done"
    );
    again.tick(55_000);
    assert_eq!(again.starts()[2], start("undo", 1, "ERROR undo"));
}

/// An undo that fell due while the daemon was down runs at once.
#[test]
fn an_overdue_undo_runs_at_start() {
    let mut h = Harness::new(Plan {
        undo_after: Some(1000 * MS),
        ..Plan::default()
    });
    h.trigger("", "ERROR x", 0);
    h.exit(0, 0, 0);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let saved = h.runs.export(h.at(0), wall);
    let mut again = Harness::new(Plan {
        undo_after: Some(1000 * MS),
        ..Plan::default()
    });
    let now = again.t0;
    again
        .runs
        .import(&mut again.gate, saved, now, wall + 3_600_000 * MS);
    assert_eq!(again.starts(), [start("undo", 1, "ERROR x")]);
}

/// A stop starts nothing new: a retry stays pending (saved); a run that
/// the stop ends is kept to run again, same attempt; without a state file
/// the pending undos run at once.
#[test]
fn a_stop_keeps_what_it_interrupts() {
    let mut h = Harness::new(Plan {
        retry: retry(1, 100),
        max_running: 2,
        ..Plan::default()
    });
    h.trigger("a", "ERROR a", 0);
    h.exit(0, 1, 0);
    h.trigger("b", "ERROR b", 0);
    let at = h.at(1);
    h.runs.begin_stop(&mut h.gate, true, at);
    assert_eq!(
        h.deadline(),
        Some(h.at(60_000)),
        "b's long-run warning; the retry waits for the next start"
    );
    h.tick(100);
    assert_eq!(h.spawned(), 2);
    let at = h.at(200);
    h.runs.kill(&mut h.gate, at);
    let saved = h.runs.export(h.at(200), SystemTime::UNIX_EPOCH);
    let mut kept: Vec<(Action, u32, Option<SystemTime>)> = saved
        .iter()
        .map(|s| (s.job.action, s.job.attempt, s.due))
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{saved:?}");
    assert_eq!(kept[0].1, 1, "b, killed: at once, same attempt");
    assert_eq!(kept[0].2, None);
    assert_eq!(kept[1].1, 2, "a's retry");

    let mut h = Harness::new(Plan {
        undo_after: Some(3_600_000 * MS),
        ..Plan::default()
    });
    h.trigger("", "ERROR x", 0);
    h.exit(0, 0, 0);
    let at = h.at(1);
    h.runs.begin_stop(&mut h.gate, false, at);
    assert_eq!(h.starts()[1], start("undo", 1, "ERROR x"));
    assert!(h.runs.is_running(), "the stop waits for it");
}

/// While its undo runs, the key is busy: a match queued meanwhile (`-w 0`)
/// runs the command after the undo, never beside it, and the key never has
/// two undos.
#[test]
fn the_command_waits_for_its_keys_undo() {
    let mut h = Harness::new(Plan {
        undo_after: Some(1000 * MS),
        wait: Duration::ZERO,
        max_running: 4,
        ..Plan::default()
    });
    h.trigger("k", "ERROR first", 0);
    h.exit(0, 0, 0);
    h.tick(1000);
    assert_eq!(h.starts()[1], start("undo", 1, "ERROR first"));
    assert_eq!(h.trigger("k", "ERROR second", 1001), Verdict::Queued);
    assert!(matches!(
        h.trigger("other", "ERROR other", 1001),
        Verdict::Run(_)
    ));
    assert_eq!(h.spawned(), 3, "not beside the undo");
    h.exit(1, 0, 1002);
    // The queued match goes through the gate again: it runs.
    let next = h.gate.next_ready().map(|(launch, ())| launch.key);
    let id = next.expect("the queued match triggers");
    let vars = vec![("LOGS2ECA_MATCH_LINE".to_owned(), "ERROR second".into())];
    let (at, time) = (h.at(1002), h.time(1002));
    let _ = h.runs.start_first(&mut h.gate, id, vars, time, at);
    assert_eq!(h.starts()[3], start("do", 1, "ERROR second"));
}

/// Pending undos are bounded: beyond the bound, the one due first runs
/// early (memory stays bounded, and nothing stays applied).
#[test]
fn pending_undos_are_bounded_by_running_the_first_early() {
    let mut h = Harness::new(Plan {
        undo_after: Some(60_000 * MS),
        max_running: 10,
        max_undos: 2,
        ..Plan::default()
    });
    for (n, key) in ["a", "b", "c"].iter().enumerate() {
        h.trigger(key, &format!("ERROR {key}"), n as u64);
        h.exit(n, 0, n as u64);
    }
    assert_eq!(h.starts()[3], start("undo", 1, "ERROR a"), "a's, early");
    assert_eq!(h.runs.activity(h.at(3)).undos, 2);
}
