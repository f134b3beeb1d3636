//! The gate with real commands (SPEC §4 `-w 0`, §7): the three stories it
//! exists for (one run per user in one write; twenty errors in a minute;
//! block an address after three failures), the `-w 0` queue, the slots of
//! `--max-running`, the key table's bound under a flood of new keys, and
//! the gate in a dry run.
//!
//! Commands record what they saw in files of the sandbox. That something
//! did not run is shown by a later line whose run must come after it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::{COMMAND_EXITED, Daemon, LOG, Sandbox, peak_rss_kib, run, wait_until_within};

/// Records `KEY COUNT LINE` in `runs.txt`.
const RECORD: &str = r#"sh -c 'printf "%s %s %s\n" "$LOGS2ECA_KEY" "$LOGS2ECA_COUNT" "$LOGS2ECA_MATCH_LINE" >> runs.txt'"#;

const SSHD: &str = r"/Failed password for (?P<user>\S+) from (?P<ip>[0-9.]+)/";

fn start(sandbox: &Sandbox, pattern: &str, command: &str, extra: &[&str]) -> Daemon {
    sandbox.write(LOG, "");
    let args = [&["-l", LOG, "-p", pattern, "-c", command][..], extra].concat();
    Daemon::start(sandbox, args)
}

fn failed(user: &str, ip: &str) -> String {
    format!("sshd[1]: Failed password for {user} from {ip} port 22 ssh2\n")
}

#[test]
fn five_users_failing_in_one_write_make_five_runs() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox, SSHD, RECORD, &["--key", "user", "-w", "0"]);
    let users = ["alice", "bob", "carol", "dave", "eve"];
    let burst: String = users.iter().map(|u| failed(u, "10.0.0.1")).collect();
    sandbox.append(LOG, burst);

    let runs = sandbox.wait_for_lines("runs.txt", 5);
    let keys: Vec<&str> = runs.iter().map(|r| r.split(' ').next().unwrap()).collect();
    assert_eq!(keys, users, "one run per user, in order: {runs:?}");
}

#[test]
fn twenty_errors_within_a_minute_trigger_on_the_twentieth() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox, "ERROR", RECORD, &["--threshold", "20/60"]);
    let nineteen: String = (1..=19).map(|n| format!("ERROR {n}\n")).collect();
    sandbox.append(LOG, nineteen);
    // Had any of the first nineteen triggered, it would be the first run.
    sandbox.append(LOG, "ERROR 20\n");
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), [" 20 ERROR 20"]);
}

#[test]
fn an_address_is_blocked_after_three_failures_and_only_that_address() {
    let sandbox = Sandbox::new();
    let daemon = start(
        &sandbox,
        SSHD,
        RECORD,
        &["--key", "ip", "--threshold", "3/10m", "-w", "1h"],
    );
    let (a, b) = ("192.0.2.1", "198.51.100.7");
    let lines = [
        failed("root", a),
        failed("root", b),
        failed("admin", b),
        failed("admin", a),
        failed("oracle", b),
    ];
    sandbox.append(LOG, lines.concat());
    let runs = sandbox.wait_for_lines("runs.txt", 1);
    assert_eq!(runs, [format!("{b} 3 {}", failed("oracle", b).trim_end())]);
    daemon.wait_for_log(&[COMMAND_EXITED]);

    // Three more from b during its cooldown are suppressed (and start no
    // new window); the third from a, after them, blocks a.
    let more = [
        failed("x", b),
        failed("y", b),
        failed("z", b),
        failed("guest", a),
    ];
    sandbox.append(LOG, more.concat());
    let runs = sandbox.wait_for_lines("runs.txt", 2);
    assert_eq!(runs[1], format!("{a} 3 {}", failed("guest", a).trim_end()));
    assert_eq!(runs.len(), 2, "{runs:?}");
}

#[test]
fn wait_zero_runs_every_match_in_order_one_at_a_time() {
    let sandbox = Sandbox::new();
    let command = r#"sh -c 'echo "start $LOGS2ECA_MATCH_LINE" >> runs.txt; sleep 0.05; echo "end $LOGS2ECA_MATCH_LINE" >> runs.txt'"#;
    let _daemon = start(&sandbox, "ERROR", command, &["-w", "0"]);
    sandbox.append(LOG, "ERROR 1\nERROR 2\nERROR 3\nERROR 4\nERROR 5\n");

    let runs = sandbox.wait_for_lines("runs.txt", 10);
    let expected: Vec<String> = (1..=5)
        .flat_map(|n| [format!("start ERROR {n}"), format!("end ERROR {n}")])
        .collect();
    assert_eq!(runs, expected);
}

/// Counts the commands running at once under a lock, records each start
/// with that count, then blocks until the test creates `release`.
const CONCURRENT: &str = r#"#!/bin/sh
lock() { until mkdir lock.d 2>/dev/null; do sleep 0.01; done; }
unlock() { rmdir lock.d; }
lock
n=$(( $(cat running 2>/dev/null || echo 0) + 1 ))
echo $n > running
echo "$LOGS2ECA_KEY $n" >> started.txt
unlock
while [ ! -e release ]; do sleep 0.01; done
lock
echo $(( $(cat running) - 1 )) > running
echo "$LOGS2ECA_KEY" >> ended.txt
unlock
"#;

