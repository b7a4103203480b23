//! Terminals: `process.terminal: true` through a `--console-socket` (how containerd and podman
//! get the pty) and through a foreground `run` that proxies its own stdio.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn terminal_bundle(script: &str) -> Bundle {
    let b = Bundle::busybox(&["sh", "-c", script]);
    b.update_config(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 100});
    });
    b
}

/// Receives one fd sent with SCM_RIGHTS on an accepted connection; None if no one connects
/// within 10 s (the runtime failed before sending).
fn receive_fd(listener: &UnixListener) -> Option<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => return None,
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 256];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed this descriptor for us.
            return Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    panic!("no fd received on the console socket");
}

#[test]
fn console_socket_receives_a_working_pty() {
    if !require_root("console_socket_receives_a_working_pty") {
        return;
    }
    let b = terminal_bundle("tty; stty size; echo done");
    let sock = b.scratch.0.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = unique_id("console");
    let bundle = b.dir.to_string_lossy().to_string();
    let sock_s = sock.to_string_lossy().to_string();
    let creator = std::thread::spawn({
        let root = b.state_root.clone();
        let id = id.clone();
        move || {
            std::process::Command::new(common::berth_bin())
                .arg("--root")
                .arg(&root)
                .args([
                    "run",
                    "-d",
                    "--console-socket",
                    &sock_s,
                    "--bundle",
                    &bundle,
                    &id,
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        }
    });
    let master = receive_fd(&listener);
    let created = creator.join().unwrap();
    assert!(created.success(), "berth run -d --console-socket failed");
    let master = master.expect("the pty master arrives on the console socket");
    let mut master = std::fs::File::from(master);
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains("done") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("/dev/pts/0"),
        "the process's stdio is the container's pty: {text:?}"
    );
    assert!(text.contains("40 100"), "consoleSize applied: {text:?}");
}

#[test]
fn foreground_run_proxies_the_terminal() {
    if !require_root("foreground_run_proxies_the_terminal") {
        return;
    }
    let b = terminal_bundle("tty; test -c /dev/console && echo console-ok; exit 5");
    let out = b.run(&unique_id("fgtty"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("console-ok"), "{text:?}");
    assert!(
        !text.contains('\r'),
        "no \\r\\n translation on the container's pty: {text:?}"
    );
}

#[test]
fn detached_terminal_without_socket_is_refused() {
    let b = terminal_bundle("true");
    let bundle = b.dir.to_string_lossy().to_string();
    let id = unique_id("nosock");
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot allocate tty if berth will detach without setting console socket"));
    assert!(!b.state_root.join(&id).exists());
}
