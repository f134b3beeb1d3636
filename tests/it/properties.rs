//! Properties of the two pure pieces the daemon's correctness rests on,
//! checked on generated input (proptest):
//!
//! - `LineBuffer`: however a byte stream is cut into reads, the same lines
//!   come out, each over-long line cut to `MAX_LINE` bytes, and every block
//!   handed out is a run of whole lines ending in `\n`;
//! - `Matcher::for_each_match` on a block finds exactly the lines that
//!   `Matcher::matches` accepts one by one;
//! - a replay (`--once --dry-run`) of a log triggers exactly what the gate
//!   fed the same lines at their own timestamps does (SPEC §11): the
//!   binary against the gate under a clock the test controls.
//!
//! The same checks, driven by a coverage-guided fuzzer instead, are in
//! `fuzz/` (see `fuzz/README.md`).

use std::time::{Duration, SystemTime};

use logs2eca::input::file::lines::{LineBuffer, MAX_LINE};
use logs2eca::react::gate::{Gate, QUEUE_BOUND, Settings, Threshold, Verdict};
use logs2eca::react::linetime::Time;
use logs2eca::react::pattern::{Matcher, Pattern, Syntax, strip_cr};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Lines.

/// What a reader of the whole stream at once expects: the lines between
/// `\n`s, each cut to `MAX_LINE` bytes; the bytes after the last `\n` are a
/// line only once the stream is finished.
fn reference_lines(stream: &[u8], finish: bool) -> Vec<Vec<u8>> {
    let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let last = pieces.pop().unwrap_or_default();
    if finish && !last.is_empty() {
        pieces.push(last);
    }
    pieces
        .into_iter()
        .map(|line| line[..line.len().min(MAX_LINE)].to_vec())
        .collect()
}

/// Feeds `stream` to a `LineBuffer` cut at `cuts` (offsets, any order) and
/// returns the lines handed out, checking the shape of every block.
fn lines_via_buffer(stream: &[u8], cuts: &[usize], finish: bool) -> Vec<Vec<u8>> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    bounds.push(0);
    bounds.push(stream.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut lines = Vec::new();
    let mut on_block = |block: &[u8]| {
        assert!(!block.is_empty(), "an empty block was handed out");
        assert_eq!(block.last(), Some(&b'\n'), "a block does not end in \\n");
        lines.extend(
            block[..block.len() - 1]
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec),
        );
    };
    let mut buffer = LineBuffer::new();
    for pair in bounds.windows(2) {
        buffer.push(&stream[pair[0]..pair[1]], &mut on_block);
        assert!(buffer.held() <= MAX_LINE, "held {} bytes", buffer.held());
    }
    if finish {
        buffer.finish(&mut on_block);
        assert_eq!(buffer.held(), 0);
    }
    lines
}

/// Compares two line lists and says where they first differ, without
/// printing megabytes.
fn same_lines(got: &[Vec<u8>], want: &[Vec<u8>]) -> Result<(), TestCaseError> {
    if got == want {
        return Ok(());
    }
    let show = |l: Option<&Vec<u8>>| {
        l.map(|l| {
            format!(
                "{} bytes: {:?}",
                l.len(),
                String::from_utf8_lossy(&l[..l.len().min(40)])
            )
        })
    };
    let i = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    Err(TestCaseError::fail(format!(
        "{} lines, expected {}; first difference at line {i}: got {:?}, expected {:?}",
        got.len(),
        want.len(),
        show(got.get(i)),
        show(want.get(i)),
    )))
}

/// One line of a generated stream: mostly short, from a small alphabet
/// (so that `\r`, empty lines and repeats are common), sometimes around or
/// beyond `MAX_LINE`. Long lines are described by their length, so that a
/// failing case prints in a few lines.
#[derive(Debug, Clone)]
enum LineSpec {
    Short(String),
    Long { byte: char, len: usize },
}

fn line_strategy() -> impl Strategy<Value = LineSpec> {
    prop_oneof![
        20 => "[ab \r\t\u{ff}0]{0,40}".prop_map(LineSpec::Short),
        1 => (MAX_LINE - 3..MAX_LINE + 4).prop_map(|len| LineSpec::Long { byte: 'L', len }),
        1 => (MAX_LINE + 4..2 * MAX_LINE + 300_000)
            .prop_map(|len| LineSpec::Long { byte: 'M', len }),
    ]
}

/// Lines joined by `\n`, maybe without a final `\n`.
fn stream_strategy() -> impl Strategy<Value = (Vec<LineSpec>, bool)> {
    (
        proptest::collection::vec(line_strategy(), 0..12),
        any::<bool>(),
    )
}

fn build_stream((lines, trailing_newline): &(Vec<LineSpec>, bool)) -> Vec<u8> {
    let mut stream = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            stream.push(b'\n');
        }
        match line {
            // `\u{ff}` stands for the byte 0xff: not UTF-8.
            LineSpec::Short(text) => stream.extend(
                text.chars()
                    .map(|c| if c == '\u{ff}' { 0xff } else { c as u8 }),
            ),
            LineSpec::Long { byte, len } => stream.extend(std::iter::repeat_n(*byte as u8, *len)),
        }
    }
    if *trailing_newline && !lines.is_empty() {
        stream.push(b'\n');
    }
    stream
}

