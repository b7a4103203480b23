//! process.scheduler: scheduling policy and parameters of the container process, set with
//! sched_setattr(2) (the only call that covers every policy, SCHED_DEADLINE included).

use super::error::SecurityError;
use berth_sys::security::{self as sys, SchedAttr, SCHED_ATTR_SIZE_VER0};
use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

const FIELD: &str = "process.scheduler";

/// SCHED_* policy numbers from include/uapi/linux/sched.h; None for SCHED_ISO, which the
/// runtime-spec lists but mainline Linux never merged.
fn policy_number(p: LinuxSchedulerPolicy) -> Option<u32> {
    use LinuxSchedulerPolicy as P;
    match p {
        P::SchedOther => Some(0),
        P::SchedFifo => Some(1),
        P::SchedRr => Some(2),
        P::SchedBatch => Some(3),
        P::SchedIso => None,
        P::SchedIdle => Some(5),
        P::SchedDeadline => Some(6),
    }
}

/// SCHED_FLAG_* bits from include/uapi/linux/sched.h.
fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    use LinuxSchedulerFlag as F;
    match f {
        F::SchedResetOnFork => 0x01,
        F::SchedFlagReclaim => 0x02,
        F::SchedFlagDLOverrun => 0x04,
        F::SchedFlagKeepPolicy => 0x08,
        F::SchedFlagKeepParams => 0x10,
        F::SchedFlagUtilClampMin => 0x20,
        F::SchedFlagUtilClampMax => 0x40,
    }
}

/// The kernel's lower bound for a deadline task's runtime (1 << DL_SCALE nanoseconds).
const DL_MIN_RUNTIME: u64 = 1 << 10;

/// The checks runc does, plus the ones the kernel would otherwise answer with a bare EINVAL.
pub fn validate(s: &Scheduler) -> Result<(), SecurityError> {
    build(s).map(|_| ())
}

