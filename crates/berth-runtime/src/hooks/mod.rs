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
    #[error("hooks.{kind}[{index}] {path}")]
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
    /// It exited unsuccessfully; its output is kept for the message.
    #[error("{status}, stdout: {stdout}, stderr: {stderr}")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote to stdout, trimmed.
        stdout: String,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
}

/// The hooks of one kind in a config (empty when none).
pub fn hooks_of(spec: &Spec, kind: HookKind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| kind.select(h))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Runs every hook of `kind` in order, stopping at the first failure. A startContainer hook
/// without `env` gets the container process's environment, as in runc (it runs in the init,
/// whose environment that is by then); other hooks without `env` get an empty one.
pub fn run(spec: &Spec, kind: HookKind, state_json: &str) -> Result<(), HookError> {
    let inherited = match kind {
        HookKind::StartContainer => spec.process().as_ref().and_then(|p| p.env().clone()),
        _ => None,
    };
    for (index, hook) in hooks_of(spec, kind).iter().enumerate() {
        let env = hook.env().as_deref().or(inherited.as_deref());
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
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its stdin may exit before reading it: EPIPE is not its failure.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(e) => return Err(HookFailure::Wait(e)),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookFailure::TimedOut(hook.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().map_err(HookFailure::Wait)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    Err(HookFailure::Exited {
        status: out.status,
        stdout: stdout.trim().to_string(),
        stderr: stderr.trim().to_string(),
    })
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
        let inherits = spec(serde_json::Value::Null);
        assert!(run(&inherits, HookKind::StartContainer, "{}").is_ok());
        // Host-side hooks do not get the container's environment.
        assert!(run(&inherits, HookKind::Poststop, "{}").is_err());
        let own = spec(serde_json::json!(["HOOK=v"]));
        assert!(run(&own, HookKind::StartContainer, "{}").is_ok());
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
}