/// Cut points: offsets in the stream, some of them close together (reads of
/// one byte) and some anywhere.
fn cuts_strategy() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![0..64usize, 0..4 * MAX_LINE, MAX_LINE - 8..MAX_LINE + 8],
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        .. ProptestConfig::default()
    })]

    /// Any cutting of the stream into reads gives the lines of the stream
    /// read at once (each cut to `MAX_LINE`), with and without `finish`.
    #[test]
    fn any_chunking_yields_the_same_lines(
        spec in stream_strategy(),
        cuts in cuts_strategy(),
        finish in any::<bool>(),
    ) {
        let stream = build_stream(&spec);
        let got = lines_via_buffer(&stream, &cuts, finish);
        same_lines(&got, &reference_lines(&stream, finish))?;
    }

    /// Byte-at-a-time and all-at-once agree on short streams.
    #[test]
    fn one_byte_reads_match_one_big_read(
        stream in "[x\n\r]{0,300}",
    ) {
        let stream = stream.into_bytes();
        let every_byte: Vec<usize> = (0..stream.len()).collect();
        let got = lines_via_buffer(&stream, &every_byte, true);
        same_lines(&got, &lines_via_buffer(&stream, &[], true))?;
        same_lines(&got, &reference_lines(&stream, true))?;
    }
}

// ---------------------------------------------------------------------------
// Block matching.

/// Patterns as a user writes them, chosen to exercise what differs between
/// searching a block and searching one line: anchors, matches that can run
/// over a `\n` if a class could take it, empty matches, `\r`, case, bytes that are not UTF-8.
const PATTERNS: &[&str] = &[
    "ab",
    "a",
    "/a+b/",
    "/^a/",
    "/b$/",
    "/^$/",
    "/^a*$/",
    "/a\\s+b/",
    "/a[^x]*b/",
    "/b.*a/",
    "/(?s)a.b/",
    "/x*/",
    "/\\bab\\b/",
    "/\\Ba/",
    "/a\\r?$/",
    "/\\r/",
    "/a\\W*b/",
    "/(?s)a.*b/",
    "/(?-u:\\xff)/",
    "/^\\s*$/",
    "/(?P<n>[0-9]+)$/",
    "/\\Aa/",
    "/b\\z/",
    "/(?-m)^a/",
    "/(?-R)a$/",
    "%a|b%",
    "|a b|",
];

const EXCLUDES: &[Option<&str>] = &[None, None, Some("b"), Some("/^ /"), Some("/a$/")];

fn matcher(pattern: &str, exclude: Option<&str>, ignore_case: bool) -> Matcher {
    let syntax = Syntax {
        literal: false,
        ignore_case,
    };
    Matcher {
        pattern: Pattern::new(pattern, syntax).expect("pattern of the fixed list"),
        exclude: exclude.map(|x| Pattern::new(x, syntax).expect("exclude of the fixed list")),
    }
}

/// The lines of a block (each will end in `\n`), from a small alphabet;
/// `\u{ff}` stands for the byte 0xff.
fn block_strategy() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[aAbx \r\t0\u{ff}]{0,10}", 0..10)
}

fn build_block(lines: &[String]) -> Vec<u8> {
    let mut block = Vec::new();
    for line in lines {
        block.extend(
            line.chars()
                .map(|c| if c == '\u{ff}' { 0xff } else { c as u8 }),
        );
        block.push(b'\n');
    }
    block
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        .. ProptestConfig::default()
    })]

    /// The block search reports exactly the lines (without `\n` and a
    /// trailing `\r`) that `matches` accepts one at a time, in order.
    #[test]
    fn block_search_finds_exactly_the_matching_lines(
        pattern in prop::sample::select(PATTERNS),
        exclude in prop::sample::select(EXCLUDES),
        ignore_case in any::<bool>(),
        lines in block_strategy(),
    ) {
        let block = build_block(&lines);
        let m = matcher(pattern, exclude, ignore_case);
        let mut found: Vec<Vec<u8>> = Vec::new();
        m.for_each_match(&block, |line| found.push(line.to_vec()));
        let expected: Vec<Vec<u8>> = block
            .split_inclusive(|&b| b == b'\n')
            .map(|line| strip_cr(&line[..line.len() - 1]))
            .filter(|line| m.matches(line))
            .map(<[u8]>::to_vec)
            .collect();
        prop_assert_eq!(
            &found,
            &expected,
            "pattern {} exclude {:?} ignore_case {} on block {:?}",
            pattern,
            exclude,
            ignore_case,
            String::from_utf8_lossy(&block)
        );
    }
}

// ---------------------------------------------------------------------------
// A replay equals the gate fed the lines at their timestamps.

/// One line of a generated log.
#[derive(Debug, Clone)]
struct Entry {
    /// Seconds after the previous line's second.
    gap: u64,
    /// Milliseconds into its second: lines within a second come in any
    /// order.
    millis: u64,
    key: u8,
    /// How its time is written; `STAMPLESS` writes none (a stack trace's
    /// line, which takes the time of the last line that had one).
    format: u8,
    /// A line that does not match (its timestamp still counts for the
    /// stampless lines after it).
    noise: bool,
}

