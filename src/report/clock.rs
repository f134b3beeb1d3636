//! Wall-clock times as people and scripts read them: RFC 3339 in UTC
//! (`2026-12-02T05:20:01Z`), the same whatever the host's time zone, so
//! that a status line, a `logs2eca status` report and a journal can be
//! compared without asking which zone each was written in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `time` as `YYYY-MM-DDTHH:MM:SSZ`; times before 1970 show as 1970.
pub fn utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Seconds since the epoch, with the fraction (Prometheus' unit of time).
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// A span as a person reads it: `45s`, `12m 3s`, `3h 20m`, `2d 4h`.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A span given in milliseconds: under a second as `500ms`.
pub fn span_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        span(Duration::from_millis(ms))
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
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

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_dates() {
        assert_eq!(utc(at(0)), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56
        assert_eq!(utc(at(951_827_696)), "2000-02-29T12:34:56Z");
        assert_eq!(utc(at(1_798_765_201)), "2027-01-01T01:00:01Z");
        assert_eq!(
            utc(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(span(Duration::from_millis(999)), "0s");
        assert_eq!(span(Duration::from_secs(59)), "59s");
        assert_eq!(span(Duration::from_secs(723)), "12m 3s");
        assert_eq!(span(Duration::from_secs(3 * 3600 + 20 * 60 + 9)), "3h 20m");
        assert_eq!(span(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d 4h");
    }
}
