//! CVE-2019-16884: an image's volume mounted over /proc made runc write where the image
//! wanted instead of into the kernel's procfs. berth writes through /proc inside the
//! container once: the init reopens its exec.fifo through /proc/self/fd to block until
//! `start`. Through a fake /proc whose `self/fd/N` are plain files that open would not block,
//! and the container's program would run at `create`, before `start` was ever called.
//! (The sysctl half, an overmounted /proc/sys file, is tested in berth-runtime's sysctl unit
//! tests, which need no container.)
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::{json, Value};

#[test]
fn a_fake_proc_cannot_start_the_program_before_start() {
    if !require_root("a_fake_proc_cannot_start_the_program_before_start") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo ran > /ran"]);
    // The "volume": a directory whose self/fd/N are regular files, mounted at /proc in place
    // of procfs.
    let fake = b.dir.join("fakeproc");
    std::fs::create_dir_all(fake.join("self/fd")).unwrap();
    for n in 0..64 {
        std::fs::write(fake.join(format!("self/fd/{n}")), "").unwrap();
    }
    let fake_src = fake.to_string_lossy().to_string();
    b.update_config(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for m in mounts.iter_mut() {
            if m["destination"] == "/proc" {
                *m = json!({"destination": "/proc", "type": "bind", "source": fake_src,
                            "options": ["rbind", "rw"]});
            }
        }
        c["linux"]["maskedPaths"] = Value::Array(vec![]);
        c["linux"]["readonlyPaths"] = Value::Array(vec![]);
    });
    let id = unique_id("fakeproc");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    if out.status.success() {
        // Whatever the init does next, wait until it is gone (no `start` is ever sent)...
        let st: Value = serde_json::from_slice(&b.berth(&["state", &id]).stdout).unwrap();
        let pid = st["pid"].as_i64().unwrap_or(0) as i32;
        if pid > 0 {
            if let Ok(fd) = berth_sys::process::pidfd_open(pid) {
                // The init either exits on its own (fake /proc refused, or the program ran)
                // or blocks on the real fifo; in the latter case a kill ends the wait.
                if !berth_sys::process::pidfd_wait(&fd, std::time::Duration::from_secs(30)).unwrap()
                {
                    let _ = b.berth(&["kill", &id, "KILL"]);
                    berth_sys::process::pidfd_wait(&fd, std::time::Duration::from_secs(30))
                        .unwrap();
                }
            }
        }
    }
    // ...then the program must not have run.
    assert!(
        !b.dir.join("rootfs/ran").exists(),
        "the container's program ran without `start`: create said {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = b.berth(&["delete", "--force", &id]);
}

/// The init reopens exec.fifo with the container's seccomp filter already loaded: a filter
/// that refuses openat2 (EPERM, as profiles written before it do) must not stop the start.
#[test]
fn the_fifo_reopen_works_under_a_filter_that_refuses_openat2() {
    if !require_root("the_fifo_reopen_works_under_a_filter_that_refuses_openat2") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo started"]);
    b.update_config(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let out = b.run(&unique_id("noopenat2"));
    assert!(
        out.status.success(),
        "run under a filter without openat2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
}
