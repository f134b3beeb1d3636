//! The loop stepped by hand: a made-up clock, made-up wake-ups and a fake
//! spawner, so that the order of what happens in a turn (a spawn and its
//! save, a stop and its grace, a deadline and a pending read) is tested in
//! microseconds, without a process, a signal or a sleep.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::checkpoint::persist::AFTER_SPAWN;
use crate::checkpoint::state::{HeldRecord, WallTime};
use crate::input::file::follow::StartAt;
use crate::input::file::rotation::LogPath;
use crate::react::action::fake::FakeSpawner;
use crate::report::event::{Event, RunEvent, record};
use crate::settings::cli;
use std::os::unix::process::ExitStatusExt as _;

const MS: Duration = Duration::from_millis(1);

struct Setup {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Setup {
    /// A directory with an empty `app.log`.
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, b"").unwrap();
        Setup { dir, log }
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// The settings: `ERROR` runs `/bin/true` (which the fake never
    /// starts), polling every `poll` so that the test's clock decides when
    /// the file is looked at; then `extra`.
    fn config(&self, poll: &str, extra: &[&str]) -> Config {
        self.config_matching("ERROR", poll, extra)
    }

    /// As [`Setup::config`], on lines matching `pattern`.
    fn config_matching(&self, pattern: &str, poll: &str, extra: &[&str]) -> Config {
        let mut args = vec![
            "logs2eca".to_owned(),
            "-l".to_owned(),
            self.log.display().to_string(),
            "-p".to_owned(),
            pattern.to_owned(),
            "-c".to_owned(),
            "/bin/true".to_owned(),
            "--poll".to_owned(),
            poll.to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let cli = cli::parse_from(args).unwrap().unwrap();
        Config::from_cli(cli).unwrap()
    }

    fn append(&self, text: &str) {
        let mut file = OpenOptions::new().append(true).open(&self.log).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }
}

/// A daemon on `config` (and `saved`), begun at the returned instant.
fn start(config: Config, saved: Option<State>) -> (Daemon, FakeSpawner, Instant) {
    let state_file = (config.state_file.as_ref()).map(|path| StateFile::open(path).unwrap().0);
    let fake = FakeSpawner::default();
    let now = Instant::now();
    let mut daemon = Daemon::new(config, state_file, saved, Box::new(fake.clone()), now).unwrap();
    daemon.begin(now, &mut Vec::new).unwrap();
    (daemon, fake, now)
}

fn signal(signal: i32) -> Wake {
    Wake {
        signals: vec![signal],
        ..Wake::default()
    }
}

fn nothing() -> Wake {
    Wake::default()
}

/// A spawn makes a save due `AFTER_SPAWN` later, not at the next one-second
/// save, and stepping to that moment takes it: the position past the
/// line that ran the command is on disk.
#[test]
fn a_spawn_is_saved_right_after_it() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config("100ms", &["--state-file", state.to_str().unwrap()]),
        None,
    );
    // The start's own save, so that the next ones count from it.
    assert!(d.step(nothing(), t0).is_none());
    assert_eq!(d.state.as_ref().unwrap().deadline(), None);
    s.append("ERROR disk full\n");
    let look = t0 + 100 * MS;
    assert_eq!(d.deadline(t0), Some(look), "only the poll is due");
    assert!(d.step(nothing(), look).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR disk full"]);
    // Within the one-second interval of the last save, yet due at once.
    assert_eq!(d.deadline(look), Some(look + AFTER_SPAWN));
    assert!(d.step(nothing(), look + AFTER_SPAWN).is_none());
    assert_eq!(d.state.as_ref().unwrap().deadline(), None, "saved");
    d.state.as_mut().unwrap().flush(&d.hurry);
    let saved = State::from_json(&fs::read(&state).unwrap()).unwrap();
    let current = saved.files.current.expect("a file record");
    assert_eq!(current.at.offset, "ERROR disk full\n".len() as u64);
}

