//! process.user.umask: the file mode creation mask the container process starts with.

use super::error::SecurityError;

/// What runc uses when the spec gives none (the runtime's own umask must not leak in).
const DEFAULT_UMASK: u32 = 0o022;

pub fn validate(umask: Option<u32>) -> Result<(), SecurityError> {
    match umask {
        Some(m) if m > 0o777 => Err(SecurityError::invalid(
            "process.user.umask",
            format!("{m:#o} has bits outside 0777"),
        )),
        _ => Ok(()),
    }
}

/// umask(2) cannot fail.
pub fn apply(umask: Option<u32>) {
    let m = umask.unwrap_or(DEFAULT_UMASK) & 0o777;
    berth_sys::path::umask(m);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        assert!(validate(None).is_ok());
        assert!(validate(Some(0o077)).is_ok());
        assert!(validate(Some(0o777)).is_ok());
        assert_eq!(
            validate(Some(0o1000)).unwrap_err().to_string(),
            "process.user.umask: 0o1000 has bits outside 0777"
        );
    }
}
