//! Is this the file we were reading, and if not, where did it go?
//!
//! A saved file is known by device and inode, checked against a hash of its
//! first bytes and of the bytes just before the saved offset: an inode
//! number is reused by the next file created, and a file truncated in place
//! and refilled past the offset keeps its inode, so the number alone would
//! resume in the middle of foreign content. When the path names another
//! file, the old one is looked for by identity in the directories it may
//! have been rotated into. Only these decisions live here; reading is the
//! follower's.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::FileRecord;
use super::encoding;
use crate::input::file::follow::read_at_most;

/// How many bytes a fingerprint covers at most.
pub const FINGERPRINT_MAX: u64 = 1024;

/// Directory entries stat'ed at most by one [`find_by_id`]: a start next to
/// a directory of a million files stays quick. Entries whose inode number
/// (from the directory itself) matches are always checked.
pub const MAX_STATS: usize = 10_000;

/// A hash of some bytes of a file and how many bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    #[serde(with = "encoding::hex")]
    pub fnv1a: u64,
}

impl Fingerprint {
    /// The fingerprint of `len` bytes of `file` from `start`; fewer if the
    /// file ends before.
    pub fn of(file: &File, start: u64, len: u64) -> io::Result<Fingerprint> {
        let mut buf = [0; FINGERPRINT_MAX as usize];
        let want = len.min(FINGERPRINT_MAX) as usize;
        let n = read_at_most(file, &mut buf[..want], start)?;
        Ok(Fingerprint {
            len: n as u64,
            fnv1a: fnv1a(&buf[..n]),
        })
    }

    /// Do `len` bytes from `start` still hash the same? `false` if the file
    /// no longer has them all.
    fn matches(&self, file: &File, start: u64) -> io::Result<bool> {
        Ok(Fingerprint::of(file, start, self.len)? == *self)
    }
}

/// 64-bit FNV-1a: a few lines, no dependency, and the same on every
/// platform and Rust version, which `std`'s `DefaultHasher` is not (the
/// state outlives the binary that wrote it). It only has to tell a file's
/// own bytes from other bytes, not resist an adversary who can already
/// write the log.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

impl FileRecord {
    /// Records `file`, last seen at `path`, with `offset` the first byte not
    /// yet processed.
    pub fn capture(file: &File, path: &Path, offset: u64) -> io::Result<FileRecord> {
        let meta = file.metadata()?;
        let tail_len = offset.min(FINGERPRINT_MAX);
        Ok(FileRecord {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
            offset,
            len: meta.len(),
            head: Fingerprint::of(file, 0, FINGERPRINT_MAX)?,
            tail: Fingerprint::of(file, offset - tail_len, tail_len)?,
            skipping: false,
        })
    }

    fn is(&self, meta: &Metadata) -> bool {
        meta.dev() == self.dev && meta.ino() == self.ino
    }
}

/// How a file compares to a saved record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The recorded file, unchanged up to the offset: continue there.
    Same { offset: u64 },
    /// The recorded device and inode, but not the recorded content.
    Rewritten(Rewrite),
    /// Another file.
    Other,
}

/// Why a file with the recorded identity is read from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Shorter than what was read (truncated in place, as copytruncate does).
    Truncated,
    /// Its first bytes differ: truncated and refilled, or a new file that
    /// got the old inode number.
    HeadChanged,
    /// The bytes before the offset differ: rewritten in place.
    TailChanged,
}

impl std::fmt::Display for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rewrite::Truncated => "it was truncated",
            Rewrite::HeadChanged => "its first bytes changed (truncated, or a new file)",
            Rewrite::TailChanged => "the bytes before the saved position changed",
        })
    }
}

/// Compares an open file (and its metadata) with `record`.
pub fn classify(record: &FileRecord, file: &File, meta: &Metadata) -> io::Result<Match> {
    if !record.is(meta) {
        return Ok(Match::Other);
    }
    // The fingerprints may reach past the offset (the head covers what the
    // file held when recorded): a file shorter than either has shrunk.
    let size = meta.len();
    if size < record.offset || size < record.head.len {
        return Ok(Match::Rewritten(Rewrite::Truncated));
    }
    if !record.head.matches(file, 0)? {
        return Ok(Match::Rewritten(Rewrite::HeadChanged));
    }
    if !record
        .tail
        .matches(file, record.offset - record.tail.len.min(record.offset))?
    {
        return Ok(Match::Rewritten(Rewrite::TailChanged));
    }
    Ok(Match::Same {
        offset: record.offset,
    })
}

/// The recorded file, found where it was rotated to.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub file: File,
    /// Where to continue reading it.
    pub offset: u64,
}

/// What to do with a saved record at start.
#[derive(Debug)]
pub enum Recovery {
    /// The file at the path is the recorded one: continue at `offset`.
    Resume { offset: u64 },
    /// The file at the path has the recorded identity but other content:
    /// read it from 0.
    FromStart(Rewrite),
    /// The recorded file is elsewhere (rotated while the daemon was down):
    /// read it from `found.offset` to its end; the file at the path, if any,
    /// is a new one, read from 0.
    Rotated(Found),
    /// The recorded file is no more (deleted, or its inode now holds other
    /// content). `unread_bytes`: how many bytes past the offset it held when
    /// recorded, if any; whatever was written after that is lost too.
    Gone { unread_bytes: Option<u64> },
}

/// Decides where a saved file stands. `at_path` is the file now at the
/// followed path, opened, if there is one; `dirs` are where to look for
/// the recorded file otherwise (see [`super::State::candidate_dirs`]). For
/// a rotated file's record, pass `None` as `at_path`.
pub fn resolve(
    record: &FileRecord,
    at_path: Option<(&File, &Metadata)>,
    dirs: &[PathBuf],
) -> io::Result<Recovery> {
    if let Some((file, meta)) = at_path {
        match classify(record, file, meta)? {
            Match::Same { offset } => return Ok(Recovery::Resume { offset }),
            Match::Rewritten(why) => return Ok(Recovery::FromStart(why)),
            Match::Other => {}
        }
    }
    let gone = Recovery::Gone {
        unread_bytes: Some(record.len.saturating_sub(record.offset)).filter(|&n| n > 0),
    };
    let Some(path) = find_by_id(record.dev, record.ino, dirs) else {
        return Ok(gone);
    };
    let file = match open_read_only(&path) {
        Ok(file) => file,
        // Renamed or deleted between the search and the open.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(gone),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    Ok(match classify(record, &file, &meta)? {
        Match::Same { offset } => Recovery::Rotated(Found { path, file, offset }),
        // Someone else's content under the old number is not the old file.
        Match::Rewritten(_) | Match::Other => gone,
    })
}

/// The path of a regular file with this device and inode in one of `dirs`
/// (not descending into subdirectories; symbolic links are not followed).
/// Unreadable directories are skipped.
pub fn find_by_id(dev: u64, ino: u64, dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut stats = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // The inode number from the directory usually settles it without
            // a stat; some file systems (overlayfs) may report another one
            // there than `stat` does, hence the bounded fallback.
            if entry.ino() != ino {
                if stats >= MAX_STATS {
                    continue;
                }
                stats += 1;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() && meta.dev() == dev && meta.ino() == ino {
                return Some(entry.path());
            }
        }
    }
    None
}

/// As the follower opens files (see `trusted_open`).
fn open_read_only(path: &Path) -> io::Result<File> {
    crate::trusted_open::open_log(path)
}
