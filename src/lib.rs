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
pub mod error;
pub mod follow;
pub mod fstype;
pub mod gate;
pub mod journal;
pub mod lines;
pub mod logging;
pub mod pattern;
pub mod persist;
pub mod poll;
pub mod printer;
pub mod reaction;
pub mod readiness;
pub mod ready;
pub mod resolve;
pub mod rotation;
pub mod saver;
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
    let config = config::Config::from_cli(cli)?;
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    if check {
        use std::io::Write as _;
        let report = check::report(&settings, &config);
        // A closed stdout (`--check | head`) is no reason to fail.
        let _ = std::io::stdout().write_all(report.as_bytes());
        // A state file a start would fail on fails the check too; so does
        // a journal it could not read.
        if let Some(path) = &config.state_file {
            crate::state::inspect(path).map_err(error::Error::usage)?;
        }
        if let Some(journal) = &config.journal {
            journal::check_access(journal).map_err(error::Error::usage)?;
        }
        return Ok(());
    }
    daemon::run(config)
}
