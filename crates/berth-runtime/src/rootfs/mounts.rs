//! Mounting one config.json `mounts` entry inside the rootfs with the new mount API: the
//! target is opened (or created) in-root first, the mount is built detached (open_tree clone
//! for binds, fsopen/fsconfig/fsmount for filesystems), its attributes are set while it is
//! still detached, and only then is it attached onto the opened target with move_mount.

use super::error::RootfsError;
use super::inroot::{self, Kind};
use super::options::{parse_mount_options, AttrChange, MountOptions, PropagationChange};
use berth_sys::mount::{self as sys, MountAttr};
use berth_sys::path::{
    cpath, fstat, is_dir, open_path, openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS,
};
use oci_spec::runtime::Mount;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What every mount needs to know about the container.
pub struct MountContext<'a> {
    /// The rootfs (after it was bound onto itself).
    pub root: BorrowedFd<'a>,
    pub bundle: &'a Path,
    pub user_namespace: bool,
    /// The container gets its own cgroup namespace (cgroup v1 hierarchies are then mounted
    /// directly instead of bound from the host).
    pub cgroup_namespace: bool,
}

/// The destination as the user wrote it, for error messages.
pub fn dest_string(m: &Mount) -> String {
    m.destination().to_string_lossy().into_owned()
}

pub(crate) fn mount_err(
    dest: &str,
    syscall: &'static str,
    detail: impl Into<String>,
    source: io::Error,
) -> RootfsError {
    let detail = detail.into();
    let detail = if detail.is_empty() {
        detail
    } else {
        format!(" {detail}")
    };
    RootfsError::Mount {
        destination: dest.to_string(),
        syscall,
        detail,
        source,
    }
}

/// Whether a mount is a bind mount: type "bind" or a "bind"/"rbind" option.
pub fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    opts.bind || m.typ().as_deref() == Some("bind")
}

/// A bind source: absolute, or relative to the bundle directory.
pub fn bind_source(m: &Mount, bundle: &Path) -> Option<PathBuf> {
    let src = m.source().as_ref()?;
    Some(if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    })
}

/// Opens a bind source as O_PATH. An absolute source is the host path the config's author
/// chose and is resolved normally. A relative one is resolved beneath the bundle directory
/// (RESOLVE_BENEATH): bundles often hold untrusted image content, and a symlink there (or
/// in the rootfs, for "rootfs/..." sources) must not turn the source into a host path such
/// as /etc; leaving the bundle is an error (EXDEV) rather than a silent redirect.
pub fn open_bind_source(m: &Mount, bundle: &Path) -> Option<io::Result<OwnedFd>> {
    let src = m.source().as_ref()?;
    if src.is_absolute() {
        return Some(open_path(src.as_os_str(), libc::O_PATH));
    }
    Some((|| {
        let dir = open_path(bundle.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)?;
        let p = cpath(src.as_os_str())?;
        openat2(
            dir.as_raw_fd(),
            &p,
            libc::O_PATH,
            0,
            RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        )
    })())
}

/// Explains an error of [`open_bind_source`].
pub fn source_error_detail(src: &Path, e: &io::Error) -> String {
    if !src.is_absolute() && e.raw_os_error() == Some(libc::EXDEV) {
        format!("(bind source {src:?} resolves outside the bundle directory; use an absolute path)")
    } else {
        format!("(bind source {src:?})")
    }
}

/// Sets attributes on a (detached or attached) mount. In a user namespace, the flags the
/// parent namespace locked cannot be cleared, and a locked atime setting (relatime,
/// noatime, nodiratime) cannot be changed at all: when the kernel refuses, the change is
/// retried keeping those as they are (only ro/nosuid/nodev/noexec are added), which is what
/// runc's "preserve the locked flags" amounts to.
pub fn set_attrs(
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

pub fn apply_propagation(mnt: BorrowedFd<'_>, changes: &[PropagationChange]) -> io::Result<()> {
    for p in changes {
        let attr = MountAttr {
            propagation: p.kind.ms_flag(),
            ..Default::default()
        };
        sys::mount_setattr_fd(mnt, p.recursive, &attr)?;
    }
    Ok(())
}

/// Mounts one config.json entry.
pub fn mount_entry(ctx: &MountContext<'_>, m: &Mount) -> Result<(), RootfsError> {
    let dest = dest_string(m);
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    if opts.idmap || m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(RootfsError::Unsupported {
            destination: dest,
            what: "an ID-mapped mount (idmap)".into(),
        });
    }
    if let Some(o) = opts.unsupported.first() {
        return Err(RootfsError::Unsupported {
            destination: dest,
            what: format!("option {o:?}"),
        });
    }
    if is_bind(m, &opts) {
        bind_mount(ctx, m, &dest, &opts)
    } else if m.typ().as_deref() == Some("cgroup") {
        super::cgroup::mount_cgroup(ctx, m, &dest, &opts)
    } else {
        let fstype = m.typ().clone().unwrap_or_default();
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        let target = if needs_real_directory(&fstype) {
            open_real_dir_target(ctx, m.destination(), &dest)?
        } else {
            open_target(ctx, m.destination(), Kind::Dir, &dest)?
        };
        let data = tmpfs_data_with_mode(&fstype, &opts.data, target.as_fd());
        let mnt = match new_fs_mount(&dest, &fstype, source.as_deref(), &data, &opts) {
            Err(e) if ctx.user_namespace && is_eperm(&e) => {
                host_fallback(&fstype, &dest, &opts).unwrap_or(Err(e))?
            }
            r => r?,
        };
        attach(&dest, mnt.as_fd(), target.as_fd())?;
        apply_propagation(mnt.as_fd(), &opts.propagation)
            .map_err(|e| mount_err(&dest, "mount_setattr", "(propagation)", e))
    }
}

