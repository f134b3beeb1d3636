//! From raw settings to a `Config` that cannot be wrong: patterns compiled,
//! the command split and its program found, durations parsed. Everything
//! that can be checked before starting is checked here, so a typo in an env
//! file stops the service at once (exit 2) with one line that says what is
//! wrong, instead of at 3 a.m. when the first match arrives.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::input::file::polling::Poll;
use crate::input::journal;
use crate::react::action::{CommandLine, LONG_RUN};
use crate::react::followup::Retry;
use crate::react::gate::Threshold;
use crate::react::linetime::LineTimes;
use crate::react::pattern::{Matcher, Pattern, Syntax};
use crate::settings::advice;
use crate::settings::cli::Cli;
use crate::settings::duration::parse_duration;

/// Not a setting: shortens [`LONG_RUN`] for the tests, which cannot wait a
/// minute to see the warning.
pub const LONG_RUN_VAR: &str = "LOGS2ECA_TEST_LONG_RUN";

/// `--undo CMD --undo-after DURATION`.
#[derive(Debug, Clone)]
pub struct Undo {
    pub command: CommandLine,
    pub after: Duration,
}

/// The most retries `--retry` may ask for.
pub const MAX_RETRIES: u32 = 100;

/// The cooldown when none is given.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Config {
    /// The followed path as the user gave it (logs, `LOGS2ECA_MATCH_FILE`).
    pub path_as_given: String,
    /// The same path made absolute (not resolved: it may be a symlink).
    pub path: PathBuf,
    pub matcher: Matcher,
    /// `None` in dry-run mode.
    pub command: Option<CommandLine>,
    pub wait: Duration,
    pub timeout: Option<Duration>,
    /// `--retry`: failed runs are tried again.
    pub retry: Option<Retry>,
    /// `--undo` and `--undo-after`.
    pub undo: Option<Undo>,
    /// A run longer than this is logged as a warning and shown in
    /// `STATUS=` ([`LONG_RUN`]; tests shorten it, see [`LONG_RUN_VAR`]).
    pub long_run: Duration,
    pub from_beginning: bool,
    pub once: bool,
    /// `--json`: the dry run prints JSON objects, not lines.
    pub json: bool,
    /// Legal settings that are almost always mistakes: one warning line
    /// each, at start and in `--check`.
    pub warnings: Vec<String>,
    /// Where the state survives restarts (absolute), if anywhere.
    pub state_file: Option<PathBuf>,
    /// `--metrics-file`: where the counters are written (absolute), if
    /// anywhere.
    pub metrics_file: Option<PathBuf>,
    /// Threshold, keys and slots (§7).
    pub gate: GateConfig,
    /// `-l -`: read standard input as a stream; `path` means nothing then.
    pub stdin: bool,
    /// How changes of the path are noticed.
    pub poll: Poll,
    /// Follow the systemd journal instead of a path (§10).
    pub journal: Option<journal::Settings>,
    /// What a matching line's time is (§11).
    pub times: LineTimes,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Self> {
        let journal = journal_settings(
            cli.journal,
            &cli.unit,
            &cli.journal_match,
            non_empty(cli.journal_directory),
        )?;
        let logfile = non_empty(cli.logfile);
        let path_as_given = match (&journal, logfile) {
            (Some(_), Some(file)) => {
                return Err(Error::usage(format!(
                    "-l {file} and a journal source (--journal, -u, --journal-match, \
                     --journal-directory) exclude each other: one monitor follows one source"
                )));
            }
            (Some(journal), None) => journal_path(journal),
            (None, Some(file)) => file,
            (None, None) => {
                return Err(Error::usage(
                    "missing --logfile (or LOGS2ECA_LOG_FILE), or --journal",
                ));
            }
        };
        let pattern = match cli.pattern {
            None => {
                return Err(Error::usage(
                    "missing --pattern (or LOGS2ECA_EVENT_PATTERN)",
                ));
            }
            // An empty env var is unset, but to the user both are "empty".
            Some(p) if p.is_empty() => {
                return Err(Error::usage(
                    "empty pattern: --pattern (or LOGS2ECA_EVENT_PATTERN) is empty",
                ));
            }
            Some(p) => p,
        };
        let syntax = Syntax {
            literal: cli.literal,
            ignore_case: cli.ignore_case,
        };
        let matcher = Matcher {
            pattern: Pattern::new(&pattern, syntax)?,
            exclude: non_empty(cli.exclude)
                .map(|x| Pattern::new(&x, syntax))
                .transpose()?,
        };
        let gate = GateConfig::from_cli(
            [cli.threshold, cli.key, cli.max_keys, cli.max_running],
            &matcher.pattern,
        )?;
        if cli.json && !cli.dry_run {
            return Err(Error::usage(
                "--json prints what a dry run would trigger: use it with --dry-run",
            ));
        }
        let command = match (non_empty(cli.command), cli.dry_run) {
            (Some(command), _) => Some(parse_command(&command)?),
            (None, true) => None,
            (None, false) => {
                return Err(Error::usage(
                    "missing --command (or LOGS2ECA_COMMAND); use --dry-run to only print matches",
                ));
            }
        };
        let wait = match non_empty(cli.wait) {
            Some(value) => parse_duration("--wait", &value)?,
            // A dry run restarts nothing: every match that would trigger
            // is shown unless a cooldown is asked for.
            None if cli.dry_run => Duration::ZERO,
            None => DEFAULT_WAIT,
        };
        let timeout = match non_empty(cli.timeout) {
            Some(value) => Some(parse_duration("--timeout", &value)?).filter(|t| !t.is_zero()),
            None => None,
        };
        let retry = non_empty(cli.retry)
            .map(|value| parse_retry(&value))
            .transpose()?;
        let undo = match (non_empty(cli.undo), non_empty(cli.undo_after)) {
            (Some(undo), Some(after)) => Some(Undo {
                command: parse_command_of("--undo", &undo)?,
                after: parse_duration("--undo-after", &after)?,
            }),
            (Some(_), None) => {
                return Err(Error::usage(
                    "--undo needs --undo-after (or LOGS2ECA_UNDO_AFTER): when to undo",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::usage(
                    "--undo-after needs --undo (or LOGS2ECA_UNDO): what to run",
                ));
            }
            (None, None) => None,
        };
        let long_run = match std::env::var(LONG_RUN_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(value) => parse_duration(LONG_RUN_VAR, value.trim())?,
            None => LONG_RUN,
        };
        let mut warnings = advice::pattern("--pattern", &pattern, &matcher.pattern, cli.literal);
        if let Some(exclude) = &matcher.exclude {
            warnings.extend(advice::pattern(
                "--exclude",
                exclude.source(),
                exclude,
                cli.literal,
            ));
        }
        if let Some(command) = &command {
            warnings.extend(advice::command(&command.argv));
        }
        // The journal has no path: its name stands for one, so that a
        // state file written for a file is not taken for the journal's.
        let path = match &journal {
            Some(_) => PathBuf::from(&path_as_given),
            None => std::path::absolute(&path_as_given).map_err(|err| {
                Error::usage(format!("invalid --logfile '{path_as_given}': {err}"))
            })?,
        };
        let poll = match non_empty(cli.poll) {
            Some(value) => Poll::parse(&value)?,
            None => Poll::Auto,
        };
        let stdin = journal.is_none() && path_as_given == "-";
        let times = LineTimes::parse(
            non_empty(cli.time).as_deref(),
            non_empty(cli.time_zone).as_deref(),
        )
        .map_err(Error::usage)?;
        if journal.is_some() && poll != Poll::Auto {
            warnings.push(
                "--poll is ignored with the journal: journalctl notices new entries itself"
                    .to_owned(),
            );
        }
        // A dry run tests a pattern: it does not take the service's state
        // (its position, its lock) unless a state file is named for it.
        let state_directory = std::env::var_os("STATE_DIRECTORY").filter(|_| !cli.dry_run);
        let state_file = if stdin {
            warnings.extend(stream_settings(
                cli.state_file,
                state_directory,
                cli.from_beginning,
                poll,
            )?);
            None
        } else {
            state_file(cli.state_file, state_directory)?
        };
        let metrics_file =
            match non_empty(cli.metrics_file) {
                None => None,
                Some(given) if Path::new(&given).file_name().is_none() => {
                    return Err(Error::usage(format!(
                        "invalid --metrics-file '{given}': not a file name"
                    )));
                }
                Some(given) => Some(std::path::absolute(&given).map_err(|err| {
                    Error::usage(format!("invalid --metrics-file '{given}': {err}"))
                })?),
            };
        if metrics_file.is_some()
            && (metrics_file == state_file || metrics_file.as_ref() == Some(&path))
        {
            return Err(Error::usage(
                "--metrics-file is the followed file or the state file: it would be overwritten",
            ));
        }
        if state_file.as_ref() == Some(&path) {
            return Err(Error::usage(format!(
                "--state-file is the followed file {path_as_given}"
            )));
        }
        Ok(Config {
            path_as_given,
            path,
            matcher,
            command: if cli.dry_run { None } else { command },
            wait,
            timeout,
            retry,
            undo: if cli.dry_run { None } else { undo },
            long_run,
            from_beginning: cli.from_beginning,
            // Standard input is read to its end either way.
            once: cli.once && !stdin,
            json: cli.json,
            warnings,
            state_file,
            metrics_file,
            gate,
            stdin,
            poll,
            journal,
            times,
        })
    }

    /// What is followed, for people: the path as given, or the journal.
    pub fn source_name(&self) -> String {
        match &self.journal {
            Some(journal) => journal.describe(),
            None => self.path_as_given.clone(),
        }
    }
}

