//! The README's example patterns, held against the lines an attacker can
//! steer (SPEC §9): part of a log line is written by whoever the line is
//! about. A user name is chosen by whoever tries to log in, and sshd logs
//! it as it is; an unanchored `/from (?P<ip>\S+)/` then takes the address
//! the attacker wrote into the name, and a ban hits a bystander. Every
//! pattern of the README compiles, and each one with a group named after
//! a client (`ip`, `user`) keys every hostile line by the value sshd
//! wrote, not the attacker. A pattern of a journal example (`-u ssh`)
//! meets sshd's messages alone, without the syslog prefix.

use crate::common::{LOG, Sandbox, run};

/// auth.log lines, with the `ip` and `user` sshd meant; `None`: the line
/// must not match (not sshd's, or not a failed password).
const LINES: [(&str, Option<(&str, &str)>); 7] = [
    (
        "Dec  2 05:00:01 host sshd[812]: Failed password for bob from 10.0.0.1 port 22 ssh2",
        Some(("10.0.0.1", "bob")),
    ),
    (
        "Dec  2 05:00:02 host sshd[813]: Failed password for invalid user x from 10.9.9.9 port 1 \
         from 203.0.113.7 port 52144 ssh2",
        Some(("203.0.113.7", "x from 10.9.9.9 port 1")),
    ),
    (
        "Dec  2 05:00:03 host sshd[814]: Failed password for invalid user x from 10.9.9.9 port 1 ssh2 \
         from 203.0.113.8 port 4711 ssh2",
        Some(("203.0.113.8", "x from 10.9.9.9 port 1 ssh2")),
    ),
    (
        "Dec  2 05:00:04 host sshd[815]: Failed password for invalid user \
         sshd[1]: Failed password for root from 10.9.9.9 port 1 ssh2 from 2001:db8::7 port 22 ssh2",
        Some((
            "2001:db8::7",
            "sshd[1]: Failed password for root from 10.9.9.9 port 1 ssh2",
        )),
    ),
    (
        "Dec  2 05:00:05 host sudo[99]: Failed password for root from 10.9.9.9 port 1 ssh2",
        None,
    ),
    (
        "Dec  2 05:00:06 host sshd[816]: Invalid user sshd[1]: Failed password for root from \
         10.9.9.9 port 1 ssh2 from 203.0.113.9 port 5",
        None,
    ),
    (
        "Dec  2 05:00:07 host sshd[817]: Connection closed by invalid user x from 10.9.9.9 port 1 \
         ssh2 [preauth]",
        None,
    ),
];

/// Every pattern in the README's code blocks: `-p '…'` and
/// `LOGS2ECA_EVENT_PATTERN=…`, each with whether its command follows the
/// journal (`-u`, `--journal…`, `LOGS2ECA_UNIT`), whose lines are sshd's
/// messages alone.
fn readme_patterns() -> Vec<(String, bool)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut patterns = Vec::new();
    let mut in_code = false;
    let mut in_heredoc = false;
    // One command: its lines joined across `\` and a here-document.
    let mut command = String::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        command.push_str(line);
        command.push('\n');
        if line.contains("<<'EOF'") {
            in_heredoc = true;
        } else if line == "EOF" {
            in_heredoc = false;
        }
        if in_heredoc || line.ends_with('\\') {
            continue;
        }
        let journal = ["-u ", "--journal", "LOGS2ECA_UNIT=", "LOGS2ECA_JOURNAL"]
            .iter()
            .any(|word| command.contains(word));
        for marker in [
            "-p '",
            "LOGS2ECA_EVENT_PATTERN='",
            "'LOGS2ECA_EVENT_PATTERN=",
        ] {
            for (at, _) in command.match_indices(marker) {
                let rest = &command[at + marker.len()..];
                if let Some(end) = rest.find('\'') {
                    patterns.push((rest[..end].to_owned(), journal));
                }
            }
        }
        command.clear();
    }
    patterns
}

/// The lines a pattern meets: auth.log's; or, from the journal with
/// `-u ssh`, sshd's messages alone (the unit keeps sudo's out).
fn lines_for(journal: bool) -> Vec<(String, Option<(&'static str, &'static str)>)> {
    LINES
        .iter()
        .filter_map(|&(line, meant)| {
            if !journal {
                return Some((line.to_owned(), meant));
            }
            let (head, message) = line.split_once("]: ")?;
            head.contains(" sshd[").then(|| (message.to_owned(), meant))
        })
        .collect()
}

#[test]
fn every_readme_pattern_holds_against_attacker_steered_lines() {
    let patterns = readme_patterns();
    assert!(patterns.len() >= 10, "{patterns:?}");
    assert!(
        patterns.iter().any(|(_, journal)| *journal) && patterns.iter().any(|(_, j)| !*j),
        "{patterns:?}"
    );
    let mut keyed = 0;
    for (pattern, journal) in &patterns {
        let sandbox = Sandbox::new();
        let lines = lines_for(*journal);
        let text: String = lines.iter().map(|(line, _)| format!("{line}\n")).collect();
        sandbox.write(LOG, text);
        let check = run(&sandbox, &["--check", "-n", "-l", LOG, "-p", pattern], &[]);
        assert_eq!(check.status.code(), Some(0), "{pattern}: {}", check.stderr);
        for (group, field) in [("ip", 0), ("user", 1)] {
            if !pattern.contains(&format!("(?P<{group}>")) {
                continue;
            }
            keyed += 1;
            assert!(
                pattern.ends_with("$/"),
                "{pattern}: a keyed pattern must be anchored at the end of the line"
            );
            let dry = run(
                &sandbox,
                &[
                    "--once", "-n", "--json", "--key", group, "-l", LOG, "-p", pattern,
                ],
                &[],
            );
            assert_eq!(dry.status.code(), Some(0), "{pattern}: {}", dry.stderr);
            let got: Vec<(String, String)> = dry
                .stdout_text()
                .lines()
                .map(|json| {
                    let value: serde_json::Value = serde_json::from_str(json).unwrap();
                    let line = value["line"].as_str().unwrap().to_owned();
                    (line, value["key"].as_str().unwrap().to_owned())
                })
                .collect();
            let expected: Vec<(String, String)> = lines
                .iter()
                .filter_map(|(line, meant)| {
                    let meant = meant.as_ref()?;
                    let value = if field == 0 { meant.0 } else { meant.1 };
                    Some((line.clone(), value.to_owned()))
                })
                .collect();
            assert_eq!(
                got, expected,
                "{pattern} keyed by {group} (journal: {journal})"
            );
        }
    }
    assert!(keyed >= 4, "only {keyed} keyed patterns in the README");
}
