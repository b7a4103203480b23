//! The container's init: runs in the cloned child, in the container's new namespaces, sets the
//! container up from the inside and finally execs the user's process once `start` opens exec.fifo.

use super::exec_path;
use super::sync::{InitError, SyncChannel, SyncMsg};
use super::LaunchOptions;
use crate::hooks::HookKind;
use crate::namespaces::NamespacePlan;
use berth_spec::BundleConfig;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// Entry point of the init; never returns. A failure before Ready is reported to the runtime over
/// the sync channel; after it, on stderr (the runtime has gone by then).
pub fn run(
    cfg: &BundleConfig,
    plan: &NamespacePlan,
    opts: &LaunchOptions,
    fifo: OwnedFd,
    bind_sources: &crate::rootfs::PreopenedSources,
    chan: &SyncChannel,
) -> ! {
    for fd in &opts.runtime_only_fds {
        // A failure only means it was not open: nothing to undo.
        let _ = nix::unistd::close(*fd);
    }
    let err = match setup(cfg, plan, opts, fifo, bind_sources, chan) {
        Ok(ready) => match wait_and_exec(ready, &cfg.spec, chan) {
            Ok(never) => match never {},
            Err(e) => e,
        },
        Err(e) => e,
    };
    chan.fail_and_exit(err)
}

/// What the init holds between setting up and exec.
struct ReadyToExec {
    hook_state: String,
    fifo: OwnedFd,
    program: Program,
}

/// The user's program, resolved and converted for execve.
pub(super) struct Program {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// `envp` as text, for the startContainer hooks that have no `env` of their own.
    env: Vec<String>,
}

fn setup(
    cfg: &BundleConfig,
    plan: &NamespacePlan,
    opts: &LaunchOptions,
    fifo: OwnedFd,
    bind_sources: &crate::rootfs::PreopenedSources,
    chan: &SyncChannel,
) -> Result<ReadyToExec, InitError> {
    // Until execve replaces it, this process is berth (host binary, host fds) living in the
    // container's namespaces: keep every process of the container out of its /proc entries.
    // execve makes the user's program dumpable again as usual.
    berth_sys::process::set_dumpable(false)
        .map_err(|e| InitError::sys("init: prctl(PR_SET_DUMPABLE)", &e))?;
    let deferred = deferred_namespaces(plan) & !opts.namespaces_made;
    if deferred != 0 {
        berth_sys::ns::unshare(deferred)
            .map_err(|e| InitError::sys("linux.namespaces: new namespaces", &e))?;
    }
    let spec = &cfg.spec;
    let mut go = GoSignal {
        chan,
        plan,
        hook_state: None,
    };
    if !may_start_before_go(plan) {
        go.wait()?;
    }
    if !opts.no_new_keyring {
        // The session keyring gets the process's SELinux label, as under runc.
        let key_label = spec
            .process()
            .as_ref()
            .and_then(|p| p.selinux_label().as_deref())
            .filter(|l| !l.is_empty());
        if key_label.is_some() {
            crate::security::set_key_label(key_label).map_err(|e| InitError::from_error(&e))?;
        }
        let joined = berth_sys::ns::join_session_keyring(&format!("_ses.{}", opts.id));
        if key_label.is_some() {
            crate::security::set_key_label(None).map_err(|e| InitError::from_error(&e))?;
        }
        match joined {
            Ok(()) => {}
            // Kernels without keyrings, or where a user namespace forbids a new one: nothing to isolate.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EDQUOT)
                ) => {}
            Err(e) => return Err(InitError::sys("joining a new session keyring", &e)),
        }
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        berth_sys::ns::sethostname(h)
            .map_err(|e| InitError::sys(format!("hostname {h:?}: sethostname"), &e))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        berth_sys::ns::setdomainname(d)
            .map_err(|e| InitError::sys(format!("domainname {d:?}: setdomainname"), &e))?;
    }
    // Sysctls go in before the rootfs: /proc/sys shows the namespaces of the process that writes
    // (the container's, already), and the container's own /proc/sys ends up read-only.
    crate::security::apply_sysctls(spec).map_err(|e| InitError::from_error(&e))?;
    let rootfs_cfg = crate::rootfs::RootfsConfig {
        spec,
        rootfs: &cfg.rootfs,
        bundle: &cfg.bundle,
        no_pivot: opts.no_pivot,
        user_namespace: plan.in_user_namespace(),
        bind_sources: Some(bind_sources),
    };
    let mut hooks = InitHooks {
        spec,
        chan,
        go: &mut go,
    };
    crate::rootfs::setup_rootfs_with_hooks(&rootfs_cfg, &mut hooks)
        .map_err(|e| InitError::from_error(&e))?;
    let hook_state = go.wait()?.to_owned();
    let program = become_process(spec, chan, opts.preserve_fds, true, &[fifo.as_raw_fd()])?;
    Ok(ReadyToExec {
        hook_state,
        fifo,
        program,
    })
}

