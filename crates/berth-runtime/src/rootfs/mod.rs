//! Container filesystem setup: everything between "the init process is in its new mount
//! namespace" and "/ is the container's rootfs".
//!
//! Safety model: the rootfs and every path in it are untrusted. All lookups inside the rootfs
//! go through a directory fd with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! (`inroot`), missing targets are created by name relative to an in-root parent fd, and
//! mounts are attached onto those fds with the new mount API (`open_tree`/`fsmount` +
//! `move_mount`, see [`berth_sys::mount`]), so no path is re-resolved at mount time and
//! no symlink in the rootfs can redirect a mount onto the host.
//!
//! Public surface: [`validate`] (no privilege, before anything exists), [`setup_rootfs`] /
//! [`setup_rootfs_with_hooks`] (inside the init), [`mount_console`] (after the root switch),
//! and [`RootfsError`]. The rest is internal.
//!
//! Layering of the submodules; each uses only those below it, so there are no cycles:
//!
//! ```text
//! mod.rs (setup_rootfs: the order of the steps)
//!   validate                  config checks, before anything is made
//!   mounts                    one config.json mount entry (dispatches the cgroup type)
//!     idmap                   ID-mapped bind mounts: the mapping, its user namespace
//!     copyup                  tmpcopyup: the covered directory's content into the tmpfs
//!     cgroup                  the cgroup mount type (v1 tmpfs of hierarchies, or cgroup2)
//!   masked, devices, pivot, propagation
//!     mountops                target opening, detached mounts, attributes, attaching
//!       inroot, options, error   leaves: in-root lookups, option parsing, the error type
//! ```
//!
//! (`validate` also uses `devices` and `propagation` for their checks; nothing below
//! `mounts` uses `mounts`, and `mountops` uses none of the modules above it.)

mod cgroup;
mod copyup;
pub(crate) mod devices;
mod error;
mod idmap;
mod inroot;
mod masked;
mod mountops;
mod mounts;
mod options;
mod pivot;
mod propagation;
mod validate;

pub use devices::mount_console;
pub use error::RootfsError;
pub(crate) use mounts::idmapped_tree;
pub use mounts::{preopen_bind_sources, PreopenedSources};
pub use validate::validate;

use berth_sys::mount as sys;
use berth_sys::path::open_path;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::AsFd;
use std::path::Path;

/// What [`setup_rootfs`] needs besides the spec.
pub struct RootfsConfig<'a> {
    /// The container's config: `mounts`, `linux.devices`, masked and read-only paths,
    /// `root.readonly`, `linux.rootfsPropagation`, `process.cwd` and `process.terminal`.
    pub spec: &'a Spec,
    /// Absolute, canonical host path of the container's rootfs.
    pub rootfs: &'a Path,
    /// Absolute bundle dir (relative bind sources are relative to it).
    pub bundle: &'a Path,
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The container has its own (new) user namespace: locked mount flags must be preserved
    /// on remounts, devices must be bind-mounted from the host instead of mknod.
    pub user_namespace: bool,
    /// Bind mounts the runtime made beforehand ([`preopen_bind_sources`]); the others are made
    /// during the setup.
    pub bind_sources: Option<&'a PreopenedSources>,
}

/// Runs inside the container's init process, already in its new mount namespace (and other
/// new namespaces), as root of its user namespace, before any user switch. On return "/" is
/// the container's rootfs, cwd is "/". A spec without a mount namespace has it run in the
/// host's: the mounts stay there (under the rootfs) after the container is gone, as with runc.
pub fn setup_rootfs(cfg: &RootfsConfig) -> Result<(), RootfsError> {
    setup_rootfs_with_hooks(cfg, &mut NoHooks)
}

/// Points in the setup where the caller must act, with runc's timing. An error aborts the
/// setup ([`RootfsError::Hook`], which shows the hook's error as it is).
///
/// `E` is the hooks' error type: anything that converts into a boxed error (a typed error keeps
/// its `source` chain; the init's hooks return the `InitError` they send to the runtime).
pub trait SetupHooks<E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// What comes next depends on the process's cgroup: a `cgroup`/`cgroup2` mount (its view is
    /// the process's own cgroup) or the device nodes (mknod is checked against the devices
    /// cgroup). The caller may have let the setup start before the runtime placed the process
    /// in the container's cgroup, to overlap with that work; here it must wait for it. Called
    /// at least once, before the device nodes.
    fn cgroup_needed(&mut self) -> Result<(), E> {
        Ok(())
    }

    /// Every mount and device is in place (at its host path), the root not yet switched:
    /// where runc syncs with the runtime for prestart/createRuntime hooks and runs
    /// createContainer hooks.
    fn before_pivot(&mut self) -> Result<(), E> {
        Ok(())
    }

    /// `mounts[index]` is an ID-mapped bind whose tree was not made beforehand (its source lies
    /// in the rootfs, made by earlier mounts) while the init, root of a user namespace, cannot
    /// ID-map it: the caller makes it with privileges over the host's filesystems, in the
    /// init's mount namespace. `None`: the setup tries itself.
    fn idmapped_source(&mut self, _index: usize) -> Result<Option<std::os::fd::OwnedFd>, E> {
        Ok(None)
    }

    /// The root is switched, readonlyPaths (/proc/sys...), maskedPaths and root.readonly
    /// not yet applied: where runc writes `linux.sysctl` (/proc/sys is writable until then).
    fn before_readonly(&mut self) -> Result<(), E> {
        Ok(())
    }
}

