//! Process creation with namespace flags.

use std::io;

/// The result of [`clone_process`] as seen by each side.
pub enum CloneResult {
    Parent { child: i32 },
    Child,
}

/// `clone(2)` without a new stack: like fork(2), but with namespace flags (`CLONE_NEW*`) and
/// `CLONE_PARENT`, which fork cannot take. The child gets SIGCHLD-style exit notification so the
/// parent waits for it with waitpid as usual.
///
/// Only call this while the process is single-threaded (berth never starts threads): the child
/// is a copy of the calling thread only.
pub fn clone_process(flags: libc::c_int) -> io::Result<CloneResult> {
    let flags = (flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a raw clone with a null stack behaves like fork: the child continues on a
    // copy-on-write copy of this thread's stack. No pointers are passed to the kernel.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match crate::ret::cvt(ret)? {
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent { child: pid as i32 }),
    }
}

/// Ends the calling process at once, without running Rust destructors or atexit handlers: the
/// right exit for a cloned child whose copied state (locks, buffers) belongs to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}
