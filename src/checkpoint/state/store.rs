//! The state file on disk: one owner at a time, written atomically, and
//! never a reason for monitoring to stop.
//!
//! Beside FILE live FILE.lock (the `flock` that keeps a second instance
//! off, holding the owner's pid for the message), FILE.tmp (where the next
//! version is written before it is renamed over FILE) and, after a bad
//! file was found, FILE.bad. The lock is on its own file because the state
//! file itself is replaced at every save: a lock on it would be on the old
//! inode, and a second instance opening the new one would get its own.
//!
//! At start everything that can be checked is: the directory must be
//! writable (exit 1 naming it), the lock free (exit 1 naming the holder).
//! A state that cannot be understood is moved aside with a warning: a bad
//! state file never keeps monitoring from starting. At run time a failed
//! save is warned about once and retried at the next one.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::trusted_open;

use super::State;

#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    temp: PathBuf,
    /// The directory, kept open to make each rename durable.
    dir: File,
    /// Holds the `flock` for as long as the daemon runs; the kernel drops it
    /// when the process ends, however it ends.
    _lock: File,
    /// The last save failed (and was warned about).
    failing: bool,
    /// The size of the last document written.
    last_len: u64,
}

/// How a [`StateFile::save`] went; the logging is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Written,
    /// Written after failures (logged as recovered).
    Recovered,
    /// Failed, and warned about.
    Failed,
    /// Failed again: already warned about.
    FailedAgain,
}

/// What `--check` says of the state file at `path`, without taking its
/// lock (the service that holds it may be running): an error when a start
/// would fail on it.
pub fn inspect(path: &Path) -> std::result::Result<String, String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let Some(dir) = dir else {
        return Err(format!("invalid state file {}", path.display()));
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "the state directory {} is not a directory",
                dir.display()
            ));
        }
        Err(err) => return Err(format!("the state directory {}: {err}", dir.display())),
    }
    if let Err(err) = crate::sys::access(dir, libc::W_OK) {
        return Err(format!(
            "cannot write to the state directory {}: {err}",
            dir.display()
        ));
    }
    let dir_file =
        File::open(dir).map_err(|err| format!("the state directory {}: {err}", dir.display()))?;
    trusted_open::check_state_dir(&dir_file, dir)?;
    match trusted_open::read_state(path) {
        Ok(None) => Ok("none yet: a start begins as without one".to_owned()),
        Err(err) => Err(format!(
            "cannot read the state file {}: {err}",
            path.display()
        )),
        Ok(Some(bytes)) if is_foreign(&bytes) => Err(foreign(path)),
        Ok(Some(bytes)) => Ok(match State::from_json(&bytes) {
            Ok(state) => format!(
                "a saved position for {}{}",
                state.path.display(),
                state.files.current.map_or(String::new(), |file| format!(
                    " at offset {}",
                    file.at.offset
                ))
            ),
            Err(why) => format!("unusable ({why}): a start moves it aside to .bad"),
        }),
    }
}

