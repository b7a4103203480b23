//! Cgroup management: one interface, a v1 and a v2 backend.
//!
//! The runtime core only talks to [`CgroupManager`]; which backend serves it is decided by
//! [`open_for_container`] from /proc/self/mountinfo. The placement is serialisable
//! ([`CgroupPlacement`]) so later commands (`delete`, `kill --all`, `pause`, ...) rebuild the same
//! manager from the container's state file.
//!
//! Layout: [`mountinfo`] detects the hierarchies, [`plan`] turns `linux.resources` into file
//! writes (pure, validated before anything is written), [`fs`] does the writes, [`v1`] and
//! [`v2`] are the backends, [`devices`] and [`bpf`] the device controller, [`stats`] the
//! `events` numbers.

pub mod bpf;
pub mod commands;
pub mod convert;
pub mod devices;
pub mod fs;
pub mod mountinfo;
pub mod plan;
pub mod stats;
pub mod v1;
pub mod v2;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// A `linux.resources` field that is invalid or that the host cannot honour.
    #[error("linux.resources.{field}: {msg}")]
    Field { field: String, msg: String },
}

impl CgroupError {
    pub fn io(path: &Path, source: std::io::Error) -> CgroupError {
        CgroupError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn field(field: &str, msg: impl Into<String>) -> CgroupError {
        CgroupError::Field {
            field: field.to_string(),
            msg: msg.into(),
        }
    }
}

/// Which backend a placement belongs to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    #[default]
    V1,
    V2,
}

/// Where a container's cgroups live; stored in the container's state so every later command
/// finds them again without re-reading config.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupPlacement {
    /// Absolute cgroup path inside each hierarchy (e.g. `/berth/ID`); for a relative
    /// `cgroupsPath` on v1 each hierarchy may differ, see `dirs`.
    pub path: PathBuf,
    #[serde(default)]
    pub version: CgroupVersion,
    /// The directory in each hierarchy: key is the v1 controller list (`cpu,cpuacct`,
    /// `name=systemd`) or `""` for the cgroup2 one (pure v2 or the hybrid unified mount).
    #[serde(default)]
    pub dirs: BTreeMap<String, PathBuf>,
}

