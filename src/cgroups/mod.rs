//! Cgroup management: one interface, a v1 and a v2 backend.
//!
//! The runtime core only talks to [`CgroupManager`]; which backend serves it is decided by
//! [`open_for_container`] from /proc/self/mountinfo. The placement is serialisable
//! ([`CgroupPlacement`]) so later commands (`delete`, `kill --all`, `pause`, ...) rebuild the same
//! manager from the container's state file.

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors of the cgroup layer; every variant names the file or field involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Where a container's cgroups live; stored in the container's state so every later command
/// finds them again without re-reading config.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupPlacement {
    /// Absolute cgroup path inside each hierarchy (e.g. `/berth/ID`).
    pub path: PathBuf,
}

/// What the core needs from a cgroup backend.
pub trait CgroupManager {
    /// Creates the cgroup (all hierarchies) and moves `pid` into it.
    fn apply(&self, pid: i32) -> Result<(), CgroupError>;
    /// Writes `linux.resources`.
    fn set(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    /// Pids of every process in the container's cgroup.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Kills what is left and removes the cgroup directories; absent directories are not an error.
    fn destroy(&self) -> Result<(), CgroupError>;
    /// The placement to store in the container's state.
    fn placement(&self) -> CgroupPlacement;
}

/// Interim placement-free manager on main until the cgroup work lands.
struct Unplaced;

impl CgroupManager for Unplaced {
    fn apply(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }
    fn set(&self, _resources: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }
    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(Vec::new())
    }
    fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn placement(&self) -> CgroupPlacement {
        CgroupPlacement {
            path: PathBuf::new(),
        }
    }
}

pub fn open_for_container(
    _cgroups_path: Option<&str>,
    _id: &str,
    _systemd: bool,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    Ok(Box::new(Unplaced))
}

pub fn from_placement(_p: &CgroupPlacement) -> Result<Box<dyn CgroupManager>, CgroupError> {
    Ok(Box::new(Unplaced))
}
