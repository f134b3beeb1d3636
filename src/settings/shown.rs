//! How settings are shown in the start-up line, `--check` and the dry
//! run's summary: as the daemon uses them, so that what was meant and what
//! was received can be told apart at a glance.

use crate::react::pattern::Pattern;

/// `literal "…"` or `regex /…/`: which one a pattern was read as.
pub fn pattern(pattern: &Pattern) -> String {
    let source = pattern.source();
    let shown = if pattern.is_literal() {
        format!("literal \"{source}\"")
    } else {
        // Delimiters are ASCII: the inner text is between them.
        format!("regex /{}/", &source[1..source.len() - 1])
    };
    printable(&shown)
}

/// The command as the words the program receives, each a JSON string:
/// `["sh", "-c", "printf ..."]` cannot be read as `sh` getting `printf`
/// as its script.
pub fn argv(words: &[String]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|word| serde_json::to_string(word).unwrap_or_default())
        .collect();
    format!("[{}]", words.join(", "))
}

/// A duration as systemd spells a time span, which `--wait` and the
/// others accept back: `0`, `500ms`, `10min`, `1h 30min`, `2s 500ms`.
pub fn span(duration: std::time::Duration) -> String {
    const UNITS: [(&str, u128); 6] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("min", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ];
    let mut left = duration.as_nanos();
    if left == 0 {
        return "0".to_owned();
    }
    let mut parts = Vec::new();
    for (unit, nanos) in UNITS {
        if left >= nanos {
            parts.push(format!("{}{unit}", left / nanos));
            left %= nanos;
        }
    }
    if left > 0 {
        parts.push(format!("{left}ns"));
    }
    parts.join(" ")
}

fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::react::pattern::Syntax;

    #[test]
    fn patterns_say_literal_or_regex() {
        let shown = |source: &str, literal| {
            let syntax = Syntax {
                literal,
                ignore_case: false,
            };
            pattern(&Pattern::new(source, syntax).unwrap())
        };
        assert_eq!(shown("ERROR|FATAL", false), "literal \"ERROR|FATAL\"");
        assert_eq!(shown("/ERROR|FATAL/", false), "regex /ERROR|FATAL/");
        assert_eq!(shown("%FATAL \\d+%", false), "regex /FATAL \\d+/");
        assert_eq!(shown("/x/", true), "literal \"/x/\"");
        let ms = std::time::Duration::from_millis;
        assert_eq!(span(ms(0)), "0");
        assert_eq!(span(ms(3000)), "3s");
        assert_eq!(span(ms(2500)), "2s 500ms");
        assert_eq!(span(ms(5_400_000)), "1h 30min");
        assert_eq!(span(ms(90_000)), "1min 30s");
        assert_eq!(
            argv(&["sh".into(), "-c".into(), "printf 'got %s\\n' \"$X\"".into()]),
            r#"["sh", "-c", "printf 'got %s\\n' \"$X\""]"#
        );
    }
}
