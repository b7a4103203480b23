//! CVE-2025-52565: for `process.terminal` the runtime binds the container's pty over
//! /dev/console. From the public description: runc bound `/dev/pts/$n` by its path onto the
//! `/dev/console` path, checking neither; an attacker who could change the container's /dev
//! (a /dev shared with a container it controls, racing the setup) turned either into a
//! symlink, so that runc bound a file of its choice, or bound onto a path of its choice. The
//! fix: the console target is never followed through a symlink, the pty is taken from
//! `/dev/pts/ptmx` verified to be devpts' ptmx and its peer opened by fd, and the mount is made
//! from that fd onto an fd.
//!
//! The tests put the hostile /dev in place before `run` instead of racing for it: /dev is a
//! bind of a "volume" directory whose `console` is a symlink to a file of the container's
//! rootfs (or whose `ptmx` is a symlink to a plain file). Either berth refuses (naming the
//! path), or the process gets a real pty: the symlink's target never has a mount on it and
//! never becomes a terminal.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::json;

/// A terminal container whose /dev is a volume `prepare`d by the attacker.
fn run_with_hostile_dev(
    tag: &str,
    script: &str,
    prepare: impl FnOnce(&std::path::Path),
) -> (Bundle, bool, String, String) {
    let b = Bundle::busybox(&["sh", "-c", script]);
    std::fs::write(b.dir.join("rootfs/etc/target"), "a file of the rootfs\n").unwrap();
    let volume = b.scratch.0.join("shared-dev");
    std::fs::create_dir_all(&volume).unwrap();
    // What an ordinary /dev volume holds; /dev/pts gets the container's devpts as usual.
    std::os::unix::fs::symlink("pts/ptmx", volume.join("ptmx")).unwrap();
    prepare(&volume);
    let vol = volume.to_string_lossy().to_string();
    b.update_config(|c| {
        c["process"]["terminal"] = true.into();
        for m in c["mounts"].as_array_mut().unwrap().iter_mut() {
            if m["destination"] == "/dev" {
                *m = json!({"destination": "/dev", "type": "bind", "source": vol,
                            "options": ["rbind", "rw"]});
            }
        }
        // /dev/null is not made in a /dev volume; nothing is masked by a file here.
        c["linux"]["maskedPaths"] = json!([]);
    });
    let out = b.run(&unique_id(tag));
    let (ok, stdout, stderr) = (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    (b, ok, stdout, stderr)
}

/// Prints what an attacker would look for: a mount on /etc/target, /etc/target a terminal.
const PROBE: &str = "grep -c ' /etc/target ' /proc/self/mountinfo; \
                     test -c /etc/target && echo target-is-a-tty; tty; echo end";

#[test]
fn a_dev_console_symlink_is_never_followed_for_the_console_bind() {
    if !require_root("a_dev_console_symlink_is_never_followed_for_the_console_bind") {
        return;
    }
    let (_b, ok, stdout, stderr) = run_with_hostile_dev("console-symlink", PROBE, |dev| {
        std::os::unix::fs::symlink("/etc/target", dev.join("console")).unwrap();
    });
    assert!(
        !stdout.contains("target-is-a-tty"),
        "the pty was bound through the /dev/console symlink: {stdout:?} {stderr}"
    );
    if ok {
        assert!(
            stdout.starts_with("0\n") && stdout.contains("/dev/pts/") && stdout.contains("end"),
            "no mount on the symlink's target, a real pty: {stdout:?} {stderr}"
        );
    } else {
        assert!(
            stderr.contains("/dev/console"),
            "a refusal names /dev/console: {stderr}"
        );
    }
}

/// A symlink to a directory: the pty must not end up on a path inside it either.
#[test]
fn a_dev_console_symlink_to_a_directory_is_never_followed() {
    if !require_root("a_dev_console_symlink_to_a_directory_is_never_followed") {
        return;
    }
    let script = "grep -c ' /etc ' /proc/self/mountinfo; echo end";
    let (_b, ok, stdout, stderr) = run_with_hostile_dev("console-dirlink", script, |dev| {
        std::os::unix::fs::symlink("/etc", dev.join("console")).unwrap();
    });
    if ok {
        assert!(
            stdout.starts_with("0\n"),
            "a mount on /etc: {stdout:?} {stderr}"
        );
    } else {
        assert!(
            stderr.contains("/dev/console"),
            "a refusal names /dev/console: {stderr}"
        );
    }
}

/// /dev/ptmx pointing at a plain file: the pty still comes from the container's devpts (or the
/// run is refused); the plain file never becomes the console.
#[test]
fn a_dev_ptmx_symlink_to_a_plain_file_is_not_taken_for_the_pty() {
    if !require_root("a_dev_ptmx_symlink_to_a_plain_file_is_not_taken_for_the_pty") {
        return;
    }
    let (_b, ok, stdout, stderr) = run_with_hostile_dev("ptmx-symlink", PROBE, |dev| {
        std::fs::remove_file(dev.join("ptmx")).unwrap();
        std::os::unix::fs::symlink("/etc/target", dev.join("ptmx")).unwrap();
    });
    assert!(!stdout.contains("target-is-a-tty"), "{stdout:?} {stderr}");
    if ok {
        assert!(
            stdout.starts_with("0\n") && stdout.contains("/dev/pts/"),
            "{stdout:?} {stderr}"
        );
    }
}

/// The ordinary case keeps working: a /dev volume with a plain console file gets the pty.
#[test]
fn a_plain_console_file_in_a_dev_volume_gets_the_pty() {
    if !require_root("a_plain_console_file_in_a_dev_volume_gets_the_pty") {
        return;
    }
    let script = "test -c /dev/console && echo console-ok; tty; echo end";
    let (_b, ok, stdout, stderr) = run_with_hostile_dev("console-plain", script, |dev| {
        std::fs::write(dev.join("console"), "").unwrap();
    });
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("console-ok") && stdout.contains("/dev/pts/0"),
        "{stdout:?} {stderr}"
    );
}
