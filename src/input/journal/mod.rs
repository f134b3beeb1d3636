//! The systemd journal as a source (SPEC §10), read through a
//! `journalctl --output=json` child.
//!
//! Why a child and not libsystemd: `cargo build` needs nothing but the
//! Rust toolchain, a host without a journal follows files with the same
//! binary, and journalctl gives `-u` and the match syntax their exact
//! meaning for free. Measured, parsing its JSON keeps up with journalctl
//! itself (BENCHMARKS.md).
//!
//! What keeps it exact (each point is where another reader loses or
//! repeats entries):
//!
//! - The position is the cursor of the last entry read, whatever the
//!   pattern made of it, saved with the rest of the state: a rare match
//!   never leaves an old cursor behind.
//! - journalctl runs with `--merge`: on systemd 250-257 `--follow` alone
//!   keeps to the current boot, which loses the previous boot's tail at a
//!   restart after a reboot (and, where the boot id seen in /proc is the
//!   host's, every new entry). On the system journal, `--merge` also
//!   brings in other machines' journals kept on this host; those entries
//!   are skipped here by `_MACHINE_ID` (they still move the position).
//! - It resumes with `--cursor C` and drops the entry C itself, never with
//!   `--after-cursor C`: combined with a match, journalctl 252 skips the
//!   first matching entry when C does not match.
//! - A journalctl that exits (journald restarted, a file vacuumed under
//!   it) is started again after the last entry read.
//! - At start, the saved cursor is looked up without matches: when it is
//!   gone (vacuumed while logs2eca was stopped), a warning names the time
//!   range lost, and reading goes on from the oldest entry.

mod access;
mod entry;
pub mod time;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use entry::Entry;

use crate::checkpoint::SourceCheckpoint;
use crate::checkpoint::state::{JournalRecord, SourcePiece};
use crate::input::file::identity::FileId;
use crate::report::event::{JournalEvent, emit};

/// The identity a journal entry's lines carry (no file has inode 1 on
/// device 0); their offset counts the entries read.
pub const JOURNAL: FileId = FileId {
    dev: 0,
    ino: 1,
    born: None,
};

/// The journalctl that is run: from `PATH`, as a shell would.
const JOURNALCTL: &str = "journalctl";

/// The fields of [`Entry`] but those journalctl always prints.
const OUTPUT_FIELDS: &str = "--output-fields=MESSAGE,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER,_PID,\
                             PRIORITY,_HOSTNAME,_MACHINE_ID,_SOURCE_REALTIME_TIMESTAMP";

/// How much of journalctl's output one read takes at most: more than a
/// pipe holds (64 KiB), so that one read empties it.
const READ_CHUNK: usize = 128 << 10;

/// The longest line of JSON kept: an entry longer than this (journald's
/// own limit on a field is far lower by default) is skipped, with a
/// warning, and the next one moves the position.
const MAX_JSON_LINE: usize = 64 << 20;

/// How soon a journalctl that exited without output is started again,
/// and the most the wait doubles to.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// After this many starts in a row that produced nothing, journalctl is
/// not going to work: logs2eca exits 1 with what it said.
const MAX_FAILED_STARTS: u32 = 10;

/// Which journal, and which of its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `-u`: passed to journalctl as is.
    pub units: Vec<String>,
    /// `--journal-match`: journalctl's match arguments, `+` included.
    pub matches: Vec<String>,
    /// `--journal-directory`; `None`: the system journal.
    pub directory: Option<PathBuf>,
}

impl Settings {
    /// The journal as a name for logs and `LOGS2ECA_MATCH_FILE`.
    pub fn name(&self) -> String {
        match &self.directory {
            Some(dir) => format!("the journal in {}", dir.display()),
            None => "the journal".to_owned(),
        }
    }

