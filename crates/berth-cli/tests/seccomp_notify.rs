//! SCMP_ACT_NOTIFY with a real listener: berth sends the notify fd and the container process
//! state to `linux.seccomp.listenerPath`, and the listener here answers the container's mkdir
//! calls (EXDEV for a path with "denied" in it, a faked success without creating anything for
//! others), observed from inside the container, for `run` and `exec`, with and without
//! noNewPrivileges. Needs root.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bundle;
use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;

const SCRIPT: &str = "mkdir /tmp/denied 2>&1; echo denied=$?; \
    mkdir /tmp/faked; echo faked=$?; [ -d /tmp/faked ] && echo exists || echo absent";

/// A listener on a unix socket: for each connection, the state JSON it got (sent back on the
/// channel) and a thread answering that filter's notifications until the fd is dead.
struct Listener {
    path: PathBuf,
    states: mpsc::Receiver<(Value, usize)>,
}

fn answer(fd: OwnedFd) {
    loop {
        let req = match ScmpNotifReq::receive(fd.as_raw_fd()) {
            Ok(r) => r,
            // Every process under the filter is gone.
            Err(_) => return,
        };
        let name = req.data.syscall.get_name().unwrap_or_default();
        let path_arg = match name.as_str() {
            "mkdirat" => req.data.args[1],
            _ => req.data.args[0],
        };
        let path = path_of(req.pid, path_arg);
        let resp = if path.contains("denied") {
            ScmpNotifResp::new_error(req.id, -libc::EXDEV, ScmpNotifRespFlags::empty())
        } else {
            ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
        };
        let _ = resp.respond(fd.as_raw_fd());
    }
}

/// The NUL-terminated string at `addr` in process `pid` (as a seccomp agent reads it).
fn path_of(pid: u32, addr: u64) -> String {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 4096];
    let n = std::fs::File::open(format!("/proc/{pid}/mem"))
        .and_then(|f| f.read_at(&mut buf, addr))
        .unwrap_or(0);
    let end = buf[..n].iter().position(|b| *b == 0).unwrap_or(n);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Listener {
    fn start(dir: &std::path::Path) -> Listener {
        let path = dir.join("seccomp-listener.sock");
        let sock = UnixListener::bind(&path).expect("bind listener");
        let (tx, states) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in sock.incoming() {
                let Ok(conn) = conn else { return };
                let mut buf = vec![0u8; 64 * 1024];
                let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
                let mut iov = [IoSliceMut::new(&mut buf)];
                let msg = nix::sys::socket::recvmsg::<()>(
                    conn.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
                )
                .expect("recvmsg from berth");
                let mut fds = Vec::new();
                for c in msg.cmsgs().expect("cmsgs") {
                    if let nix::sys::socket::ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: the kernel installed these fds for us.
                        fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                    }
                }
                let n = msg.bytes;
                let state: Value = serde_json::from_slice(&buf[..n]).expect("state json");
                let count = fds.len();
                let _ = tx.send((state, count));
                if let Some(fd) = fds.into_iter().next() {
                    std::thread::spawn(move || answer(fd));
                }
            }
        });
        Listener { path, states }
    }

    fn next_state(&self) -> (Value, usize) {
        self.states
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("berth connected to the listener")
    }
}

fn notify_bundle(args: &[&str], listener: &Listener, no_new_privs: bool) -> Bundle {
    let b = Bundle::busybox(args);
    let path = listener.path.to_string_lossy().to_string();
    b.update_config(|c| {
        c["process"]["noNewPrivileges"] = json!(no_new_privs);
        c["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW",
            "listenerPath": path, "listenerMetadata": "berth-test-metadata",
            "architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_NOTIFY"}]});
    });
    b
}

fn check_answers(out: &str) {
    assert!(
        out.contains("Invalid cross-device link") && out.contains("denied=1"),
        "{out}"
    );
    // The listener said success without creating anything.
    assert!(out.contains("faked=0") && out.contains("absent"), "{out}");
}

