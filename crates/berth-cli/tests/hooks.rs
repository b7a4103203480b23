//! The six lifecycle hooks, run at their runtime-spec points with the state on stdin.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn host_hook(log: &std::path::Path, kind: &str) -> Value {
    let script = format!("read -r state; echo \"{kind} $state\" >> {}", log.display());
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn all_six_hooks_run_in_order_with_the_state() {
    if !require_root("all_six_hooks_run_in_order_with_the_state") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo ran >> /tmp/order"]);
    let log = b.scratch.0.join("hooks.log");
    b.update_config(|c| {
        c["hooks"] = json!({
            "prestart": [host_hook(&log, "prestart")],
            "createRuntime": [host_hook(&log, "createRuntime")],
            "createContainer": [host_hook(&log, "createContainer")],
            // Runs inside the container, after pivot_root: a path of the container's.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo startContainer >> /tmp/order"]}],
            "poststart": [host_hook(&log, "poststart")],
            "poststop": [host_hook(&log, "poststop")],
        });
    });
    let id = unique_id("hooks");
    let bundle = b.dir.to_string_lossy().to_string();
    assert!(b
        .berth(&["create", "--bundle", &bundle, &id])
        .status
        .success());
    let pid =
        serde_json::from_slice::<Value>(&b.berth(&["state", &id]).stdout).unwrap()["pid"].clone();
    assert!(b.berth(&["start", &id]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while serde_json::from_slice::<Value>(&b.berth(&["state", &id]).stdout).unwrap()["status"]
        != "stopped"
    {
        assert!(Instant::now() < deadline, "container did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.berth(&["delete", &id]).status.success());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(&str, Value)> = text
        .lines()
        .map(|l| {
            let (kind, state) = l.split_once(' ').unwrap();
            (kind, serde_json::from_str(state).unwrap())
        })
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for (kind, state) in &lines {
        assert_eq!(state["id"], id.as_str(), "{kind}");
        assert_eq!(state["bundle"], bundle.as_str(), "{kind}");
        assert_eq!(
            state["pid"], pid,
            "{kind} sees the init's pid in the runtime's namespace"
        );
    }
    assert_eq!(lines[0].1["status"], "creating");
    assert_eq!(lines[3].1["status"], "running");
    assert_eq!(lines[4].1["status"], "stopped");
    let order = std::fs::read_to_string(b.dir.join("rootfs/tmp/order")).unwrap();
    assert_eq!(
        order, "startContainer\nran\n",
        "startContainer runs inside, before the process"
    );
}

#[test]
fn failing_prestart_hook_fails_create_and_cleans_up() {
    if !require_root("failing_prestart_hook_fails_create_and_cleans_up") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "424299"]);
    b.update_config(|c| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-broke >&2; exit 3"]}]});
    });
    let id = unique_id("badhook");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hooks.prestart[0]") && err.contains("hook-broke"),
        "{err}"
    );
    assert!(!b.state_root.join(&id).exists());
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmd).contains("424299"),
            "init left behind"
        );
    }
}

/// As runc: a failing poststart hook kills the container and fails `start` (not a warning).
#[test]
fn failing_poststart_hook_fails_start_and_kills_the_container() {
    if !require_root("failing_poststart_hook_fails_start_and_kills_the_container") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "424298"]);
    b.update_config(|c| {
        c["process"]["terminal"] = json!(false);
        c["hooks"] = json!({"poststart": [{"path": "/bin/true"}, {"path": "/bin/false"}]});
    });
    let id = unique_id("badpoststart");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = b.berth(&["start", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error running poststart hook #1:"), "{err}");
    let state = b.berth(&["state", &id]);
    let v: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(v["status"], "stopped", "{v}");
    let _ = b.berth(&["delete", "--force", &id]);
}

#[test]
fn hook_timeout_fails_create() {
    if !require_root("hook_timeout_fails_create") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    });
    let id = unique_id("slowhook");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    assert!(!b.state_root.join(&id).exists());
}

/// A hook that writes more than a pipe holds (1 MiB to stdout and stderr), on the host
/// (createRuntime, run by berth) and in the container (startContainer, run by the init), must not
/// stall the container: berth reads hooks' output while they run.
#[test]
fn hooks_writing_more_than_a_pipe_buffer_do_not_hang_the_container() {
    if !require_root("hooks_writing_more_than_a_pipe_buffer_do_not_hang_the_container") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo container ran"]);
    let chatty = "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2";
    b.update_config(|c| {
        c["hooks"] = json!({
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", chatty]}],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", chatty]}],
        });
    });
    let id = unique_id("hooks-chatty");
    let out_path = b.scratch.0.join("run.out");
    let mut child = std::process::Command::new(common::berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    // Bounded so that a regression fails instead of hanging the suite; not a speed check (a
    // blocked hook would wait for ever).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = b.berth(&["delete", "--force", &id]);
    let status = status.expect("berth run with chatty hooks did not finish");
    assert!(status.success(), "{status:?}");
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        out.ends_with("container ran\n"),
        "{:?}",
        &out[out.len().saturating_sub(100)..]
    );
}

#[test]
fn create_container_hook_runs_in_the_rootfs() {
    if !require_root("create_container_hook_runs_in_the_rootfs") {
        return;
    }
    // hooks.bats' library test: `touch ./lib/x && mount --bind ... ./lib/x` from the hook.
    let b = Bundle::busybox(&["cat", "/hooked"]);
    std::fs::write(b.scratch.0.join("src"), "from the hook\n").unwrap();
    let script = format!(
        "touch ./hooked && mount --bind {} ./hooked",
        b.scratch.0.join("src").display()
    );
    b.update_config(|c| {
        c["hooks"] =
            json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    assert_eq!(b.run_ok(&unique_id("hookcwd")), "from the hook\n");
}
