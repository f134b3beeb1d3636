//! `--check`: validate the settings as a start would and print them
//! resolved, each with where it came from, then exit (what `nginx -t` and
//! `sshd -t` are to their daemons; run after editing an env file).
//!
//! The list of settings is read from the clap definitions, not written out
//! here, so that every flag is shown, including ones added later.

use std::ffi::OsStr;
use std::fmt::Write as _;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use crate::config::Config;

/// One setting as resolved by clap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `--name`.
    pub flag: String,
    /// The value as given (trimmed), `None` if unset or empty.
    pub value: Option<String>,
    pub origin: Origin,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    /// The named environment variable.
    Environment(String),
    Default,
}

/// Every setting of `command` as `matches` resolved it (`--help`,
/// `--version` and `--check` itself aside).
pub fn settings(command: &Command, matches: &ArgMatches) -> Vec<Setting> {
    command
        .get_arguments()
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version" | "check"))
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
                (_, None) => Origin::Default,
                (Some(ValueSource::CommandLine), _) => Origin::Flag,
                (Some(ValueSource::EnvVariable), _) => Origin::Environment(
                    arg.get_env()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                _ => Origin::Default,
            };
            Some(Setting {
                flag,
                value,
                origin,
            })
        })
        .collect()
}

/// The report `--check` prints: the settings, then what validation
/// resolved (the program, the followed path).
pub fn report(settings: &[Setting], config: &Config) -> String {
    let width = settings.iter().map(|s| s.flag.len()).max().unwrap_or(0);
    let mut out = String::new();
    for setting in settings {
        let value = setting.value.as_deref().unwrap_or("(unset)");
        let origin = match &setting.origin {
            Origin::Flag => "flag".to_owned(),
            Origin::Environment(name) => format!("environment {name}"),
            Origin::Default => "default".to_owned(),
        };
        let _ = writeln!(out, "{:width$}  {value}  [{origin}]", setting.flag);
    }
    if config.stdin {
        out.push_str("followed: standard input, as a stream (-l -)\n");
    } else if let Some(journal) = &config.journal {
        let _ = writeln!(out, "followed: {}", journal.name());
        let status =
            crate::journal::check_access(journal).map_or_else(|err| err, |()| "readable".into());
        let _ = writeln!(out, "journal: {status}");
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
    let _ = writeln!(out, "wait: {}", crate::action::seconds(config.wait));
    if let Some(path) = &config.state_file {
        let status = crate::state::inspect(path).unwrap_or_else(|err| err);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    #[test]
    fn origins_come_from_clap() {
        let command = Command::new("t")
            .arg(Arg::new("a").long("a").env("T_CHECK_A"))
            .arg(Arg::new("b").long("b").env("T_CHECK_B_UNSET"))
            .arg(Arg::new("c").long("c").default_value("3"))
            .arg(Arg::new("d").long("d").action(ArgAction::SetTrue));
        let matches = command
            .clone()
            .try_get_matches_from(["t", "--a", " x "])
            .unwrap();
        let got = settings(&command, &matches);
        let expected = [
            ("--a", Some("x"), Origin::Flag),
            ("--b", None, Origin::Default),
            ("--c", Some("3"), Origin::Default),
            ("--d", Some("false"), Origin::Default),
        ];
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (setting, (flag, value, origin)) in got.iter().zip(expected) {
            assert_eq!(setting.flag, flag);
            assert_eq!(setting.value.as_deref(), value, "{flag}");
            assert_eq!(setting.origin, origin, "{flag}");
        }
    }
}
