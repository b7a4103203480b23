//! Turns `linux.resources` into an ordered list of cgroup file writes, without touching the
//! kernel: everything is validated and every field the host cannot honour is rejected *before*
//! the first write, so a bad `update` leaves the cgroup as it was.
//!
//! One module per controller ([`memory`], [`cpu`], [`cpuset`], [`io`], [`hugetlb`], [`pids`],
//! [`net`], [`rdma`], [`unified`]). Each has one `validate` for its field values, run the same
//! way on both versions, then a `v1` and a `v2` mapping of the validated values to files. Every
//! look at the host (which controllers and files exist, current values, online CPUs) goes
//! through [`Host`], which the tests fake.

mod cpu;
mod cpuset;
mod hugetlb;
mod io;
mod memory;
mod net;
mod pids;
mod rdma;
mod unified;

#[cfg(test)]
pub(crate) mod testing;

use crate::CgroupError;
use oci_spec::runtime::LinuxResources;

/// Which set of `/sys/devices/system/*/online` the planner asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Online {
    /// Online CPUs (`/sys/devices/system/cpu/online`).
    Cpus,
    /// Online memory nodes (`/sys/devices/system/node/online`).
    Mems,
}

/// Everything the planner may ask about the host and the container's cgroup.
pub(crate) trait Host {
    /// Is the v1 controller (`ctrl`) mounted / the v2 controller enabled for the cgroup?
    fn has_controller(&self, ctrl: &str) -> bool;
    /// Does the interface file exist in the container's cgroup (`ctrl` selects the v1
    /// hierarchy; ignored on v2)? This is how kernel features are detected.
    fn exists(&self, ctrl: &str, file: &str) -> bool;
    /// Current content of an interface file.
    fn read(&self, ctrl: &str, file: &str) -> Option<String>;
    /// The host's online CPUs or memory nodes as a cpuset list (`0-3`); empty when unknown.
    fn online(&self, set: Online) -> String;
}

/// [`Host::online`] of the running machine.
pub(crate) fn online_from_sysfs(set: Online) -> String {
    let what = match set {
        Online::Cpus => "cpu",
        Online::Mems => "node",
    };
    std::fs::read_to_string(format!("/sys/devices/system/{what}/online")).unwrap_or_default()
}

/// One file write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    /// v1 controller whose hierarchy holds the file; empty on v2.
    pub ctrl: String,
    pub file: String,
    pub value: String,
    /// The `linux.resources` field it comes from, for error messages.
    pub field: String,
}

/// The plan being built: the host it is for and the writes so far.
pub(crate) struct Planner<'a> {
    host: &'a dyn Host,
    v2: bool,
    out: Vec<Write>,
}

impl Planner<'_> {
    /// Plans a write, failing with a clear message when the controller or file is missing.
    fn w(
        &mut self,
        ctrl: &str,
        file: &str,
        value: impl Into<String>,
        field: &str,
    ) -> Result<(), CgroupError> {
        if !self.host.has_controller(ctrl) {
            return Err(CgroupError::field(
                field,
                format!("the {ctrl} controller is not available for this cgroup on this host"),
            ));
        }
        if !self.host.exists(ctrl, file) {
            return Err(CgroupError::field(
                field,
                format!("this kernel has no {file} (the host cannot honour it)"),
            ));
        }
        let c = if self.v2 {
            String::new()
        } else {
            ctrl.to_string()
        };
        self.out.push(Write {
            ctrl: c,
            file: file.into(),
            value: value.into(),
            field: field.into(),
        });
        Ok(())
    }
}

/// A field the given cgroup version has no file for.
fn unsupported(field: &str, why: &str) -> CgroupError {
    CgroupError::field(field, format!("not supported on cgroup {why}"))
}

/// Validator of a memory-like limit: -1 (unlimited) or a non-negative number.
fn check_limit(field: &str, v: i64) -> Result<(), CgroupError> {
    if v < -1 {
        return Err(CgroupError::field(
            field,
            format!("invalid value {v} (only -1 may be negative)"),
        ));
    }
    Ok(())
}

/// A limit checked by [`check_limit`] as the file wants it: unlimited is `max` on v2, `-1` on v1.
fn limit_text(v: i64, v2: bool) -> String {
    match v {
        -1 if v2 => "max".into(),
        v => v.to_string(),
    }
}

