//! File-descriptor hygiene before exec.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Puts `fd` in non-blocking mode (O_NONBLOCK), for a poll(2) loop that must never stall on one
/// descriptor while another waits to be served.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl F_GETFL on a descriptor the borrow keeps open; no memory is passed.
    let flags = crate::ret::cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above, F_SETFL with an integer flag word.
    crate::ret::cvt(unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
    })?;
    Ok(())
}

/// Marks every fd >= `first` close-on-exec, so the container's process inherits nothing of the
/// runtime's but stdio and the fds the caller asked to preserve.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes flags of our own descriptors; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd instead.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a descriptor number; an already-closed one just returns EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
