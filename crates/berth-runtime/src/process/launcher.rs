//! The launcher: where a container's init and exec'd processes come from (CVE-2019-5736).
//!
//! Those processes run berth's code inside the container until they exec its program, so they
//! must not be clones of an image a container could write to (see [`crate::exe_seal`]). At
//! the start of `create`, `run` and `exec` the runtime starts a child that executes berth again
//! from a read-only detached mount of its executable (or a sealed memfd copy), with
//! posix_spawn: the launcher.
//! While the launcher's `execve` runs (half a millisecond or more, the kernel's work), the
//! runtime goes on loading the config, making the state directory and the cgroup; then it
//! sends the launcher its one job, the launcher clones the process with `CLONE_PARENT` (so the
//! runtime stays its parent and can wait for it) and exits:
//!
//! ```text
//! runtime ──posix_spawn(sealed berth)──▶ launcher ──setns…──clone(CLONE_PARENT|CLONE_NEW*)──▶ init
//! ```
//!
//! The launcher is the intermediate of every spawn: it joins the namespaces a config names by
//! path (or, for `exec`, those of the container), unshares a new time namespace, then clones.
//! A runtime whose own executable is already a sealed memfd forks the intermediate instead.
//!
//! The job crosses as JSON in a memfd (a config has no size limit), with the descriptors it
//! needs: the process's end of the sync channel, exec.fifo, the bind mounts made beforehand.
//!
//! A program that embeds the runtime must call [`launcher_entry`] first thing in `main`: the
//! launcher is that program, executed again, and becomes the launcher there.

use super::sync::{InitError, SyncChannel, SyncMsg};
use super::{exec, init, reap, sys, unexpected, LaunchOptions, ProcessError};
use crate::exe_seal::{ExeProtection, ExeSealError};
use crate::namespaces::{Join, NamespacePlan};
use berth_spec::BundleConfig;
use berth_sys::clone::{clone_process, exit_now, CloneResult};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Set in the launcher's environment: `CHANNEL_FD,EXE_FD`.
const LAUNCHER_ENV: &str = "_BERTH_LAUNCHER";

/// What went wrong when a launcher runs the embedding program's own code.
const NO_ENTRY: &str = "berth_runtime::launcher_entry() must be called first in the program's main";

/// What to start, as the launcher (or a forked intermediate) receives it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Job {
    /// A container's init.
    Init {
        bundle: PathBuf,
        config_path: PathBuf,
        rootfs: PathBuf,
        spec: Box<Spec>,
        id: String,
        no_pivot: bool,
        no_new_keyring: bool,
        preserve_fds: u32,
        /// Descriptors of the runtime the init closes first (only a forked intermediate has
        /// them: the launcher was started before they were opened).
        runtime_only_fds: Vec<RawFd>,
    },
    /// A process `exec`'d into the container whose init is `init_pid`.
    Exec {
        spec: Box<Spec>,
        preserve_fds: u32,
        init_pid: i32,
        joins: Vec<Join>,
        /// chroot into the init's root first (a container without its own mount namespace).
        enter_root: bool,
        /// `process.execCPUAffinity.initial`, set before the process joins the cgroup.
        initial_affinity: Option<Vec<u64>>,
    },
}

/// The descriptors a job needs besides the sync channel.
#[derive(Debug, Default)]
pub(crate) struct JobFds {
    /// exec.fifo (an init's).
    pub fifo: Option<OwnedFd>,
    /// The bind mounts made by the runtime, one slot per `mounts` entry (an init's).
    pub bind_sources: Vec<Option<OwnedFd>>,
}

/// The job and the layout of the descriptors that follow it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    job: Job,
    fifo: bool,
    bind_sources: Vec<bool>,
    /// The runtime's signal mask as it sends the job (see [`signal_mask`]): the launcher
    /// takes it before it clones, as if it had been started then.
    sigmask: u64,
}

/// How a container's processes are started: through the launcher, or (when this process's
/// executable is already a sealed memfd) through a forked intermediate.
#[derive(Debug)]
pub(crate) enum Spawner {
    Fork,
    Launcher(Started),
}

/// A launcher started and not yet given its job. Dropped unused, it is killed and reaped.
#[derive(Debug)]
pub(crate) struct Started {
    pid: i32,
    chan: Option<SyncChannel>,
    /// Our copy of the detached mount the launcher was executed from (see
    /// [`Spawner::release_exe`]).
    exe: Option<OwnedFd>,
    /// The namespaces it was asked to make ([`Spawner::prepare_namespaces`]): asked once.
    namespaces_made: libc::c_int,
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(chan) = self.chan.take() {
            drop(chan);
            super::kill_and_reap(&super::Victim::child(self.pid));
        }
    }
}

