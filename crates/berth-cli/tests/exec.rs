//! `exec`: a second process joins every namespace and the cgroup of a running container, with
//! the container's security settings unless told otherwise.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{require_root, unique_id, Bundle};
use serde_json::Value;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A detached container running `sleep`, with a marker file in its rootfs.
fn running(tag: &str) -> (Bundle, String, i64) {
    let b = Bundle::busybox(&["sleep", "1000"]);
    b.update_config(|c| {
        c["hostname"] = "exec-host".into();
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        if !ns.iter().any(|n| n["type"] == "cgroup") {
            ns.push(serde_json::json!({"type": "cgroup"}));
        }
    });
    std::fs::write(b.dir.join("rootfs/marker"), "inside the rootfs\n").unwrap();
    let id = unique_id(tag);
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st: Value = serde_json::from_slice(&b.berth(&["state", &id]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    (b, id, pid)
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    if !require_root("exec_joins_every_namespace_and_the_cgroup") {
        return;
    }
    let (b, id, pid) = running("execns");
    let out = b.berth(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /marker; hostname; echo shell=$$; \
         for n in pid net ipc uts mnt cgroup; do echo $n=$(readlink /proc/self/ns/$n); done; \
         cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("inside the rootfs\nexec-host\n"), "{text}");
    assert!(!text.contains("shell=1\n"), "not the init: {text}");
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let init = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{ns}=")))
            .unwrap();
        assert_eq!(
            &line[ns.len() + 1..],
            init.to_string_lossy(),
            "{ns}: {text}"
        );
    }
    let (own, init) = text.split_once("---\n").unwrap();
    let own: Vec<&str> = own.lines().filter(|l| l.contains(":/")).collect();
    assert_eq!(
        own,
        init.lines().collect::<Vec<_>>(),
        "same cgroups as the init"
    );
}

#[test]
fn exec_exit_codes_and_failures() {
    if !require_root("exec_exit_codes_and_failures") {
        return;
    }
    let (b, id, _) = running("execrc");
    assert_eq!(
        b.berth(&["exec", &id, "sh", "-c", "exit 7"]).status.code(),
        Some(7)
    );
    let missing = b.berth(&["exec", &id, "no-such-binary"]);
    assert_eq!(missing.status.code(), Some(255));
    assert!(
        stderr(&missing).contains("executable file not found in $PATH"),
        "{}",
        stderr(&missing)
    );
    // A path is checked before the exec, in runc's words.
    let gone = b.berth(&["exec", &id, "/no/such/binary"]);
    assert_eq!(gone.status.code(), Some(255));
    assert!(
        stderr(&gone)
            .contains("exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory"),
        "{}",
        stderr(&gone)
    );
    let dir = b.berth(&["exec", &id, "/etc"]);
    assert_eq!(dir.status.code(), Some(255));
    assert!(
        stderr(&dir).contains("exec: \"/etc\": permission denied"),
        "{}",
        stderr(&dir)
    );
    let ghost = b.berth(&["exec", "no-such-container", "true"]);
    assert_eq!(ghost.status.code(), Some(255));
    assert!(stderr(&ghost).contains("does not exist"));
    assert!(b.berth(&["kill", &id, "KILL"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stopped = b.berth(&["exec", &id, "true"]);
    assert_eq!(stopped.status.code(), Some(255));
    assert!(
        stderr(&stopped).contains("cannot exec in a stopped container"),
        "{}",
        stderr(&stopped)
    );
}

#[test]
fn exec_overrides_user_cwd_env_and_keeps_container_security() {
    if !require_root("exec_overrides_user_cwd_env_and_keeps_container_security") {
        return;
    }
    let (b, id, _) = running("execuser");
    let out = b.berth(&[
        "exec", "-u", "1000:1000", "--cwd", "/tmp", "-e", "EXTRA=yes", &id, "sh", "-c",
        "id -u; id -g; pwd; echo $EXTRA; echo $PATH; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..4], ["1000", "1000", "/tmp", "yes"], "{text}");
    assert!(
        lines[4].contains("/bin"),
        "the container's env is kept: {text}"
    );
    // runc's default bounding set: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
    assert!(text.contains("CapBnd:\t0000000020000420"), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
}

#[test]
fn exec_detached_with_pid_file_and_process_json() {
    if !require_root("exec_detached_with_pid_file_and_process_json") {
        return;
    }
    let (b, id, pid) = running("execdetach");
    let pid_file = b.scratch.0.join("exec.pid");
    let process = b.scratch.0.join("process.json");
    let mut p = b.config()["process"].clone();
    p["args"] = serde_json::json!([
        "sh",
        "-c",
        "echo from-process-json > /tmp/pj; exec sleep 1000"
    ]);
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    let out = b.berth(&[
        "exec",
        "-d",
        "--pid-file",
        &pid_file.to_string_lossy(),
        "--process",
        &process.to_string_lossy(),
        &id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let epid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_ne!(epid, pid);
    let ns = |p: i64| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_eq!(
        ns(epid),
        ns(pid),
        "the detached process is in the container"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.dir.join("rootfs/tmp/pj").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "process.json's args did not run"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // delete --force takes the exec'd process down with the container.
    assert!(b.berth(&["delete", "--force", &id]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let stat = std::fs::read_to_string(format!("/proc/{epid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "exec'd process survived: {stat}"
    );
}

#[test]
fn exec_with_a_terminal() {
    if !require_root("exec_with_a_terminal") {
        return;
    }
    let (b, id, _) = running("exectty");
    let out = b.berth(&["exec", "-t", &id, "sh", "-c", "tty; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("/dev/pts/"), "{}", stdout(&out));
}

#[test]
fn cwd_is_entered_with_the_runtimes_privileges_first() {
    if !require_root("cwd_is_entered_with_the_runtimes_privileges_first") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // cwd.bats: /root belongs to uid 42 (mode 0700), the container runs as 42 there; root
    // without CAP_DAC_OVERRIDE (`berth spec`'s capabilities) could not enter it afterwards.
    let b = Bundle::busybox(&["sleep", "1000"]);
    let root = b.dir.join("rootfs/root");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(42), None).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.update_config(|c| {
        c["process"]["cwd"] = "/root".into();
        c["process"]["user"]["uid"] = 42.into();
    });
    let id = unique_id("execcwd");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.berth(&["exec", "--user", "0", &id, "sh", "-c", "pwd; id -u"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/root\n0\n");
}
