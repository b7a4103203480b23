//! The memory controller: `linux.resources.memory`.

use super::{check_limit, limit_text, unsupported, Planner};
use crate::CgroupError;
use oci_spec::runtime::{LinuxMemory, LinuxResources};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = r.memory() else { return Ok(()) };
    validate(p, m)?;
    if p.v2 {
        v2(p, m)
    } else {
        v1(p, m)
    }
}

/// The one validator of the memory fields, for both versions.
fn validate(p: &Planner, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(true) = m.check_before_update() {
        if let Some(l) = m.limit().filter(|l| *l > 0) {
            let file = if p.v2 {
                "memory.current"
            } else {
                "memory.usage_in_bytes"
            };
            let usage = p
                .host
                .read("memory", file)
                .and_then(|s| s.trim().parse::<i64>().ok());
            if let Some(u) = usage.filter(|u| *u > l) {
                return Err(CgroupError::field(
                    "memory.limit",
                    format!("{l} is below the current usage {u} (checkBeforeUpdate)"),
                ));
            }
        }
    }
    #[allow(deprecated)]
    let kernel = m.kernel();
    for (v, field) in [
        (m.limit(), "memory.limit"),
        (m.swap(), "memory.swap"),
        (m.reservation(), "memory.reservation"),
        (kernel, "memory.kernel"),
        (m.kernel_tcp(), "memory.kernelTCP"),
    ] {
        if let Some(v) = v {
            check_limit(field, v)?;
        }
    }
    // The spec's swap is v1's memory+swap total: it cannot be below the memory limit.
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if l > 0 && s > 0 && s < l {
            return Err(CgroupError::field(
                "memory.swap",
                format!("memory+swap limit {s} must be >= the memory limit {l}"),
            ));
        }
    }
    if let Some(s) = m.swappiness().filter(|s| *s > 100) {
        return Err(CgroupError::field(
            "memory.swappiness",
            format!("invalid value {s} (0..=100)"),
        ));
    }
    Ok(())
}

fn v1(p: &mut Planner, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().map(|v| limit_text(v, false));
    let mut swap = m.swap().map(|v| limit_text(v, false));
    // Unlimited memory with swap unset means both unlimited (as runc does), else the kernel
    // refuses memory > memsw.
    if m.limit() == Some(-1)
        && swap.is_none()
        && p.host.exists("memory", "memory.memsw.limit_in_bytes")
    {
        swap = Some("-1".into());
    }
    // The kernel checks memory <= memsw at each write: raise memsw first when growing.
    let cur_memsw = p
        .host
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
        p.w(
            "memory",
            "memory.soft_limit_in_bytes",
            limit_text(v, false),
            "memory.reservation",
        )?;
    }
    #[allow(deprecated)]
    if let Some(v) = m.kernel() {
        p.w(
            "memory",
            "memory.kmem.limit_in_bytes",
            limit_text(v, false),
            "memory.kernel",
        )?;
    }
    if let Some(v) = m.kernel_tcp() {
        p.w(
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            limit_text(v, false),
            "memory.kernelTCP",
        )?;
    }
    if let Some(s) = m.swappiness() {
        p.w(
            "memory",
            "memory.swappiness",
            s.to_string(),
            "memory.swappiness",
        )?;
    }
    for (flag, file, field) in [
        (
            m.disable_oom_killer(),
            "memory.oom_control",
            "memory.disableOOMKiller",
        ),
        (
            m.use_hierarchy(),
            "memory.use_hierarchy",
            "memory.useHierarchy",
        ),
    ] {
        if let Some(on) = flag {
            p.w("memory", file, if on { "1" } else { "0" }, field)?;
        }
    }
    Ok(())
}

