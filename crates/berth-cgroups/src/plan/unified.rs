//! `linux.resources.unified`: raw cgroup v2 interface files, refused on v1.

use super::Planner;
use crate::CgroupError;
use oci_spec::runtime::LinuxResources;

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(u) = r.unified() else { return Ok(()) };
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (k, v) in keys {
        validate(k)?;
        if p.v2 {
            v2(p, k, v)?;
        } else {
            v1(k)?;
        }
    }
    Ok(())
}

/// The one validator: a file name of the cgroup's own directory, and a resource (the core's
/// `cgroup.*` files are not, except the two depth/descendant limits).
fn validate(k: &str) -> Result<(), CgroupError> {
    let field = format!("unified.{k}");
    let ctrl = k.split_once('.').map(|(c, _)| c).unwrap_or("");
    if ctrl.is_empty() || k.contains('/') || k.starts_with('.') || k.contains("..") {
        return Err(CgroupError::field(
            &field,
            "not a cgroup interface file name",
        ));
    }
    if ctrl == "cgroup" && !matches!(k, "cgroup.max.depth" | "cgroup.max.descendants") {
        return Err(CgroupError::field(
            &field,
            "this cgroup core file is not a resource",
        ));
    }
    Ok(())
}

fn v1(k: &str) -> Result<(), CgroupError> {
    Err(CgroupError::field(
        &format!("unified.{k}"),
        "invalid configuration: unified keys need a cgroup v2 host",
    ))
}

fn v2(p: &mut Planner, k: &str, v: &str) -> Result<(), CgroupError> {
    let field = format!("unified.{k}");
    let ctrl = k.split_once('.').map(|(c, _)| c).unwrap_or("");
    if ctrl != "cgroup" && !p.host.has_controller(ctrl) {
        return Err(CgroupError::field(
            &field,
            format!("the {ctrl} controller is not enabled for this cgroup"),
        ));
    }
    if !p.host.exists(ctrl, k) {
        return Err(CgroupError::field(&field, "no such cgroup interface file"));
    }
    p.out.push(super::Write {
        ctrl: String::new(),
        file: k.to_string(),
        value: v.to_string(),
        field,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};

    #[test]
    fn refusals() {
        let e = |j: &str, v2: bool| {
            let r = res(j);
            if v2 {
                plan_v2(&r, &v2_host())
            } else {
                plan_v1(&r, &v1_host())
            }
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            e(r#"{"unified":{"memory.high":"1"}}"#, false),
            "linux.resources.unified.memory.high: invalid configuration: unified keys need a cgroup v2 host"
        );
        for v2 in [false, true] {
            assert_eq!(
                e(r#"{"unified":{"cgroup.procs":"1"}}"#, v2),
                "linux.resources.unified.cgroup.procs: this cgroup core file is not a resource"
            );
            assert_eq!(
                e(r#"{"unified":{"memory/../x.y":"1"}}"#, v2),
                "linux.resources.unified.memory/../x.y: not a cgroup interface file name"
            );
        }
    }
}
