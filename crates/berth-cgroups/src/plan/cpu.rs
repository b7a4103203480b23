//! The cpu controller: `linux.resources.cpu` except `cpus`/`mems` (see [`super::cpuset`]).

use super::{unsupported, Planner};
use crate::{convert, CgroupError};
use oci_spec::runtime::{LinuxCpu, LinuxResources};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else { return Ok(()) };
    validate(c)?;
    if p.v2 {
        v2(p, c)
    } else {
        v1(p, c)
    }
}

/// The one validator of the cpu fields, for both versions. 0 means "unset" for shares, quota,
/// period and the realtime pair.
fn validate(c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        if !(2..=262_144).contains(&s) {
            return Err(CgroupError::field(
                "cpu.shares",
                format!("invalid value {s} (2..=262144)"),
            ));
        }
    }
    for (v, field) in [
        (c.quota(), "cpu.quota"),
        (c.realtime_runtime(), "cpu.realtimeRuntime"),
    ] {
        if let Some(v) = v.filter(|v| *v < -1) {
            return Err(CgroupError::field(field, format!("invalid value {v}")));
        }
    }
    if let Some(i) = c.idle() {
        if !(0..=1).contains(&i) {
            return Err(CgroupError::field(
                "cpu.idle",
                format!("invalid value {i} (0 or 1)"),
            ));
        }
    }
    Ok(())
}

/// Whether a v1 update of both a limit and its period writes the limit first: the CFS pair
/// (`cpu.cfs_quota_us`, `cpu.cfs_period_us`) or the realtime one (`cpu.rt_runtime_us`,
/// `cpu.rt_period_us`). The kernel checks each write against the parent's limit
/// (limit/period), and a realtime runtime against its own period, so the value in between must
/// fit too: of (old limit, new period) and (new limit, old period), the pair with the smaller
/// share goes first. Lowering the period under a pod's limit (old quota 500000/1000000, new
/// 3000/10000) needs the quota first; raising it needs the period first. No limit (-1) is no
/// limit.
fn limit_first(
    p: &Planner,
    (limit_file, period_file): (&str, &str),
    new_period: u64,
    new_limit: i64,
) -> bool {
    let cur = |f: &str| {
        p.host
            .read("cpu", f)
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let (Some(old_limit), Some(old_period)) = (cur(limit_file), cur(period_file)) else {
        return false;
    };
    if new_limit < 0 {
        return true;
    }
    if old_limit < 0 {
        return false;
    }
    // new_limit/old_period < old_limit/new_period, without division.
    i128::from(new_limit) * i128::from(new_period) < i128::from(old_limit) * i128::from(old_period)
}

/// Writes a limit and its period (either may be absent) in the order [`limit_first`] picks.
fn limit_and_period(
    p: &mut Planner,
    files: (&str, &str),
    fields: (&str, &str),
    limit: Option<i64>,
    period: Option<u64>,
) -> Result<(), CgroupError> {
    let (limit_file, period_file) = files;
    let (limit_field, period_field) = fields;
    let first = match (limit, period) {
        (Some(l), Some(per)) => limit_first(p, files, per, l),
        _ => false,
    };
    let write_limit = |p: &mut Planner| match limit {
        Some(l) => p.w("cpu", limit_file, l.to_string(), limit_field),
        None => Ok(()),
    };
    if first {
        write_limit(p)?;
    }
    if let Some(per) = period {
        p.w("cpu", period_file, per.to_string(), period_field)?;
    }
    if !first {
        write_limit(p)?;
    }
    Ok(())
}

fn v1(p: &mut Planner, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        p.w("cpu", "cpu.shares", s.to_string(), "cpu.shares")?;
    }
    limit_and_period(
        p,
        ("cpu.cfs_quota_us", "cpu.cfs_period_us"),
        ("cpu.quota", "cpu.period"),
        c.quota().filter(|v| *v != 0),
        c.period().filter(|v| *v != 0),
    )?;
    if let Some(b) = c.burst() {
        p.w("cpu", "cpu.cfs_burst_us", b.to_string(), "cpu.burst")?;
    }
    limit_and_period(
        p,
        ("cpu.rt_runtime_us", "cpu.rt_period_us"),
        ("cpu.realtimeRuntime", "cpu.realtimePeriod"),
        c.realtime_runtime().filter(|v| *v != 0),
        c.realtime_period().filter(|v| *v != 0),
    )?;
    if let Some(i) = c.idle() {
        p.w("cpu", "cpu.idle", i.to_string(), "cpu.idle")?;
    }
    Ok(())
}

/// v2's cpu.max line from a validated quota and period (both non-zero when given; quota -1 is
/// `max`); what is not given keeps its current value.
fn cpu_max(quota: Option<i64>, period: Option<u64>, current: &str) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut cur = current.split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur.next().unwrap_or("100000").to_string();
    let q = match quota {
        Some(q) if q < 0 => "max".to_string(),
        Some(q) => q.to_string(),
        None => cur_quota,
    };
    let p = period.map_or(cur_period, |p| p.to_string());
    Some(format!("{q} {p}"))
}