fn is_eperm(e: &RootfsError) -> bool {
    matches!(e, RootfsError::Mount { source, .. } if source.raw_os_error() == Some(libc::EPERM))
}

/// In a user namespace that does not own the network (IPC) namespace, the kernel refuses a
/// new sysfs (mqueue); like runc, bind the host's instead, with the requested attributes.
fn host_fallback(
    fstype: &str,
    dest: &str,
    opts: &MountOptions,
) -> Option<Result<OwnedFd, RootfsError>> {
    let host = match fstype {
        "sysfs" => "/sys",
        "mqueue" => "/dev/mqueue",
        _ => return None,
    };
    Some((|| {
        let src = open_path(OsStr::new(host), libc::O_PATH | libc::O_DIRECTORY).map_err(|e| {
            mount_err(
                dest,
                "open",
                format!("(host {host}, user-namespace fallback)"),
                e,
            )
        })?;
        let tree = sys::clone_tree(src.as_fd(), true)
            .map_err(|e| mount_err(dest, "open_tree", format!("({host})"), e))?;
        set_attrs(tree.as_fd(), &opts.attrs, false, true)
            .map_err(|e| mount_err(dest, "mount_setattr", "", e))?;
        set_attrs(tree.as_fd(), &opts.rec_attrs, true, true)
            .map_err(|e| mount_err(dest, "mount_setattr", "(recursive)", e))?;
        Ok(tree)
    })())
}

/// Kernel filesystems that expose host controls: their destination must not be reached
/// through a symlink (a rootfs with /proc -> / or /sys -> /tmp would otherwise get them
/// mounted somewhere else, the trick behind runc's CVE-2019-19921 class of bugs).
pub fn needs_real_directory(fstype: &str) -> bool {
    matches!(fstype, "proc" | "sysfs" | "cgroup" | "cgroup2")
}

/// Opens (creating) a target that must be a real directory, with no symlink on the way.
pub fn open_real_dir_target(
    ctx: &MountContext<'_>,
    dest: &Path,
    dest_str: &str,
) -> Result<OwnedFd, RootfsError> {
    let fd = inroot::open_or_create_no_symlinks(ctx.root, dest, Kind::Dir).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            RootfsError::InvalidMount {
                destination: dest_str.into(),
                reason: "the destination (or a directory on the way to it) is a symlink in the \
                         rootfs; proc, sysfs and cgroup filesystems are only mounted on real \
                         directories"
                    .into(),
            }
        } else {
            mount_err(
                dest_str,
                "openat2",
                "(open or create the target in the rootfs)",
                e,
            )
        }
    })?;
    refuse_root(ctx, fd, dest_str)
}

/// Opens the mount target inside the rootfs, creating it (as `kind`) when missing.
pub fn open_target(
    ctx: &MountContext<'_>,
    dest: &Path,
    kind: Kind,
    dest_str: &str,
) -> Result<OwnedFd, RootfsError> {
    let fd = inroot::open_or_create(ctx.root, dest, kind).map_err(|e| {
        mount_err(
            dest_str,
            "openat2",
            "(open or create the target in the rootfs)",
            e,
        )
    })?;
    refuse_root(ctx, fd, dest_str)
}

/// A destination that resolves (through symlinks or "..") to the rootfs's own root would
/// cover the whole container filesystem; it is refused like a literal "/".
fn refuse_root(ctx: &MountContext<'_>, fd: OwnedFd, dest: &str) -> Result<OwnedFd, RootfsError> {
    let stat = |f: BorrowedFd<'_>| fstat(f).map_err(|e| mount_err(dest, "fstat", "", e));
    let (t, r) = (stat(fd.as_fd())?, stat(ctx.root)?);
    if t.st_dev == r.st_dev && t.st_ino == r.st_ino {
        return Err(RootfsError::InvalidMount {
            destination: dest.into(),
            reason: "the destination resolves to the container's root directory".into(),
        });
    }
    Ok(fd)
}

