//! The mount operations every kind of mount is built from, with the new mount API: opening
//! (or creating) a target in-root, building a detached mount (a new filesystem, or a clone of
//! a host directory), setting its attributes while it is still detached, attaching it onto
//! the opened target, and changing its propagation. [`super::mounts`] (config.json entries),
//! [`super::cgroup`] (the cgroup mount type) and [`super::masked`] (masked and read-only
//! paths) all use these, and nothing here uses them.

use super::error::RootfsError;
use super::inroot::{self, Kind};
use super::options::{AttrChange, MountOptions, PropagationChange};
use berth_sys::mount::{self as sys, MountAttr};
use berth_sys::path::{fstat, open_path};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// What every mount needs to know about the container.
pub(crate) struct MountContext<'a> {
    /// The rootfs (after it was bound onto itself).
    pub(crate) root: BorrowedFd<'a>,
    /// Relative bind sources are relative to this directory.
    pub(crate) bundle: &'a Path,
    /// The container has its own user namespace (see [`set_attrs`]).
    pub(crate) user_namespace: bool,
    /// The container gets its own cgroup namespace (cgroup v1 hierarchies are then mounted
    /// directly instead of bound from the host).
    pub(crate) cgroup_namespace: bool,
    /// `linux.mountLabel`: the SELinux context of the filesystems mounted for the container.
    pub(crate) mount_label: Option<&'a str>,
}

/// Sets attributes on a (detached or attached) mount. In a user namespace, the flags the
/// parent namespace locked cannot be cleared, and a locked atime setting (relatime,
/// noatime, nodiratime) cannot be changed at all: when the kernel refuses, the change is
/// retried keeping those as they are (only ro/nosuid/nodev/noexec are added), which is what
/// runc's "preserve the locked flags" amounts to.
pub(crate) fn set_attrs(
    mnt: BorrowedFd<'_>,
    change: &AttrChange,
    recursive: bool,
    user_namespace: bool,
) -> io::Result<()> {
    if change.is_empty() {
        return Ok(());
    }
    let attr = MountAttr {
        attr_set: change.set,
        attr_clr: change.clr,
        ..Default::default()
    };
    match sys::mount_setattr_fd(mnt, recursive, &attr) {
        Err(e) if user_namespace && e.raw_os_error() == Some(libc::EPERM) => {
            let atime = sys::MOUNT_ATTR__ATIME | sys::MOUNT_ATTR_NODIRATIME;
            let attr = MountAttr {
                attr_set: change.set & !atime,
                ..Default::default()
            };
            if attr.attr_set == change.set && change.clr == 0 {
                return Err(e);
            }
            sys::mount_setattr_fd(mnt, recursive, &attr)
        }
        r => r,
    }
}

/// Sets a mount's attributes as `opts` asks: those of the top mount, then those of the
/// whole tree (the r* options).
pub(crate) fn set_mount_attrs(
    dest: &str,
    mnt: BorrowedFd<'_>,
    opts: &MountOptions,
    user_namespace: bool,
) -> Result<(), RootfsError> {
    set_attrs(mnt, &opts.attrs, false, user_namespace)
        .map_err(|e| RootfsError::mount(dest, "mount_setattr", "", e))?;
    set_attrs(mnt, &opts.rec_attrs, true, user_namespace)
        .map_err(|e| RootfsError::mount(dest, "mount_setattr", "(recursive)", e))
}

/// Applies propagation changes, in order, to an attached mount.
pub(crate) fn set_propagation(
    dest: &str,
    mnt: BorrowedFd<'_>,
    changes: &[PropagationChange],
) -> Result<(), RootfsError> {
    for p in changes {
        let attr = MountAttr {
            propagation: p.kind.ms_flag(),
            ..Default::default()
        };
        sys::mount_setattr_fd(mnt, p.recursive, &attr)
            .map_err(|e| RootfsError::mount(dest, "mount_setattr", "(propagation)", e))?;
    }
    Ok(())
}

/// What a mount target must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Whatever `dest` resolves to inside the root (symlinks followed in-root), created as
    /// `Kind` when missing.
    Any(Kind),
    /// A real directory with no symlink on the way: for kernel filesystems that expose host
    /// controls (proc, sysfs, cgroup), whose destination must never be redirected.
    RealDir,
}

