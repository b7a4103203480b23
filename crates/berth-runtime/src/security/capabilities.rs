//! process.capabilities: the five capability sets of the container process.
//!
//! The sets are computed up front into bitmasks (bit N = capability number N, the layout of
//! CapBnd/CapEff/... in /proc/PID/status) so that what will be applied can be checked and
//! tested without privileges. A set missing from the spec, or `capabilities` missing as a
//! whole, means the empty set: nothing is kept unless the config names it.

use super::error::SecurityError;
use berth_sys::security as sys;
use caps::{CapSet, CapsHashSet};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// The five sets as bitmasks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapabilityPlan {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The kernel's number for an OCI capability. An exhaustive match, so a capability added to
/// oci-spec fails to compile here instead of being silently ignored.
fn to_caps(cap: &Capability) -> caps::Capability {
    use caps::Capability as C;
    match cap {
        Capability::AuditControl => C::CAP_AUDIT_CONTROL,
        Capability::AuditRead => C::CAP_AUDIT_READ,
        Capability::AuditWrite => C::CAP_AUDIT_WRITE,
        Capability::BlockSuspend => C::CAP_BLOCK_SUSPEND,
        Capability::Bpf => C::CAP_BPF,
        Capability::CheckpointRestore => C::CAP_CHECKPOINT_RESTORE,
        Capability::Chown => C::CAP_CHOWN,
        Capability::DacOverride => C::CAP_DAC_OVERRIDE,
        Capability::DacReadSearch => C::CAP_DAC_READ_SEARCH,
        Capability::Fowner => C::CAP_FOWNER,
        Capability::Fsetid => C::CAP_FSETID,
        Capability::IpcLock => C::CAP_IPC_LOCK,
        Capability::IpcOwner => C::CAP_IPC_OWNER,
        Capability::Kill => C::CAP_KILL,
        Capability::Lease => C::CAP_LEASE,
        Capability::LinuxImmutable => C::CAP_LINUX_IMMUTABLE,
        Capability::MacAdmin => C::CAP_MAC_ADMIN,
        Capability::MacOverride => C::CAP_MAC_OVERRIDE,
        Capability::Mknod => C::CAP_MKNOD,
        Capability::NetAdmin => C::CAP_NET_ADMIN,
        Capability::NetBindService => C::CAP_NET_BIND_SERVICE,
        Capability::NetBroadcast => C::CAP_NET_BROADCAST,
        Capability::NetRaw => C::CAP_NET_RAW,
        Capability::Perfmon => C::CAP_PERFMON,
        Capability::Setgid => C::CAP_SETGID,
        Capability::Setfcap => C::CAP_SETFCAP,
        Capability::Setpcap => C::CAP_SETPCAP,
        Capability::Setuid => C::CAP_SETUID,
        Capability::SysAdmin => C::CAP_SYS_ADMIN,
        Capability::SysBoot => C::CAP_SYS_BOOT,
        Capability::SysChroot => C::CAP_SYS_CHROOT,
        Capability::SysModule => C::CAP_SYS_MODULE,
        Capability::SysNice => C::CAP_SYS_NICE,
        Capability::SysPacct => C::CAP_SYS_PACCT,
        Capability::SysPtrace => C::CAP_SYS_PTRACE,
        Capability::SysRawio => C::CAP_SYS_RAWIO,
        Capability::SysResource => C::CAP_SYS_RESOURCE,
        Capability::SysTime => C::CAP_SYS_TIME,
        Capability::SysTtyConfig => C::CAP_SYS_TTY_CONFIG,
        Capability::Syslog => C::CAP_SYSLOG,
        Capability::WakeAlarm => C::CAP_WAKE_ALARM,
    }
}

fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter()
        .flatten()
        .fold(0, |m, c| m | to_caps(c).bitmask())
}

fn names(mask: u64) -> String {
    let mut v: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .map(|c| c.to_string())
        .collect();
    v.sort();
    v.join(", ")
}

fn to_hashset(mask: u64) -> CapsHashSet {
    caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .collect()
}

