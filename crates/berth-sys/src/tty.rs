//! Terminal calls: pty allocation, controlling terminal, window size, raw mode.

use crate::ret::cvt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Opens a new pty pair through /dev/ptmx (resolved in the caller's root, i.e. the container's
/// devpts); returns (master, slave, slave path).
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd, String)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&name)?;
    // SAFETY: into_raw_fd hands over sole ownership of the master descriptor.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok((master, slave.into(), name))
}

use std::os::unix::fs::OpenOptionsExt;

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
