//! What survives a restart: where reading stopped in each open file, and
//! the cooldowns, so that a stop, a crash or a reboot loses and repeats no
//! line (SPEC §6).
//!
//! The state is a small versioned JSON document, one object per part of
//! the daemon (`files` or `journal`, `gate`, `runner`); its `version` is
//! the tag of [`Document`], and a document of version 1 (every part's
//! fields side by side, as releases before version 2 wrote it) is read
//! through one migration (`v1`). Files are recorded by what
//! they are (device, inode, hashes of their first bytes and of the bytes
//! before the offset) and where they were last seen, so that a file rotated
//! while the daemon was down is found again and one that was replaced is not
//! taken for it (`identity`). Times are wall-clock: a monotonic clock does
//! not survive a reboot. Writing is atomic and rate-limited (`store`,
//! `schedule`).

pub(crate) mod encoding;
mod identity;
mod schedule;
mod store;
mod v1;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::input::file::identity::FilePosition;

pub use identity::{Recovery, resolve};
pub use schedule::{SAVE_INTERVAL, SaveSchedule};
pub use store::{StateFile, inspect};

/// The format of the state file written. Version 1 is read too (and
/// migrated); a file of another version is not guessed at: it is moved
/// aside and the daemon starts as without state.
pub const VERSION: u32 = 2;

/// Everything worth keeping across a restart: what each part of the
/// daemon exports of itself (see `checkpoint`): the source's position
/// ([`FilesRecord`] or [`JournalRecord`]), the gate's keys and held
/// matches ([`GatePiece`]) and the runner's commands ([`RunnerPiece`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The followed path: a state written for another path says nothing
    /// about this one.
    #[serde(with = "encoding::path")]
    pub path: PathBuf,
    /// When the state was written.
    pub saved_unix_ms: WallTime,
    /// Following a path: its files.
    #[serde(default, skip_serializing_if = "FilesRecord::is_empty")]
    pub files: FilesRecord,
    /// Following the journal (§10): where reading is. Absent in states
    /// written for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalRecord>,
    #[serde(default, skip_serializing_if = "GatePiece::is_empty")]
    pub gate: GatePiece,
    #[serde(default, skip_serializing_if = "RunnerPiece::is_empty")]
    pub runner: RunnerPiece,
}

/// The source's piece: where reading is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourcePiece {
    Files(FilesRecord),
    Journal(JournalRecord),
}

/// What a followed path keeps: its files and where rotated ones went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesRecord {
    /// The file at the path, `None` while waiting for one to appear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<FileRecord>,
    /// Rotated files still open (being finished), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotated: Vec<FileRecord>,
    /// Directories rotated files were seen in (logrotate's `olddir`): where
    /// to look for a file rotated while the daemon was down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotated_dirs: Vec<PathBuf>,
}

/// The gate's piece: the keys' windows and cooldowns, the matches it
/// holds, and the settings that give the keys' times their meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatePiece {
    /// Matches handled but not run yet when the state was saved (the
    /// `--wait 0` queue, triggers waiting for a slot), in arrival order:
    /// the next start runs them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldRecord>,
    /// The windows, cooldowns and suppressed counts of the keys that have
    /// any (`--key`; without it, the one key is the empty one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyRecord>,
    /// For `logs2eca status` (a start goes by its own settings, not these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<GateSettings>,
}

impl GatePiece {
    fn is_empty(&self) -> bool {
        *self == GatePiece::default()
    }
}

impl RunnerPiece {
    fn is_empty(&self) -> bool {
        *self == RunnerPiece::default()
    }
}

/// The runner's piece: what runs and what is to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerPiece {
    /// Runs to do or to do again (SPEC §4): commands that were running or
    /// that a stop interrupted (at once at the next start), retries backing
    /// off and undos not due yet (at their times). A state without them
    /// (an older one) reads as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobRecord>,
    /// The commands running when the state was saved: what identifies
    /// each (its process group and its leader's start time), so that a
    /// start after a crash can end one still running before its key runs
    /// again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<RunningRecord>,
}

/// A command that was running: its process group (the leader's pid), the
/// leader's start time in clock ticks since boot (`/proc/PID/stat`), and
/// its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningRecord {
    pub pgid: i32,
    pub start_ticks: u64,
    #[serde(with = "encoding::bytes")]
    pub key: Vec<u8>,
}

/// The cooldown and threshold the keys were kept under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSettings {
    pub wait_ms: u64,
    pub threshold: u32,
    pub window_ms: u64,
}

/// The position in the journal: the cursor of the last entry read, and
/// when the journal received it (for the warning when it is vacuumed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// `None`: no entry read yet; the next start begins at the oldest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_unix_us: Option<u64>,
}

impl State {
    /// An empty state for `path`, written at `now`.
    #[cfg(test)]
    pub fn new(path: &Path, now: WallTime) -> Self {
        State::of(
            path,
            now,
            SourcePiece::Files(FilesRecord::default()),
            GatePiece::default(),
            RunnerPiece::default(),
        )
    }

    /// The state made of the parts' pieces.
    pub fn of(
        path: &Path,
        now: WallTime,
        source: SourcePiece,
        gate: GatePiece,
        runner: RunnerPiece,
    ) -> Self {
        let (files, journal) = match source {
            SourcePiece::Files(files) => (files, None),
            SourcePiece::Journal(journal) => (FilesRecord::default(), Some(journal)),
        };
        State {
            path: path.to_path_buf(),
            saved_unix_ms: now,
            files,
            journal,
            gate,
            runner,
        }
    }

