//! CVE-2023-27561 (runc 1.0.0-rc93 to 1.1.4), a regression of CVE-2019-19921. From the public
//! description: two containers share a volume; the image of the first has `/proc` as a symlink
//! into that volume (`/proc -> /evil/level1/level2`, the volume at /evil); the second swaps
//! `level1` with another directory in a loop. runc mounted procfs wherever the symlink led at
//! that moment, and its later mounts over /proc (the read-only /proc/sys, the masks) landed
//! wherever it led a moment after, in a fake tree: the real /proc/sys stayed writable
//! (core_pattern, a host escape). The fix (runc 1.1.5) refuses proc, sysfs and cgroup
//! destinations with a symlink on the way, so there is nothing to race. This is a different
//! check from CVE-2019-16884's (tests/cve_2019_16884.rs: a fake filesystem at a real /proc).
//!
//! Here a real container plants the tree in the shared volume, and the second container's
//! image has `/proc` (or `/sys`) as a symlink into it: berth must refuse before mounting
//! anything there, and the program must not run.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::json;

fn refused_through_a_symlinked(dest: &str) {
    let attacker = Bundle::busybox(&["sh", "-c", "mkdir -p /evil/level1/level2 && echo planted"]);
    let volume = attacker.scratch.0.join("shared-volume");
    std::fs::create_dir_all(&volume).unwrap();
    let vol = volume.to_string_lossy().to_string();
    let add_volume = |c: &mut serde_json::Value| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/evil", "type": "bind", "source": vol, "options": ["rbind", "rw"]}),
        );
    };
    attacker.update_config(add_volume);
    assert_eq!(attacker.run_ok(&unique_id("planter")), "planted\n");

    let victim = Bundle::busybox(&["sh", "-c", "echo ran > /ran"]);
    let link = victim.dir.join("rootfs").join(dest.trim_start_matches('/'));
    std::fs::remove_dir(&link).unwrap();
    std::os::unix::fs::symlink("/evil/level1/level2", &link).unwrap();
    victim.update_config(add_volume);
    let out = victim.run(&unique_id("victim"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a {dest} symlink into a volume was accepted"
    );
    assert!(
        stderr.contains(dest) && stderr.contains("symlink"),
        "refused for the symlinked {dest} destination itself, before mounting there: {stderr}"
    );
    assert!(!victim.dir.join("rootfs/ran").exists(), "the program ran");
}

#[test]
fn a_proc_symlink_into_a_shared_volume_is_refused() {
    if !require_root("a_proc_symlink_into_a_shared_volume_is_refused") {
        return;
    }
    refused_through_a_symlinked("/proc");
}

#[test]
fn a_sys_symlink_into_a_shared_volume_is_refused() {
    if !require_root("a_sys_symlink_into_a_shared_volume_is_refused") {
        return;
    }
    refused_through_a_symlinked("/sys");
}
