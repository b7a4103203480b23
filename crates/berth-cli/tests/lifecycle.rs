//! The container lifecycle on real containers: create/start/run/state/kill/delete/list, observed
//! from inside the container and through the runtime's own state.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn state_of(b: &Bundle, id: &str) -> Value {
    let out = b.berth(&["state", id]);
    assert!(out.status.success(), "state {id}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("state is JSON")
}

/// `berth spec` adds a cgroup namespace only on a pure cgroup v2 host (as runc does); these
/// tests want one everywhere.
fn add_cgroup_namespace(c: &mut Value) {
    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
    if !ns.iter().any(|n| n["type"] == "cgroup") {
        ns.push(serde_json::json!({"type": "cgroup"}));
    }
}

/// Polls `cond` for up to 10 s (containers start asynchronously to the test).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn run_returns_the_process_exit_code() {
    if !require_root("run_returns_the_process_exit_code") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let id = unique_id("exit");
    let out = b.run(&id);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err"));
    // run deletes the container once its process has exited.
    assert!(!b.state_root.join(&id).exists());
}

/// The SigIgn mask of /proc/self/status, as a number.
fn ignored_signals(status: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap_or_else(|| panic!("no SigIgn in {status:?}"));
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

#[test]
fn the_containers_program_does_not_inherit_berths_ignored_sigpipe() {
    if !require_root("the_containers_program_does_not_inherit_berths_ignored_sigpipe") {
        return;
    }
    // berth (a Rust program) ignores SIGPIPE itself; runc's containers start with the default,
    // and so must berth's, for the init and for an exec'd process.
    let sigpipe_bit = 1u64 << (libc::SIGPIPE - 1);
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let out = b.run(&unique_id("sigpipe"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ignored_signals(&stdout(&out)) & sigpipe_bit, 0, "init");

    b.set_args(&["sleep", "1000"]);
    let id = unique_id("sigpipe-exec");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.berth(&["exec", &id, "cat", "/proc/self/status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ignored_signals(&stdout(&out)) & sigpipe_bit, 0, "exec");
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    if !require_root("run_reports_death_by_signal_as_128_plus_n") {
        return;
    }
    // The init of a pid namespace ignores signals it has no handler for, except SIGKILL/SIGSTOP
    // sent from outside: so the kill comes from `berth kill`, as an engine would send it.
    let b = Bundle::busybox(&["sh", "-c", "echo ready > /tmp/ready; exec sleep 1000"]);
    let id = unique_id("sig");
    let mut child = b.spawn_run(&id);
    eventually("container ready", || {
        b.dir.join("rootfs/tmp/ready").exists()
    });
    let out = b.berth(&["kill", &id, "SIGKILL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(child.wait().unwrap().code(), Some(137));
}

#[test]
fn process_sees_its_namespaces_hostname_env_and_pid_one() {
    if !require_root("process_sees_its_namespaces_hostname_env_and_pid_one") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "echo pid=$$; hostname; echo foo=$FOO; echo home=$HOME; pwd; \
         for n in pid net ipc uts mnt cgroup; do echo $n=$(readlink /proc/self/ns/$n); done",
    ]);
    b.update_config(|c| {
        add_cgroup_namespace(c);
        c["hostname"] = "inside-host".into();
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar baz"]);
        c["process"]["cwd"] = "/tmp".into();
    });
    let out = b.run_ok(&unique_id("ns"));
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(out.contains("inside-host\n"), "{out}");
    assert!(out.contains("foo=bar baz\n"), "{out}");
    assert!(
        out.contains("home=/root\n"),
        "HOME comes from /etc/passwd: {out}"
    );
    assert!(out.contains("/tmp\n"), "{out}");
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{ns}=")))
            .unwrap();
        assert_ne!(
            line[ns.len() + 1..],
            *host.to_string_lossy(),
            "{ns} namespace must be new"
        );
    }
}

#[test]
fn create_blocks_until_start_then_state_follows_the_process() {
    if !require_root("create_blocks_until_start_then_state_follows_the_process") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "echo started > /tmp/marker; exec sleep 1000"]);
    let id = unique_id("life");
    let bundle = b.dir.to_string_lossy().to_string();
    let pid_file = b.scratch.0.join("pid");
    let out = b.berth(&[
        "create",
        &id,
        "--bundle",
        &bundle,
        "--pid-file",
        &pid_file.to_string_lossy(),
    ]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let st = state_of(&b, &id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], bundle.as_str());
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let marker = b.dir.join("rootfs/tmp/marker");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !marker.exists(),
        "the user process must not run before start"
    );

    let out = b.berth(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    eventually("marker written by the started process", || marker.exists());
    assert_eq!(state_of(&b, &id)["status"], "running");
    let again = b.berth(&["start", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("cannot start an already running container"));

    let out = b.berth(&["delete", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot delete container") && stderr(&out).contains("running"));

    let out = b.berth(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    eventually("stopped after SIGKILL", || {
        state_of(&b, &id)["status"] == "stopped"
    });
    assert_eq!(state_of(&b, &id)["pid"], 0);
    let out = b.berth(&["kill", &id, "KILL"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("container not running"));

    let out = b.berth(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    assert!(!b.state_root.join(&id).exists());
    assert!(
        !Path::new(&format!("/proc/{pid}/status")).exists() || {
            // The pid may have been reused; it must not be our container's sleep.
            !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains("sleep")
        }
    );
    let out = b.berth(&["delete", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"));
    let out = b.berth(&["delete", "--force", &id]);
    assert!(
        out.status.success(),
        "delete --force of a deleted id exits 0"
    );
}

#[test]
fn delete_removes_a_created_container_and_its_process() {
    if !require_root("delete_removes_a_created_container_and_its_process") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("delcreated");
    let bundle = b.dir.to_string_lossy().to_string();
    assert!(b
        .berth(&["create", "--bundle", &bundle, &id])
        .status
        .success());
    let pid = state_of(&b, &id)["pid"].as_i64().unwrap();
    let start = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let out = b.berth(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let now = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        now != start || now.contains(") Z "),
        "the init must be gone: {now}"
    );
}

#[test]
fn kill_delivers_named_and_numbered_signals() {
    if !require_root("kill_delivers_named_and_numbered_signals") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "trap 'echo usr1 >> /tmp/got' USR1; trap 'echo term >> /tmp/got; exit 0' TERM; \
         echo ready > /tmp/ready; while true; do sleep 0.05; done",
    ]);
    let id = unique_id("kill");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = b.dir.join("rootfs/tmp/got");
    eventually("trap installed", || b.dir.join("rootfs/tmp/ready").exists());
    assert!(
        b.berth(&["kill", &id, "0"]).status.success(),
        "signal 0 probes the init"
    );
    assert!(b.berth(&["kill", &id, "usr1"]).status.success());
    eventually("USR1 handled", || {
        std::fs::read_to_string(&got)
            .unwrap_or_default()
            .contains("usr1")
    });
    assert!(b.berth(&["kill", &id, "10"]).status.success());
    eventually("second USR1", || {
        std::fs::read_to_string(&got)
            .unwrap_or_default()
            .matches("usr1")
            .count()
            == 2
    });
    assert!(
        b.berth(&["kill", &id]).status.success(),
        "default signal is SIGTERM"
    );
    eventually("stopped after TERM", || {
        state_of(&b, &id)["status"] == "stopped"
    });
    assert!(std::fs::read_to_string(&got).unwrap().contains("term"));
    let bad = b.berth(&["kill", &id, "NOTASIGNAL"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("unknown signal \"NOTASIGNAL\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn run_forwards_signals_to_the_container() {
    if !require_root("run_forwards_signals_to_the_container") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready > /tmp/ready; while true; do sleep 0.05; done",
    ]);
    let id = unique_id("fwd");
    let mut child = b.spawn_run(&id);
    eventually("container ready", || {
        b.dir.join("rootfs/tmp/ready").exists()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42), "signal: {:?}", status.signal());
}

#[test]
fn list_and_state_formats() {
    if !require_root("list_and_state_formats") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let bundle = b.dir.to_string_lossy().to_string();
    let ids = [unique_id("lista"), unique_id("listb")];
    for id in &ids {
        assert!(b
            .berth(&["run", "--detach", "--bundle", &bundle, id])
            .status
            .success());
    }
    b.update_config(|c| c["annotations"] = serde_json::json!({"org.example/k": "v"}));
    let q = stdout(&b.berth(&["list", "-q"]));
    assert_eq!(
        q.lines().collect::<Vec<_>>(),
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let json: Value =
        serde_json::from_slice(&b.berth(&["list", "--format", "json"]).stdout).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    for (s, id) in arr.iter().zip(&ids) {
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["status"], "running");
        assert!(s["pid"].as_i64().unwrap() > 0);
        assert!(s["created"].as_str().unwrap().ends_with('Z'));
    }
    let table = stdout(&b.berth(&["list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.lines().nth(1).unwrap().contains("running"));
    let st = state_of(&b, &ids[0]);
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(st.get(key).is_some(), "state lacks {key}: {st}");
    }
    for id in &ids {
        assert!(b.berth(&["delete", "-f", id]).status.success());
    }
    assert_eq!(stdout(&b.berth(&["list", "-q"])), "");
}

#[test]
fn annotations_appear_in_state() {
    if !require_root("annotations_appear_in_state") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    b.update_config(|c| c["annotations"] = serde_json::json!({"org.example/key": "value"}));
    let id = unique_id("annot");
    let bundle = b.dir.to_string_lossy().to_string();
    assert!(b
        .berth(&["create", "--bundle", &bundle, &id])
        .status
        .success());
    assert_eq!(state_of(&b, &id)["annotations"]["org.example/key"], "value");
}

#[test]
fn joins_a_namespace_by_path() {
    if !require_root("joins_a_namespace_by_path") {
        return;
    }
    let a = Bundle::busybox(&["sleep", "1000"]);
    let id_a = unique_id("nsowner");
    let bundle = a.dir.to_string_lossy().to_string();
    assert!(a
        .berth(&["run", "-d", "--bundle", &bundle, &id_a])
        .status
        .success());
    let pid_a = state_of(&a, &id_a)["pid"].as_i64().unwrap();
    let net_a = std::fs::read_link(format!("/proc/{pid_a}/ns/net")).unwrap();
    let uts_a = std::fs::read_link(format!("/proc/{pid_a}/ns/uts")).unwrap();

    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; echo $$",
    ]);
    b.update_config(|c| {
        c["linux"]["namespaces"] = serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
            {"type": "network", "path": format!("/proc/{pid_a}/ns/net")}
        ]);
    });
    let out = b.run_ok(&unique_id("joiner"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        net_a.to_string_lossy(),
        "joined the network namespace"
    );
    assert_ne!(
        lines[1],
        uts_a.to_string_lossy(),
        "the UTS namespace is still new"
    );
    assert_eq!(
        lines[2], "1",
        "a new pid namespace is created after joining"
    );
}

#[test]
fn user_namespace_with_mappings() {
    if !require_root("user_namespace_with_mappings") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g",
    ]);
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        // sysfs and the cgroup fs cannot be mounted by a user namespace that does not own the
        // network/cgroup namespace's creator; runc's rootless config binds /sys instead.
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup");
    });
    // The rootfs must be reachable by the mapped root.
    let out = b.run_ok(&unique_id("userns"));
    let fields: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(fields[0], ["0", "100000", "65536"]);
    assert_eq!(fields[1], ["0", "200000", "65536"]);
    assert_eq!(fields[2], ["0"]);
    assert_eq!(fields[3], ["0"]);
}

/// runc's userns.bats binds /sys from the host (`rbind`) in a user namespace and keeps the
/// `cgroup` mount. The runtime makes that bind before the init's mount namespace exists, so
/// the copies of the host's cgroup v1 hierarchies under the rootfs come first in the init's
/// mountinfo: the cgroup mount must still bind the container's cgroup from the host's
/// hierarchies, not look for it in those copies.
#[test]
fn user_namespace_cgroup_mount_over_sys_bound_from_the_host() {
    if !require_root("user_namespace_cgroup_mount_over_sys_bound_from_the_host") {
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/mountinfo"]);
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["type"] == "sysfs" {
                *m = serde_json::json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind"]});
            }
        }
    });
    let id = unique_id("usersys");
    let out = b.run_ok(&id);
    // On a cgroup v1 host each hierarchy's last mount is the bind of the container's cgroup.
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1: Vec<&str> = host
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with("/sys/fs/cgroup/"))
        .collect();
    for mp in v1 {
        let last = out
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(mp))
            .unwrap_or_else(|| panic!("no mount at {mp}:\n{out}"));
        let root = last.split(' ').nth(3).unwrap();
        assert!(root.ends_with(&format!("/{id}")), "{mp}: {last}");
    }
}

