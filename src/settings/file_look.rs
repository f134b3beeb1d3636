//! A compressed or binary file given to `-l`: its lines are not text, so
//! a pattern finds nothing (or matches noise), silently. One warning at
//! start names what the file looks like, from its first bytes (or its
//! name, when it does not exist yet).

use std::io::Read;
use std::path::Path;

/// Magic numbers of the compressions logrotate and friends use.
const MAGIC: [(&[u8], &str); 6] = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"PK\x03\x04", "zip"),
];

const SUFFIXES: [(&str, &str); 6] = [
    (".gz", "gzip"),
    (".bz2", "bzip2"),
    (".xz", "xz"),
    (".zst", "zstd"),
    (".lz4", "lz4"),
    (".zip", "zip"),
];

/// The warning for the followed file at `path` (shown as `shown`), if it
/// looks compressed or binary.
pub fn warning(path: &Path, shown: &str) -> Option<String> {
    let mut head = Vec::with_capacity(4096);
    // Only a regular file is read: opening a FIFO would wait for a writer.
    let read = std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
        && std::fs::File::open(path)
            .and_then(|file| file.take(4096).read_to_end(&mut head))
            .is_ok();
    let by_content = read.then(|| look(&head)).flatten();
    let by_name = SUFFIXES
        .iter()
        .find(|(suffix, _)| shown.ends_with(suffix))
        .map(|(_, kind)| Look::Compressed(kind));
    match by_content.or(by_name)? {
        Look::Compressed(kind) => Some(format!(
            "--logfile {shown} looks {kind}-compressed: its lines are matched as the compressed \
             bytes, so nothing meaningful matches; to scan it, decompress it into standard input \
             (zcat/bzcat/xzcat/zstdcat {shown} | logs2eca -l - ...)"
        )),
        Look::Binary => Some(format!(
            "--logfile {shown} looks binary (NUL bytes among its first 4 KiB): \
             is it the log file meant?"
        )),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Look {
    Compressed(&'static str),
    Binary,
}

fn look(head: &[u8]) -> Option<Look> {
    if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(Look::Compressed(kind));
    }
    // A run of NUL bytes at the start is a hole that a copytruncate
    // rotation leaves before the writer's next line: not binary.
    let text = &head[head.iter().take_while(|&&b| b == 0).count()..];
    memchr::memchr(0, text).map(|_| Look::Binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_and_binary_heads() {
        assert_eq!(
            look(b"\x1f\x8b\x08\x00rest"),
            Some(Look::Compressed("gzip"))
        );
        assert_eq!(look(b"\x28\xb5\x2f\xfd.."), Some(Look::Compressed("zstd")));
        assert_eq!(look(b"text\0more"), Some(Look::Binary));
        assert_eq!(look(b"2024-01-01 ERROR x\n"), None);
        assert_eq!(look(b""), None);
        assert_eq!(look(b"\0\0\0\0ERROR after a hole\n"), None);
        assert_eq!(look("café ✓\n".as_bytes()), None);
    }
}
