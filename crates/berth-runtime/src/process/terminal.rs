//! The container's terminal (`process.terminal: true`): allocated by the init inside the
//! container's devpts, its master handed to the caller's `--console-socket` or, for a foreground
//! `run`, proxied by berth between its own terminal and the container.

use super::sync::InitError;
use berth_sys::tty;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Init (or exec) side: a new pty whose slave becomes the process's controlling terminal and
/// stdio, for the init also bound over /dev/console as runc does. Returns the master, to be sent
/// to the runtime. The pty is taken from the container's devpts and bound by fd, onto a
/// /dev/console never followed through a symlink (CVE-2025-52565: see
/// [`berth_sys::tty::open_pty`] and [`crate::rootfs::mount_console`]).
pub fn setup_in_container(
    size: Option<(u16, u16)>,
    bind_console_too: bool,
) -> Result<OwnedFd, InitError> {
    let io_err = |what: &str| {
        let what = format!("process.terminal: {what}");
        move |e: io::Error| InitError::sys(what, &e)
    };
    let (master, slave) = tty::open_pty().map_err(io_err("allocating a pty"))?;
    if let Some((rows, cols)) = size {
        tty::set_winsize(master.as_fd(), rows, cols).map_err(io_err("window size"))?;
    }
    if bind_console_too {
        crate::rootfs::mount_console(slave.as_fd()).map_err(|e| InitError::from_error(&e))?;
    }
    tty::make_controlling_stdio(slave.as_fd()).map_err(io_err("controlling terminal"))?;
    Ok(master)
}

/// Runtime side: hands the master to the AF_UNIX socket the caller named (`--console-socket`),
/// with the terminal's name as payload, as runc does.
pub fn send_to_console_socket(socket: &Path, master: &OwnedFd) -> io::Result<()> {
    super::fd_socket::send_fd(socket, b"/dev/ptmx", master.as_fd())
}
