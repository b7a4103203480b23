//! `exec`: runs another process in a created or running container.

use super::{ContainerError, Runtime};
use crate::process::Launched;
use crate::state::Status;
use oci_spec::runtime::Process;
use std::path::PathBuf;

/// How to run a process in a container (runc's `exec`): the process (runtime-spec `process`,
/// e.g. [`Runtime::process_of`] with changes) and where its pid and terminal go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecOptions {
    /// The process to start (runtime-spec `process`).
    pub process: Process,
    /// The caller will not wait for the process: a terminal then needs `console_socket`.
    pub detach: bool,
    /// A file to write the process's pid to (atomically).
    pub pid_file: Option<PathBuf>,
    /// An AF_UNIX socket that receives the master of the process's terminal.
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3..3+N to the process.
    pub preserve_fds: u32,
    /// An AF_UNIX socket that receives a pidfd of the process (runc 1.5's `--pidfd-socket`).
    pub pidfd_socket: Option<PathBuf>,
    /// Exec into a paused container too (runc's `--ignore-paused`): the process joins the
    /// frozen cgroup and starts when the container is resumed.
    pub ignore_paused: bool,
    /// Sub-cgroups of the container's cgroup to put the process in (runc's `--cgroup`);
    /// empty: the container's cgroup.
    pub sub_cgroups: berth_cgroups::SubCgroups,
}

impl ExecOptions {
    /// The defaults for running `process` in the foreground.
    pub fn new(process: Process) -> ExecOptions {
        ExecOptions {
            process,
            detach: false,
            pid_file: None,
            console_socket: None,
            preserve_fds: 0,
            pidfd_socket: None,
            ignore_paused: false,
            sub_cgroups: berth_cgroups::SubCgroups::new(),
        }
    }
}

impl Runtime {
    /// The process of container `id`'s config: the base of an exec's process (runc's `exec`
    /// without `--process` starts from it).
    pub fn process_of(&self, id: &str) -> Result<Process, ContainerError> {
        let state = self.peek_saved(id, format_args!("{id:?}"))?;
        Ok(state.config.process().clone().unwrap_or_default())
    }

    /// `berth exec`: starts `opts.process` in the created or running container `id` and returns
    /// once it has exec'd, with its pid and, for a foreground process with a terminal (`detach`
    /// false), the master of its pty. The process is a child of the calling process: waiting for
    /// it (see [`crate::wait_for_exit`]), forwarding signals and proxying its terminal are the
    /// caller's; this call leaves the caller's signal mask and stdio alone.
    ///
    /// The calling process must be single-threaded: with more than one thread this fails with
    /// [`ContainerError::MultiThreaded`] before anything is started.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<Launched, ContainerError> {
        self.exec_with(id, opts, None)
    }

    /// [`exec`](Runtime::exec) with a [`Launcher`](crate::Launcher) started beforehand (none:
    /// one is started here).
    pub fn exec_with(
        &self,
        id: &str,
        opts: &ExecOptions,
        launcher: Option<crate::Launcher>,
    ) -> Result<Launched, ContainerError> {
        super::ensure_single_threaded()?;
        // First: the launcher's exec runs while the state is read and checked.
        let mut spawner = crate::Launcher::or_start(launcher)?;
        let state = self.peek_saved(id, format_args!("{id:?}"))?;
        match self.status_of(&state) {
            Status::Created | Status::Running => {}
            Status::Paused if opts.ignore_paused => {}
            Status::Paused => {
                return Err(ContainerError::WrongState(
                    "cannot exec in a paused container".into(),
                ))
            }
            _ => {
                return Err(ContainerError::WrongState(
                    "cannot exec in a stopped container".into(),
                ))
            }
        }
        let terminal = opts.process.terminal().unwrap_or(false);
        super::check_console_socket(terminal, opts.detach, opts.console_socket.is_some())?;
        match opts.process.args() {
            Some(a) if !a.is_empty() && !a[0].is_empty() => {}
            _ => {
                return Err(ContainerError::Invalid(
                    "exec: args must not be empty".into(),
                ))
            }
        }
        // The container's config with this process; sysctls were the init's business.
        let mut spec = state.config.clone();
        let mut process = opts.process.clone();
        // As runc: a process without its own AppArmor profile or SELinux label gets the
        // container's.
        let container_process = state.config.process().as_ref();
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        if !set(process.apparmor_profile()) {
            process
                .set_apparmor_profile(container_process.and_then(|p| p.apparmor_profile().clone()));
        }
        if !set(process.selinux_label()) {
            process.set_selinux_label(container_process.and_then(|p| p.selinux_label().clone()));
        }
        spec.set_process(Some(process));
        if let Some(linux) = spec.linux_mut() {
            linux.set_sysctl(None);
        }
        crate::security::validate(&spec)?;
        let affinity = crate::process::affinity::ExecAffinity::of(
            &opts.process,
            state.config.process().as_ref(),
        )
        .map_err(crate::process::ProcessError::from)?;
        let placement = state
            .cgroup
            .as_ref()
            .ok_or_else(|| ContainerError::Invalid("container has no cgroup recorded".into()))?;
        let cgroup = berth_cgroups::from_placement(placement)?;
        // SAFETY: the process is single-threaded (checked at the start; nothing since has
        // started a thread).
        let launched = unsafe {
            crate::process::exec::spawn(
                &spec,
                &state.id,
                &state.bundle,
                state.pid,
                opts.preserve_fds,
                &crate::process::exec::Placement {
                    cgroup: cgroup.as_ref(),
                    sub_cgroups: &opts.sub_cgroups,
                    affinity: &affinity,
                },
                &mut spawner,
            )?
        };
        let console = super::hand_over_console(opts.console_socket.as_deref(), launched.console)?;
        if let Err(e) = super::hand_over_pidfd(opts.pidfd_socket.as_deref(), launched.pid, "setns")
        {
            crate::process::kill_and_reap(&crate::process::Victim::child(launched.pid));
            return Err(e);
        }
        if let Some(path) = &opts.pid_file {
            super::create::write_pid_file_at(path, launched.pid)?;
        }
        Ok(Launched {
            pid: launched.pid,
            console,
        })
    }
}
