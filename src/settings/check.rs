//! `--check`: validate the settings as a start would and print them
//! resolved, each with where it came from, then exit (what `nginx -t` and
//! `sshd -t` are to their daemons; run after editing an env file).
//!
//! The list of settings is read from the clap definitions (see
//! `cli::Setting`), not written out here, so that every flag is shown,
//! including ones added later.

use std::fmt::Write as _;

use crate::settings::cli::{SetBy, Setting};
use crate::settings::config::Config;

/// The report `--check` prints: the settings, then what validation
/// resolved (the program, the followed path).
pub fn report(settings: &[Setting], config: &Config) -> String {
    let width = settings.iter().map(|s| s.flag.len()).max().unwrap_or(0);
    let mut out = String::new();
    for setting in settings {
        let value = setting.value.as_deref().unwrap_or("(unset)");
        let origin = match &setting.origin {
            SetBy::Flag => "flag".to_owned(),
            SetBy::Environment(name) => format!("environment {name}"),
            SetBy::Default => "default".to_owned(),
        };
        let _ = writeln!(out, "{:width$}  {value}  [{origin}]", setting.flag);
    }
    if config.stdin {
        out.push_str("followed: standard input, as a stream (-l -)\n");
    } else {
        let _ = writeln!(out, "followed path: {}", config.path.display());
        let _ = writeln!(out, "file: {}", file_status(config));
    }
    match &config.command {
        Some(command) => {
            let _ = writeln!(out, "program: {}", command.program.display());
        }
        None => out.push_str("program: none (dry run)\n"),
    }
    let _ = writeln!(out, "wait: {}", crate::react::action::seconds(config.wait));
    if let Some(path) = &config.state_file {
        let status = crate::checkpoint::state::inspect(path).unwrap_or_else(|err| err);
        let _ = writeln!(out, "state file: {}: {status}", path.display());
    }
    out
}

/// Whether the followed file is there, or what is missing (which a start
/// waits for).
fn file_status(config: &Config) -> String {
    match std::fs::metadata(&config.path) {
        Ok(meta) if meta.is_file() => "exists".into(),
        Ok(_) => "exists but is not a regular file".into(),
        Err(_) => {
            let missing = config
                .path
                .ancestors()
                .skip(1)
                .find(|dir| dir.is_dir())
                .map_or_else(String::new, |dir| {
                    format!(" (nearest existing directory: {})", dir.display())
                });
            format!("does not exist yet, a start waits for it{missing}")
        }
    }
}
