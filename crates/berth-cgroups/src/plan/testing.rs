//! A fake [`Host`] for the planner's tests: controllers, files with their content, online sets.

use super::{Host, Online, Write};
use oci_spec::runtime::LinuxResources;
use std::collections::{HashMap, HashSet};

/// A fake cgroup: controllers, files (with content), and the machine's online CPUs and nodes.
pub(crate) struct FakeHost {
    pub ctrls: HashSet<String>,
    pub files: HashMap<String, String>,
    pub cpus: String,
    pub mems: String,
}

impl FakeHost {
    pub fn new(ctrls: &[&str], files: &[(&str, &str)]) -> FakeHost {
        FakeHost {
            ctrls: ctrls.iter().map(|s| s.to_string()).collect(),
            files: files
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            cpus: "0-1\n".into(),
            mems: "0\n".into(),
        }
    }
}

impl Host for FakeHost {
    fn has_controller(&self, c: &str) -> bool {
        self.ctrls.contains(c)
    }
    fn exists(&self, _c: &str, f: &str) -> bool {
        self.files.contains_key(f)
    }
    fn read(&self, _c: &str, f: &str) -> Option<String> {
        self.files.get(f).cloned()
    }
    fn online(&self, set: Online) -> String {
        match set {
            Online::Cpus => self.cpus.clone(),
            Online::Mems => self.mems.clone(),
        }
    }
}

impl FakeHost {
    /// Adds an enabled controller and one of its files.
    pub fn with(mut self, ctrl: &str, file: &str) -> FakeHost {
        self.ctrls.insert(ctrl.to_string());
        self.files.insert(file.to_string(), String::new());
        self
    }
}

/// Plans `json` on both fake hosts, checks both refuse it with the same message (one validator
/// for both versions) and returns that message.
pub(crate) fn refused_alike(json: &str) -> String {
    let e1 = super::plan_v1(&res(json), &v1_host())
        .map(|_| ())
        .unwrap_err();
    let e2 = super::plan_v2(&res(json), &v2_host())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e1.to_string(), e2.to_string(), "{json}");
    e1.to_string()
}

pub(crate) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("test json")
}

pub(crate) fn files(w: &[Write]) -> Vec<(&str, &str)> {
    w.iter()
        .map(|w| (w.file.as_str(), w.value.as_str()))
        .collect()
}

/// A v1 host as a CFQ-less kernel shows it (BFQ blkio files), no hugetlb.
pub(crate) fn v1_host() -> FakeHost {
    FakeHost::new(
        &["memory", "cpu", "cpuset", "pids", "blkio"],
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", ""),
            ("memory.swappiness", "60"),
            ("memory.usage_in_bytes", "1000"),
            ("cpu.shares", "1024"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_period_us", "100000"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("cpuset.effective_cpus", "0-1"),
            ("pids.max", "max"),
            ("blkio.bfq.weight", "100"),
            ("blkio.throttle.read_bps_device", ""),
        ],
    )
}

/// A v2 cgroup with the usual controllers enabled, 2MB huge pages.
pub(crate) fn v2_host() -> FakeHost {
    FakeHost::new(
        &["memory", "cpu", "cpuset", "pids", "io", "hugetlb"],
        &[
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("memory.current", "0"),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cpu.max.burst", "0"),
            ("cpu.idle", "0"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("pids.max", "max"),
            ("io.weight", "default 100"),
            ("io.max", ""),
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.rsvd.max", "max"),
            ("memory.high", "max"),
        ],
    )
}
