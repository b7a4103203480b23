//! Namespace calls: setns, unshare, hostname, a child parked in a new user namespace.

use crate::ret::cvt;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// Joins the namespace `fd` refers to; `nstype` is its CLONE_NEW* flag (checked by the kernel).
pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a valid, borrowed descriptor.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall with integer flags.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    cvt(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// Gives the process a new session keyring named `name`, so containers do not share the host's
/// (keys of one container must not be visible to another).
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    let cname =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl reads the NUL-terminated name, which lives until the call returns.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            cname.as_ptr(),
        )
    };
    cvt(r).map(drop)
}

/// A child process parked in a new user namespace of its own, whose id maps are still unwritten:
/// the caller (its parent, with CAP_SETUID/CAP_SETGID) writes them through [`Self::proc_dir`]
/// and opens `ns/user` there, e.g. for the `userns_fd` of an ID-mapped mount. Dropping it
/// releases the child (it exits) and reaps it; the namespace lives on in any fd opened on it.
#[derive(Debug)]
pub struct ParkedUserns {
    pid: i32,
    proc_pid: u32,
    release: Option<OwnedFd>,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the two-element array it is given.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned these fds to us and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl ParkedUserns {
    /// Clones a child into a new user namespace. The child only makes system calls (no
    /// allocation, no locks), so this is sound even in a threaded process. It reports its pid
    /// as `/proc` (the calling process's procfs, whatever pid namespace that belongs to) sees
    /// it, then waits until it is released.
    pub fn spawn() -> io::Result<ParkedUserns> {
        let (report_r, report_w) = pipe()?;
        let (release_r, release_w) = pipe()?;
        match crate::clone::clone_process(libc::CLONE_NEWUSER)? {
            crate::clone::CloneResult::Child => {
                let mut buf = [0u8; 32];
                // SAFETY: readlink writes at most buf.len() bytes into buf; write, read and
                // close get valid fds of this process and buffers that live for the call.
                // Only async-signal-safe calls are made before _exit.
                unsafe {
                    libc::close(report_r.as_raw_fd());
                    libc::close(release_w.as_raw_fd());
                    let n =
                        libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len());
                    if n > 0 {
                        libc::write(report_w.as_raw_fd(), buf.as_ptr().cast(), n as usize);
                    }
                    libc::close(report_w.as_raw_fd());
                    let mut byte = 0u8;
                    while libc::read(release_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) < 0
                        && *libc::__errno_location() == libc::EINTR
                    {}
                }
                crate::clone::exit_now(0)
            }
            crate::clone::CloneResult::Parent { child } => {
                drop(report_w);
                drop(release_r);
                let mut parked = ParkedUserns {
                    pid: child,
                    proc_pid: 0,
                    release: Some(release_w),
                };
                let mut text = String::new();
                std::fs::File::from(report_r).read_to_string(&mut text)?;
                parked.proc_pid = text
                    .trim()
                    .parse()
                    .map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
                Ok(parked)
            }
        }
    }

    /// `/proc/PID` of the child, for its `uid_map`, `setgroups`, `gid_map` and `ns/user`.
    pub fn proc_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}", self.proc_pid))
    }
}

impl Drop for ParkedUserns {
    fn drop(&mut self) {
        drop(self.release.take());
        loop {
            // SAFETY: waitpid on our own child with a null status pointer.
            let r = unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
            if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_userns_takes_maps_and_is_reaped() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping parked_userns_takes_maps_and_is_reaped: needs root");
            return;
        }
        let parked = ParkedUserns::spawn().expect("spawn");
        let dir = parked.proc_dir();
        std::fs::write(dir.join("uid_map"), "0 100000 10\n20 200000 5\n").expect("uid_map");
        std::fs::write(dir.join("setgroups"), "deny").expect("setgroups");
        std::fs::write(dir.join("gid_map"), "0 300000 1\n").expect("gid_map");
        let ns = std::fs::File::open(dir.join("ns/user")).expect("ns/user");
        let ours = std::fs::metadata("/proc/self/ns/user").expect("own userns");
        assert_ne!(
            std::os::unix::fs::MetadataExt::ino(&ns.metadata().expect("stat")),
            std::os::unix::fs::MetadataExt::ino(&ours)
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("uid_map"))
                .expect("read uid_map")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["0", "100000", "10", "20", "200000", "5"]
        );
        let pid = parked.pid;
        drop(parked);
        // Reaped: the pid is no longer our child.
        // SAFETY: waitpid with WNOHANG and a null status pointer.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(r, -1);
    }
}
