//! The report a dry run over a whole file ends with (`--once --dry-run`),
//! as `fail2ban-regex` gives one: lines read, matched, excluded, that would
//! trigger, and how long it took. It is what tells a pattern that matches
//! nothing from a file that has nothing to match.

use std::time::Instant;

#[derive(Debug)]
pub struct Summary {
    started: Instant,
    lines: u64,
    matched: u64,
    excluded: u64,
}

impl Summary {
    pub fn new(now: Instant) -> Self {
        Summary {
            started: now,
            lines: 0,
            matched: 0,
            excluded: 0,
        }
    }

    /// A block of whole lines was read: `matched` of them matched the
    /// pattern, `excluded` of those were excluded.
    pub fn add(&mut self, block: &[u8], matched: u64, excluded: u64) {
        self.lines += memchr::memchr_iter(b'\n', block).count() as u64;
        self.matched += matched;
        self.excluded += excluded;
    }

    /// A journal entry's message: its lines, the last without a newline.
    pub fn add_entry(&mut self, message: &[u8], matched: u64, excluded: u64) {
        self.lines += 1;
        self.add(message, matched, excluded);
    }

    /// The line for the log, with how many lines would have triggered.
    /// `suppressed`: the matches a `--wait` cooldown held back, all keys
    /// together.
    pub fn report(&self, would_trigger: u64, suppressed: u64, now: Instant) -> String {
        let suppressed = match suppressed {
            0 => String::new(),
            n => format!(", {n} suppressed by the cooldown"),
        };
        format!(
            "summary: {} line(s) read, {} matched, {} excluded, {} would trigger{suppressed}, in {}",
            self.lines,
            self.matched,
            self.excluded,
            would_trigger,
            crate::react::action::seconds(now.saturating_duration_since(self.started)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_by_their_newlines() {
        let t0 = Instant::now();
        let mut s = Summary::new(t0);
        s.add(b"a\nb\nc\n", 2, 1);
        s.add(b"d\n", 0, 0);
        let report = s.report(1, 0, t0);
        assert!(
            report
                .starts_with("summary: 4 line(s) read, 2 matched, 1 excluded, 1 would trigger, in"),
            "{report}"
        );
        let report = s.report(1, 5, t0);
        assert!(
            report.contains("1 would trigger, 5 suppressed by the cooldown, in"),
            "{report}"
        );
    }
}
