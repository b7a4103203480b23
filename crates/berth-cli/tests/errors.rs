//! Bad input: each case exits 1 with `berth: error: <message>` naming what is wrong, and leaves nothing
//! behind — no state directory, no process, no cgroup.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use std::path::Path;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed command's shape: exit 1, one `berth: error: ` line mentioning every `needle`.
fn assert_fails_with(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(err.starts_with("berth: error: "), "error prefix: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr should mention {n:?}: {err}");
    }
}

/// Nothing of container `id` is left: state dir, a process carrying `marker` in its command
/// line, or a cgroup directory named after it in any hierarchy.
fn assert_nothing_left(b: &Bundle, id: &str, marker: &str) {
    assert!(
        !b.state_root.join(id).exists(),
        "state dir of {id} left behind"
    );
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains(marker),
            "process left behind: {} {cmdline}",
            entry.path().display()
        );
    }
    if !id.is_empty() {
        assert!(
            find_dir_named(Path::new("/sys/fs/cgroup"), id, 4).is_none(),
            "cgroup of {id} left behind"
        );
    }
}

fn find_dir_named(dir: &Path, name: &str, depth: u32) -> Option<std::path::PathBuf> {
    if depth == 0 {
        return None;
    }
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            if e.file_name() == name {
                return Some(e.path());
            }
            if let Some(p) = find_dir_named(&e.path(), name, depth - 1) {
                return Some(p);
            }
        }
    }
    None
}

fn create(b: &Bundle, id: &str) -> std::process::Output {
    let bundle = b.dir.to_string_lossy().to_string();
    b.berth(&["create", "--bundle", &bundle, id])
}

#[test]
fn missing_config_json() {
    let b = Bundle::busybox(&["true"]);
    std::fs::remove_file(b.config_path()).unwrap();
    let id = unique_id("noconfig");
    assert_fails_with(&create(&b, &id), &["config.json", "not found"]);
    assert_nothing_left(&b, &id, "noconfig-never");
}

#[test]
fn malformed_config_json() {
    let b = Bundle::busybox(&["true"]);
    std::fs::write(
        b.config_path(),
        "{\"ociVersion\": \"1.2.0\",\n \"process\": [}",
    )
    .unwrap();
    let id = unique_id("badjson");
    assert_fails_with(&create(&b, &id), &["config.json", "line 2"]);
    assert_nothing_left(&b, &id, "badjson-never");
}

#[test]
fn wrong_field_type_names_the_position() {
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| c["process"]["args"] = "not-a-list".into());
    let id = unique_id("badtype");
    assert_fails_with(&create(&b, &id), &["config.json", "line"]);
}

#[test]
fn unknown_oci_version_major() {
    let b = Bundle::busybox(&["sleep", "424201"]);
    b.update_config(|c| c["ociVersion"] = "2.0.0".into());
    let id = unique_id("ver");
    assert_fails_with(&create(&b, &id), &["ociVersion", "2.0.0"]);
    assert_nothing_left(&b, &id, "424201");
}

#[test]
fn relative_rootfs_that_does_not_exist() {
    let b = Bundle::busybox(&["sleep", "424202"]);
    b.update_config(|c| c["root"]["path"] = "no-such-rootfs".into());
    let id = unique_id("rootfs");
    assert_fails_with(&create(&b, &id), &["root.path", "no-such-rootfs"]);
    assert_nothing_left(&b, &id, "424202");
}

#[test]
fn invalid_container_ids() {
    let b = Bundle::busybox(&["true"]);
    for id in ["", "/", "..", ".", "a b", "../escape", "a/b", "x:y"] {
        let out = create(&b, id);
        assert_fails_with(&out, &["invalid container id"]);
        assert!(
            stderr(&out).contains(&format!("{id:?}")),
            "names the id {id:?}: {}",
            stderr(&out)
        );
    }
    assert!(!b.state_root.exists() || std::fs::read_dir(&b.state_root).unwrap().next().is_none());
    assert!(!b.dir.parent().unwrap().join("escape").exists());
}

#[test]
fn duplicate_id_leaves_the_first_container_alone() {
    if !require_root("duplicate_id_leaves_the_first_container_alone") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "424203"]);
    let id = unique_id("dup");
    assert!(create(&b, &id).status.success());
    let before = b.berth(&["state", &id]);
    assert_fails_with(
        &create(&b, &id),
        &[&format!("container with id exists: {id}")],
    );
    let after = b.berth(&["state", &id]);
    let pid = |o: &std::process::Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["pid"].clone()
    };
    assert_eq!(pid(&before), pid(&after));
    assert!(b.berth(&["delete", "-f", &id]).status.success());
    assert_nothing_left(&b, &id, "424203");
}

#[test]
fn unknown_id_for_every_command() {
    let b = Bundle::busybox(&["true"]);
    let id = unique_id("ghost");
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
    ] {
        assert_fails_with(&b.berth(&args), &["does not exist", &id]);
    }
    assert!(b.berth(&["delete", "--force", &id]).status.success());
}

#[test]
fn bad_signal_is_refused_before_anything_happens() {
    let b = Bundle::busybox(&["true"]);
    let id = unique_id("badsig");
    assert_fails_with(
        &b.berth(&["kill", &id, "SIGNOPE"]),
        &["unknown signal \"SIGNOPE\""],
    );
    assert_fails_with(
        &b.berth(&["kill", &id, "99"]),
        &["invalid signal number 99"],
    );
}

