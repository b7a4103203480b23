//! linux.seccomp: the syscall filter, built by libseccomp.
//!
//! libseccomp (the C library runc, crun and podman use, through the `libseccomp` crate, linked
//! statically) knows the syscall tables of every architecture and their compat ABIs and emits
//! one program for several architectures; berth maps the runtime-spec onto it, with runc's
//! rules:
//! * every listed architecture is added (the native one is always there);
//! * a syscall name libseccomp does not know is skipped (profiles name the syscalls of every
//!   architecture at once); a name that exists only on some of the filter's architectures
//!   applies on those;
//! * a rule whose action is the default action is left out (libseccomp refuses it);
//! * conditions on distinct arguments are ANDed in one rule, while an entry that names one
//!   argument several times becomes one rule per condition (libseccomp cannot AND two
//!   conditions on one argument);
//! * ERRNO and TRACE without `errnoRet` return EPERM; SCMP_ACT_KILL is KILL_THREAD.
//!
//! Loading is berth's, as it is runc's: unless the default allows (ALLOW, LOG, TRACE), syscalls
//! newer than the profile get ENOSYS from a stub in front of libseccomp's program (`enosys`),
//! which libseccomp's own seccomp_load cannot take; the program goes in with one seccomp(2)
//! call with the spec's flags, plus NEW_LISTENER for SCMP_ACT_NOTIFY (its return is the notify
//! fd).
//!
//! What cannot be honoured is refused, naming the field: SCMP_ACT_NOTIFY as the default action,
//! for `write` (as runc) or without `listenerPath`, an architecture or a flag this libseccomp or
//! kernel lacks.

mod enosys;

use super::error::SecurityError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, Spec,
};
use std::os::fd::OwnedFd;

const FIELD: &str = "linux.seccomp";

/// The runtime-spec spelling of a value (its serde name), for messages.
fn spec_name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// The libseccomp action of a runtime-spec action.
fn action(
    field: &str,
    action: LinuxSeccompAction,
    errno: Option<u32>,
) -> Result<ScmpAction, SecurityError> {
    use LinuxSeccompAction as A;
    let data = |errno: Option<u32>| -> Result<u16, SecurityError> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        u16::try_from(e).map_err(|_| {
            SecurityError::invalid(
                field,
                format!("errnoRet {e} does not fit the 16-bit action data"),
            )
        })
    };
    Ok(match action {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(i32::from(data(errno)?)),
        A::ScmpActTrace => ScmpAction::Trace(data(errno)?),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActNotify => ScmpAction::Notify,
    })
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn condition(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    use LinuxSeccompOperator as O;
    let op = match arg.op() {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        // runtime-spec: `value` is the mask, `valueTwo` what the masked argument must equal.
        O::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
    };
    let datum = match arg.op() {
        O::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
        _ => arg.value(),
    };
    // The index is checked to be below 6 before this is called.
    ScmpArgCompare::new(arg.index() as u32, op, datum)
}

/// The version of the linked libseccomp.
fn version() -> Option<ScmpVersion> {
    ScmpVersion::current().ok()
}

fn at_least(v: Option<ScmpVersion>, major: u32, minor: u32) -> bool {
    v.is_some_and(|v| (v.major, v.minor) >= (major, minor))
}

fn version_text(v: Option<ScmpVersion>) -> String {
    v.map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|| "unknown".into())
}

