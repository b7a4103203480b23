//! CVE-2021-30465: mount destinations with a symlink on the way. From the public description:
//! two containers share a volume; the second one's config mounts something at a path inside
//! that volume; while runc creates it, the first container exchanges a directory of the
//! volume for a symlink to "/" (renameat2 RENAME_EXCHANGE, in a loop). runc resolved the
//! destination inside the rootfs, but then handed the resolved *path* to mount(2), which
//! resolved it again, through the symlink now there: the mount landed on the host's tree.
//!
//! berth resolves a destination once, in-root (openat2 RESOLVE_IN_ROOT: symlinks, absolute or
//! climbing, stay inside the rootfs), creates what is missing by name under in-root fds, and
//! attaches the mount to the opened fd (move_mount), never to a path. The race itself is made
//! deterministic in berth-runtime's unit test (rootfs::mountops, the exchange done between the
//! target's opening and the mount). Here a real container plants the symlinks in the shared
//! volume, pointing at a host directory, and a second container mounts through them: nothing
//! may be created or mounted in the host directory, and the mounts must be inside the rootfs.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::json;

#[test]
fn mount_destinations_through_planted_symlinks_stay_in_the_rootfs() {
    if !require_root("mount_destinations_through_planted_symlinks_stay_in_the_rootfs") {
        return;
    }
    // The host directory the attacker aims at (stands for "/" of the public proof of concept).
    let host = common::Scratch::new("host-victim");
    let host_path = host.0.to_string_lossy().to_string();
    let climb = format!("../../../../../../../../..{host_path}");
    // The attacker: a container with the volume at /vol plants an absolute and a climbing
    // symlink to the host directory.
    let attacker = Bundle::busybox(&[
        "sh",
        "-c",
        &format!("ln -s {host_path} /vol/abs && ln -s {climb} /vol/rel && echo planted"),
    ]);
    let volume = attacker.scratch.0.join("shared-volume");
    std::fs::create_dir_all(&volume).unwrap();
    let vol = volume.to_string_lossy().to_string();
    let add_volume = |c: &mut serde_json::Value| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "rw"]}),
        );
    };
    attacker.update_config(add_volume);
    assert_eq!(attacker.run_ok(&unique_id("planter")), "planted\n");
    // The victim: the same volume, and mounts whose destinations go through the symlinks.
    let victim = Bundle::busybox(&[
        "sh",
        "-c",
        &format!(
            "for d in /vol/abs/x /vol/rel/y {host_path}/x {host_path}/y; do \
               echo \"$d $(stat -f -c %T $d 2>&1)\"; done; touch /vol/abs/x/w /vol/rel/y/w"
        ),
    ]);
    victim.update_config(|c| {
        add_volume(c);
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/vol/abs/x", "type": "tmpfs", "source": "tmpfs"}));
        mounts.push(json!({"destination": "/vol/rel/y", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = victim.run(&unique_id("victim"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Nothing was made in the host directory, whatever berth answered.
    let left: Vec<_> = std::fs::read_dir(&host.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the mounts reached the host directory: {left:?} (stdout {stdout:?}, stderr {stderr})"
    );
    // Followed in-root, both symlinks lead to the same path inside the rootfs, which holds
    // the tmpfs mounts.
    assert!(out.status.success(), "{stderr}");
    for d in ["/vol/abs/x", "/vol/rel/y"] {
        assert!(
            stdout.contains(&format!("{d} tmpfs")),
            "{d} is a tmpfs inside the container: {stdout:?}"
        );
    }
    let inside = victim
        .dir
        .join("rootfs")
        .join(host_path.trim_start_matches('/'));
    assert!(inside.join("x").is_dir() && inside.join("y").is_dir());
}