/// The journal settings (§10), if any asks for the journal: `-u`,
/// `--journal-match` and `--journal-directory` imply `--journal`.
fn journal_settings(
    wanted: bool,
    units: &[String],
    matches: &[String],
    directory: Option<String>,
) -> Result<Option<journal::Settings>> {
    let units: Vec<String> = units
        .iter()
        .flat_map(|value| value.split_whitespace())
        .map(str::to_owned)
        .collect();
    let mut words = Vec::new();
    for value in matches.iter().filter(|v| !v.is_empty()) {
        let split = shell_words::split(value)
            .map_err(|err| Error::usage(format!("invalid --journal-match '{value}': {err}")))?;
        for word in split {
            journal::check_match(&word)
                .map_err(|why| Error::usage(format!("invalid --journal-match: {why}")))?;
            words.push(word);
        }
    }
    if words.first().is_some_and(|w| w == "+") || words.last().is_some_and(|w| w == "+") {
        return Err(Error::usage(
            "invalid --journal-match: '+' goes between two groups of matches",
        ));
    }
    if !wanted && units.is_empty() && words.is_empty() && directory.is_none() {
        return Ok(None);
    }
    let directory = directory
        .map(|dir| {
            std::path::absolute(&dir)
                .map_err(|err| Error::usage(format!("invalid --journal-directory '{dir}': {err}")))
        })
        .transpose()?;
    Ok(Some(journal::Settings {
        units,
        matches: words,
        directory,
    }))
}

