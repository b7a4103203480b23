//! CVE-2016-9962: a process that `exec` adds to a running container. From the public
//! description: runc's process joined the container's namespaces while still holding the
//! runtime's file descriptors (of the host), and was dumpable while it did, so a process
//! already in the container (its pid 1, as root) could ptrace it or open its
//! `/proc/PID/fd/N` and reach the host through those fds, or tamper with runc before the new
//! process was fully inside. The fix: the joining process is not dumpable until it execs the
//! container's program, and the runtime's fds never reach that program.
//!
//! The tests: (1) the exec'd program has fds 0-2 and nothing else, even when berth's caller
//! leaked a host directory to it; (2) a real attack, made deterministic: berth's process is
//! held in its last steps inside the container (a seccomp agent holds its rt_sigprocmask just
//! before execve), and the container's pid 1, with the same uid and capabilities, lists that
//! process's `/proc/PID/fd` and reads its environment. It must be refused.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{berth_bin, require_root, unique_id, Bundle};
use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use serde_json::json;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Prints every open fd of the shell from 3 up (as `open N TARGET`), then `checked`. The test
/// is a builtin, so the shell opens nothing of its own to answer it.
const LIST_FDS: &str = "n=3; while [ $n -lt 1024 ]; do \
                          [ -L /proc/$$/fd/$n ] && echo \"open $n $(readlink /proc/$$/fd/$n)\"; \
                          n=$((n+1)); done; echo checked";

#[test]
fn an_execd_process_gets_no_fd_of_the_runtime_or_its_caller() {
    if !require_root("an_execd_process_gets_no_fd_of_the_runtime_or_its_caller") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "600"]);
    let id = unique_id("fds");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The caller leaks a host directory to berth as fd 7 (not close-on-exec).
    let leak = std::fs::File::open(&b.scratch.0).unwrap();
    let raw = leak.as_raw_fd();
    let out_path = b.scratch.0.join("exec-out");
    let mut cmd = Command::new(berth_bin());
    cmd.arg("--root")
        .arg(&b.state_root)
        .args(["exec", &id, "sh", "-c", LIST_FDS])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::inherit());
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    let listing = std::fs::read_to_string(&out_path).unwrap();
    let _ = b.berth(&["delete", "--force", &id]);
    assert!(status.success(), "berth exec: {listing}");
    assert_eq!(
        listing, "checked\n",
        "the exec'd shell has fds beyond 0-2 (fd 7: the caller's leak)"
    );
}

/// A seccomp agent on a unix socket (`linux.seccomp.listenerPath`). Each filter's first
/// notification is reported (with the pid that made it) on `trapped`; the agent then waits for
/// a word on `release` before letting it, and every later one, continue. The filter of the
/// container's init is the first to connect: `hold_first_filter: false` lets it run freely.
fn start_agent(path: &Path) -> (mpsc::Receiver<u32>, mpsc::Sender<()>) {
    let sock = UnixListener::bind(path).unwrap();
    let (trapped_tx, trapped) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut release_rx = Some(release_rx);
        for (n, conn) in sock.incoming().enumerate() {
            let Ok(conn) = conn else { return };
            let Some(fd) = receive_fd(&conn) else {
                continue;
            };
            // The init's filter (first) runs free; the exec'd process's (second) is held.
            let hold = if n == 1 { release_rx.take() } else { None };
            let trapped_tx = trapped_tx.clone();
            std::thread::spawn(move || {
                let mut hold = hold;
                while let Ok(req) = ScmpNotifReq::receive(fd.as_raw_fd()) {
                    if let Some(rx) = hold.take() {
                        let _ = trapped_tx.send(req.pid);
                        let _ = rx.recv();
                    }
                    let resp = ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::empty());
                    let _ = resp.respond(fd.as_raw_fd());
                }
            });
        }
    });
    (trapped, release)
}

/// The notify fd berth sends with the container's state.
fn receive_fd(conn: &std::os::unix::net::UnixStream) -> Option<OwnedFd> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel installed these fds for us; only the first is kept.
            let mut fds = raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) });
            return fds.next();
        }
    }
    None
}

/// The real attack. berth's exec'd process is held inside the container after it has
/// become the process's user with the process's capabilities (the container's own, Docker's
/// default kind: no CAP_SYS_PTRACE), in berth's last syscalls before execve: its seccomp
/// filter sends rt_sigprocmask to the agent above, which holds the first call. Were it
/// dumpable, the container's pid 1 (same uid, same capabilities) would need nothing more to
/// open its `/proc/PID/fd/*`, among them berth's channel to the runtime on the host.
#[test]
fn the_container_cannot_reach_a_joining_process_before_it_execs() {
    if !require_root("the_container_cannot_reach_a_joining_process_before_it_execs") {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        eprintln!(
            "SKIP the_container_cannot_reach_a_joining_process_before_it_execs: x86_64 filter"
        );
        return;
    }
    // The attacker, pid 1: waits for the joining process's pid, then tries to reach it.
    let attack = "while [ ! -s /tmp/target ]; do sleep 0.05; done; p=$(cat /tmp/target); \
                  { ls -l /proc/$p/fd/; cat /proc/$p/environ; } \
                  > /tmp/result 2>&1; echo done >> /tmp/result; exec sleep 600";
    let b = Bundle::busybox(&["sh", "-c", attack]);
    let agent_path = b.scratch.0.join("agent.sock");
    let (trapped, release) = start_agent(&agent_path);
    let agent = agent_path.to_string_lossy().to_string();
    b.update_config(|c| {
        // The filter goes in last, just before execve (see process::init::become_process).
        c["process"]["noNewPrivileges"] = json!(true);
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": agent,
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["rt_sigprocmask"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let id = unique_id("ptrace");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut exec = Command::new(berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["exec", &id, "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let host_pid = trapped
        .recv_timeout(Duration::from_secs(60))
        .expect("the exec'd process reached its filter");
    // Its pid in the container's pid namespace, for the attacker.
    let status = std::fs::read_to_string(format!("/proc/{host_pid}/status")).unwrap();
    let ns_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    let exe = std::fs::read_link(format!("/proc/{host_pid}/exe")).unwrap_or_default();
    let rootfs = b.dir.join("rootfs");
    std::fs::write(rootfs.join("tmp/target"), &ns_pid).unwrap();
    let result = rootfs.join("tmp/result");
    wait_for("the attacker's result", || {
        std::fs::read_to_string(&result).is_ok_and(|s| s.contains("done"))
    });
    let seen = std::fs::read_to_string(&result).unwrap();
    let _ = release.send(());
    let exec_status = exec.wait().unwrap();
    let _ = b.berth(&["delete", "--force", &id]);

    assert!(
        !exe.to_string_lossy().contains("busybox"),
        "the held process is still berth's, before its exec: exe {exe:?}"
    );
    assert!(exec_status.success(), "the held exec went on once released");
    assert!(
        !seen.contains(" -> ") && !seen.contains("PATH="),
        "the container reached the joining berth process (pid {ns_pid} inside): {seen}"
    );
    assert!(
        seen.to_lowercase().contains("permission denied"),
        "the attacker was refused: {seen}"
    );
}
