//! Making the rootfs "/": pivot_root, or MS_MOVE + chroot for `--no-pivot` (for rootfs on
//! filesystems pivot_root cannot handle, e.g. an initramfs), or a plain chroot for a
//! container in the host's mount namespace.

use super::error::RootfsError;
use super::options::Propagation;
use berth_sys::mount::{self as sys, MountAttr};
use berth_sys::mountinfo::{self, MountInfo};
use berth_sys::path::{chdir, chroot, fchdir, open_path};
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

fn err(syscall: &'static str, e: std::io::Error) -> RootfsError {
    RootfsError::path("switching the root to", "rootfs", syscall, e)
}

/// pivot_root(".", ".") stacks the old root on top of the new one at "."; detaching it then
/// leaves only the rootfs, without needing a put_old directory inside the rootfs.
pub(crate) fn pivot(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    // The old root is addressed through an fd taken before the pivot: a propagation change
    // on "." afterwards would hit the new root's tree (its mounts' own propagation options
    // included), not the old root stacked on it.
    let old_root = open_path(OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| err("open (old root)", e))?;
    fchdir(root).map_err(|e| err("fchdir", e))?;
    sys::pivot_root(".", ".").map_err(|e| err("pivot_root", e))?;
    // Making the old root rslave guarantees the detach below can never propagate an unmount
    // to the host (with rootfsPropagation "rshared" its mounts would otherwise have peers).
    let slave = MountAttr {
        propagation: Propagation::Slave.ms_flag(),
        ..Default::default()
    };
    sys::mount_setattr_fd(old_root.as_fd(), true, &slave)
        .map_err(|e| err("mount_setattr (rslave old root)", e))?;
    drop(old_root);
    sys::umount2(".", libc::MNT_DETACH).map_err(|e| err("umount2 (old root)", e))?;
    chdir(OsStr::new("/")).map_err(|e| err("chdir", e))
}

/// chroot into the rootfs, for a container without a mount namespace of its own: the
/// namespace is the host's, whose root must not move (runc chroots there too).
pub(crate) fn chroot_into(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    fchdir(root).map_err(|e| err("fchdir", e))?;
    chroot(OsStr::new(".")).map_err(|e| err("chroot", e))?;
    chdir(OsStr::new("/")).map_err(|e| err("chdir", e))
}

/// Moves the rootfs mount onto "/" and chroots into it. A chroot leaves every other mount of
/// the namespace in place (reachable again by anyone who escapes the chroot), so, as runc
/// does, the mounts outside the rootfs are detached first, or covered by an empty read-only
/// tmpfs where a user namespace has locked them.
pub(crate) fn move_root(root: BorrowedFd<'_>, rootfs: &Path) -> Result<(), RootfsError> {
    detach_outside_mounts(rootfs)?;
    fchdir(root).map_err(|e| err("fchdir", e))?;
    sys::mount(Some("."), "/", None, libc::MS_MOVE, None).map_err(|e| err("mount (MS_MOVE)", e))?;
    chroot(OsStr::new(".")).map_err(|e| err("chroot", e))?;
    chdir(OsStr::new("/")).map_err(|e| err("chdir", e))
}

/// Mount points that are neither the rootfs, inside it, nor on the way to it, deepest first.
fn outside_mount_points(mounts: &[MountInfo], rootfs: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mounts
        .iter()
        .map(|m| m.mount_point.clone())
        .filter(|mp| !mp.starts_with(rootfs) && !rootfs.starts_with(mp))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

fn detach_outside_mounts(rootfs: &Path) -> Result<(), RootfsError> {
    // Opened once: /proc itself is among the mounts detached below, the open file stays usable.
    let mut file = std::fs::File::open("/proc/self/mountinfo")
        .map_err(|e| err("open /proc/self/mountinfo", e))?;
    let mut read = || -> Result<Vec<MountInfo>, RootfsError> {
        let mut text = String::new();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text))
            .map_err(|e| err("read /proc/self/mountinfo", e))?;
        Ok(mountinfo::parse(&text))
    };
    for mp in outside_mount_points(&read()?, rootfs) {
        let p = mp.to_string_lossy().into_owned();
        let fail = |sc: &'static str| {
            let p = p.clone();
            move |e| RootfsError::path("host mount (--no-pivot)", p, sc, e)
        };
        // Slave first, so the unmount can never propagate to the host.
        match sys::mount(None, &p, None, libc::MS_SLAVE | libc::MS_REC, None) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {
                continue
            }
            r => r.map_err(fail("mount (rslave)"))?,
        }
        match sys::umount2(&p, libc::MNT_DETACH) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)) => {
                // Gone already (detached with a parent), or locked: then hide it.
                let still = read()?.iter().any(|m| m.mount_point == mp);
                if still {
                    sys::mount(Some("tmpfs"), &p, Some("tmpfs"), libc::MS_RDONLY, None)
                        .map_err(fail("mount (tmpfs cover)"))?;
                }
            }
            Err(e) => return Err(fail("umount2")(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_mounts_deepest_first() {
        let mounts = mountinfo::parse(
            "1 0 0:1 / / rw - ext4 a rw\n\
             2 1 0:2 / /proc rw - proc proc rw\n\
             3 2 0:3 / /proc/sys/fs/binfmt_misc rw - binfmt_misc b rw\n\
             4 1 0:4 / /tmp rw - tmpfs t rw\n\
             5 4 0:5 / /tmp/ctr/rootfs rw - ext4 a rw\n\
             6 5 0:6 / /tmp/ctr/rootfs/proc rw - proc proc rw\n\
             7 1 0:7 / /tmp/ctr/rootfs-other rw - tmpfs t rw\n",
        );
        let got = outside_mount_points(&mounts, Path::new("/tmp/ctr/rootfs"));
        let want: Vec<PathBuf> = ["/proc/sys/fs/binfmt_misc", "/tmp/ctr/rootfs-other", "/proc"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }
}
