//! The container's terminal (`process.terminal: true`): allocated by the init inside the
//! container's devpts, its master handed to the caller's `--console-socket` or, for a foreground
//! `run`, proxied by berth between its own terminal and the container.

use berth_sys::tty;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Init (or exec) side: a new pty whose slave becomes the process's controlling terminal and
/// stdio, for the init also bound over /dev/console as runc does. Returns the master, to be sent
/// to the runtime.
pub fn setup_in_container(size: Option<(u16, u16)>, bind_console_too: bool) -> io::Result<OwnedFd> {
    let (master, slave, name) = tty::open_pty()?;
    if let Some((rows, cols)) = size {
        tty::set_winsize(master.as_fd(), rows, cols)?;
    }
    if bind_console_too {
        bind_console(&name)?;
    }
    tty::make_controlling_stdio(slave.as_fd())?;
    Ok(master)
}

/// After pivot_root every path resolves inside the container, so /dev/console cannot point out.
fn bind_console(slave_path: &str) -> io::Result<()> {
    let console = Path::new("/dev/console");
    if !console.exists() {
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(console)
        {
            // A read-only /dev: the container simply has no /dev/console.
            if e.raw_os_error() == Some(libc::EROFS) {
                return Ok(());
            }
            return Err(e);
        }
    }
    nix::mount::mount(
        Some(slave_path),
        console,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Runtime side: hands the master to the AF_UNIX socket the caller named (`--console-socket`),
/// with the terminal's name as payload, as runc does.
pub fn send_to_console_socket(socket: &Path, master: &OwnedFd) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let stream = std::os::unix::net::UnixStream::connect(socket)?;
    let fds = [master.as_raw_fd()];
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[io::IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}