/// The `struct sched_attr` for `s`.
pub fn build(s: &Scheduler) -> Result<SchedAttr, SecurityError> {
    use LinuxSchedulerPolicy as P;
    let policy = *s.policy();
    let Some(policy_nr) = policy_number(policy) else {
        return Err(SecurityError::invalid(
            format!("{FIELD}.policy"),
            "SCHED_ISO is not supported by Linux",
        ));
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(SecurityError::invalid(
            format!("{FIELD}.nice"),
            format!("{nice} is outside -20..19"),
        ));
    }
    let realtime = matches!(policy, P::SchedFifo | P::SchedRr);
    let priority = s.priority().unwrap_or(0);
    if realtime {
        if !(1..=99).contains(&priority) {
            return Err(SecurityError::invalid(
                format!("{FIELD}.priority"),
                format!("{priority}: {policy} needs a priority in 1..99"),
            ));
        }
    } else if priority != 0 {
        return Err(SecurityError::invalid(
            format!("{FIELD}.priority"),
            format!("only SCHED_FIFO and SCHED_RR take a priority, not {policy}"),
        ));
    }

    let (runtime, deadline, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if policy == P::SchedDeadline {
        // The kernel's own admission rules (__checkparam_dl): runtime <= deadline <= period,
        // with period 0 meaning "equal to deadline", and a minimal runtime.
        let effective_period = if period == 0 { deadline } else { period };
        let reason = if deadline == 0 {
            Some("SCHED_DEADLINE needs a non-zero deadline".to_string())
        } else if runtime < DL_MIN_RUNTIME {
            Some(format!(
                "runtime {runtime}ns is below the kernel's minimum of {DL_MIN_RUNTIME}ns"
            ))
        } else if !(runtime <= deadline && deadline <= effective_period) {
            Some(format!(
                "needs runtime ({runtime}) <= deadline ({deadline}) <= period ({effective_period})"
            ))
        } else if deadline >> 63 != 0 || period >> 63 != 0 {
            Some("deadline and period must be below 2^63 ns".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(SecurityError::invalid(FIELD, reason));
        }
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(SecurityError::invalid(
            FIELD,
            format!("runtime/deadline/period only apply to SCHED_DEADLINE, not {policy}"),
        ));
    }

    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        if matches!(
            f,
            LinuxSchedulerFlag::SchedFlagUtilClampMin | LinuxSchedulerFlag::SchedFlagUtilClampMax
        ) {
            // The runtime-spec has no field for the clamp values, and clamping to 0 would starve
            // the container, so refuse rather than guess.
            return Err(SecurityError::invalid(
                format!("{FIELD}.flags"),
                "SCHED_FLAG_UTIL_CLAMP_MIN/MAX need utilization values the runtime-spec has no field for",
            ));
        }
        flags |= flag_bit(*f);
    }

    Ok(SchedAttr {
        size: SCHED_ATTR_SIZE_VER0,
        sched_policy: policy_nr,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority as u32,
        sched_runtime: runtime,
        sched_deadline: deadline,
        sched_period: period,
        sched_util_min: 0,
        sched_util_max: 0,
    })
}

/// Sets the calling process's scheduler; `cpus` is the container's `linux.resources.cpu.cpus`,
/// named in the error when the kernel refuses the policy because of it.
pub fn apply(s: &Scheduler, cpus: Option<&str>) -> Result<(), SecurityError> {
    let attr = build(s)?;
    sys::sched_setattr(0, &attr).map_err(|e| setattr_error(e, cpus))
}

fn setattr_error(e: std::io::Error, cpus: Option<&str>) -> SecurityError {
    match cpus {
        Some(cpus) if !cpus.is_empty() && e.raw_os_error() == Some(libc::EPERM) => {
            SecurityError::SchedulerVsCpus {
                cpus: cpus.to_string(),
                source: e,
            }
        }
        _ => SecurityError::syscall(FIELD, "sched_setattr", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(json: serde_json::Value) -> Scheduler {
        serde_json::from_value(json).expect("scheduler json")
    }

    #[test]
    fn eperm_with_a_cpuset_names_the_cpus() {
        let eperm = || std::io::Error::from_raw_os_error(libc::EPERM);
        let e = setattr_error(eperm(), Some("0"));
        assert!(
            e.to_string()
                .contains("process scheduler can't be used together with AllowedCPUs"),
            "{e}"
        );
        assert_eq!(
            std::error::Error::source(&e).map(|s| s.to_string()),
            Some(eperm().to_string())
        );
        for (e, cpus) in [
            (eperm(), None),
            (eperm(), Some("")),
            (std::io::Error::from_raw_os_error(libc::EINVAL), Some("0")),
        ] {
            assert_eq!(
                setattr_error(e, cpus).to_string(),
                "process.scheduler: sched_setattr failed"
            );
        }
    }

    fn err(json: serde_json::Value) -> String {
        build(&sched(json)).unwrap_err().to_string()
    }

    #[test]
    fn builds_attr() {
        let a = build(&sched(
            serde_json::json!({"policy":"SCHED_RR","priority":10,"flags":["SCHED_RESET_ON_FORK"]}),
        ))
        .unwrap();
        assert_eq!(
            (a.size, a.sched_policy, a.sched_priority, a.sched_flags),
            (48, 2, 10, 1)
        );
        let a = build(&sched(serde_json::json!({"policy":"SCHED_BATCH","nice":5}))).unwrap();
        assert_eq!((a.sched_policy, a.sched_nice), (3, 5));
        let a = build(&sched(
            serde_json::json!({"policy":"SCHED_DEADLINE","runtime":10000000,"deadline":20000000,"period":30000000}),
        ))
        .unwrap();
        assert_eq!(
            (
                a.sched_policy,
                a.sched_runtime,
                a.sched_deadline,
                a.sched_period
            ),
            (6, 10000000, 20000000, 30000000)
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            err(serde_json::json!({"policy":"SCHED_ISO"})),
            "process.scheduler.policy: SCHED_ISO is not supported by Linux"
        );
        assert_eq!(
            err(serde_json::json!({"policy":"SCHED_OTHER","nice":20})),
            "process.scheduler.nice: 20 is outside -20..19"
        );
        assert!(err(serde_json::json!({"policy":"SCHED_FIFO"}))
            .starts_with("process.scheduler.priority: 0: SCHED_FIFO"));
        assert!(
            err(serde_json::json!({"policy":"SCHED_FIFO","priority":100}))
                .starts_with("process.scheduler.priority")
        );
        assert!(
            err(serde_json::json!({"policy":"SCHED_OTHER","priority":1}))
                .starts_with("process.scheduler.priority")
        );
        assert!(err(serde_json::json!({"policy":"SCHED_OTHER","runtime":1}))
            .contains("only apply to SCHED_DEADLINE"));
        assert!(
            err(serde_json::json!({"policy":"SCHED_DEADLINE","runtime":2000,"deadline":1000}))
                .contains("runtime (2000) <= deadline")
        );
        assert!(
            err(serde_json::json!({"policy":"SCHED_DEADLINE","runtime":10}))
                .contains("non-zero deadline")
        );
        assert!(
            err(serde_json::json!({"policy":"SCHED_DEADLINE","runtime":10,"deadline":100}))
                .contains("minimum")
        );
        assert!(err(
            serde_json::json!({"policy":"SCHED_OTHER","flags":["SCHED_FLAG_UTIL_CLAMP_MAX"]})
        )
        .starts_with("process.scheduler.flags"));
    }

    #[test]
    fn batch_applies_unprivileged_in_a_thread() {
        // Switching SCHED_OTHER -> SCHED_BATCH with a higher nice needs no privilege; a thread
        // is used so the test runner's own scheduling is left alone.
        std::thread::spawn(|| {
            apply(
                &sched(serde_json::json!({"policy":"SCHED_BATCH","nice":10})),
                None,
            )
            .unwrap();
            let a = sys::sched_getattr(0).unwrap();
            assert_eq!((a.sched_policy, a.sched_nice), (3, 10));
        })
        .join()
        .unwrap();
    }
}
