//! Turns `linux.resources` into an ordered list of cgroup file writes, without touching the
//! kernel: everything is validated and every field the host cannot honour is rejected *before*
//! the first write, so a bad `update` leaves the cgroup as it was. The host is seen through
//! [`Host`], which tests fake.

use super::convert;
use super::CgroupError;
use oci_spec::runtime::LinuxResources;

/// What the planner may ask about the container's cgroup.
pub trait Host {
    /// Is the v1 controller (`ctrl`) mounted / the v2 controller enabled for the cgroup?
    fn has_controller(&self, ctrl: &str) -> bool;
    /// Does the interface file exist in the container's cgroup (`ctrl` selects the v1
    /// hierarchy; ignored on v2)?
    fn exists(&self, ctrl: &str, file: &str) -> bool;
    /// Current content of an interface file.
    fn read(&self, ctrl: &str, file: &str) -> Option<String>;
}

/// One file write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// v1 controller whose hierarchy holds the file; empty on v2.
    pub ctrl: String,
    pub file: String,
    pub value: String,
    /// The `linux.resources` field it comes from, for error messages.
    pub field: String,
}

struct Planner<'a> {
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

fn unsupported(field: &str, why: &str) -> CgroupError {
    CgroupError::field(field, format!("not supported on cgroup {why}"))
}

