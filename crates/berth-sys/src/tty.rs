//! Terminal calls: pty allocation, controlling terminal, window size, raw mode.

use crate::ret::cvt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `DEVPTS_SUPER_MAGIC` (linux/magic.h): the `f_type` of a devpts mount.
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// The first major number of pty slaves (`UNIX98_PTY_SLAVE_MAJOR`); there are 8.
const PTY_SLAVE_MAJOR: u32 = 136;

fn not_a_pty(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} is not a pseudo-terminal of devpts"),
    )
}

/// Opens a new pty pair from the devpts instance at `/dev/pts` of the caller's root (the
/// container's) and returns (master, slave). No path is trusted (CVE-2025-52565): the master is
/// `/dev/pts/ptmx` opened without following any symlink and checked to be devpts' ptmx (5:2),
/// and the slave is its peer opened through the master (`TIOCGPTPEER`), never `/dev/pts/N` by
/// name, and checked to be a pty slave on devpts.
///
/// Where `/dev/pts/ptmx` cannot be opened (a devpts mounted with the host's `ptmxmode=000` and
/// a root that may not override it, or none there), `/dev/ptmx` is opened in-root instead and
/// must be the ptmx character device (5:2) itself: the kernel then allocates from the devpts
/// next to it, and the peer is checked as above.
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    use crate::path::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
    let root = crate::path::open_path(std::ffi::OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY)?;
    let is_ptmx = |fd: &OwnedFd| -> io::Result<bool> {
        let st = crate::path::fstat(fd.as_fd())?;
        Ok(st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(5, 2))
    };
    let master = match openat2(
        root.as_raw_fd(),
        c"dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    ) {
        Ok(m) => {
            if crate::mount::fstatfs_type(m.as_fd())? != DEVPTS_SUPER_MAGIC || !is_ptmx(&m)? {
                return Err(not_a_pty("/dev/pts/ptmx"));
            }
            m
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::ENOENT)) => {
            // Checked before it is opened for real: whatever else it resolves to is never
            // opened read-write.
            let p = openat2(
                root.as_raw_fd(),
                c"dev/ptmx",
                libc::O_PATH,
                0,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            )?;
            if !is_ptmx(&p)? {
                return Err(not_a_pty("/dev/ptmx"));
            }
            let proc_root = crate::procfs::verified_proc()?;
            crate::procfs::reopen_own_fd(
                proc_root.as_fd(),
                p.as_fd(),
                libc::O_RDWR | libc::O_NOCTTY,
            )?
        }
        Err(e) => return Err(e),
    };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from `unlock`, which lives for the call.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd that nothing else owns.
    let slave = cvt(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let st = crate::path::fstat(slave.as_fd())?;
    let major = libc::major(st.st_rdev);
    if crate::mount::fstatfs_type(slave.as_fd())? != DEVPTS_SUPER_MAGIC
        || st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || !(PTY_SLAVE_MAJOR..PTY_SLAVE_MAJOR + 8).contains(&major)
    {
        return Err(not_a_pty("the pty's peer"));
    }
    Ok((master, slave))
}

/// Makes `tty` the controlling terminal of a new session and the process's stdin/out/err.
pub fn make_controlling_stdio(tty: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::setsid()?;
    // SAFETY: TIOCSCTTY takes an integer argument; the descriptor is valid for the call.
    cvt(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) })?;
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        cvt(unsafe { libc::dup2(tty.as_raw_fd(), target) })?;
    }
    Ok(())
}

pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into `ws`, which lives for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) })?;
    Ok(ws)
}

pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from `ws`, which lives for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// Puts a terminal in raw mode; the returned settings restore it.
pub fn make_raw(fd: BorrowedFd<'_>) -> io::Result<nix::sys::termios::Termios> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let saved = tcgetattr(fd)?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    tcsetattr(fd, SetArg::TCSANOW, &raw)?;
    Ok(saved)
}

pub fn restore(fd: BorrowedFd<'_>, saved: &nix::sys::termios::Termios) {
    let _ = nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, saved);
}

pub fn is_tty(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd.as_raw_fd()).unwrap_or(false)
}

/// Turns off the \n → \r\n output translation of a pty.
pub fn clear_onlcr(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::sys::termios::{tcgetattr, tcsetattr, OutputFlags, SetArg};
    let mut t = tcgetattr(fd)?;
    t.output_flags.remove(OutputFlags::ONLCR);
    tcsetattr(fd, SetArg::TCSANOW, &t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_pair(master: &OwnedFd, slave: &OwnedFd) {
        assert!(is_tty(master.as_fd()) && is_tty(slave.as_fd()));
        assert_eq!(
            crate::mount::fstatfs_type(slave.as_fd()).unwrap(),
            DEVPTS_SUPER_MAGIC
        );
        // The pair is connected: a size set on the master shows on the slave.
        set_winsize(master.as_fd(), 12, 34).unwrap();
        let ws = get_winsize(slave.as_fd()).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (12, 34));
    }

    #[test]
    fn a_pty_from_dev_pts_ptmx() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP a_pty_from_dev_pts_ptmx: /dev/pts/ptmx is often mode 000");
            return;
        }
        let (master, slave) = open_pty().unwrap();
        check_pair(&master, &slave);
    }

    /// Without the capabilities that override file modes, a devpts mounted `ptmxmode=000` (the
    /// host's, here, where it is so) refuses /dev/pts/ptmx: /dev/ptmx, checked to be the ptmx
    /// device, is used. Runs in a thread of its own, whose effective capabilities it trims.
    #[test]
    fn a_pty_from_dev_ptmx_when_dev_pts_ptmx_is_closed() {
        let closed = std::fs::metadata("/dev/pts/ptmx")
            .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777 == 0);
        if !nix::unistd::geteuid().is_root() || !closed {
            eprintln!("SKIP a_pty_from_dev_ptmx_when_dev_pts_ptmx_is_closed: needs root and a mode-000 /dev/pts/ptmx");
            return;
        }
        std::thread::spawn(|| {
            #[repr(C)]
            struct Header {
                version: u32,
                pid: i32,
            }
            #[repr(C)]
            #[derive(Clone, Copy, Default)]
            struct Data {
                effective: u32,
                permitted: u32,
                inheritable: u32,
            }
            let mut header = Header {
                version: 0x2008_0522,
                pid: 0,
            };
            let mut data = [Data::default(); 2];
            // SAFETY: capget fills two Data structs for version 3; both live for the call.
            let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
            assert_eq!(r, 0);
            // CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) out of this thread's set.
            data[0].effective &= !0b110;
            // SAFETY: capset reads the header and two Data structs, which live for the call.
            let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
            assert_eq!(r, 0);
            let e = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/pts/ptmx")
                .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES));
            let (master, slave) = open_pty().unwrap();
            check_pair(&master, &slave);
        })
        .join()
        .unwrap();
    }
}
