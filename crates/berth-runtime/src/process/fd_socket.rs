//! Handing a file descriptor to an AF_UNIX socket the caller named (`--console-socket`,
//! `--pidfd-socket`): connect, then one message carrying the fd (SCM_RIGHTS) and a short
//! payload, as runc sends them, so the consumers written for runc work unchanged.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// Sends `fd` to the stream socket listening at `socket`, with `payload` as the message.
pub fn send_fd(socket: &Path, payload: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let stream = std::os::unix::net::UnixStream::connect(socket)?;
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[io::IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}
