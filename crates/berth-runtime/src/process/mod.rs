//! Starting a container's init: the launcher that clones it (sealed, see [`launcher`]), the
//! namespaces the launcher joins first when the config asks for it, and the handshake with the
//! runtime.
//!
//! ```text
//! runtime ──posix_spawn──▶ launcher ──setns…, unshare(time)──clone(CLONE_PARENT|CLONE_NEW*)──▶ init
//! ```
//! The init is the runtime's child (so `run` can wait for it), and does nothing that needs its
//! cgroup until the runtime has written its id maps and put it there (`Go`).

pub(crate) mod affinity;
pub(crate) mod exec;
pub(crate) mod exec_path;
pub(crate) mod fd_socket;
mod init;
pub(crate) mod launcher;
mod notify_listener;
mod reap;
pub(crate) mod sync;
pub(crate) mod terminal;

pub use exec_path::ProgramError;

pub use reap::{exit_code, wait_for_exit};
pub(crate) use reap::{kill_and_reap, reap, Victim};

use crate::hooks::HookKind;
use crate::namespaces::{Join, NamespacePlan};
use berth_cgroups::CgroupManager;
use berth_spec::BundleConfig;
use berth_sys::clone::{clone_process, exit_now, CloneResult};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
pub use sync::InitError;
use sync::{SyncChannel, SyncMsg};

/// `create`'s flags that shape the init.
#[derive(Debug, Clone, Default)]
pub(crate) struct LaunchOptions {
    /// The container's id (names its session keyring).
    pub id: String,
    /// MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// No new session keyring.
    pub no_new_keyring: bool,
    /// Fds 3..3+N are passed to the container's process.
    pub preserve_fds: u32,
    /// The runtime's descriptors the init closes first thing: above all the state directory's
    /// lock, which an init outliving a killed `create` would otherwise hold for ever (flock
    /// belongs to the open file, shared by the clone), so no `delete` could take it.
    pub runtime_only_fds: Vec<std::os::fd::RawFd>,
    /// The new namespaces the launcher made already (see [`SyncMsg::Unshare`]; the launcher
    /// sets it, the runtime's value is not sent): the init starts in them and unshares only
    /// the rest.
    pub namespaces_made: libc::c_int,
}

