//! The condition: which lines trigger.
//!
//! A pattern is a literal substring unless it is written `/re/`, `|re|` or
//! `%re%`. Both kinds compile to one `regex::bytes::Regex` (a literal is
//! escaped), so matching works on bytes (a line that is not UTF-8 still
//! matches) and the regex engine's literal prefilters do the heavy lifting.
//!
//! Speed comes from searching a whole block of lines at once, the way grep
//! and ripgrep do, instead of running the regex once per line: the search
//! finds a match, the line around it is taken, and the search resumes at
//! the next line. Lines without a match cost nothing but the prefilter.
//!
//! Log content is attacker-controlled, so the search must stay linear for
//! every pattern. As in ripgrep, the expression is rewritten so that it can
//! never match `\n` (classes such as `[^:]` or `\s` lose it, a `\n` written
//! out is refused): a match cannot span lines, and a search never runs on
//! across lines for a match that would have to be thrown away.

use regex::bytes::{CaptureLocations, Regex, RegexBuilder};
use regex_syntax::ast::{Ast, ClassSetItem};
use regex_syntax::hir::{
    Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look,
};

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
    /// Taken as a literal substring, not as a regex.
    literal: bool,
    /// The same expression for one line on its own (no `\n`, no trailing
    /// `\r`): `^` and `$` are the line's edges and nothing else. It decides;
    /// `regex`, which searches blocks, only finds the candidates.
    line_regex: Regex,
    /// The expression uses `\A` or `\z`, which anchor at the start and end
    /// of the searched text: it has to be run on each line on its own.
    per_line: bool,
    /// The expression uses `^` or `$`: a match found in a block is checked
    /// on its line alone.
    anchored: bool,
}

const DELIMITERS: [char; 3] = ['/', '|', '%'];

impl Pattern {
    pub fn new(source: &str, syntax: Syntax) -> Result<Self> {
        if source.is_empty() {
            return Err(Error::usage("empty pattern"));
        }
        let literal = syntax.literal || regex_body(source).is_none();
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
        let invalid = |reason: String| {
            let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
            Error::usage(format!("invalid regex '{}': {reason}", printable(source)))
        };
        let hir = line_bound_hir(&expression, syntax).map_err(|err| match err {
            HirError::Syntax(reason) => invalid(reason),
            HirError::NamesNewline => invalid(
                "it names \\n, but a match never spans lines (a line never contains \\n)".into(),
            ),
        })?;
        let per_line = anchors_to_input(&hir);
        let anchored = uses_line_anchors(&hir);
        // The rewritten expression, printed back: it has the case folding
        // and the line anchors built in, and no class in it matches `\n`.
        let regex = RegexBuilder::new(&hir.to_string())
            .build()
            .map_err(|err| invalid(err.to_string()))?;
        let line_regex = RegexBuilder::new(&at_line_edges(hir).to_string())
            .build()
            .map_err(|err| invalid(err.to_string()))?;
        if let Some(name) = regex
            .capture_names()
            .flatten()
            .find(|name| !is_env_name(name))
        {
            return Err(Error::usage(format!(
                "capture group name '{name}' in '{}' cannot be part of an environment variable name \
                 (letters, digits and _ only): use (?P<{}>...)",
                printable(source),
                env_name_like(name)
            )));
        }
        Ok(Pattern {
            source: source.to_owned(),
            literal,
            per_line,
            anchored,
            regex,
            line_regex,
        })
    }

    /// The pattern as the user wrote it, for logs.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Was the pattern taken as a literal substring?
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// Does `line` (one line: no `\n`, no trailing `\r`) match?
    pub fn is_match(&self, line: &[u8]) -> bool {
        self.line_regex.is_match(line)
    }

