//! The cpuset controller: `linux.resources.cpu.cpus` and `.mems`. Both versions name the files
//! alike (`cpuset.cpus`, `cpuset.mems`).

use super::{Host, Online, Planner};
use crate::{convert, CgroupError};
use oci_spec::runtime::LinuxResources;

/// The fields this controller serves, with their spec field, file and the host set that bounds them.
fn fields(r: &LinuxResources) -> [(Option<&str>, &'static str, &'static str, Online); 2] {
    let c = r.cpu().as_ref();
    [
        (
            c.and_then(|c| c.cpus().as_deref()),
            "cpu.cpus",
            "cpuset.cpus",
            Online::Cpus,
        ),
        (
            c.and_then(|c| c.mems().as_deref()),
            "cpu.mems",
            "cpuset.mems",
            Online::Mems,
        ),
    ]
}

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    validate(p.host, r)?;
    if p.v2 {
        v2(p, r)
    } else {
        v1(p, r)
    }
}

/// The one validator: a well-formed list, within what the machine has online. "Outside the
/// machine" is judged against what is online, not against the cgroup's current effective set
/// (that would forbid widening a narrowed cpuset again).
fn validate(host: &dyn Host, r: &LinuxResources) -> Result<(), CgroupError> {
    for (val, field, _, set) in fields(r) {
        let Some(v) = val.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let online = host.online(set);
        if online.trim().is_empty() {
            convert::parse_cpu_list(field, v)?;
        } else {
            convert::check_subset(field, v, &online)?;
        }
    }
    Ok(())
}

fn v1(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    for (val, field, file, _) in fields(r) {
        if let Some(v) = val.filter(|v| !v.trim().is_empty()) {
            p.w("cpuset", file, v, field)?;
        }
    }
    Ok(())
}

fn v2(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    // Same files and values as v1; only the hierarchy differs, which `Planner::w` handles.
    v1(p, r)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};

    #[test]
    fn judged_against_the_hosts_online_set() {
        // The fake host has CPUs 0-1 and node 0 online.
        let r = res(r#"{"cpu":{"cpus":"1","mems":"0"}}"#);
        let want = vec![("cpuset.cpus", "1"), ("cpuset.mems", "0")];
        assert_eq!(files(&plan_v1(&r, &v1_host()).unwrap()), want);
        assert_eq!(files(&plan_v2(&r, &v2_host()).unwrap()), want);
        let e = plan_v2(&res(r#"{"cpu":{"cpus":"0-2"}}"#), &v2_host())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.resources.cpu.cpus: 2 is not available on this machine (available: 0-1)"
        );
        let e = plan_v1(&res(r#"{"cpu":{"mems":"1"}}"#), &v1_host())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.cpu.mems: 1 is not available"),
            "{e}"
        );
        let e = plan_v1(&res(r#"{"cpu":{"cpus":"3-1"}}"#), &v1_host()).unwrap_err();
        assert!(e.to_string().contains("invalid list"), "{e}");
    }
}
