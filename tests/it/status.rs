//! Seeing what it does (SPEC §12): the `STATUS=` line as the service
//! manager receives it, `logs2eca status` on the state file of a running
//! and of a stopped daemon, and the metrics file (checked by promtool when
//! it is installed), which, like everything else, does not wake an idle
//! daemon.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{
    COMMAND_EXITED, Daemon, LOG, Sandbox, TIMEOUT, bin, clean_command, context_switches, poll,
    wait_until,
};

/// A command that runs until the file `release` exists (20 s at most).
const UNTIL_RELEASED: &str =
    "n=0; while [ ! -e release ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done";

#[test]
fn the_status_line_follows_waiting_following_a_trigger_a_long_command_and_a_rotation() {
    let sandbox = Sandbox::new();
    let command = format!("sh -c '{UNTIL_RELEASED}'");
    let mut daemon = Daemon::builder(&sandbox)
        .args(["-l", LOG, "-p", "ERROR", "-w", "0", "-c", &command])
        .spawn_unready();
    let ready = daemon.expect_notify("READY=1");
    assert!(
        ready.contains(&format!("STATUS=waiting for {LOG}; no trigger yet")),
        "{ready}"
    );

    // The file appears: no event of ours follows, and yet the line says so
    // (a change within the second after READY goes out when it is over).
    sandbox.write(LOG, "");
    daemon.expect_status("following at offset 0", |s| {
        s.starts_with(&format!("following {LOG} at offset 0;"))
    });

    sandbox.append(LOG, "ERROR one\n");
    let running = daemon.expect_status("a trigger, its command running", |s| {
        s.contains("1 trigger(s), last at ") && s.contains("command running since ")
    });
    assert!(
        running.starts_with(&format!("following {LOG} at offset 10;")),
        "{running}"
    );
    let since = running.split("command running since ").nth(1).unwrap();
    assert!(
        since.starts_with("20") && since.ends_with('Z'),
        "a UTC time: {running}"
    );

    sandbox.write("release", "");
    daemon.wait_for_log(&[COMMAND_EXITED]);
    daemon.expect_status("the command ended", |s| {
        s.contains("1 trigger(s)") && !s.contains("running")
    });

    // logrotate's create: the old file is renamed, a new one made.
    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR two\n");
    let rotated = daemon.expect_status("the new file, a second trigger", |s| {
        s.contains("2 trigger(s)") && s.contains(&format!("following {LOG} at offset 10 "))
    });
    assert!(
        rotated.contains("(+1 rotated file(s) being finished)"),
        "{rotated}"
    );
}

#[test]
fn the_status_line_of_a_stream_counts_its_bytes_and_a_dry_run_says_printed() {
    use std::io::Write as _;
    let sandbox = Sandbox::new();
    let mut daemon = Daemon::builder(&sandbox)
        .args(["-l", "-", "-p", "ERROR", "-n"])
        .stdin(std::process::Stdio::piped())
        .spawn_unready();
    let ready = daemon.expect_notify("READY=1");
    assert!(
        ready.contains("STATUS=reading standard input, 0 bytes so far; no trigger yet"),
        "{ready}"
    );
    let mut input = daemon.take_stdin().unwrap();
    input.write_all(b"INFO quiet\nERROR one\n").unwrap();
    assert_eq!(daemon.next_line(), "ERROR one");
    daemon.expect_status("the bytes and the line printed", |s| {
        s.starts_with("reading standard input, 21 bytes so far; 1 line(s) printed, last at ")
    });
}

/// `logs2eca status ARGS` in the sandbox: its stdout, or a panic with its
/// stderr.
#[track_caller]
fn status(sandbox: &Sandbox, args: &[&str]) -> String {
    let out = clean_command(bin())
        .current_dir(sandbox.root())
        .arg("status")
        .args(args)
        .output()
        .expect("run logs2eca status");
    assert!(
        out.status.success(),
        "logs2eca status {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status_json(sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let text = status(sandbox, &args);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

fn key<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == name)
        .unwrap_or_else(|| panic!("no key {name} in {report}"))
}

