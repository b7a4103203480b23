//! -ENOSYS for syscalls newer than the profile, as runc gives it.
//!
//! A profile lists the syscalls its author knew; with a default other than ALLOW (or LOG or
//! TRACE) a newer syscall (clone3, faccessat2, ... or one newer than libseccomp itself) fails
//! with the default's errno or is killed, where ENOSYS makes programs fall back to the older
//! call as on an older kernel. libseccomp has no rule for "every number above N", so berth
//! puts a short stub in front of libseccomp's program (as runc does): per architecture of the
//! filter, a syscall number above the largest the profile names returns ERRNO(ENOSYS); any
//! other goes on to libseccomp's program, which follows the stub.
//!
//! A separate filter cannot do this: the kernel keeps, between equal actions, the one of the
//! newest filter, and once libseccomp's filter is in, loading another may itself be refused.

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// libseccomp's token for x32 (its syscalls are reported as AUDIT_ARCH_X86_64, numbered from
/// X32_SYSCALL_BIT).
const SCMP_ARCH_X32: u32 = 0x4000_003e;

const RET_ERRNO_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

// Classic BPF opcodes (include/uapi/linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const JA: u16 = 0x05;
/// struct seccomp_data: nr at 0, arch at 4.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The oci-spec architecture of this build (libseccomp's native one), where known.
fn native() -> Option<Arch> {
    Some(if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else if cfg!(target_arch = "aarch64") {
        Arch::ScmpArchAarch64
    } else if cfg!(target_arch = "riscv64") {
        Arch::ScmpArchRiscv64
    } else if cfg!(target_arch = "s390x") {
        Arch::ScmpArchS390x
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        Arch::ScmpArchPpc64le
    } else {
        return None;
    })
}

/// The largest number (as the kernel reports it) that `seccomp` names on `arch`, if any.
fn largest(seccomp: &LinuxSeccomp, arch: ScmpArch) -> Option<u32> {
    seccomp
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
        // Negative: libseccomp's pseudo numbers for names absent on this architecture.
        .filter_map(|nr| u32::try_from(i32::from(nr)).ok())
        .max()
}

/// The stub for `seccomp`, to be put in front of libseccomp's program, or None when it needs
/// none (an ALLOW, LOG or TRACE default, as runc: such profiles do not refuse new syscalls).
pub(super) fn stub(seccomp: &LinuxSeccomp) -> Option<Vec<libc::sock_filter>> {
    use LinuxSeccompAction as A;
    if matches!(
        seccomp.default_action(),
        A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace
    ) {
        return None;
    }
    let mut arches: Vec<Arch> = native().into_iter().collect();
    for a in seccomp.architectures().iter().flatten() {
        if *a != Arch::ScmpArchNative && !arches.contains(a) {
            arches.push(*a);
        }
    }
    // The largest number named on x86_64 and on x32 (one audit arch), and on each other one.
    let mut x86_64 = (None, None);
    let mut others: Vec<(u32, u32)> = Vec::new();
    for a in arches {
        let Some(max) = largest(seccomp, super::arch(a)) else {
            continue;
        };
        match a as u32 {
            AUDIT_ARCH_X86_64 => x86_64.0 = Some(max),
            SCMP_ARCH_X32 => x86_64.1 = Some(max),
            token => others.push((token, max)),
        }
    }
    // `None` marks "go on to libseccomp's program": a jump to the end of the stub, filled in
    // below once the length is known.
    let mut prog: Vec<Option<libc::sock_filter>> = vec![Some(ins(LD_W_ABS, 0, 0, OFF_ARCH))];
    if x86_64 != (None, None) {
        // No limit for an ABI left out: libseccomp's program kills it.
        let (m64, m32) = (x86_64.0.unwrap_or(u32::MAX), x86_64.1.unwrap_or(u32::MAX));
        prog.extend([
            Some(ins(JEQ_K, 0, 8, AUDIT_ARCH_X86_64)),
            Some(ins(LD_W_ABS, 0, 0, OFF_NR)),
            Some(ins(JGE_K, 0, 3, X32_SYSCALL_BIT)),
            Some(ins(JGT_K, 0, 1, m32)),
            Some(ins(RET_K, 0, 0, RET_ERRNO_ENOSYS)),
            None,
            Some(ins(JGT_K, 0, 1, m64)),
            Some(ins(RET_K, 0, 0, RET_ERRNO_ENOSYS)),
            None,
        ]);
    }
    for (audit_arch, max) in others {
        // The accumulator still holds the arch when the jump skips this section.
        prog.extend([
            Some(ins(JEQ_K, 0, 4, audit_arch)),
            Some(ins(LD_W_ABS, 0, 0, OFF_NR)),
            Some(ins(JGT_K, 0, 1, max)),
            Some(ins(RET_K, 0, 0, RET_ERRNO_ENOSYS)),
            None,
        ]);
    }
    let len = prog.len();
    Some(
        prog.into_iter()
            .enumerate()
            .map(|(i, insn)| insn.unwrap_or_else(|| ins(JA, 0, 0, (len - i - 1) as u32)))
            .collect(),
    )
}
