//! DURATION, as every setting that takes one spells it (`--wait`,
//! `--timeout`, the window of `--threshold`, `--poll`): decimal seconds
//! (`0`, `2.5`) or a number with a unit (`500ms`, `10m`, `1.5h`, `2d`).
//!
//! One parser for all of them, so that they accept the same spellings, and
//! bounded (365 days), so that a value accepted at start can never overflow
//! an `Instant` later: a value is refused at start or never.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The units, longest suffix first so that `ms` is not read as `m`.
const UNITS: [(&str, u128); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
    ("d", 24 * 3600 * 1_000_000_000),
];

/// Parses the DURATION `value` of setting `flag` (named in the error).
///
/// The arithmetic is exact (nanoseconds in integers), so `0.1` is 100 ms
/// and nothing is lost to floating point; digits beyond the nanosecond are
/// dropped.
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    let invalid = |why: &str| {
        Error::usage(format!(
            "invalid {flag} '{value}': {why} (a DURATION is seconds like 3 or 2.5, \
             or a number with a unit ms, s, m, h or d, like 500ms, 10m, 1.5h)"
        ))
    };
    let (number, unit_nanos) = UNITS
        .iter()
        .find_map(|&(unit, nanos)| Some((value.strip_suffix(unit)?, nanos)))
        .unwrap_or((value, 1_000_000_000));
    if number.starts_with('-') {
        return Err(invalid("negative"));
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(invalid("not a number"));
    }
    let max_nanos = MAX_DURATION.as_nanos();
    let too_long = || invalid("longer than 365 days");
    // Leading zeros cannot make the value long; any other long run of
    // digits is over the bound anyway.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 30 {
        return Err(too_long());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
    // The fraction, digit by digit, each worth a tenth of the one before.
    let mut place = unit_nanos;
    for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos += digit * place;
    }
    if nanos > max_nanos {
        return Err(too_long());
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    // Below 10^9: fits.
    let subsec = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
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
            ("1 s", "not a number"),
            ("1S", "not a number"),
            ("1w", "not a number"),
            ("1y", "not a number"),
            ("10sec", "not a number"),
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
