//! linux.seccomp: a syscall filter compiled to classic BPF by berth itself.
//!
//! Own code generation (instead of libseccomp or seccompiler) because the runtime-spec needs
//! several architectures in one filter (x86_64 + x86 + x32 is what Docker and Podman send),
//! per-rule errno values and all seven argument operators; seccompiler supports one
//! architecture per filter. What cannot be honoured (SCMP_ACT_NOTIFY, a listener) is refused.
//!
//! Layout of the generated program:
//! ```text
//! load arch; dispatch to the section of each listed architecture, else kill the process
//! section: load nr; [x86_64/x32 split on the x32 bit]; [ENOSYS for numbers newer than the
//!          profile knows]; one compare per syscall -> its action or its rule block; default
//! rule blocks: conditions of each rule in config order, first rule that matches decides
//! ```
//! Syscall names unknown on an architecture are skipped there, as runc and libseccomp do
//! (profiles name syscalls of every architecture at once).

mod bpf;
mod tables;

use super::error::SecurityError;
use bpf::{Asm, Cond, Label, SockFilter};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, Spec,
};

const FIELD: &str = "linux.seccomp";

// struct seccomp_data offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

/// The architectures this host can run, in the order their sections are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    X86_64,
    X32,
    X86,
}

impl Abi {
    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X32 => tables::X32,
            Abi::X86 => tables::X86,
        }
    }

    /// The number the kernel reports in seccomp_data.nr for `name`.
    fn number(self, name: &str) -> Option<u32> {
        let nr = self
            .table()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, nr)| *nr)?;
        Some(if self == Abi::X32 {
            nr | X32_SYSCALL_BIT
        } else {
            nr
        })
    }

    /// i386 passes 32-bit arguments: only their low word is compared, as libseccomp does.
    fn wide_args(self) -> bool {
        self != Abi::X86
    }
}

/// SECCOMP_RET_* value of an action.
fn action_value(
    field: &str,
    action: LinuxSeccompAction,
    errno: Option<u32>,
) -> Result<u32, SecurityError> {
    use LinuxSeccompAction as A;
    let data = |errno: Option<u32>| -> Result<u32, SecurityError> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        if e > 0xffff {
            return Err(SecurityError::invalid(
                field,
                format!("errnoRet {e} does not fit the 16-bit action data"),
            ));
        }
        Ok(e)
    };
    Ok(match action {
        A::ScmpActKill | A::ScmpActKillThread => RET_KILL_THREAD,
        A::ScmpActKillProcess => RET_KILL_PROCESS,
        A::ScmpActTrap => RET_TRAP,
        A::ScmpActErrno => RET_ERRNO | data(errno)?,
        A::ScmpActTrace => RET_TRACE | data(errno)?,
        A::ScmpActLog => RET_LOG,
        A::ScmpActAllow => RET_ALLOW,
        A::ScmpActNotify => {
            return Err(SecurityError::invalid(
                field,
                "SCMP_ACT_NOTIFY is not supported by berth (no seccomp notify listener)",
            ))
        }
    })
}

fn filter_flag(f: LinuxSeccompFilterFlag) -> Result<u32, SecurityError> {
    use LinuxSeccompFilterFlag as F;
    match f {
        F::SeccompFilterFlagTsync => Ok(1),
        F::SeccompFilterFlagLog => Ok(2),
        F::SeccompFilterFlagSpecAllow => Ok(4),
        F::SeccompFilterFlagWaitKillableRecv => Err(SecurityError::invalid(
            format!("{FIELD}.flags"),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies to a notify listener, which berth does not support",
        )),
    }
}

/// The architectures of the filter: the native one always (as libseccomp does), plus the
/// listed ones this host can execute. Others cannot reach this kernel and are left out.
fn abis(seccomp: &LinuxSeccomp) -> Result<Vec<Abi>, SecurityError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SecurityError::invalid(
            FIELD,
            "seccomp filters are only implemented for x86_64 hosts",
        ));
    }
    let mut abis = vec![Abi::X86_64];
    for a in seccomp.architectures().iter().flatten() {
        let abi = match a {
            Arch::ScmpArchX86_64 | Arch::ScmpArchNative => continue,
            Arch::ScmpArchX32 => Abi::X32,
            Arch::ScmpArchX86 => Abi::X86,
            _ => continue,
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    Ok(abis)
}

/// One rule for one syscall: all `conds` must hold (AND).
struct Rule<'a> {
    conds: Vec<&'a LinuxSeccompArg>,
    action: u32,
}

