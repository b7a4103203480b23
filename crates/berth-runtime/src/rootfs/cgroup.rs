//! The `cgroup` mount type. On a cgroup v2 host it is a cgroup2 mount. On v1 it is, as with
//! runc, a tmpfs holding one directory per hierarchy: without a cgroup namespace each is a
//! read-only bind of the container's own cgroup from the host hierarchy (so the container
//! sees only its subtree); with one, the hierarchy is mounted directly (the namespace
//! already scopes the view). Co-mounted controllers ("cpu,cpuacct") get per-controller symlinks.

use super::error::RootfsError;
use super::inroot;
use super::mountops::{
    attach, attach_and_propagate, clone_host_dir, new_fs_mount, open_target, set_attrs,
    set_propagation, MountContext, Target,
};
use super::options::{AttrChange, MountOptions};
use berth_sys::mount::{
    self as sys, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};
use berth_sys::mountinfo::{self, MountInfo};
use berth_sys::path::{fd_path, mkdirat, open_path, symlinkat};
use oci_spec::runtime::Mount;
use std::ffi::OsStr;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One line of /proc/self/cgroup for a v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    berth_cgroups::mountinfo::parse_proc_cgroup(text)
        .into_iter()
        // The "0::/path" line is the v2 hierarchy of a hybrid host: not part of a v1 mount.
        .filter(|l| !l.controllers.is_empty())
        .map(|l| CgroupLine {
            controllers: l.controllers,
            path: l.path.into(),
        })
        .collect()
}

/// A v1 hierarchy to expose: where it is mounted on the host and the container's cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Directory name in the container's /sys/fs/cgroup (the host mount point's name).
    pub name: String,
    pub controllers: Vec<String>,
    /// Host path of the container's cgroup directory in this hierarchy.
    pub host_path: PathBuf,
    /// The container's cgroup as /proc/self/cgroup shows it (relative to its cgroup namespace).
    pub cgroup_path: PathBuf,
}

/// Pairs each /proc/self/cgroup line with a host mount of that hierarchy. `need_path`: the
/// mount must contain the process's cgroup (for binding it); in a cgroup namespace the
/// paths are relative to the namespace (mount roots then show as "/.."), and the hierarchy
/// is mounted afresh, so only the controllers have to match. Mounts at or below `rootfs` are
/// the container's own (a `/sys` bound from the host with `rbind` brings copies of the
/// hierarchies, which can come first in mountinfo): they are not the host's.
pub fn v1_hierarchies(
    mounts: &[MountInfo],
    lines: &[CgroupLine],
    need_path: bool,
    rootfs: &Path,
) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    // A rootfs that is the runtime's own root ("/") holds every mount.
    let in_rootfs = |m: &MountInfo| rootfs != Path::new("/") && m.mount_point.starts_with(rootfs);
    for line in lines {
        let found = mounts.iter().find(|m| {
            m.fstype == "cgroup"
                && !in_rootfs(m)
                && line.controllers.iter().all(|c| m.super_options.contains(c))
                && (!need_path || line.path.starts_with(&m.root))
        });
        let Some(m) = found else { continue };
        let Some(name) = m.mount_point.file_name() else {
            continue;
        };
        let rel = line.path.strip_prefix(&m.root).unwrap_or(Path::new(""));
        out.push(Hierarchy {
            name: name.to_string_lossy().into_owned(),
            controllers: line.controllers.clone(),
            host_path: m.mount_point.join(rel),
            cgroup_path: line.path.clone(),
        });
    }
    out
}

