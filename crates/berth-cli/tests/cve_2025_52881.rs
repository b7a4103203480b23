//! CVE-2025-52881: the runtime's writes to procfs (sysctls under /proc/sys, LSM attributes
//! under /proc/self/attr, and the like) must reach the kernel file they name. From the public
//! description: a container that could change the mounts runc resolved /proc paths through
//! (shared mounts, racing the setup) redirected those writes to files of its choice, such as
//! /proc/sysrq-trigger or /proc/sys/kernel/core_pattern. The fix: every such file is opened
//! through a procfs handle verified to be the real one, with no mount crossed on the way.
//!
//! Here the attacker is a real container with CAP_SYS_ADMIN in its own mount namespace: it
//! mounts a tmpfs over its /proc whose `self/timens_offsets` and `sys/net/ipv4/ip_forward`
//! are symlinks to files of a volume (a host directory). A second container is created to
//! join that mount namespace, with a new time namespace and time offsets, or with a sysctl.
//! berth writes those from inside the joined namespaces: the volume's files must never
//! receive them (berth may refuse the container, or write the real files).
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The attacker's container, running, with its /proc replaced; returns it, its init's pid
/// and the volume directory.
fn attacker() -> (Bundle, String, i32, PathBuf) {
    let script = "mount -t tmpfs none /proc && mkdir -p /proc/self /proc/sys/net/ipv4 && \
                  ln -s /vol/stolen-time /proc/self/timens_offsets && \
                  ln -s /vol/stolen-sysctl /proc/sys/net/ipv4/ip_forward && \
                  touch /ready && exec sleep 600";
    let b = Bundle::busybox(&["sh", "-c", script]);
    let vol = b.scratch.0.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    // The files the writes are to land in exist (empty), as an attacker would make them.
    std::fs::write(vol.join("stolen-time"), "").unwrap();
    std::fs::write(vol.join("stolen-sysctl"), "").unwrap();
    let vol_s = vol.to_string_lossy().to_string();
    b.update_config(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(Value::from("CAP_SYS_ADMIN"));
        }
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/vol", "type": "bind", "source": vol_s, "options": ["rbind", "rw"]}),
        );
    });
    let id = unique_id("attacker");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "the attacker's container: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !b.dir.join("rootfs/ready").exists() {
        assert!(Instant::now() < deadline, "the attacker never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let st: Value = serde_json::from_slice(&b.berth(&["state", &id]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap() as i32;
    (b, id, pid, vol)
}

/// Creates (and deletes) a victim container that joins `pid`'s mount namespace, its config
/// changed by `edit`; returns berth's stderr.
fn victim_joining(pid: i32, tag: &str, edit: impl FnOnce(&mut Value)) -> String {
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap().iter_mut() {
            if ns["type"] == "mount" {
                ns["path"] = Value::from(format!("/proc/{pid}/ns/mnt"));
            }
        }
        edit(c);
    });
    let id = unique_id(tag);
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    let _ = b.berth(&["delete", "--force", &id]);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_untouched(file: &Path, what: &str, stderr: &str) {
    let got = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        got.is_empty(),
        "berth's {what} write went to the attacker's file: {got:?} (create said: {stderr})"
    );
}

#[test]
fn time_offsets_are_never_written_through_an_overmounted_proc() {
    if !require_root("time_offsets_are_never_written_through_an_overmounted_proc") {
        return;
    }
    if !Path::new("/proc/self/timens_offsets").exists() {
        eprintln!(
            "SKIP time_offsets_are_never_written_through_an_overmounted_proc: no time namespaces"
        );
        return;
    }
    let (a, id, pid, vol) = attacker();
    let stderr = victim_joining(pid, "victim-time", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400, "nanosecs": 0}});
    });
    let _ = a.berth(&["delete", "--force", &id]);
    assert_untouched(&vol.join("stolen-time"), "timens_offsets", &stderr);
}

#[test]
fn sysctls_are_never_written_through_an_overmounted_proc() {
    if !require_root("sysctls_are_never_written_through_an_overmounted_proc") {
        return;
    }
    let (a, id, pid, vol) = attacker();
    let stderr = victim_joining(pid, "victim-sysctl", |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    });
    let _ = a.berth(&["delete", "--force", &id]);
    assert_untouched(&vol.join("stolen-sysctl"), "sysctl", &stderr);
}
