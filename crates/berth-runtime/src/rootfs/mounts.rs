//! Mounting one config.json `mounts` entry inside the rootfs with the new mount API: the
//! target is opened (or created) in-root first, the mount is built detached (open_tree clone
//! for binds, fsopen/fsconfig/fsmount for filesystems), its attributes are set while it is
//! still detached, and only then is it attached onto the opened target with move_mount.
//! The operations themselves are in [`super::mountops`]; the `cgroup` type is in
//! [`super::cgroup`].

use super::error::RootfsError;
use super::idmap::{self, MountIdmap, UsernsCache};
use super::inroot::{self, Kind};
use super::mountops::{
    attach_and_propagate, clone_host_dir, new_fs_mount, open_target, set_attrs, set_mount_attrs,
    MountContext, Target,
};
use super::options::{
    attrs_from_statvfs, bind_attr_change, parse_mount_options, AttrChange, MountOptions,
};
use berth_sys::mount as sys;
use berth_sys::path::{
    cpath, fstat, is_dir, open_path, openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS,
};
use oci_spec::runtime::{Mount, Spec};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The destination as the user wrote it, for error messages.
pub(crate) fn dest_string(m: &Mount) -> String {
    m.destination().to_string_lossy().into_owned()
}

/// Whether a mount is a bind mount: type "bind" or a "bind"/"rbind" option.
pub(crate) fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    opts.bind || m.typ().as_deref() == Some("bind")
}

/// Whether `m` (a mount of `spec`) is ID-mapped, and how; see [`super::idmap`].
pub(crate) fn idmap_of(spec: &Spec, m: &Mount) -> Result<Option<MountIdmap>, RootfsError> {
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    idmap::mount_idmap(spec, m, &opts, is_bind(m, &opts), &dest_string(m))
}

/// A bind source: absolute, or relative to the bundle directory.
fn bind_source(m: &Mount, bundle: &Path) -> Option<PathBuf> {
    let src = m.source().as_ref()?;
    Some(if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    })
}

/// Whether a bind source is an absolute path into the container's own rootfs (`root.path`,
/// relative to `bundle`), as spelled or after resolving the rootfs's own path: such a source is
/// what the earlier mounts of the list made of it (mounts.bats' "mount order"), so it can only
/// be opened in the init's mount namespace at its turn, not before.
pub(crate) fn source_in_rootfs(spec: &Spec, bundle: &Path, m: &Mount) -> bool {
    let (Some(src), Some(root)) = (m.source().as_ref(), spec.root().as_ref()) else {
        return false;
    };
    if !src.is_absolute() {
        return false;
    }
    let rootfs = bundle.join(root.path());
    src.starts_with(&rootfs) || std::fs::canonicalize(&rootfs).is_ok_and(|r| src.starts_with(r))
}

/// runc's reading of a destination spelled as a host path into the rootfs (`rootfs` as given
/// or as `root.path` spells it, with no ".." after it): it names that place in the container,
/// not a directory of that name made inside it. The container path, when it is one (never "/").
pub(crate) fn destination_in_rootfs(
    m: &Mount,
    rootfs: &Path,
    spec: &Spec,
    bundle: &Path,
) -> Option<PathBuf> {
    let dest = m.destination();
    let spelled = spec.root().as_ref().map(|r| bundle.join(r.path()));
    [Some(rootfs.to_path_buf()), spelled]
        .into_iter()
        .flatten()
        .find_map(|root| dest.strip_prefix(&root).ok().map(Path::to_path_buf))
        .filter(|rest| {
            // The rootfs itself stays a container path (the root is never a mount target).
            rest.components().next().is_some()
                && !rest
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
        })
        .map(|rest| Path::new("/").join(rest))
}

