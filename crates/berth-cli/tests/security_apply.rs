//! apply_process_security in a real process (no container): the test binary re-runs itself as
//! a child that applies a spec and then execs busybox, which reports what it ended up with.
//! This checks the order of the steps and the exec transition of the capability sets without
//! needing the runtime core. Needs root.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};
use std::process::Command;

const CHILD_ENV: &str = "BERTH_SECURITY_APPLY_CHILD";
const SCRIPT_ENV: &str = "BERTH_SECURITY_APPLY_SCRIPT";
const UNSHARE_ENV: &str = "BERTH_SECURITY_APPLY_UNSHARE";
const EARLY_SYSCTL_ENV: &str = "BERTH_SECURITY_APPLY_EARLY_SYSCTL";

/// The child side: only does something when started by `apply_in_child`.
#[test]
fn zz_child_entry() {
    let Ok(spec_json) = std::env::var(CHILD_ENV) else {
        return;
    };
    if std::env::var(UNSHARE_ENV).is_ok() {
        // A private ipc and network namespace, so the sysctls land there and not on the host.
        nix::sched::unshare(
            nix::sched::CloneFlags::CLONE_NEWIPC | nix::sched::CloneFlags::CLONE_NEWNET,
        )
        .expect("unshare");
    }
    let mut raw: Value = serde_json::from_str(&spec_json).expect("child spec json");
    berth_spec::check_raw_config(&mut raw).expect("raw config");
    let spec: oci_spec::runtime::Spec = serde_json::from_value(raw).expect("child spec");
    berth_runtime::security::validate(&spec).expect("validate");
    if std::env::var(EARLY_SYSCTL_ENV).is_ok() {
        // What the runtime should do: sysctls right after /proc is mounted, then readonlyPaths
        // (here /proc/sys made read-only in a private mount namespace), then the rest.
        use nix::mount::{mount, MsFlags};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare mount ns");
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("private /");
        berth_runtime::security::apply_sysctls(&spec).expect("apply_sysctls");
        mount(
            Some("/proc/sys"),
            "/proc/sys",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .expect("bind /proc/sys");
        mount(
            None::<&str>,
            "/proc/sys",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .expect("remount /proc/sys read-only");
    }
    // The profiles here have no SCMP_ACT_NOTIFY rule: no notify fd to pass on.
    let mut no_listener = |_fd: std::os::fd::OwnedFd| -> std::io::Result<()> {
        Err(std::io::Error::other("unexpected seccomp notify fd"))
    };
    if let Err(e) = berth_runtime::security::apply_process_security(&spec, &mut no_listener) {
        println!("APPLY-ERROR {e}");
        std::process::exit(3);
    }
    let script = std::env::var(SCRIPT_ENV).expect("script");
    if let Err(e) = berth_runtime::security::apply_seccomp(&spec, &mut no_listener) {
        println!("SECCOMP-ERROR {e}");
        std::process::exit(5);
    }
    let err = exec::busybox_sh(&script);
    println!("EXEC-ERROR {err}");
    std::process::exit(4);
}

mod exec {
    use std::ffi::CString;

    pub fn busybox_sh(script: &str) -> nix::errno::Errno {
        let bb =
            CString::new(super::common::busybox_path().to_string_lossy().as_bytes()).expect("path");
        let args = [
            c"sh".to_owned(),
            c"-c".to_owned(),
            CString::new(script).expect("script"),
        ];
        match nix::unistd::execv(&bb, &args) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

fn spec(process: Value, linux: Value) -> Value {
    let mut p = json!({"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}});
    if let (Some(p), Some(extra)) = (p.as_object_mut(), process.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({"ociVersion":"1.2.0","process":p,"linux":linux})
}

/// Runs the child with `spec`, returning its stdout (asserting it exited 0).
fn apply_in_child(spec: &Value, script: &str, unshare: bool) -> String {
    apply_in_child_with(spec, script, unshare, false)
}

fn apply_in_child_with(spec: &Value, script: &str, unshare: bool, early_sysctl: bool) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([
        "zz_child_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(CHILD_ENV, spec.to_string())
    .env(SCRIPT_ENV, script);
    if unshare {
        cmd.env(UNSHARE_ENV, "1");
    }
    if early_sysctl {
        cmd.env(EARLY_SYSCTL_ENV, "1");
    }
    let out = cmd.output().expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed ({:?}): {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{name} missing in {status}"))
}

fn hex(mask: u64) -> String {
    format!("{mask:016x}")
}

const CHOWN: u64 = 1 << 0;
const KILL: u64 = 1 << 5;
const NET_BIND: u64 = 1 << 10;

#[test]
fn root_keeps_exactly_the_configured_capabilities() {
    if !common::require_root("root_keeps_exactly_the_configured_capabilities") {
        return;
    }
    let s = spec(
        json!({"noNewPrivileges":true,"capabilities":{
            "bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "effective":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "permitted":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}}),
        json!({}),
    );
    let out = apply_in_child(&s, "cat /proc/self/status", false);
    // For uid 0 exec gives permitted = inheritable | bounding, so this config is a fixed point.
    assert_eq!(status_field(&out, "CapBnd"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapPrm"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapEff"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapInh"), hex(KILL));
    assert_eq!(status_field(&out, "CapAmb"), hex(KILL));
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
}

#[test]
fn no_capabilities_section_drops_everything() {
    if !common::require_root("no_capabilities_section_drops_everything") {
        return;
    }
    let out = apply_in_child(&spec(json!({}), json!({})), "cat /proc/self/status", false);
    for set in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&out, set), hex(0), "{set}");
    }
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
}

#[test]
fn user_groups_umask_and_ambient_for_non_root() {
    if !common::require_root("user_groups_umask_and_ambient_for_non_root") {
        return;
    }
    let s = spec(
        json!({"user":{"uid":1000,"gid":1001,"additionalGids":[5,6],"umask":23},
               "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],
                               "inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}}),
        json!({}),
    );
    let out = apply_in_child(
        &s,
        "cat /proc/self/status; echo umask=$(umask); echo reopened >> /proc/self/fd/1",
        false,
    );
    assert_eq!(
        status_field(&out, "Uid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1000"; 4]
    );
    assert_eq!(
        status_field(&out, "Gid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1001"; 4]
    );
    assert_eq!(status_field(&out, "Groups"), "5 6");
    // A non-root exec keeps only the ambient set.
    assert_eq!(status_field(&out, "CapBnd"), hex(CHOWN | KILL));
    assert_eq!(status_field(&out, "CapPrm"), hex(KILL));
    assert_eq!(status_field(&out, "CapEff"), hex(KILL));
    assert_eq!(status_field(&out, "CapAmb"), hex(KILL));
    assert!(out.contains("umask=0027"), "{out}");
    // stdout (a pipe owned by root) was handed to the user, so it can be reopened.
    assert!(out.contains("reopened"), "{out}");
}

#[test]
fn default_umask_and_no_supplementary_groups() {
    if !common::require_root("default_umask_and_no_supplementary_groups") {
        return;
    }
    let out = apply_in_child(
        &spec(json!({}), json!({})),
        "cat /proc/self/status; echo umask=$(umask)",
        false,
    );
    assert_eq!(status_field(&out, "Groups"), "");
    assert!(out.contains("umask=0022"), "{out}");
}

#[test]
fn rlimits_scheduler_ioprio_personality() {
    if !common::require_root("rlimits_scheduler_ioprio_personality") {
        return;
    }
    let s = spec(
        json!({"rlimits":[{"type":"RLIMIT_NOFILE","soft":1000,"hard":2000},{"type":"RLIMIT_CORE","soft":0,"hard":0}],
               "scheduler":{"policy":"SCHED_BATCH","nice":7},
               "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":0}}),
        json!({"personality":{"domain":"LINUX32"}}),
    );
    let script =
        "echo nofile=$(ulimit -n) hard=$(ulimit -Hn); cat /proc/self/stat; echo; ionice -p $$; \
                  echo machine=$(uname -m); echo persona=$(cat /proc/self/personality)";
    let out = apply_in_child(&s, script, false);
    assert!(out.contains("nofile=1000 hard=2000"), "{out}");
    // /proc/PID/stat: field 19 is nice, field 41 the policy (3 = SCHED_BATCH). The command
    // name (field 2) has no spaces here, so splitting on whitespace is safe.
    let stat: Vec<&str> = out
        .lines()
        .find(|l| l.contains(" ("))
        .expect("stat line")
        .split_whitespace()
        .collect();
    assert_eq!(stat[18], "7", "nice in {out}");
    assert_eq!(stat[40], "3", "policy in {out}");
    assert!(out.contains("idle"), "ionice in {out}");
    assert!(out.contains("machine=i686"), "{out}");
    assert!(out.contains("persona=00000008"), "{out}");
}

#[test]
fn sysctls_are_written_in_the_callers_namespaces() {
    if !common::require_root("sysctls_are_written_in_the_callers_namespaces") {
        return;
    }
    let s = spec(
        json!({}),
        json!({"namespaces":[{"type":"ipc"},{"type":"network"}],
               "sysctl":{"kernel.shmmax":"123456789","net.ipv4.ip_forward":"1","net/ipv4/conf/lo/forwarding":"1"}}),
    );
    let before = std::fs::read_to_string("/proc/sys/kernel/shmmax").expect("host shmmax");
    let out = apply_in_child(
        &s,
        "echo shmmax=$(cat /proc/sys/kernel/shmmax) fwd=$(cat /proc/sys/net/ipv4/ip_forward) lo=$(cat /proc/sys/net/ipv4/conf/lo/forwarding)",
        true,
    );
    assert!(out.contains("shmmax=123456789 fwd=1 lo=1"), "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax").expect("host shmmax"),
        before
    );
}

#[test]
fn oom_score_adj_and_rlimits_from_the_parent() {
    if !common::require_root("oom_score_adj_and_rlimits_from_the_parent") {
        return;
    }
    let mut child = Command::new(common::busybox_path())
        .arg("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn cat");
    let pid = child.id() as i32;
    let s: oci_spec::runtime::Spec = serde_json::from_value(spec(
        json!({"oomScoreAdj":500,"rlimits":[{"type":"RLIMIT_NOFILE","soft":333,"hard":444}]}),
        json!({}),
    ))
    .expect("spec");
    // Raising the score needs no privilege; lowering it needs CAP_SYS_RESOURCE, which some
    // sandboxed build machines do not grant even to root.
    berth_runtime::security::set_oom_score_adj(pid, 500).expect("oom");
    berth_runtime::security::set_rlimits(pid, &s).expect("rlimits");
    let adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).expect("read adj");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(adj.trim(), "500");
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("nofile line");
    assert_eq!(
        nofile.split_whitespace().collect::<Vec<_>>()[3..5],
        ["333", "444"],
        "{nofile}"
    );
}

fn seccomp_profile() -> Value {
    json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":95},
            {"names":["chmod","fchmod"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
             "args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]},
            {"names":["fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
             "args":[{"index":2,"value":511,"op":"SCMP_CMP_EQ"}]}]})
}

const SECCOMP_SCRIPT: &str = "cat /proc/self/status | grep -E \"Seccomp|NoNewPrivs\"; cd /tmp; \
    mkdir berth-seccomp-$$ 2>&1; echo mkdir=$?; f=/tmp/berth-seccomp-file-$$; : > $f; \
    chmod 755 $f; echo chmod755=$?; chmod 777 $f 2>&1; echo chmod777=$?; rm -f $f";

fn check_seccomp_output(out: &str) {
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("Operation not supported"), "{out}");
    assert!(out.contains("mkdir=1"), "{out}");
    assert!(out.contains("chmod755=0"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    assert!(out.contains("chmod777=1"), "{out}");
}

#[test]
fn seccomp_with_no_new_privileges() {
    if !common::require_root("seccomp_with_no_new_privileges") {
        return;
    }
    let s = spec(
        json!({"noNewPrivileges":true}),
        json!({"seccomp":seccomp_profile()}),
    );
    let out = apply_in_child(&s, SECCOMP_SCRIPT, false);
    check_seccomp_output(&out);
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn seccomp_without_no_new_privileges_is_installed_before_caps_drop() {
    if !common::require_root("seccomp_without_no_new_privileges_is_installed_before_caps_drop") {
        return;
    }
    let s = spec(
        json!({"noNewPrivileges":false}),
        json!({"seccomp":seccomp_profile()}),
    );
    let out = apply_in_child(&s, SECCOMP_SCRIPT, false);
    check_seccomp_output(&out);
    // The filter went in while CAP_SYS_ADMIN was still held, without no_new_privs.
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
}

#[test]
fn sysctls_written_early_are_not_rewritten_after_proc_sys_turns_read_only() {
    if !common::require_root(
        "sysctls_written_early_are_not_rewritten_after_proc_sys_turns_read_only",
    ) {
        return;
    }
    let s = spec(
        json!({}),
        json!({"namespaces":[{"type":"ipc"}],"sysctl":{"kernel.shmmax":"55555555"}}),
    );
    let out = apply_in_child_with(
        &s,
        "echo shmmax=$(cat /proc/sys/kernel/shmmax); { echo x > /proc/sys/kernel/shmmax; } 2>&1; true",
        true,
        true,
    );
    assert!(out.contains("shmmax=55555555"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}
