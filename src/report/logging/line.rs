//! One log record as one line of bytes, in the format the reader of stderr
//! expects: the journal wants a `<N>` priority prefix and keeps its own
//! timestamps; a terminal or a plain file wants a timestamp and a level.
//!
//! Whatever the format, a message is exactly one line: log messages carry
//! text nobody vetted (file names, excerpts of log lines), and a newline in
//! them would let that text start a line of its own, with a priority of its
//! choosing.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use log::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `<6>message`: systemd's journal reads the priority and timestamps
    /// the line itself.
    Journal,
    /// `[2025-01-31T12:00:00Z INFO ] message`.
    Plain,
}

/// The syslog priority the journal files a level under.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// Appends one record, newline included, to `out`.
pub fn render(format: Format, level: Level, message: &str, now: SystemTime, out: &mut Vec<u8>) {
    let mut line = String::with_capacity(message.len() + 32);
    match format {
        Format::Journal => {
            let _ = write!(line, "<{}>", priority(level));
        }
        Format::Plain => {
            let _ = write!(line, "[{} {level:<5}] ", utc_timestamp(now));
        }
    }
    escape_into(message, &mut line);
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
}

/// The line an exit with an error ends with: `logs2eca: ...`, with no
/// timestamp so that it reads the same as any other tool's error, and at
/// error priority in the journal.
pub fn render_fatal(format: Format, message: &str, out: &mut Vec<u8>) {
    let mut line = String::with_capacity(message.len() + 16);
    if format == Format::Journal {
        let _ = write!(line, "<{}>", priority(Level::Error));
    }
    line.push_str("logs2eca: ");
    escape_into(message, &mut line);
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
}

/// Copies `text`, writing every character that could end a line or move
/// the cursor of a terminal as a visible escape (`\n`, `\r`, `\x1b`, ...).
/// Tabs are kept: they cannot break a line.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // C1 controls (NEL among them) and the Unicode line and
            // paragraph separators: some readers break lines there. And the
            // bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE...): a
            // log line could otherwise show text in another order than
            // it has, and hide what it says.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// The characters that change the direction text is shown in (Unicode's
/// `Bidi_Control`): the embeddings and overrides, the isolates, and the
/// marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`, in UTC: the same in every time zone, and no
/// time zone database to read.
pub fn utc_timestamp(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn line(format: Format, level: Level, message: &str) -> String {
        let mut out = Vec::new();
        render(format, level, message, at(0), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// What journald does with a line from a stream: a leading `<N>` with
    /// N in 0..=7 is the priority and is removed; anything else is logged
    /// at the stream's default priority (info).
    fn journald_parse(line: &str) -> (u8, &str) {
        let bytes = line.as_bytes();
        if bytes.len() >= 3
            && bytes[0] == b'<'
            && (b'0'..=b'7').contains(&bytes[1])
            && bytes[2] == b'>'
        {
            (bytes[1] - b'0', &line[3..])
        } else {
            (6, line)
        }
    }

    #[test]
    fn journal_lines_carry_the_priority_of_their_level_and_no_timestamp() {
        let cases = [
            (Level::Error, 3),
            (Level::Warn, 4),
            (Level::Info, 6),
            (Level::Debug, 7),
            (Level::Trace, 7),
        ];
        for (level, expected) in cases {
            let text = line(Format::Journal, level, "command exited with status 1");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 1, "{text:?}");
            assert_eq!(
                journald_parse(lines[0]),
                (expected, "command exited with status 1"),
                "{level}"
            );
        }
    }

    #[test]
    fn bidi_controls_are_shown_escaped() {
        let mut out = String::new();
        escape_into("user \u{202e}nimda\u{202c} \u{2066}x\u{2069} é", &mut out);
        assert_eq!(out, "user \\u{202e}nimda\\u{202c} \\u{2066}x\\u{2069} é");
    }

    #[test]
    fn no_message_can_forge_a_line_of_another_priority() {
        for format in [Format::Journal, Format::Plain] {
            let text = line(
                format,
                Level::Info,
                "match: a\n<3>forged\rb\r\n<0>emerg\0c\u{1b}[2Jd\u{85}e\u{2028}f",
            );
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 1, "{text:?}");
            assert!(!text.contains(['\r', '\0', '\u{1b}', '\u{85}', '\u{2028}']));
            assert!(
                text.contains(r"a\n<3>forged\rb\r\n<0>emerg\0c\x1b[2Jd\u{85}e\u{2028}f"),
                "{text:?}"
            );
            if format == Format::Journal {
                assert_eq!(journald_parse(lines[0]).0, 6);
            }
        }
    }

    #[test]
    fn tabs_and_non_ascii_text_are_kept() {
        assert_eq!(line(Format::Journal, Level::Info, "é\tü"), "<6>é\tü\n");
    }

    #[test]
    fn plain_lines_have_a_utc_timestamp_and_a_level() {
        assert_eq!(
            line(Format::Plain, Level::Warn, "careful"),
            "[1970-01-01T00:00:00Z WARN ] careful\n"
        );
        assert_eq!(
            line(Format::Plain, Level::Error, "bad"),
            "[1970-01-01T00:00:00Z ERROR] bad\n"
        );
    }

    #[test]
    fn the_exit_error_is_one_line_at_error_priority_in_the_journal() {
        let mut journal = Vec::new();
        render_fatal(Format::Journal, "cannot open a\nb", &mut journal);
        assert_eq!(journal, b"<3>logs2eca: cannot open a\\nb\n");
        let mut plain = Vec::new();
        render_fatal(Format::Plain, "cannot open x", &mut plain);
        assert_eq!(plain, b"logs2eca: cannot open x\n");
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(at(1_709_251_199)), "2024-02-29T23:59:59Z");
        assert_eq!(utc_timestamp(at(4_102_444_800)), "2100-01-01T00:00:00Z");
        assert_eq!(
            utc_timestamp(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }
}
