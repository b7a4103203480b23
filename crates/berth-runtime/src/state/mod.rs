//! A container's state directory under `--root`: `state.json` (written atomically), the
//! `exec.fifo` of a created container, and a lock that serialises state transitions.

mod status;

pub use status::{compute as compute_status, process_start_time, Status};

use berth_cgroups::CgroupPlacement;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// Where a container being created records its cgroup before making it, so that a `delete` after
/// a create that was killed (no state.json yet) can still find and remove the cgroup.
pub const PLACEMENT_FILE: &str = "cgroup.json";

/// A container's state directory could not be made, found or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A container with this id exists already.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// No container has this id.
    #[error("container \"{0}\" does not exist")]
    DoesNotExist(String),
    /// Reading or writing the state directory failed at `path`.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `state.json` does not parse (or the state does not serialize).
    #[error("{path}: corrupt state file")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What berth remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// Pid of the container's init in the runtime's pid namespace.
    pub pid: i32,
    /// The init's start time (clock ticks since boot, /proc/PID/stat field 22): a recycled pid has
    /// another start time, so it is never mistaken for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub cgroup: Option<CgroupPlacement>,
    /// The config.json the container was created from, for later commands (exec, hooks).
    pub config: oci_spec::runtime::Spec,
}

/// The state document `berth state` prints, field for field what runc prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciState {
    /// The runtime-spec version of the container's config.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// The container's id.
    pub id: String,
    /// The init's pid (0 once the container has stopped).
    pub pid: i32,
    /// `creating`, `created`, `running`, `paused` or `stopped` (see [`Status`]).
    pub status: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    /// When it was created, RFC 3339 with nanoseconds.
    pub created: String,
    /// The owner (empty: berth does not record one, as runc as root).
    pub owner: String,
    /// The config's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

impl ContainerState {
    pub fn to_oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.to_string(),
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// The `--root` directory that holds one state directory per container.
#[derive(Debug, Clone)]
pub struct StateRoot {
    root: PathBuf,
}

impl StateRoot {
    pub fn new(root: impl Into<PathBuf>) -> StateRoot {
        StateRoot { root: root.into() }
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Makes the directory of a new container and locks it. Creating the directory is the atomic
    /// step that decides a race between two `create`s of one id.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io_err(&self.root))?;
        let dir = self.root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.into()))
            }
            Err(e) => return Err(io_err(&dir)(e)),
        }
        ContainerDir::lock(id, dir)
    }

    /// Opens and locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StateError> {
        let dir = self.root.join(id);
        let cd = match ContainerDir::lock(id, dir) {
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::DoesNotExist(id.into()))
            }
            other => other?,
        };
        // A concurrent `delete` may have removed it while we waited for the lock.
        if !cd.path.join(STATE_FILE).exists() && !cd.path.exists() {
            return Err(StateError::DoesNotExist(id.into()));
        }
        Ok(cd)
    }

    /// A container's directory without taking its lock, for readers (`state`, `list`): state.json
    /// is replaced atomically, so a reader never needs to wait for a writer.
    pub fn peek(&self, id: &str) -> Result<Option<ContainerState>, StateError> {
        let dir = self.root.join(id);
        let p = dir.join(STATE_FILE);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StateError::Corrupt { path: p, source: e }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if dir.is_dir() {
                    Ok(None)
                } else {
                    Err(StateError::DoesNotExist(id.into()))
                }
            }
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    pub fn fifo_path(&self, id: &str) -> PathBuf {
        self.root.join(id).join(EXEC_FIFO)
    }

    /// Ids of every container under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| berth_spec::validate_container_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A locked container state directory. The lock is released when this is dropped.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: Flock<File>,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir, StateError> {
        let f = File::open(&path).map_err(io_err(&path))?;
        let lock =
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| io_err(&path)(e.into()))?;
        Ok(ContainerDir {
            id: id.into(),
            path,
            _lock: lock,
        })
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// The descriptor that holds the lock. A process cloned from ours shares its open file
    /// description and so the lock: one that may outlive us (the init) must close it.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self._lock)
    }

    /// Loads state.json; a directory without one is a container still being created.
    pub fn load(&self) -> Result<Option<ContainerState>, StateError> {
        let p = self.path.join(STATE_FILE);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.path.exists() {
                    return Ok(None);
                }
                return Err(StateError::DoesNotExist(self.id.clone()));
            }
            Err(e) => return Err(io_err(&p)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Corrupt { path: p, source: e })
    }

    /// Writes state.json atomically (temp file + rename), so a reader never sees half a file.
    pub fn save(&self, state: &ContainerState) -> Result<(), StateError> {
        self.write_json(STATE_FILE, state)
    }

    /// Records the cgroup a create is about to make (see [`PLACEMENT_FILE`]).
    pub fn save_placement(&self, placement: &CgroupPlacement) -> Result<(), StateError> {
        self.write_json(PLACEMENT_FILE, placement)
    }

    /// The cgroup a create recorded, if it got that far.
    pub fn load_placement(&self) -> Result<Option<CgroupPlacement>, StateError> {
        let p = self.path.join(PLACEMENT_FILE);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StateError::Corrupt { path: p, source: e }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), StateError> {
        let p = self.path.join(name);
        let tmp = self.path.join(format!(".{name}.tmp"));
        let data = serde_json::to_vec(value).map_err(|e| StateError::Corrupt {
            path: p.clone(),
            source: e,
        })?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(&data).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io_err(&p))
    }

    /// Removes the state directory (the lock goes with it).
    pub fn remove(self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("berth-state-unit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn sample(id: &str) -> ContainerState {
        ContainerState {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid: 42,
            init_start_time: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "T".into(),
            owner: "".into(),
            annotations: BTreeMap::new(),
            cgroup: None,
            config: serde_json::from_value(berth_spec::default_config(false, 0, 0)).unwrap(),
        }
    }

    #[test]
    fn create_save_load_remove() {
        let root = StateRoot::new(scratch("csl"));
        let dir = root.create("c1").unwrap();
        assert!(dir.load().unwrap().is_none(), "no state.json yet: creating");
        dir.save(&sample("c1")).unwrap();
        assert_eq!(dir.load().unwrap().unwrap().pid, 42);
        drop(dir);
        assert!(matches!(root.create("c1"), Err(StateError::Exists(_))));
        assert_eq!(root.ids().unwrap(), vec!["c1".to_string()]);
        root.open("c1").unwrap().remove().unwrap();
        assert!(matches!(root.open("c1"), Err(StateError::DoesNotExist(_))));
        assert!(root.ids().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(root.path());
    }

    #[test]
    fn error_wording_matches_runc() {
        assert_eq!(
            StateError::Exists("x".into()).to_string(),
            "container with id exists: x"
        );
        assert_eq!(
            StateError::DoesNotExist("x".into()).to_string(),
            "container \"x\" does not exist"
        );
    }

    #[test]
    fn oci_state_of_stopped_container_has_pid_zero() {
        let s = sample("c").to_oci(Status::Stopped);
        assert_eq!(s.pid, 0);
        assert_eq!(s.status, "stopped");
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("annotations").is_none());
        assert_eq!(v["ociVersion"], "1.2.0");
    }
}
