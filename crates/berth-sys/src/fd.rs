//! File-descriptor hygiene before exec.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `fcntl(F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate numbered `min` or above.
pub fn dup_at_least(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC on a descriptor the borrow keeps open; no memory is passed.
    let new = crate::ret::cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Clears `fd`'s close-on-exec flag: it survives the next execve (what a forked child does just
/// before it executes a program that must inherit the descriptor).
pub fn set_inheritable(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl F_SETFD on a descriptor the borrow keeps open; no memory is passed.
    crate::ret::cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) })?;
    Ok(())
}

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

/// Closes every fd >= `first` but those in `keep` (close_range over the gaps between them).
pub fn close_from_except(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = first;
    for fd in keep.into_iter().chain(std::iter::once(RawFd::MAX)) {
        if fd > from {
            let last = if fd == RawFd::MAX {
                u32::MAX
            } else {
                (fd - 1) as u32
            };
            // SAFETY: close_range closes only our own descriptors in the range; none of them
            // is owned by a live Rust object here (the caller's contract: `keep` lists those).
            let r = unsafe { libc::syscall(libc::SYS_close_range, from as u32, last, 0) };
            crate::ret::cvt(r)?;
        }
        from = fd.saturating_add(1);
    }
    Ok(())
}

/// The process's open descriptors, read from /proc/self/fd, provided that is the kernel's own
/// procfs (a file system of another type mounted there could list anything). `None` when it
/// cannot be read or is not procfs.
pub fn open_fds() -> Option<Vec<RawFd>> {
    let dir = nix::dir::Dir::open(
        "/proc/self/fd",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    // SAFETY: the Dir owns this fd and outlives the borrow.
    let dir_fd = unsafe { BorrowedFd::borrow_raw(dir.as_raw_fd()) };
    if crate::mount::fstatfs_type(dir_fd).ok()? != crate::mount::PROC_SUPER_MAGIC {
        return None;
    }
    let own = dir.as_raw_fd();
    let mut fds = Vec::new();
    for entry in dir {
        let entry = entry.ok()?;
        if let Some(fd) = entry.file_name().to_str().ok().and_then(|s| s.parse().ok()) {
            if fd != own {
                fds.push(fd);
            }
        }
    }
    Some(fds)
}

/// Makes every descriptor from `first` up, except those in `keep`, useless as a way out of a
/// container (CVE-2024-21626): each is replaced by a close-on-exec duplicate of `stand_in`
/// (the container's root, opened O_PATH), so `/proc/self/fd/N` leads back into the container
/// and writes to it fail. Replacing rather than closing keeps the numbers taken: a logger
/// still holding one of them cannot end up writing into a file opened later.
///
/// Where /proc/self/fd cannot be listed (no procfs), the descriptors are closed instead, as is
/// one numbered above RLIMIT_NOFILE.
pub fn replace_fds_from(first: RawFd, keep: &[RawFd], stand_in: BorrowedFd<'_>) -> io::Result<()> {
    let spare = |fd: &RawFd| *fd >= first && !keep.contains(fd) && *fd != stand_in.as_raw_fd();
    if let Some(fds) = open_fds() {
        for fd in fds.iter().filter(|fd| spare(fd)) {
            // SAFETY: dup3 onto a descriptor number of our own process; no memory is passed.
            let r =
                crate::ret::cvt(unsafe { libc::dup3(stand_in.as_raw_fd(), *fd, libc::O_CLOEXEC) });
            match r {
                // A number at or above RLIMIT_NOFILE cannot be a dup3 target (EBADF), nor
                // handed out again while the limit stays: it is closed instead.
                Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                    // SAFETY: closing a descriptor number of our own process that
                    // /proc/self/fd listed and that no Rust object owns here.
                    crate::ret::cvt(unsafe { libc::close(*fd) })?;
                }
                r => {
                    r?;
                }
            }
        }
        return Ok(());
    }
    // Close everything from `first` up but the kept descriptors, range by range.
    let mut kept: Vec<RawFd> = keep
        .iter()
        .copied()
        .chain([stand_in.as_raw_fd()])
        .filter(|fd| *fd >= first)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut lo = first;
    for k in kept.iter().copied().chain([RawFd::MAX]) {
        if k > lo {
            let hi = if k == RawFd::MAX {
                u32::MAX
            } else {
                (k - 1) as u32
            };
            // SAFETY: close_range on our own descriptor numbers; no memory is passed.
            crate::ret::cvt(unsafe { libc::syscall(libc::SYS_close_range, lo as u32, hi, 0) })?;
        }
        lo = k.saturating_add(1);
    }
    Ok(())
}

/// The calling process's working directory as the kernel reports it: a path beginning with
/// "(unreachable)" when it lies outside the process's root (`getcwd(2)` itself, not glibc's
/// wrapper, which turns that case into ENOENT).
pub fn getcwd_raw() -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf is a writable buffer of the length passed.
    let n =
        crate::ret::cvt(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })?;
    // The kernel returns the length including the terminating NUL.
    buf.truncate((n as usize).saturating_sub(1));
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn open_fds_lists_a_new_descriptor() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fds = open_fds().unwrap();
        assert!(fds.contains(&f.as_raw_fd()));
        assert!(fds.contains(&0) || fds.contains(&1) || fds.contains(&2));
    }

    #[test]
    fn getcwd_raw_is_the_cwd() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(getcwd_raw().unwrap(), cwd.as_os_str().as_encoded_bytes());
    }

    #[test]
    fn replaced_descriptors_point_at_the_stand_in() {
        // High descriptor numbers of our own, far above anything the test harness holds.
        let dir = std::env::temp_dir().join(format!("berth-fd-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let leaked = std::fs::File::open(&dir).unwrap();
        let kept = std::fs::File::open("/dev/null").unwrap();
        let stand_in = std::fs::File::open("/").unwrap();
        let (leaked_fd, kept_fd) = (900, 901);
        // SAFETY: dup2 onto numbers no other code of this test binary uses.
        unsafe {
            assert_eq!(libc::dup2(leaked.as_raw_fd(), leaked_fd), leaked_fd);
            assert_eq!(libc::dup2(kept.as_raw_fd(), kept_fd), kept_fd);
        }
        replace_fds_from(leaked_fd, &[kept_fd], stand_in.as_fd()).unwrap();
        let link = |fd: RawFd| std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert_eq!(link(leaked_fd), std::path::Path::new("/"));
        assert_eq!(link(kept_fd), std::path::Path::new("/dev/null"));
        // SAFETY: closing the two numbers this test made.
        unsafe {
            libc::close(leaked_fd);
            libc::close(kept_fd);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Only the listed descriptors survive above `first` (fds far above what the test
    /// harness uses, and above the 900s `replaced_descriptors_point_at_the_stand_in` uses at
    /// the same time: everything from `first` up is closed).
    #[test]
    fn close_from_except_keeps_only_the_listed() {
        let null = std::fs::File::open("/dev/null").expect("open /dev/null");
        for fd in 960..964 {
            // SAFETY: dup2 onto unused numbers; closed below or by the call under test.
            assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), fd) }, fd);
        }
        close_from_except(960, &[962, 5]).expect("close_from_except");
        // SAFETY: F_GETFD on descriptor numbers only reads their flags.
        let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
        assert!(!open(960) && !open(961) && open(962) && !open(963));
        // SAFETY: 962 was dup'ed above and is owned by nothing else.
        unsafe { libc::close(962) };
    }
}