/// Opens a bind source as O_PATH. An absolute source is the host path the config's author
/// chose and is resolved normally. A relative one is resolved beneath the bundle directory
/// (RESOLVE_BENEATH): bundles often hold untrusted image content, and a symlink there (or
/// in the rootfs, for "rootfs/..." sources) must not turn the source into a host path such
/// as /etc; leaving the bundle is an error (EXDEV) rather than a silent redirect.
pub(crate) fn open_bind_source(
    m: &Mount,
    bundle: &Path,
    dest: &str,
) -> Result<OwnedFd, RootfsError> {
    let Some(src) = m.source().as_ref() else {
        return Err(RootfsError::InvalidMount {
            destination: dest.into(),
            reason: "a bind mount needs a source".into(),
        });
    };
    let opened = if src.is_absolute() {
        open_path(src.as_os_str(), libc::O_PATH)
    } else {
        open_path(bundle.as_os_str(), libc::O_PATH | libc::O_DIRECTORY).and_then(|dir| {
            openat2(
                dir.as_raw_fd(),
                &cpath(src.as_os_str())?,
                libc::O_PATH,
                0,
                RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
            )
        })
    };
    opened.map_err(|source| {
        let detail = if !src.is_absolute() && source.raw_os_error() == Some(libc::EXDEV) {
            format!(
                "bind source {src:?} resolves outside the bundle directory; use an absolute path"
            )
        } else {
            format!("bind source {src:?}")
        };
        RootfsError::BindSource {
            destination: dest.into(),
            detail,
            source,
        }
    })
}

/// Bind mounts the runtime made (detached, `open_tree(OPEN_TREE_CLONE)`) before the init entered
/// a new user namespace, one slot per `mounts` entry (see [`preopen_bind_sources`]).
#[derive(Debug, Default)]
pub struct PreopenedSources(Vec<Option<OwnedFd>>);

impl PreopenedSources {
    /// One slot per `mounts` entry, to hand the trees to another process.
    pub(crate) fn into_slots(self) -> Vec<Option<OwnedFd>> {
        self.0
    }

    /// Trees handed over by the runtime, renumbered as [`preopen_bind_sources`] numbers them.
    pub(crate) fn from_slots(slots: Vec<Option<OwnedFd>>) -> PreopenedSources {
        PreopenedSources(out_of_the_low_range(slots))
    }

    /// The detached bind mount made for `mounts[index]`, if one was.
    pub(crate) fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.0
            .get(index)
            .and_then(|f| f.as_ref())
            .map(|f| f.as_fd())
    }
}

/// Makes every bind mount of `spec`'s mounts as a detached tree with the runtime's credentials,
/// for an init that will set up the rootfs as root of a new user namespace: that root cannot
/// reach a source below a directory only the host's root may search (runc passes such mounts
/// too), nor ID-map a mount of the host's filesystems (which needs CAP_SYS_ADMIN over their
/// user namespace), so ID-mapped ones are mapped here too. A detached tree, unlike an fd of the
/// source, can be attached in the init's own mount namespace. A source that cannot be opened
/// now is left to the init, which then reports the error at its place in the mount order, and
/// so is one inside the container's rootfs (`source_in_rootfs`); an ID mapping that cannot be
/// applied is an error now.
pub fn preopen_bind_sources(spec: &Spec, bundle: &Path) -> Result<PreopenedSources, RootfsError> {
    let mut cache = UsernsCache::default();
    let mut fds = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
        if !is_bind(m, &opts) {
            fds.push(None);
            continue;
        }
        if source_in_rootfs(spec, bundle, m) {
            fds.push(None);
            continue;
        }
        let dest = dest_string(m);
        let tree = open_bind_source(m, bundle, &dest)
            .ok()
            .and_then(|src| sys::clone_tree(src.as_fd(), opts.recursive_bind).ok());
        if let (Some(tree), Some(map)) = (&tree, idmap_of(spec, m)?) {
            idmap::apply(tree.as_fd(), &map, &mut cache, &dest)?;
        }
        fds.push(tree);
    }
    Ok(PreopenedSources(out_of_the_low_range(fds)))
}

