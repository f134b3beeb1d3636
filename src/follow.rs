//! One open log file: where we are in it, which file it is, and whether it
//! is still the file we have been reading.
//!
//! The file is identified by device and inode, so a rename or a new file at
//! the path is told apart from appends. Truncation in place (copytruncate) is
//! found by the size dropping below our offset or, when the file was refilled
//! past our offset before we looked, by its first bytes no longer being the
//! ones we read (the fingerprint). The file is only ever opened read-only.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::lines::{LineBuffer, MAX_LINE};

/// How many leading bytes identify the content of a file.
const FINGERPRINT_LEN: usize = 1024;

/// Device and inode: what makes a file the same file across renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Where to start reading a file that is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the beginning: every line is new.
    Beginning,
    /// After the last complete line: what is there already is old.
    End,
}

#[derive(Debug)]
pub struct Follower {
    file: File,
    id: FileId,
    offset: u64,
    /// The first bytes of the file as we read them, up to `FINGERPRINT_LEN`.
    fingerprint: Vec<u8>,
    lines: LineBuffer,
}

impl Follower {
    pub fn open(path: &Path, start: Start) -> io::Result<Self> {
        // Non-blocking, so that a FIFO at the path cannot hang the open; it
        // changes nothing for the regular file that is expected.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            // Offsets, truncation and rotation only mean something for a
            // regular file; a pipe would be read once and then lost.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let offset = match start {
            Start::Beginning => 0,
            Start::End => start_of_last_line(&file, meta.len())?,
        };
        let mut fingerprint = vec![0; offset.min(FINGERPRINT_LEN as u64) as usize];
        file.read_exact_at(&mut fingerprint, 0)?;
        Ok(Follower {
            file,
            id: FileId::of(&meta),
            offset,
            fingerprint,
            lines: LineBuffer::new(),
        })
    }

    pub fn id(&self) -> FileId {
        self.id
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Was the file truncated (and maybe refilled) since we last read it?
    pub fn is_truncated(&self) -> io::Result<bool> {
        if self.file.metadata()?.len() < self.offset {
            return Ok(true);
        }
        let mut head = vec![0; self.fingerprint.len()];
        let n = read_at_most(&self.file, &mut head, 0)?;
        Ok(head[..n] != self.fingerprint[..])
    }

    /// Starts over at offset 0 after a truncation. A partial line held from
    /// before is handed out: its writer will not finish it in this content.
    pub fn rewind(&mut self, on_block: &mut dyn FnMut(&[u8])) {
        self.lines.finish(on_block);
        self.offset = 0;
        self.fingerprint.clear();
    }

    /// Reads what was appended since the last call, in bounded chunks,
    /// handing each run of complete lines to `on_block`, until the end of
    /// the file or until about `budget` bytes were read. Returns the number
    /// of bytes read.
    pub fn read_appended(
        &mut self,
        budget: u64,
        on_block: &mut dyn FnMut(&[u8]),
    ) -> io::Result<u64> {
        let mut total = 0;
        while total < budget {
            let spare = self.lines.spare();
            let n = match self.file.read_at(spare, self.offset) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if self.fingerprint.len() < FINGERPRINT_LEN
                && self.offset == self.fingerprint.len() as u64
            {
                let take = n.min(FINGERPRINT_LEN - self.fingerprint.len());
                self.fingerprint.extend_from_slice(&spare[..take]);
            }
            self.offset += n as u64;
            total += n as u64;
            self.lines.commit(n, on_block);
        }
        Ok(total)
    }

    /// Frees the read buffer if no partial line needs it.
    pub fn release_buffer(&mut self) {
        self.lines.release();
    }

    /// The file is done with (rotated away): a held partial line is a line.
    pub fn finish(&mut self, on_block: &mut dyn FnMut(&[u8])) {
        self.lines.finish(on_block);
    }
}

/// Where the last complete line ends, looking back at most a line's length:
/// a last line whose `\n` has not arrived yet is not "already there".
fn start_of_last_line(file: &File, len: u64) -> io::Result<u64> {
    let window = len.min(MAX_LINE as u64);
    let mut tail = vec![0; window as usize];
    file.read_exact_at(&mut tail, len - window)?;
    Ok(match memchr::memrchr(b'\n', &tail) {
        Some(i) => len - window + i as u64 + 1,
        // No `\n` within a line's length: the partial line is too long to
        // keep anyway, start at the end.
        None if window == MAX_LINE as u64 => len,
        None => 0,
    })
}

fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}
