//! Container lifecycle: create, start, run, state, kill, delete, list. Orchestration only: the
//! work is done by the process, rootfs, cgroups and security modules.

pub mod cgroup_commands;
mod create;
mod delete;
pub mod exec;
pub mod features;
mod kill;
mod list;
mod start;

pub use create::CreateOptions;
pub use features::features;
pub use list::list_table;

use crate::state::{compute_status, ContainerState, OciState, StateError, StateRoot, Status};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] berth_spec::SpecError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    /// A file or system call the operation needed failed; `what` names it.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The operation does not fit the container's status; the message says which.
    #[error("{0}")]
    WrongState(String),
    /// `create`, `run` and `exec` clone processes from the calling process, which is only sound
    /// while it has a single thread.
    #[error("the calling process has {threads} threads: containers can only be created from a single-threaded process")]
    MultiThreaded { threads: usize },
    #[error("{0}")]
    Invalid(String),
}

/// Fails unless the calling process has exactly one thread. The init and exec'd processes are
/// copies of the calling thread made with a raw clone(2) that run Rust code before exec: a lock
/// held by another thread at that moment would never be released in the copy.
pub(crate) fn ensure_single_threaded() -> Result<(), ContainerError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(io("reading /proc/self/task"))?
        .count();
    if threads == 1 {
        Ok(())
    } else {
        Err(ContainerError::MultiThreaded { threads })
    }
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Io { what, source }
}

/// The runtime's global settings (`--root`, `--systemd-cgroup`).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: StateRoot,
    pub systemd_cgroup: bool,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Runtime {
        Runtime {
            root: StateRoot::new(root),
            systemd_cgroup,
        }
    }

    /// The status of a loaded container, computed from its live init.
    pub fn status_of(&self, state: &ContainerState) -> Status {
        let fifo = self.root.fifo_path(&state.id).exists();
        let frozen = cgroup_commands::placement_frozen(state);
        compute_status(state.pid, state.init_start_time, fifo, frozen)
    }

    /// Runs the hooks of `kind` from the runtime; their failure is logged as a warning, not an
    /// error, as the runtime-spec asks for poststart and poststop.
    pub(crate) fn run_hooks_warn(
        &self,
        state: &ContainerState,
        kind: crate::hooks::HookKind,
        status: &str,
    ) {
        if crate::hooks::hooks_of(&state.config, kind).is_empty() {
            return;
        }
        let json = crate::process::hook_state_json(
            &state.config,
            &state.bundle,
            &state.id,
            state.pid,
            status,
        );
        if let Err(e) = crate::hooks::run(&state.config, kind, &json) {
            log::warn!("{}", crate::process::sync::chain_text(&e));
        }
    }

    /// `berth state ID`.
    pub fn state(&self, id: &str) -> Result<OciState, ContainerError> {
        berth_spec::validate_container_id(id)?;
        match self.root.peek(id)? {
            Some(s) => Ok(s.to_oci(self.status_of(&s))),
            None => Err(ContainerError::WrongState(format!(
                "container {id:?} is still being created"
            ))),
        }
    }

    /// `berth list`: every container under the root with a readable state.
    pub fn list(&self) -> Result<Vec<OciState>, ContainerError> {
        let mut out = Vec::new();
        for id in self.root.ids()? {
            if let Ok(Some(s)) = self.root.peek(&id) {
                out.push(s.to_oci(self.status_of(&s)));
            }
        }
        Ok(out)
    }
}
