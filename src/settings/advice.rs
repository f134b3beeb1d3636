//! Settings that are legal but almost always a mistake: a literal pattern
//! that was meant as a regex, quotes an env file kept, a pattern that
//! matches every line, shell syntax in a command that runs without a
//! shell, a whole command quoted as one word, a misspelt variable.
//!
//! Each finding is one warning line at start (and in `--check`), never an
//! error: the configuration may be meant. These are the mistakes of a new
//! user's first hour, found here rather than at 3 a.m. The heuristics are
//! pure functions over strings, unit-tested on tables.

use crate::react::pattern::Pattern;
use crate::settings::cli::{SetBy, Setting};

/// Variables logs2eca sets for its command, not settings: a logs2eca run
/// by the command of another one inherits them and must not warn.
pub const COMMAND_VARIABLES: [&str; 9] = [
    "LOGS2ECA_ACTION",
    "LOGS2ECA_ATTEMPT",
    "LOGS2ECA_MATCH_LINE",
    "LOGS2ECA_MATCH_FILE",
    "LOGS2ECA_MATCH_TIME",
    "LOGS2ECA_SUPPRESSED",
    "LOGS2ECA_TRUNCATED",
    "LOGS2ECA_KEY",
    "LOGS2ECA_COUNT",
];

/// Prefix of the per-group variables set for the command.
const GROUP_PREFIX: &str = "LOGS2ECA_GROUP_";

/// Warnings about a pattern setting (`--pattern`, `--exclude`) as written
/// (`source`) and compiled.
pub fn pattern(flag: &str, source: &str, compiled: &Pattern, literal_forced: bool) -> Vec<String> {
    // Quotes around the pattern are warned about with every other value's
    // (`quoted_values`).
    let mut warnings = Vec::new();
    if compiled.is_literal()
        && !literal_forced
        && let Some((what, delimited)) = regex_look(source)
    {
        warnings.push(format!(
            "{flag} '{source}' is a literal (text to find as it is), but {what} is regex syntax: \
             write {flag} '{delimited}' for a regex, or add --literal to keep it literal"
        ));
    }
    // `/^$/` matches an empty line and nothing else: only a pattern that
    // also matches a line with something on it matches every line.
    if compiled.is_match(b"") && compiled.is_match(b"\x01 x") {
        let effect = match flag {
            "--exclude" => "excludes every line: nothing can trigger",
            _ => "matches every line",
        };
        warnings.push(format!(
            "{flag} '{source}' matches an empty line, so it {effect}"
        ));
    }
    warnings
}

/// A warning for each setting whose value is wrapped in a pair of quotes:
/// docker's `--env-file` and Compose's `env_file` keep them, so a path
/// `"/tmp/x.log"` is a relative name that never appears, and a pattern
/// looks for the quotes too.
pub fn quoted_values(settings: &[Setting]) -> Vec<String> {
    settings
        .iter()
        .filter_map(|setting| {
            // `''` is an empty value, refused on its own terms; a command
            // is split like a shell would, and a whole one quoted as one
            // word has its own hint (`quoted_command_hint`).
            let value = setting
                .value
                .as_deref()
                .filter(|v| v.len() > 2 && setting.flag != "--command")?;
            let quote = wrapping_quote(value)?;
            let from = match &setting.origin {
                SetBy::Environment(name) => format!(" (from {name})"),
                SetBy::EnvFile(at) => format!(" (from {at})"),
                SetBy::Flag | SetBy::Default => String::new(),
            };
            Some(format!(
                "{} {value}{from} is wrapped in {quote} quotes, which are part of the value \
                 (docker --env-file keeps them): remove them",
                setting.flag
            ))
        })
        .collect()
}

/// `'` or `"` if `text` is wrapped in a pair of them.
fn wrapping_quote(text: &str) -> Option<char> {
    let first = text.chars().next()?;
    (text.len() >= 2 && matches!(first, '\'' | '"') && text.ends_with(first)).then_some(first)
}

/// What in a literal looks like regex syntax, if anything, and the
/// delimited form to use instead.
fn regex_look(text: &str) -> Option<(String, String)> {
    // `/re/i`: the flags of other tools' syntax.
    if let Some(rest) = text.strip_prefix('/')
        && let Some((body, flags)) = rest.rsplit_once('/')
        && !body.is_empty()
        && !flags.is_empty()
        && flags.chars().all(|c| "imsxgu".contains(c))
    {
        let flags = flags.replace(['g', 'u'], "");
        return Some((
            format!("'/{body}/{flags}' (flags go inside the slashes, or use -i)"),
            format!("/(?{flags}){body}/"),
        ));
    }
    crate::settings::regex_look::regex_syntax_in(text).map(|what| (what, format!("/{text}/")))
}

