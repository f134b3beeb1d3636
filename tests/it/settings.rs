//! Settings and input validation (SPEC §1, §2, §4 start-up checks, §5 exit
//! statuses): every setting is reachable as a flag and as an environment
//! variable with the documented precedence and trimming, and every bad
//! input is refused at start with exit 2 and a single `logs2eca: ` line.
//!
//! Most checks use the pattern-testing mode (`--once --dry-run`), which
//! prints the matching lines and exits, so they need no synchronisation.

use crate::common::{Daemon, LOG, Outcome, Sandbox, run};

/// The followed file of these tests, one line per feature to tell apart.
const FIXTURE: &str = "\
ERROR disk full
error net down
ERROR net down
INFO all good
WARN a.c literal
WARN /a.c/ here
";

/// What `-p ERROR` matches in [`FIXTURE`].
const ERRORS: &[&str] = &["ERROR disk full", "ERROR net down"];
/// What `-p ERROR -i` matches.
const ERRORS_ANY_CASE: &[&str] = &["ERROR disk full", "error net down", "ERROR net down"];

fn sandbox_with_fixture() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, FIXTURE);
    sandbox
}

/// Runs `logs2eca --once --dry-run ARGS` with `env` and returns the printed
/// lines, asserting a clean exit.
fn scan(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut all_args = vec!["--once", "--dry-run"];
    all_args.extend_from_slice(args);
    let outcome = run(sandbox, &all_args, env);
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "args {args:?} env {env:?}: stderr:\n{}",
        outcome.stderr
    );
    outcome.stdout_text().lines().map(String::from).collect()
}

/// Asserts that `outcome` is a start-up error: exit `code`, and stderr is
/// exactly one line starting `logs2eca: ` that contains every fragment.
fn assert_error(outcome: &Outcome, code: i32, fragments: &[&str], context: &str) {
    assert_eq!(
        outcome.status.code(),
        Some(code),
        "{context}: exit status; stderr:\n{}",
        outcome.stderr
    );
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{context}: stderr must be one line: {lines:?}"
    );
    assert!(
        lines[0].starts_with("logs2eca: "),
        "{context}: stderr must start with `logs2eca: `: {:?}",
        lines[0]
    );
    for fragment in fragments {
        assert!(
            lines[0].contains(fragment),
            "{context}: stderr must contain {fragment:?}: {:?}",
            lines[0]
        );
    }
}

/// One run of the scan mode and the lines it must print.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    expect: &'static [&'static str],
}

fn check_cases(cases: &[Case]) {
    let sandbox = sandbox_with_fixture();
    for case in cases {
        let lines = scan(&sandbox, case.args, case.env);
        assert_eq!(lines, case.expect, "case {:?}", case.name);
    }
}

#[test]
fn each_setting_works_as_flag_and_as_env_var() {
    check_cases(&[
        Case {
            name: "logfile and pattern as flags",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[],
            expect: ERRORS,
        },
        Case {
            name: "LOGS2ECA_LOG_FILE",
            args: &["-p", "ERROR"],
            env: &[("LOGS2ECA_LOG_FILE", LOG)],
            expect: ERRORS,
        },
        Case {
            name: "LOGS2ECA_EVENT_PATTERN",
            args: &["-l", LOG],
            env: &[("LOGS2ECA_EVENT_PATTERN", "ERROR")],
            expect: ERRORS,
        },
        Case {
            name: "--exclude",
            args: &["-l", LOG, "-p", "ERROR", "-x", "disk"],
            env: &[],
            expect: &["ERROR net down"],
        },
        Case {
            name: "LOGS2ECA_EXCLUDE_PATTERN",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[("LOGS2ECA_EXCLUDE_PATTERN", "disk")],
            expect: &["ERROR net down"],
        },
        Case {
            name: "--ignore-case",
            args: &["-l", LOG, "-p", "ERROR", "-i"],
            env: &[],
            expect: ERRORS_ANY_CASE,
        },
        Case {
            name: "LOGS2ECA_IGNORE_CASE=1",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[("LOGS2ECA_IGNORE_CASE", "1")],
            expect: ERRORS_ANY_CASE,
        },
        Case {
            name: "LOGS2ECA_IGNORE_CASE=yes",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[("LOGS2ECA_IGNORE_CASE", "yes")],
            expect: ERRORS_ANY_CASE,
        },
        Case {
            name: "LOGS2ECA_IGNORE_CASE=false",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[("LOGS2ECA_IGNORE_CASE", "false")],
            expect: ERRORS,
        },
        Case {
            name: "a delimited pattern is a regex",
            args: &["-l", LOG, "-p", "/a.c/"],
            env: &[],
            expect: &["WARN a.c literal", "WARN /a.c/ here"],
        },
        Case {
            name: "--literal",
            args: &["-l", LOG, "-p", "/a.c/", "--literal"],
            env: &[],
            expect: &["WARN /a.c/ here"],
        },
        Case {
            name: "LOGS2ECA_LITERAL=true",
            args: &["-l", LOG, "-p", "/a.c/"],
            env: &[("LOGS2ECA_LITERAL", "true")],
            expect: &["WARN /a.c/ here"],
        },
        Case {
            name: "--once reads from the beginning without --from-beginning",
            args: &["-l", LOG, "-p", "ERROR"],
            env: &[],
            expect: ERRORS,
        },
    ]);
}

