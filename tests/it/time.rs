//! A line's own time (SPEC §11): windows and cooldowns run on the times
//! the lines carry, so a replay of an old log, a restart's backlog and a
//! live run agree. The logs here are from the past (2025), so that the
//! same rule read today triggers what it would have triggered then.

use std::fs;

use crate::common::{Daemon, LOG, Outcome, Sandbox, TIMEOUT, run, wait_until};

/// sshd's failures as a rule sees them: the address is the key.
const PATTERN: &str = r"/Failed password for \S+ from (?P<ip>[\d.]+)/";

fn failure(time: &str, ip: &str) -> String {
    format!("{time} host sshd[42]: Failed password for root from {ip} port 22 ssh2\n")
}

/// The issue's log: 10.0.0.1 fails three times six hours apart; 10.0.0.2
/// fails in two bursts of three, two hours apart.
fn sshd_log() -> String {
    [
        ("2025-06-01T00:00:00Z", "10.0.0.1"),
        ("2025-06-01T02:00:00Z", "10.0.0.2"),
        ("2025-06-01T02:00:10Z", "10.0.0.2"),
        ("2025-06-01T02:00:20Z", "10.0.0.2"),
        ("2025-06-01T04:00:00Z", "10.0.0.2"),
        ("2025-06-01T04:00:10Z", "10.0.0.2"),
        ("2025-06-01T04:00:20Z", "10.0.0.2"),
        ("2025-06-01T06:00:00Z", "10.0.0.1"),
        ("2025-06-01T12:00:00Z", "10.0.0.1"),
    ]
    .iter()
    .map(|(time, ip)| failure(time, ip))
    .collect()
}

/// `--once -n` with `PATTERN` unless `extra` gives another.
fn dry_run(sandbox: &Sandbox, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let pattern: &[&str] = if extra.contains(&"-p") {
        &[]
    } else {
        &["-p", PATTERN]
    };
    let args = [&["--once", "-n", "-l", LOG][..], pattern, extra].concat();
    let outcome = run(sandbox, &args, env);
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    outcome
}

/// The `time` of each object a `--json` dry run printed.
fn json_times(outcome: &Outcome) -> Vec<String> {
    outcome
        .stdout_text()
        .lines()
        .map(|line| {
            let object: serde_json::Value = serde_json::from_str(line).unwrap();
            object["time"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn summary(outcome: &Outcome) -> &str {
    outcome
        .stderr
        .lines()
        .find(|l| l.contains("summary:"))
        .unwrap_or_else(|| panic!("no summary in {}", outcome.stderr))
}

#[test]
fn a_replay_counts_and_cools_down_on_the_lines_times() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, sshd_log());
    let rule = ["--key", "ip", "--threshold", "3/10m", "-w", "1h"];
    let outcome = dry_run(&sandbox, &rule, &[]);
    // Six hours apart is not three in ten minutes; two bursts two hours
    // apart are two incidents, the cooldown of an hour long over.
    assert_eq!(
        outcome.stdout_text(),
        failure("2025-06-01T02:00:20Z", "10.0.0.2") + &failure("2025-06-01T04:00:20Z", "10.0.0.2"),
        "{}",
        outcome.stderr
    );
    assert!(
        summary(&outcome).contains("2 would trigger, 0 matched without a timestamp"),
        "{}",
        summary(&outcome)
    );
    // By arrival, the whole file falls in one window: what it did before.
    let by_arrival = dry_run(&sandbox, &[&rule[..], &["--time", "arrival"]].concat(), &[]);
    assert_eq!(
        by_arrival.stdout_text(),
        failure("2025-06-01T02:00:20Z", "10.0.0.2") + &failure("2025-06-01T12:00:00Z", "10.0.0.1"),
    );
    assert!(
        !summary(&by_arrival).contains("without a timestamp"),
        "{}",
        summary(&by_arrival)
    );
}

/// Records the key and the line's time of each run.
const RECORD: &str = r#"sh -c 'echo "$LOGS2ECA_KEY $LOGS2ECA_MATCH_TIME" >> runs.txt'"#;
const STATE: &str = "state/state.json";

fn start_recording(sandbox: &Sandbox) -> Daemon {
    Daemon::start(
        sandbox,
        [
            "-l",
            LOG,
            "-p",
            PATTERN,
            "-c",
            RECORD,
            "--key",
            "ip",
            "--threshold",
            "3/10m",
            "-w",
            "1h",
            "--state-file",
            STATE,
        ],
    )
}

fn stop(mut daemon: Daemon) {
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).code(), Some(0));
}

/// Appends three failures of a sentinel address and returns the runs once
/// its own is among them: nothing before it in the log ran unseen.
fn runs_up_to_sentinel(sandbox: &Sandbox, time: &str) -> Vec<String> {
    for _ in 0..3 {
        sandbox.append(LOG, failure(time, "10.9.9.9"));
    }
    wait_until("the sentinel's run", || {
        let text = sandbox.read("runs.txt")?;
        text.contains("10.9.9.9")
            .then(|| text.lines().map(String::from).collect())
    })
}