    /// The journal and the entries followed, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut picks: Vec<String> = self.units.iter().map(|u| format!("-u {u}")).collect();
        if !self.matches.is_empty() {
            picks.push(shell_words::join(&self.matches));
        }
        if picks.is_empty() {
            self.name()
        } else {
            format!("{} ({})", self.name(), picks.join(", "))
        }
    }

    /// The arguments that pick the journal files.
    fn journal_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--merge".into()];
        if let Some(dir) = &self.directory {
            args.push("--directory".into());
            args.push(dir.into());
        }
        args
    }

    /// The arguments that pick the entries: `-u` options first, then the
    /// matches (positional, so they come last).
    fn entry_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for unit in &self.units {
            args.push("--unit".into());
            args.push(unit.into());
        }
        args.extend(self.matches.iter().map(OsString::from));
        args
    }
}

/// Why a journal cannot be followed.
#[derive(Debug)]
pub struct OpenError(pub String);

/// A running journalctl.
struct Reader {
    child: Child,
    stdout: File,
    stderr: File,
    /// What it said on stderr, at most a few KiB (the last words count).
    said: Vec<u8>,
    started: Instant,
    /// Did it print an entry?
    produced: bool,
}

pub struct Journal {
    settings: Settings,
    once: bool,
    /// On the system journal: this machine's id; entries of others, which
    /// `--merge` brings in, are skipped.
    machine: Option<Vec<u8>>,
    reader: Option<Reader>,
    /// The entry read last, and when it was received.
    cursor: Option<String>,
    time_us: Option<u64>,
    /// The first entry journalctl prints is this one again (`--cursor`).
    skip: Option<String>,
    /// Entries read: the position's progress, for the state writer.
    read: u64,
    /// Where reads land; allocated once.
    chunk: Vec<u8>,
    /// The start of a line whose end has not been read yet.
    partial: Vec<u8>,
    /// Skipping the rest of an overlong line.
    discarding: bool,
    restart_at: Option<Instant>,
    /// The last read stopped at its budget: read on without waiting.
    more: bool,
    retry: Duration,
    failed_starts: u32,
    ended: bool,
    error: Option<String>,
    bad_line_warned: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("settings", &self.settings)
            .field("cursor", &self.cursor)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Checks that the journal can be read and starts journalctl: after
    /// `saved` if there is a position, else at the oldest entry
    /// (`from_beginning`, or `once` without a state) or after the newest.
    pub fn open(
        settings: Settings,
        saved: Option<JournalRecord>,
        from_beginning: bool,
        once: bool,
    ) -> Result<Journal, OpenError> {
        check_access(&settings).map_err(OpenError)?;
        let machine = match settings.directory {
            Some(_) => None,
            None => local_machine_id(),
        };
        // Following, journalctl runs once first as the follower will: a
        // journalctl that cannot run is an error at start, not retries
        // later; and it gives the newest entry, for a start at the end.
        // `--once` finds out as it reads.
        let newest = if once {
            None
        } else {
            first_entry(&settings, ProbeKind::Newest).map_err(OpenError)?
        };
        let mut journal = Journal {
            settings,
            once,
            machine,
            reader: None,
            cursor: None,
            time_us: None,
            skip: None,
            read: 0,
            chunk: Vec::new(),
            partial: Vec::new(),
            discarding: false,
            restart_at: None,
            more: false,
            retry: FIRST_RETRY,
            failed_starts: 0,
            ended: false,
            error: None,
            bad_line_warned: false,
        };
        match saved {
            Some(position) => {
                if let Some(cursor) = &position.cursor {
                    journal.check_saved(cursor, position.received_unix_us);
                }
                journal.cursor = position.cursor;
                journal.time_us = position.received_unix_us;
            }
            None if from_beginning || once => {}
            None => {
                if let Some((cursor, time_us)) = newest {
                    journal.cursor = Some(cursor);
                    journal.time_us = time_us;
                }
            }
        }
        journal.start().map_err(OpenError)?;
        Ok(journal)
    }

