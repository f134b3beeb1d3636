//! From raw settings to a `Config` that cannot be wrong: patterns compiled,
//! the command split and its program found, durations parsed. Everything
//! that can be checked before starting is checked here, so a typo in an env
//! file stops the service at once (exit 2) with one line that says what is
//! wrong, instead of at 3 a.m. when the first match arrives.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::action::CommandLine;
use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::gate::Threshold;
use crate::pattern::{Matcher, Pattern, Syntax};

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
    pub from_beginning: bool,
    pub once: bool,
    /// Threshold, keys and slots (§7).
    pub gate: GateConfig,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Self> {
        let path_as_given = non_empty(cli.logfile)
            .ok_or_else(|| Error::usage("missing --logfile (or LOGS2ECA_LOG_FILE)"))?;
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
            Some(value) => parse_seconds("--wait", &value)?,
            // A dry run restarts nothing: every match that would trigger
            // is shown unless a cooldown is asked for.
            None if cli.dry_run => Duration::ZERO,
            None => DEFAULT_WAIT,
        };
        let timeout = match non_empty(cli.timeout) {
            Some(value) => Some(parse_seconds("--timeout", &value)?).filter(|t| !t.is_zero()),
            None => None,
        };
        let path = std::path::absolute(&path_as_given)
            .map_err(|err| Error::usage(format!("invalid --logfile '{path_as_given}': {err}")))?;
        Ok(Config {
            path_as_given,
            path,
            matcher,
            command: if cli.dry_run { None } else { command },
            wait,
            timeout,
            from_beginning: cli.from_beginning,
            once: cli.once,
            gate,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A duration in seconds as people write it in config files: `3`, `2.5`,
/// `0`. No signs, exponents, `inf` or `nan`.
pub(crate) fn parse_seconds(flag: &str, value: &str) -> Result<Duration> {
    let plain_decimal = value.bytes().any(|b| b.is_ascii_digit())
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().filter(|&b| b == b'.').count() <= 1;
    plain_decimal
        .then(|| value.parse::<f64>().ok())
        .flatten()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| {
            Error::usage(format!(
                "invalid {flag} '{value}': expected a non-negative number of seconds, like 3 or 2.5"
            ))
        })
}

/// Splits the command like a shell would (quotes, escapes) without running
/// one, and makes sure its program can be executed.
fn parse_command(command: &str) -> Result<CommandLine> {
    let argv = shell_words::split(command)
        .map_err(|err| Error::usage(format!("invalid --command '{command}': {err}")))?;
    let Some(program) = argv.first().filter(|p| !p.is_empty()) else {
        return Err(Error::usage("empty --command"));
    };
    let program =
        find_program(program).map_err(|why| Error::usage(format!("command '{program}': {why}")))?;
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
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    unsafe { libc::access(c_path.as_ptr(), libc::X_OK) == 0 }
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
        Some(window) => parse_seconds("--threshold", window)?,
        None if count == 1 => Duration::ZERO,
        None => return Err(invalid("a count needs a window")),
    };
    if count > 1 && window.is_zero() {
        return Err(invalid("the window must be longer than 0"));
    }
    Ok(Threshold { count, window })
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
    fn seconds_are_plain_non_negative_decimals() {
        let ok = [
            ("0", 0),
            ("3", 3000),
            ("2.5", 2500),
            ("0.001", 1),
            (".5", 500),
            ("5.", 5000),
        ];
        for (text, millis) in ok {
            assert_eq!(
                parse_seconds("--wait", text).unwrap(),
                Duration::from_millis(millis),
                "{text}"
            );
        }
        for bad in [
            "-1",
            "abc",
            "1e3",
            "inf",
            "nan",
            "+1",
            ".",
            "1.2.3",
            "1 s",
            "99999999999999999999999",
        ] {
            let err = parse_seconds("--wait", bad).unwrap_err();
            assert!(err.message.contains(&format!("'{bad}'")), "{}", err.message);
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
