//! Making the rootfs "/": pivot_root, or MS_MOVE + chroot for `--no-pivot` (for rootfs on
//! filesystems pivot_root cannot handle, e.g. an initramfs).

use super::error::RootfsError;
use crate::syscall::mount as sys;
use std::os::fd::{AsRawFd, BorrowedFd};

fn err(syscall: &'static str, e: impl Into<std::io::Error>) -> RootfsError {
    RootfsError::path("switching the root to", "rootfs", syscall, e.into())
}

/// pivot_root(".", ".") stacks the old root on top of the new one at "."; detaching it then
/// leaves only the rootfs, without needing a put_old directory inside the rootfs.
pub fn pivot(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    nix::unistd::fchdir(root.as_raw_fd()).map_err(|e| err("fchdir", e))?;
    sys::pivot_root(".", ".").map_err(|e| err("pivot_root", e))?;
    // The old root may still be a slave of host mounts; making it rslave first guarantees
    // the detach below can never propagate an unmount to the host.
    sys::mount(None, ".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(|e| err("mount (rslave old root)", e))?;
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
