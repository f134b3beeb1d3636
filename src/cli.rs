//! The command line: every setting is a flag and a `LOGS2ECA_*` environment
//! variable (flag > env > default), so the same binary is configured by hand,
//! by a systemd `EnvironmentFile` or by a container's environment.
//!
//! The doc comment of each field is its `--help` text, and the man page is
//! checked against these definitions by a test. Values are kept as trimmed
//! strings here; `config` gives them meaning, so that every bad value gets
//! the same one-line `logs2eca: ...` error instead of clap's usage dump.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::check::{self, Setting};

/// Follow a log file (or the systemd journal) and run a command when a new line matches a pattern.
///
/// Lines already in the file are skipped unless --from-beginning is given;
/// rotation (rename, delete, copytruncate, symlink swap, SIGHUP) loses no
/// line and repeats none. With --journal, -u or --journal-match each journal
/// entry's MESSAGE is a line. After each run, further matches are suppressed
/// for the --wait cooldown.
#[derive(Parser, Debug, Default)]
#[command(
    name = "logs2eca",
    version,
    after_help = "PATTERN is a literal substring, or a regular expression when written /re/, |re| or %re%.\n\
                  Environment variables that are set but empty count as unset.\n\
                  See logs2eca(1) for rotation, cooldown and the command's environment.",
    hide_possible_values = true
)]
pub struct Cli {
    /// The log file to follow; it may not exist yet. - reads standard input as a stream.
    #[arg(short = 'l', long, value_name = "FILE", env = "LOGS2ECA_LOG_FILE", value_parser = trimmed)]
    pub logfile: Option<String>,

    /// Run the command when a new line matches this: a literal, or a regex as /re/, |re| or %re%.
    #[arg(short = 'p', long, value_name = "PATTERN", env = "LOGS2ECA_EVENT_PATTERN",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub pattern: Option<String>,

    /// The command to run, split like a shell would but run without one (use sh -c '...' for pipes).
    #[arg(short = 'c', long, value_name = "CMD", env = "LOGS2ECA_COMMAND",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub command: Option<String>,

    /// Cooldown after the command exits (DURATION: seconds, or 500ms, 10m, 1.5h, 2d); matches meanwhile are suppressed; 0: every match runs, in turn [default: 3].
    #[arg(short = 'w', long, value_name = "DURATION", env = "LOGS2ECA_WAIT",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub wait: Option<String>,

    /// A line that also matches this pattern never triggers (same syntax as --pattern).
    #[arg(short = 'x', long, value_name = "PATTERN", env = "LOGS2ECA_EXCLUDE_PATTERN",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub exclude: Option<String>,

    /// Match both patterns without regard to case.
    #[arg(short = 'i', long, env = "LOGS2ECA_IGNORE_CASE", action = ArgAction::SetTrue, value_parser = boolean)]
    pub ignore_case: bool,

    /// Take the patterns as literal text even when they look like /re/.
    #[arg(long, env = "LOGS2ECA_LITERAL", action = ArgAction::SetTrue, value_parser = boolean)]
    pub literal: bool,

    /// Stop a command that runs longer than this DURATION: SIGTERM to its process group, SIGKILL 2 s later; 0 means no limit [default: none].
    #[arg(short = 't', long, value_name = "DURATION", env = "LOGS2ECA_TIMEOUT",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub timeout: Option<String>,

    /// Also process the lines already in the file at start.
    #[arg(long, env = "LOGS2ECA_FROM_BEGINNING", action = ArgAction::SetTrue, value_parser = boolean)]
    pub from_beginning: bool,

    /// Keep the read position and the cooldown in this file across restarts; it is locked while in use [default: $STATE_DIRECTORY/state.json when STATE_DIRECTORY is set, else none].
    #[arg(long, value_name = "FILE", env = "LOGS2ECA_STATE_FILE", value_parser = trimmed)]
    pub state_file: Option<String>,

    /// How changes are noticed: auto (inotify, and a look every second where inotify cannot be used or the file system is remote), never (inotify only), or a DURATION (at least 10ms) to look at that interval without inotify [default: auto].
    #[arg(long, value_name = "WHEN", env = "LOGS2ECA_POLL",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub poll: Option<String>,

    /// Trigger only on the N-th match within DURATION (a sliding window), e.g. 20/1m; per key with --key [default: 1, every match].
    #[arg(long, value_name = "N/DURATION", env = "LOGS2ECA_THRESHOLD",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub threshold: Option<String>,

    /// Count, cool down and run separately for each value of these capture groups (names or numbers, comma-separated).
    #[arg(long, value_name = "GROUP[,GROUP...]", env = "LOGS2ECA_KEY",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub key: Option<String>,

    /// Track at most this many keys; busy keys are never forgotten [default: 10000].
    #[arg(long, value_name = "N", env = "LOGS2ECA_MAX_KEYS",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub max_keys: Option<String>,