/// The name that stands for the journal's path: in `LOGS2ECA_MATCH_FILE`,
/// and in the state file, whose position is for this journal only.
fn journal_path(journal: &journal::Settings) -> String {
    match &journal.directory {
        Some(dir) => format!("journal:{}", dir.display()),
        None => "journal".to_owned(),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The state file: `--state-file` (or its variable), else `state.json` in
/// the first of the directories systemd's `StateDirectory=` gives (it may
/// list several, separated by `:`), else none.
fn state_file(
    setting: Option<String>,
    state_directory: Option<OsString>,
) -> Result<Option<PathBuf>> {
    let (path, shown) = match non_empty(setting) {
        Some(given) => (PathBuf::from(&given), given),
        None => {
            let Some(dir) = state_directory
                .as_deref()
                .and_then(|dirs| dirs.as_bytes().split(|&b| b == b':').next())
                .filter(|dir| !dir.is_empty())
            else {
                return Ok(None);
            };
            let dir = Path::new(OsStr::from_bytes(dir));
            let path = dir.join("state.json");
            let shown = format!("$STATE_DIRECTORY/state.json = {}", path.display());
            (path, shown)
        }
    };
    if path.file_name().is_none() {
        return Err(Error::usage(format!(
            "invalid --state-file '{shown}': not a file name"
        )));
    }
    std::path::absolute(&path)
        .map(Some)
        .map_err(|err| Error::usage(format!("invalid --state-file '{shown}': {err}")))
}

/// What the settings that mean nothing for a stream come to with `-l -`:
/// a state file asked for by name is refused (there is no position to
/// resume from, and silently keeping none would break a promise), the rest
/// is a warning each.
fn stream_settings(
    state_file: Option<String>,
    state_directory: Option<OsString>,
    from_beginning: bool,
    poll: Poll,
) -> Result<Vec<String>> {
    if let Some(given) = non_empty(state_file) {
        return Err(Error::usage(format!(
            "--state-file '{given}' cannot be used with -l -: standard input has no position to resume from"
        )));
    }
    let mut warnings = Vec::new();
    if state_directory.is_some_and(|dir| !dir.is_empty()) {
        warnings.push(
            "STATE_DIRECTORY is ignored with -l -: standard input has no position to resume from"
                .to_owned(),
        );
    }
    if from_beginning {
        warnings.push(
            "--from-beginning means nothing with -l -: every line read from standard input is new"
                .to_owned(),
        );
    }
    if poll != Poll::Auto {
        warnings
            .push("--poll is ignored with -l -: standard input is read as it arrives".to_owned());
    }
    Ok(warnings)
}

/// Splits the command like a shell would (quotes, escapes) without running
/// one, and makes sure its program can be executed.
fn parse_command(command: &str) -> Result<CommandLine> {
    parse_command_of("--command", command)
}

/// A command setting (`flag`: `--command`, `--undo`), split and its
/// program found.
fn parse_command_of(flag: &str, command: &str) -> Result<CommandLine> {
    let argv = shell_words::split(command)
        .map_err(|err| Error::usage(format!("invalid {flag} '{command}': {err}")))?;
    let Some(program) = argv.first().filter(|p| !p.is_empty()) else {
        return Err(Error::usage(format!("empty {flag}")));
    };
    let what = if flag == "--command" {
        "command"
    } else {
        "undo"
    };
    let program = find_program(program).map_err(|why| {
        let hint = advice::quoted_command_hint(&argv)
            .map(|hint| format!("; the {what} {hint}"))
            .unwrap_or_default();
        Error::usage(format!("{what} '{program}': {why}{hint}"))
    })?;
    Ok(CommandLine { program, argv })
}

/// Where `execvp` would find `name`, checked now rather than at the first
/// match.
fn find_program(name: &str) -> std::result::Result<PathBuf, String> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return match path.metadata() {
            Err(err) => Err(err.to_string()),
            Ok(meta) if meta.is_dir() => Err("is a directory".into()),
            Ok(_) if !is_executable(&path) => Err("not executable".into()),
            Ok(_) => Ok(path),
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file() && is_executable(candidate))
        .ok_or_else(|| "program not found in PATH".into())
}

fn is_executable(path: &Path) -> bool {
    crate::sys::access(path, libc::X_OK).is_ok()
}

// ---------------------------------------------------------------------------
// Thresholds, keys and slots (SPEC §7).

/// The most matches a threshold may ask for: each key keeps the arrival
/// times of up to N-1 matches.
pub const MAX_THRESHOLD: u32 = 1000;

/// `--max-keys` when not given.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// The largest `--max-keys` and `--max-running` accepted.
pub const MAX_KEYS_LIMIT: usize = 1_000_000;
pub const MAX_RUNNING_LIMIT: usize = 1024;

#[derive(Debug, Clone)]
pub struct GateConfig {
    pub threshold: Threshold,
    /// The `--key` groups as capture group indexes; empty without `--key`.
    pub key_groups: Vec<usize>,
    pub max_keys: usize,
    pub max_running: usize,
}

impl GateConfig {
    /// From `--threshold`, `--key`, `--max-keys` and `--max-running`.
    fn from_cli(values: [Option<String>; 4], pattern: &Pattern) -> Result<Self> {
        let [threshold, key, max_keys, max_running] = values.map(non_empty);
        let threshold = match threshold {
            Some(value) => parse_threshold(&value)?,
            None => Threshold::EVERY_MATCH,
        };
        let key_groups = match key {
            Some(value) => parse_key(&value, pattern)?,
            None => Vec::new(),
        };
        let max_keys = match max_keys {
            Some(value) => parse_count("--max-keys", &value, MAX_KEYS_LIMIT)?,
            None => DEFAULT_MAX_KEYS,
        };
        let max_running = match max_running {
            Some(value) => parse_count("--max-running", &value, MAX_RUNNING_LIMIT)?,
            None => 1,
        };
        Ok(GateConfig {
            threshold,
            key_groups,
            max_keys,
            max_running,
        })
    }
}

/// `N/DURATION`, or `1` alone (every match): a count above one without a
/// window would be a count over all time, which is almost always a mistake.
fn parse_threshold(value: &str) -> Result<Threshold> {
    let invalid = |why: &str| {
        Error::usage(format!(
            "invalid --threshold '{value}': {why} (expected N/DURATION, like 20/1m, or 1)"
        ))
    };
    let (count, window) = match value.split_once('/') {
        Some((count, window)) => (count.trim(), Some(window.trim())),
        None => (value, None),
    };
    let count: u32 = match count.parse() {
        Ok(n) if count.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_THRESHOLD).contains(&n) => n,
        _ => {
            return Err(invalid(&format!(
                "N must be a whole number from 1 to {MAX_THRESHOLD}"
            )));
        }
    };
    let window = match window {
        Some(window) => crate::settings::duration::parse_span(window)
            .map_err(|why| invalid(&format!("the window '{window}' is {why}")))?,
        None if count == 1 => Duration::ZERO,
        None => return Err(invalid("a count needs a window")),
    };
    if count > 1 && window.is_zero() {
        return Err(invalid("the window must be longer than 0"));
    }
    Ok(Threshold { count, window })
}

