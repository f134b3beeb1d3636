//! Which file systems inotify cannot be trusted on: those where other hosts
//! write (NFS, SMB, FUSE, cluster file systems). inotify only reports what
//! passes through this kernel, so a writer on another machine raises no
//! event at all, and a follower that waits for one sits deaf forever.
//!
//! The table is GNU tail's (coreutils `src/stat.c`, the `remote` magic
//! numbers tail polls for), with two decisions of our own: overlayfs counts
//! as local, since it is what containers run on and their writers are local
//! (GNU marks it remote for old inotify bugs); and 9p counts as remote,
//! since it is how virtual machines and WSL share a host's directory, whose
//! writes the guest never sees (GNU marks it local).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// GNU tail's remote file systems: `statfs(2)` `f_type`, and a name for the
/// message.
const REMOTE: &[(u32, &str)] = &[
    (0x6163_6673, "acfs"),
    (0x5346_414F, "afs"),
    (0x6175_6673, "aufs"),
    (0x00C3_6400, "ceph"),
    (0xFF53_4D42, "cifs"),
    (0x7375_7245, "coda"),
    (0x1983_0326, "fhgfs"),
    (0x6573_5546, "fuse"),
    (0x6573_5543, "fusectl"),
    (0x0116_1970, "gfs/gfs2"),
    (0x4750_4653, "gpfs"),
    (0x0131_11A8, "ibrix"),
    (0x6B41_4653, "kafs"),
    (0x0BD0_0BD0, "lustre"),
    (0x0000_564C, "ncp"),
    (0x0000_6969, "nfs"),
    (0x6E66_7364, "nfsd"),
    (0x7461_636F, "ocfs2"),
    (0xAAD7_AAEA, "panfs"),
    (0x5049_5045, "pipefs"),
    (0x7C7C_6673, "prl_fs"),
    (0x0000_517B, "smb"),
    (0xFE53_4D42, "smb2"),
    (0xBEEF_DEAD, "snfs"),
    (0x786F_4256, "vboxsf"),
    (0xBACB_ACBC, "vmhgfs"),
    (0xA501_FCF5, "vxfs"),
    // Not in GNU's remote list; see the module comment.
    (0x0102_1997, "9p"),
];

/// The name of the remote file system with this `f_type`, or `None` for a
/// local one (ext4, xfs, btrfs, tmpfs, overlayfs, and any we do not know).
pub fn remote(f_type: u64) -> Option<&'static str> {
    // The kernel's magic numbers are 32 bits; a signed `f_type` may carry
    // them sign-extended.
    let magic = (f_type & 0xFFFF_FFFF) as u32;
    REMOTE
        .iter()
        .find(|&&(m, _)| m == magic)
        .map(|&(_, name)| name)
}

/// overlayfs (`OVERLAYFS_SUPER_MAGIC`).
const OVERLAYFS: u32 = 0x794C_7630;

/// Does a file's birth time on the file system with this `f_type` tell
/// which file it is? Not on overlayfs: it reports the birth time of the
/// layer's file it shows, and the first write to a file of a lower layer
/// (a log that came with a container's image) copies it up to a new file
/// in the upper layer, born then, under the same device and inode.
pub fn keeps_birth(f_type: u64) -> bool {
    (f_type & 0xFFFF_FFFF) as u32 != OVERLAYFS
}

/// The `f_type` of the file system `path` is on.
pub fn of(path: &Path) -> io::Result<u64> {
    crate::sys::fs_type(path)
}

/// The `f_type` of the file system the open `file` is on.
pub fn of_file(file: &File) -> io::Result<u64> {
    crate::sys::fs_type_of(file.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_cluster_file_systems_are_remote() {
        for (magic, name) in [
            (0x6969, "nfs"),
            (0xFF53_4D42, "cifs"),
            (0xFE53_4D42, "smb2"),
            (0x517B, "smb"),
            (0x6573_5546, "fuse"),
            (0x00C3_6400, "ceph"),
            (0x0116_1970, "gfs/gfs2"),
            (0x7461_636F, "ocfs2"),
            (0x5346_414F, "afs"),
            (0x7375_7245, "coda"),
            (0x0102_1997, "9p"),
            (0x0BD0_0BD0, "lustre"),
            (0x4750_4653, "gpfs"),
            (0x564C, "ncp"),
        ] {
            assert_eq!(remote(magic), Some(name), "{magic:#x}");
        }
    }

    #[test]
    fn local_file_systems_and_overlayfs_are_local() {
        for (magic, name) in [
            (0xEF53, "ext2/3/4"),
            (0x5846_5342, "xfs"),
            (0x9123_683E, "btrfs"),
            (0x0102_1994, "tmpfs"),
            (0x794C_7630, "overlayfs"),
            (0x2FC1_2FC1, "zfs"),
            (0xF2F5_2010, "f2fs"),
            (0x858458F6, "ramfs"),
            (0, "unknown"),
        ] {
            assert_eq!(remote(magic), None, "{name} {magic:#x}");
        }
    }

    #[test]
    fn birth_times_are_trusted_except_on_overlayfs() {
        assert!(!keeps_birth(0x794C_7630), "overlayfs");
        for magic in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0] {
            assert!(keeps_birth(magic), "{magic:#x}");
        }
    }

    #[test]
    fn the_file_system_of_an_open_file_can_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        assert_eq!(of_file(&file).unwrap(), of(dir.path()).unwrap());
    }

    #[test]
    fn a_sign_extended_magic_number_is_still_recognised() {
        // 0xFF534D42 read as a negative 32-bit value, then widened.
        let widened = i64::from(0xFF53_4D42_u32 as i32) as u64;
        assert_eq!(remote(widened), Some("cifs"));
    }

    #[test]
    fn the_file_system_of_a_directory_can_be_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(of(dir.path()).is_ok());
        assert!(of(&dir.path().join("missing")).is_err());
    }
}