fn check_state(state: &Value, fds: usize, id: &str, bundle: &Bundle, status: &str) {
    assert_eq!(fds, 1, "{state}");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["metadata"], json!("berth-test-metadata"), "{state}");
    assert!(state["ociVersion"].is_string(), "{state}");
    assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{state}");
    assert_eq!(state["state"]["id"], json!(id), "{state}");
    assert_eq!(state["state"]["status"], json!(status), "{state}");
    assert_eq!(
        state["state"]["bundle"],
        json!(bundle.dir.to_string_lossy()),
        "{state}"
    );
    assert!(state["state"]["pid"].as_i64().unwrap_or(0) > 0, "{state}");
}

fn run_answered(no_new_privs: bool) {
    run_answered_with(no_new_privs, &[]);
}

fn run_answered_with(no_new_privs: bool, flags: &[&str]) {
    let scratch = common::Scratch::new("notify");
    let listener = Listener::start(&scratch.0);
    let b = notify_bundle(&["sh", "-c", SCRIPT], &listener, no_new_privs);
    if !flags.is_empty() {
        b.update_config(|c| c["linux"]["seccomp"]["flags"] = json!(flags));
    }
    let id = common::unique_id("notify-run");
    let out = b.run_ok(&id);
    check_answers(&out);
    let (state, fds) = listener.next_state();
    check_state(&state, fds, &id, &b, "creating");
    // For the init, the process is the container's init.
    assert_eq!(state["pid"], state["state"]["pid"], "{state}");
}

#[test]
fn notify_run_without_no_new_privileges() {
    if !common::require_root("notify_run_without_no_new_privileges") {
        return;
    }
    run_answered(false);
}

