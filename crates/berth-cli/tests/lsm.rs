//! `process.apparmorProfile`, `process.selinuxLabel`, `linux.mountLabel`, `exec --apparmor` and
//! `exec --process-label` in real containers. Needs root.
//!
//! On a host without the module (this project's CI host has neither AppArmor nor SELinux) a
//! request must fail at create, naming the field, leaving nothing behind. AppArmor for real:
//! `apparmor_profile_confines_the_program` runs where AppArmor is enabled and apparmor_parser
//! is installed, which is the cgroup-v2 VM of `make test-cgroup-v2-vm` (vm/test.sh).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use berth_runtime::security::HostLsms;
use common::Bundle;
use serde_json::json;
use std::path::Path;

/// Whether the host lacks the module `lsm` the test needs to be absent; prints why it skips.
fn require_absent(test: &str, lsm: &str, enabled: bool) -> bool {
    if !common::require_root(test) {
        return false;
    }
    if enabled {
        eprintln!("SKIP {test}: {lsm} is enabled on this host (the test needs it absent)");
        return false;
    }
    true
}

/// Processes whose command line names `id` (berth's launcher is started with the command's
/// arguments, and the init is a clone of it) that are still there after a while: one may
/// still be finishing when berth has exited; a container's init left behind never goes away.
fn processes_naming(id: &str) -> Vec<String> {
    let mut found = processes_naming_now(id);
    for _ in 0..100 {
        if found.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        found = processes_naming_now(id);
    }
    found
}

fn processes_naming_now(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.split(' ').any(|a| a == id) {
            found.push(format!("{name}: {cmd}"));
        }
    }
    found
}

