//! `create`: everything up to an init blocked on exec.fifo, or nothing at all.

use super::{io, ContainerError, Runtime};
use crate::process::LaunchOptions;
use crate::state::{process_start_time, ContainerDir, ContainerState};
use berth_cgroups::CgroupManager;
use berth_spec::BundleConfig;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub launch: LaunchOptions,
}

/// What `create_in` made: the state to save, the cgroup and the terminal's master.
type Made = (ContainerState, Box<dyn CgroupManager>, Option<OwnedFd>);

/// A container just created, its state directory still locked by us.
pub(crate) struct Created {
    pub dir: ContainerDir,
    pub state: ContainerState,
    /// The terminal's master for a foreground `run` to proxy.
    pub console: Option<OwnedFd>,
}

impl Runtime {
    /// `berth create`: returns the init's pid.
    pub fn create(
        &self,
        id: &str,
        opts: &CreateOptions,
        foreground: bool,
    ) -> Result<i32, ContainerError> {
        self.create_locked(id, opts, foreground)
            .map(|c| c.state.pid)
    }

    pub(crate) fn create_locked(
        &self,
        id: &str,
        opts: &CreateOptions,
        foreground: bool,
    ) -> Result<Created, ContainerError> {
        berth_spec::validate_container_id(id)?;
        let cfg = berth_spec::load_bundle(&opts.bundle)?;
        self.check_supported(&cfg, opts, foreground)?;
        crate::rootfs::validate(&cfg.spec, &cfg.bundle)?;
        crate::security::validate(&cfg.spec)?;

        let dir = self.root.create(id)?;
        let (state, cgroup, console) = match self.create_in(&dir, &cfg, opts, id) {
            Ok(made) => made,
            Err(e) => {
                let _ = dir.remove();
                return Err(e);
            }
        };
        let saved = dir.save(&state).map_err(ContainerError::from);
        if let Err(e) = saved.and_then(|_| write_pid_file(opts, state.pid)) {
            kill_init(state.pid);
            let _ = cgroup.destroy();
            let _ = dir.remove();
            return Err(e);
        }
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
        if self.systemd_cgroup && !Path::new("/run/systemd/system").is_dir() {
            return Err(ContainerError::Invalid(
                "systemd cgroup flag passed, but systemd support for managing cgroups is not available".into(),
            ));
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
        if detach && terminal && opts.console_socket.is_none() {
            return Err(ContainerError::Invalid(
                "cannot allocate tty if berth will detach without setting console socket".into(),
            ));
        }
        if (!detach || !terminal) && opts.console_socket.is_some() {
            return Err(ContainerError::Invalid(
                "cannot use console socket if berth will not detach or allocate tty".into(),
            ));
        }
        Ok(())
    }

    /// Makes the fifo and the cgroup and launches the init; on failure removes what it made
    /// (the caller removes the state directory).
    fn create_in(
        &self,
        dir: &ContainerDir,
        cfg: &BundleConfig,
        opts: &CreateOptions,
        id: &str,
    ) -> Result<Made, ContainerError> {
        let fifo = dir.fifo_path();
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
        let mut launch = opts.launch.clone();
        launch.id = id.to_string();
        let launched = match crate::process::launch(cfg, &launch, &fifo, cgroup.as_ref()) {
            Ok(l) => l,
            Err(e) => {
                let _ = cgroup.destroy();
                return Err(e.into());
            }
        };
        let pid = launched.pid;
        let mut console = launched.console;
        if let (Some(socket), Some(master)) = (&opts.console_socket, &console) {
            if let Err(e) = crate::process::terminal::send_to_console_socket(socket, master) {
                kill_init(pid);
                let _ = cgroup.destroy();
                return Err(io(format!("--console-socket {}", socket.display()))(e));
            }
            console = None;
        }
        if let Some(master) = &console {
            // A foreground run copies the pty to its own stdout, which a terminal already
            // translates \n → \r\n (and a pipe must get the bytes as written): turn the pty's
            // translation off before the process can write anything, as runc does.
            let _ = berth_sys::tty::clear_onlcr(std::os::fd::AsFd::as_fd(master));
        }
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
        Ok((state, cgroup, console))
    }
}

/// `--pid-file`: written atomically (temp + rename) since engines poll for it.
fn write_pid_file(opts: &CreateOptions, pid: i32) -> Result<(), ContainerError> {
    match &opts.pid_file {
        Some(path) => write_pid_file_at(path, pid),
        None => Ok(()),
    }
}

pub(crate) fn write_pid_file_at(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let path = std::path::absolute(path).map_err(io(format!("--pid-file {}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.berth-tmp"));
    std::fs::write(&tmp, pid.to_string()).map_err(io(format!("--pid-file {}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(io(format!("--pid-file {}", path.display())))
}

/// Kills a just-created init that we are abandoning, and reaps it.
pub(crate) fn kill_init(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    crate::process::reap(pid);
}