    /// The capture groups of the first match in `line` that took part, as
    /// (name, value) pairs: `0` for the whole match, then each group by
    /// number and, if it has one, by name.
    pub fn captures<'l>(&self, line: &'l [u8]) -> Vec<(String, &'l [u8])> {
        let Some(caps) = self.line_regex.captures(line) else {
            return Vec::new();
        };
        let mut groups = Vec::new();
        for (index, name) in self.line_regex.capture_names().enumerate() {
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
            Ok(index) => (index < self.line_regex.captures_len()).then_some(index),
            Err(_) => self
                .line_regex
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
        let found = self.line_regex.captures_read(locations, line).is_some();
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
        self.line_regex.capture_locations()
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
fn anchors_to_input(hir: &Hir) -> bool {
    let looks = hir.properties().look_set();
    // \A and \z, and `^`/`$` with CRLF mode turned off inline.
    [Look::Start, Look::End, Look::StartLF, Look::EndLF]
        .into_iter()
        .any(|look| looks.contains(look))
}

/// Does the expression use `^` or `$` in multi-line mode?
fn uses_line_anchors(hir: &Hir) -> bool {
    let looks = hir.properties().look_set();
    [Look::StartCRLF, Look::EndCRLF, Look::StartLF, Look::EndLF]
        .into_iter()
        .any(|look| looks.contains(look))
}

/// `hir` for one line on its own: every `^` and `$` (whatever the flags
/// inside the expression said) becomes the start and end of the text,
/// which is the line. An inner `\r` is then a byte like any other, as in
/// grep: it does not begin a line an attacker could anchor a pattern to.
fn at_line_edges(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(Look::StartLF | Look::StartCRLF) => Hir::look(Look::Start),
        HirKind::Look(Look::EndLF | Look::EndCRLF) => Hir::look(Look::End),
        HirKind::Look(look) => Hir::look(look),
        HirKind::Repetition(mut rep) => {
            rep.sub = Box::new(at_line_edges(*rep.sub));
            Hir::repetition(rep)
        }
        HirKind::Capture(mut cap) => {
            cap.sub = Box::new(at_line_edges(*cap.sub));
            Hir::capture(cap)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(at_line_edges).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(at_line_edges).collect())
        }
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Empty => Hir::empty(),
    }
}

/// Why an expression cannot be made line-bound.
enum HirError {
    /// The parser's message.
    Syntax(String),
    /// The expression spells out a `\n`, which no line contains.
    NamesNewline,
}

/// Parses `expression` into a form that can never match a `\n` (ripgrep's
/// rule): every class loses `\n`, and a `\n` written out is refused. A
/// match then always stays inside one line, so searching a block of lines
/// finds the same lines as matching each on its own, in time linear in the
/// block: a search can no longer run across lines to find a match that
/// has to be thrown away.
fn line_bound_hir(expression: &str, syntax: Syntax) -> Result<Hir, HirError> {
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(expression)
        .map_err(|err| HirError::Syntax(regex_syntax::Error::from(err).to_string()))?;
    if regex_syntax::ast::visit(&ast, NewlineFinder).is_err() {
        return Err(HirError::NamesNewline);
    }
    let hir = regex_syntax::hir::translate::TranslatorBuilder::new()
        .case_insensitive(syntax.ignore_case)
        // `^` and `$` anchor at line boundaries inside a block, and a
        // `\r` before the `\n` is not part of the line.
        .multi_line(true)
        .crlf(true)
        // Matching is on bytes: a line need not be UTF-8.
        .utf8(false)
        .build()
        .translate(expression, &ast)
        .map_err(|err| HirError::Syntax(regex_syntax::Error::from(err).to_string()))?;
    without_newline(hir)
}

/// Finds a `\n` written out in the expression, in a class too (`[^\n]`).
struct NewlineFinder;

impl regex_syntax::ast::Visitor for NewlineFinder {
    type Output = ();
    type Err = ();

    fn finish(self) -> Result<(), ()> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), ()> {
        match ast {
            Ast::Literal(lit) if lit.c == '\n' => Err(()),
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
        match item {
            ClassSetItem::Literal(lit) if lit.c == '\n' => Err(()),
            ClassSetItem::Range(range) if range.start.c == '\n' || range.end.c == '\n' => Err(()),
            _ => Ok(()),
        }
    }
}