/// A launcher started ahead of the call that uses it. A program that knows early that it will
/// create, run or exec (before it parses its arguments, say) starts one then, so that the
/// launcher's start overlaps that work, and hands it to [`crate::Runtime::run_with`],
/// [`crate::Runtime::create_with`] or [`crate::Runtime::exec_with`]. Dropped unused, it is
/// killed and reaped. It inherits what any child would (the environment, the descriptors not
/// marked close-on-exec): before it clones the container's process it closes every descriptor
/// above stdio and the preserved ones, and takes the signal mask the runtime has when it sends
/// the job.
#[derive(Debug)]
pub struct Launcher(pub(crate) Spawner);

impl Launcher {
    /// Starts the launcher (see [`Launcher`]).
    pub fn start() -> Result<Launcher, ProcessError> {
        Spawner::start().map(Launcher)
    }

    /// The spawner of a create, run or exec: `early`'s, or one started now.
    pub(crate) fn or_start(early: Option<Launcher>) -> Result<Spawner, ProcessError> {
        match early {
            Some(l) => Ok(l.0),
            None => Spawner::start(),
        }
    }
}

fn seal_err(e: ExeSealError) -> ProcessError {
    ProcessError::Init(InitError::from_error(&e))
}

impl Spawner {
    /// Starts the launcher (see the module docs; posix_spawn, so it keeps our signal mask and
    /// costs us no copy of our address space), or picks the fork when this process runs from
    /// a sealed memfd already. Called as early as possible: the launcher's exec overlaps with
    /// what the caller does until it sends the job.
    pub(crate) fn start() -> Result<Spawner, ProcessError> {
        if std::env::var_os(LAUNCHER_ENV).is_some() {
            // Started as a launcher, yet here: the program never called launcher_entry. Going
            // on would start a launcher of a launcher, each running the program again.
            return Err(ProcessError::Init(InitError::new(NO_ENTRY)));
        }
        if crate::exe_seal::exe_protection().map_err(seal_err)? == ExeProtection::SealedMemfd {
            return Ok(Spawner::Fork);
        }
        let exe = crate::exe_seal::sealed_exe().map_err(seal_err)?;
        let (ours, theirs) = SyncChannel::pair().map_err(sys("socketpair"))?;
        let nul = |_| {
            ProcessError::Init(InitError::new(
                "an argument or environment variable contains a NUL byte",
            ))
        };
        // The caller's arguments, unused by the launcher: `ps` shows the init (a clone of it)
        // as the command that made it, as it did when the init was a clone of the runtime.
        let mut argv = std::env::args_os()
            .map(|a| CString::new(a.into_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(nul)?;
        if argv.is_empty() {
            argv.push(CString::new("berth").map_err(nul)?);
        }
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            if k == LAUNCHER_ENV {
                continue;
            }
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            envp.push(CString::new(kv.into_vec()).map_err(nul)?);
        }
        envp.push(
            CString::new(format!(
                "{LAUNCHER_ENV}={},{}",
                theirs.as_raw_fd(),
                exe.as_raw_fd()
            ))
            .map_err(nul)?,
        );
        let pid =
            berth_sys::exe::spawn_fd(exe.as_fd(), &argv, &envp, &[theirs.as_fd(), exe.as_fd()])
                .map_err(sys("executing berth's sealed copy (the launcher)"))?;
        Ok(Spawner::Launcher(Started {
            pid,
            chan: Some(ours),
            exe: Some(exe),
            namespaces_made: 0,
        }))
    }

    /// Has the launcher make the new namespaces `flags` names now (see [`SyncMsg::Unshare`]),
    /// while this process goes on preparing the job: the init is then cloned into them
    /// instead of making them itself. Creating a network namespace is the longest of these
    /// (about half a millisecond here), and the launcher would otherwise only wait for its
    /// job meanwhile. A forked intermediate (no launcher) leaves them to the init. At most
    /// once, before [`Spawner::spawn`]. A launcher that cannot be told (it died) is left to
    /// [`Spawner::spawn`], which reports it.
    pub(crate) fn prepare_namespaces(&mut self, flags: libc::c_int) {
        let Spawner::Launcher(launcher) = self else {
            return;
        };
        if flags == 0 || launcher.namespaces_made != 0 {
            return;
        }
        if let Some(chan) = &launcher.chan {
            if chan.send(&SyncMsg::Unshare { flags }).is_ok() {
                launcher.namespaces_made = flags;
            }
        }
    }

    /// The launcher's pid, while it waits for its job (none for a forked intermediate, which
    /// does not exist yet): a process put in a cgroup now has its clone born there.
    pub(crate) fn launcher_pid(&self) -> Option<i32> {
        match self {
            Spawner::Launcher(l) if l.chan.is_some() => Some(l.pid),
            _ => None,
        }
    }

    /// Closes our copy of the detached mount the launcher was executed from. The launcher
    /// closes its own before it clones anything, so whichever of us closes last dissolves the
    /// mount (out of every namespace from then on, so no one can remount it writable), and
    /// that close sleeps for an RCU grace period (0.1 to 0.7 ms here). Closed by the caller
    /// where it would wait anyway, and always before a container process can run its program:
    /// `create` once Go is sent (the init works until Ready), `exec` once the job is sent (the
    /// launcher works until it reports the pid).
    pub(crate) fn release_exe(&mut self) {
        if let Spawner::Launcher(l) = self {
            l.exe = None;
        }
    }

    /// Starts `job`'s process: the launcher (or a forked intermediate) joins what the job
    /// names, clones the process as a child of ours and reports its pid. Returns our end of
    /// the process's sync channel and its pid. `meanwhile` runs while the launcher works, once
    /// the job is sent; when it fails, the process (if it was started) is killed and its
    /// error returned.
    ///
    /// # Safety
    ///
    /// The calling process must be single-threaded: without a launcher ([`Spawner::Fork`]) it
    /// is forked, and the child runs Rust code (which allocates).
    pub(crate) unsafe fn spawn(
        &mut self,
        mut job: Job,
        fds: JobFds,
        meanwhile: impl FnOnce() -> Result<(), ProcessError>,
    ) -> Result<(SyncChannel, i32), ProcessError> {
        let release_now = matches!(job, Job::Exec { .. });
        let (ours, theirs) = SyncChannel::pair().map_err(sys("socketpair"))?;
        let intermediate = match self {
            Spawner::Fork => match clone_process(0).map_err(sys("fork"))? {
                CloneResult::Child => {
                    drop(ours);
                    run_job(job, fds, &theirs, 0)
                }
                CloneResult::Parent { child } => child,
            },
            Spawner::Launcher(launcher) => {
                let Some(chan) = launcher.chan.take() else {
                    return Err(ProcessError::Init(InitError::new(
                        "the launcher was given its job already",
                    )));
                };
                if let Job::Init {
                    runtime_only_fds, ..
                } = &mut job
                {
                    runtime_only_fds.clear();
                }
                if let Err(e) = send_job(&chan, job, theirs.as_fd(), fds) {
                    let why = ProcessError::Init(InitError::context(
                        format!("the launcher exited before taking its job ({NO_ENTRY}?)"),
                        &e,
                    ));
                    // It died before taking the job (posix_spawn reported a failed exec
                    // already, so this is rare): nothing of the container exists yet.
                    super::kill_and_reap(&super::Victim::child(launcher.pid));
                    return Err(why);
                }
                if release_now {
                    launcher.exe = None;
                }
                launcher.pid
            }
        };
        drop(theirs);
        let done_meanwhile = meanwhile();
        let msg = ours.recv();
        reap(intermediate);
        match (msg, done_meanwhile) {
            (Ok(Some(SyncMsg::InitPid { pid })), Ok(())) => Ok((ours, pid)),
            (Ok(Some(SyncMsg::InitPid { pid })), Err(e)) => {
                super::kill_and_reap(&super::Victim::child(pid));
                Err(e)
            }
            (_, Err(e)) => Err(e),
            (other, Ok(())) => Err(unexpected(other)),
        }
    }
}

fn send_job(
    chan: &SyncChannel,
    job: Job,
    process_chan: BorrowedFd<'_>,
    fds: JobFds,
) -> Result<(), ProcessError> {
    let envelope = Envelope {
        job,
        fifo: fds.fifo.is_some(),
        bind_sources: fds.bind_sources.iter().map(Option::is_some).collect(),
        sigmask: berth_sys::process::signal_mask().map_err(sys("pthread_sigmask"))?,
    };
    let json = serde_json::to_vec(&envelope)
        .map_err(|e| sys("encoding the launcher's job")(std::io::Error::other(e)))?;
    let memfd = berth_sys::exe::memfd_create(c"berth-job", berth_sys::exe::MFD_CLOEXEC)
        .map_err(sys("memfd_create for the launcher's job"))?;
    let mut file = std::fs::File::from(memfd);
    file.write_all(&json)
        .map_err(sys("writing the launcher's job"))?;
    let mut list = vec![file.as_fd(), process_chan];
    list.extend(fds.fifo.iter().map(|f| f.as_fd()));
    list.extend(fds.bind_sources.iter().flatten().map(|f| f.as_fd()));
    chan.send_with_fds(&SyncMsg::Job, &list)
        .map_err(sys("sending the launcher its job"))
}

/// The job, the process's end of its sync channel, the job's descriptors and the runtime's
/// signal mask.
type Received = (Job, SyncChannel, JobFds, u64);

/// Receives the job. New namespaces asked for before it ([`SyncMsg::Unshare`]) are made on
/// the way, into `namespaces_made` (or the failure, to report once the job, and with it the
/// channel to report on, has come).
fn recv_job(
    chan: &SyncChannel,
    namespaces_made: &mut Result<libc::c_int, std::io::Error>,
) -> Result<Option<Received>, InitError> {
    let what = "launcher: receiving the job";
    let (msg, fds) = loop {
        let Some((msg, fds)) = chan.recv_with_fds().map_err(|e| InitError::sys(what, &e))? else {
            return Ok(None);
        };
        match msg {
            SyncMsg::Unshare { flags } => {
                *namespaces_made = berth_sys::ns::unshare(flags).map(|()| flags);
            }
            msg => break (msg, fds),
        }
    };
    if msg != SyncMsg::Job {
        return Err(InitError::new(format!(
            "{what}: unexpected message {msg:?}"
        )));
    }
    let mut fds = fds.into_iter();
    let (Some(memfd), Some(process_chan)) = (fds.next(), fds.next()) else {
        return Err(InitError::new(format!("{what}: descriptors missing")));
    };
    let mut file = std::fs::File::from(memfd);
    let mut json = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut json))
        .map_err(|e| InitError::sys(what, &e))?;
    let envelope: Envelope = serde_json::from_slice(&json)
        .map_err(|e| InitError::new(format!("{what}: decoding it: {e}")))?;
    let fifo = if envelope.fifo { fds.next() } else { None };
    let bind_sources = envelope
        .bind_sources
        .iter()
        .map(|present| if *present { fds.next() } else { None })
        .collect();
    Ok(Some((
        envelope.job,
        SyncChannel::from(process_chan),
        JobFds { fifo, bind_sources },
        envelope.sigmask,
    )))
}

