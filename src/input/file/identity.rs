//! What a file is, as one type used while it is open and in the state
//! file: [`FileId`] (device, inode, and birth time where the file system
//! keeps one) says which file object it is, and [`FileIdentity`] adds
//! what it held: a hash of its first bytes and one of the bytes just
//! before a position in it. [`FileIdentity::compare`] is the one way an
//! open file is checked against what was known of it: by the follower
//! at every look (a truncation), for a closed file that comes back, and
//! for a saved file at start.
//!
//! The inode number alone is not enough: a file deleted and closed frees
//! its number for the next file created, which may begin with the same
//! bytes (a header, a date); its birth time differs. Not on overlayfs,
//! where a file of a lower layer gets a new birth time, and keeps its
//! device and inode, when the first write copies it up: there the birth
//! time is left unknown (see [`fstype::keeps_birth`]), and the hashes
//! tell, as on a file system that keeps none. A file truncated in
//! place and refilled past the position keeps its inode and birth time,
//! and maybe its first bytes: the bytes before the position differ. The
//! hashes are of at most [`FINGERPRINT_LEN`] bytes each, so that a check
//! costs two small reads however large the file.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::state::encoding;
use crate::input::file::follow::read_at_most;
use crate::input::file::fstype;

/// How many bytes a fingerprint covers at most.
pub const FINGERPRINT_LEN: usize = 1024;

/// Device and inode: what makes a file the same file across renames. And
/// its birth time where the file system keeps one (statx): an inode number
/// freed by a deleted file is soon given to the next file created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    /// Nanoseconds since the epoch; `None` where it is not known (a file
    /// system without it, a state written before it was kept).
    #[serde(rename = "born_ns", default, skip_serializing_if = "Option::is_none")]
    pub born: Option<u64>,
}

impl FileId {
    /// The open `file`'s identity (`meta` is its metadata).
    pub fn of(file: &File, meta: &Metadata) -> Self {
        Self::with_birth(meta, || fstype::of_file(file))
    }

    /// The identity of the file at `path` (`meta` is its metadata).
    pub fn at(path: &Path, meta: &Metadata) -> Self {
        Self::with_birth(meta, || fstype::of(path))
    }

    /// The birth time is kept only where the file system's says which
    /// file it is (see [`fstype::keeps_birth`]); where its type cannot be
    /// read, it is unknown too: the hashes still tell.
    fn with_birth(meta: &Metadata, f_type: impl FnOnce() -> io::Result<u64>) -> Self {
        let born = birth_ns(meta).filter(|_| f_type().is_ok_and(fstype::keeps_birth));
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            born,
        }
    }

    /// Is the file `meta` describes this one? As [`FileId::is`] with
    /// [`FileId::at`], without its `statfs`: for the look at the path at
    /// every turn. A file on the same device is on the same file system,
    /// so its birth time counts exactly where this one's was kept.
    pub fn is_at(&self, meta: &Metadata) -> bool {
        self.is(&FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            born: birth_ns(meta),
        })
    }

    /// Is `other` the same file object? A birth time known on one side
    /// only is unknown, not a difference.
    pub fn is(&self, other: &FileId) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && match (self.born, other.born) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// The birth time `meta` gives, in nanoseconds since the epoch.
fn birth_ns(meta: &Metadata) -> Option<u64> {
    meta.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        // Some file systems report 0 for "not kept".
        .filter(|&ns| ns != 0)
}

/// A hash of some bytes of a file and how many bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    #[serde(with = "encoding::hex")]
    pub fnv1a: u64,
}

impl Fingerprint {
    /// The fingerprint of no bytes.
    pub const EMPTY: Fingerprint = Fingerprint {
        len: 0,
        fnv1a: FNV_OFFSET_BASIS,
    };