/// What the init and `exec` do alike once they are inside the container: the terminal, the
/// security attributes, the working directory, and the program resolved in the container's PATH.
/// Only fds 0-2 and the `preserve_fds` after them survive the exec.
///
/// First, every other descriptor (the runtime's own, or one its caller leaked to it) but the
/// sync channel and `keep` is made to point at the container's root (CVE-2024-21626): from
/// here on no `/proc/self/fd/N` path (process.cwd, process.args\[0\], a symlink in the image)
/// leads out of the container. The working directory is checked after the chdir as well.
pub(super) fn become_process(
    spec: &oci_spec::runtime::Spec,
    chan: &SyncChannel,
    preserve_fds: u32,
    bind_console: bool,
    keep: &[RawFd],
) -> Result<Program, InitError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| InitError::new("process: missing"))?;
    let root =
        berth_sys::path::open_path(std::ffi::OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| InitError::sys("opening the container's root", &e))?;
    let mut kept = keep.to_vec();
    kept.push(chan.as_raw_fd());
    let first = RawFd::try_from(preserve_fds).map_or(RawFd::MAX, |n| n.saturating_add(3));
    berth_sys::fd::replace_fds_from(first, &kept, root.as_fd())
        .map_err(|e| InitError::sys("closing the runtime's fds", &e))?;
    drop(root);
    if process.terminal().unwrap_or(false) {
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        let master = super::terminal::setup_in_container(size, bind_console)?;
        chan.send_with_fd(&SyncMsg::Console, std::os::fd::AsFd::as_fd(&master))
            .map_err(|e| {
                InitError::sys("process.terminal: sending the console to the runtime", &e)
            })?;
    }
    // The cwd is entered first with the runtime's privileges (a root-owned 0700 directory with
    // a non-root process user, or `exec --user 0` into a directory only the container's user
    // may enter, with CAP_DAC_OVERRIDE gone), and again as the process's user only if that was
    // refused (a directory the user may enter and root may not: root squashing, user
    // namespaces), as runc does.
    let cwd = process.cwd();
    let chdir_failed =
        |e: std::io::Error| InitError::sys(format!("process.cwd {}: chdir", cwd.display()), &e);
    // The kernel's getcwd marks a directory outside our root "(unreachable)". It is asked
    // before the security attributes where it can be: a seccomp profile loaded with them (no
    // noNewPrivileges) may refuse getcwd itself, as runtime-tools' linux_seccomp does.
    let check_inside = || -> Result<(), InitError> {
        let now = berth_sys::fd::getcwd_raw()
            .map_err(|e| InitError::sys(format!("process.cwd {}: getcwd", cwd.display()), &e))?;
        if !now.starts_with(b"/") {
            return Err(InitError::new(format!(
                "process.cwd {}: outside the container's root filesystem",
                cwd.display()
            )));
        }
        Ok(())
    };
    let entered = match std::env::set_current_dir(cwd) {
        Ok(()) => true,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => false,
        Err(e) => return Err(chdir_failed(e)),
    };
    if entered {
        check_inside()?;
    }
    let mut send_notify_fd =
        |fd: OwnedFd| chan.send_with_fd(&SyncMsg::SeccompNotifyFd, std::os::fd::AsFd::as_fd(&fd));
    crate::security::apply_process_security(spec, &mut send_notify_fd)
        .map_err(|e| InitError::from_error(&e))?;
    if !entered {
        std::env::set_current_dir(cwd).map_err(chdir_failed)?;
        match check_inside() {
            // A filter that refuses getcwd leaves no way to ask; the fds that could lead out
            // were replaced before the first chdir.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {}
            other => other?,
        }
    }

    let env = exec_path::program_env(process.env().as_deref().unwrap_or_default(), || {
        home_of(process.user().uid())
    });
    let args = process.args().clone().unwrap_or_default();
    let program = exec_path::resolve(
        &args[0],
        exec_path::env_value(&env, "PATH"),
        exec_path::is_executable_file,
    )
    .map_err(|e| InitError::from_error(&e))?;
    if args[0].contains('/') {
        exec_path::check_path(&args[0]).map_err(|e| InitError::from_error(&e))?;
    }
    let cstr = |s: &str, what: &str| {
        CString::new(s).map_err(|_| InitError::new(format!("{what}: {s:?} contains a NUL byte")))
    };
    let program = cstr(&program.to_string_lossy(), "process.args[0]")?;
    let argv = args
        .iter()
        .map(|a| cstr(a, "process.args"))
        .collect::<Result<_, _>>()?;
    let envp = env
        .iter()
        .map(|e| cstr(e, "process.env"))
        .collect::<Result<_, _>>()?;
    berth_sys::fd::cloexec_from(3 + preserve_fds)
        .map_err(|e| InitError::sys("closing the runtime's fds", &e))?;
    // With noNewPrivileges the filter goes in last, as runc loads it.
    crate::security::apply_seccomp(spec, &mut send_notify_fd)
        .map_err(|e| InitError::from_error(&e))?;
    Ok(Program {
        path: program,
        argv,
        envp,
        env,
    })
}

