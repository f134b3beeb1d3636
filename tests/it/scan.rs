//! The pattern-testing mode (`--once --dry-run`, SPEC §9): it ends with a
//! summary on stderr, as `fail2ban-regex` does, and `--json` prints one
//! object per line that would trigger, for `jq`.

use crate::common::{LOG, Sandbox, run};

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        LOG,
        "ERROR user=bob disk full\nINFO all good\nERROR user=al retrying\nERROR user=eve net down",
    );
    sandbox
}

#[test]
fn a_dry_run_scan_ends_with_a_summary() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &["--once", "-n", "-l", LOG, "-p", "ERROR", "-x", "retrying"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text().lines().count(), 2);
    let summary = outcome
        .stderr
        .lines()
        .find(|l| l.contains("summary:"))
        .unwrap_or_else(|| panic!("no summary in {}", outcome.stderr));
    assert!(
        summary.contains("4 line(s) read, 3 matched, 1 excluded, 2 would trigger"),
        "{summary}"
    );
}

#[test]
fn json_names_the_line_file_offset_groups_and_key_of_each_trigger() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &[
            "--once",
            "-n",
            "--json",
            "-l",
            LOG,
            "-p",
            r"/ERROR user=(?P<user>\w+)/",
            "--key",
            "user",
            "-x",
            "retrying",
        ],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
    let objects: Vec<serde_json::Value> = outcome
        .stdout_text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_eq!(objects[0]["line"], "ERROR user=bob disk full");
    assert_eq!(objects[0]["file"], LOG);
    assert_eq!(objects[0]["offset"], 0);
    assert_eq!(objects[0]["groups"]["user"], "bob");
    assert_eq!(objects[0]["groups"]["0"], "ERROR user=bob");
    assert_eq!(objects[0]["key"], "bob");
    assert_eq!(objects[1]["line"], "ERROR user=eve net down");
    let offset = "ERROR user=bob disk full\nINFO all good\nERROR user=al retrying\n".len();
    assert_eq!(objects[1]["offset"], offset);
}

#[test]
fn json_without_a_dry_run_is_a_usage_error() {
    let sandbox = sandbox();
    let outcome = run(
        &sandbox,
        &["--json", "-l", LOG, "-p", "x", "-c", "true"],
        &[],
    );
    assert_eq!(outcome.status.code(), Some(2));
    assert!(outcome.stderr.contains("--json"), "{}", outcome.stderr);
}
