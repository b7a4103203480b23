//! `create`: everything up to an init blocked on exec.fifo, or nothing at all.

use super::{io, ContainerError, Runtime};
use crate::process::LaunchOptions;
use crate::state::{process_start_time, ContainerDir, ContainerState};
use berth_cgroups::CgroupManager;
use berth_spec::BundleConfig;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How to create a container (runc's `create` flags). Build it with [`CreateOptions::new`] and
/// set the fields that differ from the defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// The bundle directory, holding `config.json`.
    pub bundle: PathBuf,
    /// An AF_UNIX socket that receives the master of the container's terminal (for a detached
    /// container with `process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// A file to write the init's pid to (atomically).
    pub pid_file: Option<PathBuf>,
    /// Move the root with MS_MOVE and chroot instead of pivot_root (for a ramdisk root).
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one named after the container.
    pub no_new_keyring: bool,
    /// Pass the caller's fds 3..3+N to the container's process.
    pub preserve_fds: u32,
    /// An AF_UNIX socket that receives a pidfd of the init (runc 1.5's `--pidfd-socket`).
    pub pidfd_socket: Option<PathBuf>,
}

impl CreateOptions {
    /// The defaults for the bundle at `bundle`.
    pub fn new(bundle: impl Into<PathBuf>) -> CreateOptions {
        CreateOptions {
            bundle: bundle.into(),
            ..CreateOptions::default()
        }
    }
}

/// A container just created, its state directory still locked by us.
pub(crate) struct Created {
    pub dir: ContainerDir,
    pub state: ContainerState,
    /// The terminal's master for a foreground `run` to proxy.
    pub console: Option<OwnedFd>,
}

impl Runtime {
    /// `berth create`: sets up the container `id` from `opts.bundle` up to its init blocked on
    /// `exec.fifo`, saves its state and returns the init's pid. The init is a child of the calling
    /// process (see [`crate::wait_for_exit`]). A terminal (`process.terminal`) needs
    /// `opts.console_socket`. On failure nothing is left behind.
    ///
    /// The calling process must be single-threaded (the init is cloned from it): with more than
    /// one thread this fails with [`ContainerError::MultiThreaded`] before anything is made.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<i32, ContainerError> {
        self.create_with(id, opts, None)
    }

    /// [`create`](Runtime::create) with a [`Launcher`](crate::Launcher) started beforehand
    /// (none: one is started here).
    pub fn create_with(
        &self,
        id: &str,
        opts: &CreateOptions,
        launcher: Option<crate::Launcher>,
    ) -> Result<i32, ContainerError> {
        self.create_locked(id, opts, false, launcher)
            .map(|c| c.state.pid)
    }

    pub(crate) fn create_locked(
        &self,
        id: &str,
        opts: &CreateOptions,
        foreground: bool,
        launcher: Option<crate::Launcher>,
    ) -> Result<Created, ContainerError> {
        berth_spec::validate_container_id(id)?;
        super::ensure_single_threaded()?;
        // First: the launcher's exec runs while the config is loaded and the cgroup made.
        let mut spawner = crate::Launcher::or_start(launcher)?;
        let cfg = berth_spec::load_bundle(&opts.bundle)?;
        self.check_supported(&cfg, opts, foreground)?;
        crate::rootfs::validate(&cfg.spec, &cfg.bundle)?;
        crate::security::validate(&cfg.spec)?;
        // The launcher makes the init's new namespaces while we make the state directory and
        // open the cgroup.
        spawner.prepare_namespaces(crate::process::namespaces_to_prepare(&cfg.spec));

        let mut made = HalfMade {
            dir: Some(self.root.create(id)?),
            cgroup: None,
            init: None,
        };
        let (state, console) = self.create_in(&mut made, &cfg, opts, id, &mut spawner)?;
        if let Some(dir) = &made.dir {
            dir.save(&state)?;
        }
        write_pid_file(opts, state.pid)?;
        let dir = made.disarm().ok_or_else(|| {
            ContainerError::Invalid(format!("container {id:?}: state directory lost"))
        })?;
        Ok(Created {
            dir,
            state,
            console,
        })
    }

    /// Refuses what this build cannot honour, before anything is made.
    fn check_supported(
        &self,
        cfg: &BundleConfig,
        opts: &CreateOptions,
        foreground: bool,
    ) -> Result<(), ContainerError> {
        if self.systemd_cgroup && !berth_cgroups::systemd_is_running() {
            return Err(ContainerError::SystemdNotRunning);
        }
        // The same rules as runc: a detached container's terminal must go to a console socket,
        // and a console socket is only for a detached container with a terminal.
        let terminal = cfg
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        let detach = !foreground;
        super::check_console_socket(terminal, detach, opts.console_socket.is_some())
    }

    /// Makes the fifo and the cgroup and launches the init, recording each in `made`.
    fn create_in(
        &self,
        made: &mut HalfMade,
        cfg: &BundleConfig,
        opts: &CreateOptions,
        id: &str,
        spawner: &mut crate::process::launcher::Spawner,
    ) -> Result<(ContainerState, Option<OwnedFd>), ContainerError> {
        let fifo = self.root.fifo_path(id);
        // 0622: the init writes to it after switching to the container's user.
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| io(format!("creating {}", fifo.display()))(e.into()))?;
        // mkfifo honours the umask; the init may run as any user.
        std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .map_err(io(format!("chmod {}", fifo.display())))?;
        let cgroups_path = cfg
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_ref());
        let cgroup = berth_cgroups::open_for_container(
            cgroups_path.map(|p| p.to_string_lossy()).as_deref(),
            id,
            self.systemd_cgroup,
        )?;
        // Checked before the guard owns the cgroup: a refused create leaves someone else's
        // cgroup as it found it.
        check_existing_cgroup(&*cgroup)?;
        // Before the cgroup exists: if this process is killed from here on, `delete` finds the
        // cgroup through this record (the HalfMade guard cannot run then).
        if let Some(dir) = &made.dir {
            dir.save_placement(&cgroup.placement())?;
        }
        let cgroup: &dyn CgroupManager = &**made.cgroup.insert(cgroup);
        let launch = LaunchOptions {
            id: id.to_string(),
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            runtime_only_fds: made.dir.iter().map(|d| d.lock_fd()).collect(),
            namespaces_made: 0,
        };
        // SAFETY: the process is single-threaded (ensure_single_threaded in create_locked, and
        // nothing since has started a thread).
        let launched = unsafe { crate::process::launch(cfg, &launch, &fifo, cgroup, spawner)? };
        let pid = launched.pid;
        made.init = Some(pid);
        let console = super::hand_over_console(opts.console_socket.as_deref(), launched.console)?;
        super::hand_over_pidfd(opts.pidfd_socket.as_deref(), pid, "standard")?;
        let state = ContainerState {
            oci_version: cfg.spec.version().clone(),
            id: id.to_string(),
            pid,
            init_start_time: process_start_time(pid).unwrap_or(0),
            bundle: cfg.bundle.clone(),
            rootfs: cfg.rootfs.clone(),
            created: crate::timefmt::now_rfc3339(),
            owner: String::new(),
            annotations: cfg
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            cgroup: Some(cgroup.placement()),
            config: cfg.spec.clone(),
        };
        Ok((state, console))
    }
}