    /// Warns when the saved entry is gone from the journal: what was
    /// logged between it and the oldest entry left is lost.
    fn check_saved(&self, cursor: &str, saved_us: Option<u64>) {
        let saved_us = saved_us.or_else(|| cursor_time(cursor));
        let from = saved_us.map_or("the saved position".to_owned(), time::rfc3339);
        match first_entry(&self.settings, ProbeKind::From(cursor)) {
            Ok(Some((found, _))) if found == cursor => {}
            Ok(Some((_, oldest))) => {
                let to = oldest.map_or("the oldest entry".to_owned(), time::rfc3339);
                emit!(JournalEvent::VacuumedWhileStopped {
                    journal: self.settings.name(),
                    from,
                    to,
                });
            }
            Ok(None) => emit!(JournalEvent::EmptiedWhileStopped {
                journal: self.settings.name(),
                from,
            }),
            Err(error) => emit!(JournalEvent::CannotLookForSaved { error }),
        }
    }

    /// Starts journalctl after the last entry read.
    fn start(&mut self) -> Result<(), String> {
        let mut command = journalctl()?;
        command.args(["--output=json", "--quiet", "--no-pager"]);
        // Only the fields read here (journalctl adds the cursor and the
        // times): a journald entry has two dozen, and each costs
        // journalctl to format and us to parse.
        command.arg(OUTPUT_FIELDS);
        command.args(self.settings.journal_args());
        if !self.once {
            // Without --no-tail, --follow shows only the last 10 entries
            // after the cursor.
            command.args(["--follow", "--no-tail"]);
        }
        if let Some(cursor) = &self.cursor {
            command.arg(format!("--cursor={cursor}"));
        }
        command.args(self.settings.entry_args());
        let mut child = spawn(command)?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("journalctl started without its pipes".to_owned());
        };
        let stdout = File::from(std::os::fd::OwnedFd::from(stdout));
        let stderr = File::from(std::os::fd::OwnedFd::from(stderr));
        // Our ends of the pipes are ours alone: non-blocking is safe, and
        // the loop must never wait on journalctl. With --once the loop
        // has nothing else to do, and reading blocks.
        if !self.once {
            crate::sys::set_nonblocking(stdout.as_fd())
                .map_err(|err| format!("cannot set up journalctl: {err}"))?;
        }
        crate::sys::set_nonblocking(stderr.as_fd())
            .map_err(|err| format!("cannot set up journalctl: {err}"))?;
        emit!(JournalEvent::Started {
            pid: child.id(),
            at: self.cursor.clone(),
        });
        self.skip = self.cursor.clone();
        self.partial.clear();
        self.discarding = false;
        self.reader = Some(Reader {
            child,
            stdout,
            stderr,
            said: Vec::new(),
            started: Instant::now(),
            produced: false,
        });
        Ok(())
    }

    /// The journalctl running, which this source reaps itself (for its
    /// exit status).
    pub fn child_pid(&self) -> Option<libc::pid_t> {
        let reader = self.reader.as_ref()?;
        Some(reader.child.id() as libc::pid_t)
    }

    /// What to wait on: journalctl's output.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.reader.as_ref().map(|r| r.stdout.as_fd())
    }

    /// When to read without an event: at once after a read that stopped
    /// at its budget; when journalctl is due to be started again.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        if self.more {
            return Some(now);
        }
        self.restart_at
    }

    /// Has reading ended for good (`--once` at the end, or a failure)?
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Why reading stopped, if it failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Entries read so far (the position moves with each).
    pub fn progress(&self) -> u64 {
        self.read
    }

    /// Where reading is: the journal's piece of the state file.
    pub fn position(&self) -> JournalRecord {
        JournalRecord {
            cursor: self.cursor.clone(),
            received_unix_us: self.time_us,
        }
    }

    /// What is followed, for people: the journal and its matches.
    pub fn name(&self) -> String {
        self.settings.name()
    }

    /// Is journalctl to be started again (it exited)?
    pub fn restarting(&self) -> bool {
        self.reader.is_none()
    }

    /// Has the last read stopped at its budget, with more to read?
    pub fn behind(&self) -> bool {
        self.more
    }

    /// Reads what journalctl has printed, about `budget` bytes at most,
    /// handing each entry that has a `MESSAGE` to `sink`; returns whether
    /// it stopped at the budget with more to read. Starts journalctl
    /// again when it is due.
    pub fn read(
        &mut self,
        now: Instant,
        budget: usize,
        sink: &mut dyn FnMut(&[u8], &Entry),
    ) -> bool {
        self.more = self.read_entries(now, budget, sink);
        self.more
    }

    fn read_entries(
        &mut self,
        now: Instant,
        budget: usize,
        sink: &mut dyn FnMut(&[u8], &Entry),
    ) -> bool {
        if self.restart_at.is_some_and(|at| at <= now) {
            self.restart_at = None;
            if let Err(why) = self.start() {
                self.failed(now, &why);
                return false;
            }
        }
        let mut total = 0;
        while !self.ended {
            let Some(reader) = self.reader.as_mut() else {
                return false;
            };
            if total >= budget {
                return true;
            }
            let mut chunk = std::mem::take(&mut self.chunk);
            chunk.resize(READ_CHUNK, 0);
            let got = reader.stdout.read(&mut chunk);
            if let Ok(n) = got
                && n > 0
            {
                total += n;
                reader.produced = true;
                self.take_lines(&chunk[..n], sink);
            }
            self.chunk = chunk;
            match got {
                Ok(0) => {
                    self.exited(now);
                    return false;
                }
                Ok(_) => {}
                Err(err) => match err.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => {
                        self.drain_stderr();
                        return false;
                    }
                    _ => {
                        emit!(JournalEvent::CannotRead {
                            error: err.to_string()
                        });
                        self.exited(now);
                        return false;
                    }
                },
            }
        }
        false
    }

    /// Hands over the complete lines of `data`, the first one completing
    /// what an earlier read left partial.
    fn take_lines(&mut self, data: &[u8], sink: &mut dyn FnMut(&[u8], &Entry)) {
        let mut rest = data;
        if !self.partial.is_empty() || self.discarding {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.keep_partial(rest);
                return;
            };
            if self.discarding {
                self.discarding = false;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                self.take_entry(&line, sink);
                line.clear();
                self.partial = line;
            }
            rest = &rest[end + 1..];
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', rest) {
            self.take_entry(&rest[start..end], sink);
            start = end + 1;
        }
        self.keep_partial(&rest[start..]);
    }

    /// Keeps the start of a line for the next read, up to a bound.
    fn keep_partial(&mut self, bytes: &[u8]) {
        if self.discarding {
            return;
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > MAX_JSON_LINE {
            emit!(JournalEvent::TooLong {
                mib: MAX_JSON_LINE >> 20
            });
            self.partial = Vec::new();
            self.discarding = true;
        }
    }

    fn take_entry(&mut self, line: &[u8], sink: &mut dyn FnMut(&[u8], &Entry)) {
        if line.is_empty() {
            return;
        }
        let entry = match Entry::parse(line) {
            Ok(entry) => entry,
            Err(err) => {
                if !self.bad_line_warned {
                    self.bad_line_warned = true;
                    emit!(JournalEvent::NotAnEntry {
                        error: err.to_string()
                    });
                }
                return;
            }
        };
        let Some(cursor) = entry.cursor.as_deref() else {
            return;
        };
        if let Some(skip) = self.skip.take()
            && skip == cursor
        {
            return;
        }
        match &mut self.cursor {
            Some(kept) => {
                kept.clear();
                kept.push_str(cursor);
            }
            None => self.cursor = Some(cursor.to_owned()),
        }
        self.time_us = entry.received_us();
        self.read += 1;
        if let (Some(ours), Some(theirs)) = (&self.machine, &entry.machine_id)
            && theirs.as_bytes() != ours.as_slice()
        {
            return;
        }
        // No MESSAGE (or one too large for journalctl to show): nothing
        // to match, but the position has moved past it.
        if let Some(message) = &entry.message {
            sink(message.as_bytes(), &entry);
        }
    }

    /// Keeps the last few KiB journalctl wrote to stderr, so that a full
    /// pipe never stops it.
    fn drain_stderr(&mut self) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let mut buf = [0; 4096];
        loop {
            match reader.stderr.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    reader.said.extend_from_slice(&buf[..n]);
                    let excess = reader.said.len().saturating_sub(4096);
                    reader.said.drain(..excess);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// journalctl's output ended: the end with `--once`, else start it
    /// again after the last entry read.
    fn exited(&mut self, now: Instant) {
        self.drain_stderr();
        let Some(mut reader) = self.reader.take() else {
            return;
        };
        // Ours alone to reap (the daemon reaps its commands by their
        // pids); the status is unknown only if waiting fails.
        let status = reader.child.wait().ok();
        let said = String::from_utf8_lossy(&reader.said).trim().to_owned();
        let failed = status.is_some_and(|s| !s.success());
        if self.once {
            self.ended = true;
            if failed {
                self.error = Some(format!("journalctl failed: {}", said_or(&said, status)));
            } else if !said.is_empty() {
                emit!(JournalEvent::Said { text: said });
            }
            return;
        }
        let why = format!(
            "journalctl exited ({}): {}",
            status.map_or("status unknown".to_owned(), |s| s.to_string()),
            if said.is_empty() { "no message" } else { &said }
        );
        if reader.produced || now.duration_since(reader.started) > MAX_RETRY {
            self.failed_starts = 0;
            self.retry = FIRST_RETRY;
            emit!(JournalEvent::Restarting { why, after: None });
            self.restart_at = Some(now);
        } else {
            self.failed(now, &why);
        }
    }

    /// A start that came to nothing: try again later, or give up.
    fn failed(&mut self, now: Instant, why: &str) {
        self.failed_starts += 1;
        if self.failed_starts >= MAX_FAILED_STARTS {
            self.ended = true;
            self.error = Some(format!(
                "cannot follow {}: {why} ({} starts in a row)",
                self.settings.name(),
                self.failed_starts
            ));
            return;
        }
        emit!(JournalEvent::Restarting {
            why: why.to_owned(),
            after: Some(self.retry),
        });
        self.restart_at = Some(now + self.retry);
        self.retry = (self.retry * 2).min(MAX_RETRY);
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Some(mut reader) = self.reader.take() {
            let _ = reader.child.kill();
            let _ = reader.child.wait();
        }
    }
}

fn said_or(said: &str, status: Option<std::process::ExitStatus>) -> String {
    match (said.is_empty(), status) {
        (false, _) => said.to_owned(),
        (true, Some(status)) => status.to_string(),
        (true, None) => "no message".to_owned(),
    }
}

/// Starts journalctl with its output to us, in a process group of its
/// own (a Ctrl-C meant for logs2eca is logs2eca's to act on).
fn spawn(mut command: Command) -> Result<Child, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // journalctl would colour or page for a terminal; a pipe is none,
        // but the environment may still ask.
        .env("SYSTEMD_PAGER", "")
        .env_remove("SYSTEMD_COLORS");
    command
        .spawn()
        .map_err(|err| format!("cannot run journalctl: {err}"))
}

