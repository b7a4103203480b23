//! linux.personality: the execution domain (LINUX or LINUX32) of the container process.

use super::error::SecurityError;
use berth_sys::security as sys;
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

const FIELD: &str = "linux.personality";

/// PER_LINUX and PER_LINUX32 from include/uapi/linux/personality.h.
pub fn persona(domain: LinuxPersonalityDomain) -> u32 {
    match domain {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    }
}

/// The runtime-spec defines no personality flags yet; accepting unknown ones would silently
/// ignore them.
pub fn validate(p: &LinuxPersonality) -> Result<(), SecurityError> {
    match p.flags().as_deref() {
        Some([first, ..]) => Err(SecurityError::invalid(
            format!("{FIELD}.flags"),
            format!("unsupported flag {first:?} (the runtime-spec defines none)"),
        )),
        _ => Ok(()),
    }
}

pub fn apply(p: &LinuxPersonality) -> Result<(), SecurityError> {
    validate(p)?;
    sys::personality(persona(p.domain()))
        .map(|_| ())
        .map_err(|e| SecurityError::syscall(FIELD, "personality", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        assert_eq!(persona(p.domain()), 8);
        assert!(validate(&p).is_ok());
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX"}"#).unwrap();
        assert_eq!(persona(p.domain()), 0);
    }

    #[test]
    fn flags_are_refused() {
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain":"LINUX","flags":["ADDR_NO_RANDOMIZE"]}"#).unwrap();
        assert_eq!(
            validate(&p).unwrap_err().to_string(),
            "linux.personality.flags: unsupported flag \"ADDR_NO_RANDOMIZE\" (the runtime-spec defines none)"
        );
    }
}