/// What the core needs from a cgroup backend.
pub trait CgroupManager {
    /// Creates the cgroup (all hierarchies) and moves `pid` into it.
    fn apply(&self, pid: i32) -> Result<(), CgroupError>;
    /// Writes `linux.resources`. Validates everything first; on a failed write restores what it
    /// had already changed.
    fn set(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    /// Pids of every process in the container's cgroup.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Kills what is left and removes the cgroup directories; absent directories are not an error.
    fn destroy(&self) -> Result<(), CgroupError>;
    /// The placement to store in the container's state.
    fn placement(&self) -> CgroupPlacement;
    /// Freezes every process and waits until the kernel reports the cgroup frozen.
    fn freeze(&self) -> Result<(), CgroupError>;
    /// Thaws.
    fn thaw(&self) -> Result<(), CgroupError>;
    /// Is the cgroup frozen (status `paused`)?
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// Numbers for `events --stats`.
    fn stats(&self) -> Result<stats::Stats, CgroupError>;
    /// How many OOM kills the memory controller has counted (for `events` OOM notices).
    fn oom_kills(&self) -> Result<u64, CgroupError>;
    /// Does the cgroup exist at all (in its first hierarchy)?
    fn exists(&self) -> bool;
}

/// Resolves `linux.cgroupsPath` to a cgroup path for a hierarchy in which the caller sits at
/// `own`. Absolute paths are taken as they are; relative ones (and runc's default, the
/// container id, when empty) are relative to `own`.
pub fn resolve_path(
    cgroups_path: Option<&str>,
    id: &str,
    own: &str,
) -> Result<String, CgroupError> {
    let raw = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(id);
    if raw.contains(':') && !raw.starts_with('/') {
        return Err(CgroupError::Invalid(format!(
            "linux.cgroupsPath {raw:?} looks like a systemd slice:prefix:name path; use --systemd-cgroup (needs systemd)"
        )));
    }
    let joined = if raw.starts_with('/') {
        raw.to_string()
    } else {
        format!("{}/{raw}", own.trim_end_matches('/'))
    };
    // Normalise and refuse to climb out of the hierarchy.
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(CgroupError::Invalid(format!(
            "linux.cgroupsPath {raw:?} names the root cgroup"
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether systemd is the init of this host (it creates /run/systemd/system at boot).
pub fn systemd_is_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The resources to `set` at create: `linux.resources` with every `linux.devices` node added
/// to the device rules as an `rwm` allow (after the spec's own rules, as runc does), so a
/// device the config asks for is usable whatever the rules deny.
pub fn container_resources(spec: &oci_spec::runtime::Spec) -> LinuxResources {
    let linux = spec.linux().as_ref();
    let mut r = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let nodes = linux
        .and_then(|l| l.devices().as_ref())
        .filter(|d| !d.is_empty());
    if let Some(nodes) = nodes {
        let mut rules = r.devices().clone().unwrap_or_default();
        // FIFOs are not devices to the device controller.
        for d in nodes
            .iter()
            .filter(|d| d.typ() != oci_spec::runtime::LinuxDeviceType::P)
        {
            let mut rule = oci_spec::runtime::LinuxDeviceCgroup::default();
            rule.set_allow(true);
            rule.set_typ(Some(d.typ()));
            rule.set_major(Some(d.major()));
            rule.set_minor(Some(d.minor()));
            rule.set_access(Some("rwm".into()));
            rules.push(rule);
        }
        r.set_devices(Some(rules));
    }
    r
}

/// True when /sys/fs/cgroup itself is a cgroup2 mount (a unified-only host): runc's test too.
pub fn is_pure_v2_host() -> bool {
    use berth_sys::mount::{statfs_type, CGROUP2_SUPER_MAGIC};
    statfs_type("/sys/fs/cgroup").is_ok_and(|t| t == CGROUP2_SUPER_MAGIC)
}

/// Opens (does not yet create) the container's cgroups. Called once by `create`.
pub fn open_for_container(
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    if systemd {
        if !systemd_is_running() {
            return Err(CgroupError::Invalid(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver".into(),
            ));
        }
        return Err(CgroupError::Invalid("--systemd-cgroup: the systemd cgroup driver is not implemented; use the default cgroupfs driver".into()));
    }
    let own = mountinfo::own_cgroups()?;
    match mountinfo::detect()? {
        mountinfo::Layout::V2 { unified } => Ok(Box::new(v2::V2Manager::open(
            &unified,
            &own,
            cgroups_path,
            id,
        )?)),
        mountinfo::Layout::V1 { hierarchies } => Ok(Box::new(v1::V1Manager::open(
            &hierarchies,
            None,
            &own,
            cgroups_path,
            id,
        )?)),
        mountinfo::Layout::Hybrid {
            hierarchies,
            unified,
        } => Ok(Box::new(v1::V1Manager::open(
            &hierarchies,
            Some(&unified),
            &own,
            cgroups_path,
            id,
        )?)),
    }
}

/// Rebuilds the manager of an existing container from its stored placement.
pub fn from_placement(p: &CgroupPlacement) -> Result<Box<dyn CgroupManager>, CgroupError> {
    if p.dirs.is_empty() {
        return Err(CgroupError::Invalid(format!(
            "cgroup placement of {} has no directories",
            p.path.display()
        )));
    }
    match p.version {
        CgroupVersion::V2 => Ok(Box::new(v2::V2Manager::from_placement(p)?)),
        CgroupVersion::V1 => Ok(Box::new(v1::V1Manager::from_placement(p)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(resolve_path(Some("/a/b"), "id", "/own").unwrap(), "/a/b");
        assert_eq!(resolve_path(Some("x/y"), "id", "/own").unwrap(), "/own/x/y");
        assert_eq!(resolve_path(None, "id", "/").unwrap(), "/id");
        assert_eq!(resolve_path(Some(""), "id", "/p/q/").unwrap(), "/p/q/id");
        assert_eq!(resolve_path(Some("/a/../../b"), "id", "/").unwrap(), "/b");
        assert!(resolve_path(Some("/"), "id", "/").is_err());
        assert!(resolve_path(Some("system.slice:berth:id"), "id", "/").is_err());
    }

    #[test]
    fn linux_devices_become_allow_rules() {
        let spec: oci_spec::runtime::Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229},{"path":"/dev/f","type":"p"}],"resources":{"devices":[{"allow":false,"access":"rwm"}]}}}"#,
        )
        .unwrap();
        let r = container_resources(&spec);
        let rules = devices::effective_rules(r.devices().as_deref().unwrap_or_default()).unwrap();
        let prog = devices::program(&rules);
        assert!(rules
            .iter()
            .any(|x| x.allow && x.major == Some(10) && x.minor == Some(229)));
        assert!(!prog.is_empty());
        let empty: oci_spec::runtime::Spec =
            serde_json::from_str(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#).unwrap();
        assert!(container_resources(&empty).devices().is_none());
    }

    #[test]
    fn placement_roundtrip() {
        let mut dirs = BTreeMap::new();
        dirs.insert(
            "memory".to_string(),
            PathBuf::from("/sys/fs/cgroup/memory/x"),
        );
        let p = CgroupPlacement {
            path: "/x".into(),
            version: CgroupVersion::V1,
            dirs,
        };
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<CgroupPlacement>(&s).unwrap(), p);
        // Old states with only a path still parse.
        let old: CgroupPlacement = serde_json::from_str(r#"{"path":"/x"}"#).unwrap();
        assert!(old.dirs.is_empty());
        assert!(from_placement(&old).is_err());
    }
}