/// In a dry run `--wait` holds back the matches during its cooldown (a
/// would-be run takes no time) and `--timeout` has no visible effect, so
/// its variable is shown to be read by its validation.
#[test]
fn wait_and_timeout_work_as_flag_and_as_env_var() {
    let sandbox = sandbox_with_fixture();
    let base = ["-l", LOG, "-p", "ERROR"];
    for (flag, var, word, expect) in [
        ("-w", "LOGS2ECA_WAIT", "wait", &ERRORS[..1]),
        ("-t", "LOGS2ECA_TIMEOUT", "timeout", ERRORS),
    ] {
        let with_flag = |value| [&base[..], &[flag, value]].concat();

        assert_eq!(scan(&sandbox, &with_flag("2.5"), &[]), expect, "{flag} 2.5");
        assert_eq!(scan(&sandbox, &base, &[(var, "2.5")]), expect, "{var}=2.5");
        assert_eq!(
            scan(&sandbox, &with_flag("1.5h"), &[]),
            expect,
            "{flag} 1.5h"
        );
        assert_eq!(
            scan(&sandbox, &base, &[(var, "500ms")]),
            expect,
            "{var}=500ms"
        );

        let outcome = run(&sandbox, &[&["-n"], &with_flag("abc")[..]].concat(), &[]);
        assert_error(&outcome, 2, &[word], &format!("{flag} abc"));
        let outcome = run(&sandbox, &[&["-n"], &base[..]].concat(), &[(var, "abc")]);
        assert_error(&outcome, 2, &[word], &format!("{var}=abc"));
    }
}

/// The command has an effect only outside dry-run mode: follow the file and
/// check that the command from the flag or from the variable runs.
#[test]
fn command_works_as_flag_and_as_env_var() {
    const COMMAND: &str = r#"sh -c 'printf "%s\n" "$LOGS2ECA_MATCH_LINE" >> out.txt'"#;
    for via_env in [false, true] {
        let sandbox = Sandbox::new();
        sandbox.write(LOG, "");
        let builder = Daemon::builder(&sandbox).args(["-l", LOG, "-p", "ERROR", "-w", "0"]);
        let builder = if via_env {
            builder.env("LOGS2ECA_COMMAND", COMMAND)
        } else {
            builder.args(["-c", COMMAND])
        };
        let _daemon = builder.start();
        sandbox.append(LOG, "INFO no\nERROR yes\n");
        assert_eq!(
            sandbox.wait_for_lines("out.txt", 1),
            ["ERROR yes"],
            "command via env: {via_env}"
        );
    }
}

#[test]
fn empty_env_var_counts_as_unset() {
    let sandbox = sandbox_with_fixture();
    let args = ["-l", LOG, "-p", "ERROR"];
    let mut env: Vec<(&str, &str)> = [
        "LOGS2ECA_WAIT",
        "LOGS2ECA_TIMEOUT",
        "LOGS2ECA_EXCLUDE_PATTERN",
        "LOGS2ECA_IGNORE_CASE",
        "LOGS2ECA_LITERAL",
        "LOGS2ECA_COMMAND",
        "LOGS2ECA_LOG_FILE",
        "LOGS2ECA_EVENT_PATTERN",
    ]
    .into_iter()
    .map(|var| (var, ""))
    .collect();
    assert_eq!(scan(&sandbox, &args, &env), ERRORS, "all variables empty");

    // Whitespace only is empty after trimming.
    for (_, value) in &mut env {
        *value = "  ";
    }
    assert_eq!(scan(&sandbox, &args, &env), ERRORS, "all variables blank");

    // An empty variable does not stand in for a missing required setting.
    let outcome = run(
        &sandbox,
        &["-n", "-l", LOG],
        &[("LOGS2ECA_EVENT_PATTERN", "")],
    );
    assert_error(&outcome, 2, &["pattern"], "LOGS2ECA_EVENT_PATTERN=");
}

