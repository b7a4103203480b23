//! process.oomScoreAdj, written by the runtime for the init's pid.

use super::error::SecurityError;

const FIELD: &str = "process.oomScoreAdj";

pub fn validate(value: i32) -> Result<(), SecurityError> {
    if !(-1000..=1000).contains(&value) {
        return Err(SecurityError::invalid(
            FIELD,
            format!("{value} is outside -1000..1000"),
        ));
    }
    Ok(())
}

pub fn set(pid: i32, value: i32) -> Result<(), SecurityError> {
    validate(value)?;
    if pid <= 0 {
        return Err(SecurityError::invalid(
            FIELD,
            format!("no process to apply it to (pid {pid})"),
        ));
    }
    let path = format!("/proc/{pid}/oom_score_adj");
    std::fs::write(&path, value.to_string())
        .map_err(|e| SecurityError::syscall(FIELD, format!("write {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        assert!(validate(-1000).is_ok());
        assert!(validate(1000).is_ok());
        assert!(validate(0).is_ok());
        assert_eq!(
            validate(1001).unwrap_err().to_string(),
            "process.oomScoreAdj: 1001 is outside -1000..1000"
        );
        assert!(validate(-1001).is_err());
    }

    #[test]
    fn raising_own_score_needs_no_privilege() {
        let me = std::process::id() as i32;
        let cur: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Writing the current value (or higher) is always allowed.
        set(me, cur).expect("write own oom_score_adj");
        assert!(set(0, 0).is_err());
    }
}