#[test]
fn missing_executable_fails_create_and_cleans_up() {
    if !require_root("missing_executable_fails_create_and_cleans_up") {
        return;
    }
    let b = Bundle::busybox(&["no-such-program-424204"]);
    let id = unique_id("noexec");
    assert_fails_with(
        &create(&b, &id),
        &["exec: \"no-such-program-424204\": executable file not found in $PATH"],
    );
    assert_nothing_left(&b, &id, "no-such-program-424204");
}

/// A missing, non-executable or directory entrypoint given as a path fails `create` with
/// runc's words (docker and podman map them to 127 and 126), and leaves nothing behind.
#[test]
fn unrunnable_entrypoint_path_fails_create_as_runc() {
    if !require_root("unrunnable_entrypoint_path_fails_create_as_runc") {
        return;
    }
    let b = Bundle::busybox(&["/no/such/binary", "424207"]);
    std::fs::write(b.dir.join("rootfs/noexec.sh"), "#!/bin/sh\n").unwrap();
    for (args, want) in [
        (
            vec!["/no/such/binary", "424207"],
            "exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory",
        ),
        (
            vec!["/noexec.sh", "424207"],
            "exec: \"/noexec.sh\": permission denied",
        ),
        (vec!["/etc", "424207"], "exec: \"/etc\": permission denied"),
    ] {
        b.set_args(&args);
        let id = unique_id("entry");
        assert_fails_with(&create(&b, &id), &[want]);
        assert_nothing_left(&b, &id, "424207");
    }
}

#[test]
fn bad_namespace_path() {
    let b = Bundle::busybox(&["sleep", "424205"]);
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time", "path": "/proc/no/such/ns"}));
    });
    let id = unique_id("nspath");
    assert_fails_with(&create(&b, &id), &["linux.namespaces", "/proc/no/such/ns"]);
    assert_nothing_left(&b, &id, "424205");
}

#[test]
fn relative_cwd_and_empty_args() {
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| c["process"]["cwd"] = "relative/dir".into());
    assert_fails_with(
        &create(&b, &unique_id("cwd")),
        &["process.cwd", "relative/dir"],
    );
    b.update_config(|c| {
        c["process"]["cwd"] = "/".into();
        c["process"]["args"] = serde_json::json!([]);
    });
    assert_fails_with(&create(&b, &unique_id("args")), &["process.args"]);
}

#[test]
fn failed_init_setup_cleans_up() {
    if !require_root("failed_init_setup_cleans_up") {
        return;
    }
    // The init fails inside the container (a uid map without root mapped cannot become root).
    let b = Bundle::busybox(&["sleep", "424206"]);
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 1000, "hostID": 100000, "size": 1}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 1000, "hostID": 100000, "size": 1}]);
    });
    let id = unique_id("initfail");
    assert_fails_with(&create(&b, &id), &["user namespace"]);
    assert_nothing_left(&b, &id, "424206");
}

/// The init makes its mounts while the runtime still writes its cgroup (the two overlap): a
/// mount that fails there is the error reported, not the runtime's cgroup write or Go for an
/// init that has died, and nothing is left behind.
#[test]
fn a_mount_failing_early_in_the_init_is_the_error_reported() {
    if !require_root("a_mount_failing_early_in_the_init_is_the_error_reported") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "424208"]);
    b.update_config(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/early", "type": "tmpfs", "source": "tmpfs", "options": ["size=abc"]}
        ));
    });
    for _ in 0..5 {
        let id = unique_id("early");
        let out = create(&b, &id);
        assert_fails_with(&out, &["mount \"/early\"", "size=abc", "invalid argument"]);
        let err = stderr(&out);
        assert!(
            !err.contains("cgroup") && !err.contains("sending go"),
            "{err}"
        );
        assert_nothing_left(&b, &id, "424208");
    }
}

#[test]
fn json_log_carries_the_error_for_containerd() {
    let b = Bundle::busybox(&["true"]);
    let log = b.scratch.0.join("log.json");
    let id = unique_id("jsonlog");
    let out = b.berth(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "state",
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("log file written");
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("does not exist"));
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn unknown_flag_exits_1() {
    let b = Bundle::busybox(&["true"]);
    let out = b.berth(&["create", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The init's own exec failure (a file with an execute bit the kernel cannot run) reads as
/// runc's, one line of its own: the C library's text in lower case, no "(os error N)".
#[test]
fn exec_failure_of_the_init_in_runc_words() {
    if !require_root("exec_failure_of_the_init_in_runc_words") {
        return;
    }
    let b = Bundle::busybox(&["/garbage.bin"]);
    let bin = b.dir.join("rootfs/garbage.bin");
    std::fs::write(&bin, [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = b.run(&unique_id("enoexec"));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l == "exec /garbage.bin: exec format error"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

/// `list` with a `--root` that does not exist fails naming it, as runc's does; an existing one
/// (empty) lists nothing.
#[test]
fn list_with_a_missing_root_given_fails() {
    let dir = std::env::temp_dir().join(unique_id("listroot"));
    let missing = dir.join("missing");
    let out = std::process::Command::new(common::berth_bin())
        .args(["--root", missing.to_str().unwrap(), "list", "-q"])
        .output()
        .unwrap();
    assert_fails_with(&out, &["open ", "missing: no such file or directory"]);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(common::berth_bin())
        .args(["--root", dir.to_str().unwrap(), "list", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
