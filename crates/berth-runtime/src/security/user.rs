//! process.user: uid, gid and supplementary groups of the container process.

use super::error::SecurityError;
use berth_sys::security as sys;
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType, User};
use std::ffi::OsStr;
use std::os::fd::AsFd;

/// The kernel caps the supplementary group list at NGROUPS_MAX.
const NGROUPS_MAX: usize = 65536;

/// (uid|gid) -1 means "leave unchanged" to the set*id calls, so it can never be an identity.
const INVALID_ID: u32 = u32::MAX;

fn mapped(id: u32, mappings: &[LinuxIdMapping]) -> bool {
    mappings.iter().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// Refuses ids the kernel cannot switch to: -1, too many groups, and (with a new user namespace
/// whose mappings are in the spec) ids that have no mapping, which would otherwise fail late
/// with a bare EINVAL from setresuid.
pub fn validate(user: &User, linux: Option<&Linux>) -> Result<(), SecurityError> {
    let gids = user.additional_gids().as_deref().unwrap_or(&[]);
    if user.uid() == INVALID_ID {
        return Err(SecurityError::invalid(
            "process.user.uid",
            "4294967295 (-1) is not a valid uid",
        ));
    }
    if user.gid() == INVALID_ID {
        return Err(SecurityError::invalid(
            "process.user.gid",
            "4294967295 (-1) is not a valid gid",
        ));
    }
    if gids.contains(&INVALID_ID) {
        return Err(SecurityError::invalid(
            "process.user.additionalGids",
            "4294967295 (-1) is not a valid gid",
        ));
    }
    if gids.len() > NGROUPS_MAX {
        return Err(SecurityError::invalid(
            "process.user.additionalGids",
            format!(
                "{} groups, the kernel allows at most {NGROUPS_MAX}",
                gids.len()
            ),
        ));
    }
    let Some(linux) = linux else { return Ok(()) };
    let new_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none());
    if !new_userns {
        return Ok(());
    }
    if let Some(maps) = linux.uid_mappings().as_deref().filter(|m| !m.is_empty()) {
        if !mapped(user.uid(), maps) {
            return Err(SecurityError::invalid(
                "process.user.uid",
                format!(
                    "{} is not mapped into the user namespace by linux.uidMappings",
                    user.uid()
                ),
            ));
        }
    }
    if let Some(maps) = linux.gid_mappings().as_deref().filter(|m| !m.is_empty()) {
        for (field, gid) in std::iter::once(("process.user.gid", user.gid()))
            .chain(gids.iter().map(|g| ("process.user.additionalGids", *g)))
        {
            if !mapped(gid, maps) {
                return Err(SecurityError::invalid(
                    field,
                    format!("{gid} is not mapped into the user namespace by linux.gidMappings"),
                ));
            }
        }
    }
    Ok(())
}

/// Whether /proc/self/setgroups forbids setgroups(2) (an unprivileged user namespace whose
/// gid map was written with "deny"). A kernel without the file allows it.
pub fn setgroups_denied(proc_self_setgroups: Option<&str>) -> bool {
    proc_self_setgroups
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}

/// Whether a stdio descriptor should be handed to the container user: anything it does not
/// own yet except /dev/null. Regular files are included, as runc does: `berth run > log` with a
/// non-root user whose program reopens /dev/stdout (nginx-style log symlinks) must work.
pub fn stdio_needs_chown(
    mode: u32,
    owner: u32,
    rdev: u64,
    uid: u32,
    null_rdev: Option<u64>,
) -> bool {
    let is_null = (mode & libc::S_IFMT) == libc::S_IFCHR && null_rdev == Some(rdev);
    owner != uid && !is_null
}

