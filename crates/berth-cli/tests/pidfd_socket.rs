//! `--pidfd-socket` (runc 1.5) on create, run and exec: the consumer gets a pidfd of the
//! container's init or of the exec'd process, and signalling through it reaches that process.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Accepts the runtime's connection and returns the payload and the fd it carried.
fn receive_pidfd(listener: &UnixListener) -> (String, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().expect("accept");
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let mut fd = None;
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
            fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    let n = msg.bytes;
    (
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        fd.expect("an fd in the message"),
    )
}

fn pidfd_kill(pidfd: &OwnedFd, sig: libc::c_int) {
    // SAFETY: plain syscall on a descriptor we own, no pointers but a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "pidfd_send_signal: {}",
        std::io::Error::last_os_error()
    );
}

fn wait_for_status(b: &Bundle, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = b.berth(&["state", id]);
        let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if st["status"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {want}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn create_and_run_send_a_pidfd_of_the_init() {
    if !require_root("create_and_run_send_a_pidfd_of_the_init") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let bundle = b.dir.to_string_lossy().to_string();
    for cmd in ["create", "run"] {
        let sock = b.scratch.0.join(format!("{cmd}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        let id = unique_id(&format!("pidfd-{cmd}"));
        let mut args = vec![
            cmd,
            "--pidfd-socket",
            sock.to_str().unwrap(),
            "--bundle",
            &bundle,
        ];
        if cmd == "run" {
            args.push("-d");
        }
        args.push(&id);
        let out = b.berth(&args);
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
        wait_for_status(&b, &id, if cmd == "run" { "running" } else { "created" });
        let (payload, pidfd) = receive_pidfd(&listener);
        assert_eq!(payload, "standard");
        // As runc 1.5.1's pidfd-socket.bats: SIGTERM to the created container's init (pid 1
        // of its pid namespace, waiting on exec.fifo) stops it, as it stops runc's.
        pidfd_kill(
            &pidfd,
            if cmd == "run" {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            },
        );
        wait_for_status(&b, &id, "stopped");
    }
}

#[test]
fn exec_sends_a_pidfd_of_the_process_not_the_init() {
    if !require_root("exec_sends_a_pidfd_of_the_process_not_the_init") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let bundle = b.dir.to_string_lossy().to_string();
    let id = unique_id("pidfd-exec");
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sock = b.scratch.0.join("exec.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let pid_file = b.scratch.0.join("exec.pid");
    let out = b.berth(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--pidfd-socket",
        sock.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let epid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let (payload, pidfd) = receive_pidfd(&listener);
    assert_eq!(payload, "setns");
    pidfd_kill(&pidfd, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{epid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            break;
        }
        assert!(Instant::now() < deadline, "the exec'd process survived");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The pidfd was the exec'd process's: the container goes on.
    wait_for_status(&b, &id, "running");
}

#[test]
fn a_missing_pidfd_socket_fails_create_and_leaves_nothing() {
    if !require_root("a_missing_pidfd_socket_fails_create_and_leaves_nothing") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let bundle = b.dir.to_string_lossy().to_string();
    let sock = b.scratch.0.join("nobody-listens.sock");
    let id = unique_id("pidfd-missing");
    let out = b.berth(&[
        "create",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--bundle",
        &bundle,
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--pidfd-socket") && stderr(&out).contains("nobody-listens.sock"),
        "{}",
        stderr(&out)
    );
    assert!(
        !b.state_root.join(&id).exists(),
        "a state directory was left"
    );
}
