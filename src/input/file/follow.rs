//! One open log file: where we are in it, which file it is, and whether it
//! is still the content we have been reading.
//!
//! A file is known by what it is, never by its name: its [`FileIdentity`]
//! (device, inode, birth time, hashes of its first bytes and of the bytes
//! before our offset; see `identity`). Truncation in place (copytruncate)
//! is found by comparing the file with that identity at each look: the
//! size dropping below our offset or, when the file was refilled past our
//! offset before we looked, its first bytes or the bytes before the offset
//! no longer being the ones we read. The file is only ever opened
//! read-only.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::input::file::identity::{
    FINGERPRINT_LEN, FileId, FileIdentity, FilePosition, Fingerprint, Match,
};
use crate::input::file::lines::{CHUNK, LineBuffer, MAX_LINE};
use crate::sys;

/// Where to start reading a file that is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At the beginning: every line is new.
    Beginning,
    /// After the last complete line: what is there already is old.
    End,
}

/// Where a block of lines was read: the file, and the offset of the
/// block's first byte in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineOrigin {
    pub file: FileId,
    pub offset: u64,
}

impl LineOrigin {
    /// The origin of a match restored from the state file: it was read in
    /// an earlier run, from no file open now.
    pub const RESTORED: LineOrigin = LineOrigin {
        file: FileId {
            dev: 0,
            ino: 0,
            born: None,
        },
        offset: 0,
    };

    /// The origin of `part`, a slice of `block` (which is from `self`).
    pub fn of(self, block: &[u8], part: &[u8]) -> LineOrigin {
        LineOrigin {
            file: self.file,
            offset: self.offset + (part.as_ptr() as usize - block.as_ptr() as usize) as u64,
        }
    }
}

/// Where the lines read go: whole lines, `\n`-terminated, in blocks.
pub type LineSink<'a> = &'a mut dyn FnMut(&[u8], LineOrigin);

#[derive(Debug)]
pub struct Follower {
    file: File,
    id: FileId,
    offset: u64,
    /// The file's first bytes as we read them, up to `FINGERPRINT_LEN`
    /// and never past `offset`.
    head: Fingerprint,
    /// The bytes just before `offset` as we read them, up to
    /// `FINGERPRINT_LEN`: kept as bytes, so that a read moves them on
    /// without reading them again; hashed when the identity is asked for.
    tail: Vec<u8>,
    lines: LineBuffer,
    /// Started inside a line (one longer than `MAX_LINE`): its rest is
    /// skipped up to its `\n`, as the rest of any over-long line is.
    resync: bool,
    /// Truncated in place: NULs at the start are the hole a writer without
    /// `O_APPEND` leaves, even where `SEEK_DATA` sees no hole (a file
    /// smaller than a block).
    rewound: bool,
}

impl Follower {
    pub fn open(path: &Path, start: StartAt) -> io::Result<Self> {
        // Only a regular file, checked before it is opened for reading, and
        // links followed only where their owners may lead us.
        let file = crate::trusted_open::open_log(path)?;
        let meta = file.metadata()?;
        let (offset, resync) = match start {
            StartAt::Beginning => (0, false),
            StartAt::End => start_of_last_line(&file, meta.len())?,
        };
        // The file may have shrunk since its size was taken (copytruncate
        // during the start): what is there is the fingerprint, and the
        // next look finds the truncation.
        let head = Fingerprint::of(&file, 0, offset)?;
        let id = FileId::of(&file, &meta);
        let mut follower = Follower {
            file,
            id,
            offset,
            head,
            tail: Vec::new(),
            lines: LineBuffer::new(),
            resync,
            rewound: false,
        };
        follower.load_tail()?;
        Ok(follower)
    }

    /// Continues a file found by a saved state, at `offset` (checked by
    /// the caller against the saved fingerprints); `skipping`: inside a
    /// line whose rest is skipped.
    pub fn resume_file(file: File, offset: u64, skipping: bool) -> io::Result<Self> {
        let meta = file.metadata()?;
        let id = FileId::of(&file, &meta);
        let mut follower = Follower {
            file,
            id,
            offset,
            head: Fingerprint::EMPTY,
            tail: Vec::new(),
            lines: LineBuffer::new(),
            resync: skipping,
            rewound: false,
        };
        follower.complete_fingerprint()?;
        follower.load_tail()?;
        Ok(follower)
    }

