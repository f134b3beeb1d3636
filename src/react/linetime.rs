//! A line's own time (`--time`, `--time-zone`): what windows, cooldowns
//! and the state are measured on, so that a rule means the same live,
//! after a restart (the backlog is read within moments, but was written
//! over hours) and in a replay of an old log.
//!
//! Only matching lines are looked at, so a scan that matches little costs
//! what it did. The fields of the recognised formats sit at fixed places
//! and are read here; the calendar (days in a month, leap years) and the
//! zones (the system's tz database, daylight saving time) are `jiff`'s, as
//! is `--time FORMAT` (strftime-style). Ours are where a timestamp is
//! looked for, the English month names of syslog and the Common Log
//! Format, and syslog's missing year.

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::{Offset, TimeZone};

/// A timestamp is looked for in this many bytes at the start of a line.
pub const SEARCH_BYTES: usize = 512;

/// A line without a timestamp looks back this many bytes at most for the
/// last line that had one (a stack trace's lines).
pub const LOOK_BACK_BYTES: usize = 16 << 10;

/// A line stamped ahead of its arrival by more than this is warned about
/// (once); any line ahead is taken at its arrival.
pub const AHEAD_WARNING: Duration = Duration::from_secs(1);

/// A point in the lines' time: a wall-clock time (UTC), ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(SystemTime);

impl Time {
    pub fn now() -> Self {
        Time(SystemTime::now())
    }

    pub fn from_system(time: SystemTime) -> Self {
        Time(time)
    }

    pub fn to_system(self) -> SystemTime {
        self.0
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        self.0.duration_since(earlier.0).unwrap_or(Duration::ZERO)
    }

    fn from_timestamp(ts: Timestamp) -> Option<Self> {
        SystemTime::try_from(ts).ok().map(Time)
    }

    fn to_timestamp(self) -> Option<Timestamp> {
        Timestamp::try_from(self.0).ok()
    }
}

impl std::ops::Add<Duration> for Time {
    type Output = Time;

    /// Saturates at the far end instead of panicking.
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.checked_add(rhs).unwrap_or(self.0))
    }
}

impl fmt::Display for Time {
    /// RFC 3339 in UTC, with as many fractional digits as it has
    /// (`2026-12-02T03:04:05.123Z`): `LOGS2ECA_MATCH_TIME` and `--json`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_timestamp() {
            Some(ts) => write!(f, "{ts}"),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// What a line's time is (`--time`).
#[derive(Debug, Clone)]
pub enum Reading {
    /// The timestamp it carries in one of the known formats.
    Auto,
    /// When it was read.
    Arrival,
    /// A strftime-style format.
    Format(String),
}

/// How line times are found: `--time` and `--time-zone`, checked.
#[derive(Debug, Clone)]
pub struct LineTimes {
    pub reading: Reading,
    /// The zone of timestamps that carry none.
    pub zone: Zone,
    /// How the zone was given, for messages.
    pub zone_name: String,
}

impl LineTimes {
    /// `--time` and `--time-zone` as given (`None`: unset).
    pub fn parse(time: Option<&str>, zone: Option<&str>) -> Result<Self, String> {
        let (zone, zone_name) = match zone {
            Some(name) => (Zone::given(parse_zone(name)?), name.to_owned()),
            None => (Zone::local(), "the local zone".to_owned()),
        };
        let reading = match time {
            None | Some("auto") => Reading::Auto,
            Some("arrival") => Reading::Arrival,
            Some(format) if format.contains('%') => {
                check_format(format, &zone)?;
                Reading::Format(format.to_owned())
            }
            Some(other) => {
                return Err(format!(
                    "invalid --time '{other}': expected auto, arrival, or a strftime-style \
                     format such as '%Y-%m-%d %H:%M:%S'"
                ));
            }
        };
        Ok(LineTimes {
            reading,
            zone,
            zone_name,
        })
    }

    /// Everything by arrival (`--time arrival`).
    pub fn arrival() -> Self {
        LineTimes {
            reading: Reading::Arrival,
            zone: Zone::given(TimeZone::UTC),
            zone_name: "UTC".to_owned(),
        }
    }

    /// The timestamp `line` carries, if any; `now` decides the year of a
    /// timestamp without one.
    pub fn find(&self, line: &[u8], now: Time) -> Option<Time> {
        match &self.reading {
            Reading::Arrival => None,
            Reading::Auto => find_auto(line, &self.zone, now),
            Reading::Format(format) => find_format(format, line, &self.zone, now),
        }
    }
}

/// The zone of timestamps without one. The local zone is only looked up
/// when a line needs it: finding it in the tz database costs a start about
/// a millisecond, which a log whose lines carry their zone never pays.
#[derive(Debug, Clone)]
pub struct Zone(OnceLock<TimeZone>);

impl Zone {
    fn given(zone: TimeZone) -> Self {
        Zone(OnceLock::from(zone))
    }

