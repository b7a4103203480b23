//! Processes: waiting for ones that are not our children, and the calling process's own
//! attributes (subreaper, dumpable, affinity, memory policy, signal actions).

use crate::ret::cvt;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A pidfd for `pid` (Linux 5.3+): it becomes readable when the process exits, whoever its parent is.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until the process behind `pidfd` has exited or `timeout` passes; true if it exited.
pub fn pidfd_wait(pidfd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32)
        .unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, ms) {
            Ok(n) => return Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are reparented to this process
/// (which must reap them) instead of to the init of its pid namespace.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    crate::ret::cvt(r).map(drop)
}

/// Marks the process (non-)dumpable. A non-dumpable process cannot be ptraced, and its
/// /proc/PID entries (exe, fd, mem, ...) are closed to other processes of its user, so while the
/// init still runs berth's code inside the container nothing there can reach into it.
pub fn set_dumpable(dumpable: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            libc::c_ulong::from(dumpable),
            0,
            0,
            0,
        )
    };
    crate::ret::cvt(r).map(drop)
}

/// sched_setaffinity(2) of `pid` (0: the calling thread) with a CPU bit mask of any length
/// (bit N of word N/64 is CPU N, the kernel's array of unsigned long). The kernel ignores bits
/// past its CPU count and, for the effective affinity, those outside the task's cpuset.
pub fn sched_setaffinity(pid: i32, mask: &[u64]) -> io::Result<()> {
    let len = std::mem::size_of_val(mask);
    // SAFETY: the kernel reads `len` bytes from a live slice.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setaffinity, pid, len, mask.as_ptr()) }).map(drop)
}

/// sched_getaffinity(2) of `pid` (0: the calling thread): the CPU bit mask, in the layout
/// [`sched_setaffinity`] takes, for up to 8192 CPUs.
pub fn sched_getaffinity(pid: i32) -> io::Result<Vec<u64>> {
    let mut mask = vec![0u64; 128];
    let len = std::mem::size_of_val(mask.as_slice());
    // SAFETY: the kernel writes at most `len` bytes into a live, exclusively borrowed buffer,
    // and returns how many it wrote.
    let n =
        cvt(unsafe { libc::syscall(libc::SYS_sched_getaffinity, pid, len, mask.as_mut_ptr()) })?;
    mask.truncate((n as usize).div_ceil(8));
    Ok(mask)
}

/// set_mempolicy(2) of the calling thread: `mode` with its flags or'ed in, and the node mask
/// (bit N of word N/64 is node N; empty: no mask).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits.
        (nodes.as_ptr(), nodes.len() * 64 + 1)
    };
    loop {
        // SAFETY: the kernel reads at most `nodes.len()` words from a live slice (or none).
        match cvt(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// The handler [`exit_on_signals`] installs. With SA_RESETHAND and SA_NODEFER the signal's
/// action is the default again and it is not blocked, so raising it kills the process as the
/// default action would; where the kernel drops it instead (the init of a pid namespace, which
/// a default-action signal cannot kill), the process exits with 128 + the signal's number.
extern "C" fn die_of_signal(sig: libc::c_int) {
    // SAFETY: raise and _exit are async-signal-safe; _exit does not return.
    unsafe {
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}

/// Makes each of `signals` end the process even where its default action would not (the init
/// of a pid namespace ignores a signal it has no handler for, whoever sends it), until
/// [`default_signal_actions`] or an execve resets them.
pub fn exit_on_signals(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: a zeroed sigaction is a valid value to fill in; the handler is an
        // `extern "C" fn(c_int)` that only calls async-signal-safe functions.
        let r = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = die_of_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESETHAND | libc::SA_NODEFER;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        cvt(r)?;
    }
    Ok(())
}

/// The calling thread's signal mask, signals 1 to 64 as bits 0 to 63.
pub fn signal_mask() -> io::Result<u64> {
    // SAFETY: a zeroed sigset_t is a valid (empty) set; pthread_sigmask only writes into it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let r = libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        set
    };
    let mut bits = 0u64;
    for sig in 1..=64 {
        // SAFETY: sigismember reads a valid set; an invalid number returns -1, not a member.
        if unsafe { libc::sigismember(&set, sig) } == 1 {
            bits |= 1 << (sig - 1);
        }
    }
    Ok(bits)
}

/// Sets the calling thread's signal mask to `bits` (as [`signal_mask`] returns it). Signals
/// the C library keeps for itself are left out, as it would refuse them.
pub fn set_signal_mask(bits: u64) -> io::Result<()> {
    // SAFETY: the set is initialised by sigemptyset before use; sigaddset ignores (EINVAL) the
    // numbers it does not allow; pthread_sigmask reads it.
    let r = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in 1..=64 {
            if bits & (1 << (sig - 1)) != 0 {
                libc::sigaddset(&mut set, sig);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// Gives each of `signals` its default action back.
pub fn default_signal_actions(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: SIG_DFL installs no handler code; a zeroed sigaction is otherwise valid.
        let r = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        cvt(r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask read back is the one set, in the same layout (in a thread of its own, so the
    /// test harness's other threads keep their affinity).
    /// The mask set is the mask read back (in a thread of its own: the harness's other threads
    /// keep theirs).
    #[test]
    fn signal_mask_round_trip() {
        std::thread::spawn(|| {
            let want = (1u64 << (libc::SIGUSR1 - 1)) | (1 << (libc::SIGTERM - 1)) | (1 << 40);
            set_signal_mask(want).expect("set");
            assert_eq!(signal_mask().expect("get"), want);
            set_signal_mask(0).expect("clear");
            assert_eq!(signal_mask().expect("get"), 0);
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn affinity_round_trip() {
        std::thread::spawn(|| {
            let all = sched_getaffinity(0).expect("sched_getaffinity");
            let first = all.iter().position(|w| *w != 0).expect("some CPU allowed");
            let bit = all[first].trailing_zeros();
            let mut one = vec![0u64; first + 1];
            one[first] = 1 << bit;
            sched_setaffinity(0, &one).expect("sched_setaffinity");
            let got = sched_getaffinity(0).expect("sched_getaffinity");
            assert_eq!(got.iter().map(|w| w.count_ones()).sum::<u32>(), 1);
            assert_eq!(got[first], 1 << bit);
        })
        .join()
        .expect("thread");
    }
}
