//! The channel between the runtime and the container's init: a SOCK_SEQPACKET socketpair, one
//! JSON message per packet. Close-on-exec, so it disappears when the init execs the user process.

use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncMsg {
    /// From the intermediate process: the pid of the init it cloned.
    InitPid { pid: i32 },
    /// From the runtime: id maps written, cgroup joined; the init may set itself up.
    Go,
    /// From the init: set up, about to wait on exec.fifo.
    Ready,
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
        let mut data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        data.truncate(MAX_MSG);
        nix::sys::socket::send(
            self.0.as_raw_fd(),
            &data,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(io::Error::from)?;
        Ok(())
    }

    /// The next message, or None when every peer has closed its end (the peer died).
    pub fn recv(&self) -> io::Result<Option<SyncMsg>> {
        let mut buf = vec![0u8; MAX_MSG];
        let n = loop {
            match nix::sys::socket::recv(
                self.0.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.map_err(io::Error::from)?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(io::Error::other)
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
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
