//! The condition: which lines trigger.
//!
//! A pattern is a literal substring unless it is written `/re/`, `|re|` or
//! `%re%`. Both kinds compile to one `regex::bytes::Regex` (a literal is
//! escaped), so matching works on bytes (a line that is not UTF-8 still
//! matches) and the regex engine's literal prefilters do the heavy lifting.
//!
//! Speed comes from searching a whole block of lines at once, the way grep
//! and ripgrep do, instead of running the regex once per line: the search
//! finds a candidate, the line around it is checked, and the search resumes
//! at the next line. Lines without a match cost nothing but the prefilter.

use regex::bytes::{CaptureLocations, Regex, RegexBuilder};

use crate::error::{Error, Result};

/// How a pattern string is to be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Syntax {
    /// Take the text literally even if it looks like `/re/`.
    pub literal: bool,
    pub ignore_case: bool,
}

/// One compiled pattern, literal or regex.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
    /// The expression uses `\A` or `\z`, which anchor at the start and end
    /// of the searched text: it has to be run on each line on its own.
    per_line: bool,
}

const DELIMITERS: [char; 3] = ['/', '|', '%'];

impl Pattern {
    pub fn new(source: &str, syntax: Syntax) -> Result<Self> {
        if source.is_empty() {
            return Err(Error::usage("empty pattern"));
        }
        let expression = match regex_body(source) {
            Some(_) if syntax.literal => regex::escape(source),
            Some("") => {
                return Err(Error::usage(format!(
                    "empty regex '{}': it would match every line",
                    printable(source)
                )));
            }
            Some(body) => body.to_owned(),
            None => regex::escape(source),
        };
        let regex = RegexBuilder::new(&expression)
            .case_insensitive(syntax.ignore_case)
            // `^` and `$` anchor at line boundaries inside a block, and a
            // `\r` before the `\n` is not part of the line.
            .multi_line(true)
            .crlf(true)
            .build()
            .map_err(|err| {
                let reason = err.to_string().replace('\n', " ");
                let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
                Error::usage(format!("invalid regex '{}': {reason}", printable(source)))
            })?;
        Ok(Pattern {
            source: source.to_owned(),
            per_line: anchors_to_input(&expression, syntax),
            regex,
        })
    }

    /// The pattern as the user wrote it, for logs.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, line: &[u8]) -> bool {
        self.regex.is_match(line)
    }

    /// The capture groups of the first match in `line` that took part, as
    /// (name, value) pairs: `0` for the whole match, then each group by
    /// number and, if it has one, by name.
    pub fn captures<'l>(&self, line: &'l [u8]) -> Vec<(String, &'l [u8])> {
        let Some(caps) = self.regex.captures(line) else {
            return Vec::new();
        };
        let mut groups = Vec::new();
        for (index, name) in self.regex.capture_names().enumerate() {
            if let Some(m) = caps.get(index) {
                groups.push((index.to_string(), m.as_bytes()));
                if let Some(name) = name {
                    groups.push((name.to_owned(), m.as_bytes()));
                }
            }
        }
        groups
    }

    /// The index of capture group `group`, given by name or number, if the
    /// pattern has one: what `--key` refers to.
    pub fn group_index(&self, group: &str) -> Option<usize> {
        match group.parse::<usize>() {
            Ok(index) => (index < self.regex.captures_len()).then_some(index),
            Err(_) => self
                .regex
                .capture_names()
                .position(|name| name == Some(group)),
        }
    }

    /// Appends to `out` the values of the groups `indices` in the first
    /// match in `line`, separated by `separator`. A group that did not take
    /// part adds an empty value.
    ///
    /// `locations` (from `capture_locations`) is scratch space, reused so
    /// that a match costs no allocation.
    pub fn group_values(
        &self,
        line: &[u8],
        indices: &[usize],
        separator: u8,
        locations: &mut CaptureLocations,
        out: &mut Vec<u8>,
    ) {
        let found = self.regex.captures_read(locations, line).is_some();
        for (n, &index) in indices.iter().enumerate() {
            if n > 0 {
                out.push(separator);
            }
            if found && let Some((start, end)) = locations.get(index) {
                out.extend_from_slice(&line[start..end]);
            }
        }
    }

    pub fn capture_locations(&self) -> CaptureLocations {
        self.regex.capture_locations()
    }
}