    pub fn id(&self) -> FileId {
        self.id
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the first line not yet processed starts: a partial line held
    /// for its newline is not processed yet.
    pub fn processed_offset(&self) -> u64 {
        self.line_start()
    }

    /// Where the held line starts (or, with none held, the next byte): an
    /// over-long line's dropped bytes included.
    fn line_start(&self) -> u64 {
        self.offset - self.lines.held() as u64 - self.lines.dropped()
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the file is now, whatever it was renamed to: the kernel keeps
    /// track of an open file's name. `None` once it is deleted.
    pub fn current_path(&self) -> Option<PathBuf> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", self.file.as_raw_fd())).ok()?;
        let deleted = link.as_os_str().as_encoded_bytes().ends_with(b" (deleted)");
        (!deleted).then_some(link)
    }

    /// Continues at a remembered position if this is the same file with
    /// the same content up to there (not truncated, not an inode reused by
    /// a new file). Returns whether it did.
    pub fn resume(&mut self, at: &FilePosition) -> bool {
        if self.offset != 0 {
            return false;
        }
        let Ok(meta) = self.file.metadata() else {
            return false;
        };
        if !matches!(at.compare(&self.file, &meta), Ok(Match::Same { .. })) {
            return false;
        }
        self.offset = at.offset;
        self.head = at.identity.head;
        self.resync = at.skipping;
        self.complete_fingerprint().is_ok() && self.load_tail().is_ok()
    }

    /// Skips to `offset` in a file just opened at 0: a saved state says the
    /// lines before it were processed; `skipping`: and the rest of the line
    /// `offset` is inside of.
    pub fn skip_to(&mut self, offset: u64, skipping: bool) -> io::Result<()> {
        if self.offset == 0 {
            self.offset = offset;
            self.resync = skipping;
            self.complete_fingerprint()?;
            self.load_tail()?;
        }
        Ok(())
    }

    /// What is known of the file up to where it was read: to check it at
    /// the next look, and to recognise it if it comes back once closed.
    pub fn position(&self) -> FilePosition {
        FilePosition {
            identity: FileIdentity {
                id: self.id,
                head: self.head,
                tail: Fingerprint::of_bytes(&self.tail),
            },
            offset: self.offset,
            skipping: self.resync,
        }
    }

    /// As [`Follower::position`], at the first line not processed yet
    /// (a partial line held for its newline is not): what a state file
    /// keeps, so that a restart reads that line whole.
    pub fn processed_position(&self) -> io::Result<FilePosition> {
        let mut at = self.position();
        let processed = self.processed_offset();
        if processed != self.offset {
            at.offset = processed;
            at.identity.tail = Fingerprint::of(
                &self.file,
                processed - processed.min(FINGERPRINT_LEN as u64),
                processed.min(FINGERPRINT_LEN as u64),
            )?;
        }
        Ok(at)
    }

    /// Was the file truncated (and maybe refilled) since we last read it?
    pub fn is_truncated(&self) -> io::Result<bool> {
        let meta = self.file.metadata()?;
        Ok(!matches!(
            self.position().compare_bytes(&self.file, &meta)?,
            Match::Same { .. }
        ))
    }

    /// Takes the bytes just before the offset as the tail fingerprint.
    fn load_tail(&mut self) -> io::Result<()> {
        let len = self.offset.min(FINGERPRINT_LEN as u64);
        self.tail.resize(len as usize, 0);
        let n = read_at_most(&self.file, &mut self.tail, self.offset - len)?;
        self.tail.truncate(n);
        Ok(())
    }

    /// Starts over at offset 0 after a truncation. A partial line held from
    /// before is handed out: its writer will not finish it in this content.
    pub fn rewind(&mut self, on_block: LineSink) {
        self.finish(on_block);
        self.offset = 0;
        self.head = Fingerprint::EMPTY;
        self.tail.clear();
        self.resync = false;
        self.rewound = true;
    }

    /// Reads what was appended since the last call, in bounded chunks,
    /// handing each run of complete lines to `on_block`, until the end of
    /// the file or until about `budget` bytes were read. Returns the number
    /// of bytes read.
    pub fn read_appended(&mut self, budget: u64, on_block: LineSink) -> io::Result<u64> {
        let mut tail_known = true;
        let total = self.read_chunks(budget, on_block, &mut tail_known)?;
        if !tail_known {
            self.load_tail()?;
        }
        Ok(total)
    }

    /// `tail_known` stays true while every byte passed over was read, so
    /// that the tail follows from them without reading it again.
    fn read_chunks(
        &mut self,
        budget: u64,
        on_block: LineSink,
        tail_known: &mut bool,
    ) -> io::Result<u64> {
        let mut total = 0;
        let mut after_hole = false;
        // A read that filled the whole buffer: there may be a backlog,
        // worth mapping instead of copying.
        let mut backlog = false;
        // Until a window turns out to be for the read path (a hole, a line
        // longer than the window): then not again in this call.
        let mut mappable = true;
        while total < budget {
            // Inside a long line (the held part is longer than a line
            // usually is) the read path is the one: a window would find no
            // line end and only cost its pages.
            let in_long_line = self.lines.held() > CHUNK / 4;
            if backlog && mappable && !in_long_line && !self.resync && !self.rewound {
                match self.read_mapped(budget - total, on_block)? {
                    Mapping::Read(n) => {
                        total += n;
                        continue;
                    }
                    Mapping::Truncated(n) => {
                        *tail_known = false;
                        return Ok(total + n);
                    }
                    Mapping::NotHere => mappable = false,
                }
            }
            let at_line_start = self.lines.held() == 0;
            let spare = self.lines.spare();
            let n = match self.file.read_at(spare, self.offset) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if self.resync {
                // The rest of the line we started in: not a line of its own.
                let (skip, ended) = match memchr::memchr(b'\n', &spare[..n]) {
                    Some(i) => (i + 1, true),
                    None => (n, false),
                };
                self.resync = !ended;
                *tail_known = false;
                self.offset += skip as u64;
                total += skip as u64;
                continue;
            }
            // A writer without O_APPEND that kept its offset across a
            // copytruncate leaves a hole of NULs before its next write. The
            // hole is not lines: skip it, whole blocks with SEEK_DATA and
            // then the NULs left at the start of the first data block, or
            // the first line after a hole longer than MAX_LINE would be cut
            // away as part of it. NULs that are data stay data.
            if spare[0] == 0 && at_line_start {
                let skip = if after_hole || self.rewound {
                    spare[..n].iter().take_while(|&&b| b == 0).count() as u64
                } else {
                    next_data(&self.file, self.offset).map_or(0, |at| at - self.offset)
                };
                if skip > 0 {
                    log::debug!("skipped {skip} bytes of a hole");
                    after_hole = true;
                    *tail_known = false;
                    self.offset += skip;
                    total += skip;
                    continue;
                }
            }
            after_hole = false;
            self.rewound = false;
            backlog = n == spare.len();
            extend_tail(&mut self.tail, &spare[..n]);
            let origin = self.buffer_origin();
            self.offset += n as u64;
            total += n as u64;
            self.lines.commit(n, &mut |block| {
                on_block(block, origin.at(block));
            });
            self.complete_fingerprint()?;
            if !backlog {
                // A short read of a regular file is its end, for now: what
                // is appended next raises an event (or is found by the next
                // look), so asking again would only read nothing.
                break;
            }
        }
        Ok(total)
    }

    /// Reads a backlog of at least [`MAP_MIN`] bytes from a mapping of
    /// at most [`MAP_WINDOW`] bytes, without copying its lines: the first
    /// line (which completes a held one) and the last, partial one go
    /// through the line buffer, the lines between straight to `on_block`,
    /// in blocks of at most `CHUNK` bytes, as reads would give them.
    /// Anything the read path treats specially (a hole, a line longer than
    /// `CHUNK`) is left to it.
    fn read_mapped(&mut self, budget: u64, on_block: LineSink) -> io::Result<Mapping> {
        let left = self.file.metadata()?.len().saturating_sub(self.offset);
        if left < MAP_MIN {
            return Ok(Mapping::NotHere);
        }
        let len = left.min(MAP_WINDOW).min(budget.max(CHUNK as u64)) as usize;
        let Ok(map) = sys::Mapped::new(self.file.as_fd(), self.offset, len) else {
            // A file system that cannot map: reads can.
            return Ok(Mapping::NotHere);
        };
        let data = map.bytes();
        let first = match memchr::memchr(b'\n', data) {
            // A hole is for the read path to skip.
            _ if data[0] == 0 && self.lines.held() == 0 => return Ok(Mapping::NotHere),
            Some(first) if !map.faulted() => first,
            _ => return Ok(Mapping::NotHere),
        };
        let start = self.offset;
        if !self.take(&data[..=first], &map, on_block) {
            return Ok(Mapping::Truncated(self.offset - start));
        }
        let mut at = first + 1;
        loop {
            let end = (at + CHUNK).min(data.len());
            let Some(i) = memchr::memrchr(b'\n', &data[at..end]) else {
                break;
            };
            let block = &data[at..=at + i];
            if map.faulted() {
                // Truncated under us: zeros from some page on.
                return Ok(Mapping::Truncated(self.offset - start));
            }
            on_block(
                block,
                LineOrigin {
                    file: self.id,
                    offset: self.offset,
                },
            );
            self.offset += block.len() as u64;
            at += i + 1;
        }
        // The partial last line, or a line longer than CHUNK and what
        // follows it.
        if !self.take(&data[at..], &map, on_block) {
            return Ok(Mapping::Truncated(self.offset - start));
        }
        self.complete_fingerprint()?;
        extend_tail(&mut self.tail, data);
        Ok(Mapping::Read(self.offset - start))
    }

    /// Copies mapped bytes into the line buffer and commits them, as
    /// reads would have; false, and nothing committed of the piece that
    /// met it, when the mapping met the file's new end (truncated).
    fn take(&mut self, mut data: &[u8], map: &sys::Mapped, on_block: LineSink) -> bool {
        while !data.is_empty() {
            let spare = self.lines.spare();
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            if map.faulted() {
                return false;
            }
            let origin = self.buffer_origin();
            self.offset += n as u64;
            self.lines
                .commit(n, &mut |block| on_block(block, origin.at(block)));
            data = &data[n..];
        }
        true
    }

    /// Takes the file's first bytes, up to `FINGERPRINT_LEN` and never past
    /// what was read, as its fingerprint (a hole skipped included).
    fn complete_fingerprint(&mut self) -> io::Result<()> {
        let want = self.offset.min(FINGERPRINT_LEN as u64);
        if self.head.len < want {
            self.head = Fingerprint::of(&self.file, 0, want)?;
        }
        Ok(())
    }

    /// Frees the read buffer if no partial line needs it.
    pub fn release_buffer(&mut self) {
        self.lines.release();
    }

    /// The file is done with (rotated away): a held partial line is a line.
    pub fn finish(&mut self, on_block: LineSink) {
        let origin = self.buffer_origin();
        self.lines
            .finish(&mut |block| on_block(block, origin.at(block)));
    }

    /// Where the line buffer's first byte is in the file: the start of the
    /// held partial line, or what is read next.
    fn buffer_origin(&self) -> BufferOrigin {
        BufferOrigin::new(self.id, self.offset, &self.lines)
    }
}

/// `tail` (the bytes just before the offset) after `read` was read there.
fn extend_tail(tail: &mut Vec<u8>, read: &[u8]) {
    if read.len() >= FINGERPRINT_LEN {
        tail.clear();
        tail.extend_from_slice(&read[read.len() - FINGERPRINT_LEN..]);
    } else {
        tail.extend_from_slice(read);
        let excess = tail.len().saturating_sub(FINGERPRINT_LEN);
        tail.drain(..excess);
    }
}

/// A backlog at least this large is mapped rather than read.
const MAP_MIN: u64 = 1 << 20;
/// How much of a backlog is mapped at a time: the mapped pages count in
/// the process's resident memory while the window is in use.
const MAP_WINDOW: u64 = 4 << 20;

/// What [`Follower::read_mapped`] did.
enum Mapping {
    /// Read this many bytes.
    Read(u64),
    /// Read this many bytes, then met the end of a file truncated meanwhile.
    Truncated(u64),
    /// Nothing: the read path is the one for what comes next.
    NotHere,
}

/// The line buffer's start, in the file and in memory: a block handed out
/// is a slice of the buffer, so its origin follows from its address. The
/// block at the buffer's start begins with the held line, which began
/// `line_start` (further back than the buffer's start when an over-long
/// line's middle was dropped); any other block lies in what was just read.
#[derive(Clone, Copy)]
pub struct BufferOrigin {
    file: FileId,
    line_start: u64,
    /// Where the buffer's first byte would be, were nothing dropped.
    offset: u64,
    addr: usize,
}

impl BufferOrigin {
    /// For `lines`, which holds what was read of `file` before `read_to`
    /// and not yet handed out.
    pub fn new(file: FileId, read_to: u64, lines: &LineBuffer) -> Self {
        let offset = read_to - lines.held() as u64;
        BufferOrigin {
            file,
            line_start: offset - lines.dropped(),
            offset,
            addr: lines.addr(),
        }
    }

