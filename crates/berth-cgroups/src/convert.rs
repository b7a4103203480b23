//! Value conversions between the runtime-spec's (v1-shaped) resource fields and cgroup v2 files,
//! and the cpuset list syntax.

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
pub(crate) fn check_subset(field: &str, wanted: &str, available: &str) -> Result<(), CgroupError> {
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
    }
}