#[test]
fn time_namespace_offsets() {
    if !require_root("time_namespace_offsets") {
        return;
    }
    if !Path::new("/proc/self/ns/time").exists() {
        eprintln!("SKIP time_namespace_offsets: kernel without time namespaces");
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/timens_offsets", "/proc/uptime"]);
    b.update_config(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "time"}));
        c["linux"]["timeOffsets"] = serde_json::json!({"boottime": {"secs": 86400000, "nanosecs": 0}, "monotonic": {"secs": 7}});
    });
    let out = b.run_ok(&unique_id("timens"));
    assert!(out.contains("monotonic") && out.contains("7"), "{out}");
    let uptime: f64 = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime > 86_400_000.0,
        "boottime offset shows in /proc/uptime: {uptime}"
    );
}

#[test]
fn preserve_fds_passes_extra_descriptors() {
    if !require_root("preserve_fds_passes_extra_descriptors") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "cat <&3; ls /proc/self/fd"]);
    let data = b.scratch.0.join("fd3-data");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let script = format!(
        "exec {} --root {} run --preserve-fds 1 --bundle {} {} 3<{}",
        common::berth_bin().display(),
        b.state_root.display(),
        b.dir.display(),
        unique_id("fds"),
        data.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("through fd 3\n"), "{text}");
    let fds: Vec<&str> = text.lines().skip(1).collect();
    assert!(
        !fds.contains(&"4") || fds.contains(&"4") && fds.len() <= 5,
        "no runtime fds leak: {fds:?}"
    );
}

