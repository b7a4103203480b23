//! Process security attributes of a container's init: capabilities, user and groups, rlimits,
//! sysctls, scheduler, I/O priority, memory policy, personality, oom_score_adj, no_new_privs,
//! umask, the AppArmor profile and SELinux labels (`lsm`) and the seccomp filter.
//!
//! Entry points, matching the moments the runtime has:
//! * [`berth_spec::check_raw_config`] on config.json before it is parsed, then [`validate`] at `create`,
//!   before anything exists, needing no privilege;
//! * [`set_oom_score_adj`] / [`set_rlimits`] from the runtime for the init's pid;
//! * [`apply_process_security`] inside the init once its rootfs is ready (with the seccomp
//!   filter without noNewPrivileges);
//! * [`apply_seccomp`] inside the init at the end of its setup (the filter with
//!   noNewPrivileges).
//!
//! The decisions (what to drop, how values encode, which namespace a sysctl needs) live in the
//! submodules as plain functions; the syscalls they end in are in `berth_sys` (`security`,
//! `path`, `mount`).
//!
//! Layering: this file (the entry points and their order) uses the submodules; each
//! submodule (capabilities, user, rlimits, sysctl, seccomp, ...) uses only `error`, never a
//! sibling or this file, so there are no cycles. `seccomp` maps linux.seccomp onto libseccomp.

mod capabilities;
mod error;
mod ioprio;
mod lsm;
mod mempolicy;
mod oom;
mod personality;
mod rlimits;
mod scheduler;
mod seccomp;
mod sysctl;
mod umask;
mod user;

pub(crate) use capabilities::CapabilityPlan;
pub use error::SecurityError;
pub(crate) use lsm::set_key_label;
pub use lsm::HostLsms;
pub(crate) use seccomp::features as seccomp_features;

use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;

/// Hands the notify fd of a freshly loaded SCMP_ACT_NOTIFY filter to the runtime, which sends
/// it to `linux.seccomp.listenerPath`. Called right after the load, before any other syscall
/// the filter may send to the listener.
pub type NotifyFdSink<'a> = &'a mut dyn FnMut(OwnedFd) -> std::io::Result<()>;

fn no_new_privs(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false)
}

/// Loads the filter and hands its notify fd (if any) to `sink`.
fn install_seccomp(
    seccomp: &oci_spec::runtime::LinuxSeccomp,
    sink: NotifyFdSink<'_>,
) -> Result<(), SecurityError> {
    if let Some(fd) = seccomp::install(seccomp)? {
        sink(fd).map_err(|e| {
            SecurityError::syscall(
                "linux.seccomp.listenerPath",
                "sending the seccomp notify fd to the runtime",
                e,
            )
        })?;
    }
    Ok(())
}

/// Checks everything this module will later apply, without privileges and without touching
/// the system (apart from reading our own /proc/self/ns to recognise host namespaces, and,
/// when an AppArmor profile or SELinux label is requested, whether the host has that module).
pub fn validate(spec: &Spec) -> Result<(), SecurityError> {
    if let Some(process) = spec.process() {
        capabilities::validate(process.capabilities().as_ref())?;
        rlimits::validate(process.rlimits().as_deref().unwrap_or(&[]))?;
        if let Some(s) = process.scheduler() {
            scheduler::validate(s)?;
        }
        if let Some(p) = process.io_priority() {
            ioprio::validate(p)?;
        }
        if let Some(adj) = process.oom_score_adj() {
            oom::validate(adj)?;
        }
        umask::validate(process.user().umask())?;
        user::validate(process.user(), spec.linux().as_ref())?;
    }
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.personality() {
            personality::validate(p)?;
        }
        if let Some(p) = linux.memory_policy() {
            mempolicy::validate(p)?;
        }
        if let Some(sysctls) = linux.sysctl() {
            sysctl::validate(sysctls, linux.namespaces().as_deref().unwrap_or(&[]))?;
        }
    }
    lsm::validate(spec, HostLsms::detect)?;
    seccomp::validate(spec)?;
    Ok(())
}

/// Writes `process.oomScoreAdj` for `pid` (the runtime calls this for the init before it runs,
/// from the host side, so a container cannot lower its own score below what it was given).
pub fn set_oom_score_adj(pid: i32, value: i32) -> Result<(), SecurityError> {
    oom::set(pid, value)
}