impl CapabilityPlan {
    /// The plan for `process.capabilities`, refusing combinations the kernel would reject or
    /// that would silently not take effect.
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> Result<CapabilityPlan, SecurityError> {
        let mut plan = match caps {
            None => CapabilityPlan::default(),
            Some(c) => CapabilityPlan {
                bounding: mask(c.bounding()),
                effective: mask(c.effective()),
                permitted: mask(c.permitted()),
                inheritable: mask(c.inheritable()),
                ambient: mask(c.ambient()),
            },
        };
        // capset(2) refuses an effective capability that is not permitted.
        let extra = plan.effective & !plan.permitted;
        if extra != 0 {
            return Err(SecurityError::invalid(
                "process.capabilities.effective",
                format!(
                    "{} not in process.capabilities.permitted: capset(2) would refuse it (EPERM)",
                    names(extra)
                ),
            ));
        }
        // capset(2) also refuses to add an inheritable capability outside the bounding set,
        // which is dropped first; say which one instead of a bare EPERM from inside the init.
        let extra = plan.inheritable & !plan.bounding;
        if extra != 0 {
            return Err(SecurityError::invalid(
                "process.capabilities.inheritable",
                format!(
                    "{} not in process.capabilities.bounding: capset(2) would refuse it (EPERM)",
                    names(extra)
                ),
            ));
        }
        // PR_CAP_AMBIENT_RAISE refuses a capability that is not both permitted and inheritable.
        // runc skips those (its own default config lists ambient capabilities without any
        // inheritable ones, expecting CapAmb to end up empty), so they are left out, not refused.
        plan.ambient &= plan.permitted & plan.inheritable;
        Ok(plan)
    }

