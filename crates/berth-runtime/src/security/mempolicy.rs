//! linux.memoryPolicy: the NUMA memory policy (set_mempolicy(2)) of the container's processes.
//! The init sets it for itself and every exec'd process for itself, as runc does; the kernel
//! keeps it across execve and fork.

use super::error::SecurityError;
use crate::cpumask;
use berth_sys::process as sys;
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

const FIELD: &str = "linux.memoryPolicy";

/// MPOL_* from include/uapi/linux/mempolicy.h.
fn mode_number(mode: MemoryPolicyModeType) -> i32 {
    match mode {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    }
}

/// MPOL_F_* mode flags from include/uapi/linux/mempolicy.h.
fn flag_bit(flag: MemoryPolicyFlagType) -> i32 {
    match flag {
        MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
        MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
    }
}

/// (mode | flags, node mask) for set_mempolicy(2), after the checks set_mempolicy would make
/// less clearly: the node count each mode needs, and node numbers within runc's limit.
fn encode(p: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>), SecurityError> {
    let nodes = p.nodes().as_deref().unwrap_or("");
    let mask = cpumask::mask_of_list(nodes).map_err(|e| {
        SecurityError::invalid(
            format!("{FIELD}.nodes"),
            format!("invalid memory policy nodes {nodes:?}: {e}"),
        )
    })?;
    let n = cpumask::count(&mask);
    match p.mode() {
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal if n != 0 => {
            return Err(SecurityError::invalid(
                format!("{FIELD}.nodes"),
                format!(
                    "memory policy {}: mode requires 0 nodes but got {n}",
                    p.mode()
                ),
            ))
        }
        MemoryPolicyModeType::MpolBind
        | MemoryPolicyModeType::MpolInterleave
        | MemoryPolicyModeType::MpolPreferredMany
        | MemoryPolicyModeType::MpolWeightedInterleave
            if n == 0 =>
        {
            return Err(SecurityError::invalid(
                format!("{FIELD}.nodes"),
                format!(
                    "memory policy mode {} requires at least one node but got 0",
                    p.mode()
                ),
            ))
        }
        // MPOL_PREFERRED takes zero nodes (local allocation) or more.
        _ => {}
    }
    let flags = p
        .flags()
        .iter()
        .flatten()
        .fold(0, |acc, f| acc | flag_bit(*f));
    Ok((mode_number(p.mode()) | flags, mask))
}

pub(super) fn validate(p: &LinuxMemoryPolicy) -> Result<(), SecurityError> {
    encode(p).map(drop)
}

pub(super) fn apply(p: &LinuxMemoryPolicy) -> Result<(), SecurityError> {
    let (mode, mask) = encode(p)?;
    sys::set_mempolicy(mode, &mask).map_err(|e| SecurityError::syscall(FIELD, "set_mempolicy", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::test_util::from_json as mp;

    fn err(json: &str) -> String {
        validate(&mp(json)).unwrap_err().to_string()
    }

    #[test]
    fn modes_flags_and_nodes_encode() {
        assert_eq!(
            encode(&mp(r#"{"mode":"MPOL_INTERLEAVE","nodes":"0"}"#)).unwrap(),
            (3, vec![1])
        );
        assert_eq!(
            encode(&mp(
                r#"{"mode":"MPOL_BIND","nodes":"0,2","flags":["MPOL_F_STATIC_NODES"]}"#
            ))
            .unwrap(),
            (2 | 1 << 15, vec![0b101])
        );
        assert_eq!(
            encode(&mp(r#"{"mode":"MPOL_DEFAULT"}"#)).unwrap(),
            (0, vec![])
        );
        assert_eq!(
            encode(&mp(r#"{"mode":"MPOL_PREFERRED"}"#)).unwrap(),
            (1, vec![])
        );
    }

    #[test]
    fn node_counts_and_limits_are_checked() {
        assert_eq!(
            err(r#"{"mode":"MPOL_DEFAULT","nodes":"0-7"}"#),
            "linux.memoryPolicy.nodes: memory policy MPOL_DEFAULT: mode requires 0 nodes but got 8"
        );
        assert!(err(r#"{"mode":"MPOL_BIND","nodes":""}"#).contains("at least one node"));
        assert!(
            err(r#"{"mode":"MPOL_BIND","nodes":"0-9876543210","flags":[]}"#)
                .starts_with("linux.memoryPolicy.nodes: invalid memory policy nodes")
        );
        assert!(err(r#"{"mode":"MPOL_BIND","nodes":"1024"}"#)
            .ends_with("values larger than 1023 are not supported"));
    }
}
