//! Mount propagation around the rootfs: the whole namespace is made slave (or what
//! `linux.rootfsPropagation` asks) before anything is mounted, so nothing the container
//! mounts leaks back to the host; the mount holding the rootfs is made private when it is
//! shared (pivot_root refuses shared parents); the requested propagation is applied to the
//! container's "/" once it is the root.

use super::error::RootfsError;
use super::options::{parse_propagation, PropagationChange};
use berth_sys::mount as sys;
use berth_sys::mountinfo;
use std::path::Path;

/// The change `linux.rootfsPropagation` asks for, or runc's default, rslave.
pub fn root_propagation(value: Option<&str>) -> Result<PropagationChange, RootfsError> {
    match value {
        None | Some("") => Ok(PropagationChange {
            kind: super::options::Propagation::Slave,
            recursive: true,
        }),
        Some(v) => parse_propagation(v).ok_or_else(|| RootfsError::InvalidField {
            field: "linux.rootfsPropagation",
            value: v.to_string(),
            reason: "must be one of shared, slave, private, unbindable or their r-prefixed forms"
                .into(),
        }),
    }
}

fn ms_flags(p: PropagationChange) -> libc::c_ulong {
    p.kind.ms_flag() as libc::c_ulong | if p.recursive { libc::MS_REC } else { 0 }
}

/// Step one, before any mount: changes "/" of the (new) mount namespace. An unbindable one is
/// private here (the rootfs is about to be bind-mounted onto itself, which an unbindable tree
/// refuses with EINVAL) and made unbindable by [`finish_root`] once the root is switched.
pub fn prepare_root(p: PropagationChange) -> Result<(), RootfsError> {
    let p = match p.kind {
        super::options::Propagation::Unbindable => PropagationChange {
            kind: super::options::Propagation::Private,
            ..p
        },
        _ => p,
    };
    sys::mount(None, "/", None, ms_flags(p), None)
        .map_err(|e| RootfsError::path("propagation of", "/", "mount", e))
}

/// Whether a mount of the namespace can still be shared after [`prepare_root`] applied `p`:
/// a recursive slave or private change (runc's default, rslave, among them) leaves no mount
/// shared, so the rootfs's parent needs no check (which would read the whole mountinfo).
pub fn may_leave_shared_mounts(p: PropagationChange) -> bool {
    use super::options::Propagation::{Private, Shared, Slave, Unbindable};
    match (p.kind, p.recursive) {
        (Slave | Private | Unbindable, true) => false,
        (Shared, _) | (_, false) => true,
    }
}

/// Makes the mount `rootfs` lives on private when it is shared.
pub fn make_parent_private(rootfs: &Path) -> Result<(), RootfsError> {
    let mounts = mountinfo::read_self()
        .map_err(|e| RootfsError::path("mountinfo", "/proc/self/mountinfo", "read", e))?;
    let Some(parent) = mountinfo::containing_mount(&mounts, rootfs) else {
        return Ok(());
    };
    if !parent.is_shared() {
        return Ok(());
    }
    let mp = parent.mount_point.to_string_lossy().into_owned();
    sys::mount(None, &mp, None, libc::MS_PRIVATE, None)
        .map_err(|e| RootfsError::path("propagation of", mp, "mount", e))
}

/// After the root switch: applies an explicitly requested propagation to the new "/".
pub fn finish_root(p: PropagationChange) -> Result<(), RootfsError> {
    sys::mount(None, "/", None, ms_flags(p), None)
        .map_err(|e| RootfsError::path("linux.rootfsPropagation on", "/", "mount", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::Propagation;

    #[test]
    fn only_shared_or_non_recursive_changes_leave_shared_mounts() {
        let p = |v| root_propagation(Some(v)).expect(v);
        for v in ["rslave", "rprivate", "runbindable"] {
            assert!(!may_leave_shared_mounts(p(v)), "{v}");
        }
        for v in ["rshared", "shared", "slave", "private", "unbindable"] {
            assert!(may_leave_shared_mounts(p(v)), "{v}");
        }
        assert!(!may_leave_shared_mounts(
            root_propagation(None).expect("default")
        ));
    }

    #[test]
    fn default_is_rslave() {
        let p = root_propagation(None).expect("default");
        assert_eq!((p.kind, p.recursive), (Propagation::Slave, true));
        assert_eq!(ms_flags(p), libc::MS_SLAVE | libc::MS_REC);
    }

    #[test]
    fn values() {
        let p = root_propagation(Some("shared")).expect("shared");
        assert_eq!(ms_flags(p), libc::MS_SHARED);
        let p = root_propagation(Some("rprivate")).expect("rprivate");
        assert_eq!(ms_flags(p), libc::MS_PRIVATE | libc::MS_REC);
        let e = root_propagation(Some("bogus"))
            .expect_err("bogus")
            .to_string();
        assert!(
            e.contains("linux.rootfsPropagation") && e.contains("bogus"),
            "{e}"
        );
    }
}