#[test]
fn no_runtime_fds_leak_into_the_container() {
    if !require_root("no_runtime_fds_leak_into_the_container") {
        return;
    }
    let b = Bundle::busybox(&["ls", "/proc/self/fd"]);
    let out = b.run_ok(&unique_id("fdleak"));
    // ls itself opens one fd for the directory it lists.
    let fds: Vec<u32> = out.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        fds.iter().all(|fd| *fd <= 3),
        "only stdio (and ls's own dir fd): {fds:?}"
    );
}

#[test]
fn spec_writes_a_runc_compatible_default() {
    let s = common::Scratch::new("spec");
    let out = std::process::Command::new(common::berth_bin())
        .args(["spec", "--bundle"])
        .arg(&s.0)
        .output()
        .unwrap();
    assert!(out.status.success());
    let c: Value =
        serde_json::from_slice(&std::fs::read(s.0.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["terminal"], true);
    assert_eq!(c["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(c["root"]["readonly"], true);
    let again = std::process::Command::new(common::berth_bin())
        .args(["spec", "--bundle"])
        .arg(&s.0)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists"));
    let r = common::Scratch::new("specrootless");
    let out = std::process::Command::new(common::berth_bin())
        .args(["spec", "--rootless", "--bundle"])
        .arg(&r.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c: Value =
        serde_json::from_slice(&std::fs::read(r.0.join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
}

#[test]
fn features_lists_namespaces_and_versions() {
    let out = std::process::Command::new(common::berth_bin())
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let ns = f["linux"]["namespaces"].as_array().unwrap();
    assert_eq!(ns.len(), 8);
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));
}

/// `berth state ID | head -1`, `berth features | grep -q x`: a reader that stops early must
/// not make berth panic ("failed printing to stdout") or print an error; it ends as a program
/// killed by SIGPIPE would (status 141), as runc does.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let out = std::process::Command::new(common::berth_bin())
        .arg("features")
        .stdout(std::process::Stdio::from(write_end))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGPIPE),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn version_flag() {
    let out = std::process::Command::new(common::berth_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    // The spec line is features' ociVersionMax, as with runc (both are its specs.Version).
    let features = std::process::Command::new(common::berth_bin())
        .arg("features")
        .output()
        .unwrap();
    let features: serde_json::Value = serde_json::from_slice(&features.stdout).unwrap();
    let max = features["ociVersionMax"].as_str().unwrap();
    assert!(
        stdout(&out).lines().any(|l| l == format!("spec: {max}")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn run_is_a_subreaper_unless_told_not_to() {
    if !require_root("run_is_a_subreaper_unless_told_not_to") {
        return;
    }
    // Without a pid namespace, a process the container orphans goes to the nearest subreaper:
    // `berth run` (the init's parent, $PPID), as with runc, unless --no-subreaper.
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "sh -c 'sleep 424311 & echo $!' >/tmp/orphan; o=$(cat /tmp/orphan); \
         pp=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$o/status); kill $o; \
         [ \"$pp\" = \"$PPID\" ] && echo subreaper || echo not",
    ]);
    b.update_config(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let bundle = b.dir.to_string_lossy().into_owned();
    for (flag, want) in [(None, "subreaper"), (Some("--no-subreaper"), "not")] {
        let id = unique_id("subreaper");
        let mut args = vec!["run", "--bundle", &bundle];
        args.extend(flag);
        args.push(&id);
        let out = b.berth(&args);
        assert!(
            out.status.success(),
            "{flag:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out).trim(), want, "{flag:?}");
    }
}

#[test]
fn cgroup_namespace_is_rooted_at_the_container_cgroup() {
    if !require_root("cgroup_namespace_is_rooted_at_the_container_cgroup") {
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/cgroup"]);
    b.update_config(add_cgroup_namespace);
    let out = b.run_ok(&unique_id("cgns"));
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(
            line.ends_with(":/"),
            "every hierarchy shows the namespace root: {out}"
        );
    }
}

#[test]
fn empty_namespace_path_means_a_new_namespace() {
    if !require_root("empty_namespace_path_means_a_new_namespace") {
        return;
    }
    let b = Bundle::busybox(&["readlink", "/proc/self/ns/ipc"]);
    b.update_config(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "ipc" {
                ns["path"] = "".into();
            }
        }
    });
    let out = b.run_ok(&unique_id("emptypath"));
    let host = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    assert_ne!(out.trim(), host.to_string_lossy());
}

#[test]
fn tmpfs_without_mode_keeps_the_directory_mode() {
    if !require_root("tmpfs_without_mode_keeps_the_directory_mode") {
        return;
    }
    let b = Bundle::busybox(&["stat", "-c", "%a", "/sticky"]);
    let dir = b.dir.join("rootfs/sticky");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o3710)).unwrap();
    b.update_config(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/sticky", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
        ));
    });
    assert_eq!(b.run_ok(&unique_id("tmpfsmode")).trim(), "3710");
}

