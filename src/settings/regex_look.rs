//! Is a literal pattern really meant as a regex? People type into `-p`
//! what they type into grep: `ERROR|FATAL`, `(A|B)`, `ERROR [A-Z]+`,
//! `\[error\]`, `ERROR*`. Without delimiters those are literal text that
//! never occurs in a log, and nothing matches, silently.
//!
//! The literal is parsed as a regex (the `regex` crate's own parser), and
//! what the parse finds is weighed: syntax that only a regex writer types
//! (alternation between words, quantifiers, ranges, escaped metacharacters,
//! `\d`, anchors at the ends, groups with more than text in them) is named in
//! the warning; what ordinary log text contains (a `.` in an address,
//! `[error]`, `(null)`, a `?` at the end of a question) is not.

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassSet, ClassSetItem, GroupKind, LiteralKind,
    RepetitionKind,
};

/// The part of `text` (a literal pattern) that is regex syntax, if any.
pub fn regex_syntax_in(text: &str) -> Option<String> {
    let Ok(parsed) = ast::parse::Parser::new().parse(text) else {
        // Not a valid regex: no regex writer typed it.
        return None;
    };
    let mut found = None;
    visit(&parsed, text, &mut found);
    found
}

fn fragment(text: &str, span: &ast::Span) -> String {
    text.get(span.start.offset..span.end.offset)
        .unwrap_or_default()
        .to_owned()
}

fn visit(node: &Ast, text: &str, found: &mut Option<String>) {
    if found.is_some() {
        return;
    }
    match node {
        Ast::Alternation(alternation) => {
            // `ERROR|FATAL`: a `|` between two words. A `|` with space
            // around it (`a | b`, pipe-separated fields) is log text.
            let joins_words = alternation.asts.windows(2).any(|pair| {
                let before = text[..pair[0].span().end.offset].chars().next_back();
                let after = text[pair[1].span().start.offset..].chars().next();
                before.is_some_and(|c| !c.is_whitespace())
                    && after.is_some_and(|c| !c.is_whitespace())
            });
            if joins_words {
                *found = Some(format!(
                    "'{}' (alternation)",
                    fragment(text, &alternation.span)
                ));
                return;
            }
            alternation.asts.iter().for_each(|a| visit(a, text, found));
        }
        Ast::Concat(concat) => concat.asts.iter().for_each(|a| visit(a, text, found)),
        Ast::Repetition(repetition) => {
            // `?` after a plain character ends questions, not regexes.
            let optional_char = matches!(repetition.op.kind, RepetitionKind::ZeroOrOne)
                && matches!(*repetition.ast, Ast::Literal(_));
            // `C++`, `a**`: a quantifier on a quantifier is text that a
            // regex writer would not type.
            let doubled = matches!(*repetition.ast, Ast::Repetition(_));
            if doubled {
                return;
            }
            if optional_char {
                visit(&repetition.ast, text, found);
            } else {
                *found = Some(format!(
                    "'{}' (a repetition)",
                    fragment(text, &repetition.span)
                ));
            }
        }
        Ast::Group(group) => {
            let plain = matches!(group.kind, GroupKind::CaptureIndex(_));
            if plain {
                // `(null)`, `(pid 12)`: text in parentheses.
                visit(&group.ast, text, found);
                if found.is_some() {
                    *found = Some(format!("'{}' (a group)", fragment(text, &group.span)));
                }
            } else {
                *found = Some(format!("'{}' (a group)", fragment(text, &group.span)));
            }
        }
        Ast::ClassBracketed(class) => {
            // `[error]` is how many logs spell a level; `[A-Z]`, `[^:]`
            // and `[\d.]` are classes.
            if class.negated || deliberate(&class.kind) {
                *found = Some(format!(
                    "'{}' (a character class)",
                    fragment(text, &class.span)
                ));
            }
        }
        Ast::ClassPerl(class) => *found = Some(format!("'{}'", fragment(text, &class.span))),
        Ast::ClassUnicode(class) => *found = Some(format!("'{}'", fragment(text, &class.span))),
        Ast::Flags(flags) => *found = Some(format!("'{}' (flags)", fragment(text, &flags.span))),
        Ast::Assertion(assertion) => {
            if let Some(what) = anchor(assertion, text) {
                *found = Some(what);
            }
        }
        Ast::Literal(literal) => {
            // `\[`, `\.`, `\|`: escaping is what one does in a regex.
            if matches!(literal.kind, LiteralKind::Meta) {
                *found = Some(format!("'{}' (an escape)", fragment(text, &literal.span)));
            }
        }
        Ast::Empty(_) | Ast::Dot(_) => {}
    }
}