pub fn attach(dest: &str, mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<(), RootfsError> {
    sys::move_mount_fd(mnt, target).map_err(|e| mount_err(dest, "move_mount", "", e))
}

fn bind_mount(
    ctx: &MountContext<'_>,
    m: &Mount,
    dest: &str,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let Some(src) = bind_source(m, ctx.bundle) else {
        return Err(RootfsError::InvalidMount {
            destination: dest.into(),
            reason: "a bind mount needs a source".into(),
        });
    };
    let src_str = src.to_string_lossy().into_owned();
    // Only the target lies in the (untrusted) rootfs; see open_bind_source for the source.
    let src_fd = match open_bind_source(m, ctx.bundle) {
        Some(Ok(fd)) => fd,
        Some(Err(e)) => {
            let detail = m
                .source()
                .as_deref()
                .map(|s| source_error_detail(s, &e))
                .unwrap_or_default();
            return Err(mount_err(dest, "openat2", detail, e));
        }
        None => {
            return Err(RootfsError::InvalidMount {
                destination: dest.into(),
                reason: "a bind mount needs a source".into(),
            })
        }
    };
    let st = fstat(src_fd.as_fd())
        .map_err(|e| mount_err(dest, "fstat", format!("(bind source {src_str:?})"), e))?;
    let kind = if is_dir(&st) { Kind::Dir } else { Kind::File };
    let target = open_target(ctx, m.destination(), kind, dest)?;
    let tree = sys::clone_tree(src_fd.as_fd(), opts.recursive_bind)
        .map_err(|e| mount_err(dest, "open_tree", format!("(bind source {src_str:?})"), e))?;
    set_attrs(tree.as_fd(), &opts.attrs, false, ctx.user_namespace)
        .map_err(|e| mount_err(dest, "mount_setattr", "", e))?;
    set_attrs(tree.as_fd(), &opts.rec_attrs, true, ctx.user_namespace)
        .map_err(|e| mount_err(dest, "mount_setattr", "(recursive)", e))?;
    attach(dest, tree.as_fd(), target.as_fd())?;
    apply_propagation(tree.as_fd(), &opts.propagation)
        .map_err(|e| mount_err(dest, "mount_setattr", "(propagation)", e))
}

/// A tmpfs without `mode=` takes the mode of the directory it covers (as runc does since 1.1.x),
/// so an image's sticky or setgid /tmp keeps its bits.
fn tmpfs_data_with_mode(fstype: &str, data: &[String], target: BorrowedFd<'_>) -> Vec<String> {
    let mut data = data.to_vec();
    if fstype == "tmpfs" && !data.iter().any(|d| d.starts_with("mode=")) {
        if let Ok(st) = nix::sys::stat::fstat(target.as_raw_fd()) {
            data.push(format!("mode={:o}", st.st_mode & 0o7777));
        }
    }
    data
}

/// Creates a detached mount of a new `fstype` filesystem configured with `data`
/// ("key=value" strings and bare flags) and the mount attributes of `opts`.
pub fn new_fs_mount(
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
        mount_err(dest, "fsopen", detail, e)
    })?;
    let fail = |what: String, e: io::Error| {
        let msgs = sys::fs_context_messages(fs.as_fd());
        let detail = if msgs.is_empty() {
            what
        } else {
            format!("{what} [{msgs}]")
        };
        mount_err(dest, "fsconfig", detail, e)
    };
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        sys::fsconfig_string(fs.as_fd(), "source", src)
            .map_err(|e| fail(format!("(source {src:?})"), e))?;
    }
    for d in data {
        let r = match d.split_once('=') {
            Some((k, v)) => sys::fsconfig_string(fs.as_fd(), k, v),
            None => sys::fsconfig_flag(fs.as_fd(), d),
        };
        r.map_err(|e| fail(format!("(option {d:?})"), e))?;
    }
    sys::fsconfig_create(fs.as_fd()).map_err(|e| fail(format!("(create {fstype})"), e))?;
    // A fresh mount has nothing to clear: the set bits (atime mode included) are all it needs.
    let attrs = opts.attrs.set | opts.rec_attrs.set;
    sys::fsmount(fs.as_fd(), attrs)
        .map_err(|e| mount_err(dest, "fsmount", format!("(type {fstype:?})"), e))
}

/// True when `dest` names /dev, however it is spelled.
pub fn is_dev_dir(dest: &Path) -> bool {
    let comps = inroot::lookup_components(dest);
    comps.len() == 1 && comps[0] == OsStr::new("dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_dir_spellings() {
        assert!(is_dev_dir(Path::new("/dev")));
        assert!(is_dev_dir(Path::new("/dev/")));
        assert!(is_dev_dir(Path::new("dev")));
        assert!(is_dev_dir(Path::new("//./dev")));
        assert!(!is_dev_dir(Path::new("/dev/pts")));
    }

    #[test]
    fn bind_sources_are_bundle_relative() {
        let m: Mount =
            serde_json::from_str(r#"{"destination":"/a","source":"data","options":["bind"]}"#)
                .expect("mount");
        assert_eq!(
            bind_source(&m, Path::new("/b")),
            Some(PathBuf::from("/b/data"))
        );
        let m: Mount =
            serde_json::from_str(r#"{"destination":"/a","source":"/abs","type":"bind"}"#)
                .expect("mount");
        assert_eq!(
            bind_source(&m, Path::new("/b")),
            Some(PathBuf::from("/abs"))
        );
        assert!(is_bind(&m, &parse_mount_options::<&str>(&[])));
    }
}