/// `hir` with `\n` taken out of every class (`[^:]`, `\s`, `(?s:.)`, ...).
fn without_newline(hir: Hir) -> Result<Hir, HirError> {
    Ok(match hir.into_kind() {
        HirKind::Literal(lit) if lit.0.contains(&b'\n') => return Err(HirError::NamesNewline),
        HirKind::Class(Class::Unicode(mut class)) => {
            class.difference(&ClassUnicode::new([ClassUnicodeRange::new('\n', '\n')]));
            Hir::class(Class::Unicode(class))
        }
        HirKind::Class(Class::Bytes(mut class)) => {
            class.difference(&ClassBytes::new([ClassBytesRange::new(b'\n', b'\n')]));
            Hir::class(Class::Bytes(class))
        }
        HirKind::Repetition(mut rep) => {
            rep.sub = Box::new(without_newline(*rep.sub)?);
            Hir::repetition(rep)
        }
        HirKind::Capture(mut cap) => {
            cap.sub = Box::new(without_newline(*cap.sub)?);
            Hir::capture(cap)
        }
        HirKind::Concat(subs) => Hir::concat(
            subs.into_iter()
                .map(without_newline)
                .collect::<Result<_, _>>()?,
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.into_iter()
                .map(without_newline)
                .collect::<Result<_, _>>()?,
        ),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Empty => Hir::empty(),
        HirKind::Look(look) => Hir::look(look),
    })
}