/// `N/DURATION`: N more attempts at most, the first after DURATION.
fn parse_retry(value: &str) -> Result<Retry> {
    let invalid = |why: &str| {
        Error::usage(format!(
            "invalid --retry '{value}': {why} (expected N/DURATION, like 3/10s)"
        ))
    };
    let Some((times, first)) = value.split_once('/') else {
        return Err(invalid("the first delay is missing"));
    };
    let times = times.trim();
    let times: u32 = match times.parse() {
        Ok(n) if times.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_RETRIES).contains(&n) => n,
        _ => {
            return Err(invalid(&format!(
                "N must be a whole number from 1 to {MAX_RETRIES}"
            )));
        }
    };
    let first = parse_duration("--retry", first.trim())?;
    Ok(Retry { times, first })
}

/// `GROUP[,GROUP...]`: names or numbers of capture groups the pattern has.
fn parse_key(value: &str, pattern: &Pattern) -> Result<Vec<usize>> {
    value
        .split(',')
        .map(str::trim)
        .map(|group| {
            if group.is_empty() {
                return Err(Error::usage(format!(
                    "invalid --key '{value}': empty group name"
                )));
            }
            pattern.group_index(group).ok_or_else(|| {
                Error::usage(format!(
                    "invalid --key '{value}': the pattern '{}' has no capture group '{group}'",
                    pattern.source()
                ))
            })
        })
        .collect()
}

