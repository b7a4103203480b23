//! Value conversions between the runtime-spec's (v1-shaped) resource fields and cgroup v2 files.

use super::CgroupError;

/// cpu.shares (v1, 2..=262144) → cpu.weight (v2, 1..=10000).
///
/// We use the formula runc ≥ 1.3.2 and crun ≥ 1.23 switched to: a curve in log2(shares) chosen
/// so that the three anchor points match — 2 → 1, 1024 → 100, 262144 → 10000. The older linear
/// formula `1 + (shares-2)*9999/262142` maps the v1 default of 1024 to 39, so a container with
/// "default" shares got well under the v2 default weight of 100 that every other cgroup (systemd
/// units, pods) has; the new curve keeps the default a default, which is what users mean.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        // 0 means "unset" in the spec; callers skip it, this keeps the function total.
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    let w = 10f64.powf(exponent);
    // Floating error could push exact anchor values (100.0000001) over the next integer.
    let rounded = w.round();
    let w = if (w - rounded).abs() < 1e-6 {
        rounded
    } else {
        w.ceil()
    };
    (w as u64).clamp(1, 10_000)
}

/// blkio.weight (10..=1000) → io.weight (1..=10000), the linear mapping runc documents.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// v1's memory+swap total → v2's memory.swap.max (swap alone). `None`: leave swap alone.
/// Follows runc's rules: -1 is unlimited; swap without a memory limit is meaningless.
pub fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>, CgroupError> {
    let limit_v = limit.unwrap_or(0);
    match swap {
        None if limit == Some(-1) => Ok(Some("max".into())),
        None => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(0) => Ok(None),
        Some(s) if s < -1 => Err(CgroupError::field(
            "memory.swap",
            format!("invalid value {s}"),
        )),
        Some(s) => {
            if limit_v <= 0 {
                return Err(CgroupError::field(
                    "memory.swap",
                    "a swap limit needs a memory limit (memory.limit)",
                ));
            }
            if s < limit_v {
                return Err(CgroupError::field(
                    "memory.swap",
                    format!("memory+swap limit {s} must be >= the memory limit {limit_v}"),
                ));
            }
            Ok(Some((s - limit_v).to_string()))
        }
    }
}

/// A memory-like limit: -1 → unlimited (`max` on v2, `-1` on v1), other negatives rejected.
pub fn limit_value(field: &str, v: i64, v2: bool) -> Result<String, CgroupError> {
    match v {
        -1 => Ok(if v2 { "max".into() } else { "-1".into() }),
        v if v < 0 => Err(CgroupError::field(
            field,
            format!("invalid value {v} (only -1 may be negative)"),
        )),
        v => Ok(v.to_string()),
    }
}

/// v2's cpu.max line from quota and period (quota -1 or absent with a period → `max`).
pub fn cpu_max(
    quota: Option<i64>,
    period: Option<u64>,
    current: &str,
) -> Result<Option<String>, CgroupError> {
    if quota.is_none() && period.is_none() {
        return Ok(None);
    }
    let mut cur = current.split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur.next().unwrap_or("100000").to_string();
    let q = match quota {
        Some(-1) => "max".to_string(),
        Some(q) if q <= 0 => {
            return Err(CgroupError::field(
                "cpu.quota",
                format!("invalid value {q}"),
            ))
        }
        Some(q) => q.to_string(),
        None => cur_quota,
    };
    let p = match period {
        Some(0) => return Err(CgroupError::field("cpu.period", "invalid value 0")),
        Some(p) => p.to_string(),
        None => cur_period,
    };
    Ok(Some(format!("{q} {p}")))
}

/// Parses a cpuset list (`0-3,5`) into its members; a clear error naming `field` otherwise.
pub fn parse_cpu_list(field: &str, s: &str) -> Result<Vec<u32>, CgroupError> {
    let mut out = Vec::new();
    let bad = || CgroupError::field(field, format!("invalid list {s:?}"));
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u32>().map_err(|_| bad())?,
                b.trim().parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let v = part.trim().parse::<u32>().map_err(|_| bad())?;
                (v, v)
            }
        };
        if a > b || b - a > 65_536 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Checks that every member of `wanted` is in `available` (both cpuset lists).
pub fn check_subset(field: &str, wanted: &str, available: &str) -> Result<(), CgroupError> {
    let w = parse_cpu_list(field, wanted)?;
    let a = parse_cpu_list(field, available)?;
    if let Some(x) = w.iter().find(|x| !a.contains(x)) {
        return Err(CgroupError::field(
            field,
            format!(
                "{x} is not available on this machine (available: {})",
                available.trim()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_anchor_points() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1, "clamped below");
        assert_eq!(shares_to_weight(1_000_000), 10_000, "clamped above");
        // Monotonic.
        let mut last = 0;
        for s in (2..262_144).step_by(997) {
            let w = shares_to_weight(s);
            assert!(w >= last);
            last = w;
        }
        assert_eq!(shares_to_weight(512), 59);
    }

    #[test]
    fn blkio_weights() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
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
        assert!(swap_to_v2(Some(50), Some(100)).is_err());
        assert!(swap_to_v2(Some(50), None).is_err());
        assert!(swap_to_v2(Some(-5), Some(100)).is_err());
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(
            cpu_max(Some(50_000), None, "max 100000").unwrap(),
            Some("50000 100000".into())
        );
        assert_eq!(
            cpu_max(None, Some(20_000), "max 100000").unwrap(),
            Some("max 20000".into())
        );
        assert_eq!(
            cpu_max(Some(-1), Some(1000), "").unwrap(),
            Some("max 1000".into())
        );
        assert_eq!(cpu_max(None, None, "").unwrap(), None);
        assert!(cpu_max(Some(-7), None, "").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(
            parse_cpu_list("cpu.cpus", "0-2,5").unwrap(),
            vec![0, 1, 2, 5]
        );
        assert!(parse_cpu_list("cpu.cpus", "3-1").is_err());
        assert!(parse_cpu_list("cpu.cpus", "x").is_err());
        assert!(check_subset("cpu.cpus", "0", "0-1").is_ok());
        let e = check_subset("cpu.cpus", "7", "0-1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cpu.cpus") && e.contains('7'), "{e}");
        assert_eq!(limit_value("memory.limit", -1, true).unwrap(), "max");
        assert!(limit_value("memory.limit", -2, false).is_err());
    }
}
