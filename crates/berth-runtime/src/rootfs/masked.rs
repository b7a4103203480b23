//! Steps after the root switch: `linux.maskedPaths` (hidden behind /dev/null or an empty
//! read-only tmpfs), `linux.readonlyPaths` (bound onto themselves read-only) and
//! `root.readonly`. Paths are opened in-root relative to the new "/" and the mounts attached
//! onto those fds, so a symlink inside the container cannot point them elsewhere.

use super::error::RootfsError;
use super::inroot;
use super::mountops::set_attrs;
use super::options::AttrChange;
use berth_sys::mount::{self as sys, MOUNT_ATTR_RDONLY};
use berth_sys::path::{fstat, is_dir, open_path};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

const RO: AttrChange = AttrChange {
    set: MOUNT_ATTR_RDONLY,
    clr: 0,
};

fn open_root() -> Result<OwnedFd, RootfsError> {
    open_path(OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| RootfsError::path("root", "/", "open", e))
}

/// Opens a path inside the new root; None when it does not exist (such paths are skipped).
fn open_optional(
    root: BorrowedFd<'_>,
    field: &'static str,
    path: &str,
) -> Result<Option<OwnedFd>, RootfsError> {
    inroot::open_existing(root, Path::new(path))
        .map_err(|e| RootfsError::path(field, path, "openat2", e))
}

/// The container's /dev/null, checked to really be the null device (1:3) before it is used
/// to hide anything: the rootfs could have put a regular file there.
fn dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd, RootfsError> {
    let fd = inroot::open(root, Path::new("/dev/null"))
        .map_err(|e| RootfsError::path("masking device", "/dev/null", "openat2", e))?;
    let st = fstat(fd.as_fd())
        .map_err(|e| RootfsError::path("masking device", "/dev/null", "fstat", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            "not the null character device (1:3)",
        );
        return Err(RootfsError::path("masking device", "/dev/null", "fstat", e));
    }
    Ok(fd)
}

pub(crate) fn mask_paths(
    paths: &[String],
    user_namespace: bool,
    mount_label: Option<&str>,
) -> Result<(), RootfsError> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    let mut null: Option<OwnedFd> = None;
    // The masked directories share one read-only tmpfs, as in runc 1.5: the first is a new
    // tmpfs, the others copies of that mount (one superblock, one st_dev).
    let mut shared_tmpfs: Option<OwnedFd> = None;
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        // A path listed twice is masked once.
        if !seen.insert(p.as_str()) {
            continue;
        }
        let Some(target) = open_optional(root.as_fd(), "linux.maskedPaths", p)? else {
            continue;
        };
        let e = |sc: &'static str| {
            move |e: io::Error| RootfsError::path("linux.maskedPaths", p.as_str(), sc, e)
        };
        let st = fstat(target.as_fd()).map_err(e("fstat"))?;
        let dir = is_dir(&st);
        let mnt = if let Some(first) = shared_tmpfs.as_ref().filter(|_| dir) {
            sys::clone_tree(first.as_fd(), false).map_err(e("open_tree"))?
        } else if dir {
            let fs = sys::fsopen("tmpfs").map_err(e("fsopen"))?;
            for (k, v) in super::mounts::labelled_data("tmpfs", &[], mount_label)
                .iter()
                .filter_map(|d| d.split_once('='))
            {
                sys::fsconfig_string(fs.as_fd(), k, v).map_err(e("fsconfig"))?;
            }
            sys::fsconfig_create(fs.as_fd()).map_err(e("fsconfig"))?;
            sys::fsmount(fs.as_fd(), MOUNT_ATTR_RDONLY).map_err(e("fsmount"))?
        } else {
            if null.is_none() {
                null = Some(dev_null(root.as_fd())?);
            }
            let Some(n) = null.as_ref() else { continue };
            let tree = sys::clone_tree(n.as_fd(), false).map_err(e("open_tree"))?;
            // /dev/null may sit on a writable /dev; the mask must not be writable in place.
            set_attrs(tree.as_fd(), &RO, false, user_namespace).map_err(e("mount_setattr"))?;
            tree
        };
        sys::move_mount_fd(mnt.as_fd(), target.as_fd()).map_err(e("move_mount"))?;
        if dir && shared_tmpfs.is_none() {
            // The attached tmpfs, reopened through its path, is what the next ones copy.
            shared_tmpfs = open_optional(root.as_fd(), "linux.maskedPaths", p)?;
        }
    }
    Ok(())
}

pub(crate) fn readonly_paths(paths: &[String], user_namespace: bool) -> Result<(), RootfsError> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    for p in paths {
        let Some(target) = open_optional(root.as_fd(), "linux.readonlyPaths", p)? else {
            continue;
        };
        let e = |sc: &'static str| {
            move |e: io::Error| RootfsError::path("linux.readonlyPaths", p.as_str(), sc, e)
        };
        // Recursive, so a mount below a read-only path cannot stay writable; the other flags
        // (nosuid, nodev, noexec) come along unchanged from the original mount.
        let tree = sys::clone_tree(target.as_fd(), true).map_err(e("open_tree"))?;
        set_attrs(tree.as_fd(), &RO, true, user_namespace).map_err(e("mount_setattr"))?;
        sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(e("move_mount"))?;
    }
    Ok(())
}

/// A read-only /dev mount is made writable while it is filled (the nodes, /dev/pts and the
/// other mounts below it need their targets) and read-only last, as runc does.
pub(crate) fn readonly_dev(root: BorrowedFd<'_>, user_namespace: bool) -> Result<(), RootfsError> {
    let err = |e| RootfsError::path("mounts", "/dev", "mount_setattr (read-only)", e);
    let dev = inroot::open(root, Path::new("/dev")).map_err(err)?;
    set_attrs(dev.as_fd(), &RO, false, user_namespace).map_err(err)
}

/// `root.readonly`: only adds the read-only flag, so flags locked by a user namespace stay.
pub(crate) fn readonly_root(user_namespace: bool) -> Result<(), RootfsError> {
    let root = open_root()?;
    set_attrs(root.as_fd(), &RO, false, user_namespace)
        .map_err(|e| RootfsError::path("root.readonly", "/", "mount_setattr", e))
}