/// A whole number from 1 to `limit`.
fn parse_count(flag: &str, value: &str, limit: usize) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) && (1..=limit).contains(&n) => Ok(n),
        _ => Err(Error::usage(format!(
            "invalid {flag} '{value}': expected a whole number from 1 to {limit}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_is_the_setting_else_the_first_state_directory_else_none() {
        let cwd = std::env::current_dir().unwrap();
        let dirs = |s: &str| Some(OsString::from(s));
        let cases = [
            (
                Some("/s/x.json"),
                dirs("/var/lib/a"),
                Some(PathBuf::from("/s/x.json")),
            ),
            (Some("rel.json"), None, Some(cwd.join("rel.json"))),
            (
                Some(""),
                dirs("/var/lib/a"),
                Some("/var/lib/a/state.json".into()),
            ),
            (
                None,
                dirs("/var/lib/a:/var/lib/b"),
                Some("/var/lib/a/state.json".into()),
            ),
            (None, dirs(""), None),
            (None, dirs(":/var/lib/b"), None),
            (None, None, None),
            (Some(""), None, None),
        ];
        for (setting, state_directory, expected) in cases {
            let got = state_file(setting.map(String::from), state_directory.clone());
            assert_eq!(got.unwrap(), expected, "{setting:?} {state_directory:?}");
        }
        for bad in ["/", "..", "logs/.."] {
            let err = state_file(Some(bad.into()), None).unwrap_err();
            assert!(
                err.message.contains("not a file name"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn commands_are_split_without_a_shell_and_checked() {
        let c = parse_command("sh -c 'echo \"$LOGS2ECA_MATCH_LINE\" | wc -c'").unwrap();
        assert_eq!(
            c.argv,
            ["sh", "-c", "echo \"$LOGS2ECA_MATCH_LINE\" | wc -c"]
        );
        assert!(c.program.is_absolute());
        let plain_file = tempfile::NamedTempFile::new().unwrap();
        let plain_file = plain_file.path().to_str().unwrap();
        for (bad, fragment) in [
            ("echo 'unbalanced", "invalid --command"),
            ("''", "empty --command"),
            ("no-such-program-here", "not found"),
            (plain_file, "not executable"),
            ("/", "is a directory"),
            (
                "'/usr/bin/env restart app'",
                "one word, quoted as a whole: remove the quotes",
            ),
        ] {
            let err = parse_command(bad).unwrap_err();
            assert!(err.message.contains(fragment), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn thresholds_are_a_count_and_a_window() {
        let t = |count, millis| Threshold {
            count,
            window: Duration::from_millis(millis),
        };
        for (text, expected) in [
            ("1", Threshold::EVERY_MATCH),
            ("20/60", t(20, 60_000)),
            ("3/2.5", t(3, 2500)),
            ("1/10", t(1, 10_000)),
            ("1000/1", t(1000, 1000)),
        ] {
            assert_eq!(parse_threshold(text).unwrap(), expected, "{text}");
        }
        for bad in [
            "0", "5", "0/10", "-1/10", "1001/10", "x/10", "5/0", "5/", "/5", "5/x", "5/-1",
        ] {
            let err = parse_threshold(bad).unwrap_err();
            assert!(
                err.message.contains("--threshold"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn key_groups_must_exist_in_the_pattern() {
        let syntax = Syntax::default();
        let p = Pattern::new(r"/user=(?P<user>\w+) from (\S+)/", syntax).unwrap();
        assert_eq!(parse_key("user", &p).unwrap(), [1]);
        assert_eq!(parse_key("2, user", &p).unwrap(), [2, 1]);
        assert_eq!(parse_key("0", &p).unwrap(), [0]);
        for bad in ["nope", "3", "user,", ""] {
            assert!(parse_key(bad, &p).is_err(), "{bad}");
        }
        let literal = Pattern::new("failed", syntax).unwrap();
        assert!(parse_key("1", &literal).is_err());
    }

    #[test]
    fn counts_are_whole_and_bounded() {
        assert_eq!(parse_count("--max-keys", "10", 100).unwrap(), 10);
        for bad in ["0", "101", "-1", "1.5", "+3", "x"] {
            assert!(parse_count("--max-keys", bad, 100).is_err(), "{bad}");
        }
    }
}