/// The command that runs journalctl: found in `PATH`, and run under
/// `stdbuf -o 1M` where that works. journalctl writes into a pipe 4 KiB at
/// a time (stdio's buffer for a pipe), and each write wakes logs2eca for a
/// short read; with a 1 MiB buffer a backlog crosses in pipe-fulls, which
/// measured a fifth less CPU for both (BENCHMARKS.md). journalctl flushes
/// whenever it has caught up, so a live entry waits for nothing.
fn journalctl() -> Result<Command, String> {
    static FOUND: OnceLock<Result<(PathBuf, Option<PathBuf>), String>> = OnceLock::new();
    let (journalctl, stdbuf) = FOUND
        .get_or_init(|| {
            let journalctl = find_program(JOURNALCTL).ok_or_else(|| {
                "cannot run journalctl: not found in PATH (logs2eca reads the journal with \
                 journalctl, part of systemd)"
                    .to_owned()
            })?;
            // stdbuf works by preloading a library into the program: try
            // it once, and do without where it cannot.
            let stdbuf = find_program("stdbuf").filter(|stdbuf| {
                Command::new(stdbuf)
                    .args([STDBUF_OUTPUT, "true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            });
            Ok((journalctl, stdbuf))
        })
        .clone()?;
    Ok(match stdbuf {
        Some(stdbuf) => {
            let mut command = Command::new(stdbuf);
            command.arg(STDBUF_OUTPUT).arg(journalctl);
            command
        }
        None => Command::new(journalctl),
    })
}

/// journalctl's output buffer under stdbuf.
const STDBUF_OUTPUT: &str = "--output=1M";

/// Where `execvp` would find `name`.
fn find_program(name: &str) -> Option<PathBuf> {
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

enum ProbeKind<'a> {
    /// The newest entry the settings select.
    Newest,
    /// The first entry at or after this cursor, whatever the settings
    /// select.
    From(&'a str),
}

/// The cursor and received time of one entry, by a journalctl run of its
/// own; an error says what journalctl said.
fn first_entry(
    settings: &Settings,
    kind: ProbeKind,
) -> Result<Option<(String, Option<u64>)>, String> {
    let mut command = journalctl()?;
    command.args(["--output=json", "--quiet", "--no-pager"]);
    command.args(settings.journal_args());
    match kind {
        ProbeKind::Newest => {
            command.args(["--lines=1"]);
            command.args(settings.entry_args());
        }
        ProbeKind::From(cursor) => {
            command.arg(format!("--cursor={cursor}"));
        }
    }
    let mut child = spawn(command)?;
    let mut line = Vec::new();
    let read = match child.stdout.take() {
        Some(stdout) => BufReader::new(stdout).read_until(b'\n', &mut line),
        None => Ok(0),
    };
    // Only the first entry matters: the rest may be the whole journal.
    let _ = child.kill();
    let mut said = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut said);
    }
    let status = child.wait().ok();
    if let Err(err) = read {
        return Err(format!("cannot read journalctl's output: {err}"));
    }
    let said = said.trim();
    if line.is_empty() {
        // Killed by us after the first line is no failure; nothing printed
        // and a failure is.
        if status.is_some_and(|s| !s.success()) || !said.is_empty() {
            return Err(format!("journalctl: {}", said_or(said, status)));
        }
        return Ok(None);
    }
    let entry = Entry::parse(&line).map_err(|err| format!("journalctl printed no entry: {err}"))?;
    Ok(entry
        .cursor
        .as_deref()
        .map(|cursor| (cursor.to_owned(), entry.received_us())))
}

/// The received time a cursor carries (`t=` in hexadecimal microseconds).
pub fn cursor_time(cursor: &str) -> Option<u64> {
    cursor
        .split(';')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
}

fn local_machine_id() -> Option<Vec<u8>> {
    let id = std::fs::read_to_string("/etc/machine-id").ok()?;
    let id = id.trim();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.as_bytes().to_vec())
}

/// Why the journal of `settings` cannot be read, if it cannot (what a
/// start would exit 1 with).
pub fn check_access(settings: &Settings) -> Result<(), String> {
    access::check(settings.directory.as_deref())
}

/// The variables [`command_env`] sets, by name: a held match restored
/// from the state gets back only these.
const VARIABLES: [&str; 6] = [
    "LOGS2ECA_JOURNAL_UNIT",
    "LOGS2ECA_JOURNAL_IDENTIFIER",
    "LOGS2ECA_JOURNAL_PID",
    "LOGS2ECA_JOURNAL_PRIORITY",
    "LOGS2ECA_JOURNAL_HOSTNAME",
    "LOGS2ECA_JOURNAL_CURSOR",
];

/// `name` if it is one of the variables an entry gives its command.
pub fn known_variable(name: &str) -> Option<&'static str> {
    VARIABLES.iter().copied().find(|known| *known == name)
}

/// The entry's own time (SPEC §11): when the program logged it, else when
/// the journal received it. The command gets it as `LOGS2ECA_MATCH_TIME`,
/// as any line's time.
pub fn entry_time(entry: &Entry) -> Option<crate::react::linetime::Time> {
    let us = entry.time_us()?;
    Some(crate::react::linetime::Time::from_system(
        std::time::UNIX_EPOCH + Duration::from_micros(us),
    ))
}

/// What the command gets of the entry, besides its line and its time.
pub fn command_env(entry: &Entry) -> Vec<(&'static str, Vec<u8>)> {
    let mut env = Vec::with_capacity(6);
    let fields = [
        ("LOGS2ECA_JOURNAL_UNIT", &entry.unit),
        ("LOGS2ECA_JOURNAL_IDENTIFIER", &entry.identifier),
        ("LOGS2ECA_JOURNAL_PID", &entry.pid),
        ("LOGS2ECA_JOURNAL_PRIORITY", &entry.priority),
        ("LOGS2ECA_JOURNAL_HOSTNAME", &entry.hostname),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            env.push((name, value.as_bytes().to_vec()));
        }
    }
    if let Some(cursor) = &entry.cursor {
        env.push(("LOGS2ECA_JOURNAL_CURSOR", cursor.as_bytes().to_vec()));
    }
    env
}