/// Signals that end runc's (Go) init while it waits for `start` (Go's runtime makes them exit
/// a program that has not asked for them), where the default action does not end the init of
/// a pid namespace: the kernel drops them. `kill` of a created container with SIGTERM (or its
/// pidfd, runc 1.5.1's pidfd-socket.bats) stops it as it stops runc's.
const FATAL_WHILE_WAITING: [libc::c_int; 5] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGABRT,
];

/// Tells the runtime it is ready, blocks until `start` opens exec.fifo, then execs.
fn wait_and_exec(
    ready: ReadyToExec,
    spec: &oci_spec::runtime::Spec,
    chan: &SyncChannel,
) -> Result<std::convert::Infallible, InitError> {
    berth_sys::process::exit_on_signals(&FATAL_WHILE_WAITING)
        .map_err(|e| InitError::sys("init: sigaction", &e))?;
    chan.send(&SyncMsg::Ready)
        .map_err(|e| InitError::sys("init: telling the runtime it is ready", &e))?;
    // Reopened through the container's /proc only once it is verified to be a procfs root
    // with nothing mounted on the way to our fd directory (which no other process can even
    // enter: we are not dumpable): a fake /proc (an image's volume over it) could hand us a
    // file that does not block, and the program would start before `start`. Not a private
    // procfs instance: dissolving it would make every start wait for an RCU grace period.
    let proc_root = berth_sys::procfs::verified_proc()
        .map_err(|e| InitError::sys("opening procfs to reopen exec.fifo", &e))?;
    let fifo =
        berth_sys::procfs::reopen_own_fd(proc_root.as_fd(), ready.fifo.as_fd(), libc::O_WRONLY)
            .map_err(|e| InitError::sys("opening exec.fifo for writing", &e))?;
    drop(proc_root);
    let mut fifo = std::fs::File::from(fifo);
    fifo.write_all(b"0")
        .map_err(|e| InitError::sys("writing to exec.fifo", &e))?;
    // startContainer: after `start`, before the user's program, inside the container.
    crate::hooks::run_inheriting(
        spec,
        HookKind::StartContainer,
        &ready.hook_state,
        Some(&ready.program.env),
    )
    .map_err(|e| InitError::from_error(&e))?;
    // exec.fifo's write end is close-on-exec: `start` sees it close exactly when execve succeeds.
    exec_program(&ready.program)
}

