//! The foreground of `berth run` and `berth exec`: every signal berth receives is forwarded to
//! the container's process, and with a terminal berth's stdin/stdout are proxied to the
//! container's pty. This is the command line's business: the library never touches the calling
//! process's signal mask or stdio.

use berth_runtime::exit_code;
use berth_sys::tty;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Parses a signal as runc does: a number (0 only probes that the process exists), or a name with
/// or without "SIG", any case.
pub fn parse_signal(raw: &str) -> anyhow::Result<i32> {
    if let Ok(n) = raw.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        anyhow::bail!("invalid signal number {n}");
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| anyhow::anyhow!("unknown signal {raw:?}"))
}

/// Blocks every signal of berth, before the container's process is cloned, so that none is lost
/// or acted upon between the clone and the forwarding loop; the container's process starts with
/// an empty mask (the library resets it before exec).
pub fn block_all() -> nix::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None)
}

/// `run` in the foreground: forwards every signal the runtime receives to the container's init
/// and returns the init's exit code once it is gone. Other children are reaped on the way. With a
/// terminal (`console`), also copies between berth's stdin/stdout and the container's pty, keeping
/// the window size in step (SIGWINCH).
pub fn forward_until_exit(init: i32, console: Option<OwnedFd>) -> i32 {
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let init_pid = Pid::from_raw(init);
    // Every signal is already blocked (block_all), so the signalfd sees them all.
    let sfd = SignalFd::with_flags(
        &SigSet::all(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .ok();
    let stdin = std::io::stdin();
    let mut proxy = console.map(|master| TerminalProxy::new(master, stdin.as_fd()));
    loop {
        if let Some(code) = reap_exited(init_pid) {
            if let Some(p) = proxy.as_mut() {
                p.drain_output();
            }
            return code;
        }
        let Some(sfd) = sfd.as_ref() else {
            // Without a signalfd, fall back to waiting for signals synchronously.
            if let Ok(sig) = SigSet::all().wait() {
                if sig != Signal::SIGCHLD {
                    let _ = nix::sys::signal::kill(init_pid, sig);
                }
            }
            continue;
        };
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = proxy.as_ref() {
            fds.push(PollFd::new(p.master.as_fd(), PollFlags::POLLIN));
            if p.stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let signo = info.ssi_signo as i32;
                match Signal::try_from(signo) {
                    Ok(Signal::SIGCHLD) => {}
                    Ok(Signal::SIGWINCH) if proxy.is_some() => {
                        if let Some(p) = proxy.as_ref() {
                            p.sync_window_size();
                        }
                    }
                    _ => {
                        // SAFETY: kill(2) with integers; real-time signals have no nix name.
                        unsafe { libc::kill(init, signo) };
                    }
                }
            }
        }
        if let Some(p) = proxy.as_mut() {
            if ready.get(1).copied().unwrap_or(false) {
                p.copy_output();
            }
            if ready.get(2).copied().unwrap_or(false) {
                p.copy_input();
            }
        }
    }
}

/// Copies between the runtime's stdio and the container's pty master.
struct TerminalProxy<'a> {
    master: OwnedFd,
    stdin: BorrowedFd<'a>,
    stdin_open: bool,
    saved: Option<nix::sys::termios::Termios>,
}

impl<'a> TerminalProxy<'a> {
    fn new(master: OwnedFd, stdin: BorrowedFd<'a>) -> TerminalProxy<'a> {
        // Keystrokes go to the container's line discipline, not ours.
        let saved = tty::is_tty(stdin)
            .then(|| tty::make_raw(stdin).ok())
            .flatten();
        let p = TerminalProxy {
            master,
            stdin,
            stdin_open: true,
            saved,
        };
        p.sync_window_size();
        p
    }

    fn sync_window_size(&self) {
        if let Ok(ws) = tty::get_winsize(self.stdin) {
            let _ = tty::set_winsize(self.master.as_fd(), ws.ws_row, ws.ws_col);
        }
    }

    fn copy_output(&mut self) {
        let mut buf = [0u8; 8192];
        if let Ok(n) = nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
            let _ = std::io::stdout().write_all(&buf[..n]);
            let _ = std::io::stdout().flush();
        }
    }

    /// What the container wrote just before it exited is still in the pty.
    fn drain_output(&mut self) {
        let _ = nix::fcntl::fcntl(
            self.master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 8192];
        while let Ok(n) = nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stdout().write_all(&buf[..n]);
        }
        let _ = std::io::stdout().flush();
    }

    fn copy_input(&mut self) {
        let mut buf = [0u8; 8192];
        match nix::unistd::read(self.stdin.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => self.stdin_open = false,
            Ok(n) => {
                let _ = nix::unistd::write(&self.master, &buf[..n]);
            }
        }
    }
}

impl Drop for TerminalProxy<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            tty::restore(self.stdin, saved);
        }
    }
}

/// Reaps every exited child; returns the init's exit code if it was among them.
fn reap_exited(init: Pid) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(status) => {
                if status.pid() == Some(init) {
                    if let Some(code) = exit_code(status) {
                        return Some(code);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_runc() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("34").unwrap(), 34);
        assert!(parse_signal("FOO")
            .unwrap_err()
            .to_string()
            .contains("unknown signal \"FOO\""));
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("-1").is_err());
    }
}