/// Checks `--journal-match` words as journalctl reads them: `FIELD=VALUE`
/// with FIELD in upper case, digits and `_`, an absolute path (journalctl
/// matches the executable), or `+`.
pub fn check_match(word: &str) -> Result<(), String> {
    if word == "+" || word.starts_with('/') {
        return Ok(());
    }
    let Some((field, _)) = word.split_once('=') else {
        return Err(format!(
            "'{word}' is not a match: expected FIELD=VALUE, '+' or an absolute path"
        ));
    };
    let valid = !field.is_empty()
        && !field.starts_with(|c: char| c.is_ascii_digit())
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(format!(
            "'{word}': a journal field name is upper-case letters, digits and '_' (as MESSAGE_ID, _SYSTEMD_UNIT)"
        ));
    }
    Ok(())
}

impl SourceCheckpoint for Journal {
    fn checkpoint(&self) -> SourcePiece {
        SourcePiece::Journal(self.position())
    }

    /// The entries read: the cursor moves with each.
    fn generation(&self) -> u64 {
        Journal::progress(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal that reads nothing itself: lines are fed to it.
    fn fed(skip: Option<&str>) -> Journal {
        Journal {
            settings: Settings::default(),
            once: false,
            machine: Some(b"m1".to_vec()),
            reader: None,
            cursor: None,
            time_us: None,
            skip: skip.map(str::to_owned),
            read: 0,
            chunk: Vec::new(),
            partial: Vec::new(),
            discarding: false,
            restart_at: None,
            more: false,
            retry: FIRST_RETRY,
            failed_starts: 0,
            ended: false,
            error: None,
            bad_line_warned: false,
        }
    }

    fn feed(journal: &mut Journal, chunks: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        for chunk in chunks {
            journal.take_lines(chunk, &mut |message, _| {
                got.push(String::from_utf8_lossy(message).into_owned())
            });
        }
        got
    }

    #[test]
    fn lines_split_across_reads_are_whole_entries() {
        let mut journal = fed(None);
        let got = feed(
            &mut journal,
            &[
                br#"{"__CURSOR":"a","MESSAGE":"x"}"#,
                b"\n{\"__CUR",
                br#"SOR":"b","MESSAGE":"y"}"#,
                b"\n\n{\"__CURSOR\":\"c\"}\n",
            ],
        );
        assert_eq!(got, ["x", "y"]);
        // An entry without a MESSAGE still moves the position.
        assert_eq!(journal.position().cursor.as_deref(), Some("c"));
        assert_eq!(journal.progress(), 3);
    }

    #[test]
    fn the_entry_resumed_from_is_dropped_once_and_other_machines_skipped() {
        let mut journal = fed(Some("a"));
        let lines = concat!(
            r#"{"__CURSOR":"a","MESSAGE":"x"}"#,
            "\n",
            r#"{"__CURSOR":"b","MESSAGE":"y","_MACHINE_ID":"m2"}"#,
            "\n",
            r#"{"__CURSOR":"a","MESSAGE":"x again"}"#,
            "\n",
            r#"{"__CURSOR":"d","MESSAGE":"z","_MACHINE_ID":"m1"}"#,
            "\n",
        );
        let got = feed(&mut journal, &[lines.as_bytes()]);
        assert_eq!(got, ["x again", "z"]);
        assert_eq!(journal.position().cursor.as_deref(), Some("d"));
        // The first entry is not the one read last: nothing is dropped.
        let mut journal = fed(Some("gone"));
        let got = feed(&mut journal, &[b"{\"__CURSOR\":\"e\",\"MESSAGE\":\"w\"}\n"]);
        assert_eq!(got, ["w"]);
    }

    #[test]
    fn lines_that_are_not_entries_are_reported_once_and_skipped() {
        use crate::report::event::{Event, record};
        let mut journal = fed(None);
        let (got, events) = record(|| {
            feed(
                &mut journal,
                &[b"not json\n{\"__CURSOR\":\"a\",\"MESSAGE\":\"x\"}\n[1]\n"],
            )
        });
        assert_eq!(got, ["x"]);
        assert!(
            matches!(
                &events[..],
                [Event::Journal(JournalEvent::NotAnEntry { .. })]
            ),
            "{events:?}"
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_is_read() {
        let mut journal = fed(None);
        let big = vec![b'x'; MAX_JSON_LINE / 2 + 1];
        let got = feed(
            &mut journal,
            &[
                &big,
                &big,
                &big,
                b"\n{\"__CURSOR\":\"b\",\"MESSAGE\":\"y\"}\n",
            ],
        );
        assert_eq!(got, ["y"]);
        assert!(journal.partial.capacity() < MAX_JSON_LINE);
    }

    #[test]
    fn a_cursor_carries_its_time() {
        let cursor = "s=af76;i=8;b=2222;m=1b58;t=60a24181e5b58;x=6d24";
        assert_eq!(cursor_time(cursor), Some(0x0006_0a24_181e_5b58));
        assert_eq!(cursor_time("s=1;i=2"), None);
    }

    #[test]
    fn matches_are_checked_as_journalctl_reads_them() {
        for good in [
            "_SYSTEMD_UNIT=ssh.service",
            "+",
            "MESSAGE=a b=c",
            "/usr/sbin/sshd",
            "X=",
        ] {
            assert_eq!(check_match(good), Ok(()), "{good}");
        }
        for bad in ["ssh", "_systemd_unit=x", "=x", "1A=x", "A B=c"] {
            assert!(check_match(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn units_and_matches_follow_the_options() {
        let settings = Settings {
            units: vec!["ssh".into()],
            matches: vec!["PRIORITY=3".into(), "+".into(), "_COMM=sshd".into()],
            directory: Some("/j".into()),
        };
        assert_eq!(settings.journal_args(), ["--merge", "--directory", "/j"]);
        assert_eq!(
            settings.entry_args(),
            ["--unit", "ssh", "PRIORITY=3", "+", "_COMM=sshd"]
        );
    }

    #[test]
    fn every_variable_of_an_entry_is_known_to_a_restore() {
        let line = br#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":"m","_SYSTEMD_UNIT":"u","SYSLOG_IDENTIFIER":"i","_PID":"1","PRIORITY":"3","_HOSTNAME":"h"}"#;
        let names: Vec<&str> = command_env(&Entry::parse(line).unwrap())
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, VARIABLES);
        assert_eq!(
            known_variable("LOGS2ECA_JOURNAL_PID"),
            Some("LOGS2ECA_JOURNAL_PID")
        );
        assert_eq!(known_variable("PATH"), None);
    }

    #[test]
    fn the_command_gets_the_fields_that_are_there() {
        let line = br#"{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":"m","_SYSTEMD_UNIT":"ssh.service","_PID":"7"}"#;
        let entry = Entry::parse(line).unwrap();
        let env = command_env(&entry);
        let names: Vec<&str> = env.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "LOGS2ECA_JOURNAL_UNIT",
                "LOGS2ECA_JOURNAL_PID",
                "LOGS2ECA_JOURNAL_CURSOR"
            ]
        );
        let time = entry_time(&entry).unwrap();
        assert_eq!(time.to_string(), "2023-11-14T22:13:20Z");
    }
}
