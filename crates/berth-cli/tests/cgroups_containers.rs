//! Real containers and their cgroups: limits written and read back from the container's cgroup
//! files, enforcement where cheap to show (pids limit vs a fork loop, memory limit → OOM kill and
//! an `oom` event, the freezer stopping a counter), pause/resume/update/events/ps/kill --all,
//! bad input leaving the cgroup untouched. Runs on v1/hybrid here and on pure v2 in the VM.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use berth_cgroups::{CgroupPlacement, CgroupVersion};
use common::Bundle;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Device nodes the scripts need, made inside the container (the rootfs may not provide them).
const MKDEV: &str = "mknod -m 666 /dev/null c 1 3 2>&-; mknod -m 666 /dev/zero c 1 5 2>&-; ";

fn script(s: &str) -> String {
    format!("{MKDEV}{s}")
}

/// Controllers this host offers a container: v1 hierarchies' controllers, or the v2 root's
/// cgroup.subtree_control (what children get).
fn host_controllers() -> Vec<String> {
    use berth_cgroups::mountinfo::{detect, Layout};
    match detect() {
        Ok(Layout::V2 { unified }) => {
            std::fs::read_to_string(unified.mount_point.join("cgroup.subtree_control"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        }
        Ok(Layout::V1 { hierarchies }) | Ok(Layout::Hybrid { hierarchies, .. }) => hierarchies
            .into_iter()
            .flat_map(|h| h.controllers)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Prints a SKIP line and returns false when the host lacks `ctrl`.
fn need_ctrl(test: &str, ctrl: &str) -> bool {
    let ok = host_controllers().iter().any(|c| c == ctrl);
    if !ok {
        eprintln!("SKIP {test}: no {ctrl} controller on this host");
    }
    ok
}

fn v2_host() -> bool {
    matches!(
        berth_cgroups::mountinfo::detect(),
        Ok(berth_cgroups::mountinfo::Layout::V2 { .. })
    )
}

/// `berth run -d`: the container's stdio goes to files so nothing waits on its pipes.
fn run_detached(b: &Bundle, id: &str) {
    let log = b.scratch.0.join(format!("{id}.out"));
    let f = std::fs::File::create(&log).expect("log file");
    let status = Command::new(common::berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["run", "-d", "--bundle"])
        .arg(&b.dir)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup"))
        .stderr(f)
        .status()
        .expect("spawn berth");
    assert!(
        status.success(),
        "berth run -d {id}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn placement(b: &Bundle, id: &str) -> CgroupPlacement {
    let s: Value = serde_json::from_slice(
        &std::fs::read(b.state_root.join(id).join("state.json")).expect("state.json"),
    )
    .expect("parse");
    serde_json::from_value(s["cgroup"].clone()).expect("cgroup placement in state")
}

fn dir_with(p: &CgroupPlacement, file: &str) -> Option<PathBuf> {
    p.dirs.values().find(|d| d.join(file).exists()).cloned()
}

fn cg(p: &CgroupPlacement, file: &str) -> Option<String> {
    dir_with(p, file).map(|d| {
        std::fs::read_to_string(d.join(file))
            .expect("read cgroup file")
            .trim()
            .to_string()
    })
}

fn status(b: &Bundle, id: &str) -> String {
    let o = b.berth(&["state", id]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["status"].as_str().unwrap_or("").to_string()
}

/// Polls until `f` holds (bounded; never a timing assertion, only a liveness bound).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn skip(test: &str, why: &str) {
    eprintln!("SKIP {test}: {why}");
}

#[test]
fn limits_written_and_read_back() {
    if !common::require_root("limits_written_and_read_back") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", "cat /proc/self/cgroup; sleep 1000"]);
    let v2 = v2_host();
    let ctrls = host_controllers();
    // Each controller's part runs only where the controller exists, else a printed SKIP.
    let have = |c: &str| {
        let ok = ctrls.iter().any(|x| x == c);
        if !ok {
            skip(
                "limits_written_and_read_back",
                &format!("no {c} controller on this host"),
            );
        }
        ok
    };
    let (mem, cpu, cpuset, pids) = (have("memory"), have("cpu"), have("cpuset"), have("pids"));
    let mut io = have(if v2 { "io" } else { "blkio" });
    // A v1 blkio weight needs CFQ's blkio.weight or BFQ's blkio.bfq.weight; kernels built without
    // either scheduler (mq-deadline only) have neither, and berth (like runc) then refuses a weight.
    if io && !v2 {
        let root = Path::new("/sys/fs/cgroup/blkio");
        if !root.join("blkio.weight").exists() && !root.join("blkio.bfq.weight").exists() {
            skip(
                "limits_written_and_read_back blkio",
                "no blkio.weight or blkio.bfq.weight on this kernel (no CFQ/BFQ)",
            );
            io = false;
        }
    }
    b.update_config(|c| {
        let r = c["linux"]["resources"].as_object_mut().expect("resources");
        if mem {
            r.insert(
                "memory".into(),
                json!({"limit": 67108864, "reservation": 33554432}),
            );
            if v2 {
                r.insert("unified".into(), json!({"memory.high": "61440000"}));
            } else {
                r["memory"]["swappiness"] = json!(20);
            }
        }
        let mut cpu_r = json!({});
        if cpu {
            cpu_r = json!({"shares": 512, "quota": 20000, "period": 100000});
        }
        if cpuset {
            cpu_r["cpus"] = json!("0");
            cpu_r["mems"] = json!("0");
        }
        r.insert("cpu".into(), cpu_r);
        if pids {
            r.insert("pids".into(), json!({"limit": 42}));
        }
        if io {
            r.insert("blockIO".into(), json!({"weight": 500}));
        }
    });
    let id = common::unique_id("limits");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    assert_eq!(p.version == CgroupVersion::V2, v2);
    let check = |on: bool, file: &str, want: &str| {
        if on {
            assert_eq!(cg(&p, file).as_deref(), Some(want), "{file}");
        }
    };
    check(pids, "pids.max", "42");
    check(cpuset, "cpuset.cpus", "0");
    if v2 {
        check(mem, "memory.max", "67108864");
        check(mem, "memory.low", "33554432");
        check(mem, "memory.high", "61440000");
        // shares 512 → weight by the log formula
        check(cpu, "cpu.weight", "59");
        check(cpu, "cpu.max", "20000 100000");
        if io {
            match cg(&p, "io.weight").or_else(|| cg(&p, "io.bfq.weight")) {
                Some(w) => {
                    let expect = berth_cgroups::convert::blkio_weight_to_io_weight(500).to_string();
                    assert!(w.ends_with(&expect) || w.ends_with(" 500"), "io weight {w}")
                }
                None => skip(
                    "limits_written_and_read_back io",
                    "no io.weight/io.bfq.weight",
                ),
            }
        }
    } else {
        check(mem, "memory.limit_in_bytes", "67108864");
        check(mem, "memory.soft_limit_in_bytes", "33554432");
        check(mem, "memory.swappiness", "20");
        check(cpu, "cpu.shares", "512");
        check(cpu, "cpu.cfs_quota_us", "20000");
        if io {
            let w = cg(&p, "blkio.weight")
                .or_else(|| cg(&p, "blkio.bfq.weight"))
                .unwrap_or_default();
            assert!(w.contains("500"), "blkio weight {w}");
        }
        // The default spec denies every device but the usual ones.
        if ctrls.iter().any(|c| c == "devices") {
            let list = cg(&p, "devices.list").unwrap_or_default();
            assert!(
                list.contains("c 1:3 rwm") && !list.contains("a *:* rwm"),
                "{list}"
            );
        }
    }
    // The container's own view: its init is in the container's cgroup.
    // (`run -d` returns once the process started; its first output may still be on its way.)
    let log = b.scratch.0.join(format!("{id}.out"));
    let mut out = String::new();
    eventually(|| {
        out = std::fs::read_to_string(&log).unwrap_or_default();
        out.contains("::") || out.contains(":memory:")
    });
    assert!(
        out.lines()
            .any(|l| l.starts_with("0::") || l.contains(":memory:")),
        "{out}"
    );
    assert!(b.berth(&["delete", "-f", &id]).status.success());
    for d in p.dirs.values() {
        assert!(!d.exists(), "{} left after delete", d.display());
    }
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    if !common::require_root("pids_limit_stops_a_fork_loop") {
        return;
    }
    if !need_ctrl("pids_limit_stops_a_fork_loop", "pids") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        &script("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 & done; wait"),
    ]);
    b.update_config(|c| c["linux"]["resources"]["pids"] = json!({"limit": 4}));
    let id = common::unique_id("pids");
    let o = b.run(&id);
    let e = err(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(
        e.contains("fork") || e.contains("Resource temporarily unavailable"),
        "no fork failure: {e}"
    );
}

#[test]
fn memory_limit_oom_kills_and_reports_event() {
    if !common::require_root("memory_limit_oom_kills_and_reports_event") {
        return;
    }
    if !need_ctrl("memory_limit_oom_kills_and_reports_event", "memory") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        &script("while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; sleep 1000"),
    ]);
    b.update_config(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 16777216, "swap": 16777216})
    });
    let id = common::unique_id("oom");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    // Stream events; the OOM shows up as {"type":"oom"}.
    let mut ev = Command::new(common::berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["events", "--interval", "1s", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("events");
    // The first stats line means events is watching.
    let mut stdout = std::io::BufReader::new(ev.stdout.take().expect("stdout"));
    let mut line = String::new();
    use std::io::BufRead;
    stdout.read_line(&mut line).expect("first event");
    assert!(line.contains("\"type\":\"stats\""), "{line}");
    std::fs::write(b.dir.join("rootfs/tmp/go"), "").expect("go");
    let mut got_oom = false;
    for _ in 0..60 {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("\"type\":\"oom\"") {
            got_oom = true;
            break;
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(got_oom, "no oom event");
    let kills = if p.version == CgroupVersion::V2 {
        cg(&p, "memory.events").unwrap_or_default()
    } else {
        cg(&p, "memory.oom_control").unwrap_or_default()
    };
    assert!(
        kills
            .lines()
            .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0")),
        "{kills}"
    );
}

#[test]
fn pause_freezes_a_counter_and_resume_thaws_it() {
    if !common::require_root("pause_freezes_a_counter_and_resume_thaws_it") {
        return;
    }
    if !v2_host() && !need_ctrl("pause_freezes_a_counter_and_resume_thaws_it", "freezer") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/n.tmp; mv /tmp/n.tmp /tmp/n; done",
    ]);
    let id = common::unique_id("pause");
    run_detached(&b, &id);
    let counter = b.dir.join("rootfs/tmp/n");
    let read = || {
        std::fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(eventually(|| read() > 10), "counter never ran");
    let o = b.berth(&["pause", &id]);
    assert!(o.status.success(), "pause: {}", err(&o));
    assert_eq!(status(&b, &id), "paused");
    let list = String::from_utf8_lossy(&b.berth(&["list"]).stdout).into_owned();
    assert!(
        list.lines()
            .any(|l| l.contains(&id) && l.contains("paused")),
        "{list}"
    );
    let frozen_at = read();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(), frozen_at, "counter moved while paused");
    // Pausing twice is an error; resume brings it back.
    assert!(!b.berth(&["pause", &id]).status.success());
    let o = b.berth(&["resume", &id]);
    assert!(o.status.success(), "resume: {}", err(&o));
    assert_eq!(status(&b, &id), "running");
    assert!(eventually(|| read() > frozen_at), "counter did not resume");
    assert!(
        !b.berth(&["resume", &id]).status.success(),
        "resume of a running container"
    );
    // A paused container can be force-deleted; its cgroups go with it.
    let p = placement(&b, &id);
    assert!(b.berth(&["pause", &id]).status.success());
    let o = b.berth(&["delete", "--force", &id]);
    assert!(
        o.status.success(),
        "delete -f of a paused container: {}",
        err(&o)
    );
    for d in p.dirs.values() {
        assert!(!d.exists(), "{} left", d.display());
    }
}

#[test]
fn update_changes_limits_and_rejects_bad_input_unchanged() {
    if !common::require_root("update_changes_limits_and_rejects_bad_input_unchanged") {
        return;
    }
    if !need_ctrl(
        "update_changes_limits_and_rejects_bad_input_unchanged",
        "memory",
    ) {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    b.update_config(|c| c["linux"]["resources"]["pids"] = json!({"limit": 100}));
    let id = common::unique_id("update");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    let v2 = p.version == CgroupVersion::V2;
    let (mem, cpu_q) = if v2 {
        ("memory.max", "cpu.max")
    } else {
        ("memory.limit_in_bytes", "cpu.cfs_quota_us")
    };
    let o = b.berth(&[
        "update",
        "--memory",
        "32m",
        "--pids-limit",
        "50",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    assert!(o.status.success(), "update: {}", err(&o));
    assert_eq!(cg(&p, mem).as_deref(), Some("33554432"));
    assert_eq!(cg(&p, "pids.max").as_deref(), Some("50"));
    assert!(cg(&p, cpu_q).unwrap_or_default().starts_with("30000"));
    // -r with a JSON document, from a file.
    let rf = b.scratch.0.join("r.json");
    std::fs::write(&rf, r#"{"pids":{"limit":0}}"#).expect("write r.json");
    let o = b.berth(&["update", "-r", rf.to_str().expect("utf8"), &id]);
    assert!(o.status.success(), "update -r: {}", err(&o));
    // 0 is a real limit, written as 1 as runc 1.5 writes it.
    assert_eq!(
        cg(&p, "pids.max").as_deref(),
        Some("1"),
        "0 is a real limit"
    );
    b.berth(&["update", "--pids-limit", "50", &id]);
    // Bad input: exit 1, the field named, nothing changed.
    let before: Vec<Option<String>> = [mem, "pids.max", cpu_q].iter().map(|f| cg(&p, f)).collect();
    let bad: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--memory", "-5"], "--memory"),
        (vec!["--pids-limit", "-2"], "--pids-limit"),
        (
            vec!["--cpu-shares", "99999999999999999999999"],
            "--cpu-shares",
        ),
        (
            vec!["--cpuset-cpus", "4000", "--pids-limit", "7"],
            "cpu.cpus",
        ),
        (
            vec!["--blkio-weight", "5", "--pids-limit", "7"],
            "blockIO.weight",
        ),
    ];
    for (args, field) in bad {
        let mut a = vec!["update"];
        a.extend(args.iter());
        a.push(&id);
        let o = b.berth(&a);
        assert_eq!(o.status.code(), Some(1), "{args:?} accepted");
        assert!(
            err(&o).contains(field) && err(&o).starts_with("berth: "),
            "{args:?}: {}",
            err(&o)
        );
        let now: Vec<Option<String>> = [mem, "pids.max", cpu_q].iter().map(|f| cg(&p, f)).collect();
        assert_eq!(now, before, "{args:?} changed the cgroup");
    }
    std::fs::write(
        &rf,
        r#"{"unified":{"memory.nonexistent":"1"},"pids":{"limit":7}}"#,
    )
    .expect("write");
    let o = b.berth(&["update", "-r", rf.to_str().expect("utf8"), &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("unified.memory.nonexistent"),
        "{}",
        err(&o)
    );
    assert_eq!(cg(&p, "pids.max").as_deref(), Some("50"));
}

#[test]
fn update_of_a_stopped_container_fails() {
    if !common::require_root("update_of_a_stopped_container_fails") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    let id = common::unique_id("stopped");
    run_detached(&b, &id);
    assert!(eventually(|| status(&b, &id) == "stopped"));
    let o = b.berth(&["update", "--pids-limit", "5", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("stopped") || err(&o).contains("not running"),
        "{}",
        err(&o)
    );
}

#[test]
fn update_kernel_memory_is_checked_and_ignored_with_runcs_warning() {
    if !common::require_root("update_kernel_memory_is_checked_and_ignored_with_runcs_warning") {
        return;
    }
    // runc 1.5 takes the obsolete --kernel-memory/--kernel-memory-tcp, checks the size,
    // warns and sets nothing.
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = common::unique_id("kmem");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    let files = [
        "memory.kmem.limit_in_bytes",
        "memory.kmem.tcp.limit_in_bytes",
        "pids.max",
    ];
    let before: Vec<Option<String>> = files.iter().map(|f| cg(&p, f)).collect();
    let o = b.berth(&[
        "update",
        "--kernel-memory",
        "64m",
        "--kernel-memory-tcp",
        "32m",
        &id,
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("Kernel memory settings are ignored and will be removed"),
        "{}",
        err(&o)
    );
    let now: Vec<Option<String>> = files.iter().map(|f| cg(&p, f)).collect();
    assert_eq!(now, before);
    let o = b.berth(&["update", "--kernel-memory", "lots", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("--kernel-memory"), "{}", err(&o));
}

#[test]
fn events_stats_ps_and_kill_all() {
    if !common::require_root("events_stats_ps_and_kill_all") {
        return;
    }
    if !need_ctrl("events_stats_ps_and_kill_all", "pids") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", &script("sleep 1000 & sleep 1000 & wait")]);
    b.update_config(|c| c["linux"]["resources"]["pids"] = json!({"limit": 10}));
    let id = common::unique_id("evps");
    run_detached(&b, &id);
    let o = b.berth(&["events", "--stats", &id]);
    assert!(o.status.success(), "events: {}", err(&o));
    let ev: Value = serde_json::from_slice(&o.stdout).expect("stats json");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["data"]["pids"]["limit"], 10);
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{ev}"
    );
    assert!(ev["data"]["memory"]["raw"].is_object());
    assert!(ev["data"]["cpu"]["usage"]["total"].is_u64());
    assert!(eventually(|| {
        let o = b.berth(&["ps", "--format", "json", &id]);
        serde_json::from_slice::<Vec<i32>>(&o.stdout)
            .map(|v| v.len() == 3)
            .unwrap_or(false)
    }));
    let o = b.berth(&["ps", &id]);
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        t.lines().next().unwrap_or("").contains("PID")
            && t.lines()
                .filter(|l| l.trim_end().ends_with(" sleep 1000"))
                .count()
                == 2,
        "{t}"
    );
    let o = b.berth(&["ps", &id, "-o", "pid,comm"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("sleep"),
        "{}",
        err(&o)
    );
    let o = b.berth(&["kill", "--all", &id, "KILL"]);
    assert!(o.status.success(), "kill --all: {}", err(&o));
    assert!(eventually(|| status(&b, &id) == "stopped"));
}

#[test]
fn devices_denied_by_default_rules() {
    if !common::require_root("devices_denied_by_default_rules") {
        return;
    }
    // /dev/kmsg (c 1:11) is not in the default allow list: mknod works, opening it does not.
    // (Writing to it needs no capability, so only the device cgroup can refuse it.)
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "rm -f /tmp/kmsg /tmp/zero; mknod /tmp/kmsg c 1 11 && (echo berth-device-test > /tmp/kmsg && echo OPENED || echo DENIED); mknod /tmp/zero c 1 5; head -c 1 /tmp/zero | wc -c",
    ]);
    // The default capability set has no CAP_MKNOD; this test makes its own nodes.
    b.update_config(|c| {
        for set in ["bounding", "effective", "permitted"] {
            if let Some(a) = c["process"]["capabilities"][set].as_array_mut() {
                a.push(json!("CAP_MKNOD"));
            }
        }
    });
    let id = common::unique_id("dev");
    let out = b.run_ok(&id);
    assert!(out.contains("DENIED"), "{out}");
    assert!(
        out.lines().any(|l| l.trim() == "1"),
        "c 1:5 (zero) still readable: {out}"
    );
    // A spec without any device rule gets the same list (deny-all + defaults), as with runc.
    b.update_config(|c| {
        if let Some(r) = c["linux"]["resources"].as_object_mut() {
            r.remove("devices");
        }
    });
    let out = b.run_ok(&common::unique_id("dev2"));
    assert!(
        out.contains("DENIED") && out.lines().any(|l| l.trim() == "1"),
        "{out}"
    );
    // A privileged spec (allow everything) opens it.
    b.update_config(|c| {
        c["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}])
    });
    let out = b.run_ok(&common::unique_id("dev3"));
    assert!(out.contains("OPENED"), "{out}");
}

#[test]
fn failed_create_leaves_no_cgroup() {
    if !common::require_root("failed_create_leaves_no_cgroup") {
        return;
    }
    let b = Bundle::busybox(&["true"]);
    let id = common::unique_id("failcg");
    let path = format!("/berth-failcg-{id}/inner");
    b.update_config(|c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"]["cpu"] = json!({"cpus": "4000"});
    });
    let o = b.run(&id);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cpu.cpus"), "{}", err(&o));
    let mounts = berth_cgroups::mountinfo::parse_mountinfo(
        &std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo"),
    );
    for m in mounts {
        let d = m.mount_point.join(format!("berth-failcg-{id}"));
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn nested_absolute_cgroups_path() {
    if !common::require_root("nested_absolute_cgroups_path") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = common::unique_id("nested");
    let path = format!("/berth-nested/{id}/a/b");
    b.update_config(|c| c["linux"]["cgroupsPath"] = json!(path));
    run_detached(&b, &id);
    let p = placement(&b, &id);
    assert_eq!(p.path, PathBuf::from(&path));
    for d in p.dirs.values() {
        assert!(d.ends_with(path.trim_start_matches('/')), "{}", d.display());
        assert!(!std::fs::read_to_string(d.join("cgroup.procs"))
            .unwrap_or_default()
            .trim()
            .is_empty());
    }
    assert!(b.berth(&["delete", "-f", &id]).status.success());
    for d in p.dirs.values() {
        assert!(!d.exists());
        // Clean up the parents this test made.
        let _ = std::fs::remove_dir(d.parent().expect("a"));
        let _ = std::fs::remove_dir(d.parent().and_then(|x| x.parent()).expect("id"));
    }
}

#[test]
fn limits_visible_inside_the_container() {
    if !common::require_root("limits_visible_inside_the_container") {
        return;
    }
    if !need_ctrl("limits_visible_inside_the_container", "pids")
        || !need_ctrl("limits_visible_inside_the_container", "memory")
    {
        return;
    }
    // The container's own cgroupfs (cgroup namespace: its cgroup is the root it sees).
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
         cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
         cat /proc/self/cgroup",
    ]);
    b.update_config(|c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 42});
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        // `berth spec` adds a cgroup namespace only on pure v2 hosts, as runc does.
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        if !ns.iter().any(|n| n["type"] == "cgroup") {
            ns.push(json!({"type": "cgroup"}));
        }
    });
    let out = b.run_ok(&common::unique_id("inside"));
    let lines: Vec<&str> = out.lines().collect();
    if lines.first().is_some_and(|l| l.contains("can't open")) || lines.len() < 2 {
        skip(
            "limits_visible_inside_the_container",
            "no cgroup mount inside the container",
        );
        return;
    }
    assert_eq!(lines[0].trim(), "42", "{out}");
    assert_eq!(lines[1].trim(), "67108864", "{out}");
    // In its cgroup namespace the container sits at the root of every hierarchy.
    assert!(lines[2..].iter().all(|l| l.ends_with(":/")), "{out}");
}

#[test]
fn linux_devices_follow_the_device_rules() {
    if !common::require_root("linux_devices_follow_the_device_rules") {
        return;
    }
    // As in runc (dev.bats' device cgroup deny): the node exists, but `berth spec`'s deny-all
    // rule applies to it; an explicit allow rule opens it.
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "test -c /dev/kmsg && echo NODE; echo berth-device-test > /dev/kmsg && echo OPENED || echo DENIED",
    ]);
    b.update_config(|c| {
        c["linux"]["devices"] =
            json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    });
    let out = b.run_ok(&common::unique_id("linuxdev"));
    assert!(out.contains("NODE") && out.contains("DENIED"), "{out}");
    b.update_config(|c| {
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}]);
    });
    let out = b.run_ok(&common::unique_id("linuxdev2"));
    assert!(out.contains("NODE") && out.contains("OPENED"), "{out}");
}

