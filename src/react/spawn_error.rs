//! Why a command could not be started, in words a user can act on.
//!
//! Every command gets `/dev/null` as its standard input, opened just
//! before the fork. In a root without `/dev` (a bare `FROM scratch` image
//! run by a runtime that provides none, a hand-made chroot) that open fails
//! with ENOENT, and the bare "No such file or directory" reads as if the
//! program were missing, though it was found at start. The real cause is
//! named instead.

use std::io;
use std::path::Path;

/// Where every command's standard input comes from (`Stdio::null`).
pub(crate) const DEV_NULL: &str = "/dev/null";

/// `err` from spawning the command, with its cause named where it is not
/// the program (which was resolved at start).
pub fn explain(err: io::Error) -> io::Error {
    explain_with(err, Path::new(DEV_NULL))
}

fn explain_with(err: io::Error, dev_null: &Path) -> io::Error {
    if err.kind() == io::ErrorKind::NotFound && !dev_null.exists() {
        return io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} is missing (every command's standard input is {}; give the root a /dev, \
                 as docker and podman do, or bind-mount /dev/null into it)",
                dev_null.display(),
                DEV_NULL
            ),
        );
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found() -> io::Error {
        io::Error::from_raw_os_error(libc::ENOENT)
    }

    #[test]
    fn a_missing_dev_null_is_named_as_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("null");
        let err = explain_with(not_found(), &missing);
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{} is missing (", missing.display())),
            "{text}"
        );
    }

    #[test]
    fn with_dev_null_present_the_error_is_left_as_it_is() {
        let err = explain_with(not_found(), Path::new(DEV_NULL));
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn other_errors_are_left_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let err = explain_with(
            io::Error::from_raw_os_error(libc::EACCES),
            &dir.path().join("null"),
        );
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    }
}
