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

/// As [`argv`], for the log: a URL in a word keeps its scheme and host
/// and loses the rest (`https://hooks.example/…`), since webhook URLs carry
/// their token in the user part, the path or the query, and the journal is
/// read by more people than the env file. `--check`, run by whoever wrote
/// the settings, shows the words whole.
pub fn argv_redacted(words: &[String]) -> String {
    use std::sync::LazyLock;
    static URL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:[^/@\s'"]*@)?(?P<host>[^/\s'"?#]*)(?P<rest>[^\s'"]*)"#,
        )
        .expect("a valid regex")
    });
    let redacted: Vec<String> = words
        .iter()
        .map(|word| {
            URL.replace_all(word, |caps: &regex::Captures<'_>| {
                let rest = if caps["rest"].is_empty() { "" } else { "/…" };
                format!("{}{}{rest}", &caps["scheme"], &caps["host"])
            })
            .into_owned()
        })
        .collect();
    argv(&redacted)
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
    fn urls_in_the_logged_command_keep_only_scheme_and_host() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            argv_redacted(&words(&[
                "sh",
                "-c",
                "curl -d x 'https://user:pw@hooks.example.invalid/services/T0KEN?key=S3CRET'"
            ])),
            r#"["sh", "-c", "curl -d x 'https://hooks.example.invalid/…'"]"#
        );
        assert_eq!(
            argv_redacted(&words(&["wget", "http://alerts:8080", "-q"])),
            r#"["wget", "http://alerts:8080", "-q"]"#
        );
        assert_eq!(
            argv_redacted(&words(&["systemctl", "restart", "app"])),
            r#"["systemctl", "restart", "app"]"#
        );
    }

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
