//! process.ioPriority: the I/O scheduling class and level of the container process.

use super::error::SecurityError;
use berth_sys::security as sys;
use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority};

const FIELD: &str = "process.ioPriority";

/// IOPRIO_CLASS_SHIFT from include/uapi/linux/ioprio.h: the class sits above 13 bits of level.
const CLASS_SHIFT: u32 = 13;

fn class_number(class: IOPriorityClass) -> i32 {
    match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    }
}

pub(super) fn validate(p: &LinuxIOPriority) -> Result<(), SecurityError> {
    if !(0..=7).contains(&p.priority()) {
        return Err(SecurityError::invalid(
            format!("{FIELD}.priority"),
            format!("{} is outside 0..7", p.priority()),
        ));
    }
    Ok(())
}

/// The value ioprio_set(2) takes: IOPRIO_PRIO_VALUE(class, level).
fn encode(p: &LinuxIOPriority) -> Result<i32, SecurityError> {
    validate(p)?;
    Ok((class_number(p.class()) << CLASS_SHIFT) | p.priority() as i32)
}

pub(super) fn apply(p: &LinuxIOPriority) -> Result<(), SecurityError> {
    let value = encode(p)?;
    sys::ioprio_set(0, value).map_err(|e| SecurityError::syscall(FIELD, "ioprio_set", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::security::test_util::from_json as prio;

    #[test]
    fn encoding() {
        assert_eq!(
            encode(&prio(r#"{"class":"IOPRIO_CLASS_RT","priority":0}"#)).unwrap(),
            1 << 13
        );
        assert_eq!(
            encode(&prio(r#"{"class":"IOPRIO_CLASS_BE","priority":4}"#)).unwrap(),
            (2 << 13) | 4
        );
        assert_eq!(
            encode(&prio(r#"{"class":"IOPRIO_CLASS_IDLE","priority":7}"#)).unwrap(),
            (3 << 13) | 7
        );
    }

    #[test]
    fn range() {
        let e = validate(&prio(r#"{"class":"IOPRIO_CLASS_BE","priority":8}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.ioPriority.priority: 8 is outside 0..7"
        );
        assert!(validate(&prio(r#"{"class":"IOPRIO_CLASS_BE","priority":-1}"#)).is_err());
    }

    #[test]
    fn best_effort_low_priority_applies_unprivileged() {
        // Lowering our own I/O priority within best-effort never needs a capability.
        let before = sys::ioprio_get(0).unwrap();
        apply(&prio(r#"{"class":"IOPRIO_CLASS_BE","priority":7}"#)).unwrap();
        assert_eq!(sys::ioprio_get(0).unwrap(), (2 << 13) | 7);
        let _ = sys::ioprio_set(0, before);
    }
}