fn lib_error(
    field: impl Into<String>,
    what: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SecurityError {
    let (field, what) = (field.into(), what.into());
    move |source| SecurityError::Seccomp {
        field,
        what,
        source,
    }
}

/// Whether the filter sends some syscall to a notify listener.
pub fn uses_notify(seccomp: &LinuxSeccomp) -> bool {
    seccomp
        .syscalls()
        .iter()
        .flatten()
        .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
}

/// The listener a notify filter's fd goes to: `listenerPath`, refused when empty.
fn listener_path(seccomp: &LinuxSeccomp) -> Result<&std::path::Path, SecurityError> {
    match seccomp.listener_path() {
        Some(p) if !p.as_os_str().is_empty() => Ok(p),
        _ => Err(SecurityError::invalid(
            format!("{FIELD}.listenerPath"),
            "must name the listener's unix socket when an action is SCMP_ACT_NOTIFY",
        )),
    }
}

/// Builds the filter for `seccomp`, refusing anything it cannot honour.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<ScmpFilterContext, SecurityError> {
    let default_field = format!("{FIELD}.defaultAction");
    if seccomp.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SecurityError::invalid(
            default_field,
            "SCMP_ACT_NOTIFY cannot be the default action (the runtime's own syscalls would wait on the listener)",
        ));
    }
    let default = action(
        &default_field,
        seccomp.default_action(),
        seccomp.default_errno_ret(),
    )?;
    if uses_notify(seccomp) {
        listener_path(seccomp)?;
        if !berth_sys::security::seccomp_filter_flag_supported(NEW_LISTENER) {
            return Err(SecurityError::invalid(
                FIELD,
                "SCMP_ACT_NOTIFY needs a kernel with seccomp user notification (Linux 5.0 or later)",
            ));
        }
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_error(
        &default_field,
        format!(
            "creating a filter with default action {}",
            spec_name(&seccomp.default_action())
        ),
    ))?;
    // no_new_privs is process.noNewPrivileges' business (libseccomp's attribute says whether
    // its own load would set it; berth loads the program itself, but keeps it honest).
    ctx.set_ctl_nnp(false)
        .map_err(lib_error(FIELD, "clearing SCMP_FLTATR_CTL_NNP"))?;
    for (i, a) in seccomp.architectures().iter().flatten().enumerate() {
        if let Err(e) = ctx.add_arch(arch(*a)) {
            let why = if e.errno() == Some(libseccomp::error::SeccompErrno::EDOM) {
                "its byte order differs from this host's, and one filter has one byte order"
                    .to_string()
            } else {
                format!("not known to libseccomp {}", version_text(version()))
            };
            let name = spec_name(a);
            return Err(lib_error(
                format!("{FIELD}.architectures[{i}]"),
                format!("cannot add architecture {name}: {why}"),
            )(e));
        }
    }
    // The flags are berth's to pass at the load; here they are only checked.
    load_flags(seccomp)?;
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        add_rules(&mut ctx, &format!("{FIELD}.syscalls[{i}]"), sc, default)?;
    }
    Ok(ctx)
}

/// The kernel's value of a runtime-spec filter flag.
fn flag_value(f: LinuxSeccompFilterFlag) -> u32 {
    use LinuxSeccompFilterFlag as F;
    (match f {
        F::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        F::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        F::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        F::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    }) as u32
}

const NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
const TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
const TSYNC_ESRCH: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
const WAIT_KILLABLE_RECV: u32 = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32;

/// Whether this kernel takes `flag` (WAIT_KILLABLE_RECV is only valid with NEW_LISTENER).
fn kernel_has_flag(flag: u32) -> bool {
    let probe = if flag == WAIT_KILLABLE_RECV {
        flag | NEW_LISTENER
    } else {
        flag
    };
    berth_sys::security::seccomp_filter_flag_supported(probe)
}

/// The flags to load the filter with: `flags` (each checked against this kernel, refused
/// naming it when the kernel lacks it), plus NEW_LISTENER for a notify filter. As with
/// libseccomp: TSYNC with a listener needs TSYNC_ESRCH, and WAIT_KILLABLE_RECV only means
/// something with a listener (the kernel refuses it alone), so it is passed only then.
fn load_flags(seccomp: &LinuxSeccomp) -> Result<u32, SecurityError> {
    let mut flags = 0;
    for (i, f) in seccomp.flags().iter().flatten().enumerate() {
        let value = flag_value(*f);
        if !kernel_has_flag(value) {
            let name = spec_name(f);
            return Err(SecurityError::invalid(
                format!("{FIELD}.flags[{i}]"),
                format!("{name} is not supported by this kernel"),
            ));
        }
        flags |= value;
    }
    if uses_notify(seccomp) {
        flags |= NEW_LISTENER;
        if flags & TSYNC != 0 {
            flags |= TSYNC_ESRCH;
        }
    } else {
        flags &= !WAIT_KILLABLE_RECV;
    }
    Ok(flags)
}