    /// Run at most this many commands at once, across keys [default: 1].
    #[arg(long, value_name = "N", env = "LOGS2ECA_MAX_RUNNING",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub max_running: Option<String>,

    /// Follow the systemd journal instead of a file: each entry's MESSAGE is a line.
    #[arg(long, env = "LOGS2ECA_JOURNAL", action = ArgAction::SetTrue, value_parser = boolean)]
    pub journal: bool,

    /// Journal entries of this unit, as journalctl -u (repeat for more); implies --journal.
    #[arg(short = 'u', long, value_name = "UNIT", env = "LOGS2ECA_UNIT",
          action = ArgAction::Append, value_parser = trimmed)]
    pub unit: Vec<String>,

    /// Journal matches as journalctl takes them: FIELD=VALUE (one field repeated: any of them; different fields: all), + between groups (either group); split like a shell would; implies --journal.
    #[arg(long, value_name = "FIELD=VALUE...", env = "LOGS2ECA_JOURNAL_MATCH",
          action = ArgAction::Append, value_parser = trimmed)]
    pub journal_match: Vec<String>,

    /// Read the journal files in this directory (a container's, a copy from another machine) instead of the system journal; implies --journal.
    #[arg(long, value_name = "DIR", env = "LOGS2ECA_JOURNAL_DIRECTORY", value_parser = trimmed)]
    pub journal_directory: Option<String>,

    /// Stop at the end of the file (or journal) instead of following it.
    #[arg(long)]
    pub once: bool,

    /// Print each line that would trigger to stdout instead of running the command; --wait defaults to 0 here.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// With --dry-run: print one JSON object per line that would trigger (line, file, offset, groups, key).
    #[arg(long)]
    pub json: bool,

    /// Validate the settings as a start would, print them with where each came from, and exit (0 or 2).
    #[arg(long)]
    pub check: bool,

    /// Log more (-v debug, -vv trace); overrides RUST_LOG.
    #[arg(short = 'v', long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Log less (-q warnings only, -qq errors only); overrides RUST_LOG.
    #[arg(short = 'q', long, action = ArgAction::Count)]
    pub quiet: u8,

    /// Log lines on stderr: journal (<N> priority prefix, no timestamp), plain, or auto (journal when stderr is the journal) [default: auto].
    #[arg(long, value_name = "FORMAT", env = "LOGS2ECA_LOG_FORMAT", value_parser = trimmed)]
    pub log_format: Option<String>,

    /// Every setting as resolved, with where its value came from (for
    /// `--check`).
    #[arg(skip)]
    pub settings: Vec<Setting>,
}

/// Parses the process arguments. On `--help`/`--version` the text is
/// printed and `Err(SUCCESS)` returned; on a usage error, one line.
pub fn parse() -> Result<Cli, ExitCode> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = Cli::command();
    let parsed = command
        .clone()
        .try_get_matches_from(args)
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (mut cli, matches) = parsed.map_err(|err| {
        if !err.use_stderr() {
            // --help or --version: clap's own output is what users expect.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        crate::logging::fatal(&format!("{} (see --help)", first_line(&err.to_string())));
        ExitCode::from(2)
    })?;
    cli.settings = check::settings(&command, &matches);
    Ok(cli)
}

/// The environment variables of every setting, from the definitions.
pub fn setting_variables() -> Vec<String> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// clap renders `error: <what>\n\n<usage>...`; keep only `<what>`.
fn first_line(rendered: &str) -> &str {
    let line = rendered.lines().next().unwrap_or(rendered);
    line.strip_prefix("error: ").unwrap_or(line).trim()
}

fn trimmed(value: &str) -> Result<String, std::convert::Infallible> {
    Ok(value.trim().to_owned())
}

/// The boolean variables accept the spellings env files use in the wild.
fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        other => Err(format!(
            "'{other}' is not a boolean (use 1/0, true/false, yes/no or on/off)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn booleans_accept_common_spellings() {
        for yes in ["1", "true", "YES", " on "] {
            assert_eq!(boolean(yes), Ok(true), "{yes}");
        }
        for no in ["", "0", "False", "no", "off"] {
            assert_eq!(boolean(no), Ok(false), "{no}");
        }
        assert!(boolean("maybe").is_err());
    }

    #[test]
    fn values_are_trimmed_and_hyphen_values_accepted() {
        let cli = parse_from(["logs2eca", "-l", " a.log ", "-w", "-1", "-p", "-x-"]).unwrap();
        assert_eq!(cli.logfile.as_deref(), Some("a.log"));
        assert_eq!(cli.wait.as_deref(), Some("-1"));
        assert_eq!(cli.pattern.as_deref(), Some("-x-"));
    }

    #[test]
    fn usage_errors_are_reduced_to_their_first_line() {
        let rendered = "error: unexpected argument '--nope' found\n\nUsage: logs2eca\n";
        assert_eq!(first_line(rendered), "unexpected argument '--nope' found");
    }
}
