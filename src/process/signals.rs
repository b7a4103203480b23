//! Signal names, forwarding signals to the container (`run`), and exit statuses.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Parses a signal as runc does: a number, or a name with or without "SIG", any case.
pub fn parse_signal(raw: &str) -> Result<i32, String> {
    if let Ok(n) = raw.parse::<i32>() {
        if (1..=64).contains(&n) {
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
/// and returns the init's exit code once it is gone. Other children are reaped on the way.
pub fn forward_until_exit(init: i32) -> i32 {
    let set = SigSet::all();
    let init_pid = Pid::from_raw(init);
    loop {
        // The init may already have exited before we got here; its SIGCHLD is then pending.
        if let Some(code) = reap_exited(init_pid) {
            return code;
        }
        let sig = match set.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        match sig {
            Signal::SIGCHLD => {}
            other => {
                let _ = nix::sys::signal::kill(init_pid, other);
            }
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
        assert!(parse_signal("0").is_err());
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