    /// The origin of `block`, a slice of the line buffer.
    pub fn at(self, block: &[u8]) -> LineOrigin {
        let index = (block.as_ptr() as usize - self.addr) as u64;
        LineOrigin {
            file: self.file,
            offset: if index == 0 {
                self.line_start
            } else {
                self.offset + index
            },
        }
    }
}

/// The start of the next data at or after `offset`, past a hole; `None`
/// where the file system cannot tell or there is no data after `offset`.
fn next_data(file: &File, offset: u64) -> Option<u64> {
    // It moves the file position, which nothing here uses (every read is
    // positioned).
    sys::seek_data(file.as_fd(), offset).filter(|&data| data >= offset)
}

/// Where the last complete line ends, looking back at most a line's length:
/// a last line whose `\n` has not arrived yet is not "already there". And
/// whether that is inside a line, whose rest is then to be skipped.
fn start_of_last_line(file: &File, len: u64) -> io::Result<(u64, bool)> {
    let window = len.min(MAX_LINE as u64);
    let mut tail = vec![0; window as usize];
    // Fewer bytes when the file shrank since `len` was taken.
    let n = read_at_most(file, &mut tail, len - window)?;
    Ok(match memchr::memrchr(b'\n', &tail[..n]) {
        Some(i) => (len - window + i as u64 + 1, false),
        // No `\n` within a line's length: the partial line is too long to
        // keep anyway, start at the end and skip the rest of it.
        None if n == MAX_LINE => (len, true),
        None => (0, false),
    })
}

/// Reads `buf.len()` bytes at `offset`, or fewer at the end of the file.
pub(crate) fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A backlog large enough to be mapped gives the same lines, at the
    /// same offsets, as reads would: across the windows' edges, with a
    /// line longer than a read chunk, one longer than `MAX_LINE`, and a
    /// partial last line held for its newline.
    #[test]
    fn a_mapped_backlog_gives_every_line_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut data = Vec::new();
        let mut n = 0u64;
        while data.len() < 3 * MAP_WINDOW as usize {
            n += 1;
            data.extend_from_slice(
                format!("line {n} {}\n", "x".repeat((n % 300) as usize)).as_bytes(),
            );
            if n == 20_000 {
                data.extend_from_slice(&vec![b'c'; CHUNK + 10]);
                data.push(b'\n');
            }
            if n == 40_000 {
                data.extend_from_slice(&vec![b'm'; MAX_LINE + 10]);
                data.push(b'\n');
            }
        }
        data.extend_from_slice(b"partial");
        std::fs::write(&path, &data).unwrap();
        let mut follower = Follower::open(&path, StartAt::Beginning).unwrap();
        let mut lines = Vec::new();
        let mut read = 0;
        while read < data.len() as u64 {
            let got = follower
                .read_appended(MAP_WINDOW + 12345, &mut |block, origin| {
                    for line in block.split_inclusive(|&b| b == b'\n') {
                        lines.push((origin.of(block, line).offset, line.to_vec()));
                    }
                })
                .unwrap();
            assert!(got > 0);
            read += got;
        }
        let mut expected = Vec::new();
        let mut at = 0;
        for line in data.split_inclusive(|&b| b == b'\n') {
            if line.ends_with(b"\n") {
                let mut kept = line.to_vec();
                if kept.len() > MAX_LINE + 1 {
                    kept.truncate(MAX_LINE);
                    kept.push(b'\n');
                }
                expected.push((at, kept));
            }
            at += line.len() as u64;
        }
        assert_eq!(lines.len(), expected.len());
        for (got, want) in lines.iter().zip(&expected) {
            assert_eq!(got, want);
        }
        assert_eq!(follower.processed_offset(), data.len() as u64 - 7);
    }

    /// A closed file is continued only if it is the same file: an inode
    /// number reused by a file born later (with the same first bytes) is
    /// another file, read from its start.
    #[test]
    fn a_file_born_later_under_the_same_inode_is_not_continued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "header\nline 1\n").unwrap();
        let mut old = Follower::open(&path, StartAt::Beginning).unwrap();
        old.read_appended(1 << 20, &mut |_, _| {}).unwrap();
        let seen = old.position();
        let mut reborn = seen;
        reborn.identity.id.born = Some(seen.identity.id.born.map_or(1, |born| born + 1));
        let mut again = Follower::open(&path, StartAt::Beginning).unwrap();
        assert!(!again.resume(&reborn), "another birth is another file");
        assert_eq!(again.offset(), 0);
        assert!(again.resume(&seen), "the same file continues");
        assert_eq!(again.offset(), seen.offset);
    }
}