/// Can `name` follow `LOGS2ECA_GROUP_` in a name every shell can read?
fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `name` with every character a shell cannot read replaced by `_`, for
/// the hint.
fn env_name_like(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
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
    ///
    /// Returns how many lines matched the pattern but were excluded.
    pub fn for_each_match(&self, block: &[u8], mut on_match: impl FnMut(&[u8])) -> u64 {
        let mut excluded = 0;
        if self.pattern.per_line {
            let lines = block
                .strip_suffix(b"\n")
                .unwrap_or(block)
                .split(|&b| b == b'\n');
            for line in lines
                .map(strip_cr)
                .filter(|line| self.pattern.is_match(line))
            {
                if self.is_excluded(line) {
                    excluded += 1;
                } else {
                    on_match(line);
                }
            }
            return excluded;
        }
        let mut at = 0;
        while at < block.len() {
            let Some(found) = self.pattern.regex.find_at(block, at) else {
                return excluded;
            };
            let start = found.start();
            if start >= block.len() {
                return excluded;
            }
            let line_start = memchr::memrchr(b'\n', &block[..start]).map_or(0, |i| i + 1);
            let line_end =
                memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let line = strip_cr(&block[line_start..line_end]);
            // No class matches `\n`, so the match is inside this line. In a
            // block `^` and `$` also hold around a `\r` (CRLF mode, so that
            // the trailing one is no part of the line): a match that uses
            // an anchor, or took the line's final `\r` (`a\s`), is only a
            // candidate, and the line decides on its own, where the
            // anchors are its edges and an inner `\r` is a plain byte.
            // Without an inner `\r` the anchors cannot have held anywhere
            // but at the line's edges: the block's match stands.
            let exact = !self.pattern.anchored || memchr::memchr(b'\r', line).is_none();
            let inside =
                (exact && found.end() <= line_start + line.len()) || self.pattern.is_match(line);
            if inside && self.is_excluded(line) {
                excluded += 1;
            } else if inside {
                on_match(line);
            }
            at = line_end + 1;
        }
        excluded
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
    fn an_inner_cr_is_no_line_edge() {
        let attack = b"app[1]: login failed for user alice\rFailed password for root from 10.6.6.6 port 22\n";
        for pattern in [
            "/^Failed password for \\S+ from (\\S+)/",
            "/alice$/",
            "/(?m)^Failed/",
            "/(?mR)^Failed/",
        ] {
            let m = matcher(pattern, None, PLAIN);
            assert!(matching_lines(&m, attack).is_empty(), "{pattern}");
            assert!(
                !m.matches(strip_cr(&attack[..attack.len() - 1])),
                "{pattern}"
            );
        }
        // The trailing `\r` is still no part of the line: `$` holds before it.
        let m = matcher("/^ERROR (\\d+)$/", None, PLAIN);
        assert_eq!(
            matching_lines(&m, b"x\rERROR 1\r\nERROR 2\r\n"),
            vec![b"ERROR 2".to_vec()]
        );
        assert_eq!(m.pattern.captures(b"ERROR 7")[1].1, b"7");
    }

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
    fn no_match_spans_lines() {
        // Classes lose `\n`: `\s+` or `[^z]*` cannot run over the end of a
        // line, and the line after a would-be match is still found.
        let m = matcher("/a\\s+b/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\nb\n"), Vec::<Vec<u8>>::new());
        assert_eq!(matching_lines(&m, b"xa\nya  b\n"), vec![b"ya  b".to_vec()]);
        let m = matcher("/a[^z]*b/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\nxab\n"), vec![b"xab".to_vec()]);
        // The compiled expression itself cannot match across a `\n`: this is
        // what keeps the block search linear.
        for (pattern, across) in [
            ("/ERROR [^:]*: fatal/", &b"ERROR x\ny: fatal"[..]),
            ("/a\\s*b/", b"a \n b"),
            ("/a\\W*b/", b"a\nb"),
            ("/a\\D*b/", b"a\nb"),
            ("/(?s)a.*b/", b"a\nb"),
            ("/a[^x]b/", b"a\nb"),
            ("/a[[:space:]]b/", b"a\nb"),
            ("/a\\pCb/", b"a\nb"),
            ("/(?-u:a[\\x00-\\xff]b)/", b"a\nb"),
        ] {
            for syntax in [PLAIN, NOCASE] {
                let p = Pattern::new(pattern, syntax).unwrap();
                assert!(!p.regex.is_match(across), "{pattern} matched across a line");
            }
        }
        // A class may still take a `\r` inside the line, but not the `\r`
        // that ends it.
        let m = matcher("/a\\s/", None, PLAIN);
        assert_eq!(matching_lines(&m, b"a\r\na\rb\n"), vec![b"a\rb".to_vec()]);
    }

    #[test]
    fn adversarial_blocks_give_the_lines_that_match() {
        // 3 x 30,000 short lines that each start a match the old search ran
        // across lines to finish; only the last line matches.
        let mut block = b"ERROR a\nb\nc d\n".repeat(30_000);
        block.extend_from_slice(b"ERROR x: fatal\n");
        let m = matcher("/ERROR [^:]*: fatal/", None, PLAIN);
        assert_eq!(matching_lines(&m, &block), vec![b"ERROR x: fatal".to_vec()]);
        let mut block = b"a \n \n".repeat(30_000);
        block.extend_from_slice(b"a  b\n");
        let m = matcher("/a\\s*b/", None, PLAIN);
        assert_eq!(matching_lines(&m, &block), vec![b"a  b".to_vec()]);
    }

    #[test]
    fn a_regex_that_names_a_newline_is_refused() {
        for source in [
            "/a\\nb/",
            "/a[\\n]b/",
            "/[^\\n]+/",
            "/a[^a\\n]b/",
            "/a\\x0Ab/",
            "/a\\x{A}b/",
            "/a\\u000Ab/",
            "/[\\n-\\r]/",
            "/(?s)a\\nb/",
            "/(?i)A\\n/",
            "a\nb",
        ] {
            let err = Pattern::new(source, PLAIN).unwrap_err();
            assert_eq!(err.status, crate::error::ExitStatus::Usage, "{source}");
            assert!(
                err.message.contains("names \\n"),
                "{source}: {}",
                err.message
            );
            assert!(!err.message.contains('\n'), "{}", err.message);
        }
        // `\r`, `\s` and ranges over `\n` are fine: they do not name it.
        for source in ["/a\\rb/", "/a\\s+b/", "/[\\x00-\\x7f]/", "a\\nb"] {
            assert!(Pattern::new(source, PLAIN).is_ok(), "{source}");
        }
    }

    #[test]
    fn group_names_must_be_environment_names() {
        for (source, hint) in [
            ("/(?P<a.b>x)/", "(?P<a_b>...)"),
            ("/(?P<a[0]>x)/", "(?P<a_0_>...)"),
            ("/(?<caf\u{e9}>x)/", "(?P<caf_>...)"),
        ] {
            let err = Pattern::new(source, PLAIN).unwrap_err();
            assert_eq!(err.status, crate::error::ExitStatus::Usage, "{source}");
            assert!(err.message.contains(hint), "{source}: {}", err.message);
        }
        assert!(Pattern::new("/(?P<user_1>x)(?<B>y)/", PLAIN).is_ok());
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
