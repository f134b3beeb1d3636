//! The one way logs2eca opens the paths it is given: the followed log (and
//! the files it was rotated into), and the state file with its `.lock` and
//! `.tmp` companions.
//!
//! logs2eca often runs as root, reading a log that another user writes, in
//! a directory that user owns. Whoever owns that directory can put anything
//! at the path: a symbolic link to `/etc/shadow`, a FIFO, a device. So:
//!
//! - nothing is opened for reading before its type is known: the path is
//!   walked with `O_PATH | O_NOFOLLOW` descriptors, and only a regular file
//!   is then opened (`O_NOCTTY | O_NONBLOCK`, and checked to be the file
//!   that was looked at). A device is never opened (`/dev/ptmx` would
//!   allocate a pty, `/dev/watchdog` arm the watchdog), a FIFO never hangs;
//! - a symbolic link is followed only when root, we, or the owner of the
//!   directory it is in owns it (the rule of `fs.protected_symlinks`, here
//!   everywhere, not only in sticky directories);
//! - a link owned by another user (the directory's owner) leads only to
//!   what that user could read: a file it owns, or one readable by others.
//!   The log's writer cannot make root read for it what it could not read
//!   itself (logrotate's `su` makes the same promise);
//! - the state file is a regular file, never followed through a link, and
//!   read within a bound; its lock is never a link, its temp file is
//!   created exclusively; and the directory holding them must not be
//!   writable by others (sshd's `StrictModes`), who could otherwise replace
//!   what we read, or plant what we write through.
//!
//! A refusal says why, in the error the caller logs.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::sys;

/// Most symbolic links followed in one path (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Largest state file read. A real one is far smaller; a bound keeps a
/// mistaken `--state-file` (a link to `/dev/zero`, a huge file) from
/// taking the memory.
pub const MAX_STATE_BYTES: u64 = 64 << 20;

/// The error for a file that is not a regular file; `hint` says what to
/// do instead.
fn not_regular(meta: &Metadata, hint: &str) -> io::Error {
    let ft = meta.file_type();
    let what = if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file{hint}"),
    )
}

fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("refused: {why}"))
}

/// Is `err` one of our refusals (rather than the system's)?
pub fn is_refusal(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::PermissionDenied && err.get_ref().is_some()
}

/// Opens the log at `path` for reading, by the rules above.
pub fn open_log(path: &Path) -> io::Result<File> {
    // A name swapped between the look and the open is looked at again; a
    // path swapped faster than that, again and again, is an error.
    for _ in 0..3 {
        if let Some(file) = try_open_log(path)? {
            return Ok(file);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        "it kept changing while it was opened",
    ))
}

/// A link owned by someone else than root or us, that was followed: what
/// it leads to is read only if its owner could.
struct Reach {
    uid: u32,
    link: PathBuf,
}

fn try_open_log(path: &Path) -> io::Result<Option<File>> {
    let euid = effective_uid();
    let mut dir = open_path(None, Path::new(if path.is_absolute() { "/" } else { "." }))?;
    let mut dir_meta = dir.metadata()?;
    let mut at = PathBuf::from(if path.is_absolute() { "/" } else { "" });
    let mut rest: VecDeque<OsString> = names(path);
    let mut links = 0;
    let mut reach: Option<Reach> = None;
    while let Some(name) = rest.pop_front() {
        let node = open_path(Some(dir.as_fd()), Path::new(&name))?;
        let meta = node.metadata()?;
        let here = if name == ".." {
            at.parent().map_or_else(|| at.clone(), Path::to_path_buf)
        } else {
            at.join(&name)
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let owner = meta.uid();
            if owner != 0 && owner != euid && owner != dir_meta.uid() {
                return Err(refused(format!(
                    "{} is a symbolic link owned by uid {owner}, in a directory owned by uid {}: \
                     not followed (only links owned by root or by the directory's owner are, \
                     as with fs.protected_symlinks)",
                    here.display(),
                    dir_meta.uid()
                )));
            }
            if owner != 0 && owner != euid {
                reach = Some(Reach {
                    uid: owner,
                    link: here.clone(),
                });
            }
            let target = read_link(node.as_fd())?;
            if target.is_absolute() {
                dir = open_path(None, Path::new("/"))?;
                dir_meta = dir.metadata()?;
                at = PathBuf::from("/");
            }
            for name in names(&target).into_iter().rev() {
                rest.push_front(name);
            }
            continue;
        }
        if rest.is_empty() {
            if !meta.is_file() {
                return Err(not_regular(
                    &meta,
                    " (to read a pipe or standard input as a stream, use -l -)",
                ));
            }
            if let Some(reach) = reach
                && meta.uid() != reach.uid
                && meta.mode() & 0o004 == 0
            {
                return Err(refused(format!(
                    "{} is a symbolic link owned by uid {}, and leads to {}, owned by uid {} and \
                     not readable by others: logs2eca does not read for a link's owner what it \
                     could not read itself",
                    reach.link.display(),
                    reach.uid,
                    here.display(),
                    meta.uid()
                )));
            }
            let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
            let file = File::from(open_at(Some(dir.as_fd()), Path::new(&name), flags)?);
            let opened = file.metadata()?;
            if opened.dev() != meta.dev() || opened.ino() != meta.ino() {
                return Ok(None); // Replaced between the look and the open.
            }
            return Ok(Some(file));
        }
        if !meta.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        dir = node;
        dir_meta = meta;
        at = here;
    }
    // The path named no file (`/`, or empty).
    Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file"))
}