#[test]
fn a_restart_backlog_triggers_what_the_lines_times_say() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write(LOG, "");
    let daemon = start_recording(&sandbox);
    // Live: the first failure of .1, and .2's first burst, which runs.
    sandbox.append(LOG, failure("2025-06-01T00:00:00Z", "10.0.0.1"));
    for time in ["02:00:00", "02:00:10", "02:00:20"] {
        sandbox.append(LOG, failure(&format!("2025-06-01T{time}Z"), "10.0.0.2"));
    }
    assert_eq!(
        sandbox.wait_for_lines("runs.txt", 1),
        ["10.0.0.2 2025-06-01T02:00:20Z"]
    );
    stop(daemon);
    // While it is down, the rest of the log is written.
    for time in ["04:00:00", "04:00:10", "04:00:20"] {
        sandbox.append(LOG, failure(&format!("2025-06-01T{time}Z"), "10.0.0.2"));
    }
    sandbox.append(LOG, failure("2025-06-01T06:00:00Z", "10.0.0.1"));
    sandbox.append(LOG, failure("2025-06-01T12:00:00Z", "10.0.0.1"));
    let _daemon = start_recording(&sandbox);
    // The saved cooldown of .2 ended at 03:00 by the lines' time: its
    // second burst runs; .1's saved window (00:00) and its backlog (06:00,
    // 12:00) are three failures over twelve hours: nothing.
    assert_eq!(
        runs_up_to_sentinel(&sandbox, "2025-06-01T13:00:00Z"),
        [
            "10.0.0.2 2025-06-01T02:00:20Z",
            "10.0.0.2 2025-06-01T04:00:20Z",
            "10.9.9.9 2025-06-01T13:00:00Z",
        ]
    );
}

#[test]
fn a_daemon_stopped_fed_the_log_and_started_replays_it_as_written() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write(LOG, "");
    stop(start_recording(&sandbox));
    sandbox.append(LOG, sshd_log());
    let _daemon = start_recording(&sandbox);
    assert_eq!(
        runs_up_to_sentinel(&sandbox, "2025-06-01T13:00:00Z"),
        [
            "10.0.0.2 2025-06-01T02:00:20Z",
            "10.0.0.2 2025-06-01T04:00:20Z",
            "10.9.9.9 2025-06-01T13:00:00Z",
        ]
    );
}

#[test]
fn once_runs_with_a_state_file_judge_failures_hours_apart_by_their_times() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.path("state")).unwrap();
    sandbox.write(LOG, "");
    let cron = |sandbox: &Sandbox| {
        let outcome = run(
            sandbox,
            &[
                "--once",
                "-l",
                LOG,
                "-p",
                PATTERN,
                "-c",
                RECORD,
                "--key",
                "ip",
                "--threshold",
                "3/10m",
                "--state-file",
                STATE,
            ],
            &[],
        );
        assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    };
    // Three cron runs, each finding one failure of .1, four hours apart.
    for time in ["00:00:00", "04:00:00", "08:00:00"] {
        sandbox.append(LOG, failure(&format!("2025-06-01T{time}Z"), "10.0.0.1"));
        cron(&sandbox);
    }
    for _ in 0..3 {
        sandbox.append(LOG, failure("2025-06-01T09:00:00Z", "10.9.9.9"));
    }
    cron(&sandbox);
    assert_eq!(
        sandbox.read("runs.txt").unwrap(),
        "10.9.9.9 2025-06-01T09:00:00Z\n"
    );
}

#[test]
fn syslog_timestamps_across_new_year_keep_their_order() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        [
            "Dec 31 23:59:50 host sshd[1]: Failed password for root from 10.0.0.3 port 22",
            "Jan  1 00:00:05 host sshd[1]: Failed password for root from 10.0.0.3 port 22",
            "Jan  1 00:00:20 host sshd[1]: Failed password for root from 10.0.0.3 port 22",
        ]
        .join("\n")
            + "\n",
    );
    let outcome = dry_run(
        &sandbox,
        &[
            "--json",
            "--key",
            "ip",
            "--threshold",
            "3/1m",
            "--time-zone",
            "UTC",
        ],
        &[],
    );
    // Thirty seconds from first to last across the year's end: three
    // within a minute.
    let times = json_times(&outcome);
    assert_eq!(times.len(), 1, "{times:?}");
    assert!(times[0].ends_with("-01-01T00:00:20Z"), "{times:?}");
    let year = |time: &str| time[..4].parse::<i32>().unwrap();
    // The December line is the year before: one second past the window
    // would have split them, a year's mistake certainly.
    let december = dry_run(
        &sandbox,
        &["--json", "-p", "/Dec 31/", "--time-zone", "UTC"],
        &[],
    );
    let december = json_times(&december);
    assert_eq!(december.len(), 1, "{december:?}");
    assert!(december[0].ends_with("-12-31T23:59:50Z"), "{december:?}");
    assert_eq!(year(&december[0]) + 1, year(&times[0]));
}

