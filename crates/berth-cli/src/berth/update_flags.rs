//! `update`'s flags: runc's flag set (strings, as typed) turned into a `LinuxResources`, with
//! every value checked (negative, overflowing, malformed) and errors naming the flag. This is
//! command-line work, so it lives here; the library takes the typed resources
//! (`Runtime::update`) and validates them against the host.

use oci_spec::runtime::{LinuxPids, LinuxResources};

/// A flag's value that cannot be turned into the resource it sets.
#[derive(Debug, thiserror::Error)]
pub enum UpdateFlagError {
    /// A value of one of the flags is malformed.
    #[error("--{flag}: invalid value {value:?}: {reason}")]
    Value {
        flag: String,
        value: String,
        reason: String,
    },
    /// A cpuset list given to `--cpuset-cpus`/`--cpuset-mems` is malformed.
    #[error("--{flag}: invalid value {value:?}")]
    List {
        flag: String,
        value: String,
        #[source]
        source: Box<berth_cgroups::CgroupError>,
    },
    /// `--resources` was not a LinuxResources JSON document.
    #[error("--resources: not a valid LinuxResources document")]
    ResourcesJson(#[source] serde_json::Error),
}

/// `update`'s flags as given on the command line (strings: parsed here so errors are uniform).
#[derive(Debug, Default, Clone)]
pub struct UpdateFlags {
    /// `--memory`: the memory limit (a size, `-1` unlimited).
    pub memory: Option<String>,
    /// `--memory-swap`: memory plus swap.
    pub memory_swap: Option<String>,
    /// `--memory-reservation`: the soft limit.
    pub memory_reservation: Option<String>,
    /// `--kernel-memory`: obsolete; checked as a size, then ignored (runc 1.5 does the same).
    pub kernel_memory: Option<String>,
    /// `--kernel-memory-tcp`: obsolete, like `--kernel-memory`.
    pub kernel_memory_tcp: Option<String>,
    /// `--cpu-shares`: relative CPU weight.
    pub cpu_shares: Option<String>,
    /// `--cpu-quota`: CFS quota in microseconds per period (`-1` none).
    pub cpu_quota: Option<String>,
    /// `--cpu-period`: CFS period in microseconds.
    pub cpu_period: Option<String>,
    /// `--cpu-burst`: CFS burst in microseconds.
    pub cpu_burst: Option<String>,
    /// `--cpu-idle`: `1` makes the cgroup SCHED_IDLE.
    pub cpu_idle: Option<String>,
    /// `--cpu-rt-runtime`: realtime runtime in microseconds.
    pub cpu_rt_runtime: Option<String>,
    /// `--cpu-rt-period`: realtime period in microseconds.
    pub cpu_rt_period: Option<String>,
    /// `--cpuset-cpus`: CPUs allowed (`0-3,5`).
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`: memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`: maximum number of processes (`-1` none).
    pub pids_limit: Option<String>,
    /// `--blkio-weight`: block I/O weight (10..=1000; 0 is "not set", as for runc).
    pub blkio_weight: Option<String>,
}

fn bad(flag: &str, v: &str, why: &str) -> UpdateFlagError {
    UpdateFlagError::Value {
        flag: flag.to_string(),
        value: v.to_string(),
        reason: why.to_string(),
    }
}

fn bad_list(flag: &str, v: &str, e: berth_cgroups::CgroupError) -> UpdateFlagError {
    UpdateFlagError::List {
        flag: flag.to_string(),
        value: v.to_string(),
        source: Box::new(e),
    }
}

/// A byte size like runc takes: `-1`, a plain number, or a number with a binary unit suffix
/// (`k`, `m`, `g`, `t`, optionally followed by `b`/`B`).
pub(crate) fn parse_size(flag: &str, v: &str) -> Result<i64, UpdateFlagError> {
    let t = v.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult): (&str, i64) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    if num.starts_with('-') {
        return Err(bad(
            flag,
            v,
            "negative (only -1, unlimited, may be negative)",
        ));
    }
    let n: i64 = num.trim().parse().map_err(|_| bad(flag, v, "not a size"))?;
    n.checked_mul(mult).ok_or_else(|| bad(flag, v, "too large"))
}