/// Applies `process.rlimits` to `pid` with prlimit(2). The runtime should call this from the
/// parent when the container has a user namespace: inside it the init no longer holds
/// CAP_SYS_RESOURCE of the initial namespace and cannot raise a hard limit. Applying the same
/// limits again from the init (as [`apply_process_security`] does) is then a no-op.
pub fn set_rlimits(pid: i32, spec: &Spec) -> Result<(), SecurityError> {
    match spec.process().as_ref().and_then(|p| p.rlimits().as_ref()) {
        Some(limits) => rlimits::apply(pid, limits),
        None => Ok(()),
    }
}

/// Writes linux.sysctl under /proc/sys of the calling process's namespaces. The runtime
/// should call this in the init right after the container's /proc is mounted and before
/// readonlyPaths are applied (the default config makes /proc/sys read-only), as runc does.
/// [`apply_process_security`] calls it itself when it has not been called yet, which only
/// works while /proc/sys is still writable.
pub fn apply_sysctls(spec: &Spec) -> Result<(), SecurityError> {
    match spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        Some(sysctls) => sysctl::apply(sysctls),
        None => Ok(()),
    }
}

/// Applies the process security attributes to the calling process (the container's init),
/// in runc's order. Privileged steps come first; the user switch and the capability sets come
/// last because after them the process may no longer be able to do anything else.
///
/// Without noNewPrivileges the seccomp filter goes in here, before the capabilities are
/// dropped (loading it then needs CAP_SYS_ADMIN), as runc does; `sink` gets a notify filter's
/// fd. With noNewPrivileges it is [`apply_seccomp`]'s, later.
pub fn apply_process_security(spec: &Spec, sink: NotifyFdSink<'_>) -> Result<(), SecurityError> {
    let process = spec.process().as_ref();
    let linux = spec.linux().as_ref();

    if !sysctl::already_applied() {
        apply_sysctls(spec)?;
    }
    if let Some(limits) = process.and_then(|p| p.rlimits().as_ref()) {
        rlimits::apply(0, limits)?;
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        personality::apply(p)?;
    }
    if let Some(s) = process.and_then(|p| p.scheduler().as_ref()) {
        let cpus = linux
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.cpu().as_ref())
            .and_then(|c| c.cpus().as_deref());
        scheduler::apply(s, cpus)?;
    }
    if let Some(p) = process.and_then(|p| p.io_priority().as_ref()) {
        ioprio::apply(p)?;
    }
    if let Some(p) = linux.and_then(|l| l.memory_policy().as_ref()) {
        mempolicy::apply(p)?;
    }

    // The AppArmor profile and SELinux label apply at the program's execve. They are written
    // as the last step that still runs with the runtime's privileges and without the
    // container's seccomp filter (which may refuse the procfs opens), and before the init
    // reports ready, so that a profile the kernel does not know fails `create`.
    lsm::apply_exec_attrs(spec)?;

    let no_new_privs = no_new_privs(spec);
    let filter = linux.and_then(|l| l.seccomp().as_ref());
    if !no_new_privs {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so (as runc does) it
        // goes in now, before capabilities are dropped; the rest of the init then runs under it.
        if let Some(s) = filter {
            install_seccomp(s, &mut *sink)?;
        }
    }

    let plan = CapabilityPlan::from_spec(process.and_then(|p| p.capabilities().as_ref()))?;
    // The bounding set can only shrink while we still hold CAP_SETPCAP, i.e. before the switch.
    plan.apply_bounding()?;

    if no_new_privs {
        berth_sys::security::set_no_new_privs().map_err(|e| {
            SecurityError::syscall("process.noNewPrivileges", "prctl(PR_SET_NO_NEW_PRIVS)", e)
        })?;
    }

    let default_user = oci_spec::runtime::User::default();
    let user = process.map(|p| p.user()).unwrap_or(&default_user);
    user::switch(user)?;

    plan.apply_sets()?;
    umask::apply(user.umask());
    Ok(())
}

/// With noNewPrivileges, loads the seccomp filter; the init (and an exec'd process) calls it
/// as the last step of its setup, after the working directory and the program's lookup, as
/// runc does, and before it reports ready: a notify filter's fd (given to `sink`) must reach
/// the runtime, which is gone once the init waits on exec.fifo, and the startContainer hooks
/// run under the filter, as under runc. Without noNewPrivileges the filter is in already
/// ([`apply_process_security`]) and this does nothing.
pub fn apply_seccomp(spec: &Spec, sink: NotifyFdSink<'_>) -> Result<(), SecurityError> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) if no_new_privs(spec) => install_seccomp(s, sink),
        _ => Ok(()),
    }
}

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod test_util {
    /// Parses a JSON fragment of config.json into its oci-spec type.
    pub(crate) fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).expect("spec fragment json")
    }
}
