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

/// The report `--check` prints: each setting as the daemon will use it
/// (the effective value, defaults included), where it came from, then what
/// validation resolved (the program, the followed file and how many of its
/// last lines match).
pub fn report(settings: &[Setting], config: &Config) -> String {
    let width = settings.iter().map(|s| s.flag.len()).max().unwrap_or(0);
    let mut out = String::new();
    for setting in settings {
        let value = effective(setting, config);
        let origin = match &setting.origin {
            SetBy::Flag => "flag".to_owned(),
            SetBy::Environment(name) => format!("environment {name}"),
            SetBy::EnvFile(at) => format!("env file {at}"),
            SetBy::Default => "default".to_owned(),
        };
        let _ = writeln!(out, "{:width$}  {value}  [{origin}]", setting.flag);
    }
    if config.stdin {
        out.push_str("followed: standard input, as a stream (-l -)\n");
    } else if let Some(journal) = &config.journal {
        let _ = writeln!(out, "followed: {}", journal.name());
        let status = crate::input::journal::check_access(journal)
            .map_or_else(|err| err, |()| "readable".into());
        let _ = writeln!(out, "journal: {status}");
    } else {
        let _ = writeln!(out, "followed path: {}", config.path.display());
        let _ = writeln!(out, "file: {}", file_status(config));
        if let Some(matches) = recent_matches(config) {
            let _ = writeln!(out, "matches: {matches}");
        }
    }
    match &config.command {
        Some(command) => {
            let _ = writeln!(out, "program: {}", command.program.display());
        }
        None => out.push_str("program: none (dry run)\n"),
    }
    if let Some(path) = &config.state_file {
        let status = crate::checkpoint::state::inspect(path).unwrap_or_else(|err| err);
        let _ = writeln!(out, "state file: {}: {status}", path.display());
    }
    if let Some(path) = &config.metrics_file {
        let status = crate::report::metrics::inspect(path)
            .map_or_else(|err| err, |()| "its directory is writable".to_owned());
        let _ = writeln!(out, "metrics file: {}: {status}", path.display());
    }
    out
}

