//! cgroup v1, hybrid and v2 management for OCI containers: where a container's cgroup goes,
//! its `linux.resources` (validated against the host before anything is written), the device
//! filter, freezing, stats, and removal.
//!
//! # What to call
//!
//! 1. [`open_for_container`] with the spec's `linux.cgroupsPath` and the container id: detects
//!    the host's layout and returns a [`CgroupManager`] (nothing is created yet).
//! 2. [`CgroupManager::apply`] creates the cgroup and moves a process into it;
//!    [`CgroupManager::set`] applies a `linux.resources` block ([`container_resources`] gives
//!    the one a container is created with: the spec's resources plus its `linux.devices`).
//! 3. Store [`CgroupManager::placement`] (serialisable) with the container; later commands get
//!    the same manager back with [`from_placement`] for `pids`, `freeze`/`thaw`, `stats`,
//!    `set` (an update), and [`CgroupManager::destroy`].
//!
//! Errors are [`CgroupError`]s: the message names the field, file or setting, the OS error is
//! the [`source`](std::error::Error::source) ([`CgroupError::io_error`] gives its errno).
//! [`systemd_is_running`] is the one check for a running systemd. [`mountinfo`] holds the layout
//! detection, [`stats`] the numbers, [`convert`] the value conversions (shares → weight, cpuset
//! lists).
//!
//! Inside: `plan` turns `linux.resources` into file writes (one module per controller, the
//! host seen through a `Host` trait), `fs` does the writes (restoring the old values when one
//! fails), `v1` and `v2` are the backends, `devices` and [`bpf`] the device controller.
//!
//! ```no_run
//! use berth_cgroups::{open_for_container, CgroupManager};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cg = open_for_container(None, "my-container", false)?;
//! cg.apply(std::process::id() as i32)?;
//! let resources = serde_json::from_str(r#"{"pids":{"limit":64}}"#)?;
//! cg.set(&resources)?;
//! println!("{} processes", cg.stats()?.pids.current);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod bpf;
pub mod convert;
mod devices;
mod fs;
pub mod mountinfo;
mod plan;
pub mod stats;
mod v1;
mod v2;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors of the cgroup layer. Each message names the field, file or setting involved; an
/// underlying OS error is kept as the [`source`](std::error::Error::source), not repeated in
/// the message, so printing the chain (`msg: cause`) shows each part once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A cgroupfs (or /proc) file or directory could not be read, written, created or removed.
    #[error("cgroup {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error (its errno tells EBUSY, ENOENT, ... apart).
        #[source]
        source: std::io::Error,
    },
    /// A `linux.resources` field that is invalid or that the host cannot honour.
    #[error("linux.resources.{field}: {msg}")]
    Field {
        /// The field below `linux.resources`, e.g. `memory.limit`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// The kernel refused a value of a `linux.resources` field when it was written.
    #[error("linux.resources.{field}: writing {value:?} to {path}")]
    Write {
        /// The field below `linux.resources` the value comes from.
        field: String,
        /// The value written.
        value: String,
        /// The cgroup file.
        path: PathBuf,
        /// The OS error of the write.
        #[source]
        source: std::io::Error,
    },
    /// The device filter (a cgroup v2 eBPF program) could not be loaded or attached.
    #[error("linux.resources.devices: {op}")]
    DeviceFilter {
        /// What was being done, and on which cgroup.
        op: String,
        /// The OS error of the bpf(2) call.
        #[source]
        source: std::io::Error,
    },
    /// `linux.cgroupsPath` does not name a usable cgroup.
    #[error("linux.cgroupsPath {path:?} {reason}")]
    CgroupsPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The container's cgroup lies outside the part of a hierarchy mounted here.
    #[error("cgroup {path} is outside the part of the hierarchy mounted at {mount}")]
    OutsideMount {
        /// The cgroup path.
        path: String,
        /// The hierarchy's mount point.
        mount: PathBuf,
    },
    /// No usable cgroup hierarchy (none mounted, or none in a placement).
    #[error("{0}")]
    NoHierarchy(&'static str),
    /// A stored placement that names no directory to use.
    #[error("cgroup placement of {path} {reason}")]
    Placement {
        /// The placement's cgroup path.
        path: PathBuf,
        /// What it lacks.
        reason: &'static str,
    },
    /// A controller the operation needs is not mounted for this cgroup.
    #[error("the {0} controller is not mounted")]
    NoController(&'static str),
    /// The cgroup directory does not exist.
    #[error("cgroup {0} does not exist")]
    Missing(PathBuf),
    /// The freezer did not report the cgroup frozen in time (it was thawed again).
    #[error("{0}: the cgroup did not freeze")]
    NotFrozen(PathBuf),
    /// The systemd cgroup driver was asked for; see [`systemd_is_running`].
    #[error("systemd cgroup driver: {0}")]
    Systemd(&'static str),
    /// A sub-cgroup path (`exec --cgroup`) that leads out of the container's cgroup. Worded so
    /// that it holds both runc 1.5's (`bad sub cgroup path: ..`) and runc 1.1's
    /// (`.. is not a sub cgroup path`) messages, which their bats suites look for.
    #[error("bad sub cgroup path: {0} is not a sub cgroup path of the container's cgroup")]
    NotSubCgroup(String),
    /// A controller (`exec --cgroup CTRL:path`) the container has no cgroup for.
    #[error("unknown controller {0}")]
    UnknownController(String),
    /// A process could not be moved into a cgroup.
    #[error("adding pid {pid} to {path}")]
    AddPid {
        /// The process.
        pid: i32,
        /// The `cgroup.procs` file written.
        path: PathBuf,
        /// The OS error of the write (ENOENT: no such sub-cgroup).
        #[source]
        source: std::io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> CgroupError {
        CgroupError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn field(field: &str, msg: impl Into<String>) -> CgroupError {
        CgroupError::Field {
            field: field.to_string(),
            msg: msg.into(),
        }
    }

    /// The OS error behind this one, if there is one: match its
    /// [`raw_os_error`](std::io::Error::raw_os_error) (EBUSY, ENOENT, ...).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            CgroupError::Io { source, .. }
            | CgroupError::AddPid { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::DeviceFilter { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Which backend a placement belongs to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// cgroup v1 (also on hybrid hosts, where the unified mount has no controllers).
    #[default]
    V1,
    /// cgroup v2, the unified hierarchy only.
    V2,
}

/// Where a container's cgroups live; stored in the container's state so every later command
/// finds them again without re-reading config.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupPlacement {
    /// Absolute cgroup path inside each hierarchy (e.g. `/berth/ID`); for a relative
    /// `cgroupsPath` on v1 each hierarchy may differ, see `dirs`.
    pub path: PathBuf,
    /// Which backend manages it.
    #[serde(default)]
    pub version: CgroupVersion,
    /// The directory in each hierarchy: key is the v1 controller list (`cpu,cpuacct`,
    /// `name=systemd`) or `""` for the cgroup2 one (pure v2 or the hybrid unified mount).
    #[serde(default)]
    pub dirs: BTreeMap<String, PathBuf>,
}

/// Where `exec --cgroup` puts a process, below the container's cgroup: key `""` is a sub-path
/// for every hierarchy (the only form on cgroup v2), any other key a v1 controller (`memory`,
/// `cpu`) whose hierarchy gets that sub-path. See [`CgroupManager::enter_sub`].
pub type SubCgroups = BTreeMap<String, String>;

/// `dir` joined with the sub-cgroup path `sub`, refused when it leads out of `dir`. `/` and the
/// empty path are `dir` itself.
pub(crate) fn sub_dir(dir: &Path, sub: &str) -> Result<PathBuf, CgroupError> {
    let mut parts: Vec<&str> = Vec::new();
    for c in sub.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(CgroupError::NotSubCgroup(sub.to_string()));
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.iter().fold(dir.to_path_buf(), |d, c| d.join(c)))
}

/// Writes `pid` into `dir`'s cgroup.procs (the directory must exist: a sub-cgroup is not made).
pub(crate) fn add_pid(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.procs");
    std::fs::write(&path, pid.to_string()).map_err(|source| CgroupError::AddPid {
        pid,
        path,
        source,
    })
}

/// What the core needs from a cgroup backend.
pub trait CgroupManager {
    /// Creates the cgroup (all hierarchies) and moves `pid` into it.
    fn apply(&self, pid: i32) -> Result<(), CgroupError>;
    /// Moves `pid` into the cgroup [`apply`](Self::apply) made already (with pid 0, before
    /// the process existed): only the writes to `cgroup.procs`, none of apply's setting up.
    fn join(&self, pid: i32) -> Result<(), CgroupError>;
    /// Moves `pid` (an exec'd process) into existing sub-cgroups of the container's cgroup
    /// (`exec --cgroup`); hierarchies `sub` does not name get the container's cgroup itself.
    fn enter_sub(&self, pid: i32, sub: &SubCgroups) -> Result<(), CgroupError>;
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
pub(crate) fn resolve_path(
    cgroups_path: Option<&str>,
    id: &str,
    own: &str,
) -> Result<String, CgroupError> {
    let raw = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(id);
    if raw.contains(':') && !raw.starts_with('/') {
        return Err(CgroupError::CgroupsPath {
            path: raw.to_string(),
            reason:
                "looks like a systemd slice:prefix:name path; use --systemd-cgroup (needs systemd)",
        });
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
        return Err(CgroupError::CgroupsPath {
            path: raw.to_string(),
            reason: "names the root cgroup",
        });
    }
    Ok(format!("/{}", parts.join("/")))
}

/// THE check for a running systemd (as runc and sd_booted(3) do it: `/run/systemd/system` is a
/// directory). Everything in berth that needs to know asks this function.
pub fn systemd_is_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The resources to `set` at create: `linux.resources` as it is. A `linux.devices` node is
/// not allowed by that alone: as in runc, only `linux.resources.devices` (and the default list)
/// decide what the container may open, so a node the rules deny exists but gives EPERM. Making
/// the nodes needs no rule of its own: the default list allows mknod of any node.
///
/// `pids.limit: 0` is read as the config's `ociVersion` defines it: a real limit (no new
/// process) from runtime-spec 1.3.0 on, where the field became optional so that 0 could mean
/// 0 (runc 1.5 writes it as 1); before 1.3.0 the spec's text read 0 as "no limit", as crun and
/// runc 1.1 on cgroup v1 apply it (`max`), and as configs written for those versions (youki's
/// contest, engines that zero unset fields) mean it.
pub fn container_resources(spec: &oci_spec::runtime::Spec) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let zero_pids = r.pids().as_ref().is_some_and(|p| p.limit() == 0);
    if zero_pids && !at_least_1_3(spec.version()) {
        let mut pids = (*r.pids()).unwrap_or_default();
        pids.set_limit(-1);
        r.set_pids(Some(pids));
    }
    r
}

/// Whether an `ociVersion` is 1.3.0 or later (a version that does not parse counts as current).
fn at_least_1_3(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 3),
        _ => true,
    }
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
            return Err(CgroupError::Systemd(
                "systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver",
            ));
        }
        return Err(CgroupError::Systemd(
            "the systemd cgroup driver is not implemented; use the default cgroupfs driver",
        ));
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
        return Err(CgroupError::Placement {
            path: p.path.clone(),
            reason: "has no directories",
        });
    }
    match p.version {
        CgroupVersion::V2 => Ok(Box::new(v2::V2Manager::from_placement(p)?)),
        CgroupVersion::V1 => Ok(Box::new(v1::V1Manager::from_placement(p)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as the command line prints it: the message, then each cause, joined by ": ".
    pub(crate) fn chain(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cur = c.source();
        }
        s
    }

    #[test]
    fn causes_print_once_and_keep_their_errno() {
        let enoent = || std::io::Error::from_raw_os_error(libc::ENOENT);
        let e = CgroupError::io(Path::new("/sys/fs/cgroup/x"), enoent());
        assert_eq!(
            chain(&e),
            "cgroup /sys/fs/cgroup/x: No such file or directory (os error 2)"
        );
        assert_eq!(
            e.io_error().and_then(|e| e.raw_os_error()),
            Some(libc::ENOENT)
        );
        let e = CgroupError::Write {
            field: "pids.limit".into(),
            value: "5".into(),
            path: "/c/pids.max".into(),
            source: std::io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(
            chain(&e),
            "linux.resources.pids.limit: writing \"5\" to /c/pids.max: Device or resource busy (os error 16)"
        );
        assert_eq!(
            e.io_error().and_then(|e| e.raw_os_error()),
            Some(libc::EBUSY)
        );
        // Failing writes come back as that variant, naming field, value and file.
        let dir = std::env::temp_dir().join(format!("berth-cg-write-{}", std::process::id()));
        let w = plan::Write {
            ctrl: String::new(),
            file: "no/such/file".into(),
            value: "1".into(),
            field: "pids.limit".into(),
        };
        let e = fs::apply_writes(&[w], &|_| Some(dir.clone()), false).unwrap_err();
        assert_eq!(
            chain(&e),
            format!(
                "linux.resources.pids.limit: writing \"1\" to {}/no/such/file: No such file or directory (os error 2)",
                dir.display()
            )
        );
    }

    #[test]
    fn sub_cgroup_paths_stay_below() {
        let d = Path::new("/c/x");
        assert_eq!(sub_dir(d, "/").unwrap(), PathBuf::from("/c/x"));
        assert_eq!(sub_dir(d, "a/b").unwrap(), PathBuf::from("/c/x/a/b"));
        assert_eq!(sub_dir(d, "a/../b").unwrap(), PathBuf::from("/c/x/b"));
        assert_eq!(
            sub_dir(d, "..").unwrap_err().to_string(),
            "bad sub cgroup path: .. is not a sub cgroup path of the container's cgroup"
        );
        assert!(sub_dir(d, "a/../../y").is_err());
    }

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
    fn linux_devices_are_not_allowed_by_themselves() {
        let spec: oci_spec::runtime::Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"devices":[{"path":"/dev/kmsg","type":"c","major":1,"minor":11}],"resources":{"devices":[{"allow":false,"access":"rwm"}]}}}"#,
        )
        .unwrap();
        let r = container_resources(&spec);
        let rules = devices::effective_rules(r.devices().as_deref().unwrap_or_default()).unwrap();
        assert!(!rules
            .iter()
            .any(|x| x.allow && x.major == Some(1) && x.minor == Some(11)));
        // mknod of any node stays allowed (the default list), so the rootfs can make it.
        assert!(rules.iter().any(|x| x.allow
            && x.typ == 'c'
            && x.major.is_none()
            && x.access == devices::ACC_MKNOD));
        let empty: oci_spec::runtime::Spec =
            serde_json::from_str(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#).unwrap();
        assert!(container_resources(&empty).devices().is_none());
    }

    #[test]
    fn zero_pids_limit_follows_the_configs_spec_version() {
        let spec = |version: &str| -> oci_spec::runtime::Spec {
            serde_json::from_value(serde_json::json!({
                "ociVersion": version,
                "root": {"path": "rootfs"},
                "linux": {"resources": {"pids": {"limit": 0}}}
            }))
            .unwrap()
        };
        let limit = |v: &str| {
            container_resources(&spec(v))
                .pids()
                .as_ref()
                .unwrap()
                .limit()
        };
        // Before 1.3.0, 0 meant no limit.
        assert_eq!(limit("1.0.2-dev"), -1);
        assert_eq!(limit("1.2.1"), -1);
        // From 1.3.0 on, 0 is a real limit (the planner writes it as 1).
        assert_eq!(limit("1.3.0"), 0);
        assert_eq!(limit("1.10.0"), 0);
        assert_eq!(limit("2.0.0"), 0);
        assert!(at_least_1_3("garbage"));
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