impl StateFile {
    /// Takes the state file at `path` (absolute) for this process and reads
    /// it: `None` on a first start, or when the file was unusable (then it
    /// was moved aside, with a warning). Fails (exit 1) when the directory
    /// cannot be written or another process holds the lock.
    pub fn open(path: &Path) -> Result<(StateFile, Option<State>)> {
        let dir_path = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => {
                return Err(Error::failure(format!(
                    "invalid state file {}",
                    path.display()
                )));
            }
        };
        let unwritable = |err: io::Error| {
            Error::failure(format!(
                "cannot write to the state directory {}: {err}",
                dir_path.display()
            ))
        };
        let dir = File::open(dir_path).map_err(unwritable)?;
        if !dir.metadata().map_err(unwritable)?.is_dir() {
            return Err(unwritable(io::Error::from(io::ErrorKind::NotADirectory)));
        }
        trusted_open::check_state_dir(&dir, dir_path).map_err(Error::failure)?;
        let lock = trusted_open::open_lock(&beside(path, "lock")).map_err(|err| {
            match trusted_open::is_refusal(&err) {
                true => Error::failure(format!("cannot lock {}: {err}", path.display())),
                false => unwritable(err),
            }
        })?;
        take_lock(&lock).map_err(|err| match err.kind() {
            io::ErrorKind::WouldBlock => Error::failure(format!(
                "the state file {} is in use by {}",
                path.display(),
                holder(&lock)
            )),
            _ => Error::failure(format!("cannot lock {}: {err}", path.display())),
        })?;
        record_holder(&lock).map_err(unwritable)?;
        let state_file = StateFile {
            path: path.to_path_buf(),
            temp: beside(path, "tmp"),
            dir,
            _lock: lock,
            failing: false,
            last_len: 0,
        };
        // The lock file may be older than a change that made the directory
        // read-only: only creating a file proves that saving will work.
        create_temp(&state_file.temp).map_err(unwritable)?;
        let _ = fs::remove_file(&state_file.temp);
        let state = state_file.load()?;
        Ok((state_file, state))
    }

    fn load(&self) -> Result<Option<State>> {
        let bytes = match trusted_open::read_state(&self.path) {
            Ok(Some(bytes)) if is_foreign(&bytes) => {
                return Err(Error::failure(foreign(&self.path)));
            }
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(err) => {
                return Err(Error::failure(format!(
                    "cannot read the state file {}: {err}",
                    self.path.display()
                )));
            }
        };
        match State::from_json(&bytes) {
            Ok(state) => Ok(Some(state)),
            Err(why) => {
                let bad = beside(&self.path, "bad");
                match fs::rename(&self.path, &bad) {
                    Ok(()) => log::warn!(
                        "the state file {} is unusable ({why}): moved it to {}, starting without a state",
                        self.path.display(),
                        bad.display()
                    ),
                    // The next save replaces it anyway.
                    Err(err) => log::warn!(
                        "the state file {} is unusable ({why}) and cannot be moved to {} ({err}): starting without a state",
                        self.path.display(),
                        bad.display()
                    ),
                }
                Ok(None)
            }
        }
    }

    /// [`StateFile::save_then`] with nothing to do before the rename.
    #[cfg(test)]
    pub fn save(&mut self, state: &State) -> SaveOutcome {
        self.save_then(state, &mut || {})
    }

    /// Writes `state` atomically. A failure is warned about once, until a
    /// save succeeds again; the caller carries on either way.
    /// `before_commit` is called once the new state is on disk under its
    /// temporary name, just before it takes the file's place (not at all
    /// when the write fails before that): what it does comes out before
    /// the state that records it is seen, so a crash can repeat it but
    /// never lose it.
    pub fn save_then(&mut self, state: &State, before_commit: &mut dyn FnMut()) -> SaveOutcome {
        match self.write(state, before_commit) {
            Ok(()) if self.failing => {
                self.failing = false;
                log::info!("the state is saved again to {}", self.path.display());
                SaveOutcome::Recovered
            }
            Ok(()) => SaveOutcome::Written,
            Err(err) if self.failing => {
                log::debug!(
                    "cannot save the state to {} (again): {err}",
                    self.path.display()
                );
                SaveOutcome::FailedAgain
            }
            Err(err) => {
                self.failing = true;
                log::warn!(
                    "cannot save the state to {}: {err}; following on, retrying at the next save",
                    self.path.display()
                );
                SaveOutcome::Failed
            }
        }
    }

    /// Temp file, fsync, rename over, fsync the directory: after a crash
    /// or a power loss the file is the old state or the new one, whole.
    /// The size of the last document written (or tried).
    pub fn last_len(&self) -> u64 {
        self.last_len
    }

    fn write(&mut self, state: &State, before_commit: &mut dyn FnMut()) -> io::Result<()> {
        let json = state.to_json()?;
        self.last_len = json.len() as u64;
        let result = (|| {
            let mut temp = create_temp(&self.temp)?;
            temp.write_all(&json)?;
            temp.sync_all()?;
            before_commit();
            fs::rename(&self.temp, &self.path)?;
            self.dir.sync_all()
        })();
        if result.is_err() {
            // A partial temp file holds space a full disk needs back.
            let _ = fs::remove_file(&self.temp);
        }
        result
    }
}

/// `FILE.ext` beside `FILE`.
fn beside(path: &Path, ext: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(ext);
    name.into()
}

fn create_temp(path: &Path) -> io::Result<File> {
    trusted_open::create_exclusive(path)
}

/// Is this something else than a state file, damaged or not? A state file
/// begins with its version (or is empty: cut by a crash before any byte).
/// A `--state-file` that names some other file is a mistake, and the file
/// is not ours to move aside.
fn is_foreign(bytes: &[u8]) -> bool {
    let text = bytes.trim_ascii_start();
    !(text.is_empty() || text.starts_with(b"{\"version\":"))
}

fn foreign(path: &Path) -> String {
    format!(
        "the state file {} is not a logs2eca state file: refusing to replace it \
         (remove it, or name another --state-file)",
        path.display()
    )
}

/// How long a start waits for a lock that is busy: a command the previous
/// daemon was starting when it was killed holds a copy of the lock's
/// descriptor until its exec closes it. A second daemon really running
/// holds it for good, and is named after this wait.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

fn take_lock(lock: &File) -> io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        let Err(err) = crate::sys::try_lock_exclusive(lock.as_fd()) else {
            return Ok(());
        };
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => return Err(err),
        }
    }
}

/// Our pid in the lock file, for the message of a second instance.
fn record_holder(lock: &File) -> io::Result<()> {
    lock.set_len(0)?;
    lock.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
}

/// Who holds the lock, as well as can be told: the holder writes its pid
/// just after taking the lock, so it may not be there yet.
fn holder(lock: &File) -> String {
    let mut text = [0; 32];
    let n = lock.read_at(&mut text, 0).unwrap_or(0);
    match std::str::from_utf8(&text[..n])
        .ok()
        .map(str::trim)
        .map(str::parse::<u32>)
    {
        Some(Ok(pid)) => format!("another logs2eca (pid {pid})"),
        _ => "another logs2eca".to_owned(),
    }
}
