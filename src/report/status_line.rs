//! The one line `systemctl status` shows (`STATUS=`, SPEC §12): what is
//! followed and where, what is awaited, the triggers and the last one's
//! time, suppressed matches, the commands running and since when, the keys
//! tracked, and what is held.
//!
//! When it is sent: at the end of a turn of the loop in which it changed,
//! unless one was sent less than a second before. Then the change waits
//! for the first turn after that second: every event and every deadline
//! the loop has anyway (a save, a timeout, a cooldown) is such a turn.
//! Only when the loop would otherwise sleep with nothing to do does the
//! held change get a deadline of its own, at the end of that second: one
//! wake-up at most per second of activity, none at all while idle (nothing
//! is held then), and the line is never more than a second behind. Without
//! that, a file that appears half a second after the start would leave
//! "waiting for FILE" shown for as long as the file stays quiet.
//!
//! The text is built only when it may be sent; whether anything changed is
//! told by a cheap fingerprint of the numbers it shows, so that a busy log
//! costs no formatting per read.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant, SystemTime};

use crate::report::clock;
use crate::report::counters::Counters;

/// The shortest time between two status lines.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// Where reading is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reading<'a> {
    /// The path (or a directory on it) does not exist yet.
    Waiting { what: Cow<'a, str> },
    /// A file is open at the path: `offset` is the first byte not yet
    /// processed in it.
    File { path: &'a str, offset: u64 },
    /// Standard input: `bytes` read so far.
    Stream { bytes: u64 },
    /// The journal (`what` names it and its matches); `restarting` while
    /// its journalctl is to be started again.
    Journal { what: String, restarting: bool },
}

/// A command (or undo) running past the long-run warning (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LongRun {
    /// `do` or `undo`.
    pub action: &'static str,
    pub pid: i32,
    pub since: SystemTime,
}

/// What the line says, gathered by the loop.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub reading: Reading<'a>,
    /// Rotated files still open, being finished.
    pub rotated_open: usize,
    pub counters: &'a Counters,
    /// When each running command started.
    pub running: Vec<SystemTime>,
    /// The running commands past the long-run warning.
    pub long: Vec<LongRun>,
    pub keys: usize,
    /// Matches held: queued behind their key's run, or triggers waiting
    /// for a free slot.
    pub held: usize,
    /// Retries pending (a failed command to run again).
    pub retries: usize,
    /// Undo commands pending.
    pub undos: usize,
    /// Is there a command at all (else a dry run prints).
    pub dry_run: bool,
}

impl Snapshot<'_> {
    /// Changes whenever the text would.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.reading.hash(&mut hasher);
        self.running.hash(&mut hasher);
        self.long.hash(&mut hasher);
        (
            self.rotated_open,
            self.counters.version(),
            self.keys,
            self.held,
            self.retries,
            self.undos,
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    /// The line itself: what is read first, then what was done.
    pub fn text(&self) -> String {
        let mut parts = vec![match &self.reading {
            Reading::Waiting { what } => format!("waiting for {what}"),
            Reading::File { path, offset } => format!("following {path} at offset {offset}"),
            Reading::Stream { bytes } => format!("reading standard input, {bytes} bytes so far"),
            Reading::Journal {
                what,
                restarting: false,
            } => format!("following {what}"),
            Reading::Journal {
                what,
                restarting: true,
            } => format!("starting journalctl again for {what}"),
        }];
        if self.rotated_open > 0 {
            parts[0].push_str(&format!(
                " (+{} rotated file(s) being finished)",
                self.rotated_open
            ));
        }
        let c = self.counters;
        let what = if self.dry_run {
            "line(s) printed"
        } else {
            "trigger(s)"
        };
        parts.push(match c.last_trigger {
            None => format!("no trigger yet, {} match(es)", c.matches),
            Some(last) => format!("{} {what}, last at {}", c.triggers, clock::utc(last)),
        });
        if c.suppressed > 0 {
            parts.push(format!("{} suppressed", c.suppressed));
        }
        match self.running.iter().min() {
            None => {}
            Some(&oldest) if self.running.len() == 1 => {
                parts.push(format!("command running since {}", clock::utc(oldest)))
            }
            Some(&oldest) => parts.push(format!(
                "{} commands running, the oldest since {}",
                self.running.len(),
                clock::utc(oldest)
            )),
        }
        for run in &self.long {
            parts.push(format!(
                "{} (pid {}) running long, since {}",
                run.action,
                run.pid,
                clock::utc(run.since)
            ));
        }
        if self.keys > 1 {
            parts.push(format!("{} keys tracked", self.keys));
        }
        if self.held > 0 {
            parts.push(format!("{} match(es) held", self.held));
        }
        if self.retries > 0 {
            parts.push(format!("{} retry(ies) pending", self.retries));
        }
        if self.undos > 0 {
            parts.push(format!("{} undo(s) pending", self.undos));
        }
        parts.join("; ")
    }
}