    pub fn of_bytes(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            len: bytes.len() as u64,
            fnv1a: fnv1a(bytes),
        }
    }

    /// The fingerprint of `len` bytes of `file` from `start` (at most
    /// [`FINGERPRINT_LEN`]); fewer if the file ends before.
    pub fn of(file: &File, start: u64, len: u64) -> io::Result<Fingerprint> {
        let mut buf = [0; FINGERPRINT_LEN];
        let want = len.min(FINGERPRINT_LEN as u64) as usize;
        let n = read_at_most(file, &mut buf[..want], start)?;
        Ok(Fingerprint::of_bytes(&buf[..n]))
    }

    /// Do the `self.len` bytes from `start` still hash the same? `false`
    /// if the file no longer has them all.
    fn matches(&self, file: &File, start: u64) -> io::Result<bool> {
        Ok(Fingerprint::of(file, start, self.len)? == *self)
    }
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a: a few lines, no dependency, and the same on every
/// platform and Rust version, which `std`'s `DefaultHasher` is not (the
/// state outlives the binary that wrote it). It only has to tell a file's
/// own bytes from other bytes, not resist an adversary who can already
/// write the log.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// Which file, and what it held: its first bytes read (up to
/// [`FINGERPRINT_LEN`]) and the bytes just before a position (up to as
/// many), as hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    #[serde(flatten)]
    pub id: FileId,
    pub head: Fingerprint,
    pub tail: Fingerprint,
}

/// A place in a file: the file, and an offset in it (the identity's tail
/// is the bytes just before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    #[serde(flatten)]
    pub identity: FileIdentity,
    pub offset: u64,
    /// `offset` is inside a line longer than 1 MiB that reading started
    /// in: the rest of it, up to its `\n`, is skipped, not a line (D13).
    /// Not part of what the file is: no compare looks at it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipping: bool,
}

/// How an open file compares to a [`FilePosition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The same file, unchanged up to the offset: continue there.
    Same { offset: u64 },
    /// The same file object, but not the same content.
    Rewritten(Rewrite),
    /// Another file.
    Other,
}

/// Why a file with the known identity is read from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Shorter than what was read (truncated in place, as copytruncate does).
    Truncated,
    /// Its first bytes differ: truncated and refilled.
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

impl FilePosition {
    /// Compares an open file (and its metadata) with this position: the
    /// one comparison of a file with what was known of it.
    pub fn compare(&self, file: &File, meta: &Metadata) -> io::Result<Match> {
        if !self.identity.id.is(&FileId::of(file, meta)) {
            return Ok(Match::Other);
        }
        self.compare_bytes(file, meta)
    }

    /// [`FilePosition::compare`] for the file this position was taken of,
    /// still open: an open file stays the same file object, so only its
    /// bytes are compared (the follower's look after every change, which
    /// needs no `fstatfs` for the birth time).
    pub fn compare_bytes(&self, file: &File, meta: &Metadata) -> io::Result<Match> {
        let FilePosition {
            identity, offset, ..
        } = self;
        // The head may reach past the offset (it covers what was read,
        // and a partial line read is not processed): a file shorter than
        // either has shrunk.
        let size = meta.len();
        if size < *offset || size < identity.head.len {
            return Ok(Match::Rewritten(Rewrite::Truncated));
        }
        if !identity.head.matches(file, 0)? {
            return Ok(Match::Rewritten(Rewrite::HeadChanged));
        }
        let tail_len = identity.tail.len.min(*offset);
        if tail_len != identity.tail.len || !identity.tail.matches(file, offset - tail_len)? {
            return Ok(Match::Rewritten(Rewrite::TailChanged));
        }
        Ok(Match::Same { offset: *offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The look at the path every turn (`is_at`, no statfs) says what the
    /// full identity of the file at the path would (`is` with `at`).
    #[test]
    fn is_at_agrees_with_the_identity_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"x\n").unwrap();
        std::fs::write(&b, b"x\n").unwrap();
        let file = File::open(&a).unwrap();
        let id = FileId::of(&file, &file.metadata().unwrap());
        for path in [&a, &b] {
            let meta = std::fs::metadata(path).unwrap();
            assert_eq!(id.is_at(&meta), id.is(&FileId::at(path, &meta)), "{path:?}");
        }
        assert!(id.is_at(&std::fs::metadata(&a).unwrap()));
        assert!(!id.is_at(&std::fs::metadata(&b).unwrap()));
    }
}
