//! DURATION, as every setting that takes one spells it (`--wait`,
//! `--timeout`, the window of `--threshold`, `--poll`): decimal seconds
//! (`0`, `2.5`), a number with a unit (`500ms`, `10m`, `1.5h`, `2d`), or a
//! systemd time span (`10min`, `1m30s`, `2h 30min`, `1week`), since env
//! files sit beside unit files and borrow their spellings.
//!
//! One parser for all of them, so that they accept the same spellings, and
//! bounded (365 days), so that a value accepted at start can never overflow
//! an `Instant` later: a value is refused at start or never.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

const SECOND: u128 = 1_000_000_000;

/// The units of systemd's time spans (systemd.time(7)), in nanoseconds.
/// `m` is minutes and `M` months, as there.
const UNITS: [(&str, u128); 28] = [
    ("nsec", 1),
    ("ns", 1),
    ("usec", 1_000),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("msec", 1_000_000),
    ("ms", 1_000_000),
    ("seconds", SECOND),
    ("second", SECOND),
    ("sec", SECOND),
    ("s", SECOND),
    ("minutes", 60 * SECOND),
    ("minute", 60 * SECOND),
    ("min", 60 * SECOND),
    ("m", 60 * SECOND),
    ("hours", 3600 * SECOND),
    ("hour", 3600 * SECOND),
    ("hr", 3600 * SECOND),
    ("h", 3600 * SECOND),
    ("days", 86_400 * SECOND),
    ("day", 86_400 * SECOND),
    ("d", 86_400 * SECOND),
    ("weeks", 7 * 86_400 * SECOND),
    ("week", 7 * 86_400 * SECOND),
    ("w", 7 * 86_400 * SECOND),
    ("months", 2_629_800 * SECOND),
    ("month", 2_629_800 * SECOND),
    ("M", 2_629_800 * SECOND),
];

/// `years` are refused by the bound anyway, but named so that the error
/// says "longer than 365 days", not "not a number".
const YEAR_UNITS: [&str; 3] = ["years", "year", "y"];
const YEAR: u128 = 31_557_600 * SECOND;

/// Parses the DURATION `value` of setting `flag` (named in the error).
///
/// A value is one or more parts, each a number and an optional unit
/// (seconds without one), added up: `1m30s`, `2h 30min`. The arithmetic is
/// exact (nanoseconds in integers), so `0.1` is 100 ms and nothing is lost
/// to floating point; digits beyond the nanosecond are dropped.
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    parse_span(value).map_err(|why| {
        Error::usage(format!(
            "invalid {flag} '{value}': {why} (a DURATION is seconds like 3 or 2.5, \
             a number with a unit ms, s, m, h or d, like 500ms, 10m, 1.5h, \
             or a systemd time span like 10min, 1m30s, 2h 30min)"
        ))
    })
}

/// The DURATION `value`, or why it is not one (for settings that hold a
/// DURATION among other things, and name the whole value in their error).
pub fn parse_span(value: &str) -> std::result::Result<Duration, &'static str> {
    parse_nanos(value).map(|nanos| {
        // At most 365 days: fits.
        Duration::new((nanos / SECOND) as u64, (nanos % SECOND) as u32)
    })
}

fn parse_nanos(value: &str) -> std::result::Result<u128, &'static str> {
    let max = MAX_DURATION.as_nanos();
    let mut rest = value.trim();
    if rest.starts_with('-') {
        return Err("negative");
    }
    if rest.is_empty() {
        return Err("not a number");
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_alphabetic() && c != '\u{b5}')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos = if unit.is_empty() {
            SECOND
        } else if let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) {
            nanos
        } else if YEAR_UNITS.contains(&unit) {
            YEAR
        } else {
            return Err("not a number");
        };
        total = total.saturating_add(number_nanos(number, unit_nanos)?);
        if total > max {
            return Err("longer than 365 days");
        }
        rest = after.trim_start();
    }
    Ok(total)
}

/// `number` (decimal, perhaps with a fraction) times `unit_nanos`.
fn number_nanos(number: &str, unit_nanos: u128) -> std::result::Result<u128, &'static str> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err("not a number");
    }
    let too_long = "longer than 365 days";
    // Leading zeros cannot make the value long; any other long run of
    // digits is over the bound anyway.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 30 {
        return Err(too_long);
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long)?
    };
    let mut nanos = whole.checked_mul(unit_nanos).ok_or(too_long)?;
    // The fraction, digit by digit, each worth a tenth of the one before.
    let mut place = unit_nanos;
    for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos += digit * place;
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_spellings() {
        let ms = Duration::from_millis;
        let cases = [
            ("0", ms(0)),
            ("3", ms(3000)),
            ("2.5", ms(2500)),
            ("0.001", ms(1)),
            (".5", ms(500)),
            ("5.", ms(5000)),
            ("0.1", ms(100)),
            ("007", ms(7000)),
            ("500ms", ms(500)),
            ("1.5ms", Duration::from_micros(1500)),
            ("2s", ms(2000)),
            ("10m", ms(600_000)),
            ("1.5h", ms(5_400_000)),
            ("2d", ms(2 * 86_400_000)),
            ("0d", ms(0)),
            ("365d", MAX_DURATION),
            ("8760h", MAX_DURATION),
            ("31536000", MAX_DURATION),
            ("0.0000000001", ms(0)),
            // systemd's time spans.
            ("1 s", ms(1000)),
            ("10sec", ms(10_000)),
            ("10min", ms(600_000)),
            ("1m30s", ms(90_000)),
            ("2h 30min", ms(9_000_000)),
            ("1week", ms(7 * 86_400_000)),
            ("1w 2d", ms(9 * 86_400_000)),
            ("1M", ms(2_629_800_000)),
            ("1.5min", ms(90_000)),
            ("250msec", ms(250)),
            ("10us", Duration::from_micros(10)),
            (" 3 ", ms(3000)),
            ("1.0000000001", ms(1000)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration("--wait", text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn refused_spellings_name_the_flag_and_the_value() {
        let cases = [
            ("-1", "negative"),
            ("-0.5s", "negative"),
            ("abc", "not a number"),
            ("", "not a number"),
            ("ms", "not a number"),
            (".", "not a number"),
            ("1e3", "not a number"),
            ("inf", "not a number"),
            ("nan", "not a number"),
            ("+1", "not a number"),
            ("1.2.3", "not a number"),
            ("1S", "not a number"),
            ("1x", "not a number"),
            ("10 parsecs", "not a number"),
            ("1m-30s", "not a number"),
            ("1y", "longer than 365 days"),
            ("53w", "longer than 365 days"),
            ("365d 1s", "longer than 365 days"),
            ("365.0001d", "longer than 365 days"),
            ("366d", "longer than 365 days"),
            ("31536001", "longer than 365 days"),
            ("10000000000000000000", "longer than 365 days"),
            (
                "99999999999999999999999999999999999999999999",
                "longer than 365 days",
            ),
            ("184467440737095516160000ms", "longer than 365 days"),
        ];
        for (text, why) in cases {
            let err = parse_duration("--timeout", text).unwrap_err();
            assert_eq!(err.status, crate::error::ExitStatus::Usage, "{text}");
            assert!(
                err.message.contains(&format!("--timeout '{text}'")) && err.message.contains(why),
                "{text}: {}",
                err.message
            );
        }
    }
}
