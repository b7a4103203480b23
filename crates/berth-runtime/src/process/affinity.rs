//! CPU affinity of the container's processes (`process.execCPUAffinity`, runtime-spec 1.3).
//!
//! A process started by berth would otherwise inherit berth's own affinity: a caller run under
//! `taskset -c 0` would pin every container to CPU 0. So, as runc 1.5 does, the runtime resets
//! the init's affinity once it is in its cgroup (the kernel narrows "all CPUs" to the cgroup's
//! cpuset), and for an exec'd process applies `initial` before it joins the cgroup and `final`
//! (or the same reset when neither is given) after.

use crate::cpumask;
use oci_spec::runtime::Process;

/// "Every CPU": 65536 of them, more than any kernel supports, so CPUs that come online or are
/// added to the cpuset later are not left out (the kernel ignores the bits past its own count).
const ALL_CPUS_WORDS: usize = 65536 / 64;

/// `process.execCPUAffinity` as masks, checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ExecAffinity {
    /// Set in the process before it joins the container's cgroup.
    pub initial: Option<Vec<u64>>,
    /// Set after it has joined it.
    pub last: Option<Vec<u64>>,
}

/// A CPU list of `process.execCPUAffinity` that is not one berth (or runc) accepts.
#[derive(Debug, thiserror::Error)]
#[error("process.execCPUAffinity.{which}: invalid CPU list {list:?}")]
pub struct AffinityError {
    which: &'static str,
    list: String,
    #[source]
    source: cpumask::MaskError,
}

impl ExecAffinity {
    /// The affinity of an exec'd `process`; when the process names none, that of the
    /// container's own `process` (runc's behaviour: config.json's value is the default).
    pub(crate) fn of(
        process: &Process,
        container_process: Option<&Process>,
    ) -> Result<ExecAffinity, AffinityError> {
        let Some(a) = process
            .exec_cpu_affinity()
            .as_ref()
            .or_else(|| container_process.and_then(|p| p.exec_cpu_affinity().as_ref()))
        else {
            return Ok(ExecAffinity::default());
        };
        let mask = |which: &'static str, list: &Option<String>| match list
            .as_deref()
            .filter(|l| !l.is_empty())
        {
            None => Ok(None),
            Some(l) => cpumask::mask_of_list(l)
                .map(Some)
                .map_err(|source| AffinityError {
                    which,
                    list: l.to_string(),
                    source,
                }),
        };
        Ok(ExecAffinity {
            initial: mask("initial", a.initial())?,
            last: mask("final", a.cpu_affinity_final())?,
        })
    }
}

/// Widens `pid`'s affinity to every CPU its cgroup allows. Failing only leaves berth's own
/// affinity in place, so it is a warning, as in runc.
pub(crate) fn reset(pid: i32) {
    if let Err(e) = berth_sys::process::sched_setaffinity(pid, &[u64::MAX; ALL_CPUS_WORDS]) {
        log::warn!(
            "resetting the CPU affinity of pid {pid} failed ({}): the container process may inherit the runtime's",
            berth_sys::ret::errno_text(&e).unwrap_or_else(|| e.to_string())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).expect("process json")
    }

    #[test]
    fn exec_affinity_falls_back_to_the_containers() {
        let none = process(r#"{"cwd":"/","user":{"uid":0,"gid":0}}"#);
        let own = process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"execCPUAffinity":{"initial":"1","final":"0-1"}}"#,
        );
        let cfg =
            process(r#"{"cwd":"/","user":{"uid":0,"gid":0},"execCPUAffinity":{"final":"1"}}"#);
        assert_eq!(
            ExecAffinity::of(&own, Some(&cfg)).unwrap(),
            ExecAffinity {
                initial: Some(vec![2]),
                last: Some(vec![3])
            }
        );
        assert_eq!(
            ExecAffinity::of(&none, Some(&cfg)).unwrap(),
            ExecAffinity {
                initial: None,
                last: Some(vec![2])
            }
        );
        assert_eq!(
            ExecAffinity::of(&none, None).unwrap(),
            ExecAffinity::default()
        );
    }

    /// The format check runs while the config is read (oci-spec's deserializer, patched in
    /// third_party/oci-spec to do without the regex crate): these pin what it accepts.
    #[test]
    fn cpu_list_format_is_checked_when_the_process_is_read() {
        let read = |list: &str| {
            serde_json::from_value::<Process>(serde_json::json!({
                "cwd": "/", "user": {"uid": 0, "gid": 0},
                "execCPUAffinity": {"initial": list}
            }))
        };
        for good in ["0", "0-3,7", "0,1,2,3", "0-1,2-5", "10-12"] {
            assert!(read(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "", ",", "0,", ",1", "0-3,,7", "4-6.,8", "1-", "-1", "0-3-5", "0 - 3", " 1", "a",
            "\u{663}",
        ] {
            let e = read(bad).expect_err(bad).to_string();
            assert!(e.contains("Invalid execCPUAffinity format"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn too_large_a_cpu_is_refused_with_the_field() {
        let p =
            process(r#"{"cwd":"/","user":{"uid":0,"gid":0},"execCPUAffinity":{"initial":"2048"}}"#);
        let e = ExecAffinity::of(&p, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.execCPUAffinity.initial: invalid CPU list \"2048\""
        );
    }
}
