//! The command line: every setting is a flag and a `LOGS2ECA_*` environment
//! variable (flag > env > default), so the same binary is configured by hand,
//! by a systemd `EnvironmentFile` or by a container's environment.
//!
//! The doc comment of each field is its `--help` text, and the man page is
//! checked against these definitions by a test. Values are kept as trimmed
//! strings here; `config` gives them meaning, so that every bad value gets
//! the same one-line `logs2eca: ...` error instead of clap's usage dump.

use std::ffi::{OsStr, OsString};

use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser, Subcommand,
};

use crate::error::{Error, Result};

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
                  A literal with regex syntax in it (ERROR|FATAL) gets a warning; --literal silences it.\n\
                  Environment variables that are set but empty count as unset.\n\
                  Check a monitor with: logs2eca --check --env-file /etc/logs2eca/NAME.env\n\
                  See logs2eca(1) for rotation, cooldown and the command's environment.",
    hide_possible_values = true,
    disable_help_subcommand = true,
    subcommand_value_name = "status",
    subcommand_help_heading = "Subcommand"
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

    /// Cooldown after the command exits (DURATION: seconds, or 500ms, 10m, 1.5h, 2d, or a systemd time span such as 1m30s or 2h 30min); matches meanwhile are suppressed; 0: every match runs, in turn [default: 3].
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

    /// Write the counters in Prometheus text format to this file (e.g. for node_exporter's textfile collector), replaced whenever the state is saved and never while idle [default: none].
    #[arg(long, value_name = "FILE", env = "LOGS2ECA_METRICS_FILE", value_parser = trimmed)]
    pub metrics_file: Option<String>,

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

    /// Run a command that failed (a non-zero exit, its --timeout, a failed start) again, up to N more times, after DURATION, then 2x, 4x... longer; e.g. 3/10s [default: none].
    #[arg(long, value_name = "N/DURATION", env = "LOGS2ECA_RETRY",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub retry: Option<String>,

    /// After the command succeeds, run this command --undo-after later, with the same environment and LOGS2ECA_ACTION=undo; one pending undo per key, postponed by a new trigger [default: none].
    #[arg(long, value_name = "CMD", env = "LOGS2ECA_UNDO",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub undo: Option<String>,

    /// How long after the command's success its --undo runs (DURATION; required with --undo).
    #[arg(long, value_name = "DURATION", env = "LOGS2ECA_UNDO_AFTER",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub undo_after: Option<String>,

    /// What a line's time is, for windows, cooldowns and the state: auto (the timestamp it carries: RFC 3339/ISO 8601, syslog, Common Log Format, epoch seconds at its start), arrival (when it is read), or a strftime-style FORMAT [default: auto].
    #[arg(long, value_name = "TIME", env = "LOGS2ECA_TIME",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub time: Option<String>,

    /// The zone of timestamps that carry none: a tz database name (Europe/Berlin, UTC) or an offset (+01:00) [default: the local zone].
    #[arg(long, value_name = "ZONE", env = "LOGS2ECA_TIME_ZONE",
          allow_hyphen_values = true, value_parser = trimmed)]
    pub time_zone: Option<String>,

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

    /// With --dry-run: print one JSON object per line that would trigger (line, file, offset, groups, key, time).
    #[arg(long)]
    pub json: bool,

    /// Validate the settings as a start would, print each as the daemon will use it with where it came from, and exit: 0, 1 where a start would fail (file unreadable), 2 for a configuration error.
    #[arg(long)]
    pub check: bool,

    /// Read LOGS2ECA_* settings (and the command's environment) from FILE as systemd's EnvironmentFile= does; it overrides the environment, flags override it; may be repeated, later files win.
    #[arg(long, value_name = "FILE", action = ArgAction::Append)]
    pub env_file: Vec<std::path::PathBuf>,

    /// Any start-up warning is an error (exit 2): for CI, with --check.
    #[arg(long)]
    pub strict: bool,

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

    /// What `--env-file` said about its lines (ignored ones, lost
    /// backslashes): warnings like the others.
    #[arg(skip)]
    pub env_file_warnings: Vec<String>,

    /// The variables `--env-file` set, each with where: `FILE:LINE`.
    #[arg(skip)]
    pub env_file_origins: Vec<(String, String)>,

    #[command(subcommand)]
    pub subcommand: Option<Sub>,
}

/// The one subcommand: without it, logs2eca follows a log.
#[derive(Subcommand, Debug)]
pub enum Sub {
    /// Show what a monitor is doing, from its state file (read without its lock: also while it runs).
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The state file, or the NAME of a logs2eca@NAME monitor (/var/lib/logs2eca/NAME/state.json) [default: $STATE_DIRECTORY/state.json].
    #[arg(value_name = "STATE_FILE|NAME")]
    pub target: Option<String>,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// Show at most this many keys, most recent first; 0 shows all [default: 20].
    #[arg(long, value_name = "N")]
    pub keys: Option<String>,
}

