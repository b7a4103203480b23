//! `start` and `run`: release the init blocked on exec.fifo.

use super::create::{CreateOptions, Created};
use super::{io, ContainerError, Runtime};
use crate::state::{ContainerDir, ContainerState, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

impl Runtime {
    /// `berth start ID`.
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
                Ok(0) => {
                    // No writer yet, or the init is gone.
                    if crate::state::process_start_time(state.pid) != Some(state.init_start_time) {
                        return Err(stopped());
                    }
                }
                Ok(_) => {
                    got_byte = true;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("reading exec.fifo")(e)),
            }
            if crate::state::process_start_time(state.pid) != Some(state.init_start_time) {
                if got_byte {
                    break;
                }
                return Err(stopped());
            }
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(100u8));
        }
        std::fs::remove_file(&fifo_path)
            .map_err(io(format!("removing {}", fifo_path.display())))?;
        self.run_hooks_warn(state, crate::hooks::HookKind::Poststart, "running");
        Ok(())
    }

    /// `berth run`: create + start; in the foreground, forwards signals and returns the
    /// container's exit code (128+N for signal N), deleting the container afterwards unless `keep`.
    pub fn run(
        &self,
        id: &str,
        opts: &CreateOptions,
        detach: bool,
        keep: bool,
    ) -> Result<i32, ContainerError> {
        if !detach {
            crate::process::signals::block_all().map_err(|e| io("blocking signals")(e.into()))?;
        }
        let Created {
            dir,
            state,
            console,
        } = self.create_locked(id, opts, !detach)?;
        if let Err(e) = self.start_locked(&dir, &state) {
            drop(dir);
            let _ = self.delete(id, true);
            return Err(e);
        }
        drop(dir);
        if detach {
            return Ok(0);
        }
        let code = crate::process::signals::forward_until_exit(state.pid, console);
        if !keep {
            self.delete(id, true)?;
        }
        Ok(code)
    }
}
