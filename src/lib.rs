//! logs2eca: event-condition-action for one log file.
//!
//! Event: bytes appended to the file. Condition: a line matches a pattern.
//! Action: run a command, then hold a cooldown. The guarantees it keeps:
//!
//! - no line is lost or processed twice across rotation (rename, delete,
//!   copytruncate, symlink swap, SIGHUP) or an inotify queue overflow;
//! - nothing in a log line is ever interpreted by a shell;
//! - a command never outlives its timeout or the daemon, with everything it
//!   started (process groups);
//! - no CPU while idle: no timers, no polling (unless inotify cannot see
//!   the file, or `--poll` asks for it: then one look per interval);
//! - bounded memory whatever the input (lines are capped).
//!
//! Data flows one way: the watcher and the signals produce events, the loop
//! (`daemon`) owns the followed files (`rotation`, `follow`, `lines`) and the
//! reaction (`reaction`, `gate`, `action`); the lines go through the
//! matcher (`pattern`) to the reaction.

pub mod action;
pub mod advice;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod env_file;
pub mod error;
pub mod file_look;
pub mod follow;
pub mod fstype;
pub mod gate;
pub mod lines;
pub mod logging;
pub mod pattern;
pub mod persist;
pub mod poll;
pub mod printer;
pub mod reaction;
pub mod readiness;
pub mod ready;
pub mod regex_look;
pub mod resolve;
pub mod rotation;
pub mod saver;
pub mod shown;
pub mod signals;
pub mod source;
pub mod state;
pub mod stream;
pub mod summary;
pub mod watch;

/// Validates the settings, warns about likely mistakes, and then either
/// prints the `--check` report or runs the daemon.
pub fn run(mut cli: cli::Cli) -> error::Result<()> {
    let settings = std::mem::take(&mut cli.settings);
    let check = cli.check;
    let strict = cli.strict;
    // Misspelt variables first: they are often why a setting is missing,
    // and the error about that ends the run.
    let mut warnings = std::mem::take(&mut cli.env_file_warnings);
    warnings.extend(advice::environment(
        std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()),
        &cli::setting_variables()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &cli::flag_guesses(),
        |name| {
            cli.env_file_origins
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, at)| at.clone())
        },
    ));
    warnings.extend(advice::quoted_values(&settings));
    for warning in &warnings {
        log::warn!("{warning}");
    }
    let config = config::Config::from_cli(cli)?;
    let mut later = config.warnings.clone();
    if !config.stdin {
        later.extend(file_look::warning(&config.path, &config.path_as_given));
    }
    for warning in &later {
        log::warn!("{warning}");
    }
    warnings.extend(later);
    let strict_failure = (strict && !warnings.is_empty())
        .then(|| error::Error::usage(format!("--strict: {} warning(s) above", warnings.len())));
    if check {
        use std::io::Write as _;
        let report = check::report(&settings, &config);
        // A closed stdout (`--check | head`) is no reason to fail.
        let _ = std::io::stdout().write_all(report.as_bytes());
        if let Some(err) = strict_failure {
            return Err(err);
        }
        // What a start would fail on fails the check, with the same status.
        if let Some(why) = check::start_failure(&config) {
            return Err(error::Error::failure(why));
        }
        return Ok(());
    }
    if let Some(err) = strict_failure {
        return Err(err);
    }
    daemon::run(config)
}
