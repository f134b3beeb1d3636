//! `--env-file FILE`: an env file read as systemd's `EnvironmentFile=`
//! reads it, so that `logs2eca --check --env-file /etc/logs2eca/NAME.env`
//! sees the values the service will get, not what a shell makes of the
//! file (a shell runs `LOGS2ECA_COMMAND=systemctl restart app` as a
//! command, and keeps backslashes that systemd removes).
//!
//! The rules, as systemd's `src/basic/env-file.c` implements them:
//!
//! - `NAME=VALUE` per line; whitespace around the name and before the
//!   value is dropped, and so is trailing whitespace of an unquoted value;
//! - a line whose first non-blank character is `#` or `;` is a comment; a
//!   `#` later in a line is part of the value;
//! - outside quotes a backslash takes the next character as it is
//!   (`\d` becomes `d`), and a backslash at the end of a line joins the
//!   next line;
//! - `'…'` keeps everything up to the next `'`, newlines included;
//! - `"…"` keeps everything up to the next unescaped `"`; there a backslash
//!   escapes only `"`, `\`, `` ` `` and `$` (and joins lines before a
//!   newline), before any other character it stays;
//! - quoted and unquoted parts follow each other into one value
//!   (`A="x" 'y'` is `xy`);
//! - nothing is expanded: `$VAR`, `%i` and `~` stay as they are;
//! - a line without `=` is ignored, as is an assignment to a name that
//!   cannot be an environment variable (`export A=1`); the last assignment
//!   to a name wins;
//! - a file that is not UTF-8 is refused as a whole;
//! - `\r` ends a line as `\n` does.
//!
//! The table test in `tests/fixtures/envfile/` holds this parser to the
//! values a real systemd gives (checked in CI by `.ci/systemd-checks`).

use std::path::Path;

/// One assignment as systemd applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    /// The line the assignment starts on (from 1).
    pub line: usize,
    /// Outside quotes, a backslash before a character other than a
    /// newline was removed (`\d` became `d`): worth a warning, since a
    /// regex or a `printf` format in the value has lost it.
    pub dropped_backslash: bool,
}

/// What reading an env file gave: the assignments systemd applies, in
/// order, and a warning for each line systemd ignores.
#[derive(Debug, Default)]
pub struct EnvFile {
    pub assignments: Vec<Assignment>,
    pub warnings: Vec<String>,
}

/// Reads and parses `path`; `Err` is a one-line reason.
pub fn read(path: &Path) -> Result<EnvFile, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    parse(&bytes).map(|mut file| {
        let shown = path.display();
        for warning in &mut file.warnings {
            *warning = format!("--env-file {shown}:{warning}");
        }
        file
    })
}

/// The warnings about `file` (read from `path`): the lines systemd
/// ignores, and the settings whose backslashes it removed.
pub fn warnings(path: &Path, file: &EnvFile) -> Vec<String> {
    let mut warnings = file.warnings.clone();
    for a in &file.assignments {
        if a.dropped_backslash && a.name.starts_with("LOGS2ECA_") {
            warnings.push(format!(
                "--env-file {}:{}: systemd removes backslashes outside quotes, so {} is '{}': \
                 put the value in single quotes to keep them",
                path.display(),
                a.line,
                a.name,
                a.value
            ));
        }
    }
    warnings
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    PreKey,
    Key,
    PreValue,
    Value,
    ValueEscape,
    SingleQuote,
    DoubleQuote,
    DoubleQuoteEscape,
    Comment,
    CommentEscape,
}