/// The rules of the spec for the syscall number `nr` on `abi`, in config order. Like runc,
/// conditions on distinct arguments are ANDed, while an entry naming one argument several
/// times is read as alternatives (one rule per condition).
fn rules_for<'a>(
    seccomp: &'a LinuxSeccomp,
    abi: Abi,
    nr: u32,
) -> Result<Vec<Rule<'a>>, SecurityError> {
    let mut rules = Vec::new();
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        if !sc.names().iter().any(|n| abi.number(n) == Some(nr)) {
            continue;
        }
        let field = format!("{FIELD}.syscalls[{i}]");
        let action = action_value(&field, sc.action(), sc.errno_ret())?;
        let args: Vec<&LinuxSeccompArg> = sc.args().iter().flatten().collect();
        let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.len() == args.len() {
            rules.push(Rule {
                conds: args,
                action,
            });
        } else {
            rules.extend(args.into_iter().map(|a| Rule {
                conds: vec![a],
                action,
            }));
        }
    }
    Ok(rules)
}

/// Emits a test of one condition: falls through to `pass` or jumps to `fail`.
fn emit_cond(asm: &mut Asm, abi: Abi, arg: &LinuxSeccompArg, pass: Label, fail: Label) {
    use LinuxSeccompOperator as O;
    let lo_off = OFF_ARGS + 8 * arg.index() as u32;
    let hi_off = lo_off + 4;
    let (value, two) = (arg.value(), arg.value_two().unwrap_or(0));
    let (vhi, vlo) = ((value >> 32) as u32, value as u32);
    let (thi, tlo) = ((two >> 32) as u32, two as u32);
    // The high words decide unless equal; `lo` is where the low-word test starts.
    let hi_then_lo = |asm: &mut Asm, on_hi_gt: Label, on_hi_lt: Label| -> Label {
        let lo = asm.label();
        if abi.wide_args() {
            let chk_eq = asm.label();
            asm.load(hi_off);
            asm.jump(Cond::Gt, vhi, on_hi_gt, chk_eq);
            asm.mark(chk_eq);
            asm.jump(Cond::Eq, vhi, lo, on_hi_lt);
        }
        asm.mark(lo);
        asm.load(lo_off);
        lo
    };
    match arg.op() {
        O::ScmpCmpEq | O::ScmpCmpNe => {
            let (eq, ne) = if arg.op() == O::ScmpCmpEq {
                (pass, fail)
            } else {
                (fail, pass)
            };
            if abi.wide_args() {
                let lo = asm.label();
                asm.load(hi_off);
                asm.jump(Cond::Eq, vhi, lo, ne);
                asm.mark(lo);
            }
            asm.load(lo_off);
            asm.jump(Cond::Eq, vlo, eq, ne);
        }
        O::ScmpCmpGt => {
            hi_then_lo(asm, pass, fail);
            asm.jump(Cond::Gt, vlo, pass, fail);
        }
        O::ScmpCmpGe => {
            hi_then_lo(asm, pass, fail);
            asm.jump(Cond::Ge, vlo, pass, fail);
        }
        O::ScmpCmpLt => {
            hi_then_lo(asm, fail, pass);
            asm.jump(Cond::Ge, vlo, fail, pass);
        }
        O::ScmpCmpLe => {
            hi_then_lo(asm, fail, pass);
            asm.jump(Cond::Gt, vlo, fail, pass);
        }
        O::ScmpCmpMaskedEq => {
            // runtime-spec: `value` is the mask, `valueTwo` what the masked argument must equal.
            if abi.wide_args() {
                let lo = asm.label();
                asm.load(hi_off);
                asm.and(vhi);
                asm.jump(Cond::Eq, thi, lo, fail);
                asm.mark(lo);
            }
            asm.load(lo_off);
            asm.and(vlo);
            asm.jump(Cond::Eq, tlo, pass, fail);
        }
    }
    asm.mark(pass);
}

/// Emits the section of one architecture; the syscall number is already in A.
fn emit_section(
    asm: &mut Asm,
    seccomp: &LinuxSeccomp,
    abi: Abi,
    default: u32,
) -> Result<(), SecurityError> {
    // Every syscall number the spec names on this architecture, ascending and unique.
    let mut numbers: Vec<u32> = seccomp
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|sc| sc.names().iter().filter_map(|n| abi.number(n)))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();

    // Syscalls newer than any the profile names get ENOSYS rather than the default errno, so
    // that programs fall back to older calls (clone3 -> clone) as they would on an old kernel.
    if seccomp.default_action() == LinuxSeccompAction::ScmpActErrno {
        if let Some(&max) = numbers.last() {
            let (newer, known) = (asm.label(), asm.label());
            asm.jump(Cond::Gt, max, newer, known);
            asm.mark(newer);
            asm.ret(RET_ERRNO | libc::ENOSYS as u32);
            asm.mark(known);
        }
    }

    let mut blocks = Vec::new();
    for nr in numbers {
        let rules = rules_for(seccomp, abi, nr)?;
        let (hit, miss) = (asm.label(), asm.label());
        asm.jump(Cond::Eq, nr, hit, miss);
        asm.mark(hit);
        match rules.as_slice() {
            [only] if only.conds.is_empty() => asm.ret(only.action),
            _ => {
                let block = asm.label();
                asm.goto(block);
                blocks.push((block, rules));
            }
        }
        asm.mark(miss);
    }
    asm.ret(default);

    for (block, rules) in blocks {
        asm.mark(block);
        for rule in rules {
            let next_rule = asm.label();
            for cond in &rule.conds {
                let pass = asm.label();
                emit_cond(asm, abi, cond, pass, next_rule);
            }
            asm.ret(rule.action);
            asm.mark(next_rule);
        }
        asm.ret(default);
    }
    Ok(())
}