/// Cgroup directories named `name` anywhere a hierarchy is mounted (v1 or v2).
fn cgroups_named(name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let top = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![top.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(top) {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    for d in dirs {
        if d.join(name).exists() {
            found.push(d.join(name).display().to_string());
        }
    }
    found
}

/// `berth create` (or `run`) of `b` must exit 1 with `expect` in its error, and leave no state
/// directory, no cgroup and no process behind.
fn assert_refused_at(b: &Bundle, verb: &str, tag: &str, expect: &str) {
    let id = common::unique_id(tag);
    let cgroup = format!("berth-{id}");
    b.update_config(|c| c["linux"]["cgroupsPath"] = json!(format!("/{cgroup}")));
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.berth(&[verb, "--bundle", &bundle, &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{verb}: stderr={stderr}");
    assert!(
        stderr.contains(expect),
        "{verb}: expected {expect:?} in stderr={stderr}"
    );
    let state: Vec<_> = std::fs::read_dir(&b.state_root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(state.is_empty(), "state left behind: {state:?}");
    assert_eq!(
        cgroups_named(&cgroup),
        Vec::<String>::new(),
        "cgroup left behind"
    );
    assert_eq!(
        processes_naming(&id),
        Vec::<String>::new(),
        "process left behind"
    );
}

#[test]
fn apparmor_profile_is_refused_without_apparmor() {
    let test = "apparmor_profile_is_refused_without_apparmor";
    if !require_absent(test, "AppArmor", HostLsms::detect().apparmor) {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| c["process"]["apparmorProfile"] = json!("docker-default"));
    let expect = "process.apparmorProfile: AppArmor profile \"docker-default\" requested but \
                  AppArmor is not enabled on this host";
    assert_refused_at(&b, "create", "aa-create", expect);
    assert_refused_at(&b, "run", "aa-run", expect);
    // An empty profile is no request (runc treats it so).
    b.update_config(|c| c["process"]["apparmorProfile"] = json!(""));
    b.run_ok(&common::unique_id("aa-empty"));
}

#[test]
fn selinux_labels_are_refused_without_selinux() {
    let test = "selinux_labels_are_refused_without_selinux";
    if !require_absent(test, "SELinux", HostLsms::detect().selinux) {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2")
    });
    assert_refused_at(
        &b,
        "create",
        "se-proc",
        "process.selinuxLabel: SELinux label \"system_u:system_r:container_t:s0:c1,c2\" \
         requested but SELinux is not enabled on this host",
    );
    b.update_config(|c| {
        c["process"]["selinuxLabel"] = json!("");
        // runtime-tools' linux_mount_label value.
        c["linux"]["mountLabel"] = json!("system_u:object_r:svirt_sandbox_file_t:s0:c715,c811");
    });
    assert_refused_at(
        &b,
        "run",
        "se-mount",
        "linux.mountLabel: SELinux label \"system_u:object_r:svirt_sandbox_file_t:s0:c715,c811\" \
         requested but SELinux is not enabled on this host",
    );
}

/// `exec --apparmor` / `--process-label` (and a process.json asking for either) on a host
/// without the module: the exec fails naming the field, with runc's exit status of a failed
/// exec (255); the container keeps running and no exec'd process is left.
#[test]
fn exec_labels_are_refused_without_the_module() {
    let test = "exec_labels_are_refused_without_the_module";
    let host = HostLsms::detect();
    if !require_absent(test, "AppArmor or SELinux", host.apparmor || host.selinux) {
        return;
    }
    let b = Bundle::busybox(&["sleep", "600"]);
    let id = common::unique_id("lsm-exec");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: [(&[&str], &str); 2] = [
        (
            &["--apparmor", "berth-exec"],
            "process.apparmorProfile: AppArmor profile \"berth-exec\"",
        ),
        (
            &["--process-label", "system_u:system_r:container_t:s0"],
            "process.selinuxLabel: SELinux label \"system_u:system_r:container_t:s0\"",
        ),
    ];
    for (flags, expect) in cases {
        let marker = common::unique_id("lsm-exec-marker");
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&id, "sleep", &marker]);
        let out = b.berth(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{flags:?}: stderr={stderr}");
        assert!(
            stderr.contains(expect),
            "{flags:?}: expected {expect:?} in {stderr}"
        );
        assert_eq!(
            processes_naming(&marker),
            Vec::<String>::new(),
            "exec'd process left"
        );
    }
    let p = b.scratch.0.join("process.json");
    std::fs::write(
        &p,
        json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
               "apparmorProfile": "from-process-json"})
        .to_string(),
    )
    .unwrap();
    let out = b.berth(&["exec", "--process", &p.to_string_lossy(), &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "stderr={stderr}");
    assert!(stderr.contains("process.apparmorProfile"), "{stderr}");
    let state = b.berth(&["state", &id]);
    let v: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(
        v["status"], "running",
        "the container survives a refused exec"
    );
    let out = b.berth(&["delete", "--force", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// runc 1.5's shape: both enabled (support compiled in, per the runtime-spec, whatever the host).
#[test]
fn features_reports_apparmor_and_selinux_support() {
    let out = std::process::Command::new(common::berth_bin())
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["linux"]["apparmor"], json!({"enabled": true}));
    assert_eq!(v["linux"]["selinux"], json!({"enabled": true}));
}

const PROFILE: &str = "berth-test-deny-tmp-denied";

/// The test profile: everything allowed but writes to /tmp/denied (and reads of /etc/secret).
fn profile_text() -> String {
    format!(
        "profile {PROFILE} flags=(attach_disconnected,mediate_deleted) {{\n\
         \x20 file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n\
         \x20 mount,\n  umount,\n  pivot_root,\n\
         \x20 deny /tmp/denied w,\n  deny /etc/secret r,\n}}\n"
    )
}

fn apparmor_parser() -> Option<&'static str> {
    ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// What the container's program reports: its AppArmor context, whether it could write
/// /tmp/denied and /tmp/allowed, and read /etc/secret.
const PROBE: &str =
    "cat /proc/self/attr/apparmor/current 2>/dev/null || cat /proc/self/attr/current; \
     (echo x > /tmp/denied) 2>/dev/null && echo denied-write:ok || echo denied-write:refused; \
     (echo x > /tmp/allowed) 2>/dev/null && echo allowed-write:ok || echo allowed-write:refused; \
     cat /etc/secret >/dev/null 2>&1 && echo secret-read:ok || echo secret-read:refused";

/// AppArmor for real: a profile loaded with apparmor_parser is in force in the container's
/// program (its context names it; it denies what it denies and allows the rest), the same
/// program without it is unconfined and may do all three, `exec --apparmor` confines an exec'd
/// process, attribute files covered by the image's mounts cannot swallow the profile, and an
/// unknown profile fails create, naming the field, leaving nothing behind.
#[test]
fn apparmor_profile_confines_the_program() {
    let test = "apparmor_profile_confines_the_program";
    if !common::require_root(test) {
        return;
    }
    if !HostLsms::detect().apparmor {
        eprintln!("SKIP {test}: AppArmor is not enabled on this host (runs in the cgroup-v2 VM)");
        return;
    }
    let Some(parser) = apparmor_parser() else {
        eprintln!("SKIP {test}: apparmor_parser is not installed (apt-get install apparmor)");
        return;
    };
    let b = Bundle::busybox(&["sh", "-c", PROBE]);
    std::fs::write(b.dir.join("rootfs/etc/secret"), "s\n").unwrap();
    let profile = b.scratch.0.join("profile");
    std::fs::write(&profile, profile_text()).unwrap();
    // -K: no cache (the VM's root is read-only).
    let out = std::process::Command::new(parser)
        .args(["-r", "-K"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apparmor_parser: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let unconfined = b.run_ok(&common::unique_id("aa-off"));
    assert_eq!(
        unconfined.lines().collect::<Vec<_>>(),
        [
            "unconfined",
            "denied-write:ok",
            "allowed-write:ok",
            "secret-read:ok"
        ],
        "without the profile"
    );
    b.update_config(|c| c["process"]["apparmorProfile"] = json!(PROFILE));
    let confined = b.run_ok(&common::unique_id("aa-on"));
    assert_eq!(
        confined.lines().collect::<Vec<_>>(),
        [
            format!("{PROFILE} (enforce)").as_str(),
            "denied-write:refused",
            "allowed-write:ok",
            "secret-read:refused"
        ],
        "with the profile"
    );

    // exec --apparmor into an unconfined container; a plain exec stays unconfined.
    b.update_config(|c| {
        c["process"]["apparmorProfile"] = json!("");
        c["process"]["args"] = json!(["sleep", "600"]);
    });
    let id = common::unique_id("aa-exec");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exec = |flags: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&id, "sh", "-c", PROBE]);
        let out = b.berth(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        exec(&["--apparmor", PROFILE]),
        format!("{PROFILE} (enforce)")
    );
    assert_eq!(exec(&[]), "unconfined");
    let out = b.berth(&["delete", "--force", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // CVE-2019-16884's LSM half: the image's mounts cover the init's attribute files with
    // plain files. The profile must still reach the kernel (or create fail); the files stay
    // untouched.
    let fake = b.scratch.0.join("fake-attr");
    std::fs::write(&fake, "").unwrap();
    let fake_src = fake.to_string_lossy().into_owned();
    b.update_config(|c| {
        c["process"]["apparmorProfile"] = json!(PROFILE);
        c["process"]["args"] = json!(["sh", "-c", PROBE]);
        let mounts = c["mounts"].as_array_mut().unwrap();
        for dest in [
            "/proc/self/attr/apparmor/exec",
            "/proc/thread-self/attr/apparmor/exec",
            "/proc/self/attr/exec",
            "/proc/thread-self/attr/exec",
        ] {
            mounts.push(
                json!({"destination": dest, "type": "bind", "source": fake_src,
                               "options": ["bind"]}),
            );
        }
    });
    let out = b.run(&common::unique_id("aa-overmount"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert_eq!(
            stdout.lines().next(),
            Some(format!("{PROFILE} (enforce)").as_str()),
            "overmounted attribute files: stderr={stderr}"
        );
    } else {
        assert!(
            stderr.contains("process.apparmorProfile"),
            "stderr={stderr}"
        );
    }
    assert_eq!(
        std::fs::read(&fake).unwrap(),
        b"",
        "the fake attribute file was written"
    );
    b.update_config(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["source"] != json!(fake_src));
    });

    // A profile the kernel does not know: create fails naming the field, nothing left.
    b.update_config(|c| {
        c["process"]["apparmorProfile"] = json!("berth-no-such-profile");
        c["process"]["args"] = json!(["true"]);
    });
    assert_refused_at(&b, "create", "aa-unknown", "process.apparmorProfile");

    let _ = std::process::Command::new(parser)
        .args(["-R", "-K"])
        .arg(&profile)
        .output();
}
