//! The channel between the runtime and the container's init: a SOCK_SEQPACKET socketpair, one
//! JSON message per packet. Close-on-exec, so it disappears when the init execs the user process.

use serde::{Deserialize, Serialize};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// From the init (root of a user namespace): make the ID-mapped tree of `mounts[index]`,
    /// whose source lies in the init's mount namespace, with the runtime's privileges.
    IdmappedSource { index: usize },
    /// The answer: the detached, ID-mapped tree travels with this message.
    IdmappedTree,
    /// From the init: set up, about to wait on exec.fifo.
    Ready,
    /// From the init: the master of the container's terminal travels with this message.
    Console,
    /// From the init or an exec'd process: the notify fd of its seccomp filter travels with
    /// this message, for the runtime to send to linux.seccomp.listenerPath.
    SeccompNotifyFd,
    /// From the runtime to its launcher: the one job to do. The job (JSON, of any size) is in
    /// the first descriptor that travels with this message, a memfd; the descriptors the job
    /// needs follow it.
    Job,
    /// From the runtime to its launcher, before the job: the new namespaces (CLONE_NEW* flags)
    /// the init would otherwise unshare itself, made by the launcher while the runtime makes
    /// the state directory and opens the cgroup; the init is then cloned into them.
    Unshare { flags: i32 },
    /// From the init, intermediate or exec'd process: setting up failed.
    Error { error: InitError },
}

pub(crate) use crate::init_error::chain_text;
pub use crate::init_error::InitError;

const MAX_MSG: usize = 64 * 1024;

/// The most descriptors one message carries (the kernel's SCM_MAX_FD is 253).
pub const MAX_FDS: usize = 250;

#[derive(Debug)]
pub struct SyncChannel(OwnedFd);

impl std::os::fd::AsRawFd for SyncChannel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl From<OwnedFd> for SyncChannel {
    /// A channel over a socket of [`SyncChannel::pair`] passed to another process.
    fn from(fd: OwnedFd) -> SyncChannel {
        SyncChannel(fd)
    }
}

impl From<SyncChannel> for OwnedFd {
    fn from(chan: SyncChannel) -> OwnedFd {
        chan.0
    }
}

impl std::os::fd::AsFd for SyncChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.0)
    }
}

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
    /// On stderr the message stands alone, as runc's init writes it (`exec /run.sh: no such
    /// file or directory` is the one line run.bats expects of a failed execve after `start`).
    pub fn fail_and_exit(&self, error: InitError) -> ! {
        let text = chain_text(&error);
        if self.send(&SyncMsg::Error { error }).is_err() {
            let _ =
                std::io::Write::write_all(&mut std::io::stderr(), format!("{text}\n").as_bytes());
        }
        berth_sys::clone::exit_now(1)
    }

    /// Sends a message with a file descriptor attached (SCM_RIGHTS).
    pub fn send_with_fd(&self, msg: &SyncMsg, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.send_with_fds(msg, &[fd])
    }

    /// Sends a message with file descriptors attached (SCM_RIGHTS; at most [`MAX_FDS`]).
    pub fn send_with_fds(&self, msg: &SyncMsg, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        if fds.len() > MAX_FDS {
            return Err(io::Error::other(format!(
                "{} descriptors to pass, more than the {MAX_FDS} one message can carry",
                fds.len()
            )));
        }
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let fds: Vec<std::os::fd::RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
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
        self.recv_flags(nix::sys::socket::MsgFlags::empty())
    }

    /// The next message and every descriptor that came with it (see [`Self::send_with_fds`]).
    pub fn recv_with_fds(&self) -> io::Result<Option<(SyncMsg, Vec<OwnedFd>)>> {
        self.recv_all(nix::sys::socket::MsgFlags::empty())
    }

    /// A message already waiting (`Ok(None)` when there is none, or every peer has closed its
    /// end), without blocking: what a runtime that failed looks for, in case the other side
    /// failed first and said why.
    pub fn try_recv(&self) -> io::Result<Option<SyncMsg>> {
        match self.recv_flags(nix::sys::socket::MsgFlags::MSG_DONTWAIT) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            other => Ok(other?.map(|(m, _)| m)),
        }
    }

    /// A message and its first descriptor (any other is closed).
    fn recv_flags(
        &self,
        flags: nix::sys::socket::MsgFlags,
    ) -> io::Result<Option<(SyncMsg, Option<OwnedFd>)>> {
        Ok(self
            .recv_all(flags)?
            .map(|(msg, fds)| (msg, fds.into_iter().next())))
    }

    /// The one receive loop: a message and every descriptor that came with it.
    fn recv_all(
        &self,
        flags: nix::sys::socket::MsgFlags,
    ) -> io::Result<Option<(SyncMsg, Vec<OwnedFd>)>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
        let (n, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC | flags,
            ) {
                // ECONNRESET: the peer closed its end with messages of ours unread (the init
                // died before reading Go, say). The kernel reports that once, before what the
                // peer sent last (its error, typically), which the next call returns.
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET) => continue,
                Err(e) => return Err(e.into()),
                Ok(r) => {
                    let mut fds = Vec::new();
                    for c in r.cmsgs().map_err(io::Error::from)? {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            // SAFETY: the kernel just installed these descriptors for us; we own them.
                            fds.extend(raw.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                        }
                    }
                    break (r.bytes, fds);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(io::Error::other)?;
        Ok(Some((msg, fds)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (a, b) = SyncChannel::pair().unwrap();
        a.send(&SyncMsg::InitPid { pid: 7 }).unwrap();
        let boom = InitError::sys("boom", &std::io::Error::from_raw_os_error(libc::EBUSY));
        a.send(&SyncMsg::Error {
            error: boom.clone(),
        })
        .unwrap();
        assert_eq!(b.recv().unwrap(), Some(SyncMsg::InitPid { pid: 7 }));
        match b.recv().unwrap() {
            Some(SyncMsg::Error { error }) => {
                assert_eq!(error, boom);
                assert_eq!(error.raw_os_error(), Some(libc::EBUSY));
                assert_eq!(error.to_string(), "boom");
                assert_eq!(chain_text(&error), "boom: device or resource busy");
            }
            other => panic!("{other:?}"),
        }
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&SyncMsg::Console, std::os::fd::AsFd::as_fd(&f))
            .unwrap();
        let (m, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(m, SyncMsg::Console);
        assert!(fd.is_some());
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    /// A peer that dies with a message of ours unread makes the kernel report ECONNRESET
    /// once: what it sent before dying is still read, then the end of the channel.
    #[test]
    fn a_peer_gone_with_our_message_unread_still_says_why() {
        let (ours, theirs) = SyncChannel::pair().expect("pair");
        ours.send(&SyncMsg::Go { hook_state: None })
            .expect("send go");
        theirs
            .send(&SyncMsg::Error {
                error: InitError::new("init failed"),
            })
            .expect("send error");
        drop(theirs);
        match ours.recv().expect("recv") {
            Some(SyncMsg::Error { error }) => assert_eq!(error.to_string(), "init failed"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ours.recv().expect("recv at the end"), None);
    }

    #[test]
    fn try_recv_does_not_wait() {
        let (a, b) = SyncChannel::pair().unwrap();
        assert_eq!(b.try_recv().unwrap(), None);
        a.send(&SyncMsg::Ready).unwrap();
        assert_eq!(b.try_recv().unwrap(), Some(SyncMsg::Ready));
        assert_eq!(b.try_recv().unwrap(), None);
    }
}
