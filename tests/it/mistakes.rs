//! The mistakes a new user makes first, each caught or made impossible
//! (SPEC §1, §2, §9): one test per mistake, each showing what is said
//! and what exit status follows.

use crate::common::{Daemon, LOG, Sandbox, run};

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR already there\n");
    sandbox
}

/// Mistake 7: systemd time spans are DURATIONs everywhere, also inside
/// `--threshold`, whose error names the whole value.
#[test]
fn systemd_time_spans_are_durations() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &[
            "--check",
            "-l",
            LOG,
            "-p",
            "ERROR",
            "-c",
            "true",
            "-w",
            "10min",
            "--timeout",
            "2h 30min",
            "--threshold",
            "5/1m30s",
            "--poll",
            "1week",
        ],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    let bad = run(
        &sandbox,
        &[
            "--check",
            "-l",
            LOG,
            "-p",
            "ERROR",
            "-c",
            "true",
            "--threshold",
            "5/1m30x",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        bad.stderr.contains("'5/1m30x'") && bad.stderr.contains("'1m30x'"),
        "{}",
        bad.stderr
    );
}

/// The report line of `flag`, its words joined by single spaces.
fn report_line(report: &str, flag: &str) -> String {
    report
        .lines()
        .find(|l| l.starts_with(&format!("{flag} ")))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("{flag} is not in the report:\n{report}"))
}

/// The warnings of a run: stderr lines with WARN.
fn warnings(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("WARN")).collect()
}

/// Mistake 1: What people type into grep is a literal here: each gets a warning
/// with the delimited form to use, `--literal` silences it, and the
/// check and the start-up line say which one the pattern was read as.
#[test]
fn a_literal_with_regex_syntax_is_named_with_the_form_to_use() {
    let sandbox = sandbox();
    for pattern in [
        "ERROR|FATAL",
        "(ERROR|FATAL)",
        "ERROR [A-Z]+",
        r"\[error\]",
        "E(RROR|rror)",
        "ERROR*",
    ] {
        let check = run(
            &sandbox,
            &["--check", "-l", LOG, "-p", pattern, "-c", "true"],
            &[],
        );
        assert_eq!(check.status.code(), Some(0), "{pattern}: {}", check.stderr);
        let warned = warnings(&check.stderr);
        assert_eq!(warned.len(), 1, "{pattern}: {}", check.stderr);
        assert!(
            warned[0].contains(&format!("'/{pattern}/'")) && warned[0].contains("--literal"),
            "{pattern}: {}",
            warned[0]
        );
        assert_eq!(
            report_line(&check.stdout_text(), "--pattern"),
            format!("--pattern literal \"{pattern}\" [flag]")
        );
        let literal = run(
            &sandbox,
            &[
                "--check",
                "--literal",
                "-l",
                LOG,
                "-p",
                pattern,
                "-c",
                "true",
            ],
            &[],
        );
        assert_eq!(literal.status.code(), Some(0));
        assert_eq!(literal.stderr, "", "{pattern} with --literal");
    }
    // Text that logs hold is no regex syntax.
    for pattern in ["[error]", "10.0.0.1", "(null)", "disk 95.5% full"] {
        let check = run(
            &sandbox,
            &["--check", "-l", LOG, "-p", pattern, "-c", "true"],
            &[],
        );
        assert_eq!(check.stderr, "", "{pattern}");
    }
    let dry = run(
        &sandbox,
        &["--once", "-n", "-l", LOG, "-p", "/ERROR|FATAL/"],
        &[],
    );
    assert!(
        dry.stderr.contains("on lines matching regex /ERROR|FATAL/")
            && dry.stderr.contains("the pattern is regex /ERROR|FATAL/"),
        "{}",
        dry.stderr
    );
}

/// The variables `env` prints, `NAME=value` with `\\`, `\n` and `\t`
/// escaped, sorted: as the fixture holds systemd's.
fn escaped_env(nul_separated: &[u8], prefix: &str) -> Vec<String> {
    let mut entries: Vec<String> = nul_separated
        .split(|&b| b == 0)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .filter(|e| e.starts_with(prefix))
        .map(|e| {
            e.replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\t', "\\t")
        })
        .collect();
    entries.sort();
    entries
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/envfile")
        .join(name)
}