/// The last steps before the user's program: an empty signal mask, execve (the seccomp filter
/// is in already: see [`crate::security::apply_process_security`]).
pub(super) fn exec_program(program: &Program) -> Result<std::convert::Infallible, InitError> {
    // The init's handlers go first: a signal pending under the mask below is the program's
    // (as with runc, whose handlers execve resets), not one that ends the init now.
    let _ = berth_sys::process::default_signal_actions(&FATAL_WHILE_WAITING);
    // The caller may have blocked signals before the clone (berth's command line blocks them all,
    // to forward them); the mask survives execve, so it is emptied here.
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    // Rust's runtime makes berth ignore SIGPIPE (a write to a closed pipe is then an error, not a
    // death), and an ignored signal stays ignored across execve: the container's program would
    // start with SIGPIPE ignored, where runc's starts with the default (Go's handler is reset
    // by execve), and `yes | head` in it would never end by the signal.
    // SAFETY: SIG_DFL installs no handler code in this process.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
    match nix::unistd::execve(&program.path, &program.argv, &program.envp) {
        Ok(never) => match never {},
        // runc's words (Go's PathError): `exec /run.sh: no such file or directory`.
        Err(err) => Err(InitError::sys(
            format!("exec {}", program.path.to_string_lossy()),
            &std::io::Error::from(err),
        )),
    }
}

/// Whether the init may set itself up before the runtime's Go, while the runtime writes its
/// cgroup (the two overlap: a `create` is shorter by the smaller of them). Only in a mount
/// namespace of its own, which dies with it if the runtime then fails and kills it (mounts made
/// in the runtime's or a joined namespace would stay behind), and outside a user namespace,
/// whose id maps the runtime writes first. What needs the cgroup waits for Go at
/// [`SetupHooks::cgroup_needed`](crate::rootfs::SetupHooks::cgroup_needed): kernel memory of
/// the mounts made before is charged to the runtime's cgroup.
fn may_start_before_go(plan: &NamespacePlan) -> bool {
    !plan.in_user_namespace()
        && plan.clone_flags & libc::CLONE_NEWNS != 0
        && !plan
            .joins
            .iter()
            .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::Mount)
}

/// The new namespaces not made by the clone of the init but before it, by the launcher while
/// the runtime makes the state directory and opens the cgroup (or, without a launcher, by the
/// init itself while the runtime writes the cgroup): making a network namespace alone takes
/// about half a millisecond, which the clone would wait for. Only where the init may start
/// before Go (no user namespace, which must own the others and come first), and never the pid
/// namespace (the init must be its first process).
pub(crate) fn deferred_namespaces(plan: &NamespacePlan) -> libc::c_int {
    if !may_start_before_go(plan) {
        return 0;
    }
    plan.clone_flags
        & (libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC)
}

/// The runtime's Go: the id maps are written and the init is in its cgroup. Waited for once,
/// at the first step that needs it; what the init does right after it happens here.
struct GoSignal<'a> {
    chan: &'a SyncChannel,
    plan: &'a NamespacePlan,
    /// The state hooks get, once Go has come.
    hook_state: Option<String>,
}

impl GoSignal<'_> {
    /// Waits for Go unless it came already; returns the hooks' state.
    fn wait(&mut self) -> Result<&str, InitError> {
        if self.hook_state.is_none() {
            let state = match self.chan.recv() {
                Ok(Some(SyncMsg::Go { hook_state })) => hook_state.unwrap_or_default(),
                Ok(other) => {
                    return Err(InitError::new(format!(
                        "init: unexpected message from the runtime: {other:?}"
                    )))
                }
                Err(e) => return Err(InitError::sys("init: reading from the runtime", &e)),
            };
            self.after_go()?;
            self.hook_state = Some(state);
        }
        Ok(self.hook_state.as_deref().unwrap_or_default())
    }

    fn after_go(&self) -> Result<(), InitError> {
        if self.plan.in_user_namespace() {
            // Creds are still the host's, unmapped in the container's user namespace (files it
            // creates would fail with EOVERFLOW); become that namespace's root (maps are written).
            nix::unistd::setresgid(0.into(), 0.into(), 0.into()).map_err(|e| {
                InitError::nix(
                    "setresgid to root of the user namespace (is gid 0 mapped?)",
                    e,
                )
            })?;
            nix::unistd::setresuid(0.into(), 0.into(), 0.into()).map_err(|e| {
                InitError::nix(
                    "setresuid to root of the user namespace (is uid 0 mapped?)",
                    e,
                )
            })?;
        }
        if self.plan.new_cgroup {
            // Now that the runtime has put us in the container's cgroup, that cgroup becomes the
            // root of the new namespace.
            berth_sys::ns::unshare(libc::CLONE_NEWCGROUP)
                .map_err(|e| InitError::sys("linux.namespaces: new cgroup namespace", &e))?;
        }
        Ok(())
    }
}

