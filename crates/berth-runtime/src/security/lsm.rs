//! `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`: the Linux security
//! modules' labels of the container's program.
//!
//! Both process labels are *exec* attributes: written by the init (or an exec'd process) to its
//! own `/proc/thread-self/attr/...` before it execs, they take effect at the execve of the
//! container's program, so berth's own last steps run unconfined. Every write goes through a
//! procfs root verified to be the kernel's (`berth_sys::procfs`): a procfs faked or
//! overmounted by the image cannot swallow it (CVE-2019-16884, CVE-2023-28642).
//!
//! A request the host cannot honour is refused at `create` (and `exec`), before anything
//! exists, naming the field: a profile that silently did not apply would leave the container
//! less confined than its owner believes. runc refuses an SELinux label on a host without
//! SELinux the same way; its AppArmor profile fails later, at the write.

use super::error::SecurityError;
use oci_spec::runtime::Spec;
use std::os::fd::AsFd;

/// The security modules the host has enabled, as runc (go-selinux, libcontainer/apparmor)
/// detects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostLsms {
    pub apparmor: bool,
    pub selinux: bool,
}

impl HostLsms {
    /// Reads the host's state (sysfs, securityfs, selinuxfs).
    pub fn detect() -> HostLsms {
        HostLsms {
            apparmor: apparmor_enabled(),
            selinux: selinux_enabled(),
        }
    }
}

/// AppArmor is enabled when securityfs shows its directory and the module says so
/// (`/sys/module/apparmor/parameters/enabled` starts with `Y`): booted without it, or with
/// securityfs not mounted, nothing could load or enforce a profile.
pub fn apparmor_enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|b| b.len() > 1 && b[0] == b'Y')
}

/// SELinux is enabled when a writable selinuxfs is mounted where libselinux looks for it and
/// the calling thread's context is not the `kernel` one that a host with SELinux disabled
/// reports.
pub fn selinux_enabled() -> bool {
    let fs = ["/sys/fs/selinux", "/selinux"].iter().any(|p| {
        matches!(berth_sys::mount::statfs_type_ro(p),
            Ok((t, false)) if t == berth_sys::mount::SELINUX_MAGIC)
    });
    fs && current_context().as_deref() != Some("kernel")
}

/// The calling thread's SELinux context (`attr/current`), if it can be read.
fn current_context() -> Option<String> {
    let root = berth_sys::procfs::verified_proc().ok()?;
    let fd =
        berth_sys::procfs::open_thread_attr(root.as_fd(), None, "current", libc::O_RDONLY).ok()?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).ok()?;
    Some(s.trim_end_matches(['\0', '\n']).to_string())
}

/// The three fields, each `None` when absent or empty (runc treats "" as unset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requested<'a> {
    pub apparmor_profile: Option<&'a str>,
    pub selinux_label: Option<&'a str>,
    pub mount_label: Option<&'a str>,
}

