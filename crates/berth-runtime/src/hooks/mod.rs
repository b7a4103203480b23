//! The six OCI lifecycle hooks. Each hook is a program run with the container's state JSON on
//! its stdin; where and when each kind runs is decided by the callers (see the runtime-spec's
//! lifecycle): prestart and createRuntime by the runtime while the init waits before pivot_root,
//! createContainer by the init before pivot_root, startContainer by the init just before exec,
//! poststart by `start` after exec, poststop by `delete`.

use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    fn select(self, hooks: &Hooks) -> Option<&Vec<Hook>> {
        match self {
            HookKind::Prestart => hooks.prestart().as_ref(),
            HookKind::CreateRuntime => hooks.create_runtime().as_ref(),
            HookKind::CreateContainer => hooks.create_container().as_ref(),
            HookKind::StartContainer => hooks.start_container().as_ref(),
            HookKind::Poststart => hooks.poststart().as_ref(),
            HookKind::Poststop => hooks.poststop().as_ref(),
        }
    }
}

/// A hook of the config failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The hook `hooks.<kind>[<index>]` (its `path`) failed; the source says how.
    #[error("hooks.{kind}[{index}] {path}: error running {kind} hook #{index}")]
    Failed {
        /// The hook kind as the runtime-spec names it (`prestart`, `poststop`, ...).
        kind: &'static str,
        /// Its position in that list.
        index: usize,
        /// Its `path`.
        path: String,
        /// How it failed.
        #[source]
        reason: HookFailure,
    },
}

/// How one hook failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookFailure {
    /// It could not be started.
    #[error("cannot run")]
    Spawn(#[source] std::io::Error),
    /// Waiting for it failed.
    #[error("waiting")]
    Wait(#[source] std::io::Error),
    /// It ran past its `timeout` (seconds) and was killed.
    #[error("timed out after {0} s")]
    TimedOut(i64),
    /// It exited unsuccessfully; its output is kept for the message, worded as runc words it
    /// (`error running hook: signal: bad system call, stdout: …`), which tests and users match.
    #[error(
        "error running hook: {}, stdout: {stdout}, stderr: {stderr}",
        go_exit_text(status)
    )]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote to stdout, trimmed.
        stdout: String,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
}

/// An exit status as Go's os/exec words it (runc's hook errors carry it): `exit status 4`,
/// `signal: bad system call`.
fn go_exit_text(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let Some(sig) = status.signal() else {
        return status.to_string();
    };
    // Go's names for the Linux signals, in signal-number order from 1.
    const NAMES: [&str; 31] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    let name = usize::try_from(sig)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| NAMES.get(i))
        .map(|n| n.to_string())
        .unwrap_or_else(|| format!("signal {sig}"));
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    format!("signal: {name}{core}")
}

/// The hooks of one kind in a config (empty when none).
pub fn hooks_of(spec: &Spec, kind: HookKind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| kind.select(h))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Runs every hook of `kind` in order, stopping at the first failure. A hook without `env`
/// gets an empty environment.
pub fn run(spec: &Spec, kind: HookKind, state_json: &str) -> Result<(), HookError> {
    run_inheriting(spec, kind, state_json, None)
}