#[test]
fn status_reads_the_state_of_a_running_daemon_and_of_a_stopped_one() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    // Key d's command ends at once (then it cools down for an hour); the
    // others' run until released.
    let command = format!(r#"sh -c 'case "$LOGS2ECA_KEY" in d) exit 0;; esac; {UNTIL_RELEASED}'"#);
    let args = [
        "-l",
        LOG,
        "-p",
        r"/ERROR (\w+)/",
        "--key",
        "1",
        "--threshold",
        "2/1h",
        "-w",
        "1h",
        "--max-running",
        "1",
        "--state-file",
        "state.json",
        "-c",
        &command,
    ];
    let mut daemon = Daemon::start(&sandbox, args);
    sandbox.append(LOG, "ERROR d\nERROR d\n");
    daemon.wait_for_log(&[COMMAND_EXITED]);
    // b runs, c waits for the one slot, a counts.
    sandbox.append(LOG, "ERROR b\nERROR b\nERROR c\nERROR c\nERROR a\n");
    let size = fs::metadata(sandbox.log()).unwrap().len();
    let report = wait_until("a state with every key and the held trigger", || {
        // The first save is written by its own thread, a moment after the
        // spawn that made it due: there may be no state yet.
        if !sandbox.root().join("state.json").exists() {
            return None;
        }
        let report = status_json(&sandbox, &["./state.json"]);
        (report["keys_tracked"] == 4
            && report["held"]["triggers"] == 1
            && report["current"]["offset"] == size)
            .then_some(report)
    });
    assert_eq!(report["daemon"]["running"], true, "{report}");
    assert_eq!(report["daemon"]["pid"], daemon.pid(), "{report}");
    assert_eq!(report["lag_bytes"], 0, "{report}");
    assert_eq!(report["settings"]["threshold"], 2, "{report}");
    let (a, b, c, d) = (
        key(&report, "a"),
        key(&report, "b"),
        key(&report, "c"),
        key(&report, "d"),
    );
    assert_eq!(a["in_window"], 1, "{a}");
    assert_eq!(
        (&a["running"], &a["cooldown_left_seconds"]),
        (&false.into(), &Value::Null)
    );
    assert_eq!(b["running"], true, "{b}");
    assert_eq!(c["held"], 1, "{c}");
    assert_eq!(report["held"]["lines"][0], "ERROR c", "{report}");
    let left = d["cooldown_left_seconds"].as_f64().unwrap();
    assert!(left > 3000.0 && left <= 3600.0, "{d}");
    assert_eq!(d["running"], false, "{d}");
    let bounded = status_json(&sandbox, &["./state.json", "--keys", "2"]);
    assert_eq!(bounded["keys"].as_array().unwrap().len(), 2, "{bounded}");
    assert_eq!(bounded["keys_tracked"], 4);

    let text = status(&sandbox, &["./state.json"]);
    assert!(
        text.contains(&format!("daemon     running (pid {})", daemon.pid())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "at offset {size} of {size} (0 byte(s) not read yet)"
        )),
        "{text}"
    );
    let row = |name: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"));
        line.split_whitespace().map(String::from).collect()
    };
    assert_eq!(row("a")[1..], ["1", "-", "no", "0", "0"], "{text}");
    assert_eq!(row("b")[3], "yes", "{text}");
    assert_eq!(row("c").last().unwrap(), "1", "{text}");
    assert!(
        row("d")[2].ends_with('m') || row("d")[2].contains('m'),
        "{text}"
    );

    // Stopped: the last save is still read, and the cooldown still holds.
    // b's command still runs: asked again, the stop does not wait for it.
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log(&["letting the running command(s) finish"]);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(TIMEOUT).success());
    let stopped = status_json(&sandbox, &["./state.json"]);
    assert_eq!(stopped["daemon"]["running"], false, "{stopped}");
    assert!(
        key(&stopped, "d")["cooldown_left_seconds"]
            .as_f64()
            .unwrap()
            > 3000.0
    );
    let text = status(&sandbox, &["./state.json"]);
    assert!(text.contains("daemon     not running"), "{text}");
}