    /// The document as written to disk.
    pub fn to_json(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec(&DocumentRef::V2(self))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads a document written by [`State::to_json`], or by a release
    /// that wrote version 1; the error says why it is not one, in a few
    /// words.
    pub fn from_json(bytes: &[u8]) -> Result<State, String> {
        let Versioned { version } =
            serde_json::from_slice(bytes).map_err(|err| format!("not a logs2eca state: {err}"))?;
        let damaged = |err: serde_json::Error| format!("damaged: {err}");
        let document = match version {
            // Version 1 wrote its version as a number.
            Tag::Number(1) => Document::V1(serde_json::from_slice(bytes).map_err(damaged)?),
            Tag::Text(text) if text == "1" || text == "2" => {
                serde_json::from_slice(bytes).map_err(damaged)?
            }
            // Only version 1 was ever a number: a number 2 is no version
            // logs2eca wrote, and the message says how it would be.
            Tag::Number(other) => return Err(unknown_version(&format!("{other} (a number)"))),
            Tag::Text(other) => return Err(unknown_version(&format!("{other:?}"))),
        };
        Ok(match document {
            Document::V1(old) => v1::migrate(old),
            Document::V2(state) => state,
        })
    }
}

fn unknown_version(version: &str) -> String {
    format!(
        "version {version}, this logs2eca reads version 1 (a number) and \"{VERSION}\" (a string)"
    )
}

/// The state file's document: the version is its tag.
#[derive(Deserialize)]
#[serde(tag = "version")]
enum Document {
    #[serde(rename = "1")]
    V1(v1::State),
    #[serde(rename = "2")]
    V2(State),
}

/// As [`Document`], borrowed, to write (always the newest version).
#[derive(Serialize)]
#[serde(tag = "version")]
enum DocumentRef<'a> {
    #[serde(rename = "2")]
    V2(&'a State),
}

/// The version is read on its own first, so that a document of another
/// version is reported as such rather than as damaged.
#[derive(Deserialize)]
struct Versioned {
    version: Tag,
}

/// A version as a tag (`"2"`), or as version 1 wrote it (`1`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Tag {
    Number(u64),
    Text(String),
}

impl FilesRecord {
    fn is_empty(&self) -> bool {
        *self == FilesRecord::default()
    }

    /// Where the recorded files may be now: the directories they were last
    /// seen in and the followed path's own, each once, in that order.
    pub fn candidate_dirs(&self, followed: &Path) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let seen = self.current.iter().chain(&self.rotated).map(|r| &r.path);
        for path in seen.chain(std::iter::once(&followed.to_path_buf())) {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dirs.iter().any(|d| d == dir)
            {
                dirs.push(dir.to_path_buf());
            }
        }
        for dir in &self.rotated_dirs {
            if !dirs.contains(dir) {
                dirs.push(dir.clone());
            }
        }
        dirs
    }
}

/// One file being read: which file it is and how far it was processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Where the file was last seen: where to look for it first.
    #[serde(with = "encoding::path")]
    pub path: PathBuf,
    /// The file, and the first byte not yet processed in it (a held
    /// partial line is not): `dev`, `ino`, `born_ns` (where known),
    /// `head`, `tail` and `offset`.
    #[serde(flatten)]
    pub at: FilePosition,
    /// The file's size when the record was made: bytes past `offset` were
    /// there and unread, which is worth saying if the file is lost.
    pub len: u64,
}

/// A match held by the gate: its line (as much of it as the command
/// sees), which holds its key and capture groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRecord {
    #[serde(with = "encoding::bytes")]
    pub line: Vec<u8>,
    /// It had reached the threshold and waited for a slot (a trigger), as
    /// opposed to a match queued behind its key's run (`--wait 0`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trigger: bool,
    /// Its key, taken from the whole line: a start takes it again from a
    /// line kept whole, and keeps this one for a line kept cut (its key
    /// groups may lie past the cut).
    #[serde(
        default,
        with = "encoding::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub key: Vec<u8>,
    /// `key` is not to be trusted: a start takes the key from the line,
    /// even a cut one. Set by the migration of a version-1 record, which
    /// kept a key for `logs2eca status` only (empty for a match queued
    /// behind its key's run), and whose start took it from the line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_from_line: bool,
    /// What the source told the command besides the line (a journal
    /// entry's fields and time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldRecord>,
}

/// One variable a held match's command gets besides the line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRecord {
    pub name: String,
    #[serde(with = "encoding::bytes")]
    pub value: Vec<u8>,
}

/// The window and cooldown of one key (§7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's bytes (capture groups need not be UTF-8).
    #[serde(with = "encoding::bytes")]
    pub key: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_end_unix_ms: Option<WallTime>,
    #[serde(default)]
    pub suppressed: u64,
    /// The times (§11) of the matches in the current threshold window,
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_unix_ms: Vec<WallTime>,
}

/// A run of the command (`do`) or of its undo (`undo`) still to do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// `do` or `undo`.
    pub action: String,
    #[serde(with = "encoding::bytes")]
    pub key: Vec<u8>,
    /// The match's variables the run is given, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvRecord>,
    /// `LOGS2ECA_ATTEMPT`, from 1.
    pub attempt: u32,
    /// When it is due; none: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_unix_ms: Option<WallTime>,
    /// An undo held back until its key's command, to run again, ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

/// One variable of a run's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvRecord {
    pub name: String,
    #[serde(with = "encoding::bytes")]
    pub value: Vec<u8>,
}

/// A wall-clock time in milliseconds since the Unix epoch: exact in JSON,
/// and meaningful after a reboot, which an `Instant` is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WallTime(u64);

impl WallTime {
    /// Times before 1970 (a clock not yet set) count as 1970.
    pub fn from_system(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        WallTime(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    #[cfg(test)]
    pub fn from_unix_ms(ms: u64) -> Self {
        WallTime(ms)
    }

    pub fn to_system(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

#[cfg(test)]
mod tests;