/// Mistake 2: `--check --env-file FILE` reads the env file as systemd does, where
/// a shell would run its words: the command is one value, and the
/// command gets every variable of the file with the values a real systemd
/// gives (the fixture, checked against systemd in CI). Precedence: a flag
/// over the file, the file over the environment.
#[test]
fn env_files_are_read_as_systemd_reads_them() {
    let sandbox = sandbox();
    sandbox.write(
        "myapp.env",
        "# Settings of logs2eca@myapp.service\n\
         LOGS2ECA_LOG_FILE=logs/app.log\n\
         LOGS2ECA_EVENT_PATTERN='/ERROR|FATAL \\d+/'\n\
         LOGS2ECA_COMMAND=touch ran restart myapp\n\
         LOGS2ECA_WAIT=5min\n\
         LOGS2ECA_TIMEOUT=30\n\
         LOGS2ECA_EXCLUDE_PATTERN=\n",
    );
    let check = run(
        &sandbox,
        &["--check", "--env-file", "myapp.env", "-t", "10"],
        &[("LOGS2ECA_WAIT", "7"), ("LOGS2ECA_MAX_KEYS", "77")],
    );
    assert_eq!(check.status.code(), Some(0), "{}", check.stderr);
    assert_eq!(check.stderr, "");
    let report = check.stdout_text();
    let line = |flag| report_line(&report, flag);
    assert_eq!(
        line("--command"),
        r#"--command ["touch", "ran", "restart", "myapp"] [env file myapp.env:4 LOGS2ECA_COMMAND]"#
    );
    assert_eq!(
        line("--pattern"),
        r"--pattern regex /ERROR|FATAL \d+/ [env file myapp.env:3 LOGS2ECA_EVENT_PATTERN]"
    );
    // The file over the environment, a flag over the file.
    assert_eq!(
        line("--wait"),
        "--wait 5min [env file myapp.env:5 LOGS2ECA_WAIT]"
    );
    assert_eq!(line("--timeout"), "--timeout 10s [flag]");
    assert_eq!(
        line("--max-keys"),
        "--max-keys 77 [environment LOGS2ECA_MAX_KEYS]"
    );
    assert!(!sandbox.path("ran").exists(), "--check ran the command");

    // The command's environment is what systemd would have given it.
    let outcome = run(
        &sandbox,
        &[
            "--once",
            "--env-file",
            fixture("systemd.env").to_str().unwrap(),
            "-l",
            LOG,
            "-p",
            "ERROR",
            "-c",
            "sh -c 'env -0 > env.out'",
        ],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    let got = escaped_env(&std::fs::read(sandbox.path("env.out")).unwrap(), "ENVFILE_");
    let expected = std::fs::read_to_string(fixture("expected.txt")).unwrap();
    let mut expected: Vec<&str> = expected.lines().collect();
    expected.sort();
    assert_eq!(got, expected);
    // The lines systemd ignores are named.
    assert!(
        outcome
            .stderr
            .contains("systemd.env:35: 'export ENVFILE_EXPORTED'"),
        "{}",
        outcome.stderr
    );
}

/// Mistake 3: What the daemon received is shown: systemd removes backslashes
/// outside quotes, and the check shows the pattern and the command as
/// they came out (and warns, when it reads the env file itself).
#[test]
fn values_are_shown_as_the_daemon_received_them() {
    let sandbox = sandbox();
    // As systemd hands them over from `%FATAL \d+%` and the quick start's
    // printf, unquoted in an env file.
    let check = run(
        &sandbox,
        &["--check", "-l", LOG],
        &[
            ("LOGS2ECA_EVENT_PATTERN", "%FATAL d+%"),
            ("LOGS2ECA_COMMAND", "printf 'got %sn' x"),
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", check.stderr);
    let report = check.stdout_text();
    assert_eq!(
        report_line(&report, "--pattern"),
        "--pattern regex /FATAL d+/ [environment LOGS2ECA_EVENT_PATTERN]"
    );
    assert_eq!(
        report_line(&report, "--command"),
        r#"--command ["printf", "got %sn", "x"] [environment LOGS2ECA_COMMAND]"#
    );
    sandbox.write(
        "app.env",
        "LOGS2ECA_EVENT_PATTERN=%FATAL \\d+%\nLOGS2ECA_COMMAND=printf 'got %s\\n' x\n",
    );
    let check = run(
        &sandbox,
        &["--check", "--env-file", "app.env", "-l", LOG],
        &[],
    );
    assert_eq!(check.status.code(), Some(0), "{}", check.stderr);
    assert!(
        report_line(&check.stdout_text(), "--pattern").contains("regex /FATAL d+/"),
        "{}",
        check.stdout_text()
    );
    let warned = warnings(&check.stderr);
    assert!(
        warned.iter().any(|w| w.contains("app.env:1")
            && w.contains("LOGS2ECA_EVENT_PATTERN is '%FATAL d+%'")
            && w.contains("single quotes")),
        "{}",
        check.stderr
    );
}

/// Mistake 4: A value in matching quotes (docker's `--env-file` keeps them) is
/// warned about, whatever the setting: a quoted path is a relative name
/// that never appears. `--strict` makes the warning an error.
#[test]
fn a_value_in_quotes_is_warned_about() {
    let sandbox = sandbox();
    let env = [
        ("LOGS2ECA_LOG_FILE", "\"/tmp/x.log\""),
        ("LOGS2ECA_EVENT_PATTERN", "ERROR"),
        ("LOGS2ECA_COMMAND", "true"),
        ("LOGS2ECA_EXCLUDE_PATTERN", "'debug'"),
    ];
    let check = run(&sandbox, &["--check"], &env);
    let warned = warnings(&check.stderr);
    assert_eq!(warned.len(), 2, "{}", check.stderr);
    assert!(
        warned[0]
            .contains("--logfile \"/tmp/x.log\" (from LOGS2ECA_LOG_FILE) is wrapped in \" quotes"),
        "{}",
        warned[0]
    );
    assert!(warned[1].contains("--exclude 'debug'"), "{}", warned[1]);
    let strict = run(&sandbox, &["--check", "--strict"], &env);
    assert_eq!(strict.status.code(), Some(2), "{}", strict.stderr);
    assert!(
        strict
            .stderr
            .lines()
            .last()
            .unwrap_or_default()
            .contains("--strict"),
        "{}",
        strict.stderr
    );
}

/// Runs logs2eca as `nobody` when the tests run as root, so that file
/// permissions apply.
fn run_unprivileged(sandbox: &Sandbox, args: &[&str]) -> crate::common::Outcome {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return run(sandbox, args, &[]);
    }
    std::fs::set_permissions(sandbox.root(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = crate::common::clean_command("setpriv");
    cmd.current_dir(sandbox.root())
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(crate::common::bin())
        .args(args);
    crate::common::run_to_completion(cmd)
}

/// Mistake 5: `--check` tells the truth: the exit status of a start (1 for an
/// unreadable file, a directory, a state directory it cannot write; 2 for
/// a configuration error), the effective defaults, only settings, the
/// command as argv words, how many of the file's last 10,000 lines match.
#[test]
fn check_exits_as_a_start_would_and_shows_what_is_in_effect() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = sandbox();
    let mut lines = String::from("ERROR old 1\nERROR old 2\n");
    for i in 0..10_000 {
        lines.push_str(if i % 1000 == 0 {
            "ERROR recent\n"
        } else {
            "INFO fine\n"
        });
    }
    sandbox.write(LOG, &lines);
    let clean = ["-l", LOG, "-p", "ERROR", "-c", "sh -c 'true'"];
    let ok = run(&sandbox, &[&["--check"][..], &clean].concat(), &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stderr);
    let report = ok.stdout_text();
    assert!(!report.contains("(unset)"), "{report}");
    assert_eq!(report_line(&report, "--wait"), "--wait 3s [default]");
    assert_eq!(
        report_line(&report, "--threshold"),
        "--threshold 1 (every match) [default]"
    );
    assert_eq!(
        report_line(&report, "--ignore-case"),
        "--ignore-case off [default]"
    );
    assert_eq!(report_line(&report, "--time"), "--time auto [default]");
    assert_eq!(
        report_line(&report, "--time-zone"),
        "--time-zone local (TZ, else /etc/localtime) [default]"
    );
    assert_eq!(
        report_line(&report, "--command"),
        r#"--command ["sh", "-c", "true"] [flag]"#
    );
    for not_a_setting in [
        "--once",
        "--json",
        "--dry-run",
        "--verbose",
        "--check",
        "--quiet",
    ] {
        assert!(
            !report
                .lines()
                .any(|l| l.starts_with(&format!("{not_a_setting} "))),
            "{not_a_setting} listed:\n{report}"
        );
    }
    assert!(
        report.contains("matches: 10 of its last 10000 lines match"),
        "{report}"
    );

    let dir = run(
        &sandbox,
        &["--check", "-l", "logs", "-p", "ERROR", "-c", "true"],
        &[],
    );
    assert_eq!(dir.status.code(), Some(1), "{}", dir.stderr);
    assert!(dir.stderr.contains("is a directory"), "{}", dir.stderr);

    sandbox.write("secret.log", "ERROR\n");
    std::fs::set_permissions(
        sandbox.path("secret.log"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let unreadable = run_unprivileged(
        &sandbox,
        &["--check", "-l", "secret.log", "-p", "ERROR", "-c", "true"],
    );
    assert_eq!(unreadable.status.code(), Some(1), "{}", unreadable.stderr);
    assert!(
        unreadable
            .stderr
            .lines()
            .last()
            .unwrap_or_default()
            .contains("secret.log"),
        "{}",
        unreadable.stderr
    );

    std::fs::create_dir(sandbox.path("state")).unwrap();
    std::fs::set_permissions(
        sandbox.path("state"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let state = run_unprivileged(
        &sandbox,
        &[&["--check", "--state-file", "state/state.json"][..], &clean].concat(),
    );
    assert_eq!(state.status.code(), Some(1), "{}", state.stderr);
    assert!(state.stderr.contains("state directory"), "{}", state.stderr);

    let bad = run(
        &sandbox,
        &["--check", "-l", LOG, "-p", "/(/", "-c", "true"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);

    let warned = run(
        &sandbox,
        &[
            "--check",
            "--strict",
            "-l",
            LOG,
            "-p",
            "ERROR|FATAL",
            "-c",
            "true",
        ],
        &[],
    );
    assert_eq!(warned.status.code(), Some(2), "{}", warned.stderr);
    assert!(
        warned.stdout_text().contains("--pattern"),
        "the report is printed too"
    );
}

/// Mistake 6: Misspelt variables are reported first, before the error about the
/// setting they were meant to give, each with the name meant: also the
/// names the flags suggest, and COOLDOWN is the WAIT, not the COMMAND.
#[test]
fn misspelt_variables_come_first_with_the_name_meant() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &[],
        &[
            ("LOGS2ECA_LOGFILE", LOG),
            ("LOGS2ECA_PATTERN", "ERROR"),
            ("LOGS2ECA_CMD", "true"),
            ("LOGS2ECA_COOLDOWN", "10"),
        ],
    );
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{}", outcome.stderr);
    let hints = [
        ("LOGS2ECA_CMD", "LOGS2ECA_COMMAND"),
        ("LOGS2ECA_COOLDOWN", "LOGS2ECA_WAIT"),
        ("LOGS2ECA_LOGFILE", "LOGS2ECA_LOG_FILE"),
        ("LOGS2ECA_PATTERN", "LOGS2ECA_EVENT_PATTERN"),
    ];
    for (line, (wrong, meant)) in lines.iter().zip(hints) {
        assert!(
            line.contains(wrong) && line.ends_with(&format!("did you mean {meant}?")),
            "{line}"
        );
    }
    assert!(
        lines[4].starts_with("logs2eca: missing --logfile"),
        "{}",
        lines[4]
    );

    // From an env file, the line is named.
    sandbox.write(
        "app.env",
        "LOGS2ECA_LOG_FILE=logs/app.log\n\nLOGS2ECA_COOLDOWN=10\n",
    );
    let outcome = run(&sandbox, &["--env-file", "app.env"], &[]);
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.stderr);
    assert!(
        outcome.stderr.lines().next().unwrap_or_default().contains(
            "LOGS2ECA_COOLDOWN (--env-file app.env:3) is ignored; did you mean LOGS2ECA_WAIT?"
        ),
        "{}",
        outcome.stderr
    );
}

/// Mistake 8: Log lines say what is true: the command as argv words, a trigger
/// with its key and count, one line (not one per key) for what a dry run's
/// cooldown suppressed, no "cooldown over" at a stop that keeps the
/// cooldown, no "from offset 0" before a resume, and a `STATUS=` that
/// follows the file once it appears.
#[test]
fn log_lines_say_what_is_true() {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "fail from 10.0.0.1\nfail from 10.0.0.2\nfail from 10.0.0.3\n\
         fail from 10.0.0.1\nfail from 10.0.0.2\nfail from 10.0.0.3\n",
    );
    let dry = run(
        &sandbox,
        &[
            "--once",
            "-n",
            "-l",
            LOG,
            "-p",
            r"/from (?P<ip>\S+)$/",
            "--key",
            "ip",
            "-w",
            "1h",
        ],
        &[],
    );
    assert_eq!(dry.status.code(), Some(0), "{}", dry.stderr);
    assert!(!dry.stderr.contains("cooldown over"), "{}", dry.stderr);
    let summary: Vec<&str> = dry
        .stderr
        .lines()
        .filter(|l| l.contains("summary:"))
        .collect();
    assert_eq!(summary.len(), 1, "{}", dry.stderr);
    assert!(
        summary[0].contains(
            "3 would trigger, 3 suppressed by the cooldown, 6 matched without a timestamp, in"
        ),
        "{}",
        summary[0]
    );

    // A service with a state file: the command as argv words, the
    // trigger's key and count.
    let state = ["--state-file", "state.json"];
    let args = [
        &state[..],
        &[
            "-l",
            LOG,
            "-p",
            r"/from (?P<ip>\S+)$/",
            "--key",
            "ip",
            "-w",
            "1h",
        ],
        &["-c", "sh -c 'echo \"$LOGS2ECA_KEY\" >> ran'"],
    ]
    .concat();
    let daemon = Daemon::start(&sandbox, &args);
    daemon.wait_for_log(&[r#"run ["sh", "-c", "echo \"$LOGS2ECA_KEY\" >> ran"]"#]);
    sandbox.append(LOG, "fail from 10.0.0.9\n");
    daemon.wait_for_log(&["started command", "; key '10.0.0.9', count 1"]);
    sandbox.wait_for_lines("ran", 1);
    sandbox.append(LOG, "fail from 10.0.0.9\n");
    // The second line is in the cooldown; the sentinel, a key of its own,
    // is read after it.
    sandbox.append(LOG, "fail from 10.0.0.10\n");
    sandbox.wait_for_lines("ran", 2);
    let mut daemon = daemon;
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(crate::common::TIMEOUT).success());
    let stderr = daemon.stderr();
    assert!(!stderr.contains("cooldown over"), "{stderr}");
    assert!(
        stderr.contains(
            "stopping in a cooldown that the state file keeps: 1 matching line(s) of 1 key(s)"
        ),
        "{stderr}"
    );

    // The restart resumes, without first claiming offset 0.
    let restarted = Daemon::start(&sandbox, &args);
    restarted.wait_for_log(&["resuming", "at offset"]);
    assert!(
        !restarted.stderr().contains("from offset 0"),
        "{}",
        restarted.stderr()
    );
    drop(restarted);

    // STATUS= follows a file that was waited for.
    let waiting = Sandbox::new();
    let mut daemon = Daemon::builder(&waiting)
        .args(["-l", LOG, "-p", "ERROR", "-c", "true"])
        .spawn_unready();
    let ready = daemon.expect_notify("READY=1");
    assert!(
        ready.contains(&format!("STATUS=waiting for {LOG}")),
        "{ready}"
    );
    waiting.append(LOG, "INFO hello\n");
    daemon.expect_status("following the file", |s| {
        s.starts_with(&format!("following {LOG} at offset "))
    });
}

/// Mistake 10: A compressed or binary file given to `-l` is said to be one.
#[test]
fn a_compressed_or_binary_file_is_warned_about() {
    let sandbox = sandbox();
    sandbox.write(
        "app.log.1",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03ERROR",
    );
    sandbox.write("core", b"\x7fELF\x02\x01\x01\x00\x00\x00ERROR");
    for (file, what) in [
        ("app.log.1", "looks gzip-compressed"),
        ("core", "looks binary"),
        ("later.log.gz", "looks gzip-compressed"),
    ] {
        let check = run(
            &sandbox,
            &["--check", "-l", file, "-p", "ERROR", "-c", "true"],
            &[],
        );
        let warned = warnings(&check.stderr);
        assert_eq!(warned.len(), 1, "{file}: {}", check.stderr);
        assert!(warned[0].contains(what), "{file}: {}", warned[0]);
    }
    let text = run(
        &sandbox,
        &["--check", "-l", LOG, "-p", "ERROR", "-c", "true"],
        &[],
    );
    assert_eq!(text.stderr, "");
}
