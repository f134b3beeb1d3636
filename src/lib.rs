//! logs2eca: event-condition-action for one log file.
//!
//! Event: bytes appended to the file. Condition: a line matches a pattern.
//! Action: run a command, then hold a cooldown. The guarantees it keeps:
//!
//! - no line is lost or processed twice across rotation (rename, delete,
//!   copytruncate, symlink swap, SIGHUP) or an inotify queue overflow;
//! - nothing in a log line is ever interpreted by a shell;
//! - a command never outlives its timeout or the daemon, nor what it
//!   started in its process group outlives the command: the group is
//!   killed when the command exits, times out, or the daemon stops (a
//!   process that leaves the group, with `setsid`, is beyond reach);
//! - no CPU while idle: no timers, no polling (unless inotify cannot see
//!   the file, or `--poll` asks for it: then one look per interval);
//! - bounded memory whatever the input (lines are capped).
//!
//! Data flows one way: the loop (`daemon`) waits for the signals, the
//! watcher and the deadlines; a source (`input`) yields whole lines with
//! where they were read; the pattern decides, the gate decides when and the
//! action runs (`react`); what must outlive a restart is saved
//! (`checkpoint`); what people read is formatted in `report`, the settings
//! in `settings`. Every call the compiler cannot check is in `sys`. ARCHITECTURE.md has the
//! map.

#![deny(unsafe_code)]

use std::process::ExitCode;

mod checkpoint;
mod daemon;
mod error;
pub mod input;
pub mod react;
mod report;
pub mod settings;
mod signals;
mod sys;
mod trusted_open;

/// The whole program: parse the settings, start logging, run, and turn
/// the outcome into an exit status (2 for a bad setting, 1 for a failure
/// at run time).
pub fn main() -> ExitCode {
    sys::keep_large_buffers_out_of_the_heap();
    let result = settings::cli::parse().and_then(|cli| match cli {
        Some(cli) => {
            let logging = report::logging::Settings {
                format: cli.log_format.as_deref(),
                verbose: cli.verbose,
                quiet: cli.quiet,
            };
            report::logging::init(&logging).and_then(|()| run(cli))
        }
        // --help or --version: printed.
        None => Ok(()),
    });
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report::logging::fatal(&err.to_string());
            err.exit_code()
        }
    };
    // Whatever the outcome, the queued log lines (and the error line) go
    // out first, as far as a stalled stderr allows.
    report::logging::finish();
    code
}

/// Validates the settings, warns about likely mistakes, and then either
/// prints the `--check` report or runs the daemon.
fn run(mut cli: settings::cli::Cli) -> error::Result<()> {
    if let Some(settings::cli::Sub::Status(args)) = cli.subcommand.take() {
        return report::status::run(&report::status::Request {
            target: args.target,
            json: args.json,
            keys: match args.keys.as_deref().map(str::trim) {
                None | Some("") => report::status::DEFAULT_KEYS,
                Some(n) => n.parse().map_err(|_| {
                    error::Error::usage(format!("invalid --keys '{n}': not a number of keys"))
                })?,
            },
        });
    }
    let settings = std::mem::take(&mut cli.settings);
    let check = cli.check;
    let strict = cli.strict;
    // Misspelt variables first: they are often why a setting is missing,
    // and the error about that ends the run.
    let mut warnings = std::mem::take(&mut cli.env_file_warnings);
    warnings.extend(settings::advice::environment(
        std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()),
        &settings::cli::setting_variables()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &settings::cli::flag_guesses(),
        |name| {
            cli.env_file_origins
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, at)| at.clone())
        },
    ));
    warnings.extend(settings::advice::quoted_values(&settings));
    for warning in &warnings {
        log::warn!("{warning}");
    }
    let config = settings::config::Config::from_cli(cli)?;
    let mut later = config.warnings.clone();
    if !config.stdin && config.journal.is_none() {
        later.extend(settings::file_look::warning(
            &config.path,
            &config.path_as_given,
        ));
    }
    for warning in &later {
        log::warn!("{warning}");
    }
    warnings.extend(later);
    let strict_failure = (strict && !warnings.is_empty())
        .then(|| error::Error::usage(format!("--strict: {} warning(s) above", warnings.len())));
    if check {
        use std::io::Write as _;
        let report = settings::check::report(&settings, &config);
        // A closed stdout (`--check | head`) is no reason to fail.
        let _ = std::io::stdout().write_all(report.as_bytes());
        if let Some(err) = strict_failure {
            return Err(err);
        }
        // What a start would fail on fails the check, with the same status.
        if let Some(why) = settings::check::start_failure(&config) {
            return Err(error::Error::failure(why));
        }
        return Ok(());
    }
    if let Some(err) = strict_failure {
        return Err(err);
    }
    daemon::run(config)
}
