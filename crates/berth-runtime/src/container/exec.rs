//! `exec`: runs another process in a created or running container.

use super::{io, ContainerError, Runtime};
use crate::process::Launched;
use crate::state::Status;
use oci_spec::runtime::Process;
use std::path::PathBuf;

/// What the caller asked for; the process comes from `--process FILE` or from the container's
/// own process with the command-line overrides (see [`process_from_args`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// The process to start (runtime-spec `process`).
    pub process: Process,
    /// The caller will not wait for the process: a terminal then needs `console_socket`.
    pub detach: bool,
    /// A file to write the process's pid to (atomically).
    pub pid_file: Option<PathBuf>,
    /// An AF_UNIX socket that receives the master of the process's terminal.
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3..3+N to the process.
    pub preserve_fds: u32,
}

impl ExecOptions {
    /// The defaults for running `process` in the foreground.
    pub fn new(process: Process) -> ExecOptions {
        ExecOptions {
            process,
            ..ExecOptions::default()
        }
    }
}

/// Command-line overrides of `exec` (runc's flags).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOverrides {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// Extra environment, `NAME=VALUE`, after the container's.
    pub env: Vec<String>,
    /// The working directory, instead of the container's.
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`
    pub user: Option<String>,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities to add to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Set no_new_privs.
    pub no_new_privs: bool,
}

impl ExecOverrides {
    /// Running `args` with the container's settings otherwise.
    pub fn new(args: Vec<String>) -> ExecOverrides {
        ExecOverrides {
            args,
            ..ExecOverrides::default()
        }
    }
}

impl Runtime {
    /// Loads `--process FILE` (`-` for stdin is not offered: engines pass a file).
    pub fn exec_process_from_file(
        &self,
        path: &std::path::Path,
    ) -> Result<Process, ContainerError> {
        let bytes = std::fs::read(path).map_err(io(format!("--process {}", path.display())))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ContainerError::Invalid(format!(
                "--process {}: malformed process JSON: {e}",
                path.display()
            ))
        })
    }

    /// The container's process with `overrides` applied, as runc builds an exec's process.
    pub fn exec_process_from_args(
        &self,
        id: &str,
        o: &ExecOverrides,
    ) -> Result<Process, ContainerError> {
        let state = self.peek_saved(id, format_args!("{id:?}"))?;
        let base = state.config.process().clone().unwrap_or_default();
        process_from_args(&base, o)
    }

    /// `berth exec`: starts `opts.process` in the created or running container `id` and returns
    /// once it has exec'd, with its pid and, for a foreground process with a terminal (`detach`
    /// false), the master of its pty. The process is a child of the calling process: waiting for
    /// it (see [`crate::wait_for_exit`]), forwarding signals and proxying its terminal are the
    /// caller's; this call leaves the caller's signal mask and stdio alone.
    ///
    /// The calling process must be single-threaded: with more than one thread this fails with
    /// [`ContainerError::MultiThreaded`] before anything is started.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<Launched, ContainerError> {
        let state = self.peek_saved(id, format_args!("{id:?}"))?;
        match self.status_of(&state) {
            Status::Created | Status::Running => {}
            Status::Paused => {
                return Err(ContainerError::WrongState(
                    "cannot exec in a paused container".into(),
                ))
            }
            _ => {
                return Err(ContainerError::WrongState(
                    "cannot exec in a stopped container".into(),
                ))
            }
        }
        let terminal = opts.process.terminal().unwrap_or(false);
        if opts.detach && terminal && opts.console_socket.is_none() {
            return Err(ContainerError::Invalid(
                "cannot allocate tty if berth will detach without setting console socket".into(),
            ));
        }
        if (!opts.detach || !terminal) && opts.console_socket.is_some() {
            return Err(ContainerError::Invalid(
                "cannot use console socket if berth will not detach or allocate tty".into(),
            ));
        }
        match opts.process.args() {
            Some(a) if !a.is_empty() && !a[0].is_empty() => {}
            _ => {
                return Err(ContainerError::Invalid(
                    "exec: args must not be empty".into(),
                ))
            }
        }
        // The container's config with this process; sysctls were the init's business.
        let mut spec = state.config.clone();
        spec.set_process(Some(opts.process.clone()));
        if let Some(linux) = spec.linux_mut() {
            linux.set_sysctl(None);
        }
        crate::security::validate(&spec)?;
        let placement = state
            .cgroup
            .as_ref()
            .ok_or_else(|| ContainerError::Invalid("container has no cgroup recorded".into()))?;
        let cgroup = berth_cgroups::from_placement(placement)?;
        super::ensure_single_threaded()?;
        // SAFETY: the process is single-threaded (checked just above).
        let launched = unsafe {
            crate::process::exec::spawn(&spec, state.pid, opts.preserve_fds, cgroup.as_ref())?
        };
        let console = super::hand_over_console(opts.console_socket.as_deref(), launched.console)?;
        if let Some(path) = &opts.pid_file {
            super::create::write_pid_file_at(path, launched.pid)?;
        }
        Ok(Launched {
            pid: launched.pid,
            console,
        })
    }
}

/// runc's exec defaults: the container's process (env, user, capabilities, rlimits, ...) with
/// the new args, extra env, cwd, user, groups, capabilities, terminal and no_new_privs.
pub fn process_from_args(base: &Process, o: &ExecOverrides) -> Result<Process, ContainerError> {
    let mut p = serde_json::to_value(base).map_err(|e| ContainerError::Invalid(e.to_string()))?;
    p["args"] = serde_json::json!(o.args);
    p["terminal"] = o.tty.into();
    if let Some(env) = p["env"].as_array_mut() {
        env.extend(o.env.iter().map(|e| serde_json::Value::from(e.as_str())));
    } else {
        p["env"] = serde_json::json!(o.env);
    }
    if let Some(cwd) = &o.cwd {
        p["cwd"] = cwd.to_string_lossy().into_owned().into();
    }
    if let Some(user) = &o.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let num = |s: &str| {
            s.parse::<u32>().map_err(|_| {
                ContainerError::Invalid(format!("--user {user:?}: expected uid[:gid] as numbers"))
            })
        };
        p["user"]["uid"] = num(uid)?.into();
        if let Some(g) = gid {
            p["user"]["gid"] = num(g)?.into();
        }
    }
    if !o.additional_gids.is_empty() {
        p["user"]["additionalGids"] = serde_json::json!(o.additional_gids);
    }
    for cap in &o.caps {
        for set in ["bounding", "effective", "permitted"] {
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = serde_json::json!([]);
            }
            if let Some(a) = list.as_array_mut() {
                if !a.iter().any(|c| c == cap) {
                    a.push(cap.as_str().into());
                }
            }
        }
    }
    if o.no_new_privs {
        p["noNewPrivileges"] = true.into();
    }
    serde_json::from_value(p).map_err(|e| ContainerError::Invalid(format!("exec: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_on_the_container_process() {
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(berth_spec::default_config(false, 0, 0)).unwrap();
        let base = spec.process().clone().unwrap();
        let o = ExecOverrides {
            args: vec!["ls".into(), "-l".into()],
            env: vec!["X=1".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            caps: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        };
        let p = process_from_args(&base, &o).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["ls", "-l"]);
        assert!(p.env().as_ref().unwrap().iter().any(|e| e == "X=1"));
        assert!(p
            .env()
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.starts_with("PATH=")));
        assert_eq!(p.cwd(), &PathBuf::from("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        let v = serde_json::to_value(&p).unwrap();
        assert!(v["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
        assert_eq!(p.terminal(), Some(false));
        assert!(process_from_args(
            &base,
            &ExecOverrides {
                user: Some("bob".into()),
                ..o
            }
        )
        .is_err());
    }
}