/// The `LOGS2ECA_MATCH_LINE` of each saved job, with its action and
/// attempt.
fn saved_jobs(state: &State) -> Vec<(String, String, u32)> {
    state
        .runner
        .jobs
        .iter()
        .map(|job| {
            let line = job
                .env
                .iter()
                .find(|var| var.name == "LOGS2ECA_MATCH_LINE")
                .map(|var| String::from_utf8_lossy(&var.value).into_owned())
                .unwrap_or_default();
            (job.action.clone(), line, job.attempt)
        })
        .collect()
}

/// The value of `name` in the environment of the `n`-th start.
fn env_of(fake: &FakeSpawner, n: usize, name: &str) -> Option<String> {
    let p = fake.processes();
    let (_, env) = p.spawned.get(n)?;
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string_lossy().into_owned())
}

/// Steps `d` to its next save and takes it; returns when that was.
fn save_due(d: &mut Daemon, now: Instant) -> Instant {
    let at = d.state.as_ref().unwrap().deadline().expect("a save is due");
    assert!(d.step(nothing(), at).is_none());
    assert_eq!(d.state.as_ref().unwrap().deadline(), None, "saved");
    assert!(at >= now);
    at
}

/// The saved state, once the saver has written it.
fn saved_state(d: &mut Daemon, path: &std::path::Path) -> State {
    d.state.as_mut().unwrap().flush(&d.hurry);
    State::from_json(&fs::read(path).unwrap()).unwrap()
}

/// A suppressed match changes what a restart must know (the position past
/// it: read again after the cooldown, it would run the command), so a save
/// is due as soon as after a spawn, not at the next one-second save.
#[test]
fn a_suppressed_match_is_saved_right_after_it() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config(
            "100ms",
            &["--wait", "1h", "--state-file", state.to_str().unwrap()],
        ),
        None,
    );
    assert!(d.step(nothing(), t0).is_none());
    s.append("ERROR one\n");
    let look = t0 + 100 * MS;
    assert!(d.step(nothing(), look).is_none());
    let saved_at = save_due(&mut d, look);
    assert_eq!(saved_at, look + AFTER_SPAWN);
    s.append("ERROR two\n");
    let look = look + 100 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR one"], "suppressed");
    // Within a second of the last save, and due at once all the same.
    assert_eq!(
        d.state.as_ref().unwrap().deadline(),
        Some(look + AFTER_SPAWN)
    );
    save_due(&mut d, look);
    let saved = saved_state(&mut d, &state);
    assert_eq!(
        saved.files.current.unwrap().at.offset,
        20,
        "past the suppressed line"
    );
    assert_eq!(saved.gate.keys[0].suppressed, 1);
}

/// The end of a command starts its cooldown; a save is due right after it,
/// so that a crash during the cooldown does not restart the cooldown from
/// the spawn (it would be over too early).
#[test]
fn the_end_of_a_command_is_saved_right_after_it() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config(
            "100ms",
            &["--wait", "1h", "--state-file", state.to_str().unwrap()],
        ),
        None,
    );
    assert!(d.step(nothing(), t0).is_none());
    s.append("ERROR one\n");
    let look = t0 + 100 * MS;
    assert!(d.step(nothing(), look).is_none());
    save_due(&mut d, look);
    let spawned = saved_state(&mut d, &state).gate.keys[0].last_end_unix_ms;
    std::thread::sleep(Duration::from_millis(5)); // wall-clock time passes
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    let ended = look + 10 * MS;
    assert!(d.step(signal(SIGCHLD), ended).is_none());
    assert_eq!(
        d.state.as_ref().unwrap().deadline(),
        Some(ended + AFTER_SPAWN)
    );
    save_due(&mut d, ended);
    let after = saved_state(&mut d, &state).gate.keys[0].last_end_unix_ms;
    assert!(
        after > spawned,
        "the cooldown counts from the end: {after:?} > {spawned:?}"
    );
}