/// Plans the writes for a v1 host.
pub fn plan_v1(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>, CgroupError> {
    let mut p = Planner {
        host,
        v2: false,
        out: Vec::new(),
    };
    if let Some(m) = r.memory() {
        if let Some(true) = m.check_before_update() {
            if let Some(l) = m.limit().filter(|l| *l > 0) {
                let usage = host
                    .read("memory", "memory.usage_in_bytes")
                    .and_then(|s| s.trim().parse::<i64>().ok());
                if let Some(u) = usage.filter(|u| *u > l) {
                    return Err(CgroupError::field(
                        "memory.limit",
                        format!("{l} is below the current usage {u} (checkBeforeUpdate)"),
                    ));
                }
            }
        }
        let limit = m
            .limit()
            .map(|v| convert::limit_value("memory.limit", v, false))
            .transpose()?;
        let mut swap = m
            .swap()
            .map(|v| convert::limit_value("memory.swap", v, false))
            .transpose()?;
        // Unlimited memory with swap unset means both unlimited (as runc does), else the kernel
        // refuses memory > memsw.
        if m.limit() == Some(-1)
            && swap.is_none()
            && host.exists("memory", "memory.memsw.limit_in_bytes")
        {
            swap = Some("-1".into());
        }
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                return Err(CgroupError::field(
                    "memory.swap",
                    format!("memory+swap limit {s} must be >= the memory limit {l}"),
                ));
            }
        }
        // The kernel checks memory <= memsw at each write: raise memsw first when growing.
        let cur_memsw = host
            .read("memory", "memory.memsw.limit_in_bytes")
            .and_then(|s| s.trim().parse::<i64>().ok());
        let swap_first = match (&swap, cur_memsw) {
            (Some(s), Some(cur)) => s == "-1" || s.parse::<i64>().map(|v| v > cur).unwrap_or(false),
            _ => false,
        };
        if swap_first {
            if let Some(s) = &swap {
                p.w(
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    s.clone(),
                    "memory.swap",
                )?;
            }
        }
        if let Some(l) = limit {
            p.w("memory", "memory.limit_in_bytes", l, "memory.limit")?;
        }
        if !swap_first {
            if let Some(s) = swap {
                p.w("memory", "memory.memsw.limit_in_bytes", s, "memory.swap")?;
            }
        }
        if let Some(v) = m.reservation() {
            let v = convert::limit_value("memory.reservation", v, false)?;
            p.w(
                "memory",
                "memory.soft_limit_in_bytes",
                v,
                "memory.reservation",
            )?;
        }
        #[allow(deprecated)]
        if let Some(v) = m.kernel() {
            let v = convert::limit_value("memory.kernel", v, false)?;
            p.w("memory", "memory.kmem.limit_in_bytes", v, "memory.kernel")?;
        }
        if let Some(v) = m.kernel_tcp() {
            let v = convert::limit_value("memory.kernelTCP", v, false)?;
            p.w(
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                v,
                "memory.kernelTCP",
            )?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::field(
                    "memory.swappiness",
                    format!("invalid value {s} (0..=100)"),
                ));
            }
            p.w(
                "memory",
                "memory.swappiness",
                s.to_string(),
                "memory.swappiness",
            )?;
        }
        if let Some(d) = m.disable_oom_killer() {
            p.w(
                "memory",
                "memory.oom_control",
                if d { "1" } else { "0" },
                "memory.disableOOMKiller",
            )?;
        }
        if let Some(u) = m.use_hierarchy() {
            p.w(
                "memory",
                "memory.use_hierarchy",
                if u { "1" } else { "0" },
                "memory.useHierarchy",
            )?;
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            if !(2..=262_144).contains(&s) {
                return Err(CgroupError::field(
                    "cpu.shares",
                    format!("invalid value {s} (2..=262144)"),
                ));
            }
            p.w("cpu", "cpu.shares", s.to_string(), "cpu.shares")?;
        }
        if let Some(per) = c.period().filter(|v| *v != 0) {
            p.w("cpu", "cpu.cfs_period_us", per.to_string(), "cpu.period")?;
        }
        if let Some(q) = c.quota().filter(|v| *v != 0) {
            if q < -1 {
                return Err(CgroupError::field(
                    "cpu.quota",
                    format!("invalid value {q}"),
                ));
            }
            p.w("cpu", "cpu.cfs_quota_us", q.to_string(), "cpu.quota")?;
        }
        if let Some(b) = c.burst() {
            p.w("cpu", "cpu.cfs_burst_us", b.to_string(), "cpu.burst")?;
        }
        // The rt period must be in place before a runtime that fits in it.
        if let Some(per) = c.realtime_period().filter(|v| *v != 0) {
            p.w(
                "cpu",
                "cpu.rt_period_us",
                per.to_string(),
                "cpu.realtimePeriod",
            )?;
        }
        if let Some(rt) = c.realtime_runtime().filter(|v| *v != 0) {
            if rt < -1 {
                return Err(CgroupError::field(
                    "cpu.realtimeRuntime",
                    format!("invalid value {rt}"),
                ));
            }
            p.w(
                "cpu",
                "cpu.rt_runtime_us",
                rt.to_string(),
                "cpu.realtimeRuntime",
            )?;
        }
        if let Some(i) = c.idle() {
            if !(0..=1).contains(&i) {
                return Err(CgroupError::field(
                    "cpu.idle",
                    format!("invalid value {i} (0 or 1)"),
                ));
            }
            p.w("cpu", "cpu.idle", i.to_string(), "cpu.idle")?;
        }
        cpuset(&mut p, c.cpus().as_deref(), c.mems().as_deref())?;
    }
    blkio_v1(&mut p, r)?;
    if let Some(h) = r.hugepage_limits() {
        for l in h {
            hugetlb(&mut p, l.page_size(), l.limit(), false)?;
        }
    }
    if let Some(pids) = r.pids() {
        p.w("pids", "pids.max", pids_value(pids.limit())?, "pids.limit")?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            p.w(
                "net_cls",
                "net_cls.classid",
                id.to_string(),
                "network.classID",
            )?;
        }
        for prio in n.priorities().iter().flatten() {
            if prio.name().is_empty() || prio.name().contains(char::is_whitespace) {
                return Err(CgroupError::field(
                    "network.priorities",
                    format!("invalid interface name {:?}", prio.name()),
                ));
            }
            p.w(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", prio.name(), prio.priority()),
                "network.priorities",
            )?;
        }
    }
    rdma(&mut p, r, "rdma")?;
    if let Some(u) = r.unified() {
        if let Some(k) = u.keys().next() {
            return Err(CgroupError::field(
                &format!("unified.{k}"),
                "unified keys need a cgroup v2 host".to_string(),
            ));
        }
    }
    Ok(p.out)
}

fn pids_value(limit: i64) -> Result<String, CgroupError> {
    // runtime-spec 1.3: 0 is a real limit (no new process); -1 (or any "unset") is unlimited.
    match limit {
        -1 => Ok("max".into()),
        l if l < 0 => Err(CgroupError::field(
            "pids.limit",
            format!("invalid value {l}"),
        )),
        l => Ok(l.to_string()),
    }
}

fn cpuset(p: &mut Planner, cpus: Option<&str>, mems: Option<&str>) -> Result<(), CgroupError> {
    // "Outside the machine" is judged against what is online, not against the cgroup's current
    // effective set (that would forbid widening a narrowed cpuset again).
    let online = |what: &str| {
        std::fs::read_to_string(format!("/sys/devices/system/{what}/online")).unwrap_or_default()
    };
    for (val, field, file, what) in [
        (cpus, "cpu.cpus", "cpuset.cpus", "cpu"),
        (mems, "cpu.mems", "cpuset.mems", "node"),
    ] {
        let Some(v) = val.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let a = online(what);
        if a.trim().is_empty() {
            convert::parse_cpu_list(field, v)?;
        } else {
            convert::check_subset(field, v, &a)?;
        }
        p.w("cpuset", file, v, field)?;
    }
    Ok(())
}