    /// Drops from the bounding set every capability the kernel knows that the plan does not
    /// keep, including ones newer than the `caps` crate (found by probing PR_CAPBSET_READ).
    pub fn apply_bounding(&self) -> Result<(), SecurityError> {
        const FIELD: &str = "process.capabilities.bounding";
        for cap in 0..64u32 {
            let present = sys::capbset_read(cap)
                .map_err(|e| SecurityError::syscall(FIELD, "prctl(PR_CAPBSET_READ)", e))?;
            match present {
                None => break,
                Some(true) if self.bounding & (1u64 << cap) == 0 => {
                    sys::capbset_drop(cap).map_err(|e| {
                        SecurityError::syscall(FIELD, format!("prctl(PR_CAPBSET_DROP, {cap})"), e)
                    })?;
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Sets inheritable, effective, permitted and then ambient. The order matters: inheritable
    /// may only grow while permitted is still full, and effective must shrink before permitted
    /// (capset refuses effective ⊄ permitted at every step).
    pub fn apply_sets(&self) -> Result<(), SecurityError> {
        let steps = [
            (
                CapSet::Inheritable,
                self.inheritable,
                "process.capabilities.inheritable",
            ),
            (
                CapSet::Effective,
                self.effective,
                "process.capabilities.effective",
            ),
            (
                CapSet::Permitted,
                self.permitted,
                "process.capabilities.permitted",
            ),
        ];
        for (set, mask, field) in steps {
            caps::set(None, set, &to_hashset(mask)).map_err(|e| caps_error(field, "capset", e))?;
        }
        const AMBIENT: &str = "process.capabilities.ambient";
        // The ambient set is cleared first so nothing inherited from the runtime survives;
        // kernels before 4.3 have no ambient set, which is fine as long as none is asked for.
        if let Err(e) = caps::clear(None, CapSet::Ambient) {
            if self.ambient != 0 {
                return Err(caps_error(AMBIENT, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e));
            }
        }
        for cap in to_hashset(self.ambient) {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| {
                caps_error(AMBIENT, format!("prctl(PR_CAP_AMBIENT_RAISE, {cap})"), e)
            })?;
        }
        Ok(())
    }
}

fn caps_error(
    field: &str,
    syscall: impl Into<String>,
    e: caps::errors::CapsError,
) -> SecurityError {
    SecurityError::syscall(field, syscall, std::io::Error::other(e))
}

/// Checks the capability sets without applying them, and warns, one line per capability in
/// runc 1.5's words, about the ambient capabilities that will not be raised (runc tries each
/// and warns on the kernel's refusal; its tests look for the words).
pub fn validate(caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    CapabilityPlan::from_spec(caps)?;
    for w in ambient_warnings(caps) {
        log::warn!("{w}");
    }
    Ok(())
}

/// A warning for each ambient capability that is not both permitted and inheritable, which
/// PR_CAP_AMBIENT_RAISE refuses.
fn ambient_warnings(caps: Option<&LinuxCapabilities>) -> Vec<String> {
    let Some(c) = caps else {
        return Vec::new();
    };
    let skipped = mask(c.ambient()) & !(mask(c.permitted()) & mask(c.inheritable()));
    let mut v: Vec<String> = caps::all()
        .into_iter()
        .filter(|cap| skipped & cap.bitmask() != 0)
        .map(|cap| {
            format!(
                "can't raise ambient capability {cap}: not in both process.capabilities.permitted and inheritable (the kernel refuses it, EPERM)"
            )
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::security::test_util::from_json as caps_json;

    #[test]
    fn missing_capabilities_drop_everything() {
        assert_eq!(
            CapabilityPlan::from_spec(None).unwrap(),
            CapabilityPlan::default()
        );
        let plan =
            CapabilityPlan::from_spec(Some(&caps_json(r#"{"bounding":["CAP_KILL"]}"#))).unwrap();
        assert_eq!(plan.bounding, 1 << 5);
        assert_eq!(
            (
                plan.effective,
                plan.permitted,
                plan.inheritable,
                plan.ambient
            ),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn masks_use_kernel_numbers() {
        let c = caps_json(
            r#"{"bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE","CAP_AUDIT_WRITE","CAP_CHECKPOINT_RESTORE"],
                "effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_CHOWN"],
                "ambient":["CAP_CHOWN"]}"#,
        );
        let plan = CapabilityPlan::from_spec(Some(&c)).unwrap();
        assert_eq!(
            plan.bounding,
            (1 << 0) | (1 << 5) | (1 << 10) | (1 << 29) | (1 << 40)
        );
        assert_eq!(plan.effective, 1 << 5);
        assert_eq!(plan.permitted, 0x21);
        assert_eq!(plan.inheritable, 1);
        assert_eq!(plan.ambient, 1);
    }

    #[test]
    fn every_oci_capability_maps_to_its_own_bit() {
        let all: Vec<String> = caps::all()
            .into_iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        let c = caps_json(&format!(r#"{{"bounding":[{}]}}"#, all.join(",")));
        let plan = CapabilityPlan::from_spec(Some(&c)).unwrap();
        assert_eq!(plan.bounding.count_ones() as usize, all.len());
        assert_eq!(plan.bounding, (1u64 << 41) - 1);
    }

    #[test]
    fn effective_must_be_permitted() {
        let c = caps_json(r#"{"effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL"]}"#);
        let err = CapabilityPlan::from_spec(Some(&c)).unwrap_err().to_string();
        assert!(
            err.starts_with("process.capabilities.effective: CAP_CHOWN"),
            "{err}"
        );
    }

    #[test]
    fn inheritable_must_be_in_bounding() {
        let c = caps_json(r#"{"bounding":["CAP_KILL"],"inheritable":["CAP_KILL","CAP_CHOWN"]}"#);
        let err = validate(Some(&c)).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.capabilities.inheritable: CAP_CHOWN not in process.capabilities.bounding: capset(2) would refuse it (EPERM)"
        );
    }

    #[test]
    fn ambient_is_limited_to_permitted_and_inheritable() {
        // runc's default config: ambient without inheritable, which must run with no ambient caps.
        let c = caps_json(r#"{"permitted":["CAP_KILL"],"ambient":["CAP_KILL"]}"#);
        assert_eq!(CapabilityPlan::from_spec(Some(&c)).unwrap().ambient, 0);
        assert!(validate(Some(&c)).is_ok());
        let c = caps_json(
            r#"{"bounding":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL","CAP_CHOWN"]}"#,
        );
        assert_eq!(CapabilityPlan::from_spec(Some(&c)).unwrap().ambient, 1 << 5);
        assert_eq!(
            ambient_warnings(Some(&c)),
            ["can't raise ambient capability CAP_CHOWN: not in both process.capabilities.permitted and inheritable (the kernel refuses it, EPERM)"]
        );
        let c = caps_json(
            r#"{"permitted":["CAP_KILL"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}"#,
        );
        assert!(ambient_warnings(Some(&c)).is_empty());
        assert!(ambient_warnings(None).is_empty());
    }
}