#[test]
fn status_of_a_missing_state_names_it_and_a_bare_name_is_a_monitor() {
    let sandbox = Sandbox::new();
    let out = clean_command(bin())
        .current_dir(sandbox.root())
        .args(["status", "no-such-monitor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "logs2eca: cannot read the state file /var/lib/logs2eca/no-such-monitor/state.json"
        ) && err.contains("write ./no-such-monitor for a file here")
            && err.lines().count() == 1,
        "{err}"
    );
    let out = clean_command(bin())
        .current_dir(sandbox.root())
        .args(["status", "--keys", "many", "./x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The value of the series `name{labels...}` whose labels include `with`.
fn metric(text: &str, name: &str, with: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(with))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} with {with} in\n{text}"))
}

fn commands(text: &str, result: &str) -> f64 {
    metric(
        text,
        "logs2eca_commands_total",
        &format!("result=\"{result}\""),
    )
}

/// `promtool check metrics` on `path`, if promtool is installed.
fn promtool_check(path: &Path) {
    let Ok(input) = fs::File::open(path) else {
        panic!("no {}", path.display());
    };
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(input)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => eprintln!("promtool not run ({err}): install Debian's prometheus package"),
    }
}

#[test]
fn the_metrics_file_counts_what_happened_and_promtool_accepts_it() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let command =
        r#"sh -c 'case "$LOGS2ECA_MATCH_LINE" in *fail*) exit 3;; *slow*) exec sleep 30;; esac'"#;
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-x",
        "ignored",
        "-w",
        "0",
        "--timeout",
        "1s",
        "--metrics-file",
        "m.prom",
        "-c",
        command,
    ];
    let daemon = Daemon::start(&sandbox, args);
    let path = sandbox.path("m.prom");
    // Written at start, before anything happened.
    let first = fs::read_to_string(&path).unwrap();
    assert_eq!(metric(&first, "logs2eca_lines_total", "monitor=\"m\""), 0.0);
    promtool_check(&path);

    let lines = "ERROR ok\nnoise\nERROR fail\nERROR ignored\nERROR slow\n";
    sandbox.append(LOG, lines);
    let text = wait_until("three commands ended", || {
        let text = fs::read_to_string(&path).ok()?;
        (commands(&text, "timeout") == 1.0).then_some(text)
    });
    let label = format!("log=\"{LOG}\"");
    let m = |name: &str| metric(&text, name, &label);
    assert_eq!(m("logs2eca_lines_total"), 5.0);
    assert_eq!(m("logs2eca_bytes_total"), lines.len() as f64);
    assert_eq!(m("logs2eca_matches_total"), 3.0);
    assert_eq!(m("logs2eca_excluded_total"), 1.0);
    assert_eq!(m("logs2eca_triggers_total"), 3.0);
    assert_eq!(m("logs2eca_suppressed_total"), 0.0);
    assert_eq!(m("logs2eca_rotations_total"), 0.0);
    assert_eq!(m("logs2eca_commands_running"), 0.0);
    assert_eq!(m("logs2eca_queue_depth"), 0.0);
    assert_eq!(m("logs2eca_lag_bytes"), 0.0);
    assert_eq!(
        (commands(&text, "ok"), commands(&text, "failed")),
        (1.0, 1.0)
    );
    assert_eq!(commands(&text, "killed"), 0.0);
    assert_eq!(m("logs2eca_command_duration_seconds_count"), 3.0);
    let slow = metric(
        &text,
        "logs2eca_command_duration_seconds_bucket",
        "le=\"0.5\"",
    );
    assert_eq!(slow, 2.0, "the timed-out command took over a second");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = m("logs2eca_start_time_seconds");
    let last = m("logs2eca_last_trigger_time_seconds");
    assert!(
        started <= last && last <= now && now - started < 600.0,
        "{text}"
    );
    promtool_check(&path);

    fs::rename(sandbox.log(), sandbox.path("logs/app.log.1")).unwrap();
    sandbox.write(LOG, "ERROR ok again\n");
    let text = wait_until("the rotation and a fourth command", || {
        let text = fs::read_to_string(&path).ok()?;
        (commands(&text, "ok") == 2.0).then_some(text)
    });
    assert_eq!(metric(&text, "logs2eca_rotations_total", &label), 1.0);
    assert_eq!(metric(&text, "logs2eca_triggers_total", &label), 4.0);
    drop(daemon);

    // A command still running when logs2eca stops is counted as killed,
    // in the file's last version.
    // Under the units' UMask=0077 the file is still one a collector's
    // user can read.
    let mut daemon = Daemon::builder(&sandbox)
        .wrapper(["sh", "-c", "umask 077; exec \"$0\" \"$@\""])
        .args(["-l", LOG, "-p", "ERROR", "--metrics-file", "m.prom"])
        .args(["-c", "sleep 30"])
        .start();
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    sandbox.append(LOG, "ERROR slow\n");
    wait_until("the command running", || {
        let text = fs::read_to_string(&path).ok()?;
        (metric(&text, "logs2eca_commands_running", "") == 1.0).then_some(())
    });
    // Asked twice, the stop does not wait for the command (its grace).
    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log(&["letting the running command(s) finish"]);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(TIMEOUT).success());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(commands(&text, "killed"), 1.0, "{text}");
    assert_eq!(metric(&text, "logs2eca_commands_running", ""), 0.0);
    promtool_check(&path);
}

