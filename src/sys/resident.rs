//! What start-up leaves resident, given back once the daemon is ready.
//!
//! Start-up runs code that an idle daemon never runs again: the argument
//! parser, the regex compiler, the time zone database, the state reader.
//! Each page of code it touched stays mapped, and the kernel maps code a
//! whole page-cache folio at a time (64 KiB or more around each fault), so
//! after start-up nearly all of the program's and libc's code is in the
//! daemon's RSS for as long as it runs, unused (BENCHMARKS.md, "Idle RSS").
//!
//! Dropping the page-table entries of a private file mapping that holds
//! no page of its own (no copy-on-write page, resident or swapped out:
//! `Anonymous: 0 kB` and `Swap: 0 kB` in `/proc/self/smaps`) loses
//! nothing: the kernel does the same to clean file pages under memory
//! pressure, and the next access maps them again from the page cache (a
//! minor fault) or the file. Mappings with a page
//! of their own (relocated data, a debugger's breakpoint, a zero page of
//! `Mapped`) are left alone, and so is every anonymous or writable one.

use std::io;
use std::ops::Range;

/// Gives back the clean read-only file pages of this process; returns how
/// many bytes of mappings were advised.
pub(crate) fn release_clean_file_pages() -> io::Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for range in clean_file_mappings(&smaps) {
        let len = range.end - range.start;
        // SAFETY: the range is a whole mapping the kernel listed as private,
        // read-only and file-backed with no anonymous page, resident or in
        // swap: MADV_DONTNEED only unmaps pages equal to the file's, which
        // the next access maps again with the same bytes, so no reference
        // into it (code or read-only data) sees a change. The listed file
        // mappings stay between the listing and here: the daemon maps and
        // unmaps files (`Mapped`) on this thread only, so no other thread
        // can put a mapping of its own at a listed address meanwhile.
        let advised =
            unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if advised == 0 {
            released += len;
        }
    }
    Ok(released)
}

/// The private read-only mappings of a file in `smaps` (the text of
/// `/proc/PID/smaps`) that hold no page of their own: none resident
/// (`Anonymous:`) and none in swap (`Swap:`; `Anonymous:` counts resident
/// pages only, and `MADV_DONTNEED` discards a swapped-out copy as it does a
/// resident one). A mapping missing either line is not taken.
pub(crate) fn clean_file_mappings(smaps: &str) -> Vec<Range<usize>> {
    let mut clean = Vec::new();
    let mut current: Option<Candidate> = None;
    for line in smaps.lines() {
        if let Some(header) = Header::parse(line) {
            clean.extend(current.take().and_then(Candidate::clean));
            current = header.candidate().map(Candidate::new);
        } else if let Some(candidate) = current.as_mut() {
            if let Some(value) = line.strip_prefix("Anonymous:") {
                candidate.no_anonymous = Some(value.trim() == "0 kB");
            } else if let Some(value) = line.strip_prefix("Swap:") {
                candidate.no_swap = Some(value.trim() == "0 kB");
            }
        }
    }
    clean.extend(current.and_then(Candidate::clean));
    clean
}

/// A mapping that may be clean, and what its entry said so far.
struct Candidate {
    range: Range<usize>,
    no_anonymous: Option<bool>,
    no_swap: Option<bool>,
}

impl Candidate {
    fn new(range: Range<usize>) -> Self {
        Candidate {
            range,
            no_anonymous: None,
            no_swap: None,
        }
    }

    fn clean(self) -> Option<Range<usize>> {
        (self.no_anonymous == Some(true) && self.no_swap == Some(true)).then_some(self.range)
    }
}

/// The first line of a mapping: `start-end perms offset dev inode [path]`.
struct Header<'a> {
    range: Range<usize>,
    perms: &'a str,
    inode: &'a str,
    path: &'a str,
}