pub fn mount_cgroup(
    ctx: &MountContext<'_>,
    m: &Mount,
    dest: &str,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let target = open_target(ctx, m.destination(), Target::RealDir, dest)?;
    if berth_cgroups::is_pure_v2_host() {
        return mount_cgroup2(ctx, dest, opts, target.as_fd());
    }
    // The tmpfs stays writable until the hierarchies are in place; ro comes last.
    let mut tmpfs_opts = opts.clone();
    tmpfs_opts.attrs.set &= !MOUNT_ATTR_RDONLY;
    tmpfs_opts.rec_attrs.set &= !MOUNT_ATTR_RDONLY;
    let tmpfs = new_fs_mount(
        dest,
        "tmpfs",
        Some("tmpfs"),
        &["mode=755".to_string()],
        &tmpfs_opts,
    )?;
    attach(dest, tmpfs.as_fd(), target.as_fd())?;

    let read =
        |p: &str| std::fs::read_to_string(p).map_err(|e| RootfsError::mount(dest, "read", p, e));
    let mounts = mountinfo::parse(&read("/proc/self/mountinfo")?);
    let lines = parse_proc_cgroup(&read("/proc/self/cgroup")?);
    // Each hierarchy gets the mount's own ro (as runc binds them with the mount's flags: a
    // config without "ro" lets the container make sub-cgroups, which runc's bats suite relies on)
    // and is always nosuid, nodev, noexec.
    let ro_requested = (opts.attrs.set | opts.rec_attrs.set) & MOUNT_ATTR_RDONLY;
    let hier_attrs = AttrChange {
        set: ro_requested | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        clr: 0,
    };
    // Where the rootfs is, as mountinfo names it (the runtime's view, not yet pivoted).
    let rootfs = std::fs::read_link(fd_path(ctx.root))
        .map_err(|e| RootfsError::mount(dest, "readlink", "(rootfs)", e))?;
    for h in v1_hierarchies(&mounts, &lines, !ctx.cgroup_namespace, &rootfs) {
        let sub = format!("{dest}/{}", h.name);
        let name = OsStr::new(&h.name);
        match mkdirat(tmpfs.as_fd(), name, 0o755) {
            Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                return Err(RootfsError::mount(&sub, "mkdirat", "", e))
            }
            _ => {}
        }
        let sub_fd = inroot::open(tmpfs.as_fd(), Path::new(&h.name))
            .map_err(|e| RootfsError::mount(&sub, "openat2", "", e))?;
        let mnt = if ctx.cgroup_namespace {
            own_hierarchy(ctx, &h, &sub, sub_fd.as_fd(), &hier_attrs)?
        } else {
            let src = open_path(h.host_path.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)
                .map_err(|e| RootfsError::mount(&sub, "open", format!("({:?})", h.host_path), e))?;
            let tree = sys::clone_tree(src.as_fd(), false).map_err(|e| {
                RootfsError::mount(&sub, "open_tree", format!("({:?})", h.host_path), e)
            })?;
            set_attrs(tree.as_fd(), &hier_attrs, false, ctx.user_namespace)
                .map_err(|e| RootfsError::mount(&sub, "mount_setattr", "", e))?;
            tree
        };
        attach(&sub, mnt.as_fd(), sub_fd.as_fd())?;
        if h.name.contains(',') {
            for c in &h.controllers {
                match symlinkat(name, tmpfs.as_fd(), OsStr::new(c)) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                        return Err(RootfsError::mount(
                            &format!("{dest}/{c}"),
                            "symlinkat",
                            "",
                            e,
                        ))
                    }
                    _ => {}
                }
            }
        }
    }
    let ro = AttrChange {
        set: (opts.attrs.set | opts.rec_attrs.set) & MOUNT_ATTR_RDONLY,
        clr: 0,
    };
    set_attrs(tmpfs.as_fd(), &ro, false, ctx.user_namespace)
        .map_err(|e| RootfsError::mount(dest, "mount_setattr", "(ro)", e))?;
    set_propagation(dest, tmpfs.as_fd(), &opts.propagation)
}

/// The container's cgroup v2 path from /proc/self/cgroup's "0::" line.
pub fn unified_path(proc_self_cgroup: &str) -> Option<PathBuf> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}

/// cgroup v2, as runc does it: a fresh cgroup2 mount (its root is the cgroup namespace's
/// root); when the kernel refuses one (a user namespace without its own cgroup namespace),
/// a bind of the host's /sys/fs/cgroup. In a cgroup namespace whose root is above the
/// init's cgroup, only the init's own cgroup is exposed (see [`narrow_to`]).
fn mount_cgroup2(
    ctx: &MountContext<'_>,
    dest: &str,
    opts: &MountOptions,
    target: BorrowedFd<'_>,
) -> Result<(), RootfsError> {
    let mnt = match new_fs_mount(dest, "cgroup2", Some("cgroup"), &opts.data, opts) {
        Ok(full) if ctx.cgroup_namespace => {
            let text = std::fs::read_to_string("/proc/self/cgroup")
                .map_err(|e| RootfsError::mount(dest, "read", "/proc/self/cgroup", e))?;
            match unified_path(&text) {
                Some(p) if p != Path::new("/") => {
                    narrow_to(ctx, full, &p, &opts.attrs, dest, target)?
                }
                _ => full,
            }
        }
        Ok(full) => full,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EBUSY)) => {
            clone_host_dir(
                dest,
                "/sys/fs/cgroup",
                "bind fallback",
                opts,
                ctx.user_namespace,
            )?
        }
        Err(e) => return Err(e),
    };
    attach_and_propagate(dest, mnt.as_fd(), target, opts)
}