/// Parses the process arguments. On `--help`/`--version` the text is
/// printed and `Ok(None)` returned; a usage error is one line.
pub fn parse() -> Result<Option<Cli>> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Option<Cli>>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Some((cli, _)) = parse_once(&args)? else {
        return Ok(None);
    };
    if cli.env_file.is_empty() {
        return Ok(parse_once(&args)?.map(|(mut cli, settings)| {
            cli.settings = settings;
            cli
        }));
    }
    // The files' variables go into the environment, as systemd puts them
    // there (in order: a later file wins), and the arguments are read
    // again over them.
    let mut warnings = Vec::new();
    let mut origins: Vec<(String, String)> = Vec::new();
    for path in &cli.env_file {
        let file = crate::settings::env_file::read(path).map_err(|why| {
            Error::usage(format!("cannot read --env-file {}: {why}", path.display()))
        })?;
        for assignment in &file.assignments {
            crate::sys::set_env_before_threads(&assignment.name, &assignment.value);
            origins.retain(|(name, _)| *name != assignment.name);
            origins.push((
                assignment.name.clone(),
                format!("{}:{}", path.display(), assignment.line),
            ));
        }
        warnings.extend(crate::settings::env_file::warnings(path, &file));
    }
    let Some((mut cli, mut settings)) = parse_once(&args)? else {
        return Ok(None);
    };
    for setting in &mut settings {
        if let SetBy::Environment(name) = &setting.origin
            && let Some((_, at)) = origins.iter().find(|(known, _)| known == name)
        {
            setting.origin = SetBy::EnvFile(format!("{at} {name}"));
        }
    }
    cli.settings = settings;
    cli.env_file_warnings = warnings;
    cli.env_file_origins = origins;
    Ok(Some(cli))
}

fn parse_once(args: &[OsString]) -> Result<Option<(Cli, Vec<Setting>)>> {
    let command = Cli::command();
    let parsed = command
        .clone()
        .try_get_matches_from(args)
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) if !err.use_stderr() => {
            // --help or --version: clap's own output is what users expect.
            let _ = err.print();
            return Ok(None);
        }
        Err(err) => {
            let rendered = err.to_string();
            let line = first_line(&rendered);
            return Err(Error::usage(format!("{line} (see --help)")));
        }
    };
    let settings = settings(&command, &matches);
    Ok(Some((cli, settings)))
}

/// The variable names the flags suggest (`--logfile` → `LOGS2ECA_LOGFILE`)
/// where they are not the setting's, with the setting's name.
pub fn flag_guesses() -> Vec<(String, String)> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            let guess = format!(
                "LOGS2ECA_{}",
                arg.get_long()?.to_ascii_uppercase().replace('-', "_")
            );
            (guess != env).then_some((guess, env))
        })
        .collect()
}

/// The environment variables of every setting, from the definitions.
pub fn setting_variables() -> Vec<String> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// One setting as resolved by clap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `--name`.
    pub flag: String,
    /// The value as given (trimmed), `None` if unset or empty.
    pub value: Option<String>,
    pub origin: SetBy,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetBy {
    Flag,
    /// The named environment variable.
    Environment(String),
    /// `--env-file`: `FILE:LINE NAME`.
    EnvFile(String),
    Default,
}

/// Every setting of `command` as `matches` resolved it: the arguments
/// that have an environment variable (what only changes how this run
/// behaves, `--once`, `--json`, `-v`, `--check`, is not a setting).
pub fn settings(command: &Command, matches: &ArgMatches) -> Vec<Setting> {
    command
        .get_arguments()
        .filter(|arg| arg.get_env().is_some())
        .filter_map(|arg| {
            let id = arg.get_id().as_str();
            let flag = format!("--{}", arg.get_long()?);
            let value = matches
                .get_raw(id)
                .map(|values| {
                    values
                        .map(OsStr::to_string_lossy)
                        .map(|v| v.trim().to_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|v| !v.is_empty());
            let origin = match (matches.value_source(id), &value) {
                // An empty value counts as unset: the default applies.
                (_, None) => SetBy::Default,
                (Some(ValueSource::CommandLine), _) => SetBy::Flag,
                (Some(ValueSource::EnvVariable), _) => SetBy::Environment(
                    arg.get_env()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                _ => SetBy::Default,
            };
            Some(Setting {
                flag,
                value,
                origin,
            })
        })
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
    use clap::Arg;

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
        let cli = parse_from(["logs2eca", "-l", " a.log ", "-w", "-1", "-p", "-x-"])
            .unwrap()
            .unwrap();
        assert_eq!(cli.logfile.as_deref(), Some("a.log"));
        assert_eq!(cli.wait.as_deref(), Some("-1"));
        assert_eq!(cli.pattern.as_deref(), Some("-x-"));
    }

    #[test]
    fn usage_errors_are_reduced_to_their_first_line() {
        let rendered = "error: unexpected argument '--nope' found\n\nUsage: logs2eca\n";
        assert_eq!(first_line(rendered), "unexpected argument '--nope' found");
    }

    #[test]
    fn origins_come_from_clap() {
        let command = Command::new("t")
            .arg(Arg::new("a").long("a").env("T_CHECK_A"))
            .arg(Arg::new("b").long("b").env("T_CHECK_B_UNSET"))
            .arg(
                Arg::new("c")
                    .long("c")
                    .env("T_CHECK_C_UNSET")
                    .default_value("3"),
            )
            .arg(
                Arg::new("d")
                    .long("d")
                    .env("T_CHECK_D_UNSET")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("once").long("once").action(ArgAction::SetTrue));
        let matches = command
            .clone()
            .try_get_matches_from(["t", "--a", " x ", "--once"])
            .unwrap();
        let got = settings(&command, &matches);
        let expected = [
            ("--a", Some("x"), SetBy::Flag),
            ("--b", None, SetBy::Default),
            ("--c", Some("3"), SetBy::Default),
            ("--d", Some("false"), SetBy::Default),
        ];
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (setting, (flag, value, origin)) in got.iter().zip(expected) {
            assert_eq!(setting.flag, flag);
            assert_eq!(setting.value.as_deref(), value, "{flag}");
            assert_eq!(setting.origin, origin, "{flag}");
        }
    }
}
