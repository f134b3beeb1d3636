//! Is this the file we were reading, and if not, where did it go?
//!
//! A saved file is known by its identity (`input::file::identity`: device,
//! inode, birth time, hashes of its first bytes and of the bytes just
//! before the saved offset), compared as the follower compares an open
//! file: an inode number is reused by the next file created, and a file
//! truncated in place and refilled past the offset keeps its inode, so the
//! number alone would resume in the middle of foreign content. When the path names another
//! file, the old one is looked for by identity in the directories it may
//! have been rotated into. Only these decisions live here; reading is the
//! follower's.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::FileRecord;
use crate::input::file::identity::{Match, Rewrite};

/// Directory entries stat'ed at most by one [`find_by_id`]: a start next to
/// a directory of a million files stays quick. Entries whose inode number
/// (from the directory itself) matches are always checked.
pub const MAX_STATS: usize = 10_000;

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
        match record.at.compare(file, meta)? {
            Match::Same { offset } => return Ok(Recovery::Resume { offset }),
            Match::Rewritten(why) => return Ok(Recovery::FromStart(why)),
            Match::Other => {}
        }
    }
    let gone = Recovery::Gone {
        unread_bytes: Some(record.len.saturating_sub(record.at.offset)).filter(|&n| n > 0),
    };
    let id = record.at.identity.id;
    let Some(path) = find_by_id(id.dev, id.ino, dirs) else {
        return Ok(gone);
    };
    let file = match open_read_only(&path) {
        Ok(file) => file,
        // Renamed or deleted between the search and the open.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(gone),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    Ok(match record.at.compare(&file, &meta)? {
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