#[test]
fn an_idle_daemon_with_a_metrics_file_does_not_wake_up() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let args = [
        "-l",
        LOG,
        "-p",
        "ERROR",
        "-w",
        "0",
        "--metrics-file",
        "m.prom",
        "--state-file",
        "state.json",
        "-c",
        "true",
    ];
    let daemon = Daemon::start(&sandbox, args);
    let path = sandbox.path("m.prom");
    sandbox.append(LOG, "ERROR once\n");
    wait_until("the command's end in the metrics", || {
        let text = fs::read_to_string(&path).ok()?;
        (commands(&text, "ok") == 1.0).then_some(())
    });

    // Whatever follows a line (a save within a second, a status line held
    // for the end of its second) is over once nothing changes for longer
    // than that (bounded).
    let pid = daemon.pid();
    let mut last = context_switches(pid);
    poll(Duration::from_secs(10), || {
        thread::sleep(Duration::from_millis(1_500));
        let now = context_switches(pid);
        let settled = now == last;
        last = now;
        settled.then_some(())
    })
    .expect("the daemon never settled");

    // A measurement window, not synchronisation.
    let written = fs::metadata(&path).unwrap().modified().unwrap();
    let before = context_switches(pid);
    thread::sleep(Duration::from_secs(2));
    let after = context_switches(pid);
    assert_eq!(after - before, 0, "context switches while idle");
    assert_eq!(
        fs::metadata(&path).unwrap().modified().unwrap(),
        written,
        "the metrics file was written while idle"
    );
}

#[test]
fn the_readme_alert_rules_are_valid_and_name_our_metrics() {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```yaml\ngroups:")
        .expect("the alert rules in the README")
        + "```yaml\n".len();
    let rules = &readme[start..start + readme[start..].find("```").unwrap()];
    for metric in [
        "logs2eca_triggers_total",
        "logs2eca_commands_total",
        "logs2eca_lag_bytes",
    ] {
        assert!(rules.contains(metric), "{metric} in\n{rules}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    fs::write(&path, rules).unwrap();
    match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => eprintln!("promtool not run ({err}): install Debian's prometheus package"),
    }
}

#[test]
fn check_names_a_metrics_file_a_start_could_not_write() {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "");
    let check = |metrics: &str| {
        clean_command(bin())
            .current_dir(sandbox.root())
            .args(["--check", "-l", LOG, "-p", "ERROR", "-c", "true"])
            .args(["--metrics-file", metrics])
            .output()
            .unwrap()
    };
    let out = check("m.prom");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("m.prom: its directory is writable"), "{text}");

    let out = check("no/such/dir/m.prom");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .last()
            .unwrap_or_default()
            .starts_with("logs2eca: cannot write the metrics file ")
            && err.contains("no/such/dir: No such file or directory"),
        "{err}"
    );
    // And a start says the same.
    let out = clean_command(bin())
        .current_dir(sandbox.root())
        .args(["-l", LOG, "-p", "ERROR", "-c", "true"])
        .args(["--metrics-file", "no/such/dir/m.prom"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("logs2eca: cannot write the metrics file"),
        "{err}"
    );
}