/// A tmpfs whose destination the runtime creates keeps the tmpfs default mode, 1777, as in
/// runc 1.5 (no mode= taken from the directory just made).
#[test]
fn tmpfs_on_a_created_destination_has_the_default_mode() {
    if !require_root("tmpfs_on_a_created_destination_has_the_default_mode") {
        return;
    }
    let b = Bundle::busybox(&["stat", "-c", "%a", "/non-existent/foo"]);
    b.update_config(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/non-existent/foo", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
        ));
    });
    assert_eq!(b.run_ok(&unique_id("tmpfsdefault")).trim(), "1777");
}

#[test]
fn run_keep_leaves_a_stopped_container_to_delete() {
    if !require_root("run_keep_leaves_a_stopped_container_to_delete") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "exit 4"]);
    let id = unique_id("keep");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "--keep", "--bundle", &bundle, &id]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(state_of(&b, &id)["status"], "stopped");
    assert!(b.berth(&["delete", &id]).status.success());
    assert!(!b.state_root.join(&id).exists());
}

#[test]
fn joins_another_containers_user_namespace() {
    if !require_root("joins_another_containers_user_namespace") {
        return;
    }
    let userns = |c: &mut Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup");
    };
    let a = Bundle::busybox(&["sleep", "1000"]);
    a.update_config(userns);
    let id_a = unique_id("userowner");
    let bundle = a.dir.to_string_lossy().to_string();
    let out = a.berth(&["run", "-d", "--bundle", &bundle, &id_a]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_a = state_of(&a, &id_a)["pid"].as_i64().unwrap();

    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user",
    ]);
    b.update_config(|c| {
        userns(c);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "user" {
                n["path"] = format!("/proc/{pid_a}/ns/user").into();
            }
        }
    });
    let out = b.run_ok(&unique_id("userjoiner"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "{out}"
    );
    assert_eq!(lines[1], "0", "root of the joined namespace: {out}");
    let user_a = std::fs::read_link(format!("/proc/{pid_a}/ns/user")).unwrap();
    assert_eq!(lines[2], user_a.to_string_lossy());
}

