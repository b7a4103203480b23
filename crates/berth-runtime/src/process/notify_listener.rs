//! SCMP_ACT_NOTIFY: the runtime's side. The init (or an exec'd process) loads its filter after
//! it has left the host's filesystem, so it sends the notify fd back over the sync channel and
//! the runtime passes it on to `linux.seccomp.listenerPath`, as the runtime-spec describes: one
//! connection to that unix socket, one message holding the container process state (JSON) with
//! the fd attached (SCM_RIGHTS), named "seccompFd" in the state's `fds`.

use super::{sys, ProcessError};
use oci_spec::runtime::Spec;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

const FIELD: &str = "linux.seccomp.listenerPath";

/// The runtime-spec's containerProcessState: the state of the container (`state`), the pid of
/// the process whose filter this is, the listener's metadata and the names of the fds sent.
pub(crate) fn container_process_state(
    spec: &Spec,
    pid: i32,
    state: serde_json::Value,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ociVersion": spec.version(),
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.listener_metadata().as_ref())
        .filter(|m| !m.is_empty())
    {
        v["metadata"] = serde_json::Value::String(m.clone());
    }
    v
}

/// Connects to the listener of `spec` and sends it `fd` with the container process state.
pub(crate) fn send(
    spec: &Spec,
    fd: OwnedFd,
    pid: i32,
    state: serde_json::Value,
) -> Result<(), ProcessError> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.listener_path().as_ref())
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| ProcessError::Sys {
            what: format!("{FIELD}: not set, but the filter has SCMP_ACT_NOTIFY rules"),
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        })?;
    let msg = container_process_state(spec, pid, state).to_string();
    // runc's words, which its tests look for.
    let conn = UnixStream::connect(path).map_err(sys(format!(
        "{FIELD}: failed to connect with seccomp agent {}",
        path.display()
    )))?;
    let sending = format!(
        "{FIELD}: sending the seccomp notify fd to {}",
        path.display()
    );
    let fds = [fd.as_raw_fd()];
    let sent = loop {
        match nix::sys::socket::sendmsg::<()>(
            conn.as_raw_fd(),
            &[IoSlice::new(msg.as_bytes())],
            &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.map_err(|e| sys(sending.clone())(e.into()))?,
        }
    };
    // A stream socket may take a long message in parts; the fd went with the first.
    if sent < msg.len() {
        std::io::Write::write_all(&mut &conn, &msg.as_bytes()[sent..]).map_err(sys(sending))?;
    }
    Ok(())
}
