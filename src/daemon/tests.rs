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
        let mut args = vec![
            "logs2eca".to_owned(),
            "-l".to_owned(),
            self.log.display().to_string(),
            "-p".to_owned(),
            "ERROR".to_owned(),
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
    let current = saved.current.expect("a file record");
    assert_eq!(current.offset, "ERROR disk full\n".len() as u64);
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
        saved.current.unwrap().offset,
        20,
        "past the suppressed line"
    );
    assert_eq!(saved.keys[0].suppressed, 1);
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
    let spawned = saved_state(&mut d, &state).keys[0].last_end_unix_ms;
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
    let after = saved_state(&mut d, &state).keys[0].last_end_unix_ms;
    assert!(
        after > spawned,
        "the cooldown counts from the end: {after:?} > {spawned:?}"
    );
}

/// A second SIGTERM while the first one's grace runs kills at once and
/// ends the run in the same turn.
#[test]
fn a_second_sigterm_stops_at_once() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("1s", &[]), None);
    fake.processes().ignore_term = true;
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    assert!(d.step(signal(SIGTERM), look).is_none(), "a grace first");
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGTERM)]);
    let result = d.step(signal(SIGTERM), look + MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(
        fake.processes().signalled(),
        [(pid, libc::SIGTERM), (pid, libc::SIGKILL)]
    );
    assert!(!d.reaction.is_running());
}

/// The stop sequence: SIGTERM to the command's group, a grace in which the
/// loop waits for nothing but the grace, SIGKILL at its end, then the run
/// ends with the group reaped.
#[test]
fn the_stop_sequence_is_term_grace_kill() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("1s", &[]), None);
    fake.processes().ignore_term = true;
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    let pid = fake.processes().spawned[0].0;
    let (stepped, events) = record(|| d.step(signal(SIGINT), look));
    assert!(stepped.is_none());
    assert_eq!(events, [Event::Run(RunEvent::Stopping { pid })]);
    let kill_at = look + SHUTDOWN_KILL_GRACE;
    // Not the next poll: a stop serves only its grace and the timeouts.
    assert_eq!(d.deadline(look), Some(kill_at));
    assert!(d.end().is_none(), "still running");
    // A line arriving now is not read any more.
    s.append("ERROR two\n");
    assert!(d.step(nothing(), kill_at - MS).is_none());
    assert_eq!(fake.processes().signalled(), [(pid, libc::SIGTERM)]);
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

/// A command that ends on SIGTERM ends the stop as soon as it is reaped,
/// without waiting for the grace; what is left of its group is killed
/// while its leader, unreaped, still pins the group id.
#[test]
fn a_stop_ends_when_the_command_does() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("1s", &[]), None);
    s.append("ERROR one\n");
    let look = t0 + 1000 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert!(d.step(signal(SIGTERM), look).is_none(), "not reaped yet");
    let result = d.step(signal(SIGCHLD), look + MS);
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    let pid = fake.processes().spawned[0].0;
    assert_eq!(
        fake.processes().signalled(),
        [(pid, libc::SIGTERM), (pid, libc::SIGKILL)]
    );
}

/// Matches held in a saved state go through the gate again at start, in
/// their order, before anything new: with `--wait 0` the first runs at once
/// and the next when it has ended.
#[test]
fn restored_matches_run_in_their_order() {
    let s = Setup::new();
    let config = s.config("1s", &["--wait", "0"]);
    let mut saved = State::new(&config.path, WallTime::from_unix_ms(0));
    saved.held = ["ERROR a", "ERROR b", "ERROR c"]
        .iter()
        .map(|line| HeldRecord {
            line: line.as_bytes().to_vec(),
            trigger: false,
            key: Vec::new(),
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
    assert_eq!(d.input.as_path().unwrap().progress(), {
        let mut other = LogPath::open(&s.log, StartAt::End).unwrap();
        other.refresh(timeout, &mut |_, _| {});
        other.progress()
    });
}

mod spawn_save;