/// A second SIGTERM while the first one's grace runs kills at once and
/// ends the run in the same turn; the killed command is kept in the state
/// and runs again, same attempt, at the next start.
#[test]
fn a_second_sigterm_stops_at_once_and_the_killed_command_runs_again() {
    let s = Setup::new();
    let state = s.state_path();
    let config = || s.config("1s", &["--state-file", state.to_str().unwrap()]);
    let (mut d, fake, t0) = start(config(), None);
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    assert!(d.step(signal(SIGTERM), look).is_none(), "a grace first");
    assert_eq!(fake.processes().signalled(), [], "left to finish");
    let result = d.step(signal(SIGTERM), look + MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGKILL)]);
    assert!(!d.reaction.is_running());
    let state_then = saved_state(&mut d, &state);
    assert_eq!(
        saved_jobs(&state_then),
        [("do".to_owned(), "ERROR one".to_owned(), 1)]
    );
    drop(d);
    let (_d, fake, _) = start(config(), Some(state_then));
    assert_eq!(
        fake.processes().lines(),
        ["ERROR one"],
        "run again at start"
    );
    assert_eq!(env_of(&fake, 0, "LOGS2ECA_ATTEMPT").as_deref(), Some("1"));
    assert_eq!(env_of(&fake, 0, "LOGS2ECA_ACTION").as_deref(), Some("do"));
}

/// The stop sequence: the running command may finish for the stop grace,
/// in which the loop waits for nothing but the grace (and the command's
/// timeout); then SIGTERM to its group, SIGKILL a moment later, and the
/// run ends with the group reaped.
#[test]
fn the_stop_sequence_is_grace_term_kill() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("1s", &[]), None);
    fake.processes().ignore_term = true;
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    let (stepped, events) = record(|| d.step(signal(SIGINT), look));
    assert!(stepped.is_none());
    assert_eq!(events, [], "nothing is stopped yet: the grace runs");
    let term_at = look + STOP_GRACE;
    // Not the next poll: a stop serves only its grace and the timeouts.
    assert_eq!(d.deadline(look), Some(term_at));
    assert!(d.end().is_none(), "still running");
    // A line arriving now is not read any more.
    s.append("ERROR two\n");
    assert!(d.step(nothing(), term_at - MS).is_none());
    assert_eq!(fake.processes().signalled(), [], "the grace runs");
    let (stepped, events) = record(|| d.step(nothing(), term_at));
    assert!(stepped.is_none());
    assert_eq!(events, [Event::Run(RunEvent::Stopping { pid })]);
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGTERM)]);
    let kill_at = term_at + SHUTDOWN_KILL_GRACE;
    assert_eq!(d.deadline(term_at), Some(kill_at));
    assert!(d.step(nothing(), kill_at - MS).is_none());
    let (result, events) = record(|| d.step(nothing(), kill_at));
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(
        fake.processes().signalled(),
        [(pid, libc::SIGTERM), (pid, libc::SIGKILL)]
    );
    assert_eq!(fake.processes().lines(), ["ERROR one"]);
    let Some(Event::Run(RunEvent::Exited {
        pid: ended, status, ..
    })) = events.first()
    else {
        panic!("the command's end is reported: {events:?}");
    };
    assert_eq!((*ended, status.signal()), (pid, Some(libc::SIGKILL)));
}

/// A command that finishes within the stop grace ends the stop as soon
/// as it is reaped: nothing is signalled, nothing is left to run again.
#[test]
fn a_stop_ends_when_the_command_finishes() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config("1s", &["--state-file", state.to_str().unwrap()]),
        None,
    );
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert!(d.step(signal(SIGTERM), look).is_none(), "not finished yet");
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    let result = d.step(signal(SIGCHLD), look + 5000 * MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    // Only the end of its group, as after any command.
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGKILL)]);
    assert_eq!(saved_jobs(&saved_state(&mut d, &state)), []);
}

