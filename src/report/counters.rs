//! What the daemon has done since it started, as plain numbers: the source
//! of the metrics file and of the `STATUS=` line (SPEC §12).
//!
//! Counting is a few additions per block of lines or per command, on the
//! loop, with no clock read and no allocation: nothing here may cost a
//! trigger its latency. The times it keeps are wall-clock (`SystemTime`),
//! because they are shown to people and to Prometheus, both of which read
//! wall-clock time.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, SystemTime};

/// How a command ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandResult {
    /// Exited with status 0.
    Ok,
    /// Exited with another status, was killed by a signal we did not send,
    /// or could not be started.
    Failed,
    /// Stopped by logs2eca because it ran longer than `--timeout`.
    Timeout,
    /// Stopped by logs2eca because logs2eca itself was stopping.
    Killed,
}

impl CommandResult {
    pub const ALL: [CommandResult; 4] = [
        CommandResult::Ok,
        CommandResult::Failed,
        CommandResult::Timeout,
        CommandResult::Killed,
    ];

    /// The `result` label's value.
    pub fn label(self) -> &'static str {
        match self {
            CommandResult::Ok => "ok",
            CommandResult::Failed => "failed",
            CommandResult::Timeout => "timeout",
            CommandResult::Killed => "killed",
        }
    }

    /// How a command that ended with `status` is counted; `stopped_by_us`
    /// says why we signalled its group, if we did.
    pub fn of(status: ExitStatus, stopped_by_us: Option<CommandResult>) -> CommandResult {
        if status.code() == Some(0) {
            // A command that caught our SIGTERM and exited cleanly still
            // did not finish its work on its own time.
            return stopped_by_us.unwrap_or(CommandResult::Ok);
        }
        match (stopped_by_us, status.signal()) {
            (Some(why), _) => why,
            _ => CommandResult::Failed,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The upper bounds of the command duration histogram, in seconds: from a
/// quick `systemctl reload` to a long backup.
pub const DURATION_BUCKETS: [f64; 9] = [0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0];

/// Command durations, as a Prometheus histogram: counts per bucket
/// (cumulative when written), their sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at most each bound (not cumulative), then above all.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let at = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[at] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    /// `(le, cumulative count)` per bound, `+Inf` last (as `None`).
    pub fn cumulative(&self) -> Vec<(Option<f64>, u64)> {
        let mut total = 0;
        self.buckets
            .iter()
            .enumerate()
            .map(|(at, n)| {
                total += n;
                (DURATION_BUCKETS.get(at).copied(), total)
            })
            .collect()
    }
}

/// Everything counted since the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    pub started: SystemTime,
    pub lines: u64,
    pub bytes: u64,
    /// Lines that matched the pattern and were not excluded.
    pub matches: u64,
    /// Lines that matched the pattern and the exclusion.
    pub excluded: u64,
    /// Times the gate let a match through (a command started or failed to,
    /// a dry run printed).
    pub triggers: u64,
    pub last_trigger: Option<SystemTime>,
    /// Matches suppressed by a cooldown, a full queue or a full table.
    pub suppressed: u64,
    commands: [u64; 4],
    pub durations: Histogram,
    /// Times the path named another file, or the file was truncated.
    pub rotations: u64,
    /// Lines are counted only for a reader of the count (the metrics
    /// file, a dry run's summary): counting is a pass of its own over
    /// every byte read, a third of a literal scan's time.
    count_lines: bool,
}

impl Counters {
    pub fn new(started: SystemTime) -> Self {
        Counters {
            started,
            lines: 0,
            bytes: 0,
            matches: 0,
            excluded: 0,
            triggers: 0,
            last_trigger: None,
            suppressed: 0,
            commands: [0; 4],
            durations: Histogram::default(),
            rotations: 0,
            count_lines: true,
        }
    }

    /// Whether anything will read the count of lines: without a reader
    /// `lines` stays 0 and blocks are not counted.
    pub fn count_lines(&mut self, on: bool) {
        self.count_lines = on;
    }

    /// A block of whole lines was read: `matches` of its lines matched
    /// the pattern and not the exclusion, `excluded` matched both.
    /// Returns the block's number of lines.
    pub fn on_block(&mut self, block: &[u8], matches: u64, excluded: u64) -> u64 {
        let lines = match self.count_lines {
            true => memchr::memchr_iter(b'\n', block).count() as u64,
            false => 0,
        };
        self.lines += lines;
        self.bytes += block.len() as u64;
        self.matches += matches;
        self.excluded += excluded;
        lines
    }