/// When a new status line may go out; the clock is a parameter.
#[derive(Debug, Default)]
pub struct StatusThrottle {
    last_sent: Option<Instant>,
    /// The fingerprint of what was last sent (or found unchanged).
    shown: Option<u64>,
    last_text: String,
    /// A change waits for the end of the interval.
    held: bool,
}

impl StatusThrottle {
    /// `fingerprint` is what the loop sees at `now`: the text to send, if
    /// one should go out now.
    pub fn offer(
        &mut self,
        now: Instant,
        fingerprint: u64,
        text: impl FnOnce() -> String,
    ) -> Option<String> {
        if self.shown == Some(fingerprint) {
            self.held = false;
            return None;
        }
        if self.next_allowed().is_some_and(|at| now < at) {
            self.held = true;
            return None;
        }
        self.held = false;
        self.shown = Some(fingerprint);
        let text = text();
        if text == self.last_text {
            return None;
        }
        self.sent(now, fingerprint, text.clone());
        Some(text)
    }

    /// A status went out with another message (`READY=1`).
    pub fn sent(&mut self, now: Instant, fingerprint: u64, text: String) {
        self.last_sent = Some(now);
        self.shown = Some(fingerprint);
        self.last_text = text;
        self.held = false;
    }

    /// When a held change is due; `None` when nothing is held.
    pub fn deadline(&self) -> Option<Instant> {
        self.next_allowed().filter(|_| self.held)
    }

