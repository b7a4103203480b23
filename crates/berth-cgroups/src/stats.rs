//! Statistics in runc's `events --stats` shape (the `data` of a `{"type":"stats"}` event).
//! Missing files give zeros/absent sections: stats are informational, not a reason to fail.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The numbers of one `events --stats` event.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: Cpu,
    /// Memory use and limits.
    pub memory: Memory,
    /// Number of processes and their limit.
    pub pids: Pids,
    /// Block I/O counters.
    pub blkio: Blkio,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    /// Huge page use per page size (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

/// CPU time and CFS throttling.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// Throttling by the CFS quota.
    pub throttling: Throttling,
}

/// CPU time used, in nanoseconds.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct CpuUsage {
    /// All CPU time.
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// Per CPU (v1 only).
    pub percpu: Vec<u64>,
    /// Time in the kernel.
    pub kernel: u64,
    /// Time in user space.
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Throttling {
    /// Enforcement periods elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total throttled time, in nanoseconds.
    pub throttled_time: u64,
}

/// One memory counter set, in bytes (`u64::MAX`: no limit).
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct MemoryEntry {
    /// The limit.
    pub limit: u64,
    /// Use now.
    pub usage: u64,
    /// Highest use seen.
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// Memory use.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Memory {
    /// Page cache (`cache` on v1, `file` on v2).
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap on v1, swap alone on v2.
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    /// Kernel TCP buffers (v1 only).
    pub kernel_tcp: MemoryEntry,
    /// The memory.stat map.
    pub raw: BTreeMap<String, u64>,
}

/// Process count.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Pids {
    /// Processes now.
    pub current: u64,
    /// The limit (0: none, as runc reports it).
    pub limit: u64,
}

/// One per-device block I/O counter.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read` or `Write`.
    pub op: String,
    /// Bytes or operations.
    pub value: u64,
}

/// Block I/O done, per device.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Blkio {
    /// Bytes transferred.
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations done.
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// Huge page use of one page size, in bytes.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Hugetlb {
    /// Use now.
    pub usage: u64,
    /// Highest use seen (v1 only).
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

fn rd(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_default()
}

/// A single number; `max` (v2's "unlimited") reads as u64::MAX like runc reports it.
fn num(dir: &Path, f: &str) -> u64 {
    let s = rd(dir, f);
    let s = s.trim();
    if s == "max" {
        u64::MAX
    } else {
        s.parse().unwrap_or(0)
    }
}

/// `key value` lines into a map.
pub(crate) fn flat_map(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// One key of a flat keyed file (`memory.events`, `cgroup.events`, `memory.oom_control`).
pub(crate) fn flat_key(text: &str, key: &str) -> Option<u64> {
    flat_map(text).get(key).copied()
}

fn page_sizes() -> Vec<String> {
    // /sys/kernel/mm/hugepages/hugepages-2048kB → 2MB (the cgroup file spelling).
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(kb) = n
                .strip_prefix("hugepages-")
                .and_then(|s| s.strip_suffix("kB"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                out.push(match kb {
                    kb if kb >= 1 << 20 => format!("{}GB", kb >> 20),
                    kb if kb >= 1 << 10 => format!("{}MB", kb >> 10),
                    kb => format!("{kb}KB"),
                });
            }
        }
    }
    out
}

