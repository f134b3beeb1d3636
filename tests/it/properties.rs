//! Properties of the two pure pieces the daemon's correctness rests on,
//! checked on generated input (proptest):
//!
//! - `LineBuffer`: however a byte stream is cut into reads, the same lines
//!   come out, each over-long line cut to `MAX_LINE` bytes, and every block
//!   handed out is a run of whole lines ending in `\n`;
//! - `Matcher::for_each_match` on a block finds exactly the lines that
//!   `Matcher::matches` accepts one by one.
//!
//! The same checks, driven by a coverage-guided fuzzer instead, are in
//! `fuzz/` (see `fuzz/README.md`).

use logs2eca::input::file::lines::{LineBuffer, MAX_LINE};
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