/// The pattern as it can be quoted on one line of an error message.
fn printable(source: &str) -> String {
    source
        .chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// Does the expression anchor at the edges of the whole input (`\A`, `\z`)?
/// In a block of lines those are the block's edges, not each line's.
fn anchors_to_input(expression: &str, syntax: Syntax) -> bool {
    use regex_syntax::hir::Look;
    regex_syntax::ParserBuilder::new()
        .case_insensitive(syntax.ignore_case)
        .multi_line(true)
        .crlf(true)
        .build()
        .parse(expression)
        .map(|hir| {
            let looks = hir.properties().look_set();
            // \A and \z, and `^`/`$` with CRLF mode turned off inline.
            [Look::Start, Look::End, Look::StartLF, Look::EndLF]
                .into_iter()
                .any(|look| looks.contains(look))
        })
        .unwrap_or(true)
}

/// The inner text if `source` is written as a delimited regex.
fn regex_body(source: &str) -> Option<&str> {
    let first = source.chars().next()?;
    if source.len() >= 2 && DELIMITERS.contains(&first) && source.ends_with(first) {
        Some(&source[1..source.len() - 1])
    } else {
        None
    }
}

/// The whole condition: the pattern, minus the lines the exclude matches.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub pattern: Pattern,
    pub exclude: Option<Pattern>,
}

impl Matcher {
    /// Does this single line (no `\n`, no trailing `\r`) trigger?
    pub fn matches(&self, line: &[u8]) -> bool {
        self.pattern.is_match(line) && !self.is_excluded(line)
    }

    fn is_excluded(&self, line: &[u8]) -> bool {
        self.exclude.as_ref().is_some_and(|x| x.is_match(line))
    }

    /// Calls `on_match` with each line of `block` that triggers, in order.
    ///
    /// `block` holds whole lines, each ended by `\n`. The lines handed out
    /// carry neither the `\n` nor a trailing `\r`.
    pub fn for_each_match(&self, block: &[u8], mut on_match: impl FnMut(&[u8])) {
        if self.pattern.per_line {
            let lines = block
                .strip_suffix(b"\n")
                .unwrap_or(block)
                .split(|&b| b == b'\n');
            lines
                .map(strip_cr)
                .filter(|line| self.matches(line))
                .for_each(on_match);
            return;
        }
        let mut at = 0;
        while at < block.len() {
            let Some(found) = self.pattern.regex.find_at(block, at) else {
                return;
            };
            let start = found.start();
            if start >= block.len() {
                return;
            }
            let line_start = memchr::memrchr(b'\n', &block[..start]).map_or(0, |i| i + 1);
            let line_end =
                memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let line = strip_cr(&block[line_start..line_end]);
            // A match that stays inside the line needs no second look; one
            // that ran across a `\n` (say `\s+`) is only a candidate.
            let confirmed = found.end() <= line_start + line.len() || self.pattern.is_match(line);
            if confirmed && !self.is_excluded(line) {
                on_match(line);
            }
            at = line_end + 1;
        }
    }
}

pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(pattern: &str, exclude: Option<&str>, syntax: Syntax) -> Matcher {
        Matcher {
            pattern: Pattern::new(pattern, syntax).unwrap(),
            exclude: exclude.map(|x| Pattern::new(x, syntax).unwrap()),
        }
    }

    fn matching_lines(m: &Matcher, block: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        m.for_each_match(block, |line| out.push(line.to_vec()));
        out
    }

    const PLAIN: Syntax = Syntax {
        literal: false,
        ignore_case: false,
    };
    const LITERAL: Syntax = Syntax {
        literal: true,
        ignore_case: false,
    };
    const NOCASE: Syntax = Syntax {
        literal: false,
        ignore_case: true,
    };

    #[test]
    fn single_lines() {
        type Case<'a> = (&'a str, Option<&'a str>, Syntax, &'a [u8], bool);
        // (pattern, exclude, syntax, line, triggers)
        let cases: &[Case] = &[
            ("ERROR", None, PLAIN, b"x ERROR y", true),
            ("ERROR", None, PLAIN, b"x error y", false),
            ("ERROR", None, NOCASE, b"x error y", true),
            ("a.c", None, PLAIN, b"abc", false),
            ("a.c", None, PLAIN, b"a.c", true),
            ("/a.c/", None, PLAIN, b"abc", true),
            ("|a.c|", None, PLAIN, b"abc", true),
            ("%a.c%", None, PLAIN, b"abc", true),
            ("/a.c|", None, PLAIN, b"/abc|", false),
            ("/a.c|", None, PLAIN, b"x/a.c|x", true),
            ("/a.c/", None, LITERAL, b"abc", false),
            ("/a.c/", None, LITERAL, b"see /a.c/ here", true),
            ("/", None, PLAIN, b"a/b", true),
            ("%", None, PLAIN, b"100%", true),
            ("/^ERROR$/", None, PLAIN, b"ERROR", true),
            ("/^ERROR$/", None, PLAIN, b"ERROR!", false),
            ("/error/", None, NOCASE, b"ERROR", true),
            ("ERROR", Some("ignored"), PLAIN, b"ERROR ignored", false),
            ("ERROR", Some("/IGN.RED/"), NOCASE, b"error ignored", false),
            ("ERROR", Some("ignored"), PLAIN, b"ERROR kept", true),
            ("ERROR", None, PLAIN, b"\xff\xfe ERROR \xc3", true),
            ("/caf\u{e9}/", None, NOCASE, "CAF\u{c9}".as_bytes(), true),
        ];
        for &(pattern, exclude, syntax, line, expected) in cases {
            let m = matcher(pattern, exclude, syntax);
            assert_eq!(
                m.matches(line),
                expected,
                "{pattern} / {exclude:?} on {:?}",
                String::from_utf8_lossy(line)
            );
            let mut block = line.to_vec();
            block.push(b'\n');
            let found = matching_lines(&m, &block);
            assert_eq!(found.len(), expected as usize, "block search for {pattern}");
        }
    }

    #[test]
    fn blocks_yield_each_matching_line_once_without_cr() {
        let m = matcher("/ERROR \\d+$/", None, PLAIN);
        let block = b"ok\nERROR 1\r\nERROR 2 no\nERROR 3\nERROR 4\n";
        assert_eq!(
            matching_lines(&m, block),
            vec![
                b"ERROR 1".to_vec(),
                b"ERROR 3".to_vec(),
                b"ERROR 4".to_vec()
            ]
        );
    }

    #[test]
    fn a_match_across_lines_is_only_a_candidate() {
        // `\s+` can run over the `\n` in a block: the lines around it must be
        // checked on their own, and the line after the candidate still found.
        let m = matcher("/a\\s+b/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\nb\n"), Vec::<Vec<u8>>::new());
        assert_eq!(matching_lines(&m, b"xa\nya  b\n"), vec![b"ya  b".to_vec()]);
        let m = matcher("/a[^z]*b/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\nxab\n"), vec![b"xab".to_vec()]);
    }

    #[test]
    fn input_anchors_apply_to_each_line() {
        let m = matcher("/\\Aa/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"\na\nba\n"), vec![b"a".to_vec()]);
        let m = matcher("/b\\z/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"ab\r\nb c\n"), vec![b"ab".to_vec()]);
    }

    #[test]
    fn empty_matches_and_anchors() {
        let m = matcher("/x*/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\n\nb\n").len(), 3);
        let m = matcher("/^$/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\n\r\nb\n"), vec![b"".to_vec()]);
    }

    #[test]
    fn bad_patterns_are_usage_errors_that_quote_the_pattern() {
        for (source, fragment) in [
            ("", "empty pattern"),
            ("//", "'//'"),
            ("||", "'||'"),
            ("/(unclosed/", "'/(unclosed/'"),
            ("/a\n(/", "'/a\\n(/'"),
        ] {
            let err = Pattern::new(source, PLAIN).unwrap_err();
            assert_eq!(err.status, crate::error::ExitStatus::Usage);
            assert!(err.message.contains(fragment), "{}", err.message);
            assert!(!err.message.contains('\n'), "{}", err.message);
        }
        // Literal mode takes `//` as text.
        assert!(Pattern::new("//", LITERAL).is_ok());
    }

    #[test]
    fn captures_by_number_and_name() {
        let p = Pattern::new("/user=(?P<user>\\w+)( code=(\\d+))?/", PLAIN).unwrap();
        let groups = p.captures(b"login user=bob failed");
        let names: Vec<&str> = groups.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["0", "1", "user"]);
        assert_eq!(groups[2].1, b"bob");
    }
}
