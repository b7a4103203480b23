//! `exec`: a new process inside a running container. It joins every namespace of the
//! container's init that differs from the runtime's own (user first, mount last), then the
//! container's cgroup, and becomes the process with the same code path as the init.
//!
//! ```text
//! runtime ──fork──▶ intermediate ──setns… ──clone(CLONE_PARENT)──▶ process
//! ```
//! A pid or time namespace is only entered by children of the process that joined it, hence the
//! intermediate; CLONE_PARENT keeps the runtime the process's parent so it can wait for it.

use super::affinity::ExecAffinity;
use super::init::{become_process, exec_program};
use super::sync::{InitError, SyncChannel, SyncMsg};
use super::{
    container_state, kill_and_reap, notify_listener, sys, unexpected, Launched, ProcessError,
    Victim,
};
use crate::namespaces::Join;
use berth_cgroups::CgroupManager;
use oci_spec::runtime::Spec;
use std::os::unix::fs::MetadataExt;

/// Namespace files of /proc/PID/ns in join order, with their CLONE_NEW* flags.
const JOIN_ORDER: [(&str, libc::c_int); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", crate::namespaces::CLONE_NEWTIME),
    ("mnt", libc::CLONE_NEWNS),
];

/// The namespaces of `pid` that are not ours (joining one's own user namespace is an error).
fn namespaces_to_join(pid: i32) -> Vec<(&'static str, libc::c_int)> {
    JOIN_ORDER
        .iter()
        .copied()
        .filter(|(name, _)| {
            let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}")).map(|m| m.ino());
            let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| m.ino());
            matches!((theirs, ours), (Ok(t), Ok(o)) if t != o)
        })
        .collect()
}

/// Where an exec'd process runs: the container's cgroup (or sub-cgroups of it) and CPUs.
pub(crate) struct Placement<'a> {
    pub cgroup: &'a dyn CgroupManager,
    pub sub_cgroups: &'a berth_cgroups::SubCgroups,
    pub affinity: &'a ExecAffinity,
}

/// Starts `spec.process` inside the container `id` (of `bundle`) whose init is `init_pid`.
/// Returns once the process has exec'd (or failed to), with its pid and its terminal's master
/// if it has one.
///
/// # Safety
///
/// The calling process must be single-threaded (see [`super::launch`]).
pub unsafe fn spawn(
    spec: &Spec,
    id: &str,
    bundle: &std::path::Path,
    init_pid: i32,
    preserve_fds: u32,
    placement: &Placement<'_>,
    spawner: &mut super::launcher::Spawner,
) -> Result<Launched, ProcessError> {
    let Placement {
        cgroup,
        sub_cgroups,
        affinity,
    } = placement;
    let joins: Vec<Join> = namespaces_to_join(init_pid)
        .into_iter()
        .map(|(name, flag)| Join {
            what: format!("the container's {name} namespace"),
            path: format!("/proc/{init_pid}/ns/{name}").into(),
            flag,
        })
        .collect();
    // A container without a mount namespace of its own (runc allows it) shares ours, so
    // joining it does not put the process in the rootfs: it goes where the init was chrooted.
    // (runc's exec would run in the host's root there.)
    let joins_mount_ns = joins.iter().any(|j| j.flag == libc::CLONE_NEWNS);
    let job = super::launcher::Job::Exec {
        spec: Box::new(spec.clone()),
        preserve_fds,
        init_pid,
        joins,
        enter_root: !joins_mount_ns,
        initial_affinity: affinity.initial.clone(),
    };
    let join = |pid: i32| -> Result<(), ProcessError> {
        if sub_cgroups.is_empty() {
            cgroup.apply(pid)?;
        } else {
            cgroup.enter_sub(pid, sub_cgroups)?;
        }
        Ok(())
    };
    // The launcher joins the container's cgroup before it has its job (as runc's intermediate
    // does), so the process is born there: moving it afterwards (a write per v1 hierarchy)
    // would sit between its clone and Go. It moves while the launcher's exec finishes.
    let launcher_joined = match spawner.launcher_pid() {
        Some(launcher) => {
            join(launcher)?;
            true
        }
        None => false,
    };
    // SAFETY: single-threaded, as this function's caller guarantees.
    let (ours, pid) = unsafe { spawner.spawn(job, super::launcher::JobFds::default(), || Ok(()))? };
    log_initial_affinity(pid);
    let result = (|| {
        if !launcher_joined {
            join(pid)?;
        }
        match (&affinity.initial, &affinity.last) {
            (_, Some(mask)) => berth_sys::process::sched_setaffinity(pid, mask)
                .map_err(sys("process.execCPUAffinity.final: sched_setaffinity"))?,
            (None, None) => super::affinity::reset(pid),
            // Only an initial affinity: the kernel's choice from there (the runtime-spec).
            (Some(_), None) => {}
        }
        ours.send(&SyncMsg::Go { hook_state: None })
            .map_err(sys("sending go to the exec'd process"))?;
        let mut console = None;
        loop {
            match ours.recv_with_fd() {
                Ok(Some((SyncMsg::Console, Some(fd)))) => console = Some(fd),
                Ok(Some((SyncMsg::SeccompNotifyFd, Some(fd)))) => {
                    // As runc: the container is running; its state has the init's pid, the
                    // process state this process's.
                    let state = container_state(spec, bundle, id, init_pid, "running");
                    notify_listener::send(spec, fd, pid, state)?;
                }
                // Ready, then the close-on-exec channel closes when execve succeeds.
                Ok(Some((SyncMsg::Ready, _))) => {}
                Ok(None) => return Ok(Launched { pid, console }),
                other => return Err(unexpected(other.map(|m| m.map(|(m, _)| m)))),
            }
        }
    })();
    if result.is_err() {
        kill_and_reap(&Victim::child(pid));
    }
    result
}