    fn local() -> Self {
        Zone(OnceLock::new())
    }

    fn get(&self) -> &TimeZone {
        self.0
            .get_or_init(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
    }
}

/// `--time-zone`: a name of the tz database (`Europe/Berlin`, `UTC`) or a
/// fixed offset (`+01:00`, `-0500`).
fn parse_zone(name: &str) -> Result<TimeZone, String> {
    if let Some(offset) = fixed_offset(name.as_bytes()) {
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(name).map_err(|err| {
        format!("invalid --time-zone '{name}': not a zone of the tz database nor an offset such as +01:00 ({err})")
    })
}

fn fixed_offset(text: &[u8]) -> Option<Offset> {
    let (offset, used) = offset_at(text, 0)?;
    (used == text.len()).then_some(offset)
}

/// A format is checked at start by formatting a time with it and reading
/// it back: one that cannot give a line's time fails then, not later.
fn check_format(format: &str, zone: &Zone) -> Result<(), String> {
    let sample = Timestamp::from_second(1_764_644_645)
        .map(|ts| ts.to_zoned_datetime(zone.get().clone()))
        .map_err(|err| err.to_string())?;
    let written = jiff::fmt::strtime::format(format, &sample)
        .map_err(|err| format!("invalid --time '{format}': {err}"))?;
    let now = Time::from_timestamp(sample.timestamp()).unwrap_or_else(Time::now)
        + Duration::from_secs(3600);
    match find_format(format, written.as_bytes(), zone, now) {
        Some(_) => Ok(()),
        None => Err(format!(
            "invalid --time '{format}': it cannot give a line's time (it needs at least a \
             month, a day and a time of day, or %s)"
        )),
    }
}

/// `--time auto`: the first timestamp in the first `SEARCH_BYTES` of the
/// line that starts at the line's start or after a character that is not
/// a letter or a digit: RFC 3339 / ISO 8601, syslog, the Common Log Format
/// (after a `[`), or epoch seconds (only at the line's start).
fn find_auto(line: &[u8], zone: &Zone, now: Time) -> Option<Time> {
    let head = &line[..line.len().min(SEARCH_BYTES)];
    if let Some(time) = epoch_at_start(head) {
        return Some(time);
    }
    for i in 0..head.len() {
        let b = head[i];
        if i > 0 && head[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let found = if b.is_ascii_digit() {
            match iso_at(head, i, zone) {
                Some(time) => Some(time),
                None if i > 0 && head[i - 1] == b'[' => clf_at(head, i, zone),
                None => None,
            }
        } else if b.is_ascii_uppercase() {
            syslog_at(head, i, zone, now)
        } else {
            None
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// `--time FORMAT`: tried at the line's start, then after each space,
/// tab, `[`, `(`, `"`, `'`, `=` or `,` in the first `SEARCH_BYTES`.
fn find_format(format: &str, line: &[u8], zone: &Zone, now: Time) -> Option<Time> {
    let head = &line[..line.len().min(SEARCH_BYTES)];
    let starts = std::iter::once(0).chain(
        head.iter()
            .enumerate()
            .filter(|&(_, b)| b" \t[(\"'=,".contains(b))
            .map(|(i, _)| i + 1),
    );
    for start in starts {
        if let Ok((tm, _)) = BrokenDownTime::parse_prefix(format, &head[start..])
            && let Some(time) = resolve(&tm, zone, now)
        {
            return Some(time);
        }
    }
    None
}

/// A parsed FORMAT as a time: a timestamp (`%s`), a civil time with an
/// offset or a zone name, or in `zone`; a missing year as syslog's.
fn resolve(tm: &BrokenDownTime, zone: &Zone, now: Time) -> Option<Time> {
    if let Some(ts) = tm.timestamp() {
        return Time::from_timestamp(ts);
    }
    let zone = match (tm.offset(), tm.iana_time_zone()) {
        (Some(offset), _) => TimeZone::fixed(offset),
        (None, Some(name)) => TimeZone::get(name).ok()?,
        (None, None) => zone.get().clone(),
    };
    if tm.year().is_some() {
        let dt = tm.to_datetime().ok()?;
        return in_zone(dt, &zone);
    }
    let (month, day) = (tm.month()?, tm.day()?);
    let time = tm.to_time().ok()?;
    most_recent(month, day, time, &zone, now)
}

/// A civil time at a fixed offset (the line wrote it).
fn at_offset(dt: DateTime, offset: Offset) -> Option<Time> {
    Time::from_timestamp(offset.to_timestamp(dt).ok()?)
}

fn in_zone(dt: DateTime, zone: &TimeZone) -> Option<Time> {
    // A time in a daylight saving gap or fold: as the clocks of the
    // writer most likely meant it (the earlier of a fold).
    let ts = zone.to_ambiguous_timestamp(dt).compatible().ok()?;
    Time::from_timestamp(ts)
}

/// syslog's rule for a timestamp without a year: the most recent such
/// time that is not more than a day ahead of `now` (so a log read just
/// after New Year keeps December in the old year, and a clock a little
/// behind the writer's keeps the new one).
fn most_recent(
    month: i8,
    day: i8,
    time: jiff::civil::Time,
    zone: &TimeZone,
    now: Time,
) -> Option<Time> {
    let now_ts = now.to_timestamp()?;
    let limit = now + Duration::from_secs(86_400);
    let this_year = now_ts.to_zoned_datetime(zone.clone()).year();
    // February 29th goes back to the last leap year: at most 8 years.
    for year in (this_year - 8..=this_year + 1).rev() {
        let Ok(date) = jiff::civil::Date::new(year, month, day) else {
            continue;
        };
        let Some(candidate) = in_zone(date.to_datetime(time), zone) else {
            continue;
        };
        if candidate <= limit {
            return Some(candidate);
        }
    }
    None
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// An English month abbreviation (as syslog and the CLF write it,
/// whatever the locale): 1 to 12.
fn month_at(s: &[u8], i: usize) -> Option<i8> {
    let name = s.get(i..i + 3)?;
    MONTHS
        .iter()
        .position(|m| m[..] == *name)
        .map(|n| n as i8 + 1)
}

/// `n` digits at `i` as a number.
fn digits(s: &[u8], i: usize, n: usize) -> Option<i32> {
    let field = s.get(i..i + n)?;
    field.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

fn byte_is(s: &[u8], i: usize, expected: u8) -> bool {
    s.get(i) == Some(&expected)
}

fn is_digit_at(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// `HH:MM:SS` at `i`, then an optional fraction (`.` or `,`): the time
/// and where it ends.
fn clock_at(s: &[u8], i: usize) -> Option<(jiff::civil::Time, usize)> {
    let (clock, end) = hms_at(s, i)?;
    Some((clock.civil()?, end))
}

/// A time of day as written, in range.
#[derive(Debug, Clone, Copy)]
struct Hms {
    hour: i32,
    minute: i32,
    second: i32,
    nanos: i32,
}

impl Hms {
    fn civil(self) -> Option<jiff::civil::Time> {
        jiff::civil::Time::new(
            self.hour as i8,
            self.minute as i8,
            self.second as i8,
            self.nanos,
        )
        .ok()
    }

    fn seconds(self) -> i64 {
        i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }
}

/// `HH:MM:SS` at `i`, then an optional fraction (`.` or `,`).
fn hms_at(s: &[u8], i: usize) -> Option<(Hms, usize)> {
    let hour = digits(s, i, 2)?;
    let minute = (byte_is(s, i + 2, b':')).then(|| digits(s, i + 3, 2))??;
    let second = (byte_is(s, i + 5, b':')).then(|| digits(s, i + 6, 2))??;
    let mut end = i + 8;
    let mut nanos = 0;
    if matches!(s.get(end), Some(b'.' | b',')) && is_digit_at(s, end + 1) {
        (nanos, end) = fraction(s, end + 1);
    }
    if is_digit_at(s, end) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // A leap second is the last moment of its minute.
    let second = second.min(59);
    Some((
        Hms {
            hour,
            minute,
            second,
            nanos,
        },
        end,
    ))
}

/// Year, month and day as written.
type Ymd = (i32, i32, i32);

thread_local! {
    /// The last date a line had, and its midnight (UTC) in seconds since
    /// 1970: consecutive lines share their date, and the calendar is
    /// asked once a day.
    static LAST_DATE: Cell<Option<(Ymd, i64)>> = const { Cell::new(None) };
}

/// Seconds since 1970 at 00:00 UTC of a (valid) date.
fn midnight(year: i32, month: i32, day: i32) -> Option<i64> {
    let key = (year, month, day);
    if let Some((last, seconds)) = LAST_DATE.get()
        && last == key
    {
        return Some(seconds);
    }
    let date = jiff::civil::Date::new(year as i16, month as i8, day as i8).ok()?;
    let seconds = Offset::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?
        .as_second();
    LAST_DATE.set(Some((key, seconds)));
    Some(seconds)
}

/// A date and time of day at a fixed offset.
fn at_fixed(year: i32, month: i32, day: i32, hms: Hms, offset: Offset) -> Option<Time> {
    let seconds = midnight(year, month, day)? + hms.seconds() - i64::from(offset.seconds());
    let since = Duration::new(u64::try_from(seconds).ok()?, hms.nanos as u32);
    Some(Time(SystemTime::UNIX_EPOCH.checked_add(since)?))
}

/// The digits of a fraction of a second at `i`, as nanoseconds (digits
/// past the ninth are skipped), and where they end.
fn fraction(s: &[u8], i: usize) -> (i32, usize) {
    const SCALE: [i32; 10] = [
        1_000_000_000,
        100_000_000,
        10_000_000,
        1_000_000,
        100_000,
        10_000,
        1_000,
        100,
        10,
        1,
    ];
    let mut end = i;
    let mut nanos = 0i32;
    while let Some(&b) = s.get(end)
        && b.is_ascii_digit()
    {
        if end - i < 9 {
            nanos = nanos * 10 + i32::from(b - b'0');
        }
        end += 1;
    }
    (nanos * SCALE[(end - i).min(9)], end)
}

/// `Z`, `+HH`, `+HHMM` or `+HH:MM` at `i`: the offset and where it ends.
fn offset_at(s: &[u8], i: usize) -> Option<(Offset, usize)> {
    match s.get(i)? {
        b'Z' | b'z' => return Some((Offset::UTC, i + 1)),
        b'+' | b'-' => {}
        _ => return None,
    }
    let sign = if s[i] == b'-' { -1 } else { 1 };
    let hours = digits(s, i + 1, 2)?;
    let (minutes, end) = if byte_is(s, i + 3, b':') {
        (digits(s, i + 4, 2)?, i + 6)
    } else if let Some(minutes) = digits(s, i + 3, 2) {
        (minutes, i + 5)
    } else {
        (0, i + 3)
    };
    if is_digit_at(s, end) || hours > 25 || minutes > 59 {
        return None;
    }
    let offset = Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()?;
    Some((offset, end))
}

/// `2026-12-02T03:04:05`, `T` or a space between, a fraction after `.` or
/// `,`, then an optional zone (`Z`, `+01:00`, `+0100`, `+01`).
fn iso_at(s: &[u8], i: usize, zone: &Zone) -> Option<Time> {
    let year = digits(s, i, 4)?;
    if !byte_is(s, i + 4, b'-') || !byte_is(s, i + 7, b'-') {
        return None;
    }
    let month = digits(s, i + 5, 2)?;
    let day = digits(s, i + 8, 2)?;
    if !matches!(s.get(i + 10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (hms, end) = hms_at(s, i + 11)?;
    let offset = match offset_at(s, end) {
        Some((offset, _)) => offset,
        None => match zone.get().to_fixed_offset() {
            Ok(offset) => offset,
            Err(_) => {
                let date = jiff::civil::Date::new(year as i16, month as i8, day as i8).ok()?;
                return in_zone(date.to_datetime(hms.civil()?), zone.get());
            }
        },
    };
    at_fixed(year, month, day, hms, offset)
}

/// `Dec  2 03:04:05` (the day padded with a space or a zero, or not at
/// all): the year is `most_recent`'s.
fn syslog_at(s: &[u8], i: usize, zone: &Zone, now: Time) -> Option<Time> {
    let month = month_at(s, i)?;
    if !byte_is(s, i + 3, b' ') {
        return None;
    }
    let (day, after) = if byte_is(s, i + 4, b' ') {
        (digits(s, i + 5, 1)?, i + 6)
    } else if let Some(day) = digits(s, i + 4, 2) {
        (day, i + 6)
    } else {
        (digits(s, i + 4, 1)?, i + 5)
    };
    if !byte_is(s, after, b' ') {
        return None;
    }
    let (time, _) = clock_at(s, after + 1)?;
    // The zone only now, with a timestamp found: not for every word of a
    // line that starts with a capital, such as `ERROR`.
    most_recent(month, day as i8, time, zone.get(), now)
}

/// The Common Log Format's `[02/Dec/2026:03:04:05 +0000]` (nginx, Apache),
/// `i` just after the `[`.
fn clf_at(s: &[u8], i: usize, zone: &Zone) -> Option<Time> {
    let day = digits(s, i, 2)?;
    if !byte_is(s, i + 2, b'/') || !byte_is(s, i + 6, b'/') || !byte_is(s, i + 11, b':') {
        return None;
    }
    let month = month_at(s, i + 3)?;
    let year = digits(s, i + 7, 4)?;
    let hms = [12, 15, 18].map(|at| digits(s, i + at, 2));
    if !byte_is(s, i + 14, b':') || !byte_is(s, i + 17, b':') {
        return None;
    }
    let [Some(hour), Some(minute), Some(second)] = hms else {
        return None;
    };
    let time = jiff::civil::Time::new(hour as i8, minute as i8, second.min(59) as i8, 0).ok()?;
    let date = jiff::civil::Date::new(year as i16, month, day as i8).ok()?;
    let dt = date.to_datetime(time);
    match byte_is(s, i + 20, b' ')
        .then(|| offset_at(s, i + 21))
        .flatten()
    {
        Some((offset, _)) => at_offset(dt, offset),
        None => in_zone(dt, zone.get()),
    }
}

/// Ten digits of seconds since 1970 at the line's start (2001 to 2286),
/// an optional fraction, then a space, a tab or the line's end (squid,
/// many scripts).
fn epoch_at_start(s: &[u8]) -> Option<Time> {
    let seconds = s.get(..10)?;
    if !seconds.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut end = 10;
    let mut nanos = 0;
    if byte_is(s, end, b'.') && is_digit_at(s, end + 1) {
        (nanos, end) = fraction(s, end + 1);
    }
    if !matches!(s.get(end), None | Some(b' ' | b'\t')) {
        return None;
    }
    let secs: u64 = std::str::from_utf8(seconds).ok()?.parse().ok()?;
    Some(Time(
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos as u32),
    ))
}

/// The time of each matching line, as the lines come: its own timestamp,
/// else the last one seen before it, else its arrival; never later than
/// its arrival.
#[derive(Debug)]
pub struct LineClock {
    times: LineTimes,
    /// The time of the last line that had one.
    last: Option<Time>,
    /// In the current block, the lines before this offset were looked at.
    looked_upto: usize,
    /// Nothing looked at so far had a timestamp: looking back is given up
    /// until a matching line has one (a log without timestamps costs no
    /// more than a failed look at each matching line).
    none_seen: bool,
    /// Matching lines without a timestamp.
    untimed: u64,
    ahead_warned: bool,
}

impl LineClock {
    pub fn new(times: LineTimes) -> Self {
        LineClock {
            times,
            last: None,
            looked_upto: 0,
            none_seen: false,
            untimed: 0,
            ahead_warned: false,
        }
    }

    /// The lines' time is their arrival (`--time arrival`).
    pub fn by_arrival(&self) -> bool {
        matches!(self.times.reading, Reading::Arrival)
    }

    /// Matching lines that had no timestamp of their own.
    pub fn untimed(&self) -> u64 {
        self.untimed
    }

    /// The time of `line`, a line of `block` (a slice of it), read at
    /// `arrival`.
    pub fn time_of(&mut self, block: &[u8], line: &[u8], arrival: Time) -> Time {
        if self.by_arrival() {
            return arrival;
        }
        let start = (line.as_ptr() as usize).wrapping_sub(block.as_ptr() as usize);
        let (start, end) = if start <= block.len() && start + line.len() <= block.len() {
            (start, start + line.len())
        } else {
            // Not a slice of the block: it stands alone.
            return self.alone(line, arrival);
        };
        let time = match self.stamp(line, arrival) {
            Some(time) => {
                self.none_seen = false;
                Some(time)
            }
            None => {
                self.untimed += 1;
                self.look_back(block, start, arrival)
            }
        };
        self.looked_upto = self.looked_upto.max(end);
        if let Some(time) = time {
            self.last = Some(time);
        }
        self.last.unwrap_or(arrival)
    }

    /// The time of a line read on its own (a held match restored from the
    /// state file).
    pub fn alone(&mut self, line: &[u8], arrival: Time) -> Time {
        if self.by_arrival() {
            return arrival;
        }
        match self.stamp(line, arrival) {
            Some(time) => {
                self.last = Some(time);
                time
            }
            None => {
                self.untimed += 1;
                self.last.unwrap_or(arrival)
            }
        }
    }

    /// The time of a journal entry's line: the entry's own (`own`, when
    /// it was logged), never later than its arrival; by arrival with
    /// `--time arrival`. It is the last time seen for the lines after.
    pub fn entry(&mut self, own: Option<Time>, arrival: Time) -> Time {
        if self.by_arrival() {
            return arrival;
        }
        match own {
            Some(time) => {
                let time = time.min(arrival);
                self.last = Some(time);
                time
            }
            None => {
                self.untimed += 1;
                self.last.unwrap_or(arrival)
            }
        }
    }

    /// A block was handed out whole: the last timestamp in what was not
    /// looked at (usually its last line's) is what the next block's first
    /// lines without one take.
    pub fn end_block(&mut self, block: &[u8], arrival: Time) {
        if !self.by_arrival()
            && !self.none_seen
            && let Some(time) = self.look_back(block, block.len(), arrival)
        {
            self.last = Some(time);
        }
        self.looked_upto = 0;
    }

    /// The last timestamp in the lines of `block` before `before`, back to
    /// what was looked at already and at most `LOOK_BACK_BYTES`.
    fn look_back(&mut self, block: &[u8], before: usize, arrival: Time) -> Option<Time> {
        if self.none_seen {
            return None;
        }
        let floor = self.looked_upto.max(before.saturating_sub(LOOK_BACK_BYTES));
        // `before` is a line's start (or the block's end, after a `\n`).
        let mut end = before.saturating_sub(1);
        let mut looked = false;
        while end > floor {
            let start = memchr::memrchr(b'\n', &block[..end]).map_or(0, |i| i + 1);
            if start < floor {
                break;
            }
            looked = true;
            if let Some(time) = self.stamp(&block[start..end], arrival) {
                return Some(time);
            }
            if start == 0 {
                break;
            }
            end = start - 1;
        }
        if looked && self.last.is_none() {
            self.none_seen = true;
        }
        None
    }

    /// The line's own timestamp, taken at `arrival` if it is ahead of it.
    fn stamp(&mut self, line: &[u8], arrival: Time) -> Option<Time> {
        let time = self.times.find(line, arrival)?;
        if time <= arrival {
            return Some(time);
        }
        let ahead = time.saturating_duration_since(arrival);
        if ahead > AHEAD_WARNING && !self.ahead_warned {
            self.ahead_warned = true;
            log::warn!(
                "a line is stamped {} ahead of the clock: taken at its arrival time, as every such \
                 line from now on (is --time-zone right? it is {})",
                crate::react::action::seconds(ahead),
                self.times.zone_name,
            );
        }
        Some(arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Time {
        Time::from_timestamp(text.parse::<Timestamp>().unwrap()).unwrap()
    }

    fn auto(zone: &str) -> LineTimes {
        LineTimes::parse(None, Some(zone)).unwrap()
    }

    fn find(line: &str, now: &str) -> Option<String> {
        auto("UTC")
            .find(line.as_bytes(), at(now))
            .map(|t| t.to_string())
    }

    const NOW: &str = "2026-12-02T12:00:00Z";

    #[test]
    fn rfc3339_and_iso8601_with_and_without_a_zone() {
        for (line, expected) in [
            ("2026-12-02T03:04:05.123Z x", "2026-12-02T03:04:05.123Z"),
            ("2026-12-02 03:04:05,123 ERROR", "2026-12-02T03:04:05.123Z"),
            ("2026-12-02T03:04:05+01:00 a", "2026-12-02T02:04:05Z"),
            ("2026-12-02T03:04:05.5-0500", "2026-12-02T08:04:05.5Z"),
            ("2026-12-02T03:04:05+01 a", "2026-12-02T02:04:05Z"),
            ("[2026-12-02 03:04:05] x", "2026-12-02T03:04:05Z"),
            (
                r#"{"level":"info","time":"2026-12-02T03:04:05.123456789Z"}"#,
                "2026-12-02T03:04:05.123456789Z",
            ),
        ] {
            assert_eq!(find(line, NOW).as_deref(), Some(expected), "{line}");
        }
    }

    #[test]
    fn syslog_takes_the_most_recent_year_not_more_than_a_day_ahead() {
        let line = "Dec  2 03:04:05 host sshd[1]: Failed";
        assert_eq!(
            find(line, NOW).as_deref(),
            Some("2026-12-02T03:04:05Z"),
            "today"
        );
        assert_eq!(
            find("Dec 31 23:59:59 h x", "2027-01-01T00:00:30Z").as_deref(),
            Some("2026-12-31T23:59:59Z"),
            "just after New Year, December is last year's"
        );
        assert_eq!(
            find("Jan  1 00:00:01 h x", "2026-12-31T23:59:00Z").as_deref(),
            Some("2027-01-01T00:00:01Z"),
            "a writer's clock a little ahead keeps the new year"
        );
        assert_eq!(
            find("Dec  3 12:00:01 h x", NOW).as_deref(),
            Some("2025-12-03T12:00:01Z"),
            "more than a day ahead: last year"
        );
        assert_eq!(
            find("Dec  3 11:59:59 h x", NOW).as_deref(),
            Some("2026-12-03T11:59:59Z"),
            "less than a day ahead: this year"
        );
        assert_eq!(
            find("Feb 29 10:00:00 h x", NOW).as_deref(),
            Some("2024-02-29T10:00:00Z"),
            "the last leap year"
        );
        assert_eq!(
            find("Dec 02 03:04:05 h x", NOW).as_deref(),
            Some("2026-12-02T03:04:05Z"),
            "journalctl pads with a zero"
        );
        assert_eq!(find("Dex  2 03:04:05 h", NOW), None);
        assert_eq!(find("dec  2 03:04:05 h", NOW), None);
    }

    #[test]
    fn common_log_format_after_a_bracket() {
        let line = r#"203.0.113.9 - - [02/Dec/2026:03:04:05 +0100] "GET / HTTP/1.1" 200"#;
        assert_eq!(find(line, NOW).as_deref(), Some("2026-12-02T02:04:05Z"));
        assert_eq!(
            find("x [02/Dec/2026:03:04:05] y", NOW).as_deref(),
            Some("2026-12-02T03:04:05Z")
        );
        assert_eq!(find("x [02/Dez/2026:03:04:05 +0000] y", NOW), None);
    }

    #[test]
    fn epoch_seconds_only_at_the_start() {
        assert_eq!(
            find("1764644645.779    180 10.0.0.1 TCP_MISS", NOW).as_deref(),
            Some("2025-12-02T03:04:05.779Z")
        );
        assert_eq!(
            find("1764644645 x", NOW).as_deref(),
            Some("2025-12-02T03:04:05Z")
        );
        assert_eq!(find("pid 1764644645 x", NOW), None);
        assert_eq!(find("17646446450 x", NOW), None);
        assert_eq!(find("1764644645abc", NOW), None);
    }

    #[test]
    fn what_is_not_a_timestamp() {
        for line in [
            "no time here",
            "2026-13-02 03:04:05 bad month",
            "2026-02-30T03:04:05Z bad day",
            "2026-12-02T25:04:05Z bad hour",
            "x2026-12-02T03:04:05Z glued to a word",
            "2026-12-02T03:04 no seconds",
            "2026-12-02T03:04:055 too many digits",
        ] {
            assert_eq!(find(line, NOW), None, "{line}");
        }
        let far = format!("{} 2026-12-02T03:04:05Z", "x".repeat(SEARCH_BYTES));
        assert_eq!(find(&far, NOW), None, "beyond the search");
    }

    /// Looking up the local zone walks the tz database (a directory read
    /// per region): a cost for the line that needs it, not for the first
    /// match of a log whose lines carry no time or their own offset.
    #[test]
    fn only_a_timestamp_without_an_offset_looks_up_the_local_zone() {
        let times = LineTimes::parse(None, None).unwrap();
        for line in [
            "ERROR disk full",
            "Dec 2 no time",
            "2026-12-02T03:04:05+01:00 ERROR with its offset",
            "[02/Dec/2026:03:04:05 +0100] GET",
        ] {
            times.find(line.as_bytes(), at(NOW));
            assert!(times.zone.0.get().is_none(), "looked up for {line:?}");
        }
        assert!(times.find(b"Dec  2 03:04:05 host x", at(NOW)).is_some());
        assert!(times.zone.0.get().is_some());
    }

    #[test]
    fn the_first_timestamp_wins() {
        assert_eq!(
            find(
                "2026-12-02T03:04:05Z cert expires 2027-01-01T00:00:00Z",
                NOW
            )
            .as_deref(),
            Some("2026-12-02T03:04:05Z")
        );
    }

    #[test]
    fn a_timestamp_without_a_zone_is_in_the_time_zone() {
        let berlin = auto("Europe/Berlin");
        let now = at(NOW);
        let found = |line: &str| berlin.find(line.as_bytes(), now).unwrap().to_string();
        assert_eq!(found("2026-12-02 03:04:05 x"), "2026-12-02T02:04:05Z");
        assert_eq!(
            found("2026-07-02 03:04:05 x"),
            "2026-07-02T01:04:05Z",
            "summer"
        );
        assert_eq!(found("2026-12-02 03:04:05Z x"), "2026-12-02T03:04:05Z");
        assert_eq!(found("Dec  2 03:04:05 x"), "2026-12-02T02:04:05Z");
        let fixed = auto("-05:00");
        assert_eq!(
            fixed
                .find(b"2026-12-02 03:04:05 x", now)
                .unwrap()
                .to_string(),
            "2026-12-02T08:04:05Z"
        );
    }

    #[test]
    fn a_format_is_searched_at_field_starts() {
        let times = LineTimes::parse(Some("%d.%m.%Y %H:%M:%S"), Some("UTC")).unwrap();
        let now = at(NOW);
        let found = |line: &str| times.find(line.as_bytes(), now).map(|t| t.to_string());
        assert_eq!(
            found("02.12.2026 03:04:05 x").as_deref(),
            Some("2026-12-02T03:04:05Z")
        );
        assert_eq!(
            found("app [02.12.2026 03:04:05] x").as_deref(),
            Some("2026-12-02T03:04:05Z")
        );
        assert_eq!(found("no 2026-12-02 03:04:05"), None);
        let yearless = LineTimes::parse(Some("%b %e %H:%M:%S"), Some("UTC")).unwrap();
        assert_eq!(
            yearless
                .find(b"Dec  3 12:00:01 x", now)
                .map(|t| t.to_string())
                .as_deref(),
            Some("2025-12-03T12:00:01Z"),
            "without a year: syslog's rule"
        );
        let epoch = LineTimes::parse(Some("ts=%s"), None).unwrap();
        assert_eq!(
            epoch.find(b"a ts=1764644645 b", now).unwrap().to_string(),
            "2025-12-02T03:04:05Z"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(LineTimes::parse(Some("sometimes"), None).is_err());
        assert!(LineTimes::parse(Some("%H:%M:%S"), None).is_err(), "no date");
        assert!(LineTimes::parse(None, Some("Mars/Olympus")).is_err());
        assert!(LineTimes::parse(None, Some("+01:00")).is_ok());
        assert!(LineTimes::parse(Some("arrival"), Some("UTC")).is_ok());
    }

    fn clock() -> LineClock {
        LineClock::new(auto("UTC"))
    }

    fn lines(block: &[u8]) -> Vec<&[u8]> {
        block
            .strip_suffix(b"\n")
            .unwrap()
            .split(|&b| b == b'\n')
            .collect()
    }

    #[test]
    fn a_line_without_a_timestamp_takes_the_last_one_before_it() {
        let arrival = at(NOW);
        let block: &[u8] =
            b"2026-12-02 03:00:00 ERROR boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\n";
        let [_, first, second] = lines(block)[..] else {
            unreachable!()
        };
        let mut c = clock();
        // Only the trace's lines match: the ERROR line is looked at.
        assert_eq!(
            c.time_of(block, first, arrival).to_string(),
            "2026-12-02T03:00:00Z"
        );
        assert_eq!(
            c.time_of(block, second, arrival).to_string(),
            "2026-12-02T03:00:00Z"
        );
        assert_eq!(c.untimed(), 2);
        c.end_block(block, arrival);
        // The next block begins with more of the trace.
        let next: &[u8] = b"\tat g.h(I.java:3)\n";
        assert_eq!(
            c.time_of(next, lines(next)[0], arrival).to_string(),
            "2026-12-02T03:00:00Z"
        );
        // A line seen in an earlier block carries over through end_block.
        let mut c = clock();
        let first_block: &[u8] = b"x\n2026-12-02 04:00:00 start\n";
        c.end_block(first_block, arrival);
        assert_eq!(
            c.time_of(next, lines(next)[0], arrival).to_string(),
            "2026-12-02T04:00:00Z"
        );
    }

    #[test]
    fn without_any_timestamp_a_line_is_taken_at_its_arrival() {
        let arrival = at(NOW);
        let block: &[u8] = b"a\nb\nc\nd\n";
        let mut c = clock();
        // Only c and d match: a and b are looked at once, c and d are.
        for line in &lines(block)[2..] {
            assert_eq!(c.time_of(block, line, arrival), arrival);
        }
        assert!(c.none_seen, "looking back is given up");
        assert_eq!(c.untimed(), 2);
        let block: &[u8] = b"d\n2026-12-02 03:00:00 x\ne\n";
        let ls = lines(block);
        assert_eq!(
            c.time_of(block, ls[1], arrival).to_string(),
            "2026-12-02T03:00:00Z"
        );
        assert_eq!(
            c.time_of(block, ls[2], arrival).to_string(),
            "2026-12-02T03:00:00Z"
        );
    }

    #[test]
    fn a_timestamp_ahead_of_the_clock_is_taken_at_arrival() {
        let arrival = at(NOW);
        let block: &[u8] = b"2026-12-02T13:00:00Z x\n";
        let mut c = clock();
        assert_eq!(c.time_of(block, lines(block)[0], arrival), arrival);
        assert!(c.ahead_warned);
    }

    #[test]
    fn arrival_ignores_what_lines_carry() {
        let arrival = at(NOW);
        let mut c = LineClock::new(LineTimes::parse(Some("arrival"), None).unwrap());
        let block: &[u8] = b"2026-12-02T03:00:00Z x\n";
        assert_eq!(c.time_of(block, lines(block)[0], arrival), arrival);
        assert_eq!(c.untimed(), 0);
    }

    #[test]
    fn times_print_as_rfc3339_utc() {
        assert_eq!(
            at("2026-12-02T03:04:05.120Z").to_string(),
            "2026-12-02T03:04:05.12Z"
        );
    }
}