#[test]
fn a_timestamp_without_a_zone_is_in_the_time_zone_given_or_the_local_one() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "2025-06-01 10:00:00,250 ERROR a\n2025-06-01 10:00:00+02:00 ERROR b\n",
    );
    let times = |extra: &[&str], env: &[(&str, &str)]| {
        let outcome = run(
            &sandbox,
            &[
                &["--once", "-n", "--json", "-l", LOG, "-p", "ERROR"][..],
                extra,
            ]
            .concat(),
            env,
        );
        assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
        json_times(&outcome)
    };
    // Without --time-zone: the local zone (TZ here).
    assert_eq!(
        times(&[], &[("TZ", "Asia/Tokyo")]),
        ["2025-06-01T01:00:00.25Z", "2025-06-01T08:00:00Z"]
    );
    assert_eq!(
        times(
            &["--time-zone", "America/New_York"],
            &[("TZ", "Asia/Tokyo")]
        ),
        ["2025-06-01T14:00:00.25Z", "2025-06-01T08:00:00Z"],
        "New York is four hours behind UTC in June; a line's own zone wins"
    );
    assert_eq!(
        times(&[], &[("LOGS2ECA_TIME_ZONE", "+05:30")]),
        ["2025-06-01T04:30:00.25Z", "2025-06-01T08:00:00Z"]
    );
    let bad = run(
        &sandbox,
        &[
            "--once",
            "-n",
            "-l",
            LOG,
            "-p",
            "ERROR",
            "--time-zone",
            "Mars/Olympus",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        bad.stderr
            .starts_with("logs2eca: invalid --time-zone 'Mars/Olympus'"),
        "{}",
        bad.stderr
    );
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
}

#[test]
fn a_line_stamped_ahead_of_the_clock_is_taken_at_its_arrival_with_one_warning() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "2099-01-01T00:00:00Z ERROR a\n2099-01-01T00:00:01Z ERROR b\n",
    );
    let before = this_year();
    let outcome = dry_run(&sandbox, &["--json", "-p", "ERROR"], &[]);
    let times = json_times(&outcome);
    assert_eq!(times.len(), 2);
    for time in &times {
        let year: i32 = time[..4].parse().unwrap();
        assert!(year <= before + 1, "{time} was not clamped to the clock");
    }
    let warnings: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("ahead of the clock"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(warnings[0].contains("--time-zone"), "{}", warnings[0]);
}

/// This year by the system clock, give or take a day.
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    1970 + (secs / 31_556_952) as i32
}

#[test]
fn a_stack_traces_lines_take_the_time_of_the_line_before() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "2025-06-01 10:00:00 ERROR request failed\n\
         java.lang.IllegalStateException: boom\n\
         \tat com.example.Db.query(Db.java:42)\n\
         \tat com.example.Api.get(Api.java:7)\n\
         2025-06-01 10:05:00 INFO recovered\n\
         \tat com.example.Db.query(Db.java:42)\n",
    );
    let outcome = dry_run(
        &sandbox,
        &["--json", "-p", "com.example.Db", "--time-zone", "UTC"],
        &[],
    );
    assert_eq!(
        json_times(&outcome),
        ["2025-06-01T10:00:00Z", "2025-06-01T10:05:00Z"]
    );
    assert!(
        summary(&outcome).contains("2 matched without a timestamp"),
        "{}",
        summary(&outcome)
    );
}

#[test]
fn a_format_finds_the_time_where_the_log_writes_it() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "app[7] 01.06.2025 10:00:00 ERROR a\napp[7] 01.06.2025 10:00:30 ERROR b\n",
    );
    let outcome = dry_run(
        &sandbox,
        &[
            "--json",
            "-p",
            "ERROR",
            "--time",
            "%d.%m.%Y %H:%M:%S",
            "--time-zone",
            "UTC",
        ],
        &[],
    );
    assert_eq!(
        json_times(&outcome),
        ["2025-06-01T10:00:00Z", "2025-06-01T10:00:30Z"]
    );
    for bad in ["sometimes", "%H:%M:%S"] {
        let outcome = run(
            &sandbox,
            &["--once", "-n", "-l", LOG, "-p", "ERROR", "--time", bad],
            &[],
        );
        assert_eq!(outcome.status.code(), Some(2), "{bad}");
        assert!(
            outcome.stderr.starts_with("logs2eca: invalid --time"),
            "{}",
            outcome.stderr
        );
    }
}
