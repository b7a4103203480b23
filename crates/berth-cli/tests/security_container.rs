//! Process security attributes observed from inside real containers (`berth run` of a busybox
//! bundle). Needs root.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bundle;
use serde_json::json;

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
const AUDIT_WRITE: u64 = 1 << 29;

fn sh(script: &str) -> Bundle {
    Bundle::busybox(&["sh", "-c", script])
}

/// Runs a container expected to be refused: exit status 1, `expect` in stderr, and no
/// container left behind.
fn assert_refused(b: &Bundle, id: &str, expect: &str) {
    let out = b.run(id);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr={stderr}");
    assert!(
        stderr.contains(expect),
        "expected {expect:?} in stderr={stderr}"
    );
    // A refusal before anything was made leaves no state root at all (and `list` with a
    // --root that does not exist fails, as runc's does).
    if !b.state_root.exists() {
        return;
    }
    let list = b.berth(&["list", "-q"]);
    assert!(list.status.success());
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).trim(),
        "",
        "container left behind after: {stderr}"
    );
}

#[test]
fn default_config_capabilities_and_no_new_privs() {
    if !common::require_root("default_config_capabilities_and_no_new_privs") {
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let out = b.run_ok(&common::unique_id("sec-default"));
    let default = AUDIT_WRITE | KILL | NET_BIND;
    assert_eq!(status_field(&out, "CapBnd"), hex(default));
    assert_eq!(status_field(&out, "CapPrm"), hex(default));
    assert_eq!(status_field(&out, "CapEff"), hex(default));
    // The default config (as runc 1.5's) has no inheritable and no ambient capabilities.
    assert_eq!(status_field(&out, "CapInh"), hex(0));
    assert_eq!(status_field(&out, "CapAmb"), hex(0));
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out, "Groups"), "");
}

#[test]
fn configured_capability_sets_for_root() {
    if !common::require_root("configured_capability_sets_for_root") {
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.update_config(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["capabilities"] = json!({
            "bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "effective":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "permitted":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
            "inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]});
    });
    let out = b.run_ok(&common::unique_id("sec-caps"));
    assert_eq!(status_field(&out, "CapBnd"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapPrm"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapEff"), hex(CHOWN | KILL | NET_BIND));
    assert_eq!(status_field(&out, "CapInh"), hex(KILL));
    assert_eq!(status_field(&out, "CapAmb"), hex(KILL));
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
}

#[test]
fn no_capabilities_drops_all_five_sets() {
    if !common::require_root("no_capabilities_drops_all_five_sets") {
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.update_config(|c| {
        if let Some(p) = c["process"].as_object_mut() {
            p.remove("capabilities");
        }
    });
    let out = b.run_ok(&common::unique_id("sec-nocaps"));
    for set in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&out, set), hex(0), "{set}");
    }
}

