//! Signal names, forwarding signals to the container (`run`), and exit statuses.

use berth_sys::tty;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Parses a signal as runc does: a number (0 only probes that the process exists), or a name with
/// or without "SIG", any case.
pub fn parse_signal(raw: &str) -> Result<i32, String> {
    if let Ok(n) = raw.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(format!("invalid signal number {n}"));
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| format!("unknown signal {raw:?}"))
}

/// Blocks every signal in the runtime so that none is lost or acted upon between clone and the
/// forwarding loop; the init restores an empty mask before exec.
pub fn block_all() -> nix::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None)
}

/// The shell convention for an exit status: the code, or 128+N for death by signal N.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
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
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("kill"), Ok(9));
        assert_eq!(parse_signal("sigterm"), Ok(15));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("34"), Ok(34));
        assert!(parse_signal("FOO")
            .unwrap_err()
            .contains("unknown signal \"FOO\""));
        assert_eq!(parse_signal("0"), Ok(0));
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("-1").is_err());
    }

    #[test]
    fn exit_codes() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
    }
}
