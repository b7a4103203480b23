//! The network controllers: `linux.resources.network`, `net_cls` and `net_prio` on v1; v2 has
//! neither.

use super::{unsupported, Planner};
use crate::CgroupError;
use oci_spec::runtime::{LinuxNetwork, LinuxResources};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(n) = r.network() else { return Ok(()) };
    validate(n)?;
    if p.v2 {
        v2(n)
    } else {
        v1(p, n)
    }
}

/// The one validator: interface names that fit net_prio's `NAME PRIO` lines.
fn validate(n: &LinuxNetwork) -> Result<(), CgroupError> {
    for prio in n.priorities().iter().flatten() {
        if prio.name().is_empty() || prio.name().contains(char::is_whitespace) {
            return Err(CgroupError::field(
                "network.priorities",
                format!("invalid interface name {:?}", prio.name()),
            ));
        }
    }
    Ok(())
}

fn v1(p: &mut Planner, n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id() {
        p.w(
            "net_cls",
            "net_cls.classid",
            id.to_string(),
            "network.classID",
        )?;
    }
    for prio in n.priorities().iter().flatten() {
        p.w(
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", prio.name(), prio.priority()),
            "network.priorities",
        )?;
    }
    Ok(())
}

fn v2(n: &LinuxNetwork) -> Result<(), CgroupError> {
    if n.class_id().is_some() {
        return Err(unsupported(
            "network.classID",
            "v2 (use an eBPF/nftables cgroup match instead)",
        ));
    }
    if n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(unsupported("network.priorities", "v2"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};

    #[test]
    fn v1_files_v2_refusal() {
        let h = v1_host()
            .with("net_cls", "net_cls.classid")
            .with("net_prio", "net_prio.ifpriomap");
        let r =
            res(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}"#);
        assert_eq!(
            files(&plan_v1(&r, &h).unwrap()),
            vec![
                ("net_cls.classid", "1048577"),
                ("net_prio.ifpriomap", "eth0 5")
            ]
        );
        let e = plan_v2(&r, &v2_host()).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.network.classID: not supported on cgroup v2"),
            "{e}"
        );
        let bad = res(r#"{"network":{"priorities":[{"name":"a b","priority":1}]}}"#);
        assert!(plan_v1(&bad, &h)
            .unwrap_err()
            .to_string()
            .contains("invalid interface name"));
    }
}
