//! CVE-2025-31133: `linux.maskedPaths` files are hidden by binding the container's /dev/null
//! over them. From the public description: runc took whatever the container's /dev/null was.
//! An attacker who could change it (a /dev shared with another container it controls, racing
//! the setup) replaced it with a symlink to a procfs file such as
//! /proc/sys/kernel/core_pattern, and runc bound *that* file, read-write, over the masked
//! path: the container could then write the host's core_pattern. A deleted /dev/null made
//! runc skip the mask without a word.
//!
//! The tests put the hostile /dev in place before `run` instead of racing for it: /dev is a
//! bind of a "volume" directory whose `null` is a symlink to core_pattern, a plain file, or
//! missing. The container masks /etc/secret and /proc/keys and prints /etc/secret. Either
//! berth refuses to set it up (naming /dev/null), or the masked file reads empty: never the
//! secret (mask skipped) and never core_pattern's text (the wrong file bound over it); and the
//! host's core_pattern is unchanged.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::json;
use std::os::fd::AsFd;

const SECRET: &str = "masked-secret-31133";

/// Runs a container whose /dev is `prepare`d volume; returns (success, stdout, stderr).
fn run_with_hostile_dev(
    tag: &str,
    prepare: impl FnOnce(&std::path::Path),
) -> (bool, String, String) {
    // The masked file is read, then written: a writable mask would take the text.
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /etc/secret; echo pwned > /etc/secret 2>/dev/null; cat /etc/secret; echo end",
    ]);
    std::fs::write(b.dir.join("rootfs/etc/secret"), SECRET).unwrap();
    let volume = b.scratch.0.join("shared-dev");
    std::fs::create_dir_all(&volume).unwrap();
    prepare(&volume);
    let vol = volume.to_string_lossy().to_string();
    b.update_config(|c| {
        for m in c["mounts"].as_array_mut().unwrap().iter_mut() {
            if m["destination"] == "/dev" {
                *m = json!({"destination": "/dev", "type": "bind", "source": vol,
                            "options": ["rbind", "rw"]});
            }
        }
        c["linux"]["maskedPaths"] = json!(["/proc/keys", "/etc/secret"]);
    });
    let out = b.run(&unique_id(tag));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap()
}

fn check(case: &str, (ok, stdout, stderr): (bool, String, String), before: &str) {
    if ok {
        assert_eq!(
            stdout, "end\n",
            "{case}: the masked file must read empty and stay so (the secret means the mask \
             was skipped, other text that another file was bound over it); stderr: {stderr}"
        );
    } else {
        assert!(
            stderr.contains("/dev/null"),
            "{case}: a refusal names /dev/null: {stderr}"
        );
        assert!(!stdout.contains(SECRET), "{case}: {stdout}");
    }
    assert_eq!(
        core_pattern(),
        before,
        "{case}: the host's core_pattern changed"
    );
}

#[test]
fn a_dev_null_symlink_to_core_pattern_is_never_bound_over_a_masked_path() {
    if !require_root("a_dev_null_symlink_to_core_pattern_is_never_bound_over_a_masked_path") {
        return;
    }
    let before = core_pattern();
    let r = run_with_hostile_dev("mask-symlink", |dev| {
        std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    });
    check("/dev/null -> core_pattern", r, &before);
}

#[test]
fn a_dev_null_that_is_a_plain_file_is_never_bound_over_a_masked_path() {
    if !require_root("a_dev_null_that_is_a_plain_file_is_never_bound_over_a_masked_path") {
        return;
    }
    let before = core_pattern();
    let r = run_with_hostile_dev("mask-file", |dev| {
        std::fs::write(dev.join("null"), "attacker-file\n").unwrap();
    });
    check("/dev/null a plain file", r, &before);
}

#[test]
fn a_missing_dev_null_does_not_leave_a_masked_path_unmasked() {
    if !require_root("a_missing_dev_null_does_not_leave_a_masked_path_unmasked") {
        return;
    }
    let before = core_pattern();
    let r = run_with_hostile_dev("mask-missing", |_| {});
    check("no /dev/null", r, &before);
}

/// The defence must not cost the ordinary case: a /dev volume holding the real null device
/// masks as usual.
#[test]
fn a_real_null_device_in_a_dev_volume_masks() {
    if !require_root("a_real_null_device_in_a_dev_volume_masks") {
        return;
    }
    let (ok, stdout, stderr) = run_with_hostile_dev("mask-real", |dev| {
        berth_sys::path::mknodat(
            berth_sys::path::open_path(dev.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)
                .unwrap()
                .as_fd(),
            std::ffi::OsStr::new("null"),
            libc::S_IFCHR | 0o666,
            libc::makedev(1, 3),
        )
        .unwrap();
    });
    assert!(ok, "run with a real /dev/null: {stderr}");
    assert_eq!(stdout, "end\n", "stderr: {stderr}");
}