/// Words that a shell would have given a meaning to.
fn is_shell_syntax(word: &str) -> bool {
    const OPERATORS: [&str; 11] = [
        "&&", "||", "|", ";", ";;", "&", ">", ">>", "<", "2>", "2>&1",
    ];
    let variable = word
        .strip_prefix('$')
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '{' || c == '(');
    OPERATORS.contains(&word)
        || variable
        || word.contains('`')
        || (word.len() > 1 && (word.starts_with('>') || word.starts_with('<')))
}

/// Is `argv` an explicit shell script (`sh -c '...'`, `bash -ec '...'`)?
fn runs_a_shell(argv: &[String]) -> bool {
    const SHELLS: [&str; 7] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "busybox"];
    let program = argv[0].rsplit('/').next().unwrap_or_default();
    SHELLS.contains(&program)
        && argv[1..]
            .iter()
            .any(|arg| arg.starts_with('-') && !arg.starts_with("--") && arg.contains('c'))
}

/// Warnings about the command, split into `argv` (not empty).
pub fn command(argv: &[String]) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(hint) = quoted_command_hint(argv) {
        warnings.push(format!("--command '{}' {hint}", argv[0]));
    }
    if !runs_a_shell(argv) {
        let words: Vec<String> = argv[1..]
            .iter()
            .filter(|word| is_shell_syntax(word))
            .map(|word| format!("'{word}'"))
            .collect();
        if !words.is_empty() {
            warnings.push(format!(
                "--command runs without a shell, so {} reach {} as plain arguments: \
                 use sh -c '...' for shell syntax",
                words.join(", "),
                argv[0]
            ));
        }
    }
    warnings
}

/// A hint when the whole command is one quoted word
/// (`'/usr/bin/systemctl restart app'`), which makes it one program name.
pub fn quoted_command_hint(argv: &[String]) -> Option<&'static str> {
    (argv.len() == 1 && argv[0].contains(char::is_whitespace)).then_some(
        "is one word, quoted as a whole: remove the quotes around the command, \
         or quote each argument on its own",
    )
}

/// Names people give settings, with the one meant: what the README's
/// words and other tools suggest. The names guessed from the flags
/// (`--logfile` → `LOGS2ECA_LOGFILE`) come from the definitions.
const ALIASES: [(&str, &str); 14] = [
    ("LOGS2ECA_CMD", "LOGS2ECA_COMMAND"),
    ("LOGS2ECA_ACTION", "LOGS2ECA_COMMAND"),
    ("LOGS2ECA_RUN", "LOGS2ECA_COMMAND"),
    ("LOGS2ECA_COOLDOWN", "LOGS2ECA_WAIT"),
    ("LOGS2ECA_DELAY", "LOGS2ECA_WAIT"),
    ("LOGS2ECA_SLEEP", "LOGS2ECA_WAIT"),
    ("LOGS2ECA_FILE", "LOGS2ECA_LOG_FILE"),
    ("LOGS2ECA_LOG", "LOGS2ECA_LOG_FILE"),
    ("LOGS2ECA_PATH", "LOGS2ECA_LOG_FILE"),
    ("LOGS2ECA_REGEX", "LOGS2ECA_EVENT_PATTERN"),
    ("LOGS2ECA_MATCH", "LOGS2ECA_EVENT_PATTERN"),
    ("LOGS2ECA_EXCLUDE_REGEX", "LOGS2ECA_EXCLUDE_PATTERN"),
    ("LOGS2ECA_STATE", "LOGS2ECA_STATE_FILE"),
    ("LOGS2ECA_CASE_INSENSITIVE", "LOGS2ECA_IGNORE_CASE"),
];