/// Starting a container's init or an exec'd process failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// A system call or file the runtime's side of the launch needed failed; `what` names it.
    #[error("{what}")]
    Sys {
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The init (or intermediate, or exec'd process) reported a failure, or died before it was
    /// set up.
    #[error(transparent)]
    Init(#[from] InitError),
    /// Putting the process in its cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::CgroupError),
    /// Applying rlimits or the OOM score from outside failed.
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    /// A prestart or createRuntime hook failed.
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// An ID-mapped bind mount the runtime makes for an init in a user namespace.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// `process.execCPUAffinity` is not valid.
    #[error(transparent)]
    Affinity(#[from] affinity::AffinityError),
}

pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProcessError {
    let what = what.into();
    move |source| ProcessError::Sys { what, source }
}

/// A process berth started: a container's init (from [`Runtime::run`](crate::Runtime::run)) or
/// an exec'd process (from [`Runtime::exec`](crate::Runtime::exec)). It is a child of the
/// calling process.
#[derive(Debug)]
#[non_exhaustive]
pub struct Launched {
    /// Its pid, in the caller's pid namespace.
    pub pid: i32,
    /// The master of the container's terminal, when it has one.
    pub console: Option<OwnedFd>,
}

/// Starts the container's init and waits until it is set up and blocked on exec.fifo.
/// On failure the init is killed and reaped before returning.
///
/// # Safety
///
/// The calling process must be single-threaded: the init (and the intermediate, when there is
/// one) is a copy of the calling thread made with a raw `clone(2)` and runs Rust code (which
/// allocates) before it execs; a lock another thread held at the clone would never be released
/// in the child.
pub unsafe fn launch(
    cfg: &BundleConfig,
    opts: &LaunchOptions,
    fifo: &Path,
    cgroup: &dyn CgroupManager,
    spawner: &mut launcher::Spawner,
) -> Result<Launched, ProcessError> {
    let plan = NamespacePlan::from_spec(&cfg.spec);
    // exec.fifo is held by an O_PATH fd opened here, by the runtime: the init may run as a user
    // (a mapped root in a user namespace, say) that cannot even traverse the state directory.
    // It reopens the fifo through /proc/self/fd, which checks only the fifo's own mode.
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(fifo)
        .map_err(sys(format!("opening {}", fifo.display())))?;
    // Likewise the bind mounts (made here, detached), for an init that will be root of a new
    // user namespace only: it may not be able to reach their sources.
    let bind_sources = if plan.in_user_namespace() {
        crate::rootfs::preopen_bind_sources(&cfg.spec, &cfg.bundle)?
    } else {
        crate::rootfs::PreopenedSources::default()
    };
    let job = launcher::Job::Init {
        bundle: cfg.bundle.clone(),
        config_path: cfg.config_path.clone(),
        rootfs: cfg.rootfs.clone(),
        spec: Box::new(cfg.spec.clone()),
        id: opts.id.clone(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        runtime_only_fds: opts.runtime_only_fds.clone(),
    };
    let fds = launcher::JobFds {
        fifo: Some(OwnedFd::from(fifo)),
        bind_sources: bind_sources.into_slots(),
    };
    // While the launcher makes the init: the cgroup, with its limits, ready to take it.
    // Always set: the device list (deny-all, the spec's rules, linux.devices, the defaults)
    // applies even to a spec without linux.resources.
    let make_cgroup = || -> Result<(), ProcessError> {
        cgroup.apply(0)?;
        cgroup.set(&berth_cgroups::container_resources(&cfg.spec))?;
        Ok(())
    };
    // SAFETY: single-threaded, as this function's caller guarantees.
    let (ours, init_pid) = unsafe { spawner.spawn(job, fds, make_cgroup)? };
    match prepare_and_wait(cfg, &plan, &opts.id, init_pid, &ours, cgroup, spawner) {
        Ok(console) => Ok(Launched {
            pid: init_pid,
            console,
        }),
        Err(e) => {
            kill_and_reap(&Victim::child(init_pid));
            Err(e)
        }
    }
}

/// The first descriptor a container's process must not get: above stdio, the `preserve_fds`
/// the caller passes and those of socket activation (`LISTEN_FDS`, as runc counts them).
pub fn first_unpassed_fd(preserve_fds: u32) -> u32 {
    let listen = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    3u32.saturating_add(preserve_fds.max(listen))
}

/// The new namespaces of a container the launcher can make before it has its job (see
/// [`launcher::Spawner::prepare_namespaces`]): those the init would otherwise unshare itself.
pub(crate) fn namespaces_to_prepare(spec: &oci_spec::runtime::Spec) -> libc::c_int {
    init::deferred_namespaces(&NamespacePlan::from_spec(spec))
}

/// The namespaces a config names by path, in join order.
fn joins_of(plan: &NamespacePlan) -> Vec<Join> {
    plan.joins
        .iter()
        .map(|(t, path)| Join {
            what: format!("linux.namespaces: {t} namespace"),
            path: path.clone(),
            flag: crate::namespaces::clone_flag(*t),
        })
        .collect()
}

/// In the intermediate: a new time namespace, with its offsets, for the init to be cloned into.
fn enter_new_time_namespace(plan: &NamespacePlan) -> Result<(), InitError> {
    if !plan.new_time {
        return Ok(());
    }
    berth_sys::ns::unshare(crate::namespaces::CLONE_NEWTIME)
        .map_err(|e| InitError::sys("linux.namespaces: new time namespace", &e))?;
    if plan.time_offsets.is_empty() {
        return Ok(());
    }
    // The intermediate may have joined a mount namespace a container controls: its /proc (a
    // tmpfs over it, a bind over the file) must not take the write elsewhere
    // (CVE-2025-52881). The file is opened beneath a procfs root verified to be one, or a
    // private instance, crossing no mount and following no magic link.
    let what = "linux.timeOffsets: writing /proc/self/timens_offsets";
    let proc_root = berth_sys::procfs::open_proc_root().map_err(|e| InitError::sys(what, &e))?;
    let fd = berth_sys::procfs::open_in_proc(
        std::os::fd::AsFd::as_fd(&proc_root),
        "self/timens_offsets",
        libc::O_WRONLY,
    )
    .map_err(|e| InitError::sys(what, &e))?;
    std::io::Write::write_all(&mut std::fs::File::from(fd), plan.time_offsets.as_bytes())
        .map_err(|e| InitError::sys(what, &e))
}

/// The intermediate every spawn goes through (the launcher, or a forked copy of a runtime
/// already running sealed), shared by `create` (namespaces joined by path, a new time
/// namespace) and `exec` (every namespace of the container):
///
/// ```text
/// runtime ──▶ intermediate ──setns… , then──clone(CLONE_PARENT | clone_flags)──▶ process
/// ```
/// A pid or time namespace is only entered by children of the process that joined it, hence the
/// intermediate; CLONE_PARENT keeps the runtime the process's parent so it can wait for it. The
/// intermediate sends the process's pid over the sync channel and exits.
/// `process_main` runs in the process and does not return (it execs or exits; should it return,
/// the process exits 1). `what` names the process in errors.
fn intermediate(
    chan: &SyncChannel,
    joins: &[Join],
    then: impl FnOnce() -> Result<(), InitError>,
    clone_flags: libc::c_int,
    what: &str,
    process_main: impl FnOnce(&SyncChannel),
) -> ! {
    // It enters the container's namespaces still running berth: keep the container's
    // processes out of its /proc entries, as the init and exec'd processes do.
    if let Err(e) = berth_sys::process::set_dumpable(false) {
        chan.fail_and_exit(InitError::sys("intermediate: prctl(PR_SET_DUMPABLE)", &e))
    }
    if let Err(e) = crate::namespaces::join_all(joins).and_then(|()| then()) {
        chan.fail_and_exit(e)
    }
    match clone_process(clone_flags | libc::CLONE_PARENT) {
        Ok(CloneResult::Child) => {
            process_main(chan);
            exit_now(1)
        }
        Ok(CloneResult::Parent { child }) => {
            let code = i32::from(chan.send(&SyncMsg::InitPid { pid: child }).is_err());
            exit_now(code)
        }
        Err(e) => chan.fail_and_exit(InitError::sys(format!("clone of {what}"), &e)),
    }
}

/// The runtime's half of the handshake: id maps, cgroup, oom score, then Go; wait for Ready.
/// The init may be setting itself up meanwhile (see `init::may_start_before_go`): when a step
/// here fails, an error the init reported first is the one returned (a cgroup write for an
/// init that already died of a bad mount would only say ESRCH).
fn prepare_and_wait(
    cfg: &BundleConfig,
    plan: &NamespacePlan,
    id: &str,
    pid: i32,
    chan: &SyncChannel,
    cgroup: &dyn CgroupManager,
    spawner: &mut launcher::Spawner,
) -> Result<Option<OwnedFd>, ProcessError> {
    let placed = place_init(cfg, plan, id, pid, chan, cgroup);
    // While the init works until Ready (see Spawner::release_exe).
    spawner.release_exe();
    let hook_state = match placed {
        Ok(state) => state,
        Err(e) => {
            return Err(match chan.try_recv() {
                Ok(Some(SyncMsg::Error { error })) => ProcessError::Init(error),
                _ => e,
            })
        }
    };
    wait_until_ready(cfg, id, pid, chan, hook_state)
}

/// Before Go: id maps, joining the cgroup (made and limited while the launcher worked),
/// affinity, rlimits, OOM score, and Go itself. Returns the hooks' state.
fn place_init(
    cfg: &BundleConfig,
    plan: &NamespacePlan,
    id: &str,
    pid: i32,
    chan: &SyncChannel,
    cgroup: &dyn CgroupManager,
) -> Result<Option<String>, ProcessError> {
    if plan.new_user {
        // The kernel allows each map to be written once, by a process with CAP_SETUID/SETGID over
        // the parent namespace: the runtime, before the init does anything as "root".
        let p = format!("/proc/{pid}/uid_map");
        std::fs::write(&p, &plan.uid_map)
            .map_err(sys(format!("linux.uidMappings: writing {p}")))?;
        let p = format!("/proc/{pid}/gid_map");
        std::fs::write(&p, &plan.gid_map)
            .map_err(sys(format!("linux.gidMappings: writing {p}")))?;
    }
    // Made and limited while the launcher worked (see `launch`): only the pid moves in.
    cgroup.join(pid)?;
    // Not berth's own affinity (a caller under `taskset` would pin the container): every CPU
    // the cgroup's cpuset allows.
    affinity::reset(pid);
    // From outside: in a user namespace the init could not raise its hard limits itself.
    crate::security::set_rlimits(pid, &cfg.spec)?;
    if let Some(score) = cfg.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        crate::security::set_oom_score_adj(pid, score)?;
    }
    let hook_state = cfg
        .spec
        .hooks()
        .is_some()
        .then(|| hook_state_json(&cfg.spec, &cfg.bundle, id, pid, "creating"));
    chan.send(&SyncMsg::Go {
        hook_state: hook_state.clone(),
    })
    .map_err(sys("sending go to the container's init"))?;
    Ok(hook_state)
}

/// After Go: serves the init's requests until it is Ready.
fn wait_until_ready(
    cfg: &BundleConfig,
    id: &str,
    pid: i32,
    chan: &SyncChannel,
    hook_state: Option<String>,
) -> Result<Option<OwnedFd>, ProcessError> {
    let mut console = None;
    loop {
        match chan.recv_with_fd() {
            Ok(Some((SyncMsg::Ready, _))) => return Ok(console),
            Ok(Some((SyncMsg::Console, Some(fd)))) => console = Some(fd),
            Ok(Some((SyncMsg::SeccompNotifyFd, Some(fd)))) => {
                // As runc: the state as of now, `creating`, with the init's pid.
                let state = container_state(&cfg.spec, &cfg.bundle, id, pid, "creating");
                notify_listener::send(&cfg.spec, fd, pid, state)?;
            }
            Ok(Some((SyncMsg::IdmappedSource { index }, _))) => {
                // On failure the caller kills the waiting init.
                let tree = idmapped_tree_for(cfg, pid, index)?;
                chan.send_with_fd(&SyncMsg::IdmappedTree, tree.as_fd())
                    .map_err(sys("sending an ID-mapped mount to the container's init"))?;
            }
            Ok(Some((SyncMsg::RunCreateRuntimeHooks, _))) => {
                let state = hook_state.as_deref().unwrap_or("{}");
                let ran = crate::hooks::run(&cfg.spec, HookKind::Prestart, state)
                    .and_then(|_| crate::hooks::run(&cfg.spec, HookKind::CreateRuntime, state));
                // On failure the caller kills the waiting init.
                ran?;
                chan.send(&SyncMsg::HooksDone)
                    .map_err(sys("telling the container's init the hooks ran"))?;
            }
            other => return Err(unexpected(other.map(|m| m.map(|(m, _)| m)))),
        }
    }
}

/// `mounts[index]`'s ID-mapped tree, made for the init `pid` (root of a user namespace, which
/// cannot ID-map the host's filesystems) by a child of ours that enters its mount namespace, so
/// the source is what the init's earlier mounts made of it (runc does the same on request).
fn idmapped_tree_for(cfg: &BundleConfig, pid: i32, index: usize) -> Result<OwnedFd, ProcessError> {
    let what = format!("mounts[{index}]: making the ID-mapped mount in the init's namespace");
    let Some(m) = cfg.spec.mounts().as_deref().and_then(|l| l.get(index)) else {
        return Err(ProcessError::Init(InitError::new(format!(
            "{what}: no such mount"
        ))));
    };
    let mnt_ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(sys(format!("{what}: opening /proc/{pid}/ns/mnt")))?;
    let (ours, theirs) = SyncChannel::pair().map_err(sys(format!("{what}: socketpair")))?;
    match berth_sys::clone::clone_process(0).map_err(sys(format!("{what}: clone")))? {
        berth_sys::clone::CloneResult::Child => {
            drop(ours);
            let made = berth_sys::ns::setns(mnt_ns.as_fd(), libc::CLONE_NEWNS)
                .map_err(|e| InitError::sys("setns into the init's mount namespace", &e))
                .and_then(|()| {
                    crate::rootfs::idmapped_tree(&cfg.spec, &cfg.bundle, m)
                        .map_err(|e| InitError::from_error(&e))
                });
            match made {
                Ok(tree) => {
                    let code = match theirs.send_with_fd(&SyncMsg::IdmappedTree, tree.as_fd()) {
                        Ok(()) => 0,
                        Err(_) => 1,
                    };
                    berth_sys::clone::exit_now(code)
                }
                Err(e) => theirs.fail_and_exit(e),
            }
        }
        berth_sys::clone::CloneResult::Parent { child } => {
            drop(theirs);
            let got = ours.recv_with_fd();
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
            match got {
                Ok(Some((SyncMsg::IdmappedTree, Some(fd)))) => Ok(fd),
                Ok(Some((SyncMsg::Error { error }, _))) => Err(ProcessError::Init(error)),
                other => Err(ProcessError::Init(InitError::new(format!(
                    "{what}: {}",
                    match other {
                        Ok(None) => "the helper exited without an answer".to_string(),
                        Ok(Some((m, _))) => format!("unexpected message {m:?}"),
                        Err(e) => format!("reading its answer: {e}"),
                    }
                )))),
            }
        }
    }
}

/// The state document hooks read on stdin (the runtime-spec's state, pid in our namespace).
pub fn hook_state_json(
    spec: &oci_spec::runtime::Spec,
    bundle: &Path,
    id: &str,
    pid: i32,
    status: &str,
) -> String {
    container_state(spec, bundle, id, pid, status).to_string()
}

/// The runtime-spec's state of a container (what hooks and a seccomp listener get).
pub(crate) fn container_state(
    spec: &oci_spec::runtime::Spec,
    bundle: &Path,
    id: &str,
    pid: i32,
    status: &str,
) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": spec.version(),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    })
}

pub(crate) fn unexpected(msg: std::io::Result<Option<SyncMsg>>) -> ProcessError {
    match msg {
        Ok(Some(SyncMsg::Error { error })) => ProcessError::Init(error),
        Ok(None) => {
            ProcessError::Init(InitError::new("container init exited before it was set up"))
        }
        Ok(Some(m)) => ProcessError::Init(InitError::new(format!(
            "unexpected message from container init: {m:?}"
        ))),
        Err(e) => ProcessError::Sys {
            what: "reading from container init".into(),
            source: e,
        },
    }
}