#[test]
fn non_root_user_groups_umask_and_ambient() {
    if !common::require_root("non_root_user_groups_umask_and_ambient") {
        return;
    }
    let b = sh("cat /proc/self/status; id; echo umask=$(umask); echo reopened >> /proc/self/fd/1");
    b.update_config(|c| {
        c["process"]["user"] = json!({"uid":1000,"gid":1001,"additionalGids":[5,6],"umask":63});
        c["process"]["capabilities"] = json!({
            "bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],
            "inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]});
    });
    let out = b.run_ok(&common::unique_id("sec-user"));
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
    assert!(out.contains("uid=1000 gid=1001 groups=5(tty),6"), "{out}");
    assert!(out.contains("umask=0077"), "{out}");
    // stdout (a pipe owned by host root) was handed to the user, so it can be reopened.
    assert!(out.contains("reopened"), "{out}");
    // A non-root exec keeps only the ambient capabilities.
    assert_eq!(status_field(&out, "CapBnd"), hex(CHOWN | KILL));
    assert_eq!(status_field(&out, "CapPrm"), hex(KILL));
    assert_eq!(status_field(&out, "CapEff"), hex(KILL));
    assert_eq!(status_field(&out, "CapAmb"), hex(KILL));
}

#[test]
fn rlimits_and_oom_score_adj() {
    if !common::require_root("rlimits_and_oom_score_adj") {
        return;
    }
    let b = sh("echo nofile=$(ulimit -n) hard=$(ulimit -Hn) oom=$(cat /proc/self/oom_score_adj); cat /proc/self/limits");
    b.update_config(|c| {
        c["process"]["rlimits"] = json!([{"type":"RLIMIT_NOFILE","soft":512,"hard":768},
                                         {"type":"RLIMIT_CORE","soft":0,"hard":0}]);
        // Positive: lowering the score needs CAP_SYS_RESOURCE, which some sandboxes withhold.
        c["process"]["oomScoreAdj"] = json!(300);
    });
    let out = b.run_ok(&common::unique_id("sec-rlimit"));
    assert!(out.contains("nofile=512 hard=768 oom=300"), "{out}");
    let core = out
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core line");
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "{core}"
    );
}

#[test]
fn sysctls_in_the_containers_namespaces() {
    if !common::require_root("sysctls_in_the_containers_namespaces") {
        return;
    }
    let b =
        sh("echo shmmax=$(cat /proc/sys/kernel/shmmax) fwd=$(cat /proc/sys/net/ipv4/ip_forward)");
    b.update_config(|c| {
        c["linux"]["sysctl"] = json!({"kernel.shmmax":"98765432","net.ipv4.ip_forward":"1"});
    });
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmax").expect("host shmmax");
    let out = b.run_ok(&common::unique_id("sec-sysctl"));
    assert!(out.contains("shmmax=98765432 fwd=1"), "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax").expect("host shmmax"),
        host
    );
}

#[test]
fn scheduler_with_runtime_spec_flag_names() {
    if !common::require_root("scheduler_with_runtime_spec_flag_names") {
        return;
    }
    let b = sh("cat /proc/self/stat");
    b.update_config(|c| {
        c["process"]["scheduler"] =
            json!({"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_FLAG_RESET_ON_FORK"]});
    });
    let out = b.run_ok(&common::unique_id("sec-sched"));
    // /proc/PID/stat: field 19 is nice, field 41 the policy (3 = SCHED_BATCH); the command name
    // "cat" has no spaces, so whitespace splitting is safe.
    let stat: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(stat[18], "5", "nice in {out}");
    assert_eq!(stat[40], "3", "policy in {out}");
}

#[test]
fn io_priority() {
    if !common::require_root("io_priority") {
        return;
    }
    let b = sh("ionice -p $$");
    b.update_config(|c| {
        c["process"]["ioPriority"] = json!({"class":"IOPRIO_CLASS_BE","priority":6})
    });
    let out = b.run_ok(&common::unique_id("sec-ioprio"));
    assert!(out.contains("best-effort: prio 6"), "{out}");
}

#[test]
fn personality_linux32() {
    if !common::require_root("personality_linux32") {
        return;
    }
    let b = sh("echo machine=$(uname -m) persona=$(cat /proc/self/personality)");
    b.update_config(|c| c["linux"]["personality"] = json!({"domain":"LINUX32"}));
    let out = b.run_ok(&common::unique_id("sec-persona"));
    assert!(out.contains("machine=i686 persona=00000008"), "{out}");
}