/// Parses the contents of an env file. Warnings start with the line
/// number (`12: ...`); the caller prefixes the file's name.
pub fn parse(bytes: &[u8]) -> Result<EnvFile, String> {
    // systemd reads up to the first NUL byte.
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let is_newline = |b: u8| b == b'\n' || b == b'\r';
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut out = EnvFile::default();
    let mut state = State::PreKey;
    let mut key: Vec<u8> = Vec::new();
    let mut value: Vec<u8> = Vec::new();
    // Where trailing whitespace of the key / unquoted value starts.
    let mut key_space: Option<usize> = None;
    let mut value_space: Option<usize> = None;
    let mut line = 1;
    let mut key_line = 1;
    let mut dropped = false;
    for &c in bytes {
        match state {
            State::PreKey => {
                if c == b'#' || c == b';' {
                    state = State::Comment;
                } else if !is_space(c) {
                    state = State::Key;
                    key_space = None;
                    key_line = line;
                    key.push(c);
                }
            }
            State::Key => {
                if is_newline(c) {
                    let name = String::from_utf8_lossy(&key).trim_end().to_owned();
                    out.warnings.push(format!(
                        "{line}: '{name}' has no '=', so systemd ignores this line"
                    ));
                    state = State::PreKey;
                    key.clear();
                } else if c == b'=' {
                    state = State::PreValue;
                    value_space = None;
                    dropped = false;
                } else {
                    if !is_space(c) {
                        key_space = None;
                    } else if key_space.is_none() {
                        key_space = Some(key.len());
                    }
                    key.push(c);
                }
            }
            State::PreValue => {
                if is_newline(c) {
                    state = State::PreKey;
                    push(
                        &mut out, &mut key, &mut value, key_space, None, key_line, dropped,
                    )?;
                } else if c == b'\'' {
                    state = State::SingleQuote;
                } else if c == b'"' {
                    state = State::DoubleQuote;
                } else if c == b'\\' {
                    state = State::ValueEscape;
                } else if !is_space(c) {
                    state = State::Value;
                    value.push(c);
                }
            }
            State::Value => {
                if is_newline(c) {
                    state = State::PreKey;
                    push(
                        &mut out,
                        &mut key,
                        &mut value,
                        key_space,
                        value_space,
                        key_line,
                        dropped,
                    )?;
                } else if c == b'\\' {
                    state = State::ValueEscape;
                    value_space = None;
                } else {
                    if !is_space(c) {
                        value_space = None;
                    } else if value_space.is_none() {
                        value_space = Some(value.len());
                    }
                    value.push(c);
                }
            }
            State::ValueEscape => {
                state = State::Value;
                // An escaped newline joins the lines.
                if !is_newline(c) {
                    dropped = true;
                    value.push(c);
                }
            }
            State::SingleQuote => {
                if c == b'\'' {
                    state = State::PreValue;
                } else {
                    value.push(c);
                }
            }
            State::DoubleQuote => {
                if c == b'"' {
                    state = State::PreValue;
                } else if c == b'\\' {
                    state = State::DoubleQuoteEscape;
                } else {
                    value.push(c);
                }
            }
            State::DoubleQuoteEscape => {
                state = State::DoubleQuote;
                if matches!(c, b'"' | b'\\' | b'`' | b'$') {
                    value.push(c);
                } else if c != b'\n' {
                    value.extend([b'\\', c]);
                }
            }
            State::Comment => {
                if c == b'\\' {
                    state = State::CommentEscape;
                } else if is_newline(c) {
                    state = State::PreKey;
                }
            }
            State::CommentEscape => {
                // Since systemd 254 a comment ends at its line even after a
                // backslash (before, the next line was part of it).
                state = if is_newline(c) {
                    State::PreKey
                } else {
                    State::Comment
                };
            }
        }
        if c == b'\n' {
            line += 1;
        }
    }
    match state {
        State::PreValue
        | State::ValueEscape
        | State::SingleQuote
        | State::DoubleQuote
        | State::DoubleQuoteEscape => {
            push(
                &mut out, &mut key, &mut value, key_space, None, key_line, dropped,
            )?;
        }
        State::Value => {
            push(
                &mut out,
                &mut key,
                &mut value,
                key_space,
                value_space,
                key_line,
                dropped,
            )?;
        }
        State::Key => {
            let name = String::from_utf8_lossy(&key).trim_end().to_owned();
            out.warnings.push(format!(
                "{line}: '{name}' has no '=', so systemd ignores this line"
            ));
        }
        State::PreKey | State::Comment | State::CommentEscape => {}
    }
    Ok(out)
}

