//! Container lifecycle: create, start, run, state, kill, delete, list. Orchestration only: the
//! work is done by the process, rootfs, cgroups and security modules.

pub(crate) mod cgroup_commands;
mod create;
mod delete;
mod exec;
mod features;
mod kill;
mod list;
mod start;

pub use cgroup_commands::{EventsOptions, PsFormat};
pub use create::CreateOptions;
pub use exec::ExecOptions;
pub use features::features;
pub use list::list_table;

use crate::state::{compute_status, ContainerState, OciState, StateError, StateRoot, Status};
use std::path::PathBuf;

/// Why a [`Runtime`] operation failed. The message names what failed; the cause, if any, is
/// the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// The container's state directory: it exists already, does not exist, or cannot be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The bundle or its `config.json`, or the container id, is invalid.
    #[error(transparent)]
    Spec(#[from] berth_spec::SpecError),
    /// Starting the container's init or an exec'd process failed.
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The container's cgroup.
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    /// The config's root filesystem settings.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// The config's security settings.
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    /// A file or system call the operation needed failed; `what` names it.
    #[error("{what}")]
    Io {
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The operation does not fit the container's status; the message says which.
    #[error("{0}")]
    WrongState(String),
    /// `create`, `run` and `exec` clone processes from the calling process, which is only sound
    /// while it has a single thread.
    #[error("the calling process has {threads} threads: containers can only be created from a single-threaded process")]
    MultiThreaded {
        /// How many threads the calling process had.
        threads: usize,
    },
    /// The process has a terminal and the caller will not wait for it (detached), but gave no
    /// console socket to send the terminal to.
    #[error("a detached process with a terminal needs a console socket")]
    TerminalNeedsConsoleSocket,
    /// A console socket was given for a process that has no terminal or is not detached.
    #[error("a console socket is only for a detached process with a terminal")]
    ConsoleSocketUnused,
    /// Sending the terminal to the console socket at `path` failed.
    #[error("console socket {path}")]
    ConsoleSocket {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Sending a pidfd of the process to the socket at `path` failed.
    #[error("pidfd socket {path}")]
    PidfdSocket {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the pid file at `path` failed.
    #[error("pid file {path}")]
    PidFile {
        /// The pid file (or its temporary sibling).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The systemd cgroup driver was asked for where systemd is not running.
    #[error("the systemd cgroup driver needs a running systemd")]
    SystemdNotRunning,
    /// The request cannot be honoured (an option that does not fit the config, say).
    #[error("{0}")]
    Invalid(String),
    /// The container's cgroup exists already and is frozen: its init would hang in it.
    #[error("container's cgroup unexpectedly frozen")]
    CgroupFrozen,
    /// The container's cgroup exists already and has processes in it (another container's,
    /// say): their lifetimes, limits and accounting would be tied to this container's.
    #[error("container's cgroup is not empty: {0} process(es) found")]
    CgroupNotEmpty(usize),
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

/// runc's rules: a detached process's terminal must go to a console socket, and a console
/// socket is only for a detached process with a terminal.
pub(crate) fn check_console_socket(
    terminal: bool,
    detach: bool,
    console_socket: bool,
) -> Result<(), ContainerError> {
    if detach && terminal && !console_socket {
        return Err(ContainerError::TerminalNeedsConsoleSocket);
    }
    if (!detach || !terminal) && console_socket {
        return Err(ContainerError::ConsoleSocketUnused);
    }
    Ok(())
}

/// Hands the master of a new process's terminal to `socket` when one is given (the caller is
/// then left without it); otherwise returns it for the caller to proxy, with the pty's \n → \r\n
/// translation off: a foreground caller copies it to its own stdout, which a terminal already
/// translates (and a pipe must get the bytes as written), as runc does. Done before the process
/// can write anything.
pub(crate) fn hand_over_console(
    socket: Option<&std::path::Path>,
    console: Option<std::os::fd::OwnedFd>,
) -> Result<Option<std::os::fd::OwnedFd>, ContainerError> {
    match (socket, console) {
        (Some(socket), Some(master)) => {
            crate::process::terminal::send_to_console_socket(socket, &master).map_err(
                |source| ContainerError::ConsoleSocket {
                    path: socket.to_path_buf(),
                    source,
                },
            )?;
            Ok(None)
        }
        (_, Some(master)) => {
            let _ = berth_sys::tty::clear_onlcr(std::os::fd::AsFd::as_fd(&master));
            Ok(Some(master))
        }
        (_, None) => Ok(None),
    }
}

/// `--pidfd-socket`: sends a pidfd of `pid` to `socket`, with runc's payload ("standard" for an
/// init, "setns" for an exec'd process). The caller can then signal the process without the
/// pid-reuse race, even after it has left the caller's pid namespace view.
pub(crate) fn hand_over_pidfd(
    socket: Option<&std::path::Path>,
    pid: i32,
    payload: &str,
) -> Result<(), ContainerError> {
    let Some(socket) = socket else {
        return Ok(());
    };
    let err = |source| ContainerError::PidfdSocket {
        path: socket.to_path_buf(),
        source,
    };
    let pidfd = berth_sys::process::pidfd_open(pid).map_err(err)?;
    crate::process::fd_socket::send_fd(socket, payload.as_bytes(), std::os::fd::AsFd::as_fd(&pidfd))
        .map_err(err)
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Io { what, source }
}

/// A container runtime: where containers' state lives (`--root`) and how their cgroups are
/// managed (`--systemd-cgroup`). Cheap to make; holds no resources.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: StateRoot,
    systemd_cgroup: bool,
}

impl Runtime {
    /// A runtime keeping state under `root` (made on first use); `systemd_cgroup` asks for
    /// systemd's cgroup driver (refused where systemd is not running).
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Runtime {
        Runtime {
            root: StateRoot::new(root),
            systemd_cgroup,
        }
    }

    /// The status of a loaded container, computed from its live init.
    pub(crate) fn status_of(&self, state: &ContainerState) -> Status {
        let fifo = self.root.fifo_path(&state.id).exists();
        let frozen = cgroup_commands::placement_frozen(state);
        compute_status(state.pid, state.init_start_time, fifo, frozen)
    }

    /// Runs the hooks of `kind` from the runtime; their failure is logged as a warning, not an
    /// error, as the runtime-spec asks for poststop.
    pub(crate) fn run_hooks_warn(
        &self,
        state: &ContainerState,
        kind: crate::hooks::HookKind,
        status: &str,
    ) {
        if let Err(e) = self.run_hooks(state, kind, status) {
            log::warn!("{}", crate::process::sync::chain_text(&e));
        }
    }

    /// Runs the hooks of `kind` from the runtime, stopping at the first that fails.
    pub(crate) fn run_hooks(
        &self,
        state: &ContainerState,
        kind: crate::hooks::HookKind,
        status: &str,
    ) -> Result<(), crate::hooks::HookError> {
        if crate::hooks::hooks_of(&state.config, kind).is_empty() {
            return Ok(());
        }
        let json = crate::process::hook_state_json(
            &state.config,
            &state.bundle,
            &state.id,
            state.pid,
            status,
        );
        crate::hooks::run(&state.config, kind, &json)
    }

    /// `berth state ID`: the container's state as the runtime-spec defines it, with its status
    /// computed now.
    pub fn state(&self, id: &str) -> Result<OciState, ContainerError> {
        let s = self.peek_saved(id, format_args!("{id:?}"))?;
        Ok(s.to_oci(self.status_of(&s)))
    }

    /// The saved state of container `id`, read without its lock; one still being created is an
    /// error whose message calls the container `name`.
    pub(crate) fn peek_saved(
        &self,
        id: &str,
        name: std::fmt::Arguments<'_>,
    ) -> Result<ContainerState, ContainerError> {
        berth_spec::validate_container_id(id)?;
        self.root.peek(id)?.ok_or_else(|| {
            ContainerError::WrongState(format!("container {name} is still being created"))
        })
    }

    /// `berth list`: every container under the root with a readable state (one still being
    /// created, or another runtime's leftovers, is skipped).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloning_is_refused_while_another_thread_runs() {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || stopped.recv());
        let e = ensure_single_threaded().unwrap_err();
        assert!(
            matches!(e, ContainerError::MultiThreaded { threads } if threads >= 2),
            "{e}"
        );
        stop.send(()).unwrap();
        other.join().unwrap().unwrap();
    }
}
