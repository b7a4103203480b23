//! The rdma controller: `linux.resources.rdma`. v1 and v2 use the same `rdma.max` lines.

use super::Planner;
use crate::CgroupError;
use oci_spec::runtime::{LinuxRdma, LinuxResources};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let mut devs: Vec<_> = r.rdma().iter().flat_map(|m| m.iter()).collect();
    // A map in the spec: a fixed order keeps plans reproducible.
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devs {
        validate(dev)?;
        let line = if p.v2 { v2(dev, l) } else { v1(dev, l) };
        if let Some(line) = line {
            p.w("rdma", "rdma.max", line, &format!("rdma.{dev}"))?;
        }
    }
    Ok(())
}

/// The one validator: a device name that fits an `rdma.max` line.
fn validate(dev: &str) -> Result<(), CgroupError> {
    if dev.is_empty() || dev.contains(char::is_whitespace) {
        return Err(CgroupError::field(
            &format!("rdma.{dev}"),
            "invalid device name",
        ));
    }
    Ok(())
}

/// The `rdma.max` line; `None` when the entry sets no limit.
fn v1(dev: &str, l: &LinuxRdma) -> Option<String> {
    let mut line = dev.to_string();
    if let Some(h) = l.hca_handles() {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects() {
        line.push_str(&format!(" hca_object={o}"));
    }
    (line != dev).then_some(line)
}

/// The same line as v1.
fn v2(dev: &str, l: &LinuxRdma) -> Option<String> {
    v1(dev, l)
}

#[cfg(test)]
mod tests {
    use super::super::plan_v2;
    use super::super::testing::{files, res, v2_host};

    #[test]
    fn lines() {
        let h = v2_host().with("rdma", "rdma.max");
        let r = res(
            r#"{"rdma":{"mlx5_1":{"hcaHandles":3},"mlx5_0":{"hcaHandles":2,"hcaObjects":9},"x":{}}}"#,
        );
        assert_eq!(
            files(&plan_v2(&r, &h).unwrap()),
            vec![
                ("rdma.max", "mlx5_0 hca_handle=2 hca_object=9"),
                ("rdma.max", "mlx5_1 hca_handle=3"),
            ]
        );
        let e = plan_v2(&res(r#"{"rdma":{"a b":{"hcaHandles":1}}}"#), &h).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.rdma.a b: invalid device name"
        );
    }
}