/// A service manager that signals every process of the unit at a stop
/// (systemd's default `KillMode=control-group`) kills the command with the
/// same SIGTERM: that is the stop's doing, not a failure, and the command
/// is kept to run again.
#[test]
fn a_command_killed_along_with_the_stop_is_kept() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config("1s", &["--state-file", state.to_str().unwrap()]),
        None,
    );
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    fake.processes().kill(pid, libc::SIGTERM);
    let both = Wake {
        signals: vec![SIGCHLD, SIGTERM],
        ..Wake::default()
    };
    let result = d.step(both, look + MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(
        fake.processes().signalled(),
        [(pid, libc::SIGKILL)],
        "nothing but the end of its group, once it had exited"
    );
    assert_eq!(
        saved_jobs(&saved_state(&mut d, &state)),
        [("do".to_owned(), "ERROR one".to_owned(), 1)]
    );
}

/// A timeout still stops a command during the stop grace, and a command
/// that fails during the grace is retried at the next start, not now.
#[test]
fn timeouts_hold_during_the_stop_grace_and_retries_wait_for_the_next_start() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config(
            "1s",
            &[
                "--timeout",
                "2s",
                "--retry",
                "1/1s",
                "--state-file",
                state.to_str().unwrap(),
            ],
        ),
        None,
    );
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    assert!(d.step(signal(SIGTERM), look + MS).is_none());
    assert_eq!(d.deadline(look + MS), Some(look + 2000 * MS), "the timeout");
    assert!(d.step(nothing(), look + 2000 * MS).is_none());
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGTERM)]);
    let result = d.step(signal(SIGCHLD), look + 2001 * MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(fake.processes().lines(), ["ERROR one"], "no retry now");
    assert_eq!(
        saved_jobs(&saved_state(&mut d, &state)),
        [("do".to_owned(), "ERROR one".to_owned(), 2)],
        "the second attempt is kept"
    );
}

/// With `--wait 0`, matches queued at a stop are not started during the
/// stop: the state keeps them, and the running command finishes.
#[test]
fn queued_matches_are_kept_not_started_at_a_stop() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config(
            "1s",
            &["--wait", "0", "--state-file", state.to_str().unwrap()],
        ),
        None,
    );
    s.append("ERROR a\nERROR b\nERROR c\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert!(d.step(signal(SIGTERM), look).is_none());
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    let result = d.step(signal(SIGCHLD), look + MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(fake.processes().lines(), ["ERROR a"]);
    let state = saved_state(&mut d, &state);
    let held: Vec<&[u8]> = state.gate.held.iter().map(|h| &h.line[..]).collect();
    assert_eq!(held, [&b"ERROR b"[..], b"ERROR c"]);
    assert_eq!(saved_jobs(&state), []);
}

/// A running command is in the state saved after its spawn (a crash then
/// runs it again at the next start), and leaves it with the save that
/// follows its end.
#[test]
fn a_running_command_is_saved_until_it_ends() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config("1s", &["--state-file", state.to_str().unwrap()]),
        None,
    );
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert!(d.step(nothing(), look + AFTER_SPAWN).is_none());
    assert_eq!(
        saved_jobs(&saved_state(&mut d, &state)),
        [("do".to_owned(), "ERROR one".to_owned(), 1)]
    );
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    let end = look + 10 * MS;
    assert!(d.step(signal(SIGCHLD), end).is_none());
    assert_eq!(
        d.deadline(end),
        Some(end + AFTER_SPAWN),
        "the end is saved soon"
    );
    assert!(d.step(nothing(), end + AFTER_SPAWN).is_none());
    assert_eq!(saved_jobs(&saved_state(&mut d, &state)), []);
}