/// Renumbers the trees near the top of the runtime's fd range: the init inherits them, and
/// with a low RLIMIT_NOFILE (set on it before it mounts anything) a block of them at the low
/// numbers would leave it no fd to open (the limit bounds new fd numbers only; fds already
/// above it stay usable). A tree that cannot be moved stays where it is.
fn out_of_the_low_range(fds: Vec<Option<OwnedFd>>) -> Vec<Option<OwnedFd>> {
    let count = fds.iter().flatten().count() as u64;
    let soft = berth_sys::security::prlimit_get(0, libc::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let base = soft.saturating_sub(count + 16).min(4096);
    if count == 0 || base < 64 {
        return fds;
    }
    fds.into_iter()
        .map(|fd| fd.map(|fd| berth_sys::fd::dup_at_least(fd.as_fd(), base as i32).unwrap_or(fd)))
        .collect()
}

/// The detached, ID-mapped tree of the bind mount `m` of `spec`, made with the caller's
/// credentials (see [`super::SetupHooks::idmapped_source`]).
pub(crate) fn idmapped_tree(spec: &Spec, bundle: &Path, m: &Mount) -> Result<OwnedFd, RootfsError> {
    let dest = dest_string(m);
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    let src = open_bind_source(m, bundle, &dest)?;
    let tree = sys::clone_tree(src.as_fd(), opts.recursive_bind)
        .map_err(|e| RootfsError::mount(&dest, "open_tree", "(bind source)", e))?;
    if let Some(map) = idmap_of(spec, m)? {
        idmap::apply(tree.as_fd(), &map, &mut UsernsCache::default(), &dest)?;
    }
    Ok(tree)
}

/// Mounts one config.json entry; a bind mount is `cloned` when the runtime made it (see
/// [`preopen_bind_sources`]; ID-mapped then, if it is to be), else made here and ID-mapped
/// as `idmapped` says (with a user namespace from `cache`).
pub(crate) fn mount_entry(
    ctx: &MountContext<'_>,
    m: &Mount,
    cloned: Option<BorrowedFd<'_>>,
    idmapped: Option<&MountIdmap>,
    cache: &mut UsernsCache,
) -> Result<(), RootfsError> {
    let dest = dest_string(m);
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    if is_bind(m, &opts) {
        bind_mount(ctx, m, &dest, &opts, cloned, idmapped, cache)
    } else if m.typ().as_deref() == Some("cgroup") {
        super::cgroup::mount_cgroup(ctx, m, &dest, &opts)
    } else {
        let fstype = m.typ().clone().unwrap_or_default();
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        let target = if needs_real_directory(&fstype) {
            Target::RealDir
        } else {
            Target::Any(Kind::Dir)
        };
        // A target the runtime creates has no mode to keep: the tmpfs gets its default (1777).
        let existed = fstype != "tmpfs"
            || matches!(
                inroot::open_existing(ctx.root, m.destination()),
                Ok(Some(_))
            );
        let target = open_target(ctx, m.destination(), target, &dest)?;
        let data = if existed {
            tmpfs_data_with_mode(&fstype, &opts.data, target.as_fd())
        } else {
            opts.data.clone()
        };
        let data = labelled_data(&fstype, &data, ctx.mount_label);
        if fstype == "tmpfs" && opts.copy_up {
            return tmpfs_copy_up(ctx, &dest, target.as_fd(), &data, &opts);
        }
        let mnt = match new_fs_mount(&dest, &fstype, source.as_deref(), &data, &opts) {
            Err(e) if ctx.user_namespace && e.raw_os_error() == Some(libc::EPERM) => {
                host_fallback(&fstype, &dest, &opts).unwrap_or(Err(e))?
            }
            r => r?,
        };
        if let Some(label) = ctx.mount_label.filter(|_| fstype == "mqueue") {
            label_root(&dest, mnt.as_fd(), label)?;
        }
        attach_and_propagate(&dest, mnt.as_fd(), target.as_fd(), &opts)
    }
}

/// A tmpfs with `tmpcopyup`: made writable and detached, filled with the content of the
/// directory it will cover (see [`super::copyup`]), made read-only if asked, then attached.
/// runc ignores the option on other filesystem types, and so does berth.
fn tmpfs_copy_up(
    ctx: &MountContext<'_>,
    dest: &str,
    target: BorrowedFd<'_>,
    data: &[String],
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let mut writable = opts.clone();
    writable.attrs.set &= !sys::MOUNT_ATTR_RDONLY;
    writable.rec_attrs.set &= !sys::MOUNT_ATTR_RDONLY;
    let mnt = new_fs_mount(dest, "tmpfs", Some("tmpfs"), data, &writable)?;
    super::copyup::copy_dir_content(target, mnt.as_fd()).map_err(|e| RootfsError::CopyUp {
        destination: dest.to_string(),
        path: e.path.to_string_lossy().into_owned(),
        source: e.source,
    })?;
    let ro = (opts.attrs.set | opts.rec_attrs.set) & sys::MOUNT_ATTR_RDONLY;
    let ro = AttrChange { set: ro, clr: 0 };
    set_attrs(mnt.as_fd(), &ro, true, ctx.user_namespace)
        .map_err(|e| RootfsError::mount(dest, "mount_setattr", "(read-only after tmpcopyup)", e))?;
    attach_and_propagate(dest, mnt.as_fd(), target, opts)
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
    Some(clone_host_dir(
        dest,
        host,
        "user-namespace fallback",
        opts,
        true,
    ))
}

/// Kernel filesystems that expose host controls: their destination must not be reached
/// through a symlink (a rootfs with /proc -> / or /sys -> /tmp would otherwise get them
/// mounted somewhere else, the trick behind runc's CVE-2019-19921 class of bugs).
fn needs_real_directory(fstype: &str) -> bool {
    matches!(fstype, "proc" | "sysfs" | "cgroup" | "cgroup2")
}

fn bind_mount(
    ctx: &MountContext<'_>,
    m: &Mount,
    dest: &str,
    opts: &MountOptions,
    cloned: Option<BorrowedFd<'_>>,
    idmapped: Option<&MountIdmap>,
    cache: &mut UsernsCache,
) -> Result<(), RootfsError> {
    let src_str = bind_source(m, ctx.bundle)
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let open_tree_err =
        |e| RootfsError::mount(dest, "open_tree", format!("(bind source {src_str:?})"), e);
    // Only the target lies in the (untrusted) rootfs; see open_bind_source for the source.
    let made;
    let tree = match cloned {
        Some(tree) => tree,
        None => {
            let src_fd = open_bind_source(m, ctx.bundle, dest)?;
            made = sys::clone_tree(src_fd.as_fd(), opts.recursive_bind).map_err(open_tree_err)?;
            if let Some(map) = idmapped {
                idmap::apply(made.as_fd(), map, cache, dest)?;
            }
            made.as_fd()
        }
    };
    let st = fstat(tree)
        .map_err(|e| RootfsError::mount(dest, "fstat", format!("(bind source {src_str:?})"), e))?;
    let kind = if is_dir(&st) { Kind::Dir } else { Kind::File };
    let target = open_target(ctx, m.destination(), Target::Any(kind), dest)?;
    // The top mount's flags as runc 1.5 makes them (see bind_attr_change); the r* options
    // apply to the tree as they are.
    let mut opts = opts.clone();
    if !opts.attrs.is_empty() {
        let src = berth_sys::exe::fstatfs_flags(tree).map_err(|e| {
            RootfsError::mount(dest, "fstatvfs", format!("(bind source {src_str:?})"), e)
        })?;
        // A locked change is refused here with the errno the kernel would give (EPERM, what
        // engines and runc's tests look for), naming what is locked, rather than by a bare
        // EPERM from mount_setattr.
        opts.attrs = bind_attr_change(&opts.attrs, attrs_from_statvfs(src), ctx.user_namespace)
            .map_err(|locked| {
                RootfsError::mount(
                    dest,
                    "mount_setattr",
                    format!("(bind source {src_str:?}: {locked} in a user namespace)"),
                    std::io::Error::from_raw_os_error(libc::EPERM),
                )
            })?;
    }
    set_mount_attrs(dest, tree, &opts, ctx.user_namespace)?;
    attach_and_propagate(dest, tree, target.as_fd(), &opts)
}

/// A tmpfs without `mode=` takes the mode of the directory it covers (as runc does since 1.1.x),
/// so an image's sticky or setgid /tmp keeps its bits; only one that existed (runc 1.5: a
/// destination it creates leaves the tmpfs at its default mode, 1777).
fn tmpfs_data_with_mode(fstype: &str, data: &[String], target: BorrowedFd<'_>) -> Vec<String> {
    let mut data = data.to_vec();
    if fstype == "tmpfs" && !data.iter().any(|d| d.starts_with("mode=")) {
        if let Ok(st) = fstat(target) {
            data.push(format!("mode={:o}", st.st_mode & 0o7777));
        }
    }
    data
}

/// `data` of a new `fstype` mount with `linux.mountLabel` as its `context=`, as runc labels
/// every filesystem it mounts except procfs and sysfs (which SELinux labels itself) and
/// mqueue (labelled on its root, [`label_root`]); cgroup mounts do not come through here.
/// An explicit context option in the mount's own options wins over the label. The value
/// goes unquoted: each option is its own fsconfig call, so the commas of an MCS range
/// (`s0:c1,c2`) need no quotes, and the kernel would keep them.
pub(crate) fn labelled_data(fstype: &str, data: &[String], label: Option<&str>) -> Vec<String> {
    let mut data = data.to_vec();
    let Some(label) = label else { return data };
    let exempt = matches!(fstype, "proc" | "sysfs" | "mqueue");
    let has_context = data.iter().any(|d| {
        d.split_once('=')
            .is_some_and(|(k, _)| super::mountops::CONTEXT_OPTIONS.contains(&k))
    });
    if !exempt && !has_context {
        data.push(format!("context={label}"));
    }
    data
}

/// Sets the SELinux label of a new mount's root directory (mqueue's, as runc does).
fn label_root(dest: &str, mnt: BorrowedFd<'_>, label: &str) -> Result<(), RootfsError> {
    let dir = berth_sys::tree::open_nofollow_at(
        mnt,
        OsStr::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
    .map_err(|e| RootfsError::mount(dest, "openat", "(labelling the mount's root)", e))?;
    berth_sys::xattr::fsetxattr(
        dir.as_fd(),
        OsStr::new("security.selinux"),
        label.as_bytes(),
    )
    .map_err(|e| RootfsError::mount(dest, "fsetxattr", "(security.selinux: linux.mountLabel)", e))
}

/// True when `dest` names /dev, however it is spelled.
pub(crate) fn is_dev_dir(dest: &Path) -> bool {
    let comps = inroot::lookup_components(dest);
    comps.len() == 1 && comps[0] == OsStr::new("dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_label_becomes_the_context_of_new_filesystems() {
        let v = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let label = Some("system_u:object_r:container_file_t:s0:c715,c811");
        let ctx = "context=system_u:object_r:container_file_t:s0:c715,c811";
        assert_eq!(
            labelled_data("tmpfs", &v(&["mode=755", "size=65536k"]), label),
            v(&["mode=755", "size=65536k", ctx])
        );
        assert_eq!(labelled_data("devpts", &[], label), v(&[ctx]));
        // SELinux labels procfs and sysfs itself; mqueue is labelled on its root instead.
        for fs in ["proc", "sysfs", "mqueue"] {
            assert_eq!(labelled_data(fs, &v(&["ro"]), label), v(&["ro"]), "{fs}");
        }
        // The mount's own context wins; no label, no change.
        let own = v(&["mode=1777", "context=\"a:b:c:s0\""]);
        assert_eq!(labelled_data("tmpfs", &own, label), own);
        assert_eq!(
            labelled_data("tmpfs", &v(&["mode=755"]), None),
            v(&["mode=755"])
        );
    }

    #[test]
    fn context_values_lose_their_mount_2_quotes() {
        use super::super::mountops::unquote_context;
        assert_eq!(
            unquote_context("context", "\"a:b:c:s0:c1,c2\""),
            "a:b:c:s0:c1,c2"
        );
        assert_eq!(unquote_context("rootcontext", "\"x\""), "x");
        assert_eq!(unquote_context("context", "a:b:c:s0"), "a:b:c:s0");
        assert_eq!(unquote_context("uid", "\"5\""), "\"5\"");
        assert_eq!(unquote_context("context", "\""), "\"");
    }

    #[test]
    fn dev_dir_spellings() {
        assert!(is_dev_dir(Path::new("/dev")));
        assert!(is_dev_dir(Path::new("/dev/")));
        assert!(is_dev_dir(Path::new("dev")));
        assert!(is_dev_dir(Path::new("//./dev")));
        assert!(!is_dev_dir(Path::new("/dev/pts")));
    }

    #[test]
    fn host_spelled_destinations_in_the_rootfs() {
        let spec: Spec =
            serde_json::from_str(berth_spec::DEFAULT_CONFIG_JSON).expect("default config");
        let dest = |d: &str| {
            let m: Mount =
                serde_json::from_value(serde_json::json!({"destination": d})).expect("mount");
            destination_in_rootfs(&m, Path::new("/real/rootfs"), &spec, Path::new("/b"))
        };
        assert_eq!(dest("/real/rootfs/mnt/x"), Some(PathBuf::from("/mnt/x")));
        assert_eq!(dest("/b/rootfs/mnt"), Some(PathBuf::from("/mnt")));
        assert_eq!(dest("/real/rootfs"), None);
        assert_eq!(dest("/real/rootfs/../etc"), None);
        assert_eq!(dest("/real/rootfsx/a"), None);
        assert_eq!(dest("/mnt"), None);
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