fn dev(major: i64, minor: i64, field: &str) -> Result<String, CgroupError> {
    if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
        return Err(CgroupError::field(
            field,
            format!("invalid device {major}:{minor}"),
        ));
    }
    Ok(format!("{major}:{minor}"))
}

fn blkio_v1(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else { return Ok(()) };
    // Kernels without CFQ only have the BFQ files.
    let wfile = if p.host.exists("blkio", "blkio.weight") {
        "blkio.weight"
    } else {
        "blkio.bfq.weight"
    };
    let wdfile = if p.host.exists("blkio", "blkio.weight_device") {
        "blkio.weight_device"
    } else {
        "blkio.bfq.weight_device"
    };
    if let Some(w) = b.weight() {
        check_blkio_weight(w, "blockIO.weight")?;
        p.w("blkio", wfile, w.to_string(), "blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight() {
        check_blkio_weight(w, "blockIO.leafWeight")?;
        p.w(
            "blkio",
            "blkio.leaf_weight",
            w.to_string(),
            "blockIO.leafWeight",
        )?;
    }
    for d in b.weight_device().iter().flatten() {
        let id = dev(d.major(), d.minor(), "blockIO.weightDevice")?;
        if let Some(w) = d.weight() {
            check_blkio_weight(w, "blockIO.weightDevice")?;
            p.w("blkio", wdfile, format!("{id} {w}"), "blockIO.weightDevice")?;
        }
        if let Some(w) = d.leaf_weight() {
            check_blkio_weight(w, "blockIO.weightDevice.leafWeight")?;
            p.w(
                "blkio",
                "blkio.leaf_weight_device",
                format!("{id} {w}"),
                "blockIO.weightDevice.leafWeight",
            )?;
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ];
    for (list, file, field) in throttles {
        for t in list.iter().flatten() {
            let id = dev(t.major(), t.minor(), field)?;
            p.w("blkio", file, format!("{id} {}", t.rate()), field)?;
        }
    }
    Ok(())
}

fn check_blkio_weight(w: u16, field: &str) -> Result<(), CgroupError> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(CgroupError::field(
            field,
            format!("invalid value {w} (10..=1000)"),
        ))
    }
}

fn hugetlb(p: &mut Planner, size: &str, limit: i64, v2: bool) -> Result<(), CgroupError> {
    let field = format!("hugepageLimits[{size}]");
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CgroupError::field(&field, "invalid page size"));
    }
    let v = convert::limit_value(&field, limit, v2)?;
    let (lim, rsvd) = if v2 {
        (
            format!("hugetlb.{size}.max"),
            format!("hugetlb.{size}.rsvd.max"),
        )
    } else {
        (
            format!("hugetlb.{size}.limit_in_bytes"),
            format!("hugetlb.{size}.rsvd.limit_in_bytes"),
        )
    };
    if p.host.has_controller("hugetlb") && !p.host.exists("hugetlb", &lim) {
        return Err(CgroupError::field(
            &field,
            format!("page size {size} is not supported by this host"),
        ));
    }
    p.w("hugetlb", &lim, v.clone(), &field)?;
    // Reservation limits (kernel ≥ 5.7) also cap pages reserved but not yet faulted in; set
    // both so the limit holds whichever accounting the workload hits first.
    if p.host.exists("hugetlb", &rsvd) {
        p.w("hugetlb", &rsvd, v, &field)?;
    }
    Ok(())
}

fn rdma(p: &mut Planner, r: &LinuxResources, ctrl: &str) -> Result<(), CgroupError> {
    for (dev, l) in r.rdma().iter().flat_map(|m| m.iter()) {
        let field = format!("rdma.{dev}");
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(CgroupError::field(&field, "invalid device name"));
        }
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line != *dev {
            p.w(ctrl, "rdma.max", line, &field)?;
        }
    }
    Ok(())
}