/// No hooks: what [`setup_rootfs`] uses.
pub struct NoHooks;
impl SetupHooks<std::convert::Infallible> for NoHooks {}

/// [`setup_rootfs`], calling `hooks` at the points [`SetupHooks`] names.
pub fn setup_rootfs_with_hooks<E>(
    cfg: &RootfsConfig,
    hooks: &mut dyn SetupHooks<E>,
) -> Result<(), RootfsError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let spec = cfg.spec;
    validate::validate_with(spec, cfg.bundle, cfg.bind_sources)?;
    let linux = spec.linux().as_ref();
    let root_prop_value = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|v| !v.is_empty());
    let root_prop = propagation::root_propagation(root_prop_value)?;

    // Without a mount namespace in the spec the container shares the runtime's (runc allows
    // it; youki's contest and runtime-tools' linux_ns_itype ask for it): the mounts below are
    // made in the host's namespace, under the rootfs, and the root is switched with chroot.
    // The host's propagation is left alone there (runc makes the host's "/" rslave); the
    // spec's validation refused maskedPaths, readonlyPaths and rootfsPropagation.
    let own_mount_namespace = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Mount));

    // 1. Propagation first, so nothing mounted below can reach the host.
    if own_mount_namespace {
        propagation::prepare_root(root_prop)?;
        if propagation::may_leave_shared_mounts(root_prop) {
            propagation::make_parent_private(cfg.rootfs)?;
        }
    }

    // 2. The rootfs becomes a mount of its own (pivot_root needs one). The attached tree's fd
    //    is the rootfs fd every later lookup is relative to.
    let rootfs_str = cfg.rootfs.to_string_lossy().into_owned();
    let rootfs_err = |sc: &'static str| {
        let p = rootfs_str.clone();
        move |e| RootfsError::path("rootfs", p, sc, e)
    };
    let host_fd = open_path(cfg.rootfs.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(rootfs_err("open"))?;
    let root = sys::clone_tree(host_fd.as_fd(), true).map_err(rootfs_err("open_tree"))?;
    if !own_mount_namespace {
        // A copy of a shared mount is its peer: what is mounted in the rootfs would then
        // appear in the host's mount (and its peers) too. The copy is made private while it
        // is still detached; the host's own mounts keep their propagation.
        let private = sys::MountAttr {
            propagation: options::Propagation::Private.ms_flag(),
            ..Default::default()
        };
        sys::mount_setattr_fd(root.as_fd(), true, &private)
            .map_err(rootfs_err("mount_setattr (private)"))?;
    }
    sys::move_mount_fd(root.as_fd(), host_fd.as_fd()).map_err(rootfs_err("move_mount"))?;
    drop(host_fd);
    if !own_mount_namespace {
        // Attached under a shared mount, the copy joined a peer group again, and its peers
        // (a bind of the bundle that is a peer of a shared "/", as on a systemd host) got a
        // copy of it: made private once more, so what the container mounts below stays in
        // this one. The propagated copy of the bare rootfs is the one mount left in the
        // peers (runc instead makes the host's "/" rslave).
        let private = sys::MountAttr {
            propagation: options::Propagation::Private.ms_flag(),
            ..Default::default()
        };
        sys::mount_setattr_fd(root.as_fd(), true, &private)
            .map_err(rootfs_err("mount_setattr (private, attached)"))?;
    }

    // 3. config.json mounts, in order.
    let cgroup_namespace = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup));
    let mount_label = linux
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty());
    let ctx = mountops::MountContext {
        root: root.as_fd(),
        bundle: cfg.bundle,
        user_namespace: cfg.user_namespace,
        cgroup_namespace,
        mount_label,
    };
    let mount_list = spec.mounts().as_deref().unwrap_or_default();
    let mut dev_readonly = false;
    let mut userns_cache = idmap::UsernsCache::default();
    for (i, m) in mount_list.iter().enumerate() {
        let in_rootfs = mounts::destination_in_rootfs(m, cfg.rootfs, spec, cfg.bundle).map(|d| {
            let mut m = m.clone();
            m.set_destination(d);
            m
        });
        let m = in_rootfs.as_ref().unwrap_or(m);
        if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            hooks
                .cgroup_needed()
                .map_err(|e| RootfsError::Hook(e.into()))?;
        }
        let idmapped = mounts::idmap_of(spec, m)?;
        let requested;
        let source = match cfg.bind_sources.and_then(|s| s.get(i)) {
            None if cfg.user_namespace && idmapped.is_some() => {
                requested = hooks
                    .idmapped_source(i)
                    .map_err(|e| RootfsError::Hook(e.into()))?;
                requested.as_ref().map(|f| f.as_fd())
            }
            s => s,
        };
        let opts = m.options().as_deref().unwrap_or_default();
        let ro = options::parse_mount_options(opts).attrs.set & berth_sys::mount::MOUNT_ATTR_RDONLY;
        if ro != 0 && mounts::is_dev_dir(m.destination()) {
            // Writable until /dev is filled; see masked::readonly_dev.
            let mut rw = m.clone();
            rw.set_options(Some(opts.iter().cloned().chain(["rw".into()]).collect()));
            mounts::mount_entry(&ctx, &rw, source, idmapped.as_ref(), &mut userns_cache)?;
            dev_readonly = true;
        } else {
            mounts::mount_entry(&ctx, m, source, idmapped.as_ref(), &mut userns_cache)?;
        }
    }
    drop(userns_cache);

    // 4. /dev contents, unless /dev is the host's (then it already has everything).
    hooks
        .cgroup_needed()
        .map_err(|e| RootfsError::Hook(e.into()))?;
    let dev_from_host = mount_list.iter().any(|m| {
        mounts::is_dev_dir(m.destination())
            && mounts::is_bind(
                m,
                &options::parse_mount_options(m.options().as_deref().unwrap_or_default()),
            )
    });
    if !dev_from_host {
        let spec_devices = linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default();
        for node in devices::devices_to_create(spec_devices)? {
            devices::create_device(root.as_fd(), &node, cfg.user_namespace)?;
        }
        devices::create_dev_symlinks(root.as_fd())?;
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        devices::create_console_target(root.as_fd())?;
    }

    // 5. The process's cwd, while the rootfs can still be written (root.readonly comes last).
    if let Some(p) = spec.process() {
        inroot::open_or_create(root.as_fd(), p.cwd(), inroot::Kind::Dir).map_err(|e| {
            RootfsError::path(
                "process.cwd",
                p.cwd().to_string_lossy(),
                "openat2/mkdirat",
                e,
            )
        })?;
    }

    // createContainer hooks run in the rootfs, as in runc (hooks.bats' `touch ./lib/...`).
    berth_sys::path::fchdir(root.as_fd())
        .map_err(|e| RootfsError::path("rootfs", rootfs_str.clone(), "fchdir", e))?;
    hooks
        .before_pivot()
        .map_err(|e| RootfsError::Hook(e.into()))?;
    if dev_readonly {
        masked::readonly_dev(root.as_fd(), cfg.user_namespace)?;
    }

    // 6. Switch the root. pivot_root and --no-pivot's MS_MOVE would replace the host's root.
    if !own_mount_namespace {
        pivot::chroot_into(root.as_fd())?;
    } else if cfg.no_pivot {
        pivot::move_root(root.as_fd(), cfg.rootfs)?;
    } else {
        pivot::pivot(root.as_fd())?;
    }
    drop(root);

    hooks
        .before_readonly()
        .map_err(|e| RootfsError::Hook(e.into()))?;

    // 7. Read-only views, then masks (runc's order: a mask under a read-only path lands on
    //    top of it), inside the new root.
    if let Some(l) = linux {
        masked::readonly_paths(
            l.readonly_paths().as_deref().unwrap_or_default(),
            cfg.user_namespace,
        )?;
        masked::mask_paths(
            l.masked_paths().as_deref().unwrap_or_default(),
            cfg.user_namespace,
            mount_label,
        )?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        masked::readonly_root(cfg.user_namespace)?;
    }
    // Last: the read-only views and masks above are clones of mounts below "/", which an
    // unbindable tree would refuse.
    if own_mount_namespace && root_prop_value.is_some() {
        propagation::finish_root(root_prop)?;
    }
    berth_sys::path::chdir(std::ffi::OsStr::new("/"))
        .map_err(|e| RootfsError::path("directory", "/", "chdir", e))
}