const STAMPLESS: u8 = 6;

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (
        prop_oneof![Just(0u64), 0..3u64, 0..120u64, 0..7200u64],
        0..1000u64,
        0..4u8,
        0..=STAMPLESS,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(gap, millis, key, format, noise)| Entry {
            gap,
            millis,
            key,
            format,
            noise,
        })
}

/// The log's start: 200 days ago, so that syslog's year (the most recent
/// such date) is known.
fn log_start() -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now - 200 * 86_400
}

/// The line of `entry` at `ms` since 1970 (UTC), and the time it carries
/// as the reader must see it (to the second where the format has no
/// fraction); `None` for a line without a timestamp.
fn write_line(entry: &Entry, id: usize, ms: u64) -> (String, Option<u64>) {
    let ts = jiff::Timestamp::from_millisecond(ms as i64).unwrap();
    let utc = ts.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let plus2 = ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(2)));
    let what = if entry.noise {
        format!("INFO key=k{} all good", entry.key)
    } else {
        format!("FAIL key=k{} id={id}", entry.key)
    };
    let whole = ms / 1000 * 1000;
    let (stamp, carried) = match entry.format {
        0 => (utc.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), ms),
        1 => (utc.strftime("%Y-%m-%d %H:%M:%S,%3f").to_string(), ms),
        2 => (plus2.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(), ms),
        3 => (utc.strftime("%b %e %H:%M:%S host app:").to_string(), whole),
        4 => (
            utc.strftime("10.0.0.1 - - [%d/%b/%Y:%H:%M:%S +0000]")
                .to_string(),
            whole,
        ),
        5 => (format!("{}.{:03}", ms / 1000, ms % 1000), ms),
        _ => return (format!("\tat {what}"), None),
    };
    (format!("{stamp} {what}"), Some(carried))
}

/// What the rule triggers: the gate fed each matching line at its time,
/// each would-be run taking no time. Returns the ids of the triggers.
fn oracle(entries: &[(Entry, u64)], settings: Settings) -> Vec<usize> {
    let mut gate: Gate<()> = Gate::new(settings);
    let mut triggers = Vec::new();
    for (id, (entry, ms)) in entries.iter().enumerate() {
        if entry.noise {
            continue;
        }
        let at = Time::from_system(SystemTime::UNIX_EPOCH + Duration::from_millis(*ms));
        let key = format!("k{}", entry.key);
        if let Verdict::Run(start) = gate.on_match(key.as_bytes(), at, || ()) {
            triggers.push(id);
            gate.finished(start.key, at);
        }
    }
    triggers
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        .. ProptestConfig::default()
    })]

    /// The binary's replay of a generated log (timestamps in six formats,
    /// lines without one, keys, gaps from none to hours, lines out of order
    /// within a second) triggers on the same lines as the gate fed those
    /// lines at their timestamps.
    #[test]
    fn a_replay_triggers_what_the_gate_does_at_the_lines_times(
        entries in proptest::collection::vec(entry_strategy(), 1..60),
        count in 1..4u32,
        window in 1..3600u64,
        wait in prop_oneof![Just(0u64), 1..3600u64],
    ) {
        let mut second = log_start() * 1000;
        let mut last_stamp = None;
        let mut log = String::new();
        let mut timed = Vec::new();
        for (id, entry) in entries.iter().enumerate() {
            let mut entry = entry.clone();
            if id == 0 {
                // The first line has a time: the others never fall back
                // to their arrival.
                entry.format %= STAMPLESS;
            }
            second += entry.gap * 1000;
            let (line, carried) = write_line(&entry, id, second + entry.millis);
            log.push_str(&line);
            log.push('\n');
            last_stamp = carried.or(last_stamp);
            timed.push((entry, last_stamp.unwrap()));
        }
        let settings = Settings {
            wait: Duration::from_secs(wait),
            threshold: Threshold { count, window: Duration::from_secs(window) },
            max_keys: 10_000,
            max_running: 1,
            queue_bound: QUEUE_BOUND,
        };
        let expected = oracle(&timed, settings);

        let sandbox = crate::common::Sandbox::new();
        sandbox.write(crate::common::LOG, &log);
        let threshold = format!("{count}/{window}s");
        let wait = wait.to_string();
        let outcome = crate::common::run(
            &sandbox,
            &[
                "--once", "-n", "-l", crate::common::LOG,
                "-p", r"/FAIL key=(?P<k>\w+) id=(?P<id>\d+)/",
                "--key", "k", "--threshold", &threshold, "-w", &wait,
                "--time-zone", "UTC",
            ],
            &[],
        );
        prop_assert_eq!(outcome.status.code(), Some(0), "{}", outcome.stderr);
        let found: Vec<usize> = outcome
            .stdout_text()
            .lines()
            .map(|line| line.rsplit_once("id=").unwrap().1.parse().unwrap())
            .collect();
        prop_assert_eq!(found, expected, "log:\n{}", log);
    }
}