/// Ends an assignment: trailing whitespace cut, the name checked.
fn push(
    out: &mut EnvFile,
    key: &mut Vec<u8>,
    value: &mut Vec<u8>,
    key_space: Option<usize>,
    value_space: Option<usize>,
    key_line: usize,
    dropped: bool,
) -> Result<(), String> {
    if let Some(at) = key_space {
        key.truncate(at);
    }
    if let Some(at) = value_space {
        value.truncate(at);
    }
    let name = String::from_utf8(std::mem::take(key))
        .map_err(|_| format!("line {key_line}: not UTF-8 (systemd refuses the whole file)"))?;
    let text = String::from_utf8(std::mem::take(value)).map_err(|_| {
        format!(
            "line {key_line}: the value of {name} is not UTF-8 (systemd refuses the whole file)"
        )
    })?;
    if is_env_name(&name) {
        out.assignments.retain(|a| a.name != name);
        out.assignments.push(Assignment {
            name,
            value: text,
            line: key_line,
            dropped_backslash: dropped,
        });
    } else {
        let export = if name.starts_with("export ") {
            " (env files are not shell scripts: remove 'export')"
        } else {
            ""
        };
        out.warnings.push(format!(
            "{key_line}: '{name}' is not a variable name, so systemd ignores this assignment{export}"
        ));
    }
    Ok(())
}

/// What systemd accepts as a variable name: letters, digits and `_`, not
/// starting with a digit.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .unwrap()
            .assignments
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect()
    }

    #[test]
    fn the_rules_in_brief() {
        let one = |text: &str| {
            let got = values(text);
            assert_eq!(got.len(), 1, "{text:?}: {got:?}");
            got[0].1.clone()
        };
        assert_eq!(one("A=systemctl restart app\n"), "systemctl restart app");
        assert_eq!(one("  A =  spaced  \n"), "spaced");
        assert_eq!(one("A=%FATAL \\d+%"), "%FATAL d+%");
        assert_eq!(one("A='%FATAL \\d+%'"), "%FATAL \\d+%");
        assert_eq!(one("A=\"a\\\"b\\d\""), "a\"b\\d");
        assert_eq!(one("A=one \\\ntwo"), "one two");
        assert_eq!(one("A=\"x\" 'y' z"), "xyz");
        assert_eq!(one("A=x # not a comment"), "x # not a comment");
        assert_eq!(one("A=$HOME %i ~"), "$HOME %i ~");
        assert_eq!(one("A=\r\n"), "");
        assert_eq!(one("A=1\nA=2\n"), "2");
        assert_eq!(one("# c\n; c\nA='multi\nline'\n"), "multi\nline");
    }

    #[test]
    fn ignored_lines_are_warned_about() {
        let file = parse(b"export LOGS2ECA_WAIT=1\nLOGS2ECA_WAIT\nA B=1\nOK=1\n").unwrap();
        assert_eq!(file.assignments.len(), 1);
        assert_eq!(file.warnings.len(), 3, "{:?}", file.warnings);
        assert!(
            file.warnings[0].starts_with("1: ") && file.warnings[0].contains("remove 'export'")
        );
        assert!(file.warnings[1].starts_with("2: ") && file.warnings[1].contains("no '='"));
        assert!(file.warnings[2].starts_with("3: "));
    }

    #[test]
    fn backslashes_dropped_outside_quotes_are_noted() {
        let file = parse(b"A=a\\db\nB='a\\db'\nC=x\\\ny\n").unwrap();
        let dropped: Vec<bool> = file
            .assignments
            .iter()
            .map(|a| a.dropped_backslash)
            .collect();
        assert_eq!(dropped, [true, false, false]);
    }

    /// The table test: every line of the fixture, against the values a
    /// real systemd gave for it (`NAME=value`, with `\\`, `\n` and `\t`
    /// escaped; CI checks that file against systemd's `env` output).
    #[test]
    fn the_fixture_reads_as_systemd_reads_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envfile");
        let file = read(&dir.join("systemd.env")).unwrap();
        let escape = |value: &str| {
            value
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\t', "\\t")
        };
        let mut got: Vec<String> = file
            .assignments
            .iter()
            .map(|a| format!("{}={}", a.name, escape(&a.value)))
            .collect();
        got.sort();
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let mut expected: Vec<&str> = expected.lines().collect();
        expected.sort();
        assert_eq!(got, expected);
        // The lines systemd ignores are each named.
        assert_eq!(file.warnings.len(), 4, "{:#?}", file.warnings);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused() {
        assert!(parse(b"A=\xff\n").is_err());
    }
}