/// The init's part of the hooks, at the rootfs setup's pivot point.
struct InitHooks<'a, 'g> {
    spec: &'a oci_spec::runtime::Spec,
    chan: &'a SyncChannel,
    go: &'g mut GoSignal<'a>,
}

impl crate::rootfs::SetupHooks<InitError> for InitHooks<'_, '_> {
    /// A cgroup mount or the device nodes are next: the runtime must have placed us first.
    fn cgroup_needed(&mut self) -> Result<(), InitError> {
        self.go.wait().map(|_| ())
    }

    /// The runtime makes it in our mount namespace (we are root of a user namespace).
    fn idmapped_source(&mut self, index: usize) -> Result<Option<OwnedFd>, InitError> {
        let what = "asking the runtime for an ID-mapped mount source";
        self.chan
            .send(&SyncMsg::IdmappedSource { index })
            .map_err(|e| InitError::sys(what, &e))?;
        match self.chan.recv_with_fd() {
            Ok(Some((SyncMsg::IdmappedTree, Some(fd)))) => Ok(Some(fd)),
            Ok(None) => Err(InitError::new(format!("{what}: the runtime went away"))),
            Ok(Some((other, _))) => Err(InitError::new(format!(
                "{what}: unexpected message {other:?}"
            ))),
            Err(e) => Err(InitError::sys(what, &e)),
        }
    }

    /// prestart and createRuntime run in the runtime (its namespaces) while we wait; then
    /// createContainer runs here, in the container's namespaces, before pivot_root.
    fn before_pivot(&mut self) -> Result<(), InitError> {
        // The runtime runs prestart/createRuntime only after its Go (the init is in its cgroup).
        self.go.wait()?;
        let runtime_side = [HookKind::Prestart, HookKind::CreateRuntime];
        if runtime_side
            .iter()
            .any(|k| !crate::hooks::hooks_of(self.spec, *k).is_empty())
        {
            self.chan
                .send(&SyncMsg::RunCreateRuntimeHooks)
                .map_err(|e| InitError::sys("asking the runtime to run hooks", &e))?;
            match self.chan.recv() {
                Ok(Some(SyncMsg::HooksDone)) => {}
                Ok(None) => {
                    return Err(InitError::new(
                        "waiting for the runtime's hooks: the runtime went away",
                    ))
                }
                Ok(Some(other)) => {
                    return Err(InitError::new(format!(
                        "waiting for the runtime's hooks: unexpected message {other:?}"
                    )))
                }
                Err(e) => return Err(InitError::sys("waiting for the runtime's hooks", &e)),
            }
        }
        let state = self.go.wait()?;
        crate::hooks::run(self.spec, HookKind::CreateContainer, state)
            .map_err(|e| InitError::from_error(&e))
    }
}

/// $HOME for a uid from the container's /etc/passwd, "/" when it has none (as runc does).
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd_home(&passwd, uid)
        .unwrap_or_else(|| PathBuf::from("/"))
        .to_string_lossy()
        .into_owned()
}

fn passwd_home(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| PathBuf::from(f[5]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\nn:x:5:5:::/bin/sh\n";
        assert_eq!(passwd_home(p, 0), Some(PathBuf::from("/root")));
        assert_eq!(passwd_home(p, 1000), Some(PathBuf::from("/home/u")));
        assert_eq!(passwd_home(p, 5), None);
        assert_eq!(passwd_home(p, 42), None);
    }
}