/// v1's memory+swap total → v2's memory.swap.max (swap alone). `None`: leave swap alone.
/// Follows runc's rules: -1 is unlimited; swap without a memory limit is meaningless. The
/// values were validated (both >= -1, swap >= limit).
fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>, CgroupError> {
    let limit_v = limit.unwrap_or(0);
    match swap {
        None if limit == Some(-1) => Ok(Some("max".into())),
        None | Some(0) => Ok(None),
        Some(s) if s < 0 => Ok(Some("max".into())),
        Some(_) if limit_v <= 0 => Err(CgroupError::field(
            "memory.swap",
            "a swap limit needs a memory limit (memory.limit)",
        )),
        Some(s) => Ok(Some(s.saturating_sub(limit_v).to_string())),
    }
}

fn v2(p: &mut Planner, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(s) = swap_to_v2(m.swap(), m.limit())? {
        p.w("memory", "memory.swap.max", s, "memory.swap")?;
    }
    if let Some(l) = m.limit() {
        p.w("memory", "memory.max", limit_text(l, true), "memory.limit")?;
    }
    if let Some(v) = m.reservation() {
        p.w(
            "memory",
            "memory.low",
            limit_text(v, true),
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, refused_alike, res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};
    use super::swap_to_v2;

    #[test]
    fn one_limit_two_mappings() {
        let r = res(r#"{"memory":{"limit":1048576}}"#);
        let w1 = plan_v1(&r, &v1_host()).unwrap();
        let w2 = plan_v2(&r, &v2_host()).unwrap();
        assert_eq!(files(&w1), vec![("memory.limit_in_bytes", "1048576")]);
        assert_eq!(w1[0].ctrl, "memory");
        assert_eq!(files(&w2), vec![("memory.max", "1048576")]);
        assert_eq!(w2[0].ctrl, "", "v2 writes name no hierarchy");
        // Unlimited: -1 on v1 (memsw too, raised first), max on v2 (swap too).
        let r = res(r#"{"memory":{"limit":-1}}"#);
        assert_eq!(
            files(&plan_v2(&r, &v2_host()).unwrap()),
            vec![("memory.swap.max", "max"), ("memory.max", "max")]
        );
    }

    #[test]
    fn impossible_values_are_refused_on_both_versions_naming_the_field() {
        for (j, field) in [
            (r#"{"memory":{"limit":-2}}"#, "memory.limit"),
            (r#"{"memory":{"limit":100,"swap":-3}}"#, "memory.swap"),
            (r#"{"memory":{"reservation":-9}}"#, "memory.reservation"),
            (r#"{"memory":{"limit":2000,"swap":1000}}"#, "memory.swap"),
            (r#"{"memory":{"swappiness":101}}"#, "memory.swappiness"),
        ] {
            let e = refused_alike(j);
            assert!(e.starts_with(&format!("linux.resources.{field}: ")), "{e}");
        }
        let e = plan_v1(&res(r#"{"memory":{"limit":-2}}"#), &v1_host()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.limit: invalid value -2 (only -1 may be negative)"
        );
    }

    #[test]
    fn check_before_update_reads_the_versions_usage_file() {
        // v1_host's usage is 1000, v2_host's current 0.
        let r = res(r#"{"memory":{"limit":500,"checkBeforeUpdate":true}}"#);
        let e = plan_v1(&r, &v1_host()).unwrap_err().to_string();
        assert!(e.contains("below the current usage 1000"), "{e}");
        assert!(plan_v2(&r, &v2_host()).is_ok());
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(Some(-1), Some(100)).unwrap(), Some("max".into()));
        assert_eq!(swap_to_v2(None, Some(-1)).unwrap(), Some("max".into()));
        assert_eq!(
            swap_to_v2(Some(300), Some(100)).unwrap(),
            Some("200".into())
        );
        assert_eq!(swap_to_v2(None, Some(100)).unwrap(), None);
        assert!(swap_to_v2(Some(50), None).is_err());
        let e = plan_v2(&res(r#"{"memory":{"swap":50}}"#), &v2_host()).unwrap_err();
        assert!(e.to_string().contains("needs a memory limit"), "{e}");
    }
}
