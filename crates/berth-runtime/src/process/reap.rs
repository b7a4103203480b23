//! Waiting for processes: the one kill-and-reap used wherever berth abandons or removes a
//! container's process, and the exit status of a container's init for an embedder.

use berth_cgroups::CgroupManager;
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::time::Duration;

/// How long a killed process that is not our child is waited for (its pid namespace, and so
/// every process in it, dies with it).
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Waits for a child, ignoring EINTR; a child already reaped (or not ours) is not an error.
pub(crate) fn reap(pid: i32) {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// The process to kill: its pid, and when known its start time (so that a recycled pid is
/// never killed) and its cgroup (thawed if frozen: a paused container's tasks act on the
/// SIGKILL only once thawed, v1 freezer).
pub(crate) struct Victim<'a> {
    pub pid: i32,
    pub start_time: Option<u64>,
    pub cgroup: Option<&'a dyn CgroupManager>,
}

impl Victim<'_> {
    /// A child of ours that we just made: no start time to check, no freezer to thaw.
    pub(crate) fn child(pid: i32) -> Victim<'static> {
        Victim {
            pid,
            start_time: None,
            cgroup: None,
        }
    }
}

/// SIGKILL to `v.pid`, then wait until it is really gone: a child of ours is reaped; another
/// process is waited for through a pidfd, up to 10 s.
pub(crate) fn kill_and_reap(v: &Victim<'_>) {
    // Opened first: from here the pidfd names this process even if its pid is recycled.
    let pidfd = berth_sys::process::pidfd_open(v.pid).ok();
    if let Some(t) = v.start_time {
        if crate::state::process_start_time(v.pid) != Some(t) {
            return;
        }
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(v.pid), nix::sys::signal::Signal::SIGKILL);
    if let Some(m) = v.cgroup {
        if m.is_frozen().unwrap_or(false) {
            let _ = m.thaw();
        }
    }
    match pidfd {
        Some(fd) => {
            let _ = berth_sys::process::pidfd_wait(&fd, KILL_WAIT);
            // Reaps it if it is our child; ECHILD otherwise.
            let _ = waitpid(Pid::from_raw(v.pid), Some(WaitPidFlag::WNOHANG));
        }
        None => reap(v.pid),
    }
}

/// The shell convention for an exit status: the code, or 128+N for death by signal N; `None`
/// for a status that is not an end (stopped, continued).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for the process `pid` to end and returns its exit code as a shell reports it (128+N for
/// death by signal N).
///
/// A container's init and an exec'd process are children of the process that called
/// [`Runtime::create`](crate::Runtime::create), [`Runtime::run`](crate::Runtime::run) or
/// [`Runtime::exec`](crate::Runtime::exec), so that process can wait for them; any other pid
/// fails with `ECHILD`. Other children of the caller are left alone.
pub fn wait_for_exit(pid: i32) -> std::io::Result<i32> {
    loop {
        let status = match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            r => r?,
        };
        // Stopped or continued: not the end yet.
        if let Some(code) = exit_code(status) {
            return Ok(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn exit_codes() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }

    #[test]
    fn waiting_for_a_pid_that_is_not_a_child_fails() {
        // pid 1 is never a child of the test process.
        let e = wait_for_exit(1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECHILD));
    }
}