/// libseccomp's program for `ctx`, read back through a memfd.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SecurityError> {
    use std::io::{Read, Seek};
    let memfd = nix::sys::memfd::memfd_create(
        c"berth-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| SecurityError::syscall(FIELD, "memfd_create", e.into()))?;
    let mut file = std::fs::File::from(memfd);
    ctx.export_bpf(&file).map_err(lib_error(
        FIELD,
        "exporting the filter (seccomp_export_bpf)",
    ))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| SecurityError::syscall(FIELD, "reading the exported filter", e))?;
    Ok(bytes
        .chunks_exact(std::mem::size_of::<libc::sock_filter>())
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// The program berth loads: the ENOSYS stub (when the profile needs one) in front of
/// libseccomp's program.
fn program(
    seccomp: &LinuxSeccomp,
    ctx: &ScmpFilterContext,
) -> Result<Vec<libc::sock_filter>, SecurityError> {
    let mut prog = enosys::stub(seccomp).unwrap_or_default();
    prog.extend(export(ctx)?);
    Ok(prog)
}

/// Adds the rules of one `syscalls` entry.
fn add_rules(
    ctx: &mut ScmpFilterContext,
    field: &str,
    sc: &oci_spec::runtime::LinuxSyscall,
    default: ScmpAction,
) -> Result<(), SecurityError> {
    let act = action(field, sc.action(), sc.errno_ret())?;
    if act == ScmpAction::Notify {
        // The init's own calls right after the load: it hands the notify fd to the runtime
        // with sendmsg (notified, it would wait forever on a listener that has no fd yet), and
        // writes exec.fifo (refused by runc too, with this message).
        if let Some(name) = sc.names().iter().find(|n| *n == "write" || *n == "sendmsg") {
            return Err(SecurityError::invalid(
                format!("{field}.names"),
                format!("SCMP_ACT_NOTIFY cannot be used for the {name} syscall"),
            ));
        }
    }
    if sc.names().is_empty() {
        return Err(SecurityError::invalid(
            format!("{field}.names"),
            "must name at least one syscall",
        ));
    }
    let args: Vec<&LinuxSeccompArg> = sc.args().iter().flatten().collect();
    if let Some(a) = args.iter().find(|a| a.index() > 5) {
        return Err(SecurityError::invalid(
            format!("{field}.args"),
            format!("index {} is beyond the six syscall arguments", a.index()),
        ));
    }
    if act == default {
        return Ok(());
    }
    let conditions: Vec<ScmpArgCompare> = args.iter().map(|a| condition(a)).collect();
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    let alternatives = indexes.len() != args.len();
    for name in sc.names() {
        let nr = match ScmpSyscall::from_name(name) {
            Ok(nr) => nr,
            Err(_) => {
                log::debug!("{field}: skipping syscall {name:?}, unknown to libseccomp");
                continue;
            }
        };
        let what = || format!("adding the rule for syscall {name:?}");
        if conditions.is_empty() {
            ctx.add_rule(act, nr).map_err(lib_error(field, what()))?;
        } else if alternatives {
            for c in &conditions {
                ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                    .map_err(lib_error(field, what()))?;
            }
        } else {
            ctx.add_rule_conditional(act, nr, &conditions)
                .map_err(lib_error(field, what()))?;
        }
    }
    Ok(())
}

/// The `linux.seccomp` object of `berth features`: what [`compile`] accepts on this host.
pub fn features() -> serde_json::Value {
    use berth_spec::seccomp_names;
    use LinuxSeccompFilterFlag as F;
    let v = version();
    let supported: Vec<LinuxSeccompFilterFlag> = [
        F::SeccompFilterFlagTsync,
        F::SeccompFilterFlagSpecAllow,
        F::SeccompFilterFlagLog,
        F::SeccompFilterFlagWaitKillableRecv,
    ]
    .into_iter()
    .filter(|f| kernel_has_flag(flag_value(*f)))
    .collect();
    let archs: Vec<&str> = seccomp_names::ARCHITECTURES
        .into_iter()
        .filter(|a| *a != "SCMP_ARCH_NATIVE")
        .filter(|a| {
            at_least(v, 2, 6) || !seccomp_names::ARCHITECTURES_SINCE_LIBSECCOMP_2_6.contains(a)
        })
        .collect();
    serde_json::json!({
        "enabled": true,
        "actions": seccomp_names::ACTIONS,
        "operators": seccomp_names::OPERATORS,
        "archs": archs,
        "knownFlags": seccomp_names::FLAGS,
        "supportedFlags": supported
    })
}

/// Checks linux.seccomp by building the filter, and that a notify filter's listener socket
/// exists (it is connected to once the filter is loaded).
pub fn validate(spec: &Spec) -> Result<(), SecurityError> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    let program = program(s, &compile(s)?)?;
    if uses_notify(s) {
        let path = listener_path(s)?;
        let field = format!("{FIELD}.listenerPath");
        // runc's words for a listener that is not there.
        let meta = std::fs::metadata(path).map_err(|e| {
            SecurityError::syscall(
                &field,
                format!(
                    "failed to connect with seccomp agent: stat {}",
                    path.display()
                ),
                e,
            )
        })?;
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(SecurityError::invalid(
                field,
                format!("{} is not a unix socket", path.display()),
            ));
        }
    }
    *BUILT.lock().unwrap_or_else(|p| p.into_inner()) = Some((s.clone(), program));
    Ok(())
}

