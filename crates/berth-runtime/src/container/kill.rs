//! `kill`: a signal to the container's init, or with `--all` to every process in its cgroup.

use super::{ContainerError, Runtime};
use crate::state::Status;

impl Runtime {
    /// `berth kill ID SIGNAL`: sends `signal` (a number, 0 probes) to the container's init, or
    /// with `all` to every process of its cgroup.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), ContainerError> {
        berth_spec::validate_container_id(id)?;
        let dir = self.root.open(id)?;
        let not_running = || ContainerError::WrongState("container not running".into());
        let state = dir.load()?.ok_or_else(not_running)?;
        if self.status_of(&state) == Status::Stopped {
            // runc 1.1: signalling every process of a container that has none left succeeds.
            if all {
                return Ok(());
            }
            return Err(not_running());
        }
        if all {
            if let Some(placement) = &state.cgroup {
                let cgroup = berth_cgroups::from_placement(placement)?;
                for pid in cgroup.pids()? {
                    let _ = send(pid, signal);
                }
                // The init was among them and may already be gone (SIGKILL): that is success.
                let _ = send(state.pid, signal);
                return Ok(());
            }
        }
        send(state.pid, signal).map_err(|e| match e {
            nix::errno::Errno::ESRCH => not_running(),
            e => super::io(format!("kill {}", state.pid))(e.into()),
        })
    }
}

fn send(pid: i32, signal: i32) -> Result<(), nix::errno::Errno> {
    // SAFETY: kill(2) with integers; the signal number was validated by the caller, and a
    // number without a nix name (real-time signals) must still be deliverable.
    let r = unsafe { libc::kill(pid, signal) };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}