impl<'a> Header<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.split_ascii_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?;
        let _offset = fields.next()?;
        let _dev = fields.next()?;
        let inode = fields.next()?;
        // The path may hold spaces: the rest of the line after the inode.
        let path = fields.next().map_or("", |first| {
            let at = first.as_ptr() as usize - line.as_ptr() as usize;
            &line[at..]
        });
        Some(Header {
            range,
            perms,
            inode,
            path,
        })
    }

    /// The range if the mapping is a private, read-only view of a file.
    fn candidate(self) -> Option<Range<usize>> {
        let read_only = self.perms == "r--p" || self.perms == "r-xp";
        let file = self.inode != "0" && self.path.starts_with('/');
        (read_only && file && self.range.start < self.range.end).then_some(self.range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5600a0000000-5600a00d7000 r--p 00000000 fe:00 1234                       /usr/bin/logs2eca
Size:                860 kB
Rss:                 556 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me dw sd
5600a00d8000-5600a034f000 r-xp 000d7000 fe:00 1234                       /usr/bin/logs2eca
Size:               2524 kB
Anonymous:             0 kB
Swap:                  0 kB
5600a0350000-5600a0379000 r--p 0034e000 fe:00 1234                       /usr/bin/logs2eca
Size:                164 kB
Anonymous:           164 kB
5600a0379000-5600a037a000 rw-p 00376000 fe:00 1234                       /usr/bin/logs2eca
Anonymous:             4 kB
5600a1000000-5600a1049000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           124 kB
7f0000000000-7f0000010000 r--p 00000000 00:00 0 
Anonymous:             0 kB
7f0000100000-7f0000200000 r-xp 00028000 fe:00 99                         /opt/a dir/lib c.so (deleted)
Anonymous:             0 kB
Swap:                  0 kB
7f0000300000-7f0000301000 r--s 00000000 fe:00 77                         /dev/shm/x
Anonymous:             0 kB
7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_private_read_only_file_mappings_without_a_page_of_their_own() {
        assert_eq!(
            clean_file_mappings(SMAPS),
            vec![
                0x5600a0000000..0x5600a00d7000,
                0x5600a00d8000..0x5600a034f000,
                0x7f0000100000..0x7f0000200000,
            ]
        );
    }

    #[test]
    fn a_mapping_whose_anonymous_line_is_missing_is_not_taken() {
        let smaps = "\
5600a0000000-5600a00d7000 r--p 00000000 fe:00 1234 /usr/bin/logs2eca
Size:                860 kB
5600a00d8000-5600a034f000 r-xp 000d7000 fe:00 1234 /usr/bin/logs2eca
Anonymous:             8 kB
";
        assert!(clean_file_mappings(smaps).is_empty());
    }

    /// `Anonymous:` counts the resident pages only: a copy-on-write page
    /// that memory pressure moved to swap (the relocated data of a library
    /// the daemon rarely calls, after days idle) is in `Swap:`, and
    /// `MADV_DONTNEED` would discard it, the file's unrelocated bytes
    /// coming back in its place at the next access.
    #[test]
    fn a_mapping_whose_own_pages_are_in_swap_is_not_taken() {
        let smaps = "\
7f0000000000-7f0000004000 r--p 0001c000 fe:00 99 /usr/lib/libgcc_s.so.1
Size:                 16 kB
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  4 kB
SwapPss:               4 kB
VmFlags: rd mr mw me ac sd
7f0000100000-7f0000104000 r--p 0001c000 fe:00 99 /usr/lib/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
";
        assert_eq!(
            clean_file_mappings(smaps),
            vec![0x7f0000100000..0x7f0000104000]
        );
    }

    /// A private read-only mapping of a file, all of it read.
    struct Mapping {
        ptr: *mut u8,
        len: usize,
    }

    impl Mapping {
        fn of(file: &std::fs::File, len: usize, prot: libc::c_int) -> Self {
            use std::os::fd::AsRawFd;
            // SAFETY: a new private mapping at an address the kernel picks.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(ptr, libc::MAP_FAILED);
            Mapping {
                ptr: ptr.cast(),
                len,
            }
        }

        fn bytes(&self) -> &[u8] {
            // SAFETY: `len` readable bytes until drop.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }

        /// Its `Rss:` in `/proc/self/smaps`, KiB.
        fn resident_kib(&self) -> u64 {
            self.field_kib("Rss:")
        }

        /// A field (`Rss:`, `Swap:`) of its entry in `/proc/self/smaps`, KiB.
        fn field_kib(&self, field: &str) -> u64 {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let start = format!("{:x}-", self.ptr as usize);
            let mut lines = smaps.lines().skip_while(|line| !line.starts_with(&start));
            lines.next().expect("the mapping is listed");
            let value = lines.find_map(|line| line.strip_prefix(field)).unwrap();
            value.trim().trim_end_matches(" kB").parse().unwrap()
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `of`, no borrow of it left.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }

    fn file_of(bytes: &[u8]) -> (tempfile::TempDir, std::fs::File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("code");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (dir, file)
    }

    /// The tests that give pages back, one at a time: one would give back
    /// the other's mapping between its reads.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_clean_mapping_is_given_back_and_reads_the_same_after() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let content: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ);
        assert!(mapping.bytes() == content);
        assert!(mapping.resident_kib() >= 1024, "all of it read is resident");

        let released = release_clean_file_pages().unwrap();

        assert!(released >= content.len());
        assert_eq!(mapping.resident_kib(), 0);
        assert!(mapping.bytes() == content, "the same bytes come back");
    }

    /// Relocated data (RELRO) is made read-only after the loader wrote to
    /// it: its written pages exist nowhere else and must stay.
    #[test]
    fn a_mapping_with_a_page_of_its_own_is_kept() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let content = vec![b'f'; 64 << 10];
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: inside the mapping, which is writable until the mprotect.
        unsafe {
            *mapping.ptr.add(5) = b'X';
            assert_eq!(
                libc::mprotect(mapping.ptr.cast(), mapping.len, libc::PROT_READ),
                0
            );
        }
        let resident = mapping.resident_kib();

        release_clean_file_pages().unwrap();

        assert_eq!(mapping.resident_kib(), resident);
        assert_eq!(mapping.bytes()[5], b'X', "the written byte is kept");
        assert_eq!(mapping.bytes()[6], b'f');
    }

    /// A written page of a read-only mapping, pushed to swap
    /// (`MADV_PAGEOUT`) as memory pressure would: it is its own data still,
    /// and must read the same after pages are given back. Without swap
    /// (`/proc/swaps` lists none) the page stays resident and this only
    /// checks what `a_mapping_with_a_page_of_its_own_is_kept` does.
    #[test]
    fn a_page_of_its_own_in_swap_is_kept() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let content = vec![b'f'; 64 << 10];
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: inside the mapping, which is writable until the mprotect;
        // MADV_PAGEOUT keeps the contents.
        unsafe {
            *mapping.ptr.add(5) = b'X';
            assert_eq!(
                libc::mprotect(mapping.ptr.cast(), mapping.len, libc::PROT_READ),
                0
            );
            libc::madvise(mapping.ptr.cast(), mapping.len, libc::MADV_PAGEOUT);
        }
        if mapping.field_kib("Swap:") == 0 {
            eprintln!("no swap: the written page stayed resident");
        }

        release_clean_file_pages().unwrap();

        assert_eq!(mapping.bytes()[5], b'X', "the written byte is kept");
        assert_eq!(mapping.bytes()[6], b'f');
    }

    #[test]
    fn the_own_process_has_clean_code_to_give_back() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let clean = clean_file_mappings(&smaps);
        let here = the_own_process_has_clean_code_to_give_back as *const () as usize;
        assert!(
            clean.iter().any(|range| range.contains(&here)),
            "the code of this test is in no clean mapping: {clean:x?}"
        );
    }
}