/// A command running past the long-run time is said once, and shows in
/// the status (`STATUS=`) while it runs.
#[test]
fn a_long_run_is_a_warning_and_shows_in_the_status() {
    let s = Setup::new();
    let mut config = s.config("1s", &[]);
    config.long_run = 5000 * MS;
    let (mut d, fake, t0) = start(config, None);
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert!(
        !status_text(&d, look).contains("running long"),
        "{}",
        status_text(&d, look)
    );
    assert_eq!(
        d.deadline(look),
        Some(look + 1000 * MS),
        "the next poll first"
    );
    assert!(d.step(nothing(), look + 1000 * MS).is_none());
    assert_eq!(d.deadline(look + 1000 * MS), Some(look + 2000 * MS));
    let warn_at = look + 5000 * MS;
    assert!(d.reaction.deadline() == Some(warn_at));
    assert!(d.step(nothing(), warn_at).is_none());
    let pid = fake.processes().spawned[0].0;
    let activity = d.reaction.activity(warn_at);
    assert_eq!(activity.running.len(), 1);
    assert!(activity.running[0].long);
    assert_eq!(activity.running[0].pid, pid);
    let status = status_text(&d, warn_at);
    assert!(
        status.contains(&format!("; do (pid {pid}) running long, since ")),
        "{status}"
    );
    assert_eq!(d.reaction.deadline(), None, "said once");
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), warn_at + MS).is_none());
    let status = status_text(&d, warn_at + MS);
    assert!(!status.contains("running long"), "{status}");
}

/// The `STATUS=` text the daemon would send at `now`.
fn status_text(d: &Daemon, now: Instant) -> String {
    let view = view!(d);
    view.snapshot(now).text()
}

/// Without a state file, the undos still pending run at a stop, and the
/// stop waits for them.
#[test]
fn without_a_state_file_pending_undos_run_at_stop() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(
        s.config("1s", &["--undo", "/bin/true", "--undo-after", "1h"]),
        None,
    );
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), look + MS).is_none());
    assert_eq!(d.reaction.activity(look + MS).undos, 1);
    assert!(
        d.step(signal(SIGTERM), look + 2 * MS).is_none(),
        "the undo runs"
    );
    assert_eq!(fake.processes().lines(), ["ERROR one", "ERROR one"]);
    assert_eq!(env_of(&fake, 1, "LOGS2ECA_ACTION").as_deref(), Some("undo"));
    let undo = fake.processes().spawned[1].0;
    fake.processes().exit(undo, 0);
    let result = d.step(signal(SIGCHLD), look + 3 * MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
}

/// Matches held in a saved state go through the gate again at start, in
/// their order, before anything new: with `--wait 0` the first runs at once
/// and the next when it has ended.
#[test]
fn restored_matches_run_in_their_order() {
    let s = Setup::new();
    let config = s.config("1s", &["--wait", "0"]);
    let mut saved = State::new(&config.path, WallTime::from_unix_ms(0));
    saved.gate.held = ["ERROR a", "ERROR b", "ERROR c"]
        .iter()
        .map(|line| HeldRecord {
            line: line.as_bytes().to_vec(),
            trigger: false,
            key: Vec::new(),
            key_from_line: false,
            fields: Vec::new(),
        })
        .collect();
    let (mut d, fake, t0) = start(config, Some(saved));
    assert_eq!(fake.processes().lines(), ["ERROR a"]);
    s.append("ERROR new\n");
    for (turn, expected) in [["ERROR a", "ERROR b"], ["ERROR b", "ERROR c"]]
        .iter()
        .enumerate()
    {
        let pid = fake.processes().spawned[turn].0;
        fake.processes().exit(pid, 0);
        assert!(d.step(signal(SIGCHLD), t0 + MS).is_none());
        assert_eq!(&fake.processes().lines()[turn..], expected);
    }
    // The new line comes after all of them.
    let pid = fake.processes().spawned[2].0;
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), t0 + 2 * MS).is_none());
    assert!(d.step(nothing(), t0 + 1000 * MS).is_none());
    assert_eq!(
        fake.processes().lines(),
        ["ERROR a", "ERROR b", "ERROR c", "ERROR new"]
    );
}