    /// A journal entry's message: its lines, the last without a newline.
    pub fn on_entry(&mut self, message: &[u8], matches: u64, excluded: u64) -> u64 {
        self.lines += 1;
        self.on_block(message, matches, excluded) + 1
    }

    pub fn on_trigger(&mut self, at: SystemTime) {
        self.triggers += 1;
        self.last_trigger = Some(at);
    }

    /// A command ended (`took` is `None` for one that could not start).
    pub fn on_command_end(&mut self, result: CommandResult, took: Option<Duration>) {
        self.commands[result.index()] += 1;
        if let Some(took) = took {
            self.durations.observe(took);
        }
    }

    pub fn commands(&self, result: CommandResult) -> u64 {
        self.commands[result.index()]
    }

    /// Changes whenever a counter a reader looks at changes: what makes
    /// the metrics file (and the status line) out of date.
    pub fn version(&self) -> u64 {
        [
            self.bytes,
            self.lines,
            self.triggers,
            self.suppressed,
            self.rotations,
            self.durations.count,
        ]
        .iter()
        .chain(&self.commands)
        .fold(0u64, |sum, n| sum.wrapping_mul(31).wrapping_add(*n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn without_a_reader_of_the_count_lines_are_not_counted_but_bytes_are() {
        let mut c = Counters::new(SystemTime::UNIX_EPOCH);
        c.count_lines(false);
        assert_eq!(c.on_block(b"a\nb\n", 1, 0), 0);
        assert_eq!((c.lines, c.bytes, c.matches), (0, 4, 1));
        c.count_lines(true);
        assert_eq!(c.on_block(b"c\n", 0, 0), 1);
        assert_eq!(c.lines, 1);
    }

    #[test]
    fn a_block_counts_its_lines_bytes_and_matches() {
        let mut c = Counters::new(SystemTime::UNIX_EPOCH);
        c.on_block(b"a\nb\nc\n", 1, 1);
        c.on_block(b"dd\n", 0, 0);
        assert_eq!((c.lines, c.bytes, c.matches, c.excluded), (4, 9, 1, 1));
    }

    #[test]
    fn results_are_told_apart_by_status_and_by_who_stopped_the_command() {
        let exit = |code: i32| ExitStatus::from_raw(code << 8);
        let signal = ExitStatus::from_raw;
        assert_eq!(CommandResult::of(exit(0), None), CommandResult::Ok);
        assert_eq!(CommandResult::of(exit(3), None), CommandResult::Failed);
        assert_eq!(
            CommandResult::of(signal(libc::SIGSEGV), None),
            CommandResult::Failed
        );
        let timeout = Some(CommandResult::Timeout);
        assert_eq!(
            CommandResult::of(signal(libc::SIGTERM), timeout),
            CommandResult::Timeout
        );
        assert_eq!(
            CommandResult::of(exit(0), timeout),
            CommandResult::Timeout,
            "exited cleanly on our SIGTERM: still a timeout"
        );
        assert_eq!(
            CommandResult::of(signal(libc::SIGKILL), Some(CommandResult::Killed)),
            CommandResult::Killed
        );
    }

    #[test]
    fn the_histogram_is_cumulative_and_ends_with_inf() {
        let mut h = Histogram::default();
        for ms in [5, 50, 50, 2_000, 4_000_000] {
            h.observe(Duration::from_millis(ms));
        }
        let buckets = h.cumulative();
        assert_eq!(buckets.len(), DURATION_BUCKETS.len() + 1);
        assert_eq!(buckets[0], (Some(0.01), 1));
        assert_eq!(buckets[1], (Some(0.1), 3));
        assert_eq!(buckets[4], (Some(5.0), 4));
        assert_eq!(buckets.last(), Some(&(None, 5)));
        assert_eq!(h.count, 5);
        assert!((h.sum - 4_002.105).abs() < 1e-6, "{}", h.sum);
    }

    #[test]
    fn every_counter_a_reader_sees_changes_the_version() {
        let mut c = Counters::new(SystemTime::UNIX_EPOCH);
        let mut seen = vec![c.version()];
        let mut changed = |c: &Counters| {
            assert!(!seen.contains(&c.version()), "{c:?}");
            seen.push(c.version());
        };
        c.on_block(b"x\n", 1, 0);
        changed(&c);
        c.on_trigger(SystemTime::UNIX_EPOCH);
        changed(&c);
        c.suppressed += 1;
        changed(&c);
        c.rotations += 1;
        changed(&c);
        c.on_command_end(CommandResult::Failed, None);
        changed(&c);
        c.on_command_end(CommandResult::Ok, Some(Duration::from_secs(1)));
        changed(&c);
    }
}