/// Validator of a device number pair (`major:minor`), both within dev_t's 32 bits.
fn check_dev(major: i64, minor: i64, field: &str) -> Result<(), CgroupError> {
    let ok = |n: i64| (0..=i64::from(u32::MAX)).contains(&n);
    if !ok(major) || !ok(minor) {
        return Err(CgroupError::field(
            field,
            format!("invalid device {major}:{minor}"),
        ));
    }
    Ok(())
}

/// Plans the writes for a v1 host.
pub(crate) fn plan_v1(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>, CgroupError> {
    plan(r, host, false)
}

/// Plans the writes for a pure v2 host (or the v2 side of a cgroup).
pub(crate) fn plan_v2(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>, CgroupError> {
    plan(r, host, true)
}

/// The fields runc (1.1) reads as "not set" when they hold 0, cleared so that every validator
/// and mapping below sees them as absent: dockerd writes `blockIO.weight: 0` into every
/// config.json, and `runc update` sends 0 for a flag not given. The memory limits (limit, swap,
/// reservation, kernel, kernelTCP), the block I/O weights (weight, leafWeight; the per-device
/// pair in [`io`], which has no setters to clear them here) and `network.classID`; swappiness `u64::MAX` is Go's `-1` ("not set") cast by the
/// engines. The cpu fields' zeros are handled by [`cpu`] (runc: the same); `pids.limit` 0 is a
/// limit (runtime-spec 1.3). docs/compat.md lists each rule beside runc's behaviour.
fn unset_zeros(r: &LinuxResources) -> LinuxResources {
    let nonzero_i = |v: Option<i64>| v.filter(|v| *v != 0);
    let nonzero_w = |v: Option<u16>| v.filter(|v| *v != 0);
    let mut r = r.clone();
    if let Some(m) = r.memory().as_ref() {
        let mut m = *m;
        m.set_limit(nonzero_i(m.limit()));
        m.set_swap(nonzero_i(m.swap()));
        m.set_reservation(nonzero_i(m.reservation()));
        #[allow(deprecated)]
        m.set_kernel(nonzero_i(m.kernel()));
        m.set_kernel_tcp(nonzero_i(m.kernel_tcp()));
        m.set_swappiness(m.swappiness().filter(|s| *s != u64::MAX));
        r.set_memory(Some(m));
    }
    if let Some(b) = r.block_io().as_ref() {
        let mut b = b.clone();
        b.set_weight(nonzero_w(b.weight()));
        b.set_leaf_weight(nonzero_w(b.leaf_weight()));
        r.set_block_io(Some(b));
    }
    if let Some(n) = r.network().as_ref() {
        let mut n = n.clone();
        n.set_class_id(n.class_id().filter(|c| *c != 0));
        r.set_network(Some(n));
    }
    r
}

fn plan(r: &LinuxResources, host: &dyn Host, v2: bool) -> Result<Vec<Write>, CgroupError> {
    let r = &unset_zeros(r);
    let mut p = Planner {
        host,
        v2,
        out: Vec::new(),
    };
    memory::plan(&mut p, r)?;
    cpu::plan(&mut p, r)?;
    cpuset::plan(&mut p, r)?;
    io::plan(&mut p, r)?;
    hugetlb::plan(&mut p, r)?;
    pids::plan(&mut p, r)?;
    net::plan(&mut p, r)?;
    rdma::plan(&mut p, r)?;
    unified::plan(&mut p, r)?;
    Ok(p.out)
}

#[cfg(test)]
mod tests {
    use super::testing::{files, res, v1_host, v2_host};
    use super::*;

    #[test]
    fn v1_memory_order_and_values() {
        let w = plan_v1(
            &res(
                r#"{"memory":{"limit":1048576,"swap":2097152,"reservation":1024,"swappiness":10}}"#,
            ),
            &v1_host(),
        )
        .unwrap();
        assert_eq!(
            files(&w),
            vec![
                ("memory.limit_in_bytes", "1048576"),
                ("memory.memsw.limit_in_bytes", "2097152"),
                ("memory.soft_limit_in_bytes", "1024"),
                ("memory.swappiness", "10"),
            ]
        );
        let w = plan_v1(&res(r#"{"memory":{"limit":-1}}"#), &v1_host()).unwrap();
        assert_eq!(
            files(&w),
            vec![
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "-1")
            ]
        );
    }

    #[test]
    fn zeros_runc_reads_as_unset_write_nothing() {
        // v1 has no net_cls here: a classID 0 must not even ask for the controller.
        let r = res(
            r#"{"memory":{"limit":0,"swap":0,"reservation":0,"kernel":0,"kernelTCP":0,"swappiness":18446744073709551615},"network":{"classID":0}}"#,
        );
        assert!(files(&plan_v1(&r, &v1_host()).unwrap()).is_empty());
        assert!(files(&plan_v2(&r, &v2_host()).unwrap()).is_empty());
        // Beside a real limit the zero swap stays unset.
        let w = plan_v1(&res(r#"{"memory":{"limit":4096,"swap":0}}"#), &v1_host()).unwrap();
        assert_eq!(files(&w), vec![("memory.limit_in_bytes", "4096")]);
    }

    #[test]
    fn v1_rejects_bad_and_unsupported() {
        let h = v1_host();
        let e = |j: &str| plan_v1(&res(j), &h).unwrap_err().to_string();
        assert!(e(r#"{"memory":{"limit":-5}}"#).contains("memory.limit"));
        assert!(e(r#"{"memory":{"swappiness":101}}"#).contains("memory.swappiness"));
        assert!(e(r#"{"memory":{"limit":100,"checkBeforeUpdate":true}}"#).contains("usage"));
        assert!(e(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#).contains("hugetlb"));
        assert!(e(r#"{"network":{"classID":1}}"#).contains("net_cls"));
        assert!(e(r#"{"unified":{"memory.max":"1"}}"#).contains("unified.memory.max"));
        assert!(e(r#"{"cpu":{"cpus":"4000-4001"}}"#).contains("cpu.cpus"));
        assert!(e(r#"{"cpu":{"shares":1}}"#).contains("cpu.shares"));
        assert!(e(r#"{"cpu":{"realtimeRuntime":10}}"#).contains("cpu.rt_runtime_us"));
        assert!(e(r#"{"pids":{"limit":-2}}"#).contains("pids.limit"));
        assert!(e(r#"{"blockIO":{"weight":5}}"#).contains("blockIO.weight"));
        assert!(
            e(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#)
                .contains("throttleReadBps")
        );
    }

    #[test]
    fn v1_cpu_pids_blkio() {
        let w = plan_v1(
            &res(r#"{"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"1"},"pids":{"limit":0},"blockIO":{"weight":300,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":100}]}}"#),
            &v1_host(),
        )
        .unwrap();
        assert_eq!(
            files(&w),
            vec![
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpuset.cpus", "1"),
                ("blkio.bfq.weight", "300"),
                ("blkio.throttle.read_bps_device", "8:0 100"),
                ("pids.max", "1"),
            ]
        );
    }

    #[test]
    fn v2_conversions() {
        let w = plan_v2(
            &res(r#"{"memory":{"limit":1000,"swap":3000,"reservation":10},"cpu":{"shares":1024,"quota":20000,"burst":5,"idle":1},"pids":{"limit":-1},"blockIO":{"weight":1000,"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":7}]},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],"unified":{"memory.high":"5000"}}"#),
            &v2_host(),
        )
        .unwrap();
        assert_eq!(
            files(&w),
            vec![
                ("memory.swap.max", "2000"),
                ("memory.max", "1000"),
                ("memory.low", "10"),
                ("cpu.weight", "100"),
                ("cpu.max", "20000 100000"),
                ("cpu.max.burst", "5"),
                ("cpu.idle", "1"),
                ("io.weight", "10000"),
                ("io.max", "8:0 wiops=7"),
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304"),
                ("pids.max", "max"),
                ("memory.high", "5000"),
            ]
        );
    }

    #[test]
    fn v2_rejects() {
        let h = v2_host();
        let e = |j: &str| plan_v2(&res(j), &h).unwrap_err().to_string();
        assert!(e(r#"{"unified":{"memory.nope":"1"}}"#).contains("unified.memory.nope"));
        assert!(e(r#"{"unified":{"rdma.max":"1"}}"#).contains("not enabled"));
        assert!(e(r#"{"unified":{"../x":"1"}}"#).contains("unified"));
        assert!(e(r#"{"memory":{"swappiness":1}}"#).contains("memory.swappiness"));
        assert!(e(r#"{"cpu":{"realtimePeriod":5}}"#).contains("cpu.realtimePeriod"));
        assert!(e(r#"{"hugepageLimits":[{"pageSize":"1GB","limit":1}]}"#).contains("1GB"));
        assert!(e(r#"{"network":{"classID":3}}"#).contains("network.classID"));
        assert!(e(r#"{"blockIO":{"leafWeight":100}}"#).contains("leafWeight"));
    }
}