/// Plans the writes for a pure v2 host (or the v2 side of a cgroup).
pub fn plan_v2(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>, CgroupError> {
    let mut p = Planner {
        host,
        v2: true,
        out: Vec::new(),
    };
    if let Some(m) = r.memory() {
        if let Some(true) = m.check_before_update() {
            if let Some(l) = m.limit().filter(|l| *l > 0) {
                let usage = host
                    .read("memory", "memory.current")
                    .and_then(|s| s.trim().parse::<i64>().ok());
                if let Some(u) = usage.filter(|u| *u > l) {
                    return Err(CgroupError::field(
                        "memory.limit",
                        format!("{l} is below the current usage {u} (checkBeforeUpdate)"),
                    ));
                }
            }
        }
        let swap = convert::swap_to_v2(m.swap(), m.limit())?;
        if let Some(s) = swap {
            p.w("memory", "memory.swap.max", s, "memory.swap")?;
        }
        if let Some(l) = m.limit() {
            p.w(
                "memory",
                "memory.max",
                convert::limit_value("memory.limit", l, true)?,
                "memory.limit",
            )?;
        }
        if let Some(v) = m.reservation() {
            p.w(
                "memory",
                "memory.low",
                convert::limit_value("memory.reservation", v, true)?,
                "memory.reservation",
            )?;
        }
        #[allow(deprecated)]
        if m.kernel().is_some() {
            return Err(unsupported("memory.kernel", "v2"));
        }
        if m.kernel_tcp().is_some() {
            return Err(unsupported("memory.kernelTCP", "v2"));
        }
        if m.swappiness().is_some() {
            return Err(unsupported(
                "memory.swappiness",
                "v2 (there is no per-cgroup swappiness)",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported("memory.disableOOMKiller", "v2"));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(unsupported(
                "memory.useHierarchy=false",
                "v2 (always hierarchical)",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            if !(2..=262_144).contains(&s) {
                return Err(CgroupError::field(
                    "cpu.shares",
                    format!("invalid value {s} (2..=262144)"),
                ));
            }
            p.w(
                "cpu",
                "cpu.weight",
                convert::shares_to_weight(s).to_string(),
                "cpu.shares",
            )?;
        }
        let cur = host.read("cpu", "cpu.max").unwrap_or_default();
        let quota = c.quota().filter(|v| *v != 0);
        let period = c.period().filter(|v| *v != 0);
        if let Some(line) = convert::cpu_max(quota, period, &cur)? {
            p.w(
                "cpu",
                "cpu.max",
                line,
                if quota.is_some() {
                    "cpu.quota"
                } else {
                    "cpu.period"
                },
            )?;
        }
        if let Some(b) = c.burst() {
            p.w("cpu", "cpu.max.burst", b.to_string(), "cpu.burst")?;
        }
        if c.realtime_runtime().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.realtimeRuntime", "v2"));
        }
        if c.realtime_period().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.realtimePeriod", "v2"));
        }
        if let Some(i) = c.idle() {
            if !(0..=1).contains(&i) {
                return Err(CgroupError::field(
                    "cpu.idle",
                    format!("invalid value {i} (0 or 1)"),
                ));
            }
            p.w("cpu", "cpu.idle", i.to_string(), "cpu.idle")?;
        }
        cpuset(&mut p, c.cpus().as_deref(), c.mems().as_deref())?;
    }
    if let Some(b) = r.block_io() {
        let bfq = host.exists("io", "io.bfq.weight");
        let plain = host.exists("io", "io.weight");
        if let Some(w) = b.weight() {
            check_blkio_weight(w, "blockIO.weight")?;
            if plain {
                p.w(
                    "io",
                    "io.weight",
                    convert::blkio_weight_to_io_weight(w).to_string(),
                    "blockIO.weight",
                )?;
            } else if bfq {
                p.w("io", "io.bfq.weight", w.to_string(), "blockIO.weight")?;
            } else {
                p.w("io", "io.weight", "", "blockIO.weight")?;
            }
        }
        if b.leaf_weight().is_some() {
            return Err(unsupported("blockIO.leafWeight", "v2"));
        }
        for d in b.weight_device().iter().flatten() {
            let id = dev(d.major(), d.minor(), "blockIO.weightDevice")?;
            if d.leaf_weight().is_some() {
                return Err(unsupported("blockIO.weightDevice.leafWeight", "v2"));
            }
            if let Some(w) = d.weight() {
                check_blkio_weight(w, "blockIO.weightDevice")?;
                if plain {
                    let v = format!("{id} {}", convert::blkio_weight_to_io_weight(w));
                    p.w("io", "io.weight", v, "blockIO.weightDevice")?;
                } else {
                    p.w(
                        "io",
                        "io.bfq.weight",
                        format!("{id} {w}"),
                        "blockIO.weightDevice",
                    )?;
                }
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, key, field) in throttles {
            for t in list.iter().flatten() {
                let id = dev(t.major(), t.minor(), field)?;
                // 0 means "no limit" in v1's files; v2 spells it max.
                let rate = if t.rate() == 0 {
                    "max".to_string()
                } else {
                    t.rate().to_string()
                };
                p.w("io", "io.max", format!("{id} {key}={rate}"), field)?;
            }
        }
    }
    if let Some(h) = r.hugepage_limits() {
        for l in h {
            hugetlb(&mut p, l.page_size(), l.limit(), true)?;
        }
    }
    if let Some(pids) = r.pids() {
        p.w("pids", "pids.max", pids_value(pids.limit())?, "pids.limit")?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            return Err(unsupported(
                "network.classID",
                "v2 (use an eBPF/nftables cgroup match instead)",
            ));
        }
        if n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(unsupported("network.priorities", "v2"));
        }
    }
    rdma(&mut p, r, "rdma")?;
    if let Some(u) = r.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let field = format!("unified.{k}");
            let ctrl = k.split_once('.').map(|(c, _)| c).unwrap_or("");
            if ctrl.is_empty() || k.contains('/') || k.starts_with('.') || k.contains("..") {
                return Err(CgroupError::field(
                    &field,
                    "not a cgroup interface file name",
                ));
            }
            if ctrl == "cgroup" {
                // cgroup.* files are the core's (procs, subtree_control): not a resource.
                if !matches!(k.as_str(), "cgroup.max.depth" | "cgroup.max.descendants") {
                    return Err(CgroupError::field(
                        &field,
                        "this cgroup core file is not a resource",
                    ));
                }
            } else if !host.has_controller(ctrl) {
                return Err(CgroupError::field(
                    &field,
                    format!("the {ctrl} controller is not enabled for this cgroup"),
                ));
            }
            if !host.exists(ctrl, k) {
                return Err(CgroupError::field(&field, "no such cgroup interface file"));
            }
            p.out.push(Write {
                ctrl: String::new(),
                file: k.clone(),
                value: v.clone(),
                field,
            });
        }
    }
    Ok(p.out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// A fake cgroup: controllers, files (with content).
    pub struct FakeHost {
        pub ctrls: HashSet<String>,
        pub files: HashMap<String, String>,
    }

    impl FakeHost {
        pub fn new(ctrls: &[&str], files: &[(&str, &str)]) -> FakeHost {
            FakeHost {
                ctrls: ctrls.iter().map(|s| s.to_string()).collect(),
                files: files
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            }
        }
    }

    impl Host for FakeHost {
        fn has_controller(&self, c: &str) -> bool {
            self.ctrls.contains(c)
        }
        fn exists(&self, _c: &str, f: &str) -> bool {
            self.files.contains_key(f)
        }
        fn read(&self, _c: &str, f: &str) -> Option<String> {
            self.files.get(f).cloned()
        }
    }

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).expect("test json")
    }

    fn v1_host() -> FakeHost {
        FakeHost::new(
            &["memory", "cpu", "cpuset", "pids", "blkio"],
            &[
                ("memory.limit_in_bytes", "9223372036854771712"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712"),
                ("memory.soft_limit_in_bytes", ""),
                ("memory.swappiness", "60"),
                ("memory.usage_in_bytes", "1000"),
                ("cpu.shares", "1024"),
                ("cpu.cfs_quota_us", "-1"),
                ("cpu.cfs_period_us", "100000"),
                ("cpuset.cpus", ""),
                ("cpuset.effective_cpus", "0-1"),
                ("pids.max", "max"),
                ("blkio.bfq.weight", "100"),
                ("blkio.throttle.read_bps_device", ""),
            ],
        )
    }

    fn files(w: &[Write]) -> Vec<(&str, &str)> {
        w.iter()
            .map(|w| (w.file.as_str(), w.value.as_str()))
            .collect()
    }

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
                ("pids.max", "0"),
            ]
        );
    }

    fn v2_host() -> FakeHost {
        FakeHost::new(
            &["memory", "cpu", "cpuset", "pids", "io", "hugetlb"],
            &[
                ("memory.max", "max"),
                ("memory.swap.max", "max"),
                ("memory.low", "0"),
                ("memory.current", "0"),
                ("cpu.weight", "100"),
                ("cpu.max", "max 100000"),
                ("cpu.max.burst", "0"),
                ("cpu.idle", "0"),
                ("pids.max", "max"),
                ("io.weight", "default 100"),
                ("io.max", ""),
                ("hugetlb.2MB.max", "max"),
                ("hugetlb.2MB.rsvd.max", "max"),
                ("memory.high", "max"),
            ],
        )
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
