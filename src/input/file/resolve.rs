//! What decides which file the followed path names: the path's directory
//! and name, each symlink on the way and its target's directory and name,
//! or, while a directory on the way does not exist, the nearest existing
//! ancestor and the name that is missing there.
//!
//! The path is walked one component at a time, as the kernel does, with
//! `lstat` and `readlink`, so that a dangling symlink still tells where its
//! target will appear, and a missing directory tells where to wait for it.
//! Watching exactly these (directory, name) pairs is what lets every change
//! of what the path names raise an event, with no polling.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// A name in a directory whose changes concern us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The directory, with no symlink in it.
    pub dir: PathBuf,
    pub name: OsString,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Every name whose change can change what the path names.
    pub names: Vec<Name>,
    /// The directory on the way that does not exist yet, if any.
    pub missing_dir: Option<PathBuf>,
    /// A failure other than "not found" stopped the walk (a directory we
    /// may not search, a symlink loop).
    pub error: Option<String>,
}

impl Resolution {
    /// The directories to watch, each once.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for name in &self.names {
            if !dirs.contains(&name.dir) {
                dirs.push(name.dir.clone());
            }
        }
        dirs
    }
}

/// Walks the absolute `path`.
pub fn resolve(path: &Path) -> Resolution {
    let mut out = Resolution::default();
    let mut dir = PathBuf::from("/");
    let mut rest: VecDeque<OsString> = components(path);
    let mut links = 0;
    while let Some(part) = rest.pop_front() {
        if part == ".." {
            dir.pop();
            continue;
        }
        let candidate = dir.join(&part);
        let last = rest.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                out.names.push(Name {
                    dir: dir.clone(),
                    name: part,
                });
                links += 1;
                let target = match std::fs::read_link(&candidate) {
                    Ok(target) if links <= MAX_LINKS => target,
                    Ok(_) => {
                        out.error = Some(format!("too many symlinks at {}", candidate.display()));
                        return out;
                    }
                    Err(err) => {
                        out.error = Some(describe(&candidate, &err));
                        return out;
                    }
                };
                if target.is_absolute() {
                    dir = PathBuf::from("/");
                }
                for part in components(&target).into_iter().rev() {
                    rest.push_front(part);
                }
            }
            Ok(meta) if !last && meta.is_dir() => dir = candidate,
            Ok(_) => {
                // The file itself, or a file where a directory should be:
                // either way this name decides.
                out.names.push(Name { dir, name: part });
                return out;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if !last {
                    out.missing_dir = Some(candidate);
                }
                out.names.push(Name { dir, name: part });
                return out;
            }
            Err(err) => {
                out.error = Some(describe(&candidate, &err));
                return out;
            }
        }
    }
    out
}

/// The normal components of `path` (`.` dropped, `..` kept for the walk).
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn describe(path: &Path, err: &io::Error) -> String {
    format!("cannot look at {}: {err}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn name(dir: &Path, name: &str) -> Name {
        Name {
            dir: dir.to_path_buf(),
            name: name.into(),
        }
    }

    fn root() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn a_plain_path_is_its_directory_and_name_whether_or_not_the_file_exists() {
        let (_tmp, root) = root();
        let path = root.join("app.log");
        let expected = Resolution {
            names: vec![name(&root, "app.log")],
            ..Resolution::default()
        };
        assert_eq!(resolve(&path), expected);
        std::fs::write(&path, "").unwrap();
        assert_eq!(resolve(&path), expected);
    }

    #[test]
    fn a_missing_directory_is_waited_for_in_its_nearest_existing_ancestor() {
        let (_tmp, root) = root();
        let r = resolve(&root.join("a/b/app.log"));
        assert_eq!(r.names, [name(&root, "a")]);
        assert_eq!(r.missing_dir, Some(root.join("a")));
        std::fs::create_dir(root.join("a")).unwrap();
        let r = resolve(&root.join("a/b/app.log"));
        assert_eq!(r.names, [name(&root.join("a"), "b")]);
        std::fs::create_dir(root.join("a/b")).unwrap();
        let r = resolve(&root.join("a/b/app.log"));
        assert_eq!(r.names, [name(&root.join("a/b"), "app.log")]);
        assert_eq!(r.missing_dir, None);
    }

    #[test]
    fn a_dangling_symlink_names_where_its_target_will_appear() {
        let (_tmp, root) = root();
        std::fs::create_dir_all(root.join("logs")).unwrap();
        std::fs::create_dir_all(root.join("srv")).unwrap();
        symlink("../srv/current.log", root.join("logs/app.log")).unwrap();
        let r = resolve(&root.join("logs/app.log"));
        assert_eq!(
            r.names,
            [
                name(&root.join("logs"), "app.log"),
                name(&root.join("srv"), "current.log")
            ]
        );
        assert_eq!(r.dirs(), [root.join("logs"), root.join("srv")]);
    }

    #[test]
    fn symlinked_directories_and_chains_are_followed() {
        let (_tmp, root) = root();
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink(root.join("real"), root.join("dirlink")).unwrap();
        symlink("b.log", root.join("real/a.log")).unwrap();
        std::fs::write(root.join("real/b.log"), "").unwrap();
        let r = resolve(&root.join("dirlink/./a.log"));
        assert_eq!(
            r.names,
            [
                name(&root, "dirlink"),
                name(&root.join("real"), "a.log"),
                name(&root.join("real"), "b.log")
            ]
        );
        assert_eq!(r.dirs(), [root.clone(), root.join("real")]);
    }

    #[test]
    fn a_symlink_loop_is_an_error_not_a_hang() {
        let (_tmp, root) = root();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let r = resolve(&root.join("a"));
        assert!(r.error.unwrap().contains("too many symlinks"));
    }
}