/// Becomes the launcher when this process is one (started by the runtime of the same program,
/// see the module docs): serves its one job and exits, never returning. Otherwise returns at
/// once.
///
/// **A program that embeds the runtime and creates containers or execs into them must call
/// this first thing in `main`**, while it is single-threaded; the `berth` command does.
pub fn launcher_entry() {
    let Some(value) = std::env::var_os(LAUNCHER_ENV) else {
        return;
    };
    // Single-threaded here (the caller's contract), so changing the environment is sound.
    std::env::remove_var(LAUNCHER_ENV);
    let fds = value
        .to_str()
        .and_then(|v| v.split_once(','))
        .and_then(|(c, e)| Some((c.parse::<RawFd>().ok()?, e.parse::<RawFd>().ok()?)));
    let Some((chan_fd, exe_fd)) = fds else {
        exit_now(1)
    };
    // The detached mount we were executed from: closed before anything else, so it belongs to
    // no namespace (and cannot be remounted) by the time any container process exists. Our
    // running image keeps its file open; a memfd copy likewise.
    let _ = nix::unistd::close(exe_fd);
    // SAFETY: the runtime that executed us passed this descriptor for us alone.
    let chan = SyncChannel::from(unsafe { OwnedFd::from_raw_fd(chan_fd) });
    let mut namespaces_made = Ok(0);
    let received = recv_job(&chan, &mut namespaces_made);
    drop(chan);
    let (job, process_chan, fds, sigmask) = match received {
        Ok(Some(r)) => r,
        // The runtime gave up before sending a job (a refused config): nothing to do.
        Ok(None) => exit_now(0),
        Err(_) => exit_now(1),
    };
    // Above the fds the process keeps (3 .. 3+preserve_fds): a caller that asked for more than
    // it had open would otherwise hand the container one of these.
    let keep = match &job {
        Job::Init { preserve_fds, .. } | Job::Exec { preserve_fds, .. } => *preserve_fds,
    };
    let min = 3 + keep as RawFd;
    let lift = |fd: OwnedFd| -> OwnedFd {
        if fd.as_raw_fd() >= min {
            return fd;
        }
        berth_sys::fd::dup_at_least(fd.as_fd(), min).unwrap_or(fd)
    };
    let process_chan = SyncChannel::from(lift(OwnedFd::from(process_chan)));
    let fds = JobFds {
        fifo: fds.fifo.map(lift),
        bind_sources: fds.bind_sources.into_iter().map(|f| f.map(lift)).collect(),
    };
    // A launcher started early (see [`Launcher`]) inherited every descriptor of its caller
    // not marked close-on-exec: none but stdio, the preserved ones (and socket activation's)
    // and the job's own may reach the container's process (CVE-2024-21626).
    let first = super::first_unpassed_fd(keep);
    let mut own = vec![process_chan.as_raw_fd()];
    own.extend(fds.fifo.iter().map(|f| f.as_raw_fd()));
    own.extend(fds.bind_sources.iter().flatten().map(|f| f.as_raw_fd()));
    if let Err(e) = berth_sys::fd::close_from_except(first as RawFd, &own) {
        process_chan.fail_and_exit(InitError::sys(
            "launcher: closing inherited descriptors",
            &e,
        ))
    }
    if let Err(e) = berth_sys::process::set_signal_mask(sigmask) {
        process_chan.fail_and_exit(InitError::sys("launcher: pthread_sigmask", &e))
    }
    match crate::exe_seal::exe_protection() {
        Ok(ExeProtection::ReadOnlyMount | ExeProtection::SealedMemfd) => {}
        Ok(_) => process_chan.fail_and_exit(InitError::from_error(&ExeSealError::NotSealed)),
        Err(e) => process_chan.fail_and_exit(InitError::from_error(&e)),
    }
    let namespaces_made = match namespaces_made {
        Ok(flags) => flags,
        Err(e) => {
            process_chan.fail_and_exit(InitError::sys("linux.namespaces: new namespaces", &e))
        }
    };
    run_job(job, fds, &process_chan, namespaces_made)
}

