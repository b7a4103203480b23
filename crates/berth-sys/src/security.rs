//! Thin wrappers over the process-attribute syscalls that nix does not cover (or covers only
//! for the calling process). Each one does exactly one syscall and maps its failure to
//! `std::io::Error`, so the policy in `crate::security` stays testable without root.

use crate::ret::cvt;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `struct sched_attr` from the kernel UAPI (`include/uapi/linux/sched/types.h`).
/// libc does not export it, so it is spelled out here field for field.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// The first published layout of `struct sched_attr` (without the utilisation clamps):
/// passing this size tells the kernel not to read `sched_util_min/max`.
pub const SCHED_ATTR_SIZE_VER0: u32 = 48;

/// `sched_setattr(pid, attr, 0)`; pid 0 is the calling thread.
pub fn sched_setattr(pid: i32, attr: &SchedAttr) -> io::Result<()> {
    // SAFETY: `attr` points to a live, properly laid out `struct sched_attr` whose `size` field
    // is at most its real size; the kernel only reads `attr.size` bytes from it.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, pid, attr as *const SchedAttr, 0u32) })?;
    Ok(())
}

/// `sched_getattr(pid, attr, sizeof attr, 0)`, used by tests and diagnostics.
pub fn sched_getattr(pid: i32) -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a writable `struct sched_attr` of exactly `size` bytes.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            pid,
            &mut attr as *mut SchedAttr,
            size,
            0u32,
        )
    })?;
    Ok(attr)
}

/// `IOPRIO_WHO_PROCESS` from `include/uapi/linux/ioprio.h`.
pub const IOPRIO_WHO_PROCESS: i32 = 1;

/// `ioprio_set(IOPRIO_WHO_PROCESS, pid, value)`; pid 0 is the calling thread.
pub fn ioprio_set(pid: i32, value: i32) -> io::Result<()> {
    // SAFETY: ioprio_set takes three integers and touches no memory of ours.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, value) })?;
    Ok(())
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, pid)`.
pub fn ioprio_get(pid: i32) -> io::Result<i32> {
    // SAFETY: ioprio_get takes two integers and touches no memory of ours.
    let rc = cvt(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid) })?;
    Ok(rc as i32)
}

/// Value that makes `personality(2)` only report the current persona.
pub const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// `personality(persona)`; returns the previous persona.
pub fn personality(persona: u32) -> io::Result<u32> {
    // SAFETY: personality takes one integer and touches no memory of ours.
    let rc = cvt(unsafe { libc::personality(persona as libc::c_ulong) })?;
    Ok(rc as u32)
}

/// `prctl(PR_CAPBSET_READ, cap)`: Ok(None) when the kernel does not know `cap` (EINVAL),
/// which is how the highest supported capability is found without trusting /proc.
pub fn capbset_read(cap: u32) -> io::Result<Option<bool>> {
    // SAFETY: PR_CAPBSET_READ takes an integer argument and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
    match cvt(rc) {
        Ok(rc) => Ok(Some(rc == 1)),
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(err) => Err(err),
    }
}

/// `prctl(PR_CAPBSET_DROP, cap)`: removes `cap` from the bounding set (needs CAP_SETPCAP).
pub fn capbset_drop(cap: u32) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes an integer argument and touches no memory of ours.
    cvt(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: irreversible for this process and its descendants.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments and touches no memory of ours.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// `prctl(PR_GET_NO_NEW_PRIVS)`.
pub fn get_no_new_privs() -> io::Result<bool> {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointer arguments.
    let rc = cvt(unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) })?;
    Ok(rc == 1)
}

/// `prctl(PR_SET_KEEPCAPS, on)`: whether permitted capabilities survive a switch away from uid 0.
pub fn set_keepcaps(on: bool) -> io::Result<()> {
    // SAFETY: PR_SET_KEEPCAPS takes integer arguments and touches no memory of ours.
    cvt(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// `setgroups(groups)`: the supplementary group list of the calling thread (glibc applies
/// it to every thread of the process).
pub fn setgroups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `groups`, which outlives the call; the kernel
    // only reads it.
    cvt(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })?;
    Ok(())
}

/// `setresgid(gid, gid, gid)`: real, effective and saved gid at once.
pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: setresgid takes integers and touches no memory of ours.
    cvt(unsafe { libc::setresgid(gid, gid, gid) })?;
    Ok(())
}

/// `setresuid(uid, uid, uid)`: real, effective and saved uid at once.
pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: setresuid takes integers and touches no memory of ours.
    cvt(unsafe { libc::setresuid(uid, uid, uid) })?;
    Ok(())
}

/// `prlimit(pid, resource, new, NULL)`; pid 0 is the calling process. Unlike setrlimit this can
/// target another process, so the parent can raise limits of an init that sits in a user
/// namespace (where the init itself may no longer raise its hard limits).
pub fn prlimit_set(pid: i32, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `new` is a valid rlimit64 for the duration of the call and the old-limit pointer
    // is NULL, so the kernel writes nothing.
    cvt(unsafe {
        libc::prlimit64(
            pid,
            resource as libc::__rlimit_resource_t,
            &new,
            std::ptr::null_mut(),
        )
    })?;
    Ok(())
}

/// `prlimit(pid, resource, NULL, &old)`: (soft, hard).
pub fn prlimit_get(pid: i32, resource: u32) -> io::Result<(u64, u64)> {
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the new-limit pointer is NULL and `old` is a writable rlimit64.
    cvt(unsafe {
        libc::prlimit64(
            pid,
            resource as libc::__rlimit_resource_t,
            std::ptr::null(),
            &mut old,
        )
    })?;
    Ok((old.rlim_cur, old.rlim_max))
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: installs a classic-BPF filter on the
/// calling thread (all threads with SECCOMP_FILTER_FLAG_TSYNC). Needs no_new_privs or
/// CAP_SYS_ADMIN. With SECCOMP_FILTER_FLAG_NEW_LISTENER, returns the filter's notify fd
/// (close-on-exec).
pub fn seccomp_set_mode_filter(
    flags: u32,
    program: &[libc::sock_filter],
) -> io::Result<Option<OwnedFd>> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `len` valid sock_filter instructions that outlive the call; the
    // kernel copies the program and does not keep the pointer.
    let ret = cvt(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    })?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32 == 0 {
        return Ok(None);
    }
    let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: with NEW_LISTENER the kernel returns a new fd that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether this kernel knows the seccomp filter flag `flag`: it checks the flags before it
/// reads the program, so a NULL program fails with EFAULT for a known flag and EINVAL for an
/// unknown one (the probe libseccomp uses too). Nothing is installed either way.
pub fn seccomp_filter_flag_supported(flag: u32) -> bool {
    // SAFETY: a NULL program is never read when the flag is unknown, and faults (EFAULT)
    // inside the kernel when it is known; no filter is installed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flag,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_layout_matches_kernel() {
        // VER1 of struct sched_attr is 56 bytes; a wrong layout would make the kernel read junk.
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
    }

    #[test]
    fn queries_work_unprivileged() {
        let attr = sched_getattr(0).expect("sched_getattr on self");
        assert!(attr.size >= SCHED_ATTR_SIZE_VER0);
        assert!(ioprio_get(0).is_ok());
        assert!(personality(PERSONALITY_QUERY).is_ok());
        assert!(capbset_read(0).expect("capbset read").is_some());
        assert_eq!(capbset_read(1000).expect("capbset read beyond last"), None);
        let (soft, hard) = prlimit_get(0, libc::RLIMIT_NOFILE).expect("prlimit get");
        assert!(soft <= hard);
    }
}
