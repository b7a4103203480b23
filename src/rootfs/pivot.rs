//! Making the rootfs "/": pivot_root, or MS_MOVE + chroot for `--no-pivot` (for rootfs on
//! filesystems pivot_root cannot handle, e.g. an initramfs).

use super::error::RootfsError;
use super::options::Propagation;
use crate::syscall::mount::{self as sys, MountAttr};
use crate::syscall::path::open_path;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

fn err(syscall: &'static str, e: impl Into<std::io::Error>) -> RootfsError {
    RootfsError::path("switching the root to", "rootfs", syscall, e.into())
}

/// pivot_root(".", ".") stacks the old root on top of the new one at "."; detaching it then
/// leaves only the rootfs, without needing a put_old directory inside the rootfs.
pub fn pivot(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    // The old root is addressed through an fd taken before the pivot: a propagation change
    // on "." afterwards would hit the new root's tree (its mounts' own propagation options
    // included), not the old root stacked on it.
    let old_root = open_path(OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| err("open (old root)", e))?;
    nix::unistd::fchdir(root.as_raw_fd()).map_err(|e| err("fchdir", e))?;
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
    nix::unistd::chdir("/").map_err(|e| err("chdir", e))
}

/// Moves the rootfs mount onto "/" and chroots into it.
pub fn move_root(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    nix::unistd::fchdir(root.as_raw_fd()).map_err(|e| err("fchdir", e))?;
    sys::mount(Some("."), "/", None, libc::MS_MOVE, None).map_err(|e| err("mount (MS_MOVE)", e))?;
    nix::unistd::chroot(".").map_err(|e| err("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| err("chdir", e))
}
