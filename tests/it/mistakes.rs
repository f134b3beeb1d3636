//! The mistakes a new user makes first, each caught or made impossible
//! (SPEC §1, §2, §9): one test per mistake, each showing what is said
//! and what exit status follows.

use crate::common::{LOG, Sandbox, run};

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(LOG, "ERROR already there\n");
    sandbox
}

/// systemd's time spans are DURATIONs everywhere, also inside
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
