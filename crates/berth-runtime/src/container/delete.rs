//! `delete`: removes a stopped (or, with force, any) container: its processes, cgroup and state.

use super::{ContainerError, Runtime};
use crate::state::{ContainerDir, ContainerState, StateError, Status};

impl Runtime {
    /// `berth delete ID`: removes a stopped or created container (with `force`, any: it is
    /// killed first): its processes, cgroup and state, then runs its poststop hooks. With
    /// `force`, a container that does not exist is not an error.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), ContainerError> {
        berth_spec::validate_container_id(id)?;
        let dir = match self.root.open(id) {
            Ok(d) => d,
            Err(StateError::DoesNotExist(_)) if force => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let state = match dir.load() {
            Ok(Some(s)) => s,
            // A directory without state.json that we could lock is what a create that died (or
            // was killed) left: its init, if any, is in the cgroup it recorded.
            Ok(None) => return remove_half_made(dir),
            Err(StateError::DoesNotExist(_)) if force => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match self.status_of(&state) {
            Status::Stopped => {}
            // A created container has not run anything of the user's yet: deleting it is safe.
            Status::Created => kill_and_wait(&state),
            status if force => {
                let _ = status;
                kill_and_wait(&state)
            }
            status => {
                return Err(ContainerError::WrongState(format!(
                    "cannot delete container {id} that is not stopped: {status}"
                )))
            }
        }
        let result = destroy(dir, &state);
        // After the container's processes and resources are gone, as the spec orders it.
        self.run_hooks_warn(&state, crate::hooks::HookKind::Poststop, "stopped");
        result
    }
}

/// Undoes what a create that never finished left: the processes in its recorded cgroup are
/// killed and the cgroup removed, then the directory.
fn remove_half_made(dir: ContainerDir) -> Result<(), ContainerError> {
    if let Some(placement) = dir.load_placement()? {
        let cgroup = berth_cgroups::from_placement(&placement)?;
        cgroup.destroy()?;
    }
    Ok(dir.remove()?)
}

/// SIGKILL to the init, then wait (up to 10 s) until it is really gone: its pid namespace, and
/// so every process in it, dies with it.
pub(super) fn kill_and_wait(state: &ContainerState) {
    let cgroup = state
        .cgroup
        .as_ref()
        .and_then(|p| berth_cgroups::from_placement(p).ok());
    crate::process::kill_and_reap(&crate::process::Victim {
        pid: state.pid,
        start_time: Some(state.init_start_time),
        cgroup: cgroup.as_deref(),
    });
}

/// Removes the cgroup (killing anything left in it) and the state directory.
fn destroy(dir: ContainerDir, state: &ContainerState) -> Result<(), ContainerError> {
    if let Some(placement) = &state.cgroup {
        berth_cgroups::from_placement(placement)?.destroy()?;
    }
    dir.remove()?;
    Ok(())
}