fn parse_u64(flag: &str, v: &str) -> Result<u64, UpdateFlagError> {
    if v.trim().starts_with('-') {
        return Err(bad(flag, v, "negative"));
    }
    v.trim()
        .parse()
        .map_err(|_| bad(flag, v, "not a non-negative integer (or too large)"))
}

fn parse_i64(flag: &str, v: &str, min: i64) -> Result<i64, UpdateFlagError> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| bad(flag, v, "not an integer (or too large)"))?;
    if n < min {
        return Err(bad(flag, v, &format!("must be >= {min}")));
    }
    Ok(n)
}

impl UpdateFlags {
    /// Whether `--kernel-memory` or `--kernel-memory-tcp` was given: the caller warns that
    /// they are ignored.
    pub fn sets_kernel_memory(&self) -> bool {
        self.kernel_memory.is_some() || self.kernel_memory_tcp.is_some()
    }

    /// Lays the flags over `base` (from `-r FILE`, or empty).
    pub fn apply_to(&self, mut r: LinuxResources) -> Result<LinuxResources, UpdateFlagError> {
        // Obsolete kernel memory limits: a malformed value is still an error (as in runc),
        // a valid one sets nothing.
        for (flag, v) in [
            ("kernel-memory", &self.kernel_memory),
            ("kernel-memory-tcp", &self.kernel_memory_tcp),
        ] {
            if let Some(v) = v {
                parse_size(flag, v)?;
            }
        }
        let mut mem = r.memory().unwrap_or_default();
        let mut mem_set = r.memory().is_some();
        if let Some(v) = &self.memory {
            mem.set_limit(Some(parse_size("memory", v)?));
            mem_set = true;
        }
        if let Some(v) = &self.memory_swap {
            mem.set_swap(Some(parse_size("memory-swap", v)?));
            mem_set = true;
        }
        if let Some(v) = &self.memory_reservation {
            mem.set_reservation(Some(parse_size("memory-reservation", v)?));
            mem_set = true;
        }
        if mem_set {
            r.set_memory(Some(mem));
        }
        let mut cpu = r.cpu().clone().unwrap_or_default();
        let mut cpu_set = r.cpu().is_some();
        macro_rules! cpu_field {
            ($field:ident, $flag:literal, $setter:ident, $parse:expr) => {
                if let Some(v) = &self.$field {
                    cpu.$setter(Some($parse($flag, v)?));
                    cpu_set = true;
                }
            };
        }
        cpu_field!(cpu_shares, "cpu-shares", set_shares, parse_u64);
        cpu_field!(cpu_quota, "cpu-quota", set_quota, |f, v| parse_i64(
            f, v, -1
        ));
        cpu_field!(cpu_period, "cpu-period", set_period, parse_u64);
        cpu_field!(cpu_burst, "cpu-burst", set_burst, parse_u64);
        cpu_field!(cpu_idle, "cpu-idle", set_idle, |f, v| parse_i64(f, v, 0));
        cpu_field!(
            cpu_rt_runtime,
            "cpu-rt-runtime",
            set_realtime_runtime,
            |f, v| parse_i64(f, v, -1)
        );
        cpu_field!(
            cpu_rt_period,
            "cpu-rt-period",
            set_realtime_period,
            parse_u64
        );
        if let Some(v) = &self.cpuset_cpus {
            berth_cgroups::convert::parse_cpu_list("cpu.cpus", v)
                .map_err(|e| bad_list("cpuset-cpus", v, e))?;
            cpu.set_cpus(Some(v.clone()));
            cpu_set = true;
        }
        if let Some(v) = &self.cpuset_mems {
            berth_cgroups::convert::parse_cpu_list("cpu.mems", v)
                .map_err(|e| bad_list("cpuset-mems", v, e))?;
            cpu.set_mems(Some(v.clone()));
            cpu_set = true;
        }
        if cpu_set {
            r.set_cpu(Some(cpu));
        }
        if let Some(v) = &self.pids_limit {
            let mut p = LinuxPids::default();
            p.set_limit(parse_i64("pids-limit", v, -1)?);
            r.set_pids(Some(p));
        }
        if let Some(v) = &self.blkio_weight {
            let w = parse_u64("blkio-weight", v)?;
            let w =
                u16::try_from(w).map_err(|_| bad("blkio-weight", v, "too large (10..=1000)"))?;
            let mut b = r.block_io().clone().unwrap_or_default();
            b.set_weight(Some(w));
            r.set_block_io(Some(b));
        }
        Ok(r)
    }
}