#[test]
fn existing_cgroup_frozen_or_non_empty_refused() {
    let test = "existing_cgroup_frozen_or_non_empty_refused";
    if !common::require_root(test) || (!v2_host() && !need_ctrl(test, "freezer")) {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = common::unique_id("shared");
    let path = format!("/berth-shared-{id}");
    b.update_config(|c| c["linux"]["cgroupsPath"] = json!(path));
    // A second container in the same cgroup as a running one: refused in runc 1.5's words,
    // with nothing of it left and the first container untouched in its cgroup.
    run_detached(&b, &id);
    let p = placement(&b, &id);
    let id2 = format!("{id}-2");
    let bundle = b.dir.to_string_lossy().to_string();
    for cmd in ["run", "create"] {
        let o = b.berth(&[cmd, "--bundle", &bundle, &id2]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", err(&o));
        assert!(
            err(&o).contains("container's cgroup is not empty: 1 process(es) found"),
            "{cmd}: {}",
            err(&o)
        );
        assert!(!b.state_root.join(&id2).exists(), "{cmd}: no state left");
    }
    let st = b.berth(&["state", &id]);
    assert!(String::from_utf8_lossy(&st.stdout).contains("running"));
    assert!(b.berth(&["delete", "-f", &id]).status.success());
    // A cgroup someone froze beforehand: refused at once (the init would hang there), and the
    // cgroup is left for its owner to remove.
    let freezer = if v2_host() {
        let d = p.dirs.values().next().expect("a v2 dir").clone();
        std::fs::create_dir_all(&d).expect("mkdir cgroup");
        std::fs::write(d.join("cgroup.freeze"), "1").expect("freeze");
        d
    } else {
        let d = p.dirs.get("freezer").expect("freezer dir").clone();
        std::fs::create_dir_all(&d).expect("mkdir cgroup");
        std::fs::write(d.join("freezer.state"), "FROZEN").expect("freeze");
        d
    };
    let id3 = format!("{id}-3");
    let o = b.berth(&["run", "-d", "--bundle", &bundle, &id3]);
    let _ = std::fs::remove_dir(&freezer);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("container's cgroup unexpectedly frozen"),
        "{}",
        err(&o)
    );
}

#[test]
fn exec_ignore_paused_starts_when_resumed() {
    let test = "exec_ignore_paused_starts_when_resumed";
    if !common::require_root(test) || (!v2_host() && !need_ctrl(test, "freezer")) {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = common::unique_id("ignpaused");
    run_detached(&b, &id);
    assert!(b.berth(&["pause", &id]).status.success());
    let o = b.berth(&["exec", &id, "true"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("paused"), "{}", err(&o));
    // The exec'd process lands in the frozen cgroup: it runs once the container is resumed.
    let out = b.scratch.0.join("exec.out");
    let child = Command::new(common::berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["exec", "--ignore-paused", &id, "echo", "ok"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("out file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn exec");
    let o = b.berth(&["resume", &id]);
    assert!(o.status.success(), "resume: {}", err(&o));
    let st = child.wait_with_output().expect("wait exec");
    assert!(st.status.success(), "{:?}", st.status);
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "ok\n");
}

#[test]
fn exec_into_a_sub_cgroup() {
    let test = "exec_into_a_sub_cgroup";
    if !common::require_root(test) || (!v2_host() && !need_ctrl(test, "memory")) {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    // Paths as the host sees them: no cgroup namespace (`berth spec` adds one on pure v2).
    b.update_config(|c| {
        if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "cgroup");
        }
    });
    let id = common::unique_id("subcg");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    let refused = |args: &[&str], why: &str| {
        let mut a = vec!["exec"];
        a.extend_from_slice(args);
        a.extend_from_slice(&[&id, "true"]);
        let o = b.berth(&a);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(why), "{args:?}: {}", err(&o));
    };
    refused(
        &["--cgroup", ".."],
        "bad sub cgroup path: .. is not a sub cgroup path",
    );
    refused(
        &["--cgroup", "nonexistent"],
        "/nonexistent/cgroup.procs: no such file or directory",
    );
    refused(&["--cgroup", "whaaat:/"], "unknown controller whaaat");
    // The container's own cgroup, explicitly, and a sub-cgroup made beforehand.
    let (dir, arg, ctrl) = if v2_host() {
        (p.dirs.values().next().unwrap().clone(), "sub", "")
    } else {
        (
            dir_with(&p, "memory.limit_in_bytes").unwrap(),
            "memory:sub",
            "memory",
        )
    };
    std::fs::create_dir(dir.join("sub")).expect("mkdir sub-cgroup");
    for (arg, want) in [("/", format!("/{id}")), (arg, format!("/{id}/sub"))] {
        let o = b.berth(&["exec", "--cgroup", arg, &id, "cat", "/proc/self/cgroup"]);
        assert!(o.status.success(), "{arg}: {}", err(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        // Below the test's own cgroup, which differs between v1 hierarchies.
        let line = out
            .lines()
            .find(|l| l.split(':').nth(1) == Some(ctrl))
            .unwrap_or_default();
        assert!(line.ends_with(&want), "{arg}: {out}");
    }
    assert!(b.berth(&["delete", "-f", &id]).status.success());
}

/// The zero values runc reads as "not set" (dockerd writes `blockIO.weight: 0` into every
/// config.json; `docker update` sends it back through `update -r`) create a container and
/// update it without touching those files.
#[test]
fn zeros_runc_reads_as_unset_are_accepted() {
    let test = "zeros_runc_reads_as_unset_are_accepted";
    if !common::require_root(test) || !need_ctrl(test, "memory") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    b.update_config(|c| {
        c["linux"]["resources"] = json!({
            "blockIO": {"weight": 0, "leafWeight": 0},
            "memory": {"limit": 0, "swap": 0, "reservation": 0, "kernel": 0, "kernelTCP": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0},
            "network": {"classID": 0}
        })
    });
    let id = common::unique_id("zeros");
    run_detached(&b, &id);
    let p = placement(&b, &id);
    let mem = if p.version == CgroupVersion::V2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let unlimited = |v: Option<String>| {
        v.is_some_and(|v| v == "max" || v.parse::<u64>().is_ok_and(|n| n > 1 << 40))
    };
    assert!(unlimited(cg(&p, mem)), "memory limit 0 was written");
    let o = b.berth(&["update", "--blkio-weight", "0", &id]);
    assert!(o.status.success(), "update --blkio-weight 0: {}", err(&o));
    let rf = b.scratch.0.join("r.json");
    std::fs::write(&rf, r#"{"blockIO":{"weight":0},"memory":{"limit":0}}"#).expect("write");
    let o = b.berth(&["update", "-r", rf.to_str().expect("utf8"), &id]);
    assert!(o.status.success(), "update -r: {}", err(&o));
    assert!(
        unlimited(cg(&p, mem)),
        "update's memory limit 0 was written"
    );
    assert!(b.berth(&["delete", "-f", &id]).status.success());
}
