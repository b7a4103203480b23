//! runtime-spec 1.3's `linux.memoryPolicy` and `process.execCPUAffinity`, and the CPU affinity
//! reset runc 1.5 does: observed from inside real containers (/proc/self/numa_maps and
//! /proc/self/status).
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{berth_bin, require_root, unique_id, Bundle};
use serde_json::json;
use std::process::{Command, Stdio};

/// The policy column of the first mapping in numa_maps ("interleave:0", "bind=static:0").
const FIRST_POLICY: &str = "head -n 1 /proc/self/numa_maps | cut -d ' ' -f 2";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn numa() -> bool {
    std::path::Path::new("/proc/self/numa_maps").exists()
}

/// The CPUs of this host as the kernel lists them ("0-1").
fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .unwrap()
        .trim()
        .to_string()
}

fn allowed_list(status: &str) -> &str {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {status:?}"))
}

#[test]
fn memory_policy_is_the_containers_and_its_exec_processes() {
    if !require_root("memory_policy_is_the_containers_and_its_exec_processes") || !numa() {
        eprintln!("skipped: needs root and a kernel with NUMA (/proc/self/numa_maps)");
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", FIRST_POLICY]);
    b.update_config(|c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    });
    assert_eq!(b.run_ok(&unique_id("mpol-il")).trim(), "interleave:0");

    b.update_config(|c| {
        c["linux"]["memoryPolicy"] =
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    });
    let out = b.run_ok(&unique_id("mpol-bind"));
    assert!(
        out.trim().starts_with("bind") && out.contains("static") && out.trim().ends_with('0'),
        "{out}"
    );

    // An exec'd process gets the policy too.
    b.set_args(&["sleep", "1000"]);
    b.update_config(|c| {
        c["linux"]["memoryPolicy"] =
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]});
    });
    let id = unique_id("mpol-exec");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.berth(&["exec", &id, "sh", "-c", FIRST_POLICY]);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy = String::from_utf8_lossy(&out.stdout);
    assert!(
        policy.starts_with("prefer") && policy.contains("relative") && policy.trim().ends_with('0'),
        "{policy}"
    );
}

#[test]
fn bad_memory_policies_fail_naming_the_field_and_leave_nothing() {
    if !require_root("bad_memory_policies_fail_naming_the_field_and_leave_nothing") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    for (policy, expected) in [
        (
            json!({}),
            "linux.memoryPolicy.mode: invalid memory policy mode",
        ),
        (
            json!({"mode": "INTERLEAVE", "nodes": "0"}),
            "linux.memoryPolicy.mode: invalid memory policy mode \"INTERLEAVE\"",
        ),
        (
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES", "badflag"]}),
            "linux.memoryPolicy.flags[1]: invalid memory policy flag \"badflag\"",
        ),
        (
            json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"}),
            "memory policy MPOL_DEFAULT: mode requires 0 nodes but got 8",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-9876543210", "flags": []}),
            "linux.memoryPolicy.nodes: invalid memory policy nodes",
        ),
    ] {
        b.update_config(|c| c["linux"]["memoryPolicy"] = policy.clone());
        let id = unique_id("mpol-bad");
        let out = b.run(&id);
        assert_eq!(out.status.code(), Some(1), "{policy}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{policy}: {}",
            stderr(&out)
        );
        assert!(
            !b.state_root.join(&id).exists(),
            "{policy}: a state directory was left"
        );
    }
    // MPOL_DEFAULT without nodes is valid.
    b.update_config(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_DEFAULT"}));
    b.run_ok(&unique_id("mpol-default"));
}

/// berth run under `taskset -c 0`, the container's process printing its own status.
fn run_pinned_to_cpu0(b: &Bundle, id: &str) -> String {
    let out = Command::new("taskset")
        .args(["-c", "0"])
        .arg(berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(id)
        .stdin(Stdio::null())
        .output()
        .expect("taskset");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn containers_do_not_inherit_the_runtimes_cpu_affinity() {
    if !require_root("containers_do_not_inherit_the_runtimes_cpu_affinity") {
        return;
    }
    let all = online_cpus();
    if all == "0" {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let status = run_pinned_to_cpu0(&b, &unique_id("aff-reset"));
    assert_eq!(allowed_list(&status), all, "the init kept berth's affinity");

    // With a cpuset, the reset lands on the cpuset (CPU 1 does not overlap berth's CPU 0).
    b.update_config(|c| c["linux"]["resources"]["cpu"] = json!({"cpus": "1", "mems": "0"}));
    let status = run_pinned_to_cpu0(&b, &unique_id("aff-cpuset"));
    assert_eq!(allowed_list(&status), "1");
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    if !require_root("exec_cpu_affinity_initial_and_final") {
        return;
    }
    let all = online_cpus();
    if all == "0" {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("aff-exec");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(out.status.success(), "{}", stderr(&out));

    // An exec from a runtime pinned to CPU 0, with `global` options before `exec`.
    let exec = |affinity: serde_json::Value, global: &[&str]| {
        let mut p = b.config()["process"].clone();
        p["args"] = json!(["cat", "/proc/self/status"]);
        p["execCPUAffinity"] = affinity;
        let path = b.scratch.0.join("process.json");
        std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
        let out = Command::new("taskset")
            .args(["-c", "0"])
            .arg(berth_bin())
            .arg("--root")
            .arg(&b.state_root)
            .args(global)
            .args(["exec", "--process"])
            .arg(&path)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .expect("taskset");
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };
    let exec_status = |affinity: serde_json::Value| {
        String::from_utf8_lossy(&exec(affinity, &[]).stdout).into_owned()
    };
    // No affinity: reset to every CPU, not berth's CPU 0.
    assert_eq!(allowed_list(&exec_status(serde_json::Value::Null)), all);
    // Only an initial one: it stays (the cgroup has every CPU).
    assert_eq!(allowed_list(&exec_status(json!({"initial": "1"}))), "1");
    // A final one wins.
    assert_eq!(
        allowed_list(&exec_status(json!({"initial": "0", "final": "1"}))),
        "1"
    );
    assert_eq!(
        allowed_list(&exec_status(json!({"initial": "1", "final": "0-1"}))),
        "0-1"
    );

    // --debug logs the affinity the process starts with, before it joins the cgroup, as runc's
    // nsexec does (youki's contest reads it): the initial one, else the runtime's own (CPU 0).
    for (affinity, mask) in [
        (json!({"initial": "1", "final": "0-1"}), "0x2"),
        (serde_json::Value::Null, "0x1"),
    ] {
        let log = stderr(&exec(affinity.clone(), &["--debug"]));
        assert!(
            log.contains(&format!("initial CPU affinity: {mask}\"")),
            "{affinity}: {log}"
        );
    }

    // config.json's execCPUAffinity is the default for an exec without one.
    b.update_config(|c| c["process"]["execCPUAffinity"] = json!({"final": "1"}));
    let id2 = unique_id("aff-cfg");
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id2]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.berth(&["exec", &id2, "cat", "/proc/self/status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(allowed_list(&String::from_utf8_lossy(&out.stdout)), "1");

    // A CPU past runc's limit is refused, naming the field (exec's failure status is runc's 255).
    let mut p = b.config()["process"].clone();
    p["execCPUAffinity"] = json!({"initial": "4096"});
    let path = b.scratch.0.join("bad.json");
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    let out = b.berth(&["exec", "--process", &path.to_string_lossy(), &id]);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("process.execCPUAffinity.initial"),
        "{}",
        stderr(&out)
    );
}
