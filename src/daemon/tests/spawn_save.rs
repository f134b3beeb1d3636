//! At most one spawn not on disk (SPEC §6): with a state file, a start
//! waits for the save that records the spawn before it, on a disk the test
//! stalls and lets go; the loop hears of the write through the saver's
//! descriptor, not by polling, and the first spawn never waits.

use std::sync::{Arc, Condvar, Mutex};

use super::*;
use crate::checkpoint::saver::Store;

/// A disk whose writes wait while it is stalled.
#[derive(Clone, Default)]
struct Disk(Arc<(Mutex<bool>, Condvar)>);

impl Disk {
    fn stall(&self) {
        *self.0.0.lock().unwrap() = true;
    }

    fn resume(&self) {
        *self.0.0.lock().unwrap() = false;
        self.0.1.notify_all();
    }
}

impl Store for Disk {
    fn save(&mut self, _state: &State, _before_commit: &mut dyn FnMut()) -> u64 {
        let (stalled, wake) = &*self.0;
        let mut stalled = stalled.lock().unwrap();
        while *stalled {
            stalled = wake.wait(stalled).unwrap();
        }
        0
    }
}

/// `d` saves on `disk` from now on (its state file is still locked).
fn on_disk(d: &mut Daemon) -> Disk {
    let disk = Disk::default();
    d.state = Some(Persist::with_store(disk.clone()).unwrap());
    disk
}

/// Waits (bounded) for the saver's descriptor, as the loop's poll(2) does,
/// and returns the wake-up it makes.
fn wait_for_the_saver(d: &Daemon) -> Wake {
    let fd = d.state.as_ref().unwrap().fd().unwrap();
    let ready = poll(&[fd], Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ready, [true], "the saver's descriptor became readable");
    Wake {
        saved: true,
        ..Wake::default()
    }
}

/// `-w 0`: the queued match does not start when the first command exits,
/// while the save of its spawn is stuck on the disk; it starts on the
/// saver's word that the save is written. The first spawn does not wait,
/// even behind a save in flight.
#[test]
fn a_queued_command_starts_once_the_spawn_before_it_is_saved() {
    let s = Setup::new();
    let state = s.state_path();
    let (mut d, fake, t0) = start(
        s.config(
            "100ms",
            &["-w", "0", "--state-file", state.to_str().unwrap()],
        ),
        None,
    );
    let disk = on_disk(&mut d);
    disk.stall();
    // A save of the position, stuck on the disk.
    assert!(d.step(nothing(), t0).is_none());
    s.append("ERROR 1\nERROR 2\n");
    let look = t0 + 100 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR 1"], "the first at once");
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), look + MS).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR 1"], "its spawn not saved");
    // The save of the spawn is handed over, and stalls.
    assert!(d.step(nothing(), look + AFTER_SPAWN).is_none());
    assert_eq!(d.state.as_ref().unwrap().deadline(), None, "handed over");
    assert_eq!(
        d.deadline(look + AFTER_SPAWN),
        Some(look + 100 * MS),
        "no deadline of its own: the next poll only"
    );
    assert!(d.step(nothing(), look + 100 * MS).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR 1"], "still not written");
    disk.resume();
    let wake = wait_for_the_saver(&d);
    assert!(d.step(wake, look + 101 * MS).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR 1", "ERROR 2"]);
    assert!(d.reaction.unsaved_spawn().is_some(), "its own save is next");
}

/// `--max-running 2`: two keys trigger in one read; the second starts once
/// the first's spawn is saved, then both run at once.
#[test]
fn concurrent_commands_start_one_saved_spawn_after_another() {
    let s = Setup::new();
    let state = s.state_path();
    let config = s.config_matching(
        r"/ERROR (\w)/",
        "100ms",
        &[
            "--key",
            "1",
            "--max-running",
            "2",
            "--state-file",
            state.to_str().unwrap(),
        ],
    );
    let (mut d, fake, t0) = start(config, None);
    let disk = on_disk(&mut d);
    disk.stall();
    s.append("ERROR a\nERROR b\n");
    let look = t0 + 100 * MS;
    assert!(d.step(nothing(), look).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR a"], "a slot free, held");
    assert!(d.step(nothing(), look + AFTER_SPAWN).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR a"]);
    disk.resume();
    let wake = wait_for_the_saver(&d);
    assert!(d.step(wake, look + 3 * MS).is_none());
    // The first has not exited: both run at once.
    assert_eq!(fake.processes().lines(), ["ERROR a", "ERROR b"]);
}

/// Without a state file there is nothing to wait for: both start at once.
#[test]
fn without_a_state_file_starts_do_not_wait() {
    let s = Setup::new();
    let (mut d, fake, t0) = start(s.config("100ms", &["-w", "0", "--max-running", "2"]), None);
    s.append("ERROR 1\nERROR 2\n");
    assert!(d.step(nothing(), t0 + 100 * MS).is_none());
    let pid = fake.processes().spawned[0].0;
    fake.processes().exit(pid, 0);
    assert!(d.step(signal(SIGCHLD), t0 + 101 * MS).is_none());
    assert_eq!(fake.processes().lines(), ["ERROR 1", "ERROR 2"]);
}
