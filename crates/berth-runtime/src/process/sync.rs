//! The channel between the runtime and the container's init: a SOCK_SEQPACKET socketpair, one
//! JSON message per packet. Close-on-exec, so it disappears when the init execs the user process.

use serde::{Deserialize, Serialize};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncMsg {
    /// From the intermediate process: the pid of the init it cloned.
    InitPid { pid: i32 },
    /// From the runtime: id maps written, cgroup joined; the init may set itself up. Carries
    /// the state JSON the init's hooks get (createContainer, startContainer), when there are any.
    Go { hook_state: Option<String> },
    /// From the init: mounts are in place, pivot_root is next: run prestart and createRuntime.
    RunCreateRuntimeHooks,
    /// From the runtime: those hooks succeeded.
    HooksDone,
    /// From the init: set up, about to wait on exec.fifo.
    Ready,
    /// From the init: the master of the container's terminal travels with this message.
    Console,
    /// From the init or intermediate: setting up failed.
    Error { msg: String },
}

const MAX_MSG: usize = 64 * 1024;

#[derive(Debug)]
pub struct SyncChannel(OwnedFd);

impl SyncChannel {
    pub fn pair() -> io::Result<(SyncChannel, SyncChannel)> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok((SyncChannel(a), SyncChannel(b)))
    }

    pub fn send(&self, msg: &SyncMsg) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        nix::sys::socket::send(
            self.0.as_raw_fd(),
            &data,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(io::Error::from)?;
        Ok(())
    }

    /// For a cloned child that failed: tells the runtime why (stderr if it is gone) and exits 1.
    pub fn fail_and_exit(&self, msg: String) -> ! {
        if self.send(&SyncMsg::Error { msg: msg.clone() }).is_err() {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("berth: {msg}\n").as_bytes(),
            );
        }
        berth_sys::clone::exit_now(1)
    }

    /// Sends a message with a file descriptor attached (SCM_RIGHTS).
    pub fn send_with_fd(&self, msg: &SyncMsg, fd: BorrowedFd<'_>) -> io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let fds = [fd.as_raw_fd()];
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &[IoSlice::new(&data)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(io::Error::from)?;
        Ok(())
    }

    /// The next message, or None when every peer has closed its end (the peer died).
    pub fn recv(&self) -> io::Result<Option<SyncMsg>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// The next message and the descriptor that came with it, if any.
    pub fn recv_with_fd(&self) -> io::Result<Option<(SyncMsg, Option<OwnedFd>)>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(r) => {
                    let mut fd = None;
                    for c in r.cmsgs().map_err(io::Error::from)? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: the kernel just installed this descriptor for us; we own it.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (r.bytes, fd);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(io::Error::other)?;
        Ok(Some((msg, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (a, b) = SyncChannel::pair().unwrap();
        a.send(&SyncMsg::InitPid { pid: 7 }).unwrap();
        a.send(&SyncMsg::Error { msg: "boom".into() }).unwrap();
        assert_eq!(b.recv().unwrap(), Some(SyncMsg::InitPid { pid: 7 }));
        assert_eq!(
            b.recv().unwrap(),
            Some(SyncMsg::Error { msg: "boom".into() })
        );
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&SyncMsg::Console, std::os::fd::AsFd::as_fd(&f))
            .unwrap();
        let (m, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(m, SyncMsg::Console);
        assert!(fd.is_some());
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