/// [`run`], a hook without `env` getting `inherited` instead: the init passes its program's
/// environment (deduplicated, HOME filled in) to the startContainer hooks, as runc does (they
/// run in the init, whose environment that is by then).
pub fn run_inheriting(
    spec: &Spec,
    kind: HookKind,
    state_json: &str,
    inherited: Option<&[String]>,
) -> Result<(), HookError> {
    for (index, hook) in hooks_of(spec, kind).iter().enumerate() {
        let env = hook.env().as_deref().or(inherited);
        run_one(hook, env, state_json).map_err(|reason| HookError::Failed {
            kind: kind.name(),
            index,
            path: hook.path().display().to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// Runs one hook: `args[0]` is its argv[0] (the spec's execv semantics), `env` is its whole
/// environment (later entries win), the state goes to stdin, and a `timeout` kills it.
fn run_one(hook: &Hook, env: Option<&[String]>, state_json: &str) -> Result<(), HookFailure> {
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in env.unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(HookFailure::Spawn)?;
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let out = match talk(&mut child, state_json.as_bytes(), deadline) {
        Ok(Some(out)) => out,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookFailure::TimedOut(hook.timeout().unwrap_or(0)));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookFailure::Wait(e));
        }
    };
    if out.status.success() {
        return Ok(());
    }
    Err(HookFailure::Exited {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// How much of a hook's stdout and of its stderr is kept for the error message; the rest is
/// read and dropped, so a chatty hook neither blocks on a full pipe nor fills our memory.
const KEPT_OUTPUT: usize = 64 * 1024;

/// Feeds `input` to the hook's stdin while reading its stdout and stderr, until it exits;
/// `None` when `deadline` passes first. One poll(2) loop and no threads, because the init runs
/// createContainer/startContainer hooks itself. The end is the hook's exit (its pidfd), not EOF
/// on the pipes: a daemon it left behind may hold them open for ever.
fn talk(
    child: &mut std::process::Child,
    input: &[u8],
    deadline: Option<Instant>,
) -> std::io::Result<Option<std::process::Output>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;

    let pidfd = berth_sys::process::pidfd_open(child.id() as i32)?;
    let mut stdin = child.stdin.take();
    let mut pipes = [
        child.stdout.take().map(Pipe::new),
        child.stderr.take().map(Pipe::new),
    ];
    for p in pipes.iter().flatten() {
        berth_sys::fd::set_nonblocking(p.file.as_fd())?;
    }
    if let Some(w) = &stdin {
        berth_sys::fd::set_nonblocking(w.as_fd())?;
    }
    let mut written = 0;
    let mut exited = false;
    while !exited {
        if written == input.len() {
            stdin = None; // EOF for a hook that reads its stdin to the end
        }
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(w) = &stdin {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
        }
        for p in pipes.iter().flatten().filter(|p| !p.at_eof) {
            fds.push(PollFd::new(p.file.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let mut ready = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect::<Vec<bool>>()
            .into_iter();
        drop(fds);
        exited = ready.next().unwrap_or(false);
        if let Some(w) = &mut stdin {
            if ready.next().unwrap_or(false) {
                match w.write(&input[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    // A hook that exits or closes stdin unread: not its failure.
                    Err(_) => written = input.len(),
                }
            }
        }
        let readable: Vec<bool> = pipes
            .iter()
            .map(|p| p.as_ref().is_some_and(|p| !p.at_eof) && ready.next().unwrap_or(false))
            .collect();
        for (slot, was_ready) in pipes.iter_mut().zip(readable) {
            // After the exit every pipe is drained of what is there, ready or not.
            if was_ready || exited {
                if let Some(p) = slot {
                    p.drain()?;
                }
            }
        }
    }
    drop(stdin);
    let status = child.wait()?;
    let [out, err] = pipes.map(|p| p.map(|p| p.kept).unwrap_or_default());
    Ok(Some(std::process::Output {
        status,
        stdout: out,
        stderr: err,
    }))
}

/// One of a hook's output pipes and what is kept of it.
struct Pipe {
    file: std::fs::File,
    kept: Vec<u8>,
    at_eof: bool,
}

impl Pipe {
    fn new(end: impl Into<std::os::fd::OwnedFd>) -> Pipe {
        Pipe {
            file: std::fs::File::from(end.into()),
            kept: Vec::new(),
            at_eof: false,
        }
    }

    /// Reads what the pipe holds now, noting EOF.
    fn drain(&mut self) -> std::io::Result<()> {
        use std::io::Read;
        let mut buf = [0u8; 16 * 1024];
        while !self.at_eof {
            match self.file.read(&mut buf) {
                Ok(0) => self.at_eof = true,
                Ok(n) => {
                    let room = KEPT_OUTPUT.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_args_and_env() {
        let out = std::env::temp_dir().join(format!("berth-hook-unit-{}", std::process::id()));
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {0}; echo \"$0 $1 $FOO\" >> {0}", out.display()), "zero", "one"],
            "env": ["FOO=bar"]
        }));
        run_one(&h, h.env().as_deref(), "{\"id\":\"x\"}").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "{\"id\":\"x\"}zero one bar\n");
        let _ = std::fs::remove_file(&out);
    }

    #[test]
    fn start_container_hook_inherits_the_process_env_unless_it_has_its_own() {
        let spec = |hook_env: serde_json::Value| -> Spec {
            let mut hook = serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c",
                "test \"$ONE\" = two && test -z \"$HOOK\" || test \"$HOOK\" = v -a -z \"$ONE\""]});
            if !hook_env.is_null() {
                hook["env"] = hook_env;
            }
            serde_json::from_value(serde_json::json!({
                "ociVersion": "1.0.2", "root": {"path": "rootfs"},
                "process": {"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0},
                            "env": ["ONE=one", "ONE=two"]},
                "hooks": {"startContainer": [hook.clone()], "poststop": [hook]}
            }))
            .unwrap()
        };
        let program_env = ["ONE=two".to_string(), "HOME=/root".to_string()];
        let inherits = spec(serde_json::Value::Null);
        let start =
            |s: &Spec| run_inheriting(s, HookKind::StartContainer, "{}", Some(&program_env[..]));
        assert!(start(&inherits).is_ok());
        // Host-side hooks do not get the container's environment.
        assert!(run(&inherits, HookKind::Poststop, "{}").is_err());
        let own = spec(serde_json::json!(["HOOK=v"]));
        assert!(start(&own).is_ok());
    }

    #[test]
    fn a_failed_hook_is_named_as_runc_names_it() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "hooks": {"prestart": [{"path": "/bin/true"}, {"path": "/bin/false"}]}
        }))
        .unwrap();
        let e = run(&spec, HookKind::Prestart, "{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.prestart[1] /bin/false: error running prestart hook #1"
        );
    }

    #[test]
    fn failure_and_timeout_are_errors() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 4"]}),
        );
        let e = run_one(&h, None, "{}").unwrap_err().to_string();
        assert!(e.contains("4") && e.contains("nope"), "{e}");
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 5"], "timeout": 1}),
        );
        assert!(run_one(&h, None, "{}")
            .unwrap_err()
            .to_string()
            .contains("timed out"));
        let h = hook(serde_json::json!({"path": "/no/such/hook"}));
        assert!(run_one(&h, None, "{}")
            .unwrap_err()
            .to_string()
            .contains("cannot run"));
    }

    #[test]
    fn output_beyond_a_pipe_buffer_does_not_block_the_hook() {
        // 1 MiB on each of stdout and stderr, far past the 64 KiB a pipe holds, then a failure:
        // the hook must get to exit, and the message keeps the start of each stream.
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' o; head -c 1048576 /dev/zero | tr '\\0' e >&2; exit 3"]
        }));
        match run_one(&h, None, "{}") {
            Err(HookFailure::Exited {
                status,
                stdout,
                stderr,
            }) => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(stdout.len(), KEPT_OUTPUT);
                assert!(stdout.bytes().all(|b| b == b'o'));
                assert_eq!(stderr.len(), KEPT_OUTPUT);
                assert!(stderr.bytes().all(|b| b == b'e'));
            }
            other => panic!("want an exit status 3 failure, got {other:?}"),
        }
    }

    #[test]
    fn a_state_larger_than_a_pipe_reaches_a_reader_and_spares_a_non_reader() {
        let state = format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20));
        let out = std::env::temp_dir().join(format!("berth-hook-big-{}", std::process::id()));
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", out.display())]
        }));
        run_one(&h, None, &state).unwrap();
        assert_eq!(std::fs::read(&out).unwrap().len(), state.len());
        let _ = std::fs::remove_file(&out);
        // A hook that never reads its stdin and exits: no EPIPE failure, no hang.
        let h = hook(serde_json::json!({"path": "/bin/true"}));
        run_one(&h, None, &state).unwrap();
    }

    #[test]
    fn a_daemon_holding_the_hooks_pipes_does_not_hold_berth() {
        // The hook leaves a child behind with its stdout and stderr; the hook's own exit ends
        // the wait (the child is told to go once the hook has returned).
        let gate = std::env::temp_dir().join(format!("berth-hook-gate-{}", std::process::id()));
        let _ = std::fs::remove_file(&gate);
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            // The child removes the gate itself once it has seen it: removed by the test, the
            // gate could be gone before the child looked, and the child would loop for ever.
            "args": ["sh", "-c", format!("(while [ ! -e {0} ]; do sleep 0.1; done; rm -f {0}) & echo started", gate.display())]
        }));
        let ran = std::thread::spawn(move || run_one(&h, None, "{}").is_ok());
        // Bounded only so a regression fails instead of hanging the suite: 60 s is not a speed
        // requirement, the daemon would hold the pipes for ever.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ran.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let finished = ran.is_finished();
        std::fs::write(&gate, b"").unwrap();
        assert!(finished, "run_one waited for the hook's daemon");
        assert!(ran.join().unwrap());
    }

    #[test]
    fn exit_statuses_are_worded_as_go_does() {
        use std::os::unix::process::ExitStatusExt;
        let exited = std::process::ExitStatus::from_raw(4 << 8);
        assert_eq!(go_exit_text(&exited), "exit status 4");
        let killed = std::process::ExitStatus::from_raw(libc::SIGSYS);
        assert_eq!(go_exit_text(&killed), "signal: bad system call");
        let h = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "kill -KILL $$"]}));
        let e = run_one(&h, None, "{}").unwrap_err().to_string();
        assert_eq!(e, "error running hook: signal: killed, stdout: , stderr: ");
    }
}
