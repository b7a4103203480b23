//! The hugetlb controller: `linux.resources.hugepageLimits`.

use super::{check_limit, limit_text, Planner};
use crate::CgroupError;
use oci_spec::runtime::{LinuxHugepageLimit, LinuxResources};

pub(super) fn plan(p: &mut Planner, r: &LinuxResources) -> Result<(), CgroupError> {
    for l in r.hugepage_limits().iter().flatten() {
        validate(l)?;
        let (lim, rsvd) = if p.v2 { v2(l) } else { v1(l) };
        write(p, l, lim, rsvd)?;
    }
    Ok(())
}

fn field(l: &LinuxHugepageLimit) -> String {
    format!("hugepageLimits[{}]", l.page_size())
}

/// The one validator: a page size that can be part of a file name, a limit >= -1.
fn validate(l: &LinuxHugepageLimit) -> Result<(), CgroupError> {
    let size = l.page_size();
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CgroupError::field(&field(l), "invalid page size"));
    }
    check_limit(&field(l), l.limit())
}

/// v1's limit and reservation-limit files.
fn v1(l: &LinuxHugepageLimit) -> (String, String) {
    let size = l.page_size();
    (
        format!("hugetlb.{size}.limit_in_bytes"),
        format!("hugetlb.{size}.rsvd.limit_in_bytes"),
    )
}

/// v2's limit and reservation-limit files.
fn v2(l: &LinuxHugepageLimit) -> (String, String) {
    let size = l.page_size();
    (
        format!("hugetlb.{size}.max"),
        format!("hugetlb.{size}.rsvd.max"),
    )
}

fn write(
    p: &mut Planner,
    l: &LinuxHugepageLimit,
    lim: String,
    rsvd: String,
) -> Result<(), CgroupError> {
    let field = field(l);
    let size = l.page_size();
    let v = limit_text(l.limit(), p.v2);
    if p.host.has_controller("hugetlb") && !p.host.exists("hugetlb", &lim) {
        return Err(CgroupError::field(
            &field,
            format!("page size {size} is not supported by this host"),
        ));
    }
    p.w("hugetlb", &lim, v.clone(), &field)?;
    // Reservation limits (kernel ≥ 5.7) also cap pages reserved but not yet faulted in; set
    // both so the limit holds whichever accounting the workload hits first.
    if p.host.exists("hugetlb", &rsvd) {
        p.w("hugetlb", &rsvd, v, &field)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::plan_v2;
    use super::super::testing::{files, res, v2_host};

    #[test]
    fn page_sizes() {
        let h = v2_host();
        let w = plan_v2(
            &res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#),
            &h,
        )
        .unwrap();
        assert_eq!(
            files(&w),
            vec![("hugetlb.2MB.max", "max"), ("hugetlb.2MB.rsvd.max", "max")]
        );
        let e = |j: &str| plan_v2(&res(j), &h).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"hugepageLimits":[{"pageSize":"1GB","limit":1}]}"#),
            "linux.resources.hugepageLimits[1GB]: page size 1GB is not supported by this host"
        );
        assert_eq!(
            e(r#"{"hugepageLimits":[{"pageSize":"../x","limit":1}]}"#),
            "linux.resources.hugepageLimits[../x]: invalid page size"
        );
        assert!(
            e(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-4}]}"#).contains("invalid value -4")
        );
    }
}