/// In the launcher or a forked intermediate: starts the job's process (never returns).
/// `namespaces_made`: the new namespaces this process made already, which the init starts in.
fn run_job(job: Job, fds: JobFds, chan: &SyncChannel, namespaces_made: libc::c_int) -> ! {
    match job {
        Job::Init {
            bundle,
            config_path,
            rootfs,
            spec,
            id,
            no_pivot,
            no_new_keyring,
            preserve_fds,
            runtime_only_fds,
        } => {
            let cfg = BundleConfig {
                bundle,
                config_path,
                spec: *spec,
                rootfs,
            };
            let plan = NamespacePlan::from_spec(&cfg.spec);
            let opts = LaunchOptions {
                id,
                no_pivot,
                no_new_keyring,
                preserve_fds,
                runtime_only_fds,
                namespaces_made,
            };
            let Some(fifo) = fds.fifo else {
                chan.fail_and_exit(InitError::new("launcher: exec.fifo was not passed"))
            };
            let bind_sources = crate::rootfs::PreopenedSources::from_slots(fds.bind_sources);
            let joins = super::joins_of(&plan);
            // What the init unshares itself is left out of its clone.
            let clone_flags = plan.clone_flags & !init::deferred_namespaces(&plan);
            super::intermediate(
                chan,
                &joins,
                || super::enter_new_time_namespace(&plan),
                clone_flags,
                "the container init",
                |c| init::run(&cfg, &plan, &opts, fifo, &bind_sources, c),
            )
        }
        Job::Exec {
            spec,
            preserve_fds,
            init_pid,
            joins,
            enter_root,
            initial_affinity,
        } => super::intermediate(
            chan,
            &joins,
            || {
                if enter_root {
                    exec::enter_root_of(init_pid)?;
                }
                // The process's affinity until it is in the cgroup.
                match &initial_affinity {
                    Some(mask) => berth_sys::process::sched_setaffinity(0, mask).map_err(|e| {
                        InitError::sys("process.execCPUAffinity.initial: sched_setaffinity", &e)
                    }),
                    None => Ok(()),
                }
            },
            0,
            "the exec'd process",
            |c| exec::process_main(&spec, preserve_fds, c),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_that_runs_the_programs_code_refuses_to_start_another() {
        // What a program that never calls launcher_entry() does when started as a launcher:
        // it must not start a launcher of its own (each would run the program again).
        std::env::set_var(LAUNCHER_ENV, "3,4");
        let started = Spawner::start();
        std::env::remove_var(LAUNCHER_ENV);
        let e = started.expect_err("a launcher inside a launcher");
        assert!(e.to_string().contains("launcher_entry()"), "{e}");
    }
}
