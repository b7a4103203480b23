//! The pids controller: `linux.resources.pids`.

use super::Planner;
use crate::CgroupError;
use oci_spec::runtime::LinuxResources;

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(pids) = r.pids() else { return Ok(()) };
    let limit = pids.limit();
    validate(limit)?;
    let v = if p.v2 { v2(limit) } else { v1(limit) };
    p.w("pids", "pids.max", v, "pids.limit")
}

/// The one validator. runtime-spec 1.3: 0 is a real limit (no new process); -1 is unlimited.
/// 0 is written as 1, as runc 1.5 does for both its drivers (systemd's TasksMax cannot be 0):
/// the container's processes are already counted, so either value stops any new one.
fn validate(limit: i64) -> Result<(), CgroupError> {
    if limit < -1 {
        return Err(CgroupError::field(
            "pids.limit",
            format!("invalid value {limit}"),
        ));
    }
    Ok(())
}

/// v1's pids.max: `max` for unlimited, as on v2 (the pids controller never took -1).
fn v1(limit: i64) -> String {
    v2(limit)
}

fn v2(limit: i64) -> String {
    if limit == -1 {
        "max".into()
    } else if limit == 0 {
        "1".into()
    } else {
        limit.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{files, refused_alike, res, v1_host, v2_host};
    use super::super::{plan_v1, plan_v2};

    #[test]
    fn limits() {
        for (j, want) in [
            (r#"{"pids":{"limit":0}}"#, "1"),
            (r#"{"pids":{"limit":1}}"#, "1"),
            (r#"{"pids":{"limit":42}}"#, "42"),
            (r#"{"pids":{"limit":-1}}"#, "max"),
        ] {
            assert_eq!(
                files(&plan_v1(&res(j), &v1_host()).unwrap()),
                vec![("pids.max", want)]
            );
            assert_eq!(
                files(&plan_v2(&res(j), &v2_host()).unwrap()),
                vec![("pids.max", want)]
            );
        }
        assert_eq!(
            refused_alike(r#"{"pids":{"limit":-2}}"#),
            "linux.resources.pids.limit: invalid value -2"
        );
    }
}
