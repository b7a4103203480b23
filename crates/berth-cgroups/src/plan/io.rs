//! The block I/O controller: `linux.resources.blockIO`, `blkio` on v1 and `io` on v2.

use super::{check_dev, unsupported, Planner};
use crate::{convert, CgroupError};
use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else { return Ok(()) };
    validate(b)?;
    if p.v2 {
        v2(p, b)
    } else {
        v1(p, b)
    }
}

fn check_weight(w: u16, field: &str) -> Result<(), CgroupError> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(CgroupError::field(
            field,
            format!("invalid value {w} (10..=1000)"),
        ))
    }
}

/// A `weightDevice` entry's weight or leafWeight: 0 is "not set", as runc reads it (the crate's
/// `unset_zeros` clears the other zero weights).
fn dev_weight(w: Option<u16>) -> Option<u16> {
    w.filter(|w| *w != 0)
}

/// The four throttle lists with the v1 file, the v2 `io.max` key and the spec field of each.
fn throttles(b: &LinuxBlockIo) -> [(&Option<Vec<LinuxThrottleDevice>>, &str, &str, &str); 4] {
    [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "rbps",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "wbps",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "riops",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "wiops",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ]
}

/// The one validator of the blockIO fields, for both versions: weights in 10..=1000, device
/// numbers within dev_t.
fn validate(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight() {
        check_weight(w, "blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight() {
        check_weight(w, "blockIO.leafWeight")?;
    }
    for d in b.weight_device().iter().flatten() {
        check_dev(d.major(), d.minor(), "blockIO.weightDevice")?;
        if let Some(w) = dev_weight(d.weight()) {
            check_weight(w, "blockIO.weightDevice")?;
        }
        if let Some(w) = dev_weight(d.leaf_weight()) {
            check_weight(w, "blockIO.weightDevice.leafWeight")?;
        }
    }
    for (list, _, _, field) in throttles(b) {
        for t in list.iter().flatten() {
            check_dev(t.major(), t.minor(), field)?;
        }
    }
    Ok(())
}

fn v1(p: &mut Planner, b: &LinuxBlockIo) -> Result<(), CgroupError> {
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
        p.w("blkio", wfile, w.to_string(), "blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight() {
        p.w(
            "blkio",
            "blkio.leaf_weight",
            w.to_string(),
            "blockIO.leafWeight",
        )?;
    }
    for d in b.weight_device().iter().flatten() {
        let id = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = dev_weight(d.weight()) {
            p.w("blkio", wdfile, format!("{id} {w}"), "blockIO.weightDevice")?;
        }
        if let Some(w) = dev_weight(d.leaf_weight()) {
            p.w(
                "blkio",
                "blkio.leaf_weight_device",
                format!("{id} {w}"),
                "blockIO.weightDevice.leafWeight",
            )?;
        }
    }
    for (list, file, _, field) in throttles(b) {
        for t in list.iter().flatten() {
            let v = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            p.w("blkio", file, v, field)?;
        }
    }
    Ok(())
}

fn v2(p: &mut Planner, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = p.host.exists("io", "io.bfq.weight");
    let plain = p.host.exists("io", "io.weight");
    if let Some(w) = b.weight() {
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
        let id = format!("{}:{}", d.major(), d.minor());
        if dev_weight(d.leaf_weight()).is_some() {
            return Err(unsupported("blockIO.weightDevice.leafWeight", "v2"));
        }
        if let Some(w) = dev_weight(d.weight()) {
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
    for (list, _, key, field) in throttles(b) {
        for t in list.iter().flatten() {
            // 0 means "no limit" in v1's files; v2 spells it max.
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            let v = format!("{}:{} {key}={rate}", t.major(), t.minor());
            p.w("io", "io.max", v, field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, refused_alike, res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};

    #[test]
    fn weight_and_throttle_on_each_version() {
        let r = res(
            r#"{"blockIO":{"weight":10,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":0}]}}"#,
        );
        assert_eq!(
            files(&plan_v1(&r, &v1_host()).unwrap()),
            vec![
                ("blkio.bfq.weight", "10"),
                ("blkio.throttle.read_bps_device", "8:0 0")
            ]
        );
        assert_eq!(
            files(&plan_v2(&r, &v2_host()).unwrap()),
            vec![("io.weight", "1"), ("io.max", "8:0 rbps=max")]
        );
    }

    #[test]
    fn zero_weights_are_unset_as_runc_reads_them() {
        // dockerd writes weight 0 into every config.json; leafWeight 0 (refused on v2 when
        // set) and the per-device pair are "not set" alike.
        let r = res(
            r#"{"blockIO":{"weight":0,"leafWeight":0,"weightDevice":[{"major":8,"minor":0,"weight":0,"leafWeight":0}]}}"#,
        );
        assert!(files(&plan_v1(&r, &v1_host()).unwrap()).is_empty());
        assert!(files(&plan_v2(&r, &v2_host()).unwrap()).is_empty());
        let r = res(
            r#"{"blockIO":{"weight":0,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":5}]}}"#,
        );
        assert_eq!(
            files(&plan_v1(&r, &v1_host()).unwrap()),
            vec![("blkio.throttle.read_bps_device", "8:0 5")]
        );
    }

    #[test]
    fn impossible_values_are_refused_on_both_versions() {
        for (j, msg) in [
            (
                r#"{"blockIO":{"weight":1001}}"#,
                "linux.resources.blockIO.weight: invalid value 1001 (10..=1000)",
            ),
            (
                r#"{"blockIO":{"weightDevice":[{"major":8,"minor":-1,"weight":100}]}}"#,
                "linux.resources.blockIO.weightDevice: invalid device 8:-1",
            ),
            (
                r#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":4294967296,"minor":0,"rate":1}]}}"#,
                "linux.resources.blockIO.throttleWriteIOPSDevice: invalid device 4294967296:0",
            ),
        ] {
            assert_eq!(refused_alike(j), msg);
        }
    }
}