/// chroot into the root of process `pid` when it is not ours (same device and inode).
pub(super) fn enter_root_of(pid: i32) -> Result<(), InitError> {
    let root = format!("/proc/{pid}/root");
    let id = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    let theirs = id(&root).map_err(|e| InitError::sys(format!("stat {root}"), &e))?;
    let ours = id("/").map_err(|e| InitError::sys("stat /", &e))?;
    if theirs == ours {
        return Ok(());
    }
    berth_sys::path::chroot(std::ffi::OsStr::new(&root))
        .map_err(|e| InitError::sys(format!("chroot {root}"), &e))?;
    berth_sys::path::chdir(std::ffi::OsStr::new("/"))
        .map_err(|e| InitError::sys("chdir / (the container's root)", &e))
}

pub(super) fn process_main(spec: &Spec, preserve_fds: u32, chan: &SyncChannel) -> ! {
    let run = || -> Result<std::convert::Infallible, InitError> {
        // Still berth, already inside the container: keep its processes out of our /proc entries.
        berth_sys::process::set_dumpable(false)
            .map_err(|e| InitError::sys("prctl(PR_SET_DUMPABLE)", &e))?;
        match chan.recv() {
            Ok(Some(SyncMsg::Go { .. })) => {}
            other => {
                return Err(InitError::new(format!(
                    "unexpected message from the runtime: {other:?}"
                )))
            }
        }
        let program = become_process(spec, chan, preserve_fds, false, &[])?;
        chan.send(&SyncMsg::Ready)
            .map_err(|e| InitError::sys("telling the runtime we are ready", &e))?;
        exec_program(&program)
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => chan.fail_and_exit(e),
    }
}

/// Under `--debug`, the CPU affinity the exec'd process starts with (execCPUAffinity.initial,
/// or what it inherited), before it joins the cgroup: what runc's nsexec logs as
/// "affinity: 0x...", and youki's contest looks for.
fn log_initial_affinity(pid: i32) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    match berth_sys::process::sched_getaffinity(pid) {
        Ok(mask) => {
            let words: Vec<String> = mask.iter().rev().map(|w| format!("{w:016x}")).collect();
            let hex = words.concat();
            let hex = hex.trim_start_matches('0');
            log::debug!(
                "exec'd process {pid}: initial CPU affinity: 0x{}",
                if hex.is_empty() { "0" } else { hex }
            );
        }
        Err(e) => log::debug!("exec'd process {pid}: sched_getaffinity: {e}"),
    }
}