/// The names to walk in `path`, `..` included (it is resolved where the
/// walk is, as the kernel does: after a link, in the link's target).
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// An `O_PATH` descriptor for `name` (in `dir`, or from the working
/// directory), never following a final link: it opens nothing for reading.
fn open_path(dir: Option<BorrowedFd>, name: &Path) -> io::Result<File> {
    open_at(dir, name, libc::O_PATH | libc::O_NOFOLLOW).map(File::from)
}

fn open_at(dir: Option<BorrowedFd>, name: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    sys::open_at(dir, name, flags)
}

fn read_link(link: BorrowedFd) -> io::Result<PathBuf> {
    sys::read_link_at(link)
}

fn effective_uid() -> u32 {
    sys::effective_uid()
}

/// Reads the state file at `path`: `None` if there is none. A link, a FIFO,
/// a device, or a file over [`MAX_STATE_BYTES`] is an error.
pub fn read_state(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refused("it is a symbolic link".to_owned()));
        }
        // O_NONBLOCK opens a FIFO at once; a device is opened only by
        // someone who can already write the state directory, which is
        // refused unless it is ours (see `check_state_dir`).
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta, ""));
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_STATE_BYTES >> 20),
        ));
    }
    Ok(Some(bytes))
}

/// Opens (creating it) the lock file beside the state: never through a
/// link, and only a regular file.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|err| match err.raw_os_error() {
            Some(libc::ELOOP) => refused(format!("{} is a symbolic link", path.display())),
            _ => err,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(format!("{} is not a regular file", path.display())));
    }
    Ok(file)
}

/// Creates the temp file the next state is written to, exclusively: what
/// was at its name (a leftover of a crash, or a link someone planted) is
/// removed first, never written through.
pub fn create_exclusive(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// Is the state directory (`dir`, opened) only ours to write? Refused when
/// others may write it or someone else owns it, as sshd's `StrictModes`
/// refuses a home that others can write.
pub fn check_state_dir(dir: &File, shown: &Path) -> Result<(), String> {
    let meta = dir.metadata().map_err(|err| err.to_string())?;
    let euid = effective_uid();
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "the state directory {} is writable by {} (mode {mode:04o}): others could replace \
             the state or plant links where it is written; refusing it (chmod go-w {0}, or \
             another --state-file)",
            shown.display(),
            if mode & 0o002 != 0 {
                "others"
            } else {
                "its group"
            },
        ));
    }
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(format!(
            "the state directory {} is owned by uid {}, neither root nor us (uid {euid}): \
             refusing it (chown it, or another --state-file)",
            shown.display(),
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_regular_file_opens_through_our_own_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::fs::write(dir.path().join("real/app.log"), "x\n").unwrap();
        symlink("real", dir.path().join("logs")).unwrap();
        symlink("../real/app.log", dir.path().join("logs/link.log")).unwrap();
        let mut text = String::new();
        open_log(&dir.path().join("logs/./link.log"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "x\n");
    }

    #[test]
    fn what_is_not_a_regular_file_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/dev/null", dir.path().join("null")).unwrap();
        let err = open_log(&dir.path().join("null")).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let err = open_log(dir.path()).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        let err = open_log(&dir.path().join("none")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        symlink("loop", dir.path().join("loop")).unwrap();
        let err = open_log(&dir.path().join("loop")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn a_state_that_is_no_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/dev/zero", dir.path().join("zero")).unwrap();
        assert!(read_state(&dir.path().join("zero")).is_err());
        assert_eq!(read_state(&dir.path().join("none")).unwrap(), None);
        symlink("victim", dir.path().join("s.lock")).unwrap();
        assert!(open_lock(&dir.path().join("s.lock")).is_err());
        assert!(!dir.path().join("victim").exists());
        std::fs::write(dir.path().join("victim"), "keep").unwrap();
        symlink("victim", dir.path().join("s.tmp")).unwrap();
        create_exclusive(&dir.path().join("s.tmp")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("victim")).unwrap(),
            "keep"
        );
    }
}
