//! What a matching line leads to: printed in a dry run, or the command run
//! under the cooldown rule. Reading never waits for the command: a match
//! while it runs is counted, not queued.

use std::io::{BufWriter, Stdout, Write};
use std::time::Instant;

use crate::action::{self, Runner};
use crate::config::Config;
use crate::cooldown::{Cooldown, Decision};
use crate::pattern::Pattern;

/// How much of a line goes into a log message.
const LOGGED_LINE: usize = 200;

// One value for the life of the process: the size difference is moot.
#[allow(clippy::large_enum_variant)]
pub enum Reaction {
    /// `--dry-run`: matching lines go to stdout.
    Print(Printer),
    Run {
        runner: Runner,
        cooldown: Cooldown,
        pattern: Pattern,
        file: String,
    },
}

impl Reaction {
    pub fn new(config: &Config) -> Self {
        match &config.command {
            None => Reaction::Print(Printer::stdout()),
            Some(command) => Reaction::Run {
                runner: Runner::new(command.clone(), config.timeout),
                cooldown: Cooldown::new(config.wait),
                pattern: config.matcher.pattern.clone(),
                file: config.path_as_given.clone(),
            },
        }
    }

    /// A line matched (and was not excluded).
    pub fn on_match(&mut self, line: &[u8], now: Instant) {
        match self {
            Reaction::Print(out) => out.print(line),
            Reaction::Run {
                runner,
                cooldown,
                pattern,
                file,
            } => match cooldown.try_trigger(now) {
                Decision::Suppress => log::debug!("suppressed: {}", excerpt(line)),
                Decision::Run { suppressed } => {
                    let env = action::match_env(line, file, &pattern.captures(line), suppressed);
                    // Logged after the spawn: the write to stderr (a pipe to
                    // the journal) is not on the path from match to action.
                    match runner.spawn(&env, now) {
                        Ok(pid) => {
                            log::info!("match: {} -> started command (pid {pid})", excerpt(line))
                        }
                        Err(err) => {
                            log::warn!(
                                "match: {} -> cannot start the command: {err}",
                                excerpt(line)
                            );
                            report_suppressed(cooldown.finished(now));
                        }
                    }
                }
            },
        }
    }

    /// The end of `--once`: no cooldown will end to report what it held.
    pub fn report_suppressed(&self) {
        if let Reaction::Run { cooldown, .. } = self {
            report_suppressed(Some(cooldown.suppressed()).filter(|&n| n > 0));
        }
    }

    /// Ends a batch of lines: dry-run output becomes visible.
    pub fn flush(&mut self) {
        if let Reaction::Print(out) = self {
            out.flush();
        }
    }

    /// The reader of the dry-run output has gone (`| head -1`): there is
    /// no one left to print for, and the run should end as grep's would.
    pub fn output_closed(&self) -> bool {
        matches!(self, Reaction::Print(out) if out.closed)
    }

    pub fn is_running(&self) -> bool {
        matches!(self, Reaction::Run { runner, .. } if runner.is_running())
    }

    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Reaction::Print(_) => None,
            Reaction::Run {
                runner, cooldown, ..
            } => [runner.deadline(), cooldown.deadline()]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    /// Timeouts and the end of the cooldown.
    pub fn on_deadline(&mut self, now: Instant) {
        if let Reaction::Run {
            runner, cooldown, ..
        } = self
        {
            runner.on_deadline(now);
            report_suppressed(cooldown.expire(now));
        }
    }

    /// SIGCHLD: reap, and start the cooldown if it was our command.
    pub fn on_child_exit(&mut self, now: Instant) {
        match self {
            Reaction::Run {
                runner, cooldown, ..
            } => {
                if let Some(finished) = runner.reap(now) {
                    action::log_finished(&finished);
                    report_suppressed(cooldown.finished(now));
                }
            }
            // Only orphans adopted as PID 1 can have exited.
            Reaction::Print(_) => action::reap_children(|_, _| {}),
        }
    }

    /// Stopping: terminate a running command.
    pub fn terminate(&mut self, now: Instant) {
        if let Reaction::Run { runner, .. } = self {
            runner.terminate(now);
        }
    }

    /// The stop grace is over: kill what is left and wait for it.
    pub fn kill(&mut self, now: Instant) {
        if let Reaction::Run { runner, .. } = self
            && let Some(finished) = runner.kill_and_wait(now)
        {
            action::log_finished(&finished);
        }
    }
}

/// Dry-run output. Write errors never end the process by themselves; a
/// closed pipe is remembered so that the loop can stop.
pub struct Printer {
    out: BufWriter<Stdout>,
    closed: bool,
}

impl Printer {
    fn stdout() -> Self {
        Printer {
            out: BufWriter::with_capacity(64 << 10, std::io::stdout()),
            closed: false,
        }
    }

    fn print(&mut self, line: &[u8]) {
        if self.closed {
            return;
        }
        let written = self
            .out
            .write_all(line)
            .and_then(|()| self.out.write_all(b"\n"));
        self.note(written);
    }

    fn flush(&mut self) {
        if !self.closed {
            let flushed = self.out.flush();
            self.note(flushed);
        }
    }

    fn note(&mut self, result: std::io::Result<()>) {
        if let Err(err) = result
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
    }
}

fn report_suppressed(count: Option<u64>) {
    if let Some(n) = count {
        log::info!("cooldown over: {n} matching line(s) were suppressed since the last run");
    }
}

/// The start of a line, readable in a log.
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(LOGGED_LINE)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if line.len() > LOGGED_LINE {
        text.push_str("...");
    }
    text
}