/// The listener flags: WAIT_KILLABLE_RECV (where the kernel has it, as `berth features` says)
/// and TSYNC, which a listener needs TSYNC_ESRCH for.
#[test]
fn notify_run_with_filter_flags() {
    if !common::require_root("notify_run_with_filter_flags") {
        return;
    }
    let features = std::process::Command::new(common::berth_bin())
        .arg("features")
        .output()
        .expect("berth features");
    let features: Value = serde_json::from_slice(&features.stdout).expect("features json");
    let supported = &features["linux"]["seccomp"]["supportedFlags"];
    let mut flags = vec!["SECCOMP_FILTER_FLAG_TSYNC"];
    if supported
        .as_array()
        .is_some_and(|a| a.contains(&json!("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")))
    {
        flags.push("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    } else {
        eprintln!("SKIP the WAIT_KILLABLE_RECV part: this kernel lacks it");
    }
    run_answered_with(true, &flags);
}

#[test]
fn notify_run_with_no_new_privileges() {
    if !common::require_root("notify_run_with_no_new_privileges") {
        return;
    }
    run_answered(true);
}

fn exec_answered(no_new_privs: bool) {
    let scratch = common::Scratch::new("notify-exec");
    let listener = Listener::start(&scratch.0);
    let b = notify_bundle(&["sleep", "1000"], &listener, no_new_privs);
    let id = common::unique_id("notify-exec");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (init_state, _) = listener.next_state();
    check_state(&init_state, 1, &id, &b, "creating");
    let out = b.berth(&["exec", &id, "sh", "-c", SCRIPT]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_answers(&text);
    let (state, fds) = listener.next_state();
    check_state(&state, fds, &id, &b, "running");
    // The container's state names its init; the process state the exec'd process.
    assert_eq!(state["state"]["pid"], init_state["pid"], "{state}");
    assert_ne!(state["pid"], state["state"]["pid"], "{state}");
    assert!(b.berth(&["delete", "--force", &id]).status.success());
}

#[test]
fn notify_exec_without_no_new_privileges() {
    if !common::require_root("notify_exec_without_no_new_privileges") {
        return;
    }
    exec_answered(false);
}

#[test]
fn notify_exec_with_no_new_privileges() {
    if !common::require_root("notify_exec_with_no_new_privileges") {
        return;
    }
    exec_answered(true);
}

/// Exit status 1, `expect` in stderr, nothing left: no state directory, no container process.
fn assert_refused(b: &Bundle, id: &str, expect: &str) {
    let out = b.run(id);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr={stderr}");
    assert!(
        stderr.contains(expect),
        "expected {expect:?} in stderr={stderr}"
    );
    assert!(!b.state_root.join(id).exists(), "state dir left: {stderr}");
    let list = b.berth(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "");
}

#[test]
fn notify_errors_name_the_field_and_leave_nothing() {
    if !common::require_root("notify_errors_name_the_field_and_leave_nothing") {
        return;
    }
    let scratch = common::Scratch::new("notify-err");
    let listener = Listener::start(&scratch.0);
    let b = notify_bundle(&["true"], &listener, false);
    // No socket at listenerPath.
    b.update_config(|c| {
        c["linux"]["seccomp"]["listenerPath"] = json!("/nonexistent/berth-listener.sock")
    });
    assert_refused(
        &b,
        &common::unique_id("notify-missing"),
        "linux.seccomp.listenerPath: failed to connect with seccomp agent: stat /nonexistent/berth-listener.sock failed",
    );
    // A socket nobody listens on any more: validation passes, connecting fails once the
    // filter is loaded; the init is killed and everything removed.
    let stale = scratch.0.join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    b.update_config(|c| c["linux"]["seccomp"]["listenerPath"] = json!(stale.to_string_lossy()));
    assert_refused(
        &b,
        &common::unique_id("notify-stale"),
        &format!(
            "linux.seccomp.listenerPath: failed to connect with seccomp agent {}",
            stale.display()
        ),
    );
    b.update_config(|c| c["linux"]["seccomp"]["listenerPath"] = json!(""));
    assert_refused(
        &b,
        &common::unique_id("notify-empty"),
        "linux.seccomp.listenerPath: must name the listener's unix socket",
    );
    b.update_config(|c| {
        c["linux"]["seccomp"]["listenerPath"] = json!(listener.path.to_string_lossy());
        c["linux"]["seccomp"]["defaultAction"] = json!("SCMP_ACT_NOTIFY");
    });
    assert_refused(
        &b,
        &common::unique_id("notify-default"),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
    );
    b.update_config(|c| {
        c["linux"]["seccomp"]["defaultAction"] = json!("SCMP_ACT_ALLOW");
        c["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]);
    });
    assert_refused(
        &b,
        &common::unique_id("notify-arch"),
        "linux.seccomp.architectures[1]",
    );
}

/// A listener that reads the message without taking the fd, then hangs up: the filter's fd
/// goes nowhere, so the notified mkdir fails (the kernel's answer once no listener is left)
/// rather than hanging.
#[test]
fn listener_that_goes_away() {
    if !common::require_root("listener_that_goes_away") {
        return;
    }
    let scratch = common::Scratch::new("notify-gone");
    let path = scratch.0.join("gone.sock");
    let sock = UnixListener::bind(&path).expect("bind");
    let t = std::thread::spawn(move || {
        let (mut conn, _) = sock.accept().expect("accept");
        // A plain read has no room for SCM_RIGHTS: the kernel closes the fd it carried.
        let mut buf = vec![0u8; 64 * 1024];
        let _ = std::io::Read::read(&mut conn, &mut buf);
        drop(conn);
    });
    let b = Bundle::busybox(&["sh", "-c", "mkdir /tmp/x 2>&1; echo mkdir=$?"]);
    b.update_config(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW",
            "listenerPath": path.to_string_lossy(),
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_NOTIFY"}]});
    });
    let out = b.run_ok(&common::unique_id("notify-gone"));
    t.join().expect("listener thread");
    assert!(out.contains("mkdir=1"), "{out}");
}
