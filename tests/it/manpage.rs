//! The man page is written by hand, for readers; this test keeps it honest
//! against the clap definitions: every long option and environment variable
//! that `--help` shows is documented, and the man page names no option that
//! does not exist.

use std::collections::BTreeSet;
use std::process::Command;

/// Variables the man page documents that are not settings: what the
/// command is given, and what the service manager or the user sets.
const NOT_SETTINGS: &[&str] = &[
    "LOGS2ECA_MATCH_LINE",
    "LOGS2ECA_TRUNCATED",
    "LOGS2ECA_MATCH_FILE",
    "LOGS2ECA_GROUP_",
    "LOGS2ECA_SUPPRESSED",
    "LOGS2ECA_COUNT",
    "LOGS2ECA_ACTION",
    "LOGS2ECA_ATTEMPT",
    "LOGS2ECA_MATCH_TIME",
    "LOGS2ECA_JOURNAL_UNIT",
    "LOGS2ECA_JOURNAL_IDENTIFIER",
    "LOGS2ECA_JOURNAL_PID",
    "LOGS2ECA_JOURNAL_PRIORITY",
    "LOGS2ECA_JOURNAL_HOSTNAME",
    "LOGS2ECA_JOURNAL_CURSOR",
    "LOGS2ECA_*",
    // Misspellings, named as examples of the hint they get.
    "LOGS2ECA_CMD",
    "LOGS2ECA_COOLDOWN",
    "LOGS2ECA_LOGFILE",
    "LOGS2ECA_PATTERN",
];

/// `--help`, and the `status` subcommand's: the options of both.
fn help() -> String {
    let mut text = String::new();
    for args in [&["--help"][..], &["status", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_logs2eca"))
            .args(args)
            .env_remove("LOGS2ECA_LOG_FILE")
            .output()
            .expect("run logs2eca --help");
        assert!(out.status.success());
        text.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    assert!(text.contains("--keys"), "{text}");
    text
}

/// Options of other programs that the examples use.
const OTHER_PROGRAMS_OPTIONS: [&str; 4] = ["--now", "--env-file", "--output", "--cursor"];

/// The man page as text: roff's `\-` is a plain hyphen to a reader.
fn man_page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/logs2eca.1");
    std::fs::read_to_string(path).unwrap().replace("\\-", "-")
}

/// Words of `text` that start with `prefix`, made of `[A-Za-z0-9_*-]`.
fn words(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            continue;
        }
        let word: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'))
            .collect();
        if word.len() > prefix.len() {
            found.insert(word.trim_end_matches('-').to_owned());
        }
    }
    found
}

#[test]
fn every_option_and_variable_in_help_is_in_the_man_page() {
    let (help, man) = (help(), man_page());
    let options = words(&help, "--");
    let variables = words(&help, "LOGS2ECA_");
    assert!(
        options.contains("--logfile") && options.contains("--dry-run"),
        "{options:?}"
    );
    // Every setting has its variable (SPEC §1): a dozen at least.
    assert!(variables.len() >= 11, "{variables:?}");
    let man_options = words(&man, "--");
    let man_variables = words(&man, "LOGS2ECA_");
    let missing: Vec<_> = options.difference(&man_options).collect();
    assert!(
        missing.is_empty(),
        "options missing from the man page: {missing:?}"
    );
    let missing: Vec<_> = variables.difference(&man_variables).collect();
    assert!(
        missing.is_empty(),
        "variables missing from the man page: {missing:?}"
    );
}

#[test]
fn the_man_page_names_no_option_or_setting_that_does_not_exist() {
    let (help, man) = (help(), man_page());
    let unknown: Vec<_> = words(&man, "--")
        .into_iter()
        .filter(|option| !words(&help, "--").contains(option))
        .filter(|option| !OTHER_PROGRAMS_OPTIONS.contains(&option.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the man page names unknown options: {unknown:?}"
    );
    let unknown: Vec<_> = words(&man, "LOGS2ECA_")
        .into_iter()
        .filter(|v| !words(&help, "LOGS2ECA_").contains(v))
        .filter(|v| !NOT_SETTINGS.iter().any(|known| v.starts_with(known)))
        .collect();
    assert!(
        unknown.is_empty(),
        "the man page names unknown variables: {unknown:?}"
    );
}

#[test]
fn every_short_option_is_paired_with_its_long_one_in_the_man_page() {
    let (help, man) = (help(), man_page());
    let mut pairs = 0;
    for line in help.lines().map(str::trim_start) {
        // `-x, --exclude <PATTERN>` in --help is `.BR \-x ", " \-\-exclude` in roff.
        let Some((short, rest)) = line.split_once(", --") else {
            continue;
        };
        let long = rest.split([' ', '.']).next().unwrap();
        let spelled = format!("{short} \", \" --{long}");
        assert!(
            man.contains(&spelled),
            "`{short}, --{long}` is not in the man page"
        );
        pairs += 1;
    }
    assert!(pairs >= 10, "found only {pairs} short options in --help");
}