#[test]
fn unknown_capability_is_ignored_with_a_warning() {
    if !common::require_root("unknown_capability_is_ignored_with_a_warning") {
        return;
    }
    // runc warns and goes on: the container gets the capabilities it knows.
    let b = Bundle::busybox(&["sh", "-c", "grep CapBnd /proc/self/status"]);
    b.update_config(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_FOO"]));
    let o = b.run(&common::unique_id("sec-badcap"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Once: without --log the log line goes to stderr, and nothing repeats it there.
    assert_eq!(
        err.matches("ignoring unknown or unavailable capabilities: [CAP_FOO]")
            .count(),
        1,
        "{err}"
    );
    // CAP_KILL is capability 5: the bounding set is exactly it.
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("CapBnd:\t0000000000000020"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn sysctl_without_its_namespace_is_refused() {
    if !common::require_root("sysctl_without_its_namespace_is_refused") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| {
        if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward":"1"});
    });
    assert_refused(
        &b,
        &common::unique_id("sec-badsysctl"),
        "linux.sysctl: \"net.ipv4.ip_forward\" needs a new network namespace",
    );
    b.update_config(|c| c["linux"]["sysctl"] = json!({"kernel.pid_max":"100000"}));
    assert_refused(
        &b,
        &common::unique_id("sec-badsysctl2"),
        "\"kernel.pid_max\" is not namespaced",
    );
}

#[test]
fn bad_rlimits_are_refused() {
    if !common::require_root("bad_rlimits_are_refused") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| {
        c["process"]["rlimits"] = json!([{"type":"RLIMIT_NOFILE","soft":2048,"hard":1024}])
    });
    assert_refused(
        &b,
        &common::unique_id("sec-badrl"),
        "process.rlimits: RLIMIT_NOFILE: soft limit 2048 is above hard limit 1024",
    );
    b.update_config(|c| c["process"]["rlimits"] = json!([{"type":"RLIMIT_FOO","soft":1,"hard":1}]));
    assert_refused(
        &b,
        &common::unique_id("sec-badrl2"),
        "process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\"",
    );
}

#[test]
fn failure_inside_the_init_is_reported_and_cleaned_up() {
    if !common::require_root("failure_inside_the_init_is_reported_and_cleaned_up") {
        return;
    }
    // Valid by name and namespace, so only the write inside the container can find it missing.
    let b = Bundle::busybox(&["true"]);
    b.update_config(|c| c["linux"]["sysctl"] = json!({"net.ipv4.no_such_sysctl":"1"}));
    assert_refused(
        &b,
        &common::unique_id("sec-initfail"),
        "linux.sysctl[\"net.ipv4.no_such_sysctl\"]: open /proc/sys/net/ipv4/no_such_sysctl failed",
    );
}

fn seccomp_profile() -> serde_json::Value {
    json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":95},
            {"names":["chmod","fchmod"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
             "args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]},
            {"names":["fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
             "args":[{"index":2,"value":511,"op":"SCMP_CMP_EQ"}]}]})
}

const SECCOMP_SCRIPT: &str =
    "grep -E 'Seccomp|NoNewPrivs' /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?; \
    : > /tmp/f; chmod 755 /tmp/f; echo chmod755=$?; chmod 777 /tmp/f 2>&1; echo chmod777=$?";

fn run_seccomp_container(no_new_privs: bool) -> String {
    let b = sh(SECCOMP_SCRIPT);
    b.update_config(|c| {
        c["process"]["noNewPrivileges"] = json!(no_new_privs);
        c["linux"]["seccomp"] = seccomp_profile();
    });
    let out = b.run_ok(&common::unique_id("sec-seccomp"));
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("Operation not supported") && out.contains("mkdir=1"),
        "{out}"
    );
    assert!(out.contains("chmod755=0"), "{out}");
    assert!(
        out.contains("Permission denied") && out.contains("chmod777=1"),
        "{out}"
    );
    out
}

#[test]
fn seccomp_filter_without_no_new_privileges() {
    if !common::require_root("seccomp_filter_without_no_new_privileges") {
        return;
    }
    let out = run_seccomp_container(false);
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
}

#[test]
fn seccomp_filter_with_no_new_privileges() {
    if !common::require_root("seccomp_filter_with_no_new_privileges") {
        return;
    }
    let out = run_seccomp_container(true);
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

/// A profile shaped like the one Docker sends: default EPERM, three x86 architectures, almost
/// everything allowed by name, a few calls only with argument conditions, namespace calls left
/// to the default.
fn docker_like_profile() -> serde_json::Value {
    let denied = [
        "unshare",
        "setns",
        "mount",
        "umount2",
        "clone",
        "clone3",
        "personality",
        "socket",
        "ptrace",
        "reboot",
    ];
    let out = std::process::Command::new("sh")
        .args(["-c", "sed -n 's/^#define __NR_\\([a-z0-9_]*\\) .*/\\1/p' /usr/include/x86_64-linux-gnu/asm/unistd_64.h"])
        .output()
        .expect("list syscalls");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|n| !denied.contains(&n.as_str()))
        .collect();
    // Names of other architectures, which must be skipped, not refused.
    names.extend(["_llseek", "arm_fadvise64_64", "socketcall", "chown32"].map(String::from));
    json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[
            {"names":names,"action":"SCMP_ACT_ALLOW"},
            {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295u32,"op":"SCMP_CMP_EQ"}]},
            {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288u32,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]})
}

