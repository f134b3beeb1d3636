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

    /// A block of `lines` whole lines was read (counted by the reaction's
    /// counters): `matched` of them matched the pattern, `excluded` of
    /// those were excluded.
    pub fn add(&mut self, lines: u64, matched: u64, excluded: u64) {
        self.lines += lines;
        self.matched += matched;
        self.excluded += excluded;
    }

    /// The line for the log, with how many lines would have triggered.
    /// `suppressed`: the matches a `--wait` cooldown held back, all keys
    /// together; `untimed`, unless lines are timed by arrival: how many
    /// matching lines had no timestamp of their own (§11).
    pub fn report(
        &self,
        would_trigger: u64,
        suppressed: u64,
        untimed: Option<u64>,
        now: Instant,
    ) -> String {
        let suppressed = match suppressed {
            0 => String::new(),
            n => format!(", {n} suppressed by the cooldown"),
        };
        let untimed = untimed
            .map(|n| format!(", {n} matched without a timestamp"))
            .unwrap_or_default();
        format!(
            "summary: {} line(s) read, {} matched, {} excluded, {} would trigger{suppressed}{untimed}, in {}",
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
    fn the_counts_add_up() {
        let t0 = Instant::now();
        let mut s = Summary::new(t0);
        s.add(3, 2, 1);
        s.add(1, 0, 0);
        let report = s.report(1, 0, None, t0);
        assert!(
            report
                .starts_with("summary: 4 line(s) read, 2 matched, 1 excluded, 1 would trigger, in"),
            "{report}"
        );
        let report = s.report(1, 5, Some(1), t0);
        assert!(
            report.contains(
                "1 would trigger, 5 suppressed by the cooldown, 1 matched without a timestamp, in"
            ),
            "{report}"
        );
    }
}