    fn next_allowed(&self) -> Option<Instant> {
        self.last_sent.map(|at| at + STATUS_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn wall(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn snapshot(counters: &Counters) -> Snapshot<'_> {
        Snapshot {
            reading: Reading::File {
                path: "/var/log/app.log",
                offset: 1234,
            },
            rotated_open: 0,
            counters,
            running: Vec::new(),
            long: Vec::new(),
            keys: 1,
            held: 0,
            retries: 0,
            undos: 0,
            dry_run: false,
        }
    }

    #[test]
    fn a_quiet_monitor_says_what_it_follows_and_that_nothing_triggered() {
        let c = Counters::new(wall(0));
        assert_eq!(
            snapshot(&c).text(),
            "following /var/log/app.log at offset 1234; no trigger yet, 0 match(es)"
        );
        let mut s = snapshot(&c);
        s.reading = Reading::Waiting {
            what: "/var/log/app.log".into(),
        };
        assert_eq!(
            s.text(),
            "waiting for /var/log/app.log; no trigger yet, 0 match(es)"
        );
    }

    #[test]
    fn a_busy_monitor_says_everything_that_is_going_on() {
        let mut c = Counters::new(wall(0));
        for _ in 0..3 {
            c.on_trigger(wall(1_798_765_201));
        }
        c.suppressed = 7;
        let mut s = snapshot(&c);
        s.rotated_open = 1;
        s.running = vec![wall(1_798_765_300), wall(1_798_765_202)];
        s.keys = 4;
        s.held = 2;
        s.retries = 1;
        assert_eq!(
            s.text(),
            "following /var/log/app.log at offset 1234 (+1 rotated file(s) being finished); \
             3 trigger(s), last at 2027-01-01T01:00:01Z; 7 suppressed; \
             2 commands running, the oldest since 2027-01-01T01:00:02Z; 4 keys tracked; \
             2 match(es) held; 1 retry(ies) pending"
        );
        s.running.remove(1);
        assert!(
            s.text()
                .contains("; command running since 2027-01-01T01:01:40Z;"),
            "{}",
            s.text()
        );
        s.long = vec![LongRun {
            action: "do",
            pid: 42,
            since: wall(1_798_765_300),
        }];
        s.undos = 3;
        assert!(
            s.text().contains(
                "; command running since 2027-01-01T01:01:40Z; \
                 do (pid 42) running long, since 2027-01-01T01:01:40Z; 4 keys tracked;"
            ),
            "{}",
            s.text()
        );
        assert!(
            s.text()
                .ends_with("; 1 retry(ies) pending; 3 undo(s) pending")
        );
    }

    #[test]
    fn every_number_shown_changes_the_fingerprint() {
        let c = Counters::new(wall(0));
        let mut c2 = c.clone();
        c2.on_block(b"x\n", 0, 0);
        let base = snapshot(&c);
        let mut variants = vec![snapshot(&c2)];
        let mut v = base.clone();
        v.reading = Reading::File {
            path: "/var/log/app.log",
            offset: 1235,
        };
        variants.push(v);
        let mut v = base.clone();
        v.running.push(wall(5));
        variants.push(v);
        let mut v = base.clone();
        v.keys = 2;
        variants.push(v);
        let mut v = base.clone();
        v.held = 1;
        variants.push(v);
        let mut v = base.clone();
        v.rotated_open = 1;
        variants.push(v);
        for v in variants {
            assert_ne!(v.fingerprint(), base.fingerprint(), "{v:?}");
        }
        // What is awaited, told apart by its text, not its length.
        let mut file = base.clone();
        file.reading = Reading::Waiting {
            what: "/srv/a.log".into(),
        };
        let mut dir = base.clone();
        dir.reading = Reading::Waiting {
            what: "/srv/b.log".into(),
        };
        assert_ne!(file.fingerprint(), dir.fingerprint());
    }

    #[test]
    fn at_most_one_line_a_second_and_a_held_change_is_due_at_its_end() {
        let t0 = Instant::now();
        let mut t = StatusThrottle::default();
        assert_eq!(t.offer(t0, 1, || "a".into()), Some("a".into()));
        assert_eq!(t.deadline(), None, "nothing held");
        assert_eq!(t.offer(at(t0, 300), 2, || "b".into()), None);
        assert_eq!(
            t.deadline(),
            Some(at(t0, 1_000)),
            "held until the second ends"
        );
        assert_eq!(t.offer(at(t0, 600), 3, || "c".into()), None);
        assert_eq!(t.offer(at(t0, 1_000), 3, || "c".into()), Some("c".into()));
        assert_eq!(t.deadline(), None);
        assert_eq!(t.offer(at(t0, 5_000), 3, || unreachable!()), None);
    }

    #[test]
    fn a_change_that_went_back_sends_nothing_and_holds_nothing() {
        let t0 = Instant::now();
        let mut t = StatusThrottle::default();
        t.offer(t0, 1, || "a".into());
        assert_eq!(t.offer(at(t0, 100), 2, || "b".into()), None);
        assert!(t.deadline().is_some());
        assert_eq!(t.offer(at(t0, 200), 1, || unreachable!()), None);
        assert_eq!(t.deadline(), None, "back to what is shown");
        // Another fingerprint with the same text: nothing to send either.
        assert_eq!(t.offer(at(t0, 2_000), 4, || "a".into()), None);
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn a_status_sent_with_ready_counts() {
        let t0 = Instant::now();
        let mut t = StatusThrottle::default();
        t.sent(t0, 1, "waiting for f".into());
        assert_eq!(t.offer(at(t0, 500), 2, || "following f".into()), None);
        assert_eq!(t.deadline(), Some(at(t0, 1_000)));
        assert_eq!(
            t.offer(at(t0, 1_000), 2, || "following f".into()),
            Some("following f".into())
        );
    }
}
