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
        let status = self.status_of(&state);
        let stopped = status == Status::Stopped;
        // As runc 1.5: SIGKILL to a container without a PID namespace of its own goes to every
        // process of its cgroup. Its init is not a namespace's init, whose death would take
        // the rest along (pid_namespaces(7)), and it may be gone while the rest still runs.
        if signal == libc::SIGKILL && !has_own_pid_namespace(&state.config) {
            if let Some(placement) = &state.cgroup {
                let cgroup = berth_cgroups::from_placement(placement)?;
                let pids = match cgroup.pids() {
                    Ok(pids) => pids,
                    // No cgroup left and no init: nothing runs.
                    Err(_) if stopped => return Err(not_running()),
                    Err(e) => return Err(e.into()),
                };
                if stopped && pids.is_empty() {
                    return Err(not_running());
                }
                for pid in pids {
                    let _ = send(pid, signal);
                }
                // A frozen process dies of SIGKILL only once thawed.
                if status == Status::Paused {
                    let _ = cgroup.thaw();
                }
                return Ok(());
            }
        }
        if stopped {
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

/// Whether the container gets a new PID namespace (one listed without a `path`).
fn has_own_pid_namespace(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none()
            })
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_namespace_is_a_pid_entry_without_path() {
        let spec = |ns: serde_json::Value| -> oci_spec::runtime::Spec {
            serde_json::from_value(serde_json::json!({
                "ociVersion": "1.0.2", "root": {"path": "rootfs"},
                "linux": {"namespaces": ns}
            }))
            .unwrap()
        };
        assert!(has_own_pid_namespace(&spec(
            serde_json::json!([{"type": "mount"}, {"type": "pid"}])
        )));
        assert!(!has_own_pid_namespace(&spec(
            serde_json::json!([{"type": "mount"}])
        )));
        assert!(!has_own_pid_namespace(&spec(
            serde_json::json!([{"type": "pid", "path": "/proc/1/ns/pid"}])
        )));
    }
}