/// v1 stats; `dir_of` maps a controller to the container's directory in its hierarchy.
pub(crate) fn v1(dir_of: &dyn Fn(&str) -> Option<PathBuf>) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = dir_of("cpuacct") {
        s.cpu.usage.total = num(&d, "cpuacct.usage");
        s.cpu.usage.percpu = rd(&d, "cpuacct.usage_percpu")
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // cpuacct.stat is in USER_HZ ticks (100 per second on Linux).
        let st = flat_map(&rd(&d, "cpuacct.stat"));
        s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some(d) = dir_of("cpu") {
        let st = flat_map(&rd(&d, "cpu.stat"));
        s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
        s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttling.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
    }
    if let Some(d) = dir_of("memory") {
        let e = |p: &str| MemoryEntry {
            limit: num(&d, &format!("{p}limit_in_bytes")),
            usage: num(&d, &format!("{p}usage_in_bytes")),
            max: num(&d, &format!("{p}max_usage_in_bytes")),
            failcnt: num(&d, &format!("{p}failcnt")),
        };
        s.memory.usage = e("memory.");
        s.memory.swap = e("memory.memsw.");
        s.memory.kernel = e("memory.kmem.");
        s.memory.kernel_tcp = e("memory.kmem.tcp.");
        s.memory.raw = flat_map(&rd(&d, "memory.stat"));
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = dir_of("pids") {
        s.pids.current = num(&d, "pids.current");
        s.pids.limit = num(&d, "pids.max");
        if s.pids.limit == u64::MAX {
            s.pids.limit = 0; // runc reports "no limit" as 0
        }
    }
    if let Some(d) = dir_of("blkio") {
        let parse = |f: &str| -> Vec<BlkioEntry> {
            rd(&d, f)
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    let (maj, min) = it.next()?.split_once(':')?;
                    Some(BlkioEntry {
                        major: maj.parse().ok()?,
                        minor: min.parse().ok()?,
                        op: it.next()?.to_string(),
                        value: it.next()?.parse().ok()?,
                    })
                })
                .collect()
        };
        s.blkio.io_service_bytes_recursive = parse("blkio.throttle.io_service_bytes_recursive");
        s.blkio.io_serviced_recursive = parse("blkio.throttle.io_serviced_recursive");
    }
    if let Some(d) = dir_of("hugetlb") {
        for ps in page_sizes() {
            let h = Hugetlb {
                usage: num(&d, &format!("hugetlb.{ps}.usage_in_bytes")),
                max: num(&d, &format!("hugetlb.{ps}.max_usage_in_bytes")),
                failcnt: num(&d, &format!("hugetlb.{ps}.failcnt")),
            };
            s.hugetlb.insert(ps, h);
        }
    }
    s
}

/// v2 stats from the container's cgroup directory.
pub(crate) fn v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = flat_map(&rd(d, "cpu.stat"));
    let g = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = g(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = g(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = g(&cpu, "system_usec") * 1000;
    s.cpu.throttling.periods = g(&cpu, "nr_periods");
    s.cpu.throttling.throttled_periods = g(&cpu, "nr_throttled");
    s.cpu.throttling.throttled_time = g(&cpu, "throttled_usec") * 1000;
    let events = flat_map(&rd(d, "memory.events"));
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: g(&events, "max"),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        max: num(d, "memory.swap.peak"),
        failcnt: 0,
    };
    s.memory.raw = flat_map(&rd(d, "memory.stat"));
    s.memory.cache = g(&s.memory.raw, "file");
    s.pids.current = num(d, "pids.current");
    s.pids.limit = num(d, "pids.max");
    if s.pids.limit == u64::MAX {
        s.pids.limit = 0;
    }
    for l in rd(d, "io.stat").lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|x| x.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    for ps in page_sizes() {
        if d.join(format!("hugetlb.{ps}.current")).exists() {
            let ev = flat_map(&rd(d, &format!("hugetlb.{ps}.events")));
            s.hugetlb.insert(
                ps.clone(),
                Hugetlb {
                    usage: num(d, &format!("hugetlb.{ps}.current")),
                    max: 0,
                    failcnt: g(&ev, "max"),
                },
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat() {
        assert_eq!(
            flat_key("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(flat_key("populated 1\nfrozen 0\n", "frozen"), Some(0));
        assert_eq!(flat_key("x", "x"), None);
    }

    #[test]
    fn v2_from_files() {
        let t = std::env::temp_dir().join(format!("berth-stats-{}", std::process::id()));
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(
            t.join("cpu.stat"),
            "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 1\n",
        )
        .unwrap();
        std::fs::write(t.join("memory.max"), "max\n").unwrap();
        std::fs::write(t.join("memory.current"), "4096\n").unwrap();
        std::fs::write(t.join("memory.events"), "low 0\nmax 7\noom 1\noom_kill 1\n").unwrap();
        std::fs::write(t.join("pids.max"), "10\n").unwrap();
        std::fs::write(
            t.join("io.stat"),
            "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0\n",
        )
        .unwrap();
        let s = v2(&t);
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.failcnt, 7);
        assert_eq!(s.pids.limit, 10);
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        let j = serde_json::to_value(&s).unwrap();
        assert!(j["blkio"]["ioServiceBytesRecursive"].is_array());
        assert!(j["memory"]["kernelTCP"].is_object());
        let _ = std::fs::remove_dir_all(&t);
    }
}