/// The compiled filter and the flags to install it with.
#[derive(Debug)]
pub struct Filter {
    pub program: Vec<SockFilter>,
    pub flags: u32,
}

/// Compiles `seccomp` for this host, refusing anything it cannot honour.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SecurityError> {
    let default = action_value(
        &format!("{FIELD}.defaultAction"),
        seccomp.default_action(),
        seccomp.default_errno_ret(),
    )?;
    if seccomp.listener_path().is_some() || seccomp.listener_metadata().is_some() {
        return Err(SecurityError::invalid(
            format!("{FIELD}.listenerPath"),
            "seccomp notify listeners are not supported by berth",
        ));
    }
    let mut flags = 0;
    for f in seccomp.flags().iter().flatten() {
        flags |= filter_flag(*f)?;
    }
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("{FIELD}.syscalls[{i}]");
        action_value(&field, sc.action(), sc.errno_ret())?;
        if sc.names().is_empty() {
            return Err(SecurityError::invalid(
                format!("{field}.names"),
                "must name at least one syscall",
            ));
        }
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return Err(SecurityError::invalid(
                    format!("{field}.args"),
                    format!("index {} is beyond the six syscall arguments", a.index()),
                ));
            }
        }
        for name in sc.names() {
            if !tables::X86_64
                .iter()
                .chain(tables::X86)
                .chain(tables::X32)
                .any(|(n, _)| n == name)
            {
                log::debug!("{field}: skipping syscall {name:?}, unknown on this architecture");
            }
        }
    }

    let abis = abis(seccomp)?;
    let mut asm = Asm::default();
    let sections: Vec<(Abi, Label)> = abis.iter().map(|a| (*a, asm.label())).collect();
    let section = |abi: Abi| sections.iter().find(|(a, _)| *a == abi).map(|(_, l)| *l);
    let bad_arch = asm.label();

    asm.load(OFF_ARCH);
    let (is_x86_64, not_x86_64) = (asm.label(), asm.label());
    asm.jump(Cond::Eq, AUDIT_ARCH_X86_64, is_x86_64, not_x86_64);
    asm.mark(is_x86_64);
    {
        // x86_64 and x32 share AUDIT_ARCH_X86_64; x32 numbers carry the x32 bit.
        let x64 = section(Abi::X86_64).unwrap_or(bad_arch);
        let x32 = section(Abi::X32).unwrap_or(bad_arch);
        asm.load(OFF_NR);
        asm.jump(Cond::Ge, X32_SYSCALL_BIT, x32, x64);
    }
    asm.mark(not_x86_64);
    if let Some(l) = section(Abi::X86) {
        let other = asm.label();
        asm.jump(Cond::Eq, AUDIT_ARCH_I386, l, other);
        asm.mark(other);
    }
    asm.mark(bad_arch);
    // An architecture the profile does not cover: kill the whole process, not one thread.
    asm.ret(RET_KILL_PROCESS);

    for (abi, label) in &sections {
        asm.mark(*label);
        asm.load(OFF_NR);
        emit_section(&mut asm, seccomp, *abi, default)?;
    }

    let program = asm.assemble().map_err(|e| match e {
        bpf::AsmError::TooLarge(n) => SecurityError::invalid(
            FIELD,
            format!(
                "the filter needs {n} BPF instructions, more than the kernel's {}",
                bpf::MAX_INSNS
            ),
        ),
        other => SecurityError::invalid(
            FIELD,
            format!("internal error generating the filter: {other:?}"),
        ),
    })?;
    Ok(Filter { program, flags })
}

/// The `linux.seccomp` object of `berth features`: what [`compile`] accepts.
pub fn features() -> serde_json::Value {
    serde_json::json!({
        "enabled": cfg!(target_arch = "x86_64"),
        "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                      "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
        "archs": ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
        "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                       "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                           "SECCOMP_FILTER_FLAG_LOG"]
    })
}

/// Checks linux.seccomp by compiling it.
pub fn validate(spec: &Spec) -> Result<(), SecurityError> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => compile(s).map(|_| ()),
        None => Ok(()),
    }
}

/// Installs the filter on the calling thread (TSYNC: all threads).
pub fn install(seccomp: &LinuxSeccomp) -> Result<(), SecurityError> {
    let filter = compile(seccomp)?;
    let program: Vec<libc::sock_filter> = filter
        .program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    berth_sys::security::seccomp_set_mode_filter(filter.flags, &program)
        .map_err(|e| SecurityError::syscall(FIELD, "seccomp(SECCOMP_SET_MODE_FILTER)", e))
}

#[cfg(test)]
mod tests;
