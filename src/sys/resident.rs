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
//! minor fault) or the file. Mappings with a page of their own
//! (relocated data, a debugger's breakpoint) are left alone, and so is
//! every anonymous or writable one. Only the loader's mappings of the
//! program and its libraries are looked at: they stay for the process's
//! life, where a file mapped by other code (a backlog's `Mapped`) may be
//! unmapped meanwhile and its address reused for memory of its own.

use std::io;
use std::ops::Range;

/// Gives back the clean read-only file pages of the program and its
/// libraries; returns how many bytes of mappings were advised.
pub(crate) fn release_clean_file_pages() -> io::Result<usize> {
    release_within(&loaded_segments())
}

/// Gives back the clean read-only file mappings that lie within `within`.
fn release_within(within: &[Range<usize>]) -> io::Result<usize> {
    // Read a line at a time: the whole text (some 50 KiB) would leave that
    // much of the heap touched, and resident, for the daemon's life.
    let smaps = io::BufReader::new(std::fs::File::open("/proc/self/smaps")?);
    let mut released = 0;
    let inside = |range: &Range<usize>| {
        within
            .iter()
            .any(|w| w.start <= range.start && range.end <= w.end)
    };
    for range in clean_file_mappings(smaps)?.into_iter().filter(inside) {
        let len = range.end - range.start;
        // SAFETY: the range is a whole mapping the kernel listed as private,
        // read-only and file-backed with no page of its own, resident or in
        // swap: MADV_DONTNEED only unmaps pages equal to the file's, which
        // the next access maps again with the same bytes, so no reference
        // into it (code or read-only data) sees a change. It lies within
        // `within`, the loader's segments (or a test's own mapping), which
        // stay mapped for the process's life: no other thread can have
        // unmapped it and put a mapping of its own at that address since
        // the listing.
        let advised =
            unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if advised == 0 {
            released += len;
        }
    }
    Ok(released)
}

/// The address ranges of the loaded segments (`PT_LOAD`) of the program
/// and of every library, widened to whole pages. Nothing is ever unloaded
/// (no `dlclose`), so they stay as listed.
fn loaded_segments() -> Vec<Range<usize>> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid `info` whose `dlpi_phdr` holds
        // `dlpi_phnum` headers, for the duration of the call; `data` is the
        // `Vec` given to dl_iterate_phdr below, borrowed by nothing else
        // while the iteration runs on this thread.
        unsafe {
            let info = &*info;
            let segments = &mut *data.cast::<Vec<Range<usize>>>();
            let page = super::page_size();
            for i in 0..usize::from(info.dlpi_phnum) {
                let header = &*info.dlpi_phdr.add(i);
                if header.p_type != libc::PT_LOAD {
                    continue;
                }
                segments.extend(whole_pages(
                    info.dlpi_addr as usize,
                    header.p_vaddr as usize,
                    header.p_memsz as usize,
                    page,
                ));
            }
        }
        0
    }
    let mut segments: Vec<Range<usize>> = Vec::new();
    // SAFETY: `each` only reads what the loader gives it and pushes to the
    // `Vec` that `data` points to, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each), (&raw mut segments).cast());
    }
    segments
}

/// The pages a segment of `memsz` bytes at `vaddr` in an object loaded at
/// `base` lies in; none for a segment of no bytes, or one that would end
/// past the top of the address space (headers the loader could not have
/// mapped as they say).
fn whole_pages(base: usize, vaddr: usize, memsz: usize, page: usize) -> Option<Range<usize>> {
    // A base below the link-time addresses (a vDSO linked high) wraps.
    let start = base.wrapping_add(vaddr);
    if memsz == 0 {
        return None;
    }
    let end = start.checked_add(memsz)?.checked_next_multiple_of(page)?;
    Some(start / page * page..end)
}

/// The private read-only mappings of a file in `smaps` (the text of
/// `/proc/PID/smaps`) that hold no page of their own: none resident
/// (`Anonymous:`) and none in swap (`Swap:`; `Anonymous:` counts resident
/// pages only, and `MADV_DONTNEED` discards a swapped-out copy as it does a
/// resident one). A mapping missing either line is not taken.
pub(crate) fn clean_file_mappings(mut smaps: impl io::BufRead) -> io::Result<Vec<Range<usize>>> {
    let mut clean = Vec::new();
    let mut current: Option<Candidate> = None;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if smaps.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        // A path need not be UTF-8; what is looked at is ASCII.
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches('\n');
        if let Some(header) = Header::parse(line) {
            clean.extend(current.take().and_then(Candidate::clean));
            current = header.candidate().map(Candidate::new);
        } else if let Some(candidate) = current.as_mut() {
            if let Some(value) = line.strip_prefix("Anonymous:") {
                candidate.no_anonymous = Some(value.trim() == "0 kB");
            } else if let Some(value) = line.strip_prefix("Swap:") {
                candidate.no_swap = Some(value.trim() == "0 kB");
            } else if let Some(value) = line.strip_prefix("Private_Hugetlb:") {
                // A private copy of a huge page is counted here only.
                candidate.own_huge_pages |= value.trim() != "0 kB";
            }
        }
    }
    clean.extend(current.and_then(Candidate::clean));
    Ok(clean)
}

