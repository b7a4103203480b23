//! The rootfs scenarios through the full runtime: `berth run` of a busybox bundle, observed
//! from inside the container (and, for the hostile cases, from the host).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod rootfs_scenarios;

use common::Bundle;
use rootfs_scenarios::Runner;
use std::process::Output;

struct BerthRun;

impl Runner for BerthRun {
    fn run(&self, b: &Bundle, id: &str, no_pivot: bool) -> Output {
        let bundle = b.dir.to_string_lossy().into_owned();
        let mut args = vec!["run", "--bundle", &bundle];
        if no_pivot {
            args.push("--no-pivot");
        }
        args.push(id);
        b.berth(&args)
    }
}

rootfs_scenario_tests!(BerthRun);

/// `berth spec`'s own bundle (the common helper) gets the default /dev and mounts too.
#[test]
fn spec_bundle_has_dev_nodes() {
    if !common::require_root("spec_bundle_has_dev_nodes") {
        return;
    }
    let b = Bundle::busybox(&["stat", "-c", "%t %T %a", "/dev/null"]);
    let out = b.run_ok(&common::unique_id("specdev"));
    assert_eq!(out.trim(), "1 3 666");
}

/// A container with its own user namespace (root mapped to host uid 100000): devices are
/// bind-mounted from the host instead of made with mknod, locked flags are kept, the rest
/// of the setup is the same.
#[test]
fn user_namespace_container() {
    if !common::require_root("user_namespace_container") {
        return;
    }
    let b = rootfs_scenarios::bundle(&[
        "sh",
        "-c",
        "stat -c '%n %t %T' /dev/null /dev/zero /dev/tty; cat /proc/self/mountinfo; \
         touch / 2>&1; echo x > /dev/null && echo null-ok",
    ]);
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(serde_json::json!({"type": "user"}));
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    });
    let st = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(b.dir.join("rootfs"))
        .status()
        .expect("chown");
    assert!(st.success());
    let out = b.run(&common::unique_id("userns"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "/dev/null 1 3",
        "/dev/zero 1 5",
        "/dev/tty 5 0",
        "Read-only file system",
        "null-ok",
    ] {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    // The nodes are the host's, bound in (mknod is not allowed in a user namespace).
    let null = rootfs_scenarios::mount_line(&stdout, "/dev/null");
    assert!(null.contains("/null "), "{null}");
    assert!(
        rootfs_scenarios::mount_line(&stdout, "/proc/sys").contains(" ro,"),
        "{stdout}"
    );
}

/// A read-only /dev (mounts.bats' ro /dev mount): filled first, read-only in the container.
#[test]
fn readonly_dev_mount() {
    if !common::require_root("readonly_dev_mount") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "grep '^tmpfs /dev ' /proc/mounts; test -c /dev/null && test -d /dev/pts && echo FILLED; \
         touch /dev/x 2>/dev/null || echo READONLY",
    ]);
    b.update_config(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push("ro".into());
            }
        }
    });
    let out = b.run_ok(&common::unique_id("rodev"));
    let first = out.lines().next().unwrap_or_default();
    assert!(first.contains(" ro,"), "{out}");
    assert!(out.contains("FILLED\nREADONLY"), "{out}");
}

/// userns.bats' inaccessible mounts: bind sources below a 0700 directory of the host's root
/// cannot be reached by the container's root (host uid 100000); the runtime opens them.
#[test]
fn user_namespace_inaccessible_bind_sources() {
    if !common::require_root("user_namespace_inaccessible_bind_sources") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let b = rootfs_scenarios::bundle(&["stat", "-c", "%n", "/tmp/m1/foo", "/tmp/m2/foo"]);
    for n in ["1", "2"] {
        let top = b.dir.join(format!("private-{n}"));
        std::fs::create_dir_all(top.join("dir")).expect("mkdir source");
        std::fs::write(top.join("dir/foo"), "x").expect("write foo");
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(serde_json::json!({"type": "user"}));
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        let mounts = c["mounts"].as_array_mut().expect("mounts");
        for n in ["1", "2"] {
            mounts.push(serde_json::json!({"source": format!("private-{n}/dir"),
                "destination": format!("/tmp/m{n}"), "options": ["bind"]}));
        }
    });
    let st = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(b.dir.join("rootfs"))
        .status()
        .expect("chown");
    assert!(st.success());
    let out = b.run(&common::unique_id("usernsbind"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "/tmp/m1/foo\n/tmp/m2/foo\n");
}

/// A relative readonlyPaths entry is taken from the container's root (runc accepts them);
/// a missing one is skipped like an absolute one.
#[test]
fn relative_readonly_path() {
    if !common::require_root("relative_readonly_path") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "touch /tmp/x 2>/dev/null || echo READONLY"]);
    b.update_config(|c| c["linux"]["readonlyPaths"] = serde_json::json!(["tmp", "no/such"]));
    let out = b.run_ok(&common::unique_id("rorel"));
    assert_eq!(out, "READONLY\n");
}