/// Warnings about `LOGS2ECA_*` variables in `present` that are neither a
/// setting (`known`) nor one of the variables set for commands, each with
/// the setting meant when it can be told: from `guesses` (the names the
/// flags suggest, with the setting's name), the aliases, or a close
/// spelling.
pub fn environment(
    present: impl IntoIterator<Item = String>,
    known: &[&str],
    guesses: &[(String, String)],
    origin_of: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut unknown: Vec<String> = present
        .into_iter()
        .filter(|name| name.starts_with("LOGS2ECA_"))
        .filter(|name| !known.contains(&name.as_str()))
        .filter(|name| !COMMAND_VARIABLES.contains(&name.as_str()))
        .filter(|name| !name.starts_with(GROUP_PREFIX))
        .filter(|name| name != crate::settings::config::LONG_RUN_VAR)
        .collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|name| {
            let meant = guesses
                .iter()
                .find(|(guess, _)| *guess == name)
                .map(|(_, meant)| meant.as_str())
                .or_else(|| {
                    ALIASES
                        .iter()
                        .find(|(alias, _)| *alias == name)
                        .map(|(_, meant)| *meant)
                })
                .or_else(|| closest(&name, known));
            let from = origin_of(&name)
                .map(|at| format!(" (--env-file {at})"))
                .unwrap_or_default();
            match meant {
                Some(near) => format!(
                    "unknown environment variable {name}{from} is ignored; did you mean {near}?"
                ),
                None => format!("unknown environment variable {name}{from} is ignored"),
            }
        })
        .collect()
}

/// The known name nearest to `name`: one whose own part contains the
/// other's or is contained in it first (`LOGS2ECA_EXCLUDE` →
/// `LOGS2ECA_EXCLUDE_PATTERN`), then the least edit distance, if it is
/// small enough to be a misspelling (a wrong guess misleads more than none).
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let own = |n: &'_ str| n.strip_prefix("LOGS2ECA_").unwrap_or(n).to_owned();
    let name_part = own(name);
    known
        .iter()
        .map(|candidate| {
            let part = own(candidate);
            let related = part.contains(&name_part) || name_part.contains(&part);
            (!related, edit_distance(&name_part, &part), *candidate)
        })
        .filter(|&(unrelated, distance, _)| !unrelated || distance <= 1 + name_part.len() / 4)
        .min()
        .map(|(_, _, candidate)| candidate)
}