/// A cgroup that exists before the container does: refused when frozen (the init would hang
/// in it, in state D), and refused when processes already live there, as runc does since 1.2
/// (runc 1.1 only warned with cgroupfs; sharing a cgroup ties the processes' lifetimes,
/// limits and accounting to the new container's, and the systemd driver cannot do it at all).
fn check_existing_cgroup(cgroup: &dyn CgroupManager) -> Result<(), ContainerError> {
    // The freezer may be the only hierarchy where the cgroup exists: asked first, always.
    if cgroup.is_frozen()? {
        return Err(ContainerError::CgroupFrozen);
    }
    if cgroup.exists() {
        let n = cgroup.pids().map(|p| p.len()).unwrap_or(0);
        if n > 0 {
            return Err(ContainerError::CgroupNotEmpty(n));
        }
    }
    Ok(())
}

/// `--pid-file`: written atomically (temp + rename) since engines poll for it.
fn write_pid_file(opts: &CreateOptions, pid: i32) -> Result<(), ContainerError> {
    match &opts.pid_file {
        Some(path) => write_pid_file_at(path, pid),
        None => Ok(()),
    }
}

pub(crate) fn write_pid_file_at(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContainerError::PidFile { path, source }
    };
    let path = std::path::absolute(path).map_err(failed(path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.berth-tmp"));
    std::fs::write(&tmp, pid.to_string()).map_err(failed(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(failed(&path))
}

/// A container being made. Until [`HalfMade::disarm`], dropping it undoes what exists so far:
/// the init is killed and reaped, the cgroup removed, the state directory removed.
struct HalfMade {
    dir: Option<ContainerDir>,
    cgroup: Option<Box<dyn CgroupManager>>,
    init: Option<i32>,
}

impl HalfMade {
    /// The container is complete: keep everything, hand back its (still locked) directory.
    fn disarm(mut self) -> Option<ContainerDir> {
        self.init = None;
        self.cgroup = None;
        self.dir.take()
    }
}

impl Drop for HalfMade {
    fn drop(&mut self) {
        if let Some(pid) = self.init.take() {
            crate::process::kill_and_reap(&crate::process::Victim::child(pid));
        }
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}
