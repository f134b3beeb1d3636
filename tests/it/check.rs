//! `--check` and the start-up warnings (SPEC §9): the settings are
//! validated as a start would, printed with where each came from, nothing
//! is started; legal settings that are almost always mistakes get one
//! warning line each, and a clean configuration gets none.

use crate::common::{LOG, Sandbox, run};

/// A configuration without anything to warn about.
const CLEAN: [&str; 6] = ["-l", LOG, "-p", "ERROR", "-c", "touch ran"];

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR already there\n");
    sandbox
}

#[test]
fn check_prints_each_setting_with_its_origin_and_starts_nothing() {
    let sandbox = sandbox();
    let args = [&["--check", "--from-beginning"][..], &CLEAN].concat();
    let outcome = run(
        &sandbox,
        &args,
        &[("LOGS2ECA_WAIT", " 5m "), ("LOGS2ECA_EXCLUDE_PATTERN", "")],
    );
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "stderr:\n{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.stderr, "",
        "a clean configuration warns about nothing"
    );
    let report = outcome.stdout_text();
    let line = |flag: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{flag} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("{flag} is not in the report:\n{report}"))
    };
    assert_eq!(line("--logfile"), format!("--logfile {LOG} [flag]"));
    assert_eq!(line("--wait"), "--wait 5min [environment LOGS2ECA_WAIT]");
    assert_eq!(line("--exclude"), "--exclude none [default]");
    assert_eq!(line("--timeout"), "--timeout none [default]");
    assert_eq!(line("--from-beginning"), "--from-beginning on [flag]");
    assert!(report.contains("program: /"), "{report}");
    // The matching line was there from the beginning: a start would have
    // run the command before exiting.
    assert!(!sandbox.path("ran").exists(), "--check ran the command");
}

#[test]
fn check_refuses_what_a_start_refuses() {
    let sandbox = sandbox();
    for (args, fragment) in [
        (
            &["--check", "-l", LOG, "-p", "/(/", "-c", "true"][..],
            "unclosed group",
        ),
        (
            &[
                "--check",
                "-l",
                LOG,
                "-p",
                "ERROR",
                "-c",
                "no-such-program-x",
            ],
            "not found",
        ),
        (
            &[
                "--check", "-l", LOG, "-p", "ERROR", "-c", "true", "-w", "2y",
            ],
            "--wait",
        ),
    ] {
        let outcome = run(&sandbox, args, &[]);
        assert_eq!(
            outcome.status.code(),
            Some(2),
            "{args:?}: {}",
            outcome.stderr
        );
        assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
        assert!(outcome.stderr.contains(fragment), "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty());
    }
}

/// `--check` with [`CLEAN`], its pattern and command replaced where
/// given (`Some("")`: left to the environment).
fn check_args<'a>(pattern: Option<&'a str>, command: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec!["--check", "-l", LOG];
    match pattern.unwrap_or("ERROR") {
        "" => {}
        p => args.extend(["-p", p]),
    }
    args.extend(["-c", command.unwrap_or("touch ran")]);
    args
}

#[test]
fn each_likely_mistake_gets_one_warning() {
    let sandbox = sandbox();
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        &'a str,
    );
    let cases: &[Case] = &[
        (Some("ERROR.*timeout"), None, &[], "is regex syntax"),
        (Some(r"FATAL\|OOM"), None, &[], "is regex syntax"),
        (Some("/error/i"), None, &[], "/(?i)error/"),
        (Some("^ERROR$"), None, &[], "anchor"),
        (
            Some(""),
            None,
            &[("LOGS2ECA_EVENT_PATTERN", "\"ERROR\"")],
            "wrapped in \" quotes",
        ),
        (Some("'ERROR'"), None, &[], "wrapped in ' quotes"),
        (Some("/x*/"), None, &[], "matches every line"),
        (None, Some("touch a && touch b"), &[], "'&&'"),
        (None, Some("touch $HOME"), &[], "'$HOME'"),
        (None, Some("touch a > b"), &[], "'>'"),
        (
            None,
            None,
            &[("LOGS2ECA_EXCLUDE", "x")],
            "did you mean LOGS2ECA_EXCLUDE_PATTERN?",
        ),
    ];
    for &(pattern, command, env, fragment) in cases {
        let outcome = run(&sandbox, &check_args(pattern, command), env);
        let context = format!("{pattern:?} {command:?} {env:?}");
        assert_eq!(
            outcome.status.code(),
            Some(0),
            "{context}: {}",
            outcome.stderr
        );
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{context}: {lines:?}");
        assert!(lines[0].contains(fragment), "{context}: {lines:?}");
    }
}

#[test]
fn a_whole_command_in_quotes_gets_a_hint() {
    let sandbox = sandbox();
    let args = check_args(None, Some("'/usr/bin/env restart app'"));
    let outcome = run(&sandbox, &args, &[]);
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("remove the quotes around the command"),
        "{}",
        outcome.stderr
    );
}

/// What logs2eca sets for its command is inherited by a logs2eca run as
/// that command: no warning for those.
#[test]
fn variables_set_for_commands_are_not_warned_about() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &check_args(None, None),
        &[
            ("LOGS2ECA_MATCH_LINE", "ERROR x"),
            ("LOGS2ECA_MATCH_FILE", "a.log"),
            ("LOGS2ECA_SUPPRESSED", "0"),
            ("LOGS2ECA_GROUP_0", "ERROR"),
            ("LOGS2ECA_GROUP_user", "bob"),
            ("LOGS2ECA_TRUNCATED", "1"),
        ],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "");
}

/// The warnings are given at every start, not only by `--check`.
#[test]
fn warnings_are_given_at_start() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &["--once", "-n", "-l", LOG, "-p", "ERROR.*timeout"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("is regex syntax"),
        "{}",
        outcome.stderr
    );
}

/// The state file is checked as a start would use it, without its lock (the
/// service holding it may be running): a directory a start could not write
/// fails the check; a saved state is described.
#[test]
fn check_looks_at_the_state_file_without_taking_it() {
    let sandbox = sandbox();
    std::fs::create_dir(sandbox.path("state")).unwrap();
    fn with_state(file: &str) -> Vec<&str> {
        [&["--check", "--state-file", file][..], &CLEAN].concat()
    }

    // A start exits 1 on a state directory it cannot write to; so does
    // the check.
    let missing = run(&sandbox, &with_state("nowhere/state.json"), &[]);
    assert_eq!(missing.status.code(), Some(1), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("state directory") && missing.stderr.contains("nowhere"),
        "{}",
        missing.stderr
    );

    let first = run(&sandbox, &with_state("state/state.json"), &[]);
    assert_eq!(first.status.code(), Some(0), "{}", first.stderr);
    assert!(
        first.stdout_text().contains("none yet"),
        "{}",
        first.stdout_text()
    );

    // A --once run saves a state; --check describes it, even while another
    // process holds the lock.
    let once = [&["--once", "--state-file", "state/state.json"][..], &CLEAN].concat();
    assert_eq!(run(&sandbox, &once, &[]).status.code(), Some(0));
    let holder = std::fs::File::open(sandbox.path("state/state.json.lock")).unwrap();
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&holder), libc::LOCK_EX) };
    let saved = run(&sandbox, &with_state("state/state.json"), &[]);
    assert_eq!(saved.status.code(), Some(0), "{}", saved.stderr);
    let end = "ERROR already there\n".len();
    assert!(
        saved.stdout_text().contains(&format!(
            "a saved position for {} at offset {end}",
            sandbox.log().display()
        )),
        "{}",
        saved.stdout_text()
    );
}