/// Hands stdin/stdout/stderr to the container user, so that it can reopen them
/// (/dev/stdout, /proc/self/fd/1) after the switch. EPERM and EINVAL (an fd owned by an id not
/// mapped in the user namespace, a read-only filesystem) are ignored, as runc does: the
/// descriptors themselves stay usable.
fn give_stdio_to(uid: u32) -> Result<(), SecurityError> {
    let null_rdev = berth_sys::path::stat(OsStr::new("/dev/null"))
        .ok()
        .map(|n| n.st_rdev);
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for (n, fd) in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .enumerate()
    {
        let Ok(st) = berth_sys::path::fstat(fd) else {
            continue;
        };
        if !stdio_needs_chown(st.st_mode, st.st_uid, st.st_rdev, uid, null_rdev) {
            continue;
        }
        match berth_sys::path::fchown(fd, Some(uid), None) {
            Err(e) if !matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EINVAL)) => {
                return Err(SecurityError::syscall(
                    "process.user.uid",
                    format!("fchown(fd {n})"),
                    e,
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Becomes `user`: supplementary groups, then gid, then uid (each step needs the privilege the
/// next one gives up). PR_SET_KEEPCAPS keeps the permitted set across the uid change so the
/// configured capabilities can still be set afterwards; it is cleared again right after.
pub fn switch(user: &User) -> Result<(), SecurityError> {
    let gids = user.additional_gids().as_deref().unwrap_or(&[]);
    let setgroups_file = std::fs::read_to_string("/proc/self/setgroups").ok();
    if setgroups_denied(setgroups_file.as_deref()) {
        if !gids.is_empty() {
            return Err(SecurityError::invalid(
                "process.user.additionalGids",
                "setgroups(2) is denied in this user namespace (/proc/self/setgroups is \"deny\")",
            ));
        }
    } else {
        // Always called, even with no additionalGids: the runtime's own groups must not leak in.
        sys::setgroups(gids)
            .map_err(|e| SecurityError::syscall("process.user.additionalGids", "setgroups", e))?;
    }

    give_stdio_to(user.uid())?;

    sys::setresgid(user.gid())
        .map_err(|e| SecurityError::syscall("process.user.gid", "setresgid", e))?;

    sys::set_keepcaps(true)
        .map_err(|e| SecurityError::syscall("process.user.uid", "prctl(PR_SET_KEEPCAPS, 1)", e))?;
    sys::setresuid(user.uid())
        .map_err(|e| SecurityError::syscall("process.user.uid", "setresuid", e))?;
    sys::set_keepcaps(false)
        .map_err(|e| SecurityError::syscall("process.user.uid", "prctl(PR_SET_KEEPCAPS, 0)", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Spec;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).expect("spec")
    }

    fn check(s: &Spec) -> Result<(), SecurityError> {
        validate(s.process().as_ref().unwrap().user(), s.linux().as_ref())
    }

    fn base(user: serde_json::Value, linux: serde_json::Value) -> Spec {
        spec(
            serde_json::json!({"ociVersion":"1.0.2","process":{"user":user,"cwd":"/"},"linux":linux}),
        )
    }

    #[test]
    fn ids_without_user_namespace_are_fine() {
        assert!(check(&base(
            serde_json::json!({"uid":1000,"gid":1000,"additionalGids":[5,6]}),
            serde_json::json!({})
        ))
        .is_ok());
    }

    #[test]
    fn minus_one_is_refused() {
        let e = check(&base(
            serde_json::json!({"uid":4294967295u32,"gid":0}),
            serde_json::json!({}),
        ))
        .unwrap_err();
        assert!(e.to_string().starts_with("process.user.uid:"), "{e}");
        let e = check(&base(
            serde_json::json!({"uid":0,"gid":0,"additionalGids":[4294967295u32]}),
            serde_json::json!({}),
        ))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("process.user.additionalGids:"),
            "{e}"
        );
    }

    #[test]
    fn ids_must_be_mapped_in_new_user_namespace() {
        let linux = serde_json::json!({
            "namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":100000,"size":1000}],
            "gidMappings":[{"containerID":0,"hostID":100000,"size":1000}]
        });
        assert!(check(&base(serde_json::json!({"uid":999,"gid":0}), linux.clone())).is_ok());
        let e = check(&base(
            serde_json::json!({"uid":1000,"gid":0}),
            linux.clone(),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.user.uid: 1000 is not mapped into the user namespace by linux.uidMappings"
        );
        let e = check(&base(
            serde_json::json!({"uid":0,"gid":0,"additionalGids":[2000]}),
            linux,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.user.additionalGids: 2000 is not mapped into the user namespace by linux.gidMappings"
        );
    }

    #[test]
    fn which_stdio_descriptors_are_chowned() {
        let null = Some(0x103);
        assert!(stdio_needs_chown(libc::S_IFIFO | 0o600, 0, 0, 1000, null));
        assert!(stdio_needs_chown(libc::S_IFSOCK | 0o777, 0, 0, 1000, null));
        assert!(stdio_needs_chown(
            libc::S_IFCHR | 0o620,
            0,
            0x8801,
            1000,
            null
        ));
        assert!(
            !stdio_needs_chown(libc::S_IFCHR | 0o666, 0, 0x103, 1000, null),
            "/dev/null"
        );
        assert!(
            stdio_needs_chown(libc::S_IFREG | 0o644, 0, 0, 1000, null),
            "redirected to a regular file"
        );
        assert!(
            !stdio_needs_chown(libc::S_IFIFO | 0o600, 1000, 0, 1000, null),
            "already owned"
        );
    }

    #[test]
    fn setgroups_deny_detection() {
        assert!(setgroups_denied(Some("deny\n")));
        assert!(!setgroups_denied(Some("allow\n")));
        assert!(!setgroups_denied(None));
    }
}