/// runc 1.5.1's `run [joining existing container namespaces]` and `userns join external
/// namespaces [wrong userns owner]`: a container that joins another's user namespace and also
/// namespaces that user namespace does not own (the host's network namespace, the other
/// container's time namespace, which is its runtime's) joins those first, while it still has
/// the host's capabilities over them; `exec` into it joins them the same way.
#[test]
fn joins_namespaces_the_joined_user_namespace_does_not_own() {
    if !require_root("joins_namespaces_the_joined_user_namespace_does_not_own") {
        return;
    }
    if !Path::new("/proc/self/ns/time").exists() {
        eprintln!(
            "SKIP joins_namespaces_the_joined_user_namespace_does_not_own: no time namespaces"
        );
        return;
    }
    let userns = |c: &mut Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup");
    };
    let a = Bundle::busybox(&["sleep", "1000"]);
    a.update_config(|c| {
        userns(c);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}));
        c["linux"]["timeOffsets"] =
            serde_json::json!({"monotonic": {"secs": 7881, "nanosecs": 2718281}});
    });
    let id_a = unique_id("owner");
    let bundle = a.dir.to_string_lossy().to_string();
    let out = a.berth(&["run", "-d", "--bundle", &bundle, &id_a]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_a = state_of(&a, &id_a)["pid"].as_i64().unwrap();
    let link = |p: String| {
        std::fs::read_link(p)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let user_a = link(format!("/proc/{pid_a}/ns/user"));
    let time_a = link(format!("/proc/{pid_a}/ns/time"));
    let our_net = format!("/proc/{}/ns/net", std::process::id());
    let net_host = link(our_net.clone());

    let b = Bundle::busybox(&["sleep", "1000"]);
    b.update_config(|c| {
        userns(c);
        c["linux"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "uidMappings" && k != "gidMappings");
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for (typ, file) in [("user", "user"), ("time", "time")] {
            ns.retain(|n| n["type"] != typ);
            ns.push(serde_json::json!({"type": typ, "path": format!("/proc/{pid_a}/ns/{file}")}));
        }
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": our_net}));
    });
    let id_b = unique_id("joiner");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id_b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_b = state_of(&b, &id_b)["pid"].as_i64().unwrap();
    for (file, want) in [("user", &user_a), ("time", &time_a), ("net", &net_host)] {
        assert_eq!(&link(format!("/proc/{pid_b}/ns/{file}")), want, "{file}");
    }
    let out = b.berth(&[
        "exec",
        &id_b,
        "sh",
        "-c",
        "readlink /proc/self/ns/time; readlink /proc/self/ns/net; grep monotonic /proc/self/timens_offsets",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], time_a, "{text}");
    assert_eq!(lines[1], net_host, "{text}");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["monotonic", "7881", "2718281"],
        "{text}"
    );
}

/// Masked directories share one read-only tmpfs (one st_dev), and a path listed twice is
/// masked once, as in runc 1.5.
#[test]
fn masked_directories_share_one_tmpfs_and_duplicates_mask_once() {
    if !require_root("masked_directories_share_one_tmpfs_and_duplicates_mask_once") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c %d /m1 /m2 /m3; grep -c ' /m1 ' /proc/self/mounts; touch /m2/x 2>&1 || true",
    ]);
    for d in ["m1", "m2", "m3"] {
        std::fs::create_dir(b.dir.join("rootfs").join(d)).unwrap();
    }
    b.update_config(|c| {
        c["linux"]["maskedPaths"] = serde_json::json!(["/m1", "/m2", "/m3", "/m1"]);
    });
    let out = b.run_ok(&unique_id("maskshare"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0] == lines[1] && lines[1] == lines[2], "{out}");
    assert_eq!(lines[3], "1", "{out}");
    assert!(lines[4].contains("Read-only file system"), "{out}");
}
