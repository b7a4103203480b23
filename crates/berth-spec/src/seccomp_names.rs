//! The names `linux.seccomp` may use (runtime-spec's config-linux.md): config validation accepts
//! exactly these, and `berth features` reports them, so the two cannot drift apart.

/// `defaultAction` and a rule's `action`, sorted as `berth features` (and runc) lists them.
pub const ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// A condition's `op`, sorted.
pub const OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// `architectures`: the host's own (`SCMP_ARCH_NATIVE`), then every architecture libseccomp
/// has a name for, sorted. `berth features` leaves out NATIVE, and the ones the linked
/// libseccomp predates ([`ARCHITECTURES_SINCE_LIBSECCOMP_2_6`]).
pub const ARCHITECTURES: [&str; 24] = [
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
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
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// The architectures of [`ARCHITECTURES`] that libseccomp knows only from version 2.6.
pub const ARCHITECTURES_SINCE_LIBSECCOMP_2_6: [&str; 4] = [
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// `flags`, in the order runc's `features` lists them as `knownFlags`.
pub const FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_the_2_6_architectures_are_among_them() {
        assert!(ACTIONS.is_sorted() && OPERATORS.is_sorted());
        assert!(ARCHITECTURES[1..].is_sorted());
        assert!(ARCHITECTURES_SINCE_LIBSECCOMP_2_6
            .iter()
            .all(|a| ARCHITECTURES.contains(a)));
    }
}