/// What a start would exit 1 on, found without starting: the followed
/// path unreadable or a directory (or, with `--once`, missing), the state
/// directory not writable.
pub fn start_failure(config: &Config) -> Option<String> {
    if let Some(journal) = &config.journal {
        // Unreadable: the start would exit with this.
        if let Err(why) = crate::input::journal::check_access(journal) {
            return Some(why);
        }
    } else if !config.stdin {
        let shown = &config.path_as_given;
        match std::fs::metadata(&config.path) {
            Ok(meta) if meta.is_dir() => {
                return Some(format!("cannot open {shown}: is a directory"));
            }
            Ok(meta) if !meta.is_file() => {
                return Some(format!("cannot follow {shown}: not a regular file"));
            }
            Ok(_) => {
                if let Err(err) = std::fs::File::open(&config.path) {
                    return Some(format!("cannot open {shown}: {err}"));
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if config.once {
                    return Some(format!("cannot open {shown}: {err}"));
                }
            }
            Err(err) => return Some(format!("cannot open {shown}: {err}")),
        }
    }
    config
        .state_file
        .as_ref()
        .and_then(|path| crate::checkpoint::state::inspect(path).err())
        .or_else(|| {
            let path = config.metrics_file.as_ref()?;
            crate::report::metrics::inspect(path).err()
        })
}

/// The value the daemon uses for `setting`: the effective default when it
/// is not given, patterns as `literal "…"` or `regex /…/`, the command as
/// its argv words.
fn effective(setting: &Setting, config: &Config) -> String {
    use crate::settings::shown;
    let given = setting.value.as_deref();
    let none = || "none".to_owned();
    match setting.flag.as_str() {
        "--logfile" if config.stdin => "- (standard input)".to_owned(),
        "--logfile" => config.path_as_given.clone(),
        "--pattern" => shown::pattern(&config.matcher.pattern),
        "--exclude" => config
            .matcher
            .exclude
            .as_ref()
            .map_or_else(none, shown::pattern),
        "--command" => config
            .command
            .as_ref()
            .map_or_else(|| "none (dry run)".to_owned(), |c| shown::argv(&c.argv)),
        "--wait" => shown::span(config.wait),
        "--timeout" => config.timeout.map_or_else(none, shown::span),
        "--state-file" => config
            .state_file
            .as_ref()
            .map_or_else(none, |p| p.display().to_string()),
        "--poll" => match config.poll {
            crate::input::file::polling::Poll::Auto => "auto".to_owned(),
            crate::input::file::polling::Poll::Never => "never".to_owned(),
            crate::input::file::polling::Poll::Every(every) => shown::span(every),
        },
        "--threshold" if config.gate.threshold.count <= 1 => "1 (every match)".to_owned(),
        "--threshold" => format!(
            "{}/{}",
            config.gate.threshold.count,
            shown::span(config.gate.threshold.window)
        ),
        "--max-keys" => config.gate.max_keys.to_string(),
        "--max-running" => config.gate.max_running.to_string(),
        "--log-format" => given.unwrap_or("auto").to_owned(),
        "--time" => given.unwrap_or("auto").to_owned(),
        // No zone given: what the system says is local (TZ, else
        // /etc/localtime), read when a line first needs it.
        "--time-zone" => given.map_or_else(
            || "local (TZ, else /etc/localtime)".to_owned(),
            str::to_owned,
        ),
        _ => match given {
            Some("true") => "on".to_owned(),
            Some("false") => "off".to_owned(),
            Some(value) => value.to_owned(),
            None => none(),
        },
    }
}

/// How many of the last lines of the file the condition matches, as a
/// start from the beginning would see them.
fn recent_matches(config: &Config) -> Option<String> {
    use std::os::unix::fs::FileExt;
    const LINES: usize = 10_000;
    // Read back from the end in chunks until the lines are there, but no
    // more than this: a few huge lines must not make the check slow.
    const CHUNK: u64 = 1 << 20;
    const BUDGET: u64 = 64 << 20;
    let file = std::fs::File::open(&config.path).ok()?;
    let len = file.metadata().ok().filter(|m| m.is_file())?.len();
    let mut start = len;
    let mut bytes: Vec<u8> = Vec::new();
    while start > 0 && len - start < BUDGET {
        let newlines = memchr::memchr_iter(b'\n', &bytes).count();
        // One more newline than lines: the one that ends the line before.
        if newlines > LINES + 1 {
            break;
        }
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.read_exact_at(&mut chunk, from).ok()?;
        chunk.extend_from_slice(&bytes);
        bytes = chunk;
        start = from;
    }
    // Only whole lines: a first line cut by the read and a last one
    // without its newline (still being written) are left out.
    let mut text: &[u8] = &bytes;
    if start > 0 {
        let cut = memchr::memchr(b'\n', text).map_or(text.len(), |i| i + 1);
        text = &text[cut..];
    }
    let end = memchr::memrchr(b'\n', text).map_or(0, |i| i + 1);
    let lines: Vec<&[u8]> = text[..end].split(|&b| b == b'\n').collect();
    // split leaves an empty piece after the last newline.
    let lines = &lines[..lines.len().saturating_sub(1)];
    let recent = &lines[lines.len().saturating_sub(LINES)..];
    let matching = recent
        .iter()
        .filter(|line| {
            config
                .matcher
                .matches(crate::react::pattern::strip_cr(line))
        })
        .count();
    let scope = if recent.len() == lines.len() && start == 0 {
        format!("of the {} line(s) in the file", recent.len())
    } else {
        format!("of its last {} lines", recent.len())
    };
    Some(format!("{matching} {scope} match"))
}

/// Whether the followed file is there, or what is missing (which a start
/// waits for).
fn file_status(config: &Config) -> String {
    match std::fs::metadata(&config.path) {
        Ok(meta) if meta.is_dir() => "is a directory: a start fails".into(),
        Ok(meta) if meta.is_file() => match std::fs::File::open(&config.path) {
            Ok(_) => format!("exists ({} bytes)", meta.len()),
            Err(err) => format!("exists but cannot be read: {err}"),
        },
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