/// `--once` always reads from the beginning, so `--from-beginning` is shown
/// on a following daemon: set, the lines already there trigger; empty, it
/// is off, and the sentinel is the first line printed.
#[test]
fn from_beginning_works_as_env_var_and_empty_counts_as_off() {
    for (value, old_lines) in [("1", ERRORS), ("", &[][..])] {
        let sandbox = sandbox_with_fixture();
        let daemon = Daemon::builder(&sandbox)
            .args(["-n", "-l", LOG, "-p", "ERROR"])
            .env("LOGS2ECA_FROM_BEGINNING", value)
            .start();
        sandbox.append(LOG, "ERROR sentinel\n");
        let mut expected = old_lines.to_vec();
        expected.push("ERROR sentinel");
        daemon.expect_lines(&expected);
    }
}

#[test]
fn flag_beats_env_var() {
    let sandbox = sandbox_with_fixture();
    sandbox.write("logs/other.log", "ERROR in the other file\n");
    let lines = scan(
        &sandbox,
        &["-l", LOG, "-p", "ERROR", "-x", "disk", "-w", "1", "-t", "1"],
        &[
            ("LOGS2ECA_LOG_FILE", "logs/other.log"),
            ("LOGS2ECA_EVENT_PATTERN", "INFO"),
            ("LOGS2ECA_EXCLUDE_PATTERN", "net"),
            ("LOGS2ECA_WAIT", "not a number"),
            ("LOGS2ECA_TIMEOUT", "not a number"),
        ],
    );
    assert_eq!(lines, ["ERROR net down"]);
}

#[test]
fn surrounding_whitespace_is_trimmed() {
    check_cases(&[
        Case {
            name: "env values with whitespace",
            args: &[],
            env: &[
                ("LOGS2ECA_LOG_FILE", "  logs/app.log\t"),
                ("LOGS2ECA_EVENT_PATTERN", " ERROR "),
                ("LOGS2ECA_EXCLUDE_PATTERN", "\tdisk\n"),
                ("LOGS2ECA_WAIT", " 1 "),
                ("LOGS2ECA_IGNORE_CASE", " 1 "),
            ],
            // The 1 s cooldown holds back the second match.
            expect: &["error net down"],
        },
        Case {
            name: "flag values with whitespace",
            args: &[
                "-l",
                " logs/app.log ",
                "-p",
                " ERROR ",
                "-x",
                " disk ",
                "-w",
                " 1 ",
                "-t",
                " 2 ",
            ],
            env: &[],
            expect: &["ERROR net down"],
        },
    ]);
}