fn v2(p: &mut Planner, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        p.w(
            "cpu",
            "cpu.weight",
            convert::shares_to_weight(s).to_string(),
            "cpu.shares",
        )?;
    }
    let cur = p.host.read("cpu", "cpu.max").unwrap_or_default();
    let quota = c.quota().filter(|v| *v != 0);
    let period = c.period().filter(|v| *v != 0);
    if let Some(line) = cpu_max(quota, period, &cur) {
        let field = if quota.is_some() {
            "cpu.quota"
        } else {
            "cpu.period"
        };
        p.w("cpu", "cpu.max", line, field)?;
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
        p.w("cpu", "cpu.idle", i.to_string(), "cpu.idle")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, refused_alike, res, v1_host, v2_host, FakeHost};
    use super::super::{plan_v1, plan_v2};
    use super::cpu_max;

    #[test]
    fn cpu_max_lines() {
        assert_eq!(
            cpu_max(Some(50_000), None, "max 100000"),
            Some("50000 100000".into())
        );
        assert_eq!(
            cpu_max(None, Some(20_000), "max 100000"),
            Some("max 20000".into())
        );
        assert_eq!(cpu_max(Some(-1), Some(1000), ""), Some("max 1000".into()));
        assert_eq!(cpu_max(None, None, ""), None);
    }

    #[test]
    fn shares_and_quota_on_each_version() {
        let r = res(r#"{"cpu":{"shares":1024,"quota":25000}}"#);
        assert_eq!(
            files(&plan_v1(&r, &v1_host()).unwrap()),
            vec![("cpu.shares", "1024"), ("cpu.cfs_quota_us", "25000")]
        );
        // The v2 weight of the v1 default share is the v2 default; the period is kept.
        assert_eq!(
            files(&plan_v2(&r, &v2_host()).unwrap()),
            vec![("cpu.weight", "100"), ("cpu.max", "25000 100000")]
        );
    }

    #[test]
    fn v1_quota_and_period_order_keeps_the_share_between_within_bounds() {
        let host = |q: &str, per: &str| {
            let mut h = v1_host();
            h.files.insert("cpu.cfs_quota_us".into(), q.into());
            h.files.insert("cpu.cfs_period_us".into(), per.into());
            h
        };
        let order = |j: &str, h: &FakeHost| {
            files(&plan_v1(&res(j), h).unwrap())
                .into_iter()
                .map(|(f, _)| f)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let both = r#"{"cpu":{"period":10000,"quota":3000}}"#;
        // Lowering the period of a limited cgroup: the quota first (3000/1000000, not 500000/10000).
        assert_eq!(
            order(both, &host("500000", "1000000")),
            ["cpu.cfs_quota_us", "cpu.cfs_period_us"]
        );
        // Unlimited so far: the period first, then the limit.
        assert_eq!(
            order(both, &host("-1", "100000")),
            ["cpu.cfs_period_us", "cpu.cfs_quota_us"]
        );
        // Raising the period: the period first (1000/100000 rather than 200000/10000).
        let raise = r#"{"cpu":{"period":100000,"quota":20000}}"#;
        assert_eq!(
            order(raise, &host("1000", "10000")),
            ["cpu.cfs_period_us", "cpu.cfs_quota_us"]
        );
        // Lifting the limit: the quota first.
        let lift = r#"{"cpu":{"period":10000,"quota":-1}}"#;
        assert_eq!(
            order(lift, &host("50000", "100000")),
            ["cpu.cfs_quota_us", "cpu.cfs_period_us"]
        );
    }

    /// runc 1.5.1's update.bats "update rt period and runtime" (runc issue 4094): the runtime
    /// never exceeds the period, nor the pair the parent's share, between the two writes.
    #[test]
    fn v1_realtime_runtime_and_period_order_keeps_the_runtime_within_the_period() {
        let host = |rt: &str, per: &str| {
            let mut h = v1_host();
            h.files.insert("cpu.rt_runtime_us".into(), rt.into());
            h.files.insert("cpu.rt_period_us".into(), per.into());
            h
        };
        let plan = |j: &str, h: &FakeHost| {
            files(&plan_v1(&res(j), h).unwrap())
                .into_iter()
                .map(|(f, v)| format!("{f}={v}"))
                .collect::<Vec<_>>()
        };
        let lower = r#"{"cpu":{"realtimePeriod":10000,"realtimeRuntime":3000}}"#;
        assert_eq!(
            plan(lower, &host("600001", "900001")),
            ["cpu.rt_runtime_us=3000", "cpu.rt_period_us=10000"]
        );
        let raise = r#"{"cpu":{"realtimePeriod":100000,"realtimeRuntime":20000}}"#;
        assert_eq!(
            plan(raise, &host("3000", "10000")),
            ["cpu.rt_period_us=100000", "cpu.rt_runtime_us=20000"]
        );
        // One of the two: written alone.
        assert_eq!(
            plan(
                r#"{"cpu":{"realtimeRuntime":500001}}"#,
                &host("0", "1000000")
            ),
            ["cpu.rt_runtime_us=500001"]
        );
    }

    #[test]
    fn impossible_values_are_refused_on_both_versions() {
        for (j, msg) in [
            (
                r#"{"cpu":{"quota":-7}}"#,
                "linux.resources.cpu.quota: invalid value -7",
            ),
            (
                r#"{"cpu":{"shares":262145}}"#,
                "linux.resources.cpu.shares: invalid value 262145 (2..=262144)",
            ),
            (
                r#"{"cpu":{"idle":2}}"#,
                "linux.resources.cpu.idle: invalid value 2 (0 or 1)",
            ),
            (
                r#"{"cpu":{"realtimeRuntime":-5}}"#,
                "linux.resources.cpu.realtimeRuntime: invalid value -5",
            ),
        ] {
            assert_eq!(refused_alike(j), msg);
        }
    }
}