impl<'a> Requested<'a> {
    pub(crate) fn of(spec: &'a Spec) -> Requested<'a> {
        let process = spec.process().as_ref();
        let nonempty = |s: Option<&'a String>| s.map(String::as_str).filter(|s| !s.is_empty());
        Requested {
            apparmor_profile: nonempty(process.and_then(|p| p.apparmor_profile().as_ref())),
            selinux_label: nonempty(process.and_then(|p| p.selinux_label().as_ref())),
            mount_label: nonempty(spec.linux().as_ref().and_then(|l| l.mount_label().as_ref())),
        }
    }

    fn any(&self) -> bool {
        self.apparmor_profile.is_some()
            || self.selinux_label.is_some()
            || self.mount_label.is_some()
    }
}

/// Checks the fields against `host` (only asked when one is set).
pub(crate) fn validate(spec: &Spec, host: impl FnOnce() -> HostLsms) -> Result<(), SecurityError> {
    let req = Requested::of(spec);
    if !req.any() {
        return Ok(());
    }
    check(&req, host())
}

fn check(req: &Requested<'_>, host: HostLsms) -> Result<(), SecurityError> {
    let fields = [
        (
            "process.apparmorProfile",
            "profile",
            req.apparmor_profile,
            "AppArmor",
            host.apparmor,
        ),
        (
            "process.selinuxLabel",
            "label",
            req.selinux_label,
            "SELinux",
            host.selinux,
        ),
        (
            "linux.mountLabel",
            "label",
            req.mount_label,
            "SELinux",
            host.selinux,
        ),
    ];
    for (field, what, value, lsm, enabled) in fields {
        let Some(v) = value else { continue };
        if v.contains('\0') {
            return Err(SecurityError::invalid(
                field,
                format!("{what} {v:?} contains a NUL byte"),
            ));
        }
        if !enabled {
            return Err(SecurityError::invalid(
                field,
                format!("{lsm} {what} {v:?} requested but {lsm} is not enabled on this host"),
            ));
        }
    }
    Ok(())
}

/// What is written to AppArmor's `exec` attribute (libapparmor's `aa_change_onexec`).
fn apparmor_exec_value(profile: &str) -> Vec<u8> {
    format!("exec {profile}").into_bytes()
}

/// Sets the exec attributes of the calling thread: the AppArmor profile (`exec PROFILE` to
/// `attr/apparmor/exec`, or `attr/exec` before Linux 5.1) and the SELinux process label
/// (`attr/exec`). They apply at the next execve. An AppArmor profile the kernel does not know
/// fails here (ENOENT), at create.
pub(crate) fn apply_exec_attrs(spec: &Spec) -> Result<(), SecurityError> {
    let req = Requested::of(spec);
    if req.apparmor_profile.is_none() && req.selinux_label.is_none() {
        return Ok(());
    }
    let root = berth_sys::procfs::open_proc_root().map_err(|e| {
        let field = if req.apparmor_profile.is_some() {
            "process.apparmorProfile"
        } else {
            "process.selinuxLabel"
        };
        SecurityError::syscall(field, "opening a verified procfs root", e)
    })?;
    if let Some(label) = req.selinux_label {
        berth_sys::procfs::write_thread_attr(root.as_fd(), None, "exec", label.as_bytes())
            .map_err(|e| {
                SecurityError::syscall(
                    "process.selinuxLabel",
                    format!("writing {label:?} to /proc/thread-self/attr/exec"),
                    e,
                )
            })?;
    }
    if let Some(profile) = req.apparmor_profile {
        let value = apparmor_exec_value(profile);
        berth_sys::procfs::write_thread_attr(root.as_fd(), Some("apparmor"), "exec", &value)
            .map_err(|e| {
                SecurityError::syscall(
                    "process.apparmorProfile",
                    format!("changing to profile {profile:?} on exec (/proc/thread-self/attr/apparmor/exec)"),
                    e,
                )
            })?;
    }
    Ok(())
}

/// Sets (`Some(label)`) or resets (`None`) the SELinux label of keys the calling thread creates
/// (`attr/keycreate`), around joining the session keyring, as runc does. A kernel without the
/// attribute has nothing to label; a reset that is refused is ignored (runc ignores it too).
pub(crate) fn set_key_label(label: Option<&str>) -> Result<(), SecurityError> {
    let err = |e| {
        SecurityError::syscall(
            "process.selinuxLabel",
            "writing /proc/thread-self/attr/keycreate",
            e,
        )
    };
    let root = berth_sys::procfs::verified_proc().map_err(err)?;
    match berth_sys::procfs::write_thread_attr(
        root.as_fd(),
        None,
        "keycreate",
        label.unwrap_or_default().as_bytes(),
    ) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(_) if label.is_none() => Ok(()),
        r => r.map_err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::test_util::from_json;

    fn spec(process: &str, linux: &str) -> Spec {
        from_json(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
                "process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}{process}}},
                "linux":{{{linux}}}}}"#
        ))
    }

    const BOTH: HostLsms = HostLsms {
        apparmor: true,
        selinux: true,
    };
    const NONE: HostLsms = HostLsms {
        apparmor: false,
        selinux: false,
    };

    #[test]
    fn nothing_requested_never_asks_the_host() {
        let s = spec(
            r#","apparmorProfile":"","selinuxLabel":"""#,
            r#""mountLabel":"""#,
        );
        assert_eq!(Requested::of(&s), Requested::default());
        validate(&s, || panic!("the host was asked")).unwrap();
    }

    #[test]
    fn a_request_the_host_cannot_honour_names_the_field() {
        let s = spec(r#","apparmorProfile":"docker-default""#, "");
        let e = validate(&s, || NONE).unwrap_err().to_string();
        assert_eq!(
            e,
            "process.apparmorProfile: AppArmor profile \"docker-default\" requested but AppArmor is not enabled on this host"
        );
        validate(&s, || BOTH).unwrap();
        validate(&s, || HostLsms {
            apparmor: true,
            selinux: false,
        })
        .unwrap();

        let s = spec(r#","selinuxLabel":"system_u:system_r:container_t:s0""#, "");
        let e = validate(&s, || HostLsms {
            apparmor: true,
            selinux: false,
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("process.selinuxLabel: SELinux label"),
            "{e}"
        );
        validate(&s, || HostLsms {
            apparmor: false,
            selinux: true,
        })
        .unwrap();

        let s = spec(
            "",
            r#""mountLabel":"system_u:object_r:container_file_t:s0:c1,c2""#,
        );
        let e = validate(&s, || NONE).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.mountLabel: SELinux label"),
            "{e}"
        );
        validate(&s, || BOTH).unwrap();
    }

    #[test]
    fn nul_bytes_are_refused_even_where_enabled() {
        let s = spec(r#","apparmorProfile":"a\u0000b""#, "");
        let e = validate(&s, || BOTH).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    #[test]
    fn the_apparmor_exec_attribute_is_exec_and_the_name() {
        assert_eq!(apparmor_exec_value("berth-test"), b"exec berth-test");
    }
}