/// Opens the mount target `dest` inside the rootfs, creating it when missing. A destination
/// that resolves to the rootfs's own root is refused like a literal "/".
pub(crate) fn open_target(
    ctx: &MountContext<'_>,
    dest: &Path,
    target: Target,
    dest_str: &str,
) -> Result<OwnedFd, RootfsError> {
    let opened = match target {
        Target::Any(kind) => inroot::open_or_create(ctx.root, dest, kind),
        Target::RealDir => inroot::open_or_create_no_symlinks(ctx.root, dest, Kind::Dir),
    };
    let fd = opened.map_err(|e| {
        if target == Target::RealDir && e.raw_os_error() == Some(libc::ELOOP) {
            RootfsError::InvalidMount {
                destination: dest_str.into(),
                // runc's words ("must be mounted on ordinary directory"), which youki's
                // contest looks for.
                reason: "proc, sysfs and cgroup filesystems must be mounted on ordinary \
                         directory: the destination (or a directory on the way to it) is a \
                         symlink in the rootfs"
                    .into(),
            }
        } else {
            RootfsError::mount(
                dest_str,
                "openat2",
                "(open or create the target in the rootfs)",
                e,
            )
        }
    })?;
    refuse_root(ctx, fd, dest_str)
}

/// A destination that resolves (through symlinks or "..") to the rootfs's own root would
/// cover the whole container filesystem; it is refused like a literal "/".
fn refuse_root(ctx: &MountContext<'_>, fd: OwnedFd, dest: &str) -> Result<OwnedFd, RootfsError> {
    let stat = |f: BorrowedFd<'_>| fstat(f).map_err(|e| RootfsError::mount(dest, "fstat", "", e));
    let (t, r) = (stat(fd.as_fd())?, stat(ctx.root)?);
    if t.st_dev == r.st_dev && t.st_ino == r.st_ino {
        return Err(RootfsError::InvalidMount {
            destination: dest.into(),
            reason: "the destination resolves to the container's root directory".into(),
        });
    }
    Ok(fd)
}

/// Attaches a detached mount onto an opened target.
pub(crate) fn attach(
    dest: &str,
    mnt: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
) -> Result<(), RootfsError> {
    sys::move_mount_fd(mnt, target).map_err(|e| RootfsError::mount(dest, "move_mount", "", e))
}

/// [`attach`], then the propagation `opts` asks for.
pub(crate) fn attach_and_propagate(
    dest: &str,
    mnt: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    attach(dest, mnt, target)?;
    set_propagation(dest, mnt, &opts.propagation)
}

/// A detached recursive clone of the host directory `host` with the attributes of `opts`,
/// where a new filesystem cannot be made (`why` says which fallback, for the error message).
pub(crate) fn clone_host_dir(
    dest: &str,
    host: &str,
    why: &str,
    opts: &MountOptions,
    user_namespace: bool,
) -> Result<OwnedFd, RootfsError> {
    let src = open_path(OsStr::new(host), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| RootfsError::mount(dest, "open", format!("(host {host}, {why})"), e))?;
    let tree = sys::clone_tree(src.as_fd(), true)
        .map_err(|e| RootfsError::mount(dest, "open_tree", format!("({host})"), e))?;
    set_mount_attrs(dest, tree.as_fd(), opts, user_namespace)?;
    Ok(tree)
}

/// The SELinux mount options that take a context.
pub(crate) const CONTEXT_OPTIONS: [&str; 4] = ["context", "fscontext", "defcontext", "rootcontext"];

/// The value of an SELinux context option (`context="a:b:c:s0:c1,c2"`) without the quotes that
/// mount(2)'s data string needs around its commas and the kernel strips there; fsconfig takes
/// the value as it is. Other options' values are left alone.
pub(crate) fn unquote_context<'v>(key: &str, value: &'v str) -> &'v str {
    let is_context = CONTEXT_OPTIONS.contains(&key);
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if is_context => inner,
        _ => value,
    }
}

