//! Turning a byte stream that arrives in arbitrary pieces into whole lines,
//! in bounded memory.
//!
//! A writer may flush half a line; the half is held until its `\n` arrives,
//! so a pattern split across two writes still matches once, as one line.
//! Complete lines are handed out as blocks (many lines at once, each ending
//! in `\n`) straight from the read buffer: no per-line copy, and the matcher
//! can search the block as a whole. A line longer than [`MAX_LINE`] keeps its
//! first `MAX_LINE` bytes; the rest is skipped until its `\n`.

/// Longest line kept whole; the rest of a longer line is not looked at.
pub const MAX_LINE: usize = 1 << 20;

/// How much is read from the file at a time.
pub const CHUNK: usize = 256 << 10;

#[derive(Debug, Default)]
pub struct LineBuffer {
    /// `buf[..held]` is the incomplete last line; reads go after it.
    buf: Vec<u8>,
    held: usize,
    /// The held line reached `MAX_LINE`: drop input until its `\n`.
    skipping: bool,
    /// Bytes of the held line dropped past `MAX_LINE`: the line starts
    /// this much before the held bytes' end would say.
    dropped: u64,
}

impl LineBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for the next read, right after the held partial line.
    pub fn spare(&mut self) -> &mut [u8] {
        // The buffer is allocated once, zeroed by the allocator (calloc:
        // fresh pages from the kernel, not written): a page only becomes
        // resident when a read fills it. `resize` would write every byte.
        if self.buf.is_empty() {
            self.buf = vec![0; MAX_LINE + CHUNK + 1];
        }
        &mut self.buf[self.held..self.held + CHUNK]
    }

    /// `n` bytes were read into [`spare`](Self::spare): hand every line they
    /// complete to `on_block`, and hold the rest.
    pub fn commit(&mut self, n: usize, on_block: &mut dyn FnMut(&[u8])) {
        let held = self.held;
        let end = held + n;
        let mut start = 0;
        // Only the held line can outgrow MAX_LINE: a line that lies wholly
        // in one read is shorter than CHUNK.
        if self.skipping || end > MAX_LINE {
            match memchr::memchr(b'\n', &self.buf[held..end]) {
                None if self.skipping => {
                    // Still inside the over-long line.
                    self.dropped += n as u64;
                    return;
                }
                None => {}
                Some(i) if self.skipping || held + i > MAX_LINE => {
                    if !self.skipping {
                        warn_overlong();
                    }
                    // Overwrites a byte past the kept head to end it.
                    self.buf[MAX_LINE] = b'\n';
                    on_block(&self.buf[..=MAX_LINE]);
                    self.skipping = false;
                    self.dropped = 0;
                    start = held + i + 1;
                }
                Some(_) => {}
            }
        }
        // The held bytes hold no `\n`: only the new ones are searched, so a
        // long line arriving in small pieces costs linear time.
        let from = start.max(held);
        if let Some(i) = memchr::memrchr(b'\n', &self.buf[from..end]) {
            on_block(&self.buf[start..=from + i]);
            start = from + i + 1;
        }
        if start > 0 {
            self.buf.copy_within(start..end, 0);
        }
        self.held = end - start;
        if self.held > MAX_LINE {
            warn_overlong();
            self.dropped = (self.held - MAX_LINE) as u64;
            self.held = MAX_LINE;
            self.skipping = true;
        }
    }

    /// Gives the read buffer back while no partial line is held: a rotated
    /// file that is kept open for its grace period should cost no memory.
    pub fn release(&mut self) {
        if self.held == 0 {
            self.buf = Vec::new();
            self.skipping = false;
            self.dropped = 0;
        }
    }

    /// Copies `data` in and commits it; for callers that do not read
    /// straight into [`spare`](Self::spare).
    pub fn push(&mut self, mut data: &[u8], on_block: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            self.commit(n, on_block);
            data = &data[n..];
        }
    }

    /// The stream ended for good (the file was rotated away or truncated):
    /// a held partial line is a line after all.
    pub fn finish(&mut self, on_block: &mut dyn FnMut(&[u8])) {
        if self.held > 0 {
            self.buf[self.held] = b'\n';
            on_block(&self.buf[..=self.held]);
        }
        self.clear();
    }

    fn clear(&mut self) {
        self.held = 0;
        self.skipping = false;
        self.dropped = 0;
    }

    /// Where the buffer is in memory: a block handed out is a slice of it,
    /// so its distance from here is its distance from the buffer's start.
    pub fn addr(&self) -> usize {
        self.buf.as_ptr() as usize
    }

    /// How far before the held bytes the held line starts: the bytes of an
    /// over-long line dropped past `MAX_LINE`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes held for an incomplete line (the property tests bound it).
    pub fn held(&self) -> usize {
        self.held
    }
}

fn warn_overlong() {
    log::warn!("line longer than {MAX_LINE} bytes: matching on its first {MAX_LINE} bytes");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]], finish: bool) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut collect = |block: &[u8]| {
            assert_eq!(block.last(), Some(&b'\n'));
            lines.extend(
                block[..block.len() - 1]
                    .split(|&b| b == b'\n')
                    .map(<[u8]>::to_vec),
            );
        };
        let mut buffer = LineBuffer::new();
        for piece in pieces {
            buffer.push(piece, &mut collect);
        }
        if finish {
            buffer.finish(&mut collect);
        }
        lines
    }

    #[test]
    fn a_line_split_across_writes_is_one_line() {
        assert_eq!(
            split(&[b"ERR", b"OR x\nne", b"xt\n"], false),
            [&b"ERROR x"[..], b"next"]
        );
    }

    #[test]
    fn an_incomplete_line_waits_for_its_newline_or_the_end() {
        assert_eq!(split(&[b"a\nb"], false), [b"a"]);
        assert_eq!(split(&[b"a\nb"], true), [b"a", b"b"]);
        assert!(split(&[b""], true).is_empty());
    }

    #[test]
    fn empty_lines_are_lines() {
        assert_eq!(split(&[b"\n\nx\n"], false), [&b""[..], b"", b"x"]);
    }

    #[test]
    fn an_overlong_line_is_cut_and_memory_stays_bounded() {
        let mut buffer = LineBuffer::new();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut collect = |block: &[u8]| lines.push(block.to_vec());
        let chunk = vec![b'a'; 300_000];
        for _ in 0..20 {
            buffer.push(&chunk, &mut collect);
            assert!(buffer.held() <= MAX_LINE);
        }
        buffer.push(b"tail\nnext\n", &mut collect);
        assert_eq!(buffer.buf.len(), MAX_LINE + CHUNK + 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE + 1);
        assert!(lines[0][..MAX_LINE].iter().all(|&b| b == b'a'));
        assert_eq!(lines[1], b"next\n");
    }

    #[test]
    fn a_line_just_over_max_line_in_one_read_is_cut_too() {
        let mut data = vec![b'x'; MAX_LINE + 1];
        data.extend_from_slice(b"\nnext\n");
        for pieces in [
            vec![&data[..]],
            vec![&data[..MAX_LINE - 5], &data[MAX_LINE - 5..]],
        ] {
            let lines = split(&pieces, false);
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0].len(), MAX_LINE);
            assert_eq!(lines[1], b"next");
        }
    }

    #[test]
    fn a_line_of_exactly_max_line_bytes_is_whole() {
        let mut data = vec![b'x'; MAX_LINE];
        data.push(b'\n');
        let lines = split(&[&data[..10], &data[10..]], false);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE);
    }
}