#[test]
fn max_running_three_never_runs_more_than_three_at_once() {
    let sandbox = Sandbox::new();
    sandbox.write("cmd.sh", CONCURRENT);
    let script = sandbox.path("cmd.sh");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let daemon = start(
        &sandbox,
        r"/job (?P<n>\d+)/",
        "./cmd.sh",
        &["--key", "n", "--max-running", "3", "-w", "0"],
    );
    let jobs: String = (1..=7).map(|n| format!("job {n}\n")).collect();
    sandbox.append(LOG, jobs);
    // The first three start at once (in any order, racing for the lock).
    let started = sandbox.wait_for_lines("started.txt", 3);
    let (mut keys, mut counts): (Vec<&str>, Vec<&str>) =
        started.iter().filter_map(|s| s.split_once(' ')).unzip();
    keys.sort();
    counts.sort();
    assert_eq!((keys, counts), (vec!["1", "2", "3"], vec!["1", "2", "3"]));
    sandbox.write("release", "");

    sandbox.wait_for_lines("ended.txt", 7);
    let started = sandbox.wait_for_lines("started.txt", 7);
    let most = started
        .iter()
        .map(|s| s.split(' ').nth(1).unwrap().parse::<u32>().unwrap())
        .max();
    assert_eq!(most, Some(3), "{started:?}");
    // The daemon started them in order of arrival.
    daemon.wait_for_log_count(&["started command"], 7);
    let order: Vec<String> = daemon
        .stderr()
        .lines()
        .filter(|l| l.contains("started command"))
        .filter_map(|l| Some(l.split("match: job ").nth(1)?.split(' ').next()?.to_owned()))
        .collect();
    assert_eq!(order, ["1", "2", "3", "4", "5", "6", "7"]);
}

#[test]
fn a_flood_of_new_keys_stays_bounded_and_cannot_reset_a_cooldown() {
    let sandbox = Sandbox::new();
    let daemon = start(
        &sandbox,
        r"/from (?P<ip>\S+)/",
        RECORD,
        &["--key", "ip", "--threshold", "2/3600", "-w", "3600"],
    );
    sandbox.append(LOG, "from hot\nfrom hot\n");
    assert_eq!(sandbox.wait_for_lines("runs.txt", 1), ["hot 2 from hot"]);
    daemon.wait_for_log(&[COMMAND_EXITED]);

    // A million addresses, each seen once: each only counts, so the table
    // forgets the least recently seen ones, never the cooling `hot`.
    let mut flood = String::with_capacity(24_000_000);
    for n in 0..1_000_000u32 {
        flood.push_str(&format!(
            "from 10.{}.{}.{}\n",
            n >> 16,
            (n >> 8) & 255,
            n & 255
        ));
    }
    sandbox.append(LOG, flood);
    sandbox.append(LOG, "from hot\nfrom hot\nfrom sentinel\nfrom sentinel\n");
    let runs = wait_until_within(Duration::from_secs(120), "the sentinel's run", || {
        let text = sandbox.read("runs.txt")?;
        text.contains("sentinel").then_some(text)
    });
    assert_eq!(runs, "hot 2 from hot\nsentinel 2 from sentinel\n");
    let peak = peak_rss_kib(daemon.pid());
    eprintln!("peak RSS after a flood of 1,000,000 keys: {peak} KiB");
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn a_dry_run_prints_only_what_would_trigger() {
    let sandbox = Sandbox::new();
    let lines = [
        failed("a", "192.0.2.1"),
        failed("b", "192.0.2.2"),
        failed("c", "192.0.2.1"),
        failed("d", "192.0.2.1"),
        failed("e", "192.0.2.1"),
        failed("f", "192.0.2.2"),
    ];
    sandbox.write(LOG, lines.concat());
    let args = [
        "--once",
        "--from-beginning",
        "-n",
        "-l",
        LOG,
        "-p",
        SSHD,
        "--key",
        "ip",
    ];
    // Without a cooldown every third failure of an address would trigger.
    let outcome = run(
        &sandbox,
        &[&args[..], &["--threshold", "3/600"]].concat(),
        &[],
    );
    assert!(outcome.status.success(), "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), lines[3]);
    // With one, the first of each address does, the rest are suppressed.
    let outcome = run(&sandbox, &[&args[..], &["-w", "60"]].concat(), &[]);
    assert_eq!(outcome.stdout_text(), [&lines[0][..], &lines[1]].concat());
}

#[test]
fn a_key_group_the_pattern_lacks_is_refused_at_start() {
    let sandbox = Sandbox::new();
    let outcome = run(
        &sandbox,
        &["-n", "-l", LOG, "-p", SSHD, "--key", "user,port"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(2));
    assert!(
        outcome.stderr.contains("no capture group 'port'"),
        "{}",
        outcome.stderr
    );
}