/// Levenshtein distance, on bytes (the names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::react::pattern::Syntax;

    fn pattern_warnings(flag: &str, source: &str, literal: bool) -> Vec<String> {
        let syntax = Syntax {
            literal,
            ignore_case: false,
        };
        pattern(
            flag,
            source,
            &Pattern::new(source, syntax).unwrap(),
            literal,
        )
    }

    #[test]
    fn patterns() {
        // (flag, source, --literal, a fragment of the one warning, or none)
        let cases: &[(&str, &str, bool, Option<&str>)] = &[
            ("--pattern", "ERROR", false, None),
            ("--pattern", "/ERROR.*timeout/", false, None),
            ("--pattern", "/^ERROR$/", false, None),
            ("--pattern", "disk 95.5% full", false, None),
            ("--pattern", "$5 fee", false, None),
            (
                "--pattern",
                "ERROR.*timeout",
                false,
                Some("'/ERROR.*timeout/'"),
            ),
            ("--pattern", "ERROR|FATAL", false, Some("'/ERROR|FATAL/'")),
            ("--pattern", "FATAL\\|OOM", false, Some("'\\|'")),
            ("--pattern", "code \\d+", false, Some("'\\d+'")),
            ("--pattern", "^ERROR", false, Some("anchor")),
            ("--pattern", "ERROR$", false, Some("anchor")),
            ("--pattern", "/error/i", false, Some("/(?i)error/")),
            ("--pattern", "ERROR.*timeout", true, None),
            // Quotes are quoted_values' to warn about.
            ("--pattern", "'ERROR'", false, None),
            ("--pattern", "/x*/", false, Some("matches every line")),
            // Blank lines only: not every line.
            ("--pattern", "/^\\s*$/", false, None),
            ("--pattern", "/^$/", false, None),
            ("--exclude", "/.*/", false, Some("nothing can trigger")),
        ];
        for &(flag, source, literal, expected) in cases {
            let warnings = pattern_warnings(flag, source, literal);
            match expected {
                None => assert!(warnings.is_empty(), "{source}: {warnings:?}"),
                Some(fragment) => {
                    assert_eq!(warnings.len(), 1, "{source}: {warnings:?}");
                    assert!(warnings[0].contains(fragment), "{source}: {warnings:?}");
                    assert!(warnings[0].starts_with(flag), "{warnings:?}");
                }
            }
        }
    }

    #[test]
    fn quoted_values_of_any_setting() {
        let setting = |flag: &str, value: &str| Setting {
            flag: flag.to_owned(),
            value: Some(value.to_owned()),
            origin: SetBy::Environment("LOGS2ECA_X".to_owned()),
        };
        let warnings = quoted_values(&[
            setting("--logfile", "\"/tmp/x.log\""),
            setting("--pattern", "'ERROR'"),
            setting("--wait", "3"),
            setting("--command", "'echo' 'a'"),
            setting("--exclude", "\"x'"),
        ]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("wrapped in \" quotes") && warnings[0].contains("LOGS2ECA_X"));
        assert!(warnings[1].starts_with("--pattern 'ERROR'"));
    }

    #[test]
    fn commands() {
        let split = |c: &str| shell_words::split(c).unwrap();
        let cases: &[(&str, Option<&str>)] = &[
            ("systemctl restart app", None),
            ("sh -c 'systemctl restart app && echo $X | wc > out'", None),
            ("bash -ec 'a; b'", None),
            ("/bin/sh -c '$HOME/bin/x'", None),
            ("notify-send 'a && b'", None),
            ("echo 100%", None),
            ("systemctl restart app && echo done", Some("'&&'")),
            ("systemctl restart a || true", Some("'||'")),
            ("grep x | wc", Some("'|'")),
            ("echo a ; echo b", Some("';'")),
            ("echo a > out", Some("'>'")),
            ("echo a >out", Some("'>out'")),
            ("wc < in", Some("'<'")),
            ("echo $LOGS2ECA_MATCH_LINE", Some("'$LOGS2ECA_MATCH_LINE'")),
            ("echo ${HOME}", Some("'${HOME}'")),
            ("echo `date`", Some("'`date`'")),
            ("'/usr/bin/systemctl restart app'", Some("one word")),
        ];
        for &(command_line, expected) in cases {
            let warnings = command(&split(command_line));
            match expected {
                None => assert!(warnings.is_empty(), "{command_line}: {warnings:?}"),
                Some(fragment) => {
                    assert_eq!(warnings.len(), 1, "{command_line}: {warnings:?}");
                    assert!(
                        warnings[0].contains(fragment),
                        "{command_line}: {warnings:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_variables_get_the_closest_known_name() {
        let known = [
            "LOGS2ECA_LOG_FILE",
            "LOGS2ECA_EVENT_PATTERN",
            "LOGS2ECA_COMMAND",
            "LOGS2ECA_WAIT",
            "LOGS2ECA_EXCLUDE_PATTERN",
            "LOGS2ECA_TIMEOUT",
        ];
        let cases: &[(&str, Option<&str>)] = &[
            ("LOGS2ECA_WAIT", None),
            ("LOGS2ECA_MATCH_LINE", None),
            ("LOGS2ECA_MATCH_TIME", None),
            ("LOGS2ECA_GROUP_user", None),
            ("LOGS2ECA_TRUNCATED", None),
            ("PATH", None),
            (
                "LOGS2ECA_EXCLUDE",
                Some("did you mean LOGS2ECA_EXCLUDE_PATTERN?"),
            ),
            (
                "LOGS2ECA_PATTERN",
                Some("did you mean LOGS2ECA_EVENT_PATTERN?"),
            ),
            ("LOGS2ECA_LOGFILE", Some("did you mean LOGS2ECA_LOG_FILE?")),
            ("LOGS2ECA_COMAND", Some("did you mean LOGS2ECA_COMMAND?")),
            ("LOGS2ECA_CMD", Some("did you mean LOGS2ECA_COMMAND?")),
            ("LOGS2ECA_COOLDOWN", Some("did you mean LOGS2ECA_WAIT?")),
            ("LOGS2ECA_WAITT", Some("did you mean LOGS2ECA_WAIT?")),
            ("LOGS2ECA_FROBNICATE", Some("is ignored")),
            (
                "LOGS2ECA_TIMEOUT_SECONDS",
                Some("did you mean LOGS2ECA_TIMEOUT?"),
            ),
        ];
        for &(name, expected) in cases {
            let guesses = [(
                "LOGS2ECA_LOGFILE".to_owned(),
                "LOGS2ECA_LOG_FILE".to_owned(),
            )];
            let warnings = environment([name.to_owned()], &known, &guesses, |_| None);
            match expected {
                None => assert!(warnings.is_empty(), "{name}: {warnings:?}"),
                Some(fragment) => {
                    assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
                    assert!(warnings[0].contains(name), "{warnings:?}");
                    assert!(warnings[0].contains(fragment), "{name}: {warnings:?}");
                }
            }
        }
    }

    #[test]
    fn far_names_get_no_guess() {
        let known = ["LOGS2ECA_COMMAND", "LOGS2ECA_WAIT", "LOGS2ECA_KEY"];
        for name in ["LOGS2ECA_FROBNICATE", "LOGS2ECA_COOLDOWN_X"] {
            let warnings = environment([name.to_owned()], &known, &[], |_| None);
            assert!(!warnings[0].contains("did you mean"), "{warnings:?}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