/// The last program [`validate`] built, with its profile. The init and an exec'd process are
/// clones of the runtime process that validated the config, so [`install`] finds it in their
/// copy of the memory and loads it without building it again (libseccomp takes some
/// milliseconds for a Docker-sized profile on three architectures); any other profile is built
/// afresh. The runtime is single-threaded when it clones, so the lock is free in the clone.
static BUILT: std::sync::Mutex<Option<(LinuxSeccomp, Vec<libc::sock_filter>)>> =
    std::sync::Mutex::new(None);

/// The program for `seccomp`: the one [`validate`] built when it is for the same profile.
fn built_program(seccomp: &LinuxSeccomp) -> Result<Vec<libc::sock_filter>, SecurityError> {
    let built = BUILT.lock().unwrap_or_else(|p| p.into_inner()).take();
    match built {
        Some((profile, program)) if profile == *seccomp => Ok(program),
        _ => program(seccomp, &compile(seccomp)?),
    }
}

/// Builds the filter and loads it into the calling thread (all threads with TSYNC): libseccomp
/// builds the program, berth loads it (with the ENOSYS stub in front, and the flags; libseccomp's
/// own seccomp_load cannot take the stub). Returns the notify fd when the filter has
/// SCMP_ACT_NOTIFY rules (the kernel's NEW_LISTENER fd): it must reach the listener.
pub fn install(seccomp: &LinuxSeccomp) -> Result<Option<OwnedFd>, SecurityError> {
    let prog = built_program(seccomp)?;
    let flags = load_flags(seccomp)?;
    berth_sys::security::seccomp_set_mode_filter(flags, &prog)
        .map_err(|e| SecurityError::syscall(FIELD, "seccomp(SECCOMP_SET_MODE_FILTER)", e))
}

#[cfg(test)]
mod tests;
