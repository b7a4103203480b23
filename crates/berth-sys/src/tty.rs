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
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    use crate::path::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
    let master = openat2(
        libc::AT_FDCWD,
        c"/dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )?;
    let st = crate::path::fstat(master.as_fd())?;
    if crate::mount::fstatfs_type(master.as_fd())? != DEVPTS_SUPER_MAGIC
        || st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || st.st_rdev != libc::makedev(5, 2)
    {
        return Err(not_a_pty("/dev/pts/ptmx"));
    }
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