/// A mapping that may be clean, and what its entry said so far.
struct Candidate {
    range: Range<usize>,
    no_anonymous: Option<bool>,
    no_swap: Option<bool>,
    own_huge_pages: bool,
}

impl Candidate {
    fn new(range: Range<usize>) -> Self {
        Candidate {
            range,
            no_anonymous: None,
            no_swap: None,
            own_huge_pages: false,
        }
    }

    fn clean(self) -> Option<Range<usize>> {
        let own_pages =
            self.no_anonymous != Some(true) || self.no_swap != Some(true) || self.own_huge_pages;
        (!own_pages).then_some(self.range)
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

    /// The mappings of an `smaps` text that would be given back.
    fn clean(smaps: &[u8]) -> Vec<Range<usize>> {
        clean_file_mappings(smaps).unwrap()
    }

    /// Past the relocated data (`Anonymous: 164 kB`), every mapping left
    /// out says `Anonymous: 0 kB` and `Swap: 0 kB`: it is left out for what
    /// its first line says alone.
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
Swap:                  0 kB
5600a0379000-5600a037a000 rw-p 00376000 fe:00 1234                       /usr/bin/logs2eca
Anonymous:             0 kB
Swap:                  0 kB
5600a1000000-5600a1049000 rw-p 00000000 00:00 0                          [heap]
Anonymous:             0 kB
Swap:                  0 kB
7f0000000000-7f0000010000 r--p 00000000 00:00 0 
Anonymous:             0 kB
Swap:                  0 kB
7f0000010000-7f0000011000 r--p 00000000 00:00 0                          /a/path/without/inode
Anonymous:             0 kB
Swap:                  0 kB
7f0000020000-7f0000021000 r--p 00000000 00:0e 1065                       anon_inode:[perf_event]
Anonymous:             0 kB
Swap:                  0 kB
7f0000100000-7f0000200000 r-xp 00028000 fe:00 99                         /opt/a dir/lib c.so (deleted)
Anonymous:             0 kB
Swap:                  0 kB
7f0000200000-7f0000200000 r--p 00000000 fe:00 99                         /opt/empty.so
Anonymous:             0 kB
Swap:                  0 kB
7f0000300000-7f0000301000 r--s 00000000 fe:00 77                         /dev/shm/x
Anonymous:             0 kB
Swap:                  0 kB
7f0000400000-7f0000401000 r-xs 00000000 fe:00 78                         /dev/shm/y
Anonymous:             0 kB
Swap:                  0 kB
7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
Swap:                  0 kB
";

    #[test]
    fn only_private_read_only_file_mappings_without_a_page_of_their_own() {
        assert_eq!(
            clean(SMAPS.as_bytes()),
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
Swap:                  0 kB
5600a00d8000-5600a034f000 r-xp 000d7000 fe:00 1234 /usr/bin/logs2eca
Anonymous:             8 kB
Swap:                  0 kB
";
        assert!(clean(smaps.as_bytes()).is_empty());
    }

    #[test]
    fn a_mapping_whose_swap_line_is_missing_is_not_taken() {
        let smaps = "\
5600a0000000-5600a00d7000 r--p 00000000 fe:00 1234 /usr/bin/logs2eca
Size:                860 kB
Anonymous:             0 kB
";
        assert!(clean(smaps.as_bytes()).is_empty());
    }

    /// A path that is not UTF-8 (file names are bytes) neither stops the
    /// reading nor hides the mappings after it.
    #[test]
    fn a_path_that_is_not_utf_8_is_read_past() {
        let mut smaps = b"7f0000000000-7f0000001000 r--p 00000000 fe:00 7 /opt/\xff\xfe.so\n\
Anonymous:             0 kB
Swap:                  0 kB
"
        .to_vec();
        smaps.extend_from_slice(
            b"7f0000100000-7f0000101000 r-xp 00000000 fe:00 8 /usr/lib/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
",
        );
        assert_eq!(
            clean(&smaps),
            vec![
                0x7f0000000000..0x7f0000001000,
                0x7f0000100000..0x7f0000101000
            ]
        );
    }

    #[test]
    fn a_mapping_with_private_huge_pages_is_not_taken() {
        let smaps = "\
7f0000000000-7f0000200000 r--p 00000000 00:10 99 /dev/hugepages/text
Anonymous:             0 kB
Swap:                  0 kB
Private_Hugetlb:    2048 kB
";
        assert!(clean(smaps.as_bytes()).is_empty());
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
            clean(smaps.as_bytes()),
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

        fn range(&self) -> Range<usize> {
            self.ptr as usize..self.ptr as usize + self.len
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

    #[test]
    fn a_clean_mapping_is_given_back_and_reads_the_same_after() {
        let content: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ);
        assert!(mapping.bytes() == content);
        assert!(mapping.resident_kib() >= 1024, "all of it read is resident");

        let released = release_within(&[mapping.range()]).unwrap();

        assert!(released >= content.len());
        assert_eq!(mapping.resident_kib(), 0);
        assert!(mapping.bytes() == content, "the same bytes come back");
    }

    /// A writable private mapping may get a page of its own at any time
    /// (another thread's write between the listing and the advice, which
    /// would throw that write away): it is kept, even while clean.
    #[test]
    fn a_writable_mapping_is_kept_even_clean() {
        let content = vec![b'w'; 64 << 10];
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ | libc::PROT_WRITE);
        assert!(mapping.bytes() == content);
        let resident = mapping.resident_kib();
        assert!(resident > 0);

        release_within(&[mapping.range()]).unwrap();

        assert_eq!(mapping.resident_kib(), resident);
    }

    /// A mapping that no one segment holds whole (here two segments
    /// hold a half each) is not known to be the loader's: it is kept.
    #[test]
    fn a_mapping_partly_within_is_kept() {
        let content = vec![b'p'; 64 << 10];
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ);
        assert!(mapping.bytes() == content);
        let resident = mapping.resident_kib();
        assert!(resident > 0);
        let range = mapping.range();
        let half = range.start + mapping.len / 2;

        release_within(&[range.start..half, half..range.end]).unwrap();

        assert_eq!(mapping.resident_kib(), resident);
    }

    /// A mapping of a file of `f`s whose byte 5, written, is an `X` of its
    /// own, then made read-only: as the loader leaves relocated data.
    fn written_then_read_only() -> (tempfile::TempDir, Mapping) {
        let content = vec![b'f'; 64 << 10];
        let (dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: inside the mapping, which is writable until the mprotect.
        unsafe {
            *mapping.ptr.add(5) = b'X';
            assert_eq!(
                libc::mprotect(mapping.ptr.cast(), mapping.len, libc::PROT_READ),
                0
            );
        }
        (dir, mapping)
    }

    /// Relocated data (RELRO) is made read-only after the loader wrote to
    /// it: its written pages exist nowhere else and must stay.
    #[test]
    fn a_mapping_with_a_page_of_its_own_is_kept() {
        let (_dir, mapping) = written_then_read_only();
        let resident = mapping.resident_kib();

        release_within(&[mapping.range()]).unwrap();

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
        let (_dir, mapping) = written_then_read_only();
        // SAFETY: the whole mapping; MADV_PAGEOUT keeps the contents.
        unsafe { libc::madvise(mapping.ptr.cast(), mapping.len, libc::MADV_PAGEOUT) };
        if mapping.field_kib("Swap:") == 0 {
            eprintln!("no swap: the written page stayed resident");
        }

        release_within(&[mapping.range()]).unwrap();

        assert_eq!(mapping.bytes()[5], b'X', "the written byte is kept");
        assert_eq!(mapping.bytes()[6], b'f');
    }

    /// Only the loader's mappings are given back: a file mapped by other
    /// code (a backlog's `Mapped`, a test's) may be unmapped by its owner
    /// meanwhile, and its address given to memory of the owner's.
    #[test]
    fn a_mapping_the_loader_did_not_make_is_kept() {
        let content = vec![b'm'; 256 << 10];
        let (_dir, file) = file_of(&content);
        let mapping = Mapping::of(&file, content.len(), libc::PROT_READ);
        assert!(mapping.bytes() == content);
        let resident = mapping.resident_kib();
        assert!(resident > 0);

        let released = release_clean_file_pages().unwrap();

        assert!(released > 0, "the program's code is given back");
        assert_eq!(mapping.resident_kib(), resident);
    }

    #[test]
    fn the_loaded_segments_hold_this_code() {
        let here = the_loaded_segments_hold_this_code as *const () as usize;
        let segments = loaded_segments();
        assert!(
            segments.iter().any(|segment| segment.contains(&here)),
            "{segments:x?}"
        );
        let page = super::super::page_size();
        assert!(
            segments
                .iter()
                .all(|s| s.start % page == 0 && s.end % page == 0 && s.start < s.end)
        );
    }

    /// Headers are the object's to say: one whose end would pass the top
    /// of the address space, once rounded up to a page, gives no range
    /// (and no overflow, which would abort in the loader's callback).
    #[test]
    fn a_segment_at_the_top_of_the_address_space_gives_no_range() {
        let page = 4096;
        assert_eq!(
            whole_pages(0x7f00_0000_0000, 0x1010, 0x20, page),
            Some(0x7f00_0000_1000..0x7f00_0000_2000)
        );
        assert_eq!(whole_pages(usize::MAX - 0xfff, 0, 0x10, page), None);
        assert_eq!(whole_pages(usize::MAX - 0x2fff, 0, 0x5000, page), None);
        assert_eq!(
            whole_pages(0x7f00_0000_0000, 0x1010, 0, page),
            None,
            "nothing loaded"
        );
    }

    #[test]
    fn the_own_process_has_clean_code_to_give_back() {
        let smaps = std::fs::File::open("/proc/self/smaps").unwrap();
        let clean = clean_file_mappings(io::BufReader::new(smaps)).unwrap();
        let here = the_own_process_has_clean_code_to_give_back as *const () as usize;
        assert!(
            clean.iter().any(|range| range.contains(&here)),
            "the code of this test is in no clean mapping: {clean:x?}"
        );
    }
}