fn anchor(assertion: &Assertion, text: &str) -> Option<String> {
    let at_start = assertion.span.start.offset == 0;
    let at_end = assertion.span.end.offset == text.len();
    let shown = fragment(text, &assertion.span);
    match assertion.kind {
        AssertionKind::StartLine if at_start && text.len() > 1 => {
            Some("'^' (an anchor)".to_owned())
        }
        AssertionKind::EndLine if at_end && text.len() > 1 => Some("'$' (an anchor)".to_owned()),
        AssertionKind::StartLine | AssertionKind::EndLine => None,
        _ => Some(format!("'{shown}' (an assertion)")),
    }
}

/// Does a bracketed class hold more than a few plain characters?
fn deliberate(set: &ClassSet) -> bool {
    match set {
        ClassSet::BinaryOp(_) => true,
        ClassSet::Item(item) => deliberate_item(item),
    }
}

fn deliberate_item(item: &ClassSetItem) -> bool {
    match item {
        ClassSetItem::Empty(_) => false,
        ClassSetItem::Literal(literal) => !matches!(literal.kind, LiteralKind::Verbatim),
        ClassSetItem::Union(union) => union.items.iter().any(deliberate_item),
        ClassSetItem::Range(_)
        | ClassSetItem::Ascii(_)
        | ClassSetItem::Unicode(_)
        | ClassSetItem::Perl(_)
        | ClassSetItem::Bracketed(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_syntax_is_found_and_log_text_is_not() {
        let regex_like = [
            ("ERROR|FATAL", "'ERROR|FATAL'"),
            ("(ERROR|FATAL)", "'(ERROR|FATAL)'"),
            ("E(RROR|rror)", "'(RROR|rror)'"),
            ("ERROR [A-Z]+", "'[A-Z]+'"),
            ("\\[error\\]", "'\\['"),
            ("ERROR*", "'R*'"),
            ("ERROR.*timeout", "'.*'"),
            ("ERROR .+", "'.+'"),
            ("FATAL\\|OOM", "'\\|'"),
            ("code \\d+", "'\\d+'"),
            ("\\bword", "'\\b'"),
            ("\\w", "'\\w'"),
            ("a\\sb", "'\\s'"),
            ("file\\.txt", "'\\.'"),
            ("[0-9]", "'[0-9]'"),
            ("[^:]", "'[^:]'"),
            ("x{3}", "'x{3}'"),
            ("^ERROR", "'^'"),
            ("ERROR$", "'$'"),
            ("(?i)error", "(?i)"),
            ("(?:a)b", "'(?:a)'"),
            ("(fail)+", "'(fail)+'"),
            ("colou?r (s|z)", "'(s|z)'"),
        ];
        let mut wrong = Vec::new();
        for (text, fragment) in regex_like {
            let found = regex_syntax_in(text);
            if !found.as_deref().is_some_and(|f| f.contains(fragment)) {
                wrong.push(format!("{text}: {found:?}"));
            }
        }
        let log_text = [
            "ERROR",
            "disk 95.5% full",
            "10.0.0.1",
            "$5 fee",
            "[error]",
            "[notice] child pid",
            "(null)",
            "Out of memory (killed process",
            "are you sure?",
            "a | b",
            "| ERROR |",
            "*** ERROR ***",
            "{\"level\":\"error\"}",
            "C:\\temp",
            "^",
            "$",
            "50% done",
            "user@host",
            "C++ exception",
            "what??",
        ];
        for text in log_text {
            if let Some(found) = regex_syntax_in(text) {
                wrong.push(format!("{text}: {found}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
