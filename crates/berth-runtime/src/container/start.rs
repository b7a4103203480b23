//! `start` and `run`: release the init blocked on exec.fifo.

use super::create::{CreateOptions, Created};
use super::{io, ContainerError, Runtime};
use crate::process::Launched;
use crate::state::{ContainerDir, ContainerState, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

impl Runtime {
    /// `berth start ID`: lets the init of a created container exec the container's process, and
    /// returns once it has (or fails if the init is gone). Runs the poststart hooks; one that
    /// fails kills the container and fails `start`, as in runc.
    pub fn start(&self, id: &str) -> Result<(), ContainerError> {
        berth_spec::validate_container_id(id)?;
        let dir = self.root.open(id)?;
        let state = dir.load()?.ok_or_else(|| {
            ContainerError::WrongState(format!("container {id:?} is still being created"))
        })?;
        self.start_locked(&dir, &state)
    }

    pub(crate) fn start_locked(
        &self,
        dir: &ContainerDir,
        state: &ContainerState,
    ) -> Result<(), ContainerError> {
        match self.status_of(state) {
            Status::Created => {}
            Status::Stopped => {
                return Err(ContainerError::WrongState(
                    "cannot start a container that has stopped".into(),
                ))
            }
            Status::Running => {
                return Err(ContainerError::WrongState(
                    "cannot start an already running container".into(),
                ))
            }
            other => {
                return Err(ContainerError::WrongState(format!(
                    "cannot start a container in the {other} state"
                )))
            }
        }
        let fifo_path = dir.fifo_path();
        // Non-blocking open: a blocking one would hang forever if the init died before opening
        // its end. The init's open for writing returns as soon as this reader exists.
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&fifo_path)
            .map_err(io(format!("opening {}", fifo_path.display())))?;
        let stopped =
            || ContainerError::WrongState("cannot start a container that has stopped".into());
        // First the init's "0" (it is about to exec), then end-of-file: the write end is
        // close-on-exec, so EOF means execve has happened (or the init died).
        let mut got_byte = false;
        loop {
            let mut buf = [0u8; 16];
            match fifo.read(&mut buf) {
                Ok(0) if got_byte => break,
                // No writer yet, or the init is gone: the liveness check below tells which.
                Ok(0) => {}
                Ok(_) => {
                    got_byte = true;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("reading exec.fifo")(e)),
            }
            if crate::state::process_start_time(state.pid) != Some(state.init_start_time) {
                // The init may have opened the fifo, written its byte, exec'd the container's
                // program and that program exited, all since the read above: the byte is still
                // in the fifo then, and the container did start.
                if got_byte || fifo_holds_data(&mut fifo) {
                    break;
                }
                return Err(stopped());
            }
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(100u8));
        }
        std::fs::remove_file(&fifo_path)
            .map_err(io(format!("removing {}", fifo_path.display())))?;
        // As runc: a poststart hook that fails stops the container (its init is killed) and
        // fails `start`, rather than the runtime-spec's warning; engines and runc's tests
        // expect the error.
        if let Err(e) = self.run_hooks(state, crate::hooks::HookKind::Poststart, "running") {
            super::delete::kill_and_wait(state);
            return Err(ContainerError::Process(e.into()));
        }
        Ok(())
    }

    /// `berth run`: [`create`](Runtime::create) + [`start`](Runtime::start). Returns the init's
    /// pid and, for a foreground container with a terminal (`detach` false), the master of its
    /// pty for the caller to proxy; with `detach`, a terminal needs `opts.console_socket` as for
    /// `create`. If starting fails the container is deleted.
    ///
    /// Waiting for the container (see [`crate::wait_for_exit`]), forwarding signals to it and
    /// deleting it afterwards are the caller's: this call leaves the caller's signal mask and
    /// stdio alone. A caller that forwards signals blocks them before this call, so that none
    /// arrives between the clone of the init and its forwarding loop; the container's process
    /// starts with an empty signal mask whatever the caller's.
    ///
    /// The calling process must be single-threaded, as for `create`.
    pub fn run(
        &self,
        id: &str,
        opts: &CreateOptions,
        detach: bool,
    ) -> Result<Launched, ContainerError> {
        self.run_with(id, opts, detach, None)
    }

    /// [`run`](Runtime::run) with a [`Launcher`](crate::Launcher) started beforehand (none: one
    /// is started here).
    pub fn run_with(
        &self,
        id: &str,
        opts: &CreateOptions,
        detach: bool,
        launcher: Option<crate::Launcher>,
    ) -> Result<Launched, ContainerError> {
        let Created {
            dir,
            state,
            console,
        } = self.create_locked(id, opts, !detach, launcher)?;
        if let Err(e) = self.start_locked(&dir, &state) {
            drop(dir);
            let _ = self.delete(id, true);
            return Err(e);
        }
        Ok(Launched {
            pid: state.pid,
            console,
        })
    }
}

/// One last non-blocking read of exec.fifo: whether the init wrote its byte before going away.
fn fifo_holds_data(fifo: &mut std::fs::File) -> bool {
    let mut buf = [0u8; 16];
    loop {
        match fifo.read(&mut buf) {
            Ok(n) => return n > 0,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}
