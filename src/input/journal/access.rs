//! Can the journal be read at all? Checked before journalctl is started,
//! because journalctl itself does not tell: run by a user outside the
//! groups that may read the system journal it shows that user's own
//! entries (often none) and exits 0, and on a host without a journal it
//! shows nothing and exits 0. Either would be a monitor that never fires.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where journald keeps the system journal: volatile, then persistent.
const SYSTEM_ROOTS: [&str; 2] = ["/run/log/journal", "/var/log/journal"];

/// The fix for a journal we may not read, for the message.
pub const PERMISSION_FIX: &str = "add the user to group systemd-journal \
    (in the unit: SupplementaryGroups=systemd-journal)";

/// Why the journal in `directory` (or the system journal) cannot be
/// followed, if it cannot: one line that names the cause and the fix.
pub fn check(directory: Option<&Path>) -> Result<(), String> {
    let roots: Vec<PathBuf> = match directory {
        Some(dir) => vec![dir.to_path_buf()],
        None => SYSTEM_ROOTS.iter().map(PathBuf::from).collect(),
    };
    let mut files = Vec::new();
    for root in &roots {
        match journal_files(root) {
            Ok(found) => files.extend(found),
            Err(err) if err.kind() == io::ErrorKind::NotFound && directory.is_none() => {}
            Err(err) if is_permission(&err) => {
                return Err(format!(
                    "cannot read the journal in {}: {err}; {PERMISSION_FIX}",
                    root.display()
                ));
            }
            Err(err) => {
                return Err(format!(
                    "cannot read the journal directory {}: {err}",
                    root.display()
                ));
            }
        }
    }
    if files.is_empty() {
        return Err(match directory {
            Some(dir) => format!(
                "no journal files in {} (give --journal-directory the directory that holds the \
                 *.journal files, or the one above their machine-id directories)",
                dir.display()
            ),
            None => "no systemd journal on this host: /run/log/journal and /var/log/journal hold \
                     no journal files (is systemd-journald running? In a container, bind-mount \
                     the host's /var/log/journal and give it with --journal-directory)"
                .to_owned(),
        });
    }
    // The system's own files are what matter: a user's journal readable
    // beside an unreadable system journal is most of the entries missing.
    let system: Vec<&PathBuf> = files.iter().filter(|f| is_system(f)).collect();
    let wanted = if system.is_empty() {
        files.iter().collect()
    } else {
        system
    };
    let mut denied = None;
    for file in wanted {
        match fs::File::open(file) {
            Ok(_) => return Ok(()),
            Err(err) if is_permission(&err) => denied = Some((file.clone(), err)),
            // Vacuumed or rotated since the listing: another one will do.
            Err(_) => {}
        }
    }
    match denied {
        Some((file, err)) => Err(format!(
            "cannot read the journal ({}: {err}); {PERMISSION_FIX}",
            file.display()
        )),
        None => Ok(()),
    }
}

/// The journal files in `root` and in its subdirectories (journald's
/// machine-id directories), one level down.
fn journal_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let path = entry.path();
        if is_journal(&path) {
            files.push(path);
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            match fs::read_dir(&path) {
                Ok(inner) => files.extend(
                    inner
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| is_journal(p)),
                ),
                Err(err) if is_permission(&err) => return Err(err),
                Err(_) => {}
            }
        }
    }
    Ok(files)
}

fn is_journal(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".journal") || n.ends_with(".journal~"))
}

fn is_system(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("system"))
}

fn is_permission(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::PermissionDenied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_journal_files_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let err = check(Some(dir.path())).unwrap_err();
        assert!(err.contains("no journal files in"), "{err}");
        let missing = dir.path().join("missing");
        let err = check(Some(&missing)).unwrap_err();
        assert!(err.contains("cannot read the journal directory"), "{err}");
    }

    #[test]
    fn journal_files_are_found_at_the_top_and_one_level_down() {
        let dir = tempfile::tempdir().unwrap();
        let machine = dir.path().join("0123456789abcdef0123456789abcdef");
        fs::create_dir(&machine).unwrap();
        fs::write(machine.join("system.journal"), "").unwrap();
        assert_eq!(check(Some(dir.path())), Ok(()));
        assert_eq!(check(Some(&machine)), Ok(()));
    }
}