/// A match from a backlog held until a running command ends keeps only its
/// line's first 64 KiB, but its key is the one of the whole line: taken
/// when it arrived, not from the cut line when its turn comes (D12).
#[test]
fn a_deferred_match_keeps_its_key_from_past_the_cut() {
    let s = Setup::new();
    let config = s.config_matching(r"/ERROR .*user=(\w+)/", "100ms", &["--key", "1"]);
    let (mut d, fake, t0) = start(config, None);
    // Written long ago, ten seconds apart: the second waits for the
    // first's run to end.
    let long = "x".repeat(2 * crate::react::action::MAX_ENV_VALUE);
    s.append(&format!(
        "2020-01-01T00:00:00Z ERROR user=a\n2020-01-01T00:00:10Z ERROR {long} user=b\n"
    ));
    assert!(d.step(nothing(), t0 + 100 * MS).is_none());
    assert_eq!(fake.processes().spawned.len(), 1);
    let held = d.reaction.held_lines();
    assert_eq!(held.len(), 1, "deferred");
    assert_eq!(held[0].2, b"b", "its key, as the state keeps it");
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), t0 + 101 * MS).is_none());
    assert_eq!(fake.processes().spawned.len(), 2);
    assert_eq!(env_of(&fake, 1, "LOGS2ECA_KEY").as_deref(), Some("b"));
}

/// A version-1 state kept no key to trust for a held match (none at all
/// for one queued behind its key's run) and took it from the line at
/// start, cut or not: so does its migration.
#[test]
fn a_cut_match_held_in_a_version_1_state_takes_its_key_from_its_line() {
    let s = Setup::new();
    let config = s.config_matching(
        r"/ERROR host=(?<host>\w+)/",
        "100ms",
        &["--key", "host", "-w", "0"],
    );
    let line = format!("ERROR host=a {}", "x".repeat(65523));
    assert_eq!(line.len(), crate::react::action::MAX_ENV_VALUE, "cut");
    let v1 = format!(
        r#"{{"version":1,"path":"{}","saved_unix_ms":1,"held":[{{"line":"{line}"}}]}}"#,
        config.path.display()
    );
    let saved = State::from_json(v1.as_bytes()).unwrap();
    let (_d, fake, _) = start(config, Some(saved));
    assert_eq!(fake.processes().spawned.len(), 1);
    assert_eq!(env_of(&fake, 0, "LOGS2ECA_KEY").as_deref(), Some("a"));
}

/// A read that stopped at its budget does not keep a deadline from being
/// served: the turn that continues the read also enforces the timeout
/// that fell due, and the loop does not wait while the read is pending.
#[test]
fn a_deadline_fires_while_a_read_is_pending() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("10s", &["--timeout", "1s"]), None);
    s.append("ERROR one\n");
    let look = t0 + 10_000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    assert_eq!(d.deadline(look), Some(look + 1000 * MS), "the timeout");
    // The last read stopped at its budget, with more to read.
    s.append("more\nERROR two\n");
    let Source::File(file) = &mut d.input else {
        unreachable!()
    };
    file.pretend_more_to_read();
    assert_eq!(d.deadline(look), Some(look), "no waiting");
    let timeout = look + 1000 * MS;
    assert!(d.step(nothing(), timeout).is_none());
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGTERM)]);
    assert_ne!(d.deadline(timeout), Some(timeout), "read on to the end");
    // The second match was read (and suppressed: the first still runs).
    assert_eq!(fake.processes().lines(), ["ERROR one"]);
    assert_eq!(d.input.as_path().unwrap().offset(), {
        let mut other = LogPath::open(&s.log, StartAt::End).unwrap();
        other.refresh(timeout, &mut |_, _| {});
        other.offset()
    });
}

mod spawn_save;