#[test]
fn help_names_every_env_var() {
    let outcome = run(&Sandbox::new(), &["--help"], &[]);
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "stderr:\n{}",
        outcome.stderr
    );
    let help = outcome.stdout_text();
    for var in [
        "LOGS2ECA_LOG_FILE",
        "LOGS2ECA_EVENT_PATTERN",
        "LOGS2ECA_COMMAND",
        "LOGS2ECA_WAIT",
        "LOGS2ECA_EXCLUDE_PATTERN",
        "LOGS2ECA_IGNORE_CASE",
        "LOGS2ECA_LITERAL",
        "LOGS2ECA_TIMEOUT",
        "LOGS2ECA_FROM_BEGINNING",
        "LOGS2ECA_STATE_FILE",
    ] {
        assert!(help.contains(var), "--help does not name {var}:\n{help}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let sandbox = sandbox_with_fixture();
    sandbox.write("not-executable", "#!/bin/sh\n");
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("missing --logfile", &["-n", "-p", "ERROR"], &["logfile"]),
        ("missing --pattern", &["-n", "-l", LOG], &["pattern"]),
        (
            "missing --command",
            &["-l", LOG, "-p", "ERROR"],
            &["command"],
        ),
        (
            "empty pattern",
            &["-n", "-l", LOG, "-p", ""],
            &["empty pattern"],
        ),
        ("empty regex", &["-n", "-l", LOG, "-p", "//"], &["//"]),
        (
            "invalid regex",
            &["-n", "-l", LOG, "-p", "/(foo/"],
            &["(foo", "unclosed group"],
        ),
        (
            "regex naming \\n",
            &["-n", "-l", LOG, "-p", r"/a\nb/"],
            &[r"/a\nb/", r"names \n"],
        ),
        (
            "group name no shell can read",
            &["-n", "-l", LOG, "-p", "/(?P<a.b>x)/"],
            &["a.b", "(?P<a_b>...)"],
        ),
        (
            "negative --wait",
            &["-n", "-l", LOG, "-p", "ERROR", "-w", "-1"],
            &["wait", "-1"],
        ),
        (
            "--wait not a number",
            &["-n", "-l", LOG, "-p", "ERROR", "-w", "soon"],
            &["wait", "soon"],
        ),
        (
            "--wait that would overflow a clock",
            &["-n", "-l", LOG, "-p", "ERROR", "-w", "10000000000000000000"],
            &["--wait", "10000000000000000000", "365 days"],
        ),
        (
            "--timeout over 365 days",
            &["-n", "-l", LOG, "-p", "ERROR", "-t", "400d"],
            &["--timeout", "400d", "365 days"],
        ),
        (
            "negative --timeout",
            &["-n", "-l", LOG, "-p", "ERROR", "-t", "-1"],
            &["timeout", "-1"],
        ),
        (
            "--timeout not a number",
            &["-n", "-l", LOG, "-p", "ERROR", "-t", "later"],
            &["timeout", "later"],
        ),
        (
            "--state-file not a file name",
            &["-n", "-l", LOG, "-p", "ERROR", "--state-file", "/"],
            &["--state-file", "not a file name"],
        ),
        (
            "--state-file the followed file",
            &["-n", "-l", LOG, "-p", "ERROR", "--state-file", LOG],
            &["--state-file", "followed file"],
        ),
        (
            "unbalanced quotes",
            &["-l", LOG, "-p", "ERROR", "-c", r#"echo "x"#],
            &["quote"],
        ),
        (
            "empty command",
            &["-l", LOG, "-p", "ERROR", "-c", ""],
            &["command"],
        ),
        (
            "command of empty words",
            &["-l", LOG, "-p", "ERROR", "-c", "'' ''"],
            &["command"],
        ),
        (
            "program not found",
            &[
                "-l",
                LOG,
                "-p",
                "ERROR",
                "-c",
                "no-such-program-logs2eca arg",
            ],
            &["no-such-program-logs2eca", "not found"],
        ),
        (
            "program not executable",
            &["-l", LOG, "-p", "ERROR", "-c", "./not-executable"],
            &["not-executable", "not executable"],
        ),
        (
            "--retry without a delay",
            &["-l", LOG, "-p", "ERROR", "-c", "true", "--retry", "3"],
            &["--retry '3'", "N/DURATION"],
        ),
        (
            "--retry of none",
            &["-l", LOG, "-p", "ERROR", "-c", "true", "--retry", "0/1s"],
            &["--retry '0/1s'", "from 1 to 100"],
        ),
        (
            "--retry with a bad delay",
            &["-l", LOG, "-p", "ERROR", "-c", "true", "--retry", "3/-1s"],
            &["--retry"],
        ),
        (
            "--undo without --undo-after",
            &["-l", LOG, "-p", "ERROR", "-c", "true", "--undo", "true"],
            &["--undo needs --undo-after"],
        ),
        (
            "--undo-after without --undo",
            &["-l", LOG, "-p", "ERROR", "-c", "true", "--undo-after", "1h"],
            &["--undo-after needs --undo"],
        ),
        (
            "undo program not found",
            &[
                "-l",
                LOG,
                "-p",
                "ERROR",
                "-c",
                "true",
                "--undo",
                "no-such-undo-logs2eca",
                "--undo-after",
                "1h",
            ],
            &["undo 'no-such-undo-logs2eca'", "not found"],
        ),
    ];
    for (name, args, fragments) in cases {
        assert_error(&run(&sandbox, args, &[]), 2, fragments, name);
    }
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let sandbox = Sandbox::new();
    let fifo = std::ffi::CString::new(
        sandbox
            .path("app.fifo")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    // Opening a FIFO for reading blocks until a writer comes: the bounded
    // run fails the test if logs2eca hangs there.
    let outcome = run(&sandbox, &["-n", "-l", "app.fifo", "-p", "ERROR"], &[]);
    assert_eq!(
        outcome.status.code(),
        Some(1),
        "stderr:\n{}",
        outcome.stderr
    );
    let last = outcome.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("logs2eca: ") && last.contains("not a regular file"),
        "stderr:\n{}",
        outcome.stderr
    );
}