/// Replaces a fresh cgroup mount by a mount of its subdirectory `rel`: the full mount is
/// attached briefly at `target` (a detached mount cannot be cloned on older kernels), `rel`
/// cloned with `attrs`, and the full mount detached again before anything runs.
fn narrow_to(
    ctx: &MountContext<'_>,
    full: OwnedFd,
    rel: &Path,
    attrs: &AttrChange,
    dest: &str,
    target: BorrowedFd<'_>,
) -> Result<OwnedFd, RootfsError> {
    attach(dest, full.as_fd(), target)?;
    let inner = inroot::open(full.as_fd(), rel).map_err(|e| {
        RootfsError::mount(dest, "openat2", format!("({rel:?} in the hierarchy)"), e)
    })?;
    let tree = sys::clone_tree(inner.as_fd(), false)
        .map_err(|e| RootfsError::mount(dest, "open_tree", "", e))?;
    set_attrs(tree.as_fd(), attrs, false, ctx.user_namespace)
        .map_err(|e| RootfsError::mount(dest, "mount_setattr", "", e))?;
    // The mount fd's /proc/self/fd path names exactly that mount (the host's /proc: the
    // root has not been switched yet).
    sys::umount2(&fd_path(full.as_fd()), libc::MNT_DETACH)
        .map_err(|e| RootfsError::mount(dest, "umount2", "(full hierarchy)", e))?;
    Ok(tree)
}

/// In a cgroup namespace: a fresh mount of the hierarchy, whose root is the namespace's root.
/// When the init is not at that root (the namespace was made before the init joined its
/// cgroup), only its own cgroup is exposed (see [`narrow_to`]).
fn own_hierarchy(
    ctx: &MountContext<'_>,
    h: &Hierarchy,
    sub: &str,
    sub_fd: BorrowedFd<'_>,
    attrs: &AttrChange,
) -> Result<OwnedFd, RootfsError> {
    let opts = MountOptions {
        attrs: *attrs,
        ..Default::default()
    };
    let full = new_fs_mount(sub, "cgroup", Some("cgroup"), &h.controllers, &opts)?;
    if h.cgroup_path == Path::new("/") {
        return Ok(full);
    }
    narrow_to(ctx, full, &h.cgroup_path, attrs, sub, sub_fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_line() {
        assert_eq!(
            unified_path("1:cpu:/a\n0::/ctr/x\n"),
            Some(PathBuf::from("/ctr/x"))
        );
        assert_eq!(unified_path("1:cpu:/a\n"), None);
    }

    #[test]
    fn pairs_lines_with_host_mounts() {
        let mounts = mountinfo::parse(
            "30 22 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             31 22 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
             32 22 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
             33 22 0:29 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        let lines = parse_proc_cgroup(
            "4:cpu,cpuacct:/c1\n1:name=systemd:/user/c1\n0::/c1\n5:memory:/outer/c1\n6:pids:/c1\n",
        );
        assert_eq!(lines.len(), 4);
        let h = v1_hierarchies(&mounts, &lines, true, Path::new("/b/rootfs"));
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].name, "cpu,cpuacct");
        assert_eq!(h[0].host_path, Path::new("/sys/fs/cgroup/cpu,cpuacct/c1"));
        assert_eq!(h[1].name, "systemd");
        assert_eq!(h[1].host_path, Path::new("/sys/fs/cgroup/systemd/user/c1"));
        assert_eq!(h[2].host_path, Path::new("/sys/fs/cgroup/memory/c1"));
        // In a cgroup namespace, a mount root outside it shows as "/..": still paired.
        let ns_mounts =
            mountinfo::parse("33 22 0:29 /.. /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        let ns_lines = parse_proc_cgroup("5:memory:/\n");
        let r = Path::new("/b/rootfs");
        assert!(v1_hierarchies(&ns_mounts, &ns_lines, true, r).is_empty());
        assert_eq!(v1_hierarchies(&ns_mounts, &ns_lines, false, r).len(), 1);
    }

    #[test]
    fn copies_of_the_hierarchies_inside_the_rootfs_are_not_the_hosts() {
        // /sys bound from the host with rbind, by a runtime that made the tree before the
        // init's mount namespace existed: its copies come first.
        let mounts = mountinfo::parse(
            "40 39 0:27 / /b/rootfs/sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
             41 39 0:29 / /b/rootfs/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             31 22 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
             33 22 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        let lines = parse_proc_cgroup("1:name=systemd:/c1\n5:memory:/c1\n");
        for need_path in [true, false] {
            let h = v1_hierarchies(&mounts, &lines, need_path, Path::new("/b/rootfs"));
            let paths: Vec<_> = h.iter().map(|h| h.host_path.as_path()).collect();
            assert_eq!(
                paths,
                [
                    Path::new("/sys/fs/cgroup/systemd/c1"),
                    Path::new("/sys/fs/cgroup/memory/c1")
                ]
            );
        }
        // A rootfs at "/" rules nothing out.
        assert_eq!(
            v1_hierarchies(&mounts, &lines, true, Path::new("/")).len(),
            2
        );
    }
}
