//! linux.seccomp: the syscall filter, built and loaded by libseccomp.
//!
//! libseccomp (the C library runc, crun and podman use, through the `libseccomp` crate, linked
//! statically) knows the syscall tables of every architecture and their compat ABIs, emits one
//! filter for several architectures, and gives the notify fd of SCMP_ACT_NOTIFY; berth only maps
//! the runtime-spec onto it, with runc's rules:
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
//! What cannot be honoured is refused, naming the field: SCMP_ACT_NOTIFY as the default action
//! or without `listenerPath`, an architecture or a flag this libseccomp or kernel lacks.

use super::error::SecurityError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, Spec,
};
use std::os::fd::{FromRawFd, OwnedFd};

const FIELD: &str = "linux.seccomp";

/// The runtime-spec's name of an action (its serde spelling), for messages.
fn action_name(a: LinuxSeccompAction) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}"))
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
        let api = libseccomp::get_api();
        if api < 6 {
            return Err(SecurityError::invalid(
                FIELD,
                format!(
                    "SCMP_ACT_NOTIFY needs libseccomp API level 6 (libseccomp 2.5 on Linux 5.7 or later); this host gives level {api} (libseccomp {})",
                    version_text(version())
                ),
            ));
        }
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_error(
        &default_field,
        format!(
            "creating a filter with default action {}",
            action_name(seccomp.default_action())
        ),
    ))?;
    // Errors of seccomp_load carry the kernel's errno instead of libseccomp's ECANCELED.
    ctx.set_api_sysrawrc(true)
        .map_err(lib_error(FIELD, "setting SCMP_FLTATR_API_SYSRAWRC"))?;
    // no_new_privs is process.noNewPrivileges' business (libseccomp would set it by default).
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
            let name = serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{a:?}"));
            return Err(lib_error(
                format!("{FIELD}.architectures[{i}]"),
                format!("cannot add architecture {name}: {why}"),
            )(e));
        }
    }
    for (i, f) in seccomp.flags().iter().flatten().enumerate() {
        let field = format!("{FIELD}.flags[{i}]");
        use LinuxSeccompFilterFlag as F;
        let set = match f {
            F::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            F::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            F::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            F::SeccompFilterFlagWaitKillableRecv => {
                let v = version();
                if !at_least(v, 2, 6) {
                    return Err(SecurityError::invalid(
                        field,
                        format!(
                            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs libseccomp 2.6 or later; berth is linked with libseccomp {}",
                            version_text(v)
                        ),
                    ));
                }
                ctx.set_ctl_waitkill(true)
            }
        };
        set.map_err(lib_error(
            field,
            format!("{f:?}: not supported by this kernel or libseccomp"),
        ))?;
    }
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        add_rules(&mut ctx, &format!("{FIELD}.syscalls[{i}]"), sc, default)?;
    }
    Ok(ctx)
}

/// Adds the rules of one `syscalls` entry.
fn add_rules(
    ctx: &mut ScmpFilterContext,
    field: &str,
    sc: &oci_spec::runtime::LinuxSyscall,
    default: ScmpAction,
) -> Result<(), SecurityError> {
    let act = action(field, sc.action(), sc.errno_ret())?;
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
    let v = version();
    let mut supported = vec![
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_LOG",
    ];
    if at_least(v, 2, 6) {
        supported.push("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    }
    let mut archs = vec![
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
    ];
    if at_least(v, 2, 6) {
        archs.extend([
            "SCMP_ARCH_LOONGARCH64",
            "SCMP_ARCH_M68K",
            "SCMP_ARCH_SH",
            "SCMP_ARCH_SHEB",
        ]);
        archs.sort_unstable();
    }
    serde_json::json!({
        "enabled": true,
        "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                    "SCMP_ACT_TRAP"],
        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                      "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
        "archs": archs,
        "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                       "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "supportedFlags": supported
    })
}

/// Checks linux.seccomp by building the filter, and that a notify filter's listener socket
/// exists (it is connected to once the filter is loaded).
pub fn validate(spec: &Spec) -> Result<(), SecurityError> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    compile(s)?;
    if uses_notify(s) {
        let path = listener_path(s)?;
        let field = format!("{FIELD}.listenerPath");
        let meta = std::fs::metadata(path)
            .map_err(|e| SecurityError::syscall(&field, format!("stat {}", path.display()), e))?;
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(SecurityError::invalid(
                field,
                format!("{} is not a unix socket", path.display()),
            ));
        }
    }
    Ok(())
}

/// Builds the filter and loads it into the calling thread (all threads with TSYNC). Returns
/// the notify fd when the filter has SCMP_ACT_NOTIFY rules: it must reach the listener.
pub fn install(seccomp: &LinuxSeccomp) -> Result<Option<OwnedFd>, SecurityError> {
    let ctx = compile(seccomp)?;
    ctx.load()
        .map_err(lib_error(FIELD, "loading the filter (seccomp_load)"))?;
    if !uses_notify(seccomp) {
        return Ok(None);
    }
    let fd = ctx.get_notify_fd().map_err(lib_error(
        FIELD,
        "getting the notify fd (seccomp_notify_fd)",
    ))?;
    // SAFETY: seccomp_load created this listener fd for us (close-on-exec); nothing else
    // closes it, so taking ownership is sound.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests;