/// Creates a detached mount of a new `fstype` filesystem configured with `data`
/// ("key=value" strings and bare flags) and the mount attributes of `opts`.
pub(crate) fn new_fs_mount(
    dest: &str,
    fstype: &str,
    source: Option<&str>,
    data: &[String],
    opts: &MountOptions,
) -> Result<OwnedFd, RootfsError> {
    let fs = sys::fsopen(fstype).map_err(|e| {
        let detail = if e.raw_os_error() == Some(libc::ENODEV) {
            format!("(type {fstype:?}: not a filesystem type this kernel knows)")
        } else {
            format!("(type {fstype:?})")
        };
        RootfsError::mount(dest, "fsopen", detail, e)
    })?;
    let fail = |what: String, e: io::Error| {
        let msgs = sys::fs_context_messages(fs.as_fd());
        let detail = if msgs.is_empty() {
            what
        } else {
            format!("{what} [{msgs}]")
        };
        RootfsError::mount(dest, "fsconfig", detail, e)
    };
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        sys::fsconfig_string(fs.as_fd(), "source", src)
            .map_err(|e| fail(format!("(source {src:?})"), e))?;
    }
    for d in data {
        let r = match d.split_once('=') {
            Some((k, v)) => sys::fsconfig_string(fs.as_fd(), k, unquote_context(k, v)),
            None => sys::fsconfig_flag(fs.as_fd(), d),
        };
        r.map_err(|e| fail(format!("(option {d:?})"), e))?;
    }
    sys::fsconfig_create(fs.as_fd()).map_err(|e| fail(format!("(create {fstype})"), e))?;
    // A fresh mount has nothing to clear: the set bits (atime mode included) are all it needs.
    let attrs = opts.attrs.set | opts.rec_attrs.set;
    sys::fsmount(fs.as_fd(), attrs)
        .map_err(|e| RootfsError::mount(dest, "fsmount", format!("(type {fstype:?})"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::parse_mount_options;

    /// CVE-2021-30465, with the race won on purpose: a directory on the way to a mount target
    /// is exchanged for a symlink to a host directory between the opening of the target and
    /// the mount. The mount still lands on the opened directory (now under the other name),
    /// never at the symlink's destination: no path is resolved again at mount time. Runs in a
    /// thread with a private mount namespace.
    #[test]
    fn a_component_swapped_for_a_symlink_after_the_target_is_opened_is_not_followed() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!(
                "SKIP a_component_swapped_for_a_symlink_after_the_target_is_opened: needs root"
            );
            return;
        }
        let base = std::env::temp_dir().join(format!("berth-30465-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let rootfs = base.join("rootfs");
        let host = base.join("host-victim");
        std::fs::create_dir_all(rootfs.join("vol/sub")).unwrap();
        std::fs::create_dir_all(host.join("sub")).unwrap();
        let (rootfs2, host2) = (rootfs.clone(), host.clone());
        let seen = std::thread::spawn(move || {
            berth_sys::ns::unshare(libc::CLONE_NEWNS).unwrap();
            sys::mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None).unwrap();
            let root = open_path(rootfs2.as_os_str(), libc::O_PATH | libc::O_DIRECTORY).unwrap();
            let ctx = MountContext {
                root: root.as_fd(),
                bundle: Path::new("/"),
                user_namespace: false,
                cgroup_namespace: false,
                mount_label: None,
            };
            let target = open_target(
                &ctx,
                Path::new("/vol/sub"),
                Target::Any(Kind::Dir),
                "/vol/sub",
            )
            .unwrap();
            // The attacker's move: /vol becomes a symlink to the host directory, the real
            // directory moves aside (RENAME_EXCHANGE, as in the public proof of concept).
            std::os::unix::fs::symlink(&host2, rootfs2.join("link")).unwrap();
            nix::fcntl::renameat2(
                None,
                &rootfs2.join("vol"),
                None,
                &rootfs2.join("link"),
                nix::fcntl::RenameFlags::RENAME_EXCHANGE,
            )
            .unwrap();
            let opts = parse_mount_options::<&str>(&[]);
            let mnt = new_fs_mount("/vol/sub", "tmpfs", Some("tmpfs"), &[], &opts).unwrap();
            attach("/vol/sub", mnt.as_fd(), target.as_fd()).unwrap();
            std::fs::write(rootfs2.join("link/sub/marker"), "in the tmpfs").unwrap();
            let on_host = host2.join("sub/marker").exists();
            // This thread's mount namespace, not the process's.
            let mounts = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            let host_sub = format!(" {} ", host2.join("sub").display());
            let swapped_sub = format!(" {} ", rootfs2.join("link/sub").display());
            (
                on_host,
                mounts.contains(&host_sub),
                mounts.contains(&swapped_sub),
            )
        })
        .join();
        let _ = std::fs::remove_dir_all(&base);
        let (on_host, host_mounted, swapped_mounted) = seen.unwrap();
        assert!(!host_mounted, "the tmpfs was mounted on the host directory");
        assert!(
            !on_host,
            "a file written in the mount reached the host directory"
        );
        assert!(
            swapped_mounted,
            "the tmpfs is on the directory that was opened"
        );
    }
}
