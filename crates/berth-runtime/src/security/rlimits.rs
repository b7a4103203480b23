//! process.rlimits: resource limits of the container process.

use super::error::SecurityError;
use berth_sys::security as sys;
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};
use std::collections::HashSet;

/// The RLIMIT_* number for a runtime-spec rlimit type.
pub fn resource(typ: PosixRlimitType) -> u32 {
    use PosixRlimitType as T;
    let r = match typ {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    };
    // The constants are u32 on glibc but c_int on musl; the cast keeps both building.
    #[allow(clippy::unnecessary_cast)]
    let r = r as u32;
    r
}

/// The name as the config spells it.
pub fn name(typ: PosixRlimitType) -> String {
    typ.to_string()
}

/// soft <= hard (setrlimit would say EINVAL) and no type twice (the runtime-spec requires an
/// error: which of the two would win is otherwise arbitrary).
pub fn validate(limits: &[PosixRlimit]) -> Result<(), SecurityError> {
    let mut seen = HashSet::new();
    for l in limits {
        if l.soft() > l.hard() {
            return Err(SecurityError::invalid(
                "process.rlimits",
                format!(
                    "{}: soft limit {} is above hard limit {}",
                    name(l.typ()),
                    l.soft(),
                    l.hard()
                ),
            ));
        }
        if !seen.insert(resource(l.typ())) {
            return Err(SecurityError::invalid(
                "process.rlimits",
                format!("{} is given twice", name(l.typ())),
            ));
        }
    }
    Ok(())
}

/// prlimit(2) on `pid` (0: the caller) for each limit. Both values are written at once, so
/// lowering and raising work in either order.
pub fn apply(pid: i32, limits: &[PosixRlimit]) -> Result<(), SecurityError> {
    validate(limits)?;
    for l in limits {
        sys::prlimit_set(pid, resource(l.typ()), l.soft(), l.hard()).map_err(|e| {
            SecurityError::syscall(
                "process.rlimits",
                format!("prlimit({}, {})", pid, name(l.typ())),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(json: &str) -> Vec<PosixRlimit> {
        crate::security::test_util::from_json(json)
    }

    #[test]
    fn names_map_to_kernel_numbers() {
        let l = limits(
            r#"[{"type":"RLIMIT_NOFILE","soft":1,"hard":2},{"type":"RLIMIT_RTTIME","soft":1,"hard":2},
                          {"type":"RLIMIT_CPU","soft":1,"hard":2}]"#,
        );
        assert_eq!(resource(l[0].typ()), 7);
        assert_eq!(resource(l[1].typ()), 15);
        assert_eq!(resource(l[2].typ()), 0);
        assert_eq!(name(l[0].typ()), "RLIMIT_NOFILE");
    }

    #[test]
    fn soft_above_hard_is_refused() {
        let e = validate(&limits(
            r#"[{"type":"RLIMIT_NOFILE","soft":2048,"hard":1024}]"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.rlimits: RLIMIT_NOFILE: soft limit 2048 is above hard limit 1024"
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let e = validate(&limits(
            r#"[{"type":"RLIMIT_CORE","soft":1,"hard":2},{"type":"RLIMIT_CORE","soft":1,"hard":1}]"#,
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "process.rlimits: RLIMIT_CORE is given twice");
    }

    #[test]
    fn lowering_own_soft_limit_needs_no_privilege() {
        let (soft, hard) = sys::prlimit_get(0, libc::RLIMIT_CORE).unwrap();
        let l = vec![serde_json::from_value::<PosixRlimit>(
            serde_json::json!({"type":"RLIMIT_CORE","soft":soft.min(hard),"hard":hard}),
        )
        .unwrap()];
        apply(0, &l).expect("setting the current limits");
    }
}