/// Parses `-r`'s JSON (a LinuxResources document).
pub fn parse_resources_json(text: &str) -> Result<LinuxResources, UpdateFlagError> {
    // from_slice, as config.json is read: one LinuxResources deserializer in the binary.
    serde_json::from_slice(text.as_bytes()).map_err(UpdateFlagError::ResourcesJson)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the command line shows: the message and its causes, joined by ": ".
    /// What the command line prints for an error (see `crate::error_chain`).
    fn chain(e: impl std::error::Error + Send + Sync + 'static) -> String {
        crate::error_chain::chain_text(&anyhow::Error::new(e), |_| None)
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("memory", "100").unwrap(), 100);
        assert_eq!(parse_size("memory", "4m").unwrap(), 4 << 20);
        assert_eq!(parse_size("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("memory", "2kb").unwrap(), 2048);
        assert_eq!(parse_size("memory", "-1").unwrap(), -1);
        assert!(parse_size("memory", "-5")
            .unwrap_err()
            .to_string()
            .contains("--memory"));
        assert!(parse_size("memory", "99999999999999t").is_err());
        assert!(parse_size("memory", "x").is_err());
    }

    #[test]
    fn kernel_memory_is_checked_then_ignored() {
        // runc 1.5: a size is accepted and sets nothing (with a warning); garbage is an error.
        let f = UpdateFlags {
            kernel_memory: Some("64m".into()),
            kernel_memory_tcp: Some("-1".into()),
            ..Default::default()
        };
        assert!(f.sets_kernel_memory());
        let r = f.apply_to(LinuxResources::default()).unwrap();
        assert_eq!(r, LinuxResources::default());
        let f = UpdateFlags {
            kernel_memory_tcp: Some("lots".into()),
            ..Default::default()
        };
        assert!(chain(f.apply_to(LinuxResources::default()).unwrap_err())
            .contains("--kernel-memory-tcp"));
        assert!(!UpdateFlags::default().sets_kernel_memory());
    }

    #[test]
    fn flags_to_resources() {
        let f = UpdateFlags {
            memory: Some("64m".into()),
            cpu_quota: Some("-1".into()),
            cpu_shares: Some("512".into()),
            pids_limit: Some("0".into()),
            blkio_weight: Some("300".into()),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        };
        let base = parse_resources_json(r#"{"memory":{"swap":-1}}"#).unwrap();
        let r = serde_json::to_value(f.apply_to(base).unwrap()).unwrap();
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert_eq!(r["memory"]["swap"], -1);
        assert_eq!(r["cpu"]["quota"], -1);
        assert_eq!(r["cpu"]["shares"], 512);
        assert_eq!(r["pids"]["limit"], 0);
        assert_eq!(r["blockIO"]["weight"], 300);
        // What the command line shows: the message and its causes, joined by ": ".
        let refused = |set: fn(&mut UpdateFlags, String), v: &str| {
            let mut f = UpdateFlags::default();
            set(&mut f, v.to_string());
            let e = f.apply_to(LinuxResources::default()).unwrap_err();
            chain(e)
        };
        assert_eq!(
            refused(|f, v| f.cpu_shares = Some(v), "-3"),
            "--cpu-shares: invalid value \"-3\": negative"
        );
        assert_eq!(
            refused(|f, v| f.pids_limit = Some(v), "-2"),
            "--pids-limit: invalid value \"-2\": must be >= -1"
        );
        assert!(
            refused(|f, v| f.cpu_period = Some(v), "18446744073709551616")
                .starts_with("--cpu-period: invalid value")
        );
        assert!(refused(|f, v| f.blkio_weight = Some(v), "70000")
            .starts_with("--blkio-weight: invalid value \"70000\": too large"));
        assert_eq!(
            refused(|f, v| f.cpuset_cpus = Some(v), "a-b"),
            "--cpuset-cpus: invalid value \"a-b\": linux.resources.cpu.cpus: invalid list \"a-b\""
        );
        let e = parse_resources_json("{").unwrap_err();
        assert!(chain(e)
            .starts_with("--resources: not a valid LinuxResources document: EOF while parsing"));
    }
}