#[test]
fn docker_like_seccomp_profile_runs_busybox() {
    if !common::require_root("docker_like_seccomp_profile_runs_busybox") {
        return;
    }
    if !std::path::Path::new("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").exists() {
        eprintln!(
            "SKIP docker_like_seccomp_profile_runs_busybox: linux-libc-dev headers not installed"
        );
        return;
    }
    let b = sh("echo alive; ls / >/dev/null && echo ls=$?; (echo sub) ; unshare -n true 2>&1; echo unshare=$?");
    b.update_config(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["capabilities"] = json!({"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],
            "permitted":["CAP_SYS_ADMIN"]});
        c["linux"]["seccomp"] = docker_like_profile();
    });
    let out = b.run_ok(&common::unique_id("sec-docker"));
    assert!(
        out.contains("alive") && out.contains("ls=0") && out.contains("sub"),
        "{out}"
    );
    // Even with CAP_SYS_ADMIN, the filter answers unshare with the default EPERM.
    assert!(
        out.contains("Operation not permitted") && out.contains("unshare=1"),
        "{out}"
    );
}

/// A profile older than faccessat2 answers it with EPERM (Docker's before 20.10, runtime-tools'
/// default): the program check at create must fall back to faccessat, as runc's does, instead of
/// refusing every program; and one that refuses getcwd (runtime-tools' linux_seccomp) must not
/// stop the cwd check. Without noNewPrivileges the filter is in before both.
#[test]
fn a_profile_refusing_faccessat2_and_getcwd_still_runs_the_program() {
    if !common::require_root("a_profile_refusing_faccessat2_and_getcwd_still_runs_the_program") {
        return;
    }
    for no_new_privs in [false, true] {
        let b = Bundle::busybox(&["/bin/sh", "-c", "echo ran"]);
        b.update_config(|c| {
            c["process"]["noNewPrivileges"] = json!(no_new_privs);
            c["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW",
                "architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["faccessat2", "getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]});
        });
        assert_eq!(b.run_ok(&common::unique_id("sec-facc2")), "ran\n");
    }
}

/// As with runc, the startContainer hooks run under the container's seccomp filter (it is
/// loaded before the init waits on exec.fifo), with and without noNewPrivileges.
#[test]
fn start_container_hooks_run_under_the_filter() {
    if !common::require_root("start_container_hooks_run_under_the_filter") {
        return;
    }
    for no_new_privs in [true, false] {
        let b = Bundle::busybox(&["true"]);
        b.update_config(|c| {
            c["process"]["noNewPrivileges"] = json!(no_new_privs);
            c["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW",
                "architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_KILL"}]});
            c["hooks"] = json!({"startContainer":[
                {"path":"/bin/sh","args":["sh","-c","mkdir /tmp/from-hook"]}]});
        });
        let out = b.run(&common::unique_id("sec-hook"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("hooks.startContainer[0]")
                && stderr.contains("error running hook: signal: bad system call"),
            "{stderr}"
        );
        assert!(!b.dir.join("rootfs/tmp/from-hook").exists());
    }
}

/// With noNewPrivileges the filter goes in after the init's chdir to process.cwd (as runc: a
/// profile that refuses chdir still gets its cwd), and it is in force for the program.
#[test]
fn a_filter_refusing_chdir_still_gets_its_cwd() {
    if !common::require_root("a_filter_refusing_chdir_still_gets_its_cwd") {
        return;
    }
    let b = sh("pwd; cd / 2>&1; echo cd=$?");
    b.update_config(|c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["cwd"] = json!("/tmp");
        c["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["chdir","fchdir"],"action":"SCMP_ACT_ERRNO","errnoRet":6}]});
    });
    let out = b.run_ok(&common::unique_id("sec-chdir"));
    assert!(out.starts_with("/tmp\n"), "{out}");
    assert!(out.contains("No such device or address"), "{out}");
    assert!(!out.contains("cd=0"), "{out}");
}
