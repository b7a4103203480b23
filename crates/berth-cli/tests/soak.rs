//! Reliability under load and faults: many create/start/delete cycles, many containers created
//! at once, and `berth create` killed with SIGKILL at random points, each followed by `delete
//! --force`. After each, nothing of the containers may be left: no process, cgroup, state
//! directory, host mount or descriptor on the state directory.
//!
//! The counts are bounded for CI; `make soak` runs the long version through the environment:
//! BERTH_SOAK_CYCLES (default 100), BERTH_SOAK_PARALLEL (50), BERTH_SOAK_KILLS (40).
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{berth_bin, require_root, Bundle};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Ids of one test: a prefix no other test or run uses, so leftovers can be told apart.
fn prefix(tag: &str) -> String {
    format!("soak-{tag}-{}-", std::process::id())
}

/// A bundle whose process keeps running and carries `marker` in its command line.
fn sleeper(marker: &str) -> Bundle {
    Bundle::busybox(&["sh", "-c", "while :; do sleep 1; done", marker])
}

/// What the host shows of containers whose id or command line holds `prefix`.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    processes: Vec<String>,
    cgroups: Vec<String>,
    states: Vec<String>,
    /// Descriptors any process holds on the state root or below (a lock, the exec fifo).
    fds: Vec<String>,
}

fn trace(b: &Bundle, prefix: &str) -> Trace {
    let mut processes = Vec::new();
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        for fd in std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if target.starts_with(&b.state_root) {
                    fds.push(format!("{} -> {}", fd.path().display(), target.display()));
                }
            }
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(prefix) {
            processes.push(format!("{}: {cmdline}", entry.path().display()));
        }
    }
    let mut cgroups = Vec::new();
    dirs_starting_with(Path::new("/sys/fs/cgroup"), prefix, 5, &mut cgroups);
    let states = std::fs::read_dir(&b.state_root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Trace {
        processes,
        cgroups,
        states,
        fds,
    }
}

fn dirs_starting_with(dir: &Path, prefix: &str, depth: u32, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(e.path().display().to_string());
            }
            dirs_starting_with(&e.path(), prefix, depth - 1, out);
        }
    }
}

fn host_mounts() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

/// Waits (a bounded while: an init whose runtime died exits when it sees its sync channel
/// close) until nothing of `prefix` is left, and fails naming what is.
fn assert_nothing_left(b: &Bundle, prefix: &str, mounts_before: &BTreeSet<String>) {
    let empty = Trace {
        processes: vec![],
        cgroups: vec![],
        states: vec![],
        fds: vec![],
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut t = trace(b, prefix);
    while t != empty && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        t = trace(b, prefix);
    }
    assert_eq!(t, empty, "left behind");
    // Only mounts of this test count: engines or other tests may mount on the host meanwhile.
    let ours = b.scratch.0.to_string_lossy().into_owned();
    let mounts = host_mounts();
    let new: Vec<_> = mounts
        .difference(mounts_before)
        .filter(|m| m.contains(&ours) || m.contains(prefix))
        .collect();
    assert!(new.is_empty(), "host mounts left behind: {new:?}");
}

fn berth_ok(b: &Bundle, args: &[&str]) {
    let out = b.berth(args);
    assert!(
        out.status.success(),
        "berth {args:?}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn many_create_start_delete_cycles_leave_nothing() {
    if !require_root("many_create_start_delete_cycles_leave_nothing") {
        return;
    }
    let p = prefix("cycle");
    let b = sleeper(&p);
    let bundle = b.dir.to_string_lossy().to_string();
    let mounts = host_mounts();
    for i in 0..env_count("BERTH_SOAK_CYCLES", 100) {
        let id = format!("{p}{i}");
        berth_ok(&b, &["create", "--bundle", &bundle, &id]);
        berth_ok(&b, &["start", &id]);
        if i % 2 == 0 {
            berth_ok(&b, &["delete", "--force", &id]);
        } else {
            berth_ok(&b, &["kill", &id, "KILL"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !String::from_utf8_lossy(&b.berth(&["state", &id]).stdout).contains("stopped") {
                assert!(Instant::now() < deadline, "{id} did not stop after SIGKILL");
                std::thread::sleep(Duration::from_millis(5));
            }
            berth_ok(&b, &["delete", &id]);
        }
    }
    assert_nothing_left(&b, &p, &mounts);
}

#[test]
fn many_containers_created_at_once_leave_nothing() {
    if !require_root("many_containers_created_at_once_leave_nothing") {
        return;
    }
    let p = prefix("par");
    let b = sleeper(&p);
    let bundle = b.dir.to_string_lossy().to_string();
    let mounts = host_mounts();
    let n = env_count("BERTH_SOAK_PARALLEL", 50);
    // stderr goes to files: a created container's init keeps the runtime's stdio open.
    let in_parallel = |args: &dyn Fn(&str) -> Vec<String>| {
        let children: Vec<_> = (0..n)
            .map(|i| {
                let err = b.scratch.0.join(format!("err-par-{i}"));
                let child = Command::new(berth_bin())
                    .arg("--root")
                    .arg(&b.state_root)
                    .args(args(&format!("{p}{i}")))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&err).unwrap())
                    .spawn()
                    .unwrap();
                (child, err)
            })
            .collect();
        for (mut c, err) in children {
            let status = c.wait().unwrap();
            assert!(
                status.success(),
                "{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
    };
    in_parallel(&|id| {
        vec![
            "create".into(),
            "--bundle".into(),
            bundle.clone(),
            id.into(),
        ]
    });
    let listed = String::from_utf8_lossy(&b.berth(&["list", "-q"]).stdout)
        .lines()
        .count();
    assert_eq!(listed, n, "berth list after {n} parallel creates");
    in_parallel(&|id| vec!["start".into(), id.into()]);
    in_parallel(&|id| vec!["delete".into(), "--force".into(), id.into()]);
    assert_nothing_left(&b, &p, &mounts);
}

/// xorshift: the tests have no rand crate; the seed is printed so a failure can be replayed
/// with BERTH_SOAK_SEED.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn create_killed_at_random_points_then_delete_force_leaves_nothing() {
    if !require_root("create_killed_at_random_points_then_delete_force_leaves_nothing") {
        return;
    }
    let p = prefix("kill");
    let b = sleeper(&p);
    let bundle = b.dir.to_string_lossy().to_string();
    let mounts = host_mounts();
    let seed = std::env::var("BERTH_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("BERTH_SOAK_SEED={seed}");
    let mut rng = Rng(seed);
    // How long a whole create takes here, so the kills land all along it.
    let t0 = Instant::now();
    berth_ok(&b, &["create", "--bundle", &bundle, &format!("{p}probe")]);
    let span = t0.elapsed().as_micros().max(1000) as u64;
    berth_ok(&b, &["delete", "--force", &format!("{p}probe")]);
    for i in 0..env_count("BERTH_SOAK_KILLS", 40) {
        let id = format!("{p}{i}");
        let mut child = Command::new(berth_bin())
            .arg("--root")
            .arg(&b.state_root)
            .args(["create", "--bundle", &bundle, &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.next() % (span + span / 4);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let _ = child.wait();
        // delete --force of a container that may be half made, whole, or never made.
        let _ = b.berth(&["delete", "--force", &id]);
        assert_nothing_left(&b, &id, &mounts);
    }
    assert_nothing_left(&b, &p, &mounts);
}
