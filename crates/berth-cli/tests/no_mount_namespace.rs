//! A container whose config lists no namespaces at all (youki's contest `ns_itype`,
//! runtime-tools' `linux_ns_itype`): it shares every namespace of the runtime, its mounts are
//! made under the rootfs in the host's mount namespace and it is chrooted there, as with runc.
//! Needs root.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bundle;
use std::path::Path;

fn no_namespaces(args: &[&str]) -> Bundle {
    let b = Bundle::busybox(args);
    b.update_config(|c| {
        c["linux"]["namespaces"] = serde_json::json!([]);
        c["linux"]["maskedPaths"] = serde_json::json!([]);
        c["linux"]["readonlyPaths"] = serde_json::json!([]);
        c["hostname"] = serde_json::Value::Null;
    });
    b
}

/// The mounts the container left in our namespace: the rootfs and everything below it. They
/// must go before the bundle's directory is removed (which would otherwise walk into them).
fn mounted(rootfs: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let rootfs = rootfs.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(rootfs.as_ref()))
}

/// Detaches whatever is still mounted at the rootfs when a test ends, failed or not: declared
/// after the bundle, it is dropped before it (the bundle's removal would walk into the mounts).
struct DetachOnDrop(std::path::PathBuf);

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        while mounted(&self.0) {
            if berth_sys::mount::umount2(&self.0.to_string_lossy(), libc::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}

fn detach(rootfs: &Path) {
    berth_sys::mount::umount2(&rootfs.to_string_lossy(), libc::MNT_DETACH).unwrap();
    assert!(!mounted(rootfs));
}

/// Our mountinfo lines for "/", /proc, /sys and /dev (id, mount point, options, propagation).
fn essential_mounts() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter(|l| matches!(l.split(' ').nth(4), Some("/" | "/proc" | "/sys" | "/dev")))
        .map(str::to_string)
        .collect()
}

#[test]
fn container_without_namespaces_shares_the_runtimes() {
    if !common::require_root("container_without_namespaces_shares_the_runtimes") {
        return;
    }
    let b = no_namespaces(&["sleep", "424301"]);
    let rootfs = b.dir.join("rootfs").canonicalize().unwrap();
    let _guard = DetachOnDrop(rootfs.clone());
    let id = common::unique_id("nons");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_slice(&b.berth(&["state", &id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap(),
            "{ns}"
        );
    }
    // Chrooted into the rootfs, which is a mount in our namespace (as with runc).
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        rootfs
    );
    assert!(mounted(&rootfs));
    // exec goes into the same root (runc's would run in the host's).
    std::fs::write(rootfs.join("marker"), "in-rootfs\n").unwrap();
    assert!(b.berth(&["start", &id]).status.success());
    let out = b.berth(&["exec", &id, "cat", "/marker"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "in-rootfs\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(b.berth(&["delete", "--force", &id]).status.success());
    detach(&rootfs);
}

#[test]
fn container_without_namespaces_runs_in_its_rootfs_even_with_no_pivot() {
    if !common::require_root("container_without_namespaces_runs_in_its_rootfs_even_with_no_pivot") {
        return;
    }
    // --no-pivot's MS_MOVE (and its detaching of every mount outside the rootfs) would act on
    // the host's own mounts here: berth chroots instead.
    let b = no_namespaces(&[
        "sh",
        "-c",
        "cat /marker; test -e /proc/self/status && echo proc",
    ]);
    let rootfs = b.dir.join("rootfs").canonicalize().unwrap();
    let _guard = DetachOnDrop(rootfs.clone());
    std::fs::write(rootfs.join("marker"), "in-rootfs\n").unwrap();
    let host_mounts = essential_mounts();
    for no_pivot in [false, true] {
        let id = common::unique_id("nons-run");
        let bundle = b.dir.to_string_lossy().into_owned();
        let mut args = vec!["run", "--bundle", &bundle];
        if no_pivot {
            args.push("--no-pivot");
        }
        args.push(&id);
        let out = b.berth(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "no_pivot={no_pivot}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout, "in-rootfs\nproc\n", "no_pivot={no_pivot}");
        detach(&rootfs);
        // The host's own mounts are as they were (none was moved, detached or made slave).
        assert_eq!(essential_mounts(), host_mounts, "no_pivot={no_pivot}");
    }
}

#[test]
fn container_mounts_stay_out_of_a_shared_host_mount() {
    if !common::require_root("container_mounts_stay_out_of_a_shared_host_mount") {
        return;
    }
    // The bundle on a shared mount (as "/" is on a systemd host): the rootfs's copy would be
    // its peer, and /proc, /dev, ... mounted in the container would show up in it too.
    let b = no_namespaces(&["true"]);
    let dir = b.dir.to_string_lossy().into_owned();
    let sh = |cmd: &str| {
        let st = std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    sh(&format!(
        "mount --bind '{dir}' '{dir}' && mount --make-shared '{dir}'"
    ));
    let rootfs = b.dir.join("rootfs").canonicalize().unwrap();
    let _guard = DetachOnDrop(rootfs.clone());
    let proc_dir = rootfs.join("proc").to_string_lossy().into_owned();
    let id = common::unique_id("nons-shared");
    let out = b.berth(&["create", "--bundle", &dir, &id]);
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let procs = info
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(proc_dir.as_str()))
        .count();
    b.berth(&["delete", "--force", &id]);
    if mounted(&rootfs) {
        detach(&rootfs);
    }
    sh(&format!("umount -l '{dir}'"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(procs, 1, "{proc_dir} mounted {procs} times:\n{info}");
}

#[test]
fn what_needs_a_mount_namespace_is_refused_without_one() {
    for (field, value) in [
        ("maskedPaths", serde_json::json!(["/proc/kcore"])),
        ("readonlyPaths", serde_json::json!(["/proc/sys"])),
        ("rootfsPropagation", serde_json::json!("rshared")),
    ] {
        let b = no_namespaces(&["true"]);
        b.update_config(|c| c["linux"][field] = value);
        let id = common::unique_id("nons-refused");
        let bundle = b.dir.to_string_lossy().into_owned();
        let out = b.berth(&["create", "--bundle", &bundle, &id]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{field}: created");
        assert!(err.contains(&format!("linux.{field}")), "{err}");
        assert!(!b.state_root.join(&id).exists(), "{field}: state left");
    }
}
