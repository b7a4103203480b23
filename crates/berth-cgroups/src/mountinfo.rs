//! Which cgroup hierarchies exist and where: parsed from /proc/self/mountinfo and
//! /proc/self/cgroup, never from assumed paths (a container runtime may itself run in a
//! container whose cgroupfs is mounted somewhere odd, or with a non-`/` mount root).

use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path (inside the hierarchy) that is visible at `mount_point` (field 4 of
    /// mountinfo; `/` unless a sub-tree was bind-mounted, as inside a container).
    pub root: String,
    /// v1: controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`, ...); v2: empty.
    pub controllers: Vec<String>,
    /// true for cgroup2.
    pub v2: bool,
}

/// The host's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1 {
        /// One per mounted v1 hierarchy.
        hierarchies: Vec<CgroupMount>,
    },
    /// v1 controllers plus an (usually controller-less) cgroup2 mount.
    Hybrid {
        /// One per mounted v1 hierarchy.
        hierarchies: Vec<CgroupMount>,
        /// The cgroup2 mount.
        unified: CgroupMount,
    },
    /// A pure cgroup2 host.
    V2 {
        /// The cgroup2 mount.
        unified: CgroupMount,
    },
}

/// Parses the cgroup mounts out of a mountinfo text. Lines that are not cgroup mounts, or are
/// malformed, are skipped: mountinfo is the kernel's, a bad line there is not the user's error.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for m in berth_sys::mountinfo::parse(text) {
        let fstype = m.fstype.as_str();
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let v2 = fstype == "cgroup2";
        let controllers = if v2 {
            Vec::new()
        } else {
            // Super options name the controllers; skip generic options.
            m.super_options
                .iter()
                .filter(|o| {
                    !matches!(
                        o.as_str(),
                        "" | "rw"
                            | "ro"
                            | "relatime"
                            | "noatime"
                            | "nosuid"
                            | "nodev"
                            | "noexec"
                            | "clone_children"
                            | "xattr"
                            | "noprefix"
                            | "cpuset_v2_mode"
                    ) && !o.starts_with("release_agent=")
                })
                .cloned()
                .collect()
        };
        out.push(CgroupMount {
            mount_point: m.mount_point,
            root: m.root.to_string_lossy().into_owned(),
            controllers,
            v2,
        });
    }
    out
}

/// Decides the layout from the parsed mounts. Several mounts of the same hierarchy (bind
/// mounts) are collapsed to the first one seen.
pub(crate) fn layout_from_mounts(mounts: &[CgroupMount]) -> Option<Layout> {
    let mut hierarchies: Vec<CgroupMount> = Vec::new();
    let mut unified: Option<CgroupMount> = None;
    for m in mounts {
        if m.v2 {
            if unified.is_none() {
                unified = Some(m.clone());
            }
        } else if !m.controllers.is_empty()
            && !hierarchies.iter().any(|h| h.controllers == m.controllers)
        {
            hierarchies.push(m.clone());
        }
    }
    // A v1 host without real controllers (only name=...) is not usable as v1.
    let has_v1_controllers = hierarchies
        .iter()
        .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
    match (has_v1_controllers, unified) {
        (true, Some(u)) => Some(Layout::Hybrid {
            hierarchies,
            unified: u,
        }),
        (true, None) => Some(Layout::V1 { hierarchies }),
        (false, Some(u)) => Some(Layout::V2 { unified: u }),
        (false, None) => None,
    }
}

/// One line of /proc/PID/cgroup: `id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcCgroup {
    /// The v1 controllers of the hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`); empty
    /// for the cgroup2 entry.
    pub controllers: Vec<String>,
    /// The cgroup path inside that hierarchy.
    pub path: String,
}

/// Parses /proc/PID/cgroup. The v2 entry has an empty controller list.
pub fn parse_proc_cgroup(text: &str) -> Vec<ProcCgroup> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            let controllers = if ctrls.is_empty() {
                Vec::new()
            } else {
                ctrls.split(',').map(str::to_string).collect()
            };
            Some(ProcCgroup {
                controllers,
                path: path.to_string(),
            })
        })
        .collect()
}

/// The process's own cgroup in the hierarchy with exactly these controllers (empty: v2).
pub(crate) fn own_path<'a>(own: &'a [ProcCgroup], controllers: &[String]) -> Option<&'a str> {
    own.iter()
        .find(|p| {
            let mut a = p.controllers.clone();
            let mut b = controllers.to_vec();
            a.sort();
            b.sort();
            a == b
        })
        .map(|p| p.path.as_str())
}

/// Maps a cgroup path inside a hierarchy to a directory, honouring the mount's root.
/// `None` when the cgroup is outside the part of the hierarchy that is mounted.
pub(crate) fn dir_for(mount: &CgroupMount, cgroup_path: &str) -> Option<PathBuf> {
    let root = mount.root.trim_end_matches('/');
    let rel = if root.is_empty() {
        cgroup_path
    } else if cgroup_path == root {
        ""
    } else {
        cgroup_path
            .strip_prefix(root)
            .filter(|r| r.starts_with('/'))?
    };
    let rel = rel.trim_start_matches('/');
    Some(if rel.is_empty() {
        mount.mount_point.clone()
    } else {
        mount.mount_point.join(rel)
    })
}

/// Reads and parses the running host's layout.
pub fn detect() -> Result<Layout, super::CgroupError> {
    let p = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(p).map_err(|e| super::CgroupError::io(p, e))?;
    layout_from_mounts(&parse_mountinfo(&text)).ok_or(super::CgroupError::NoHierarchy(
        "no cgroup hierarchy is mounted (see /proc/self/mountinfo)",
    ))
}

/// The caller's own cgroups.
pub fn own_cgroups() -> Result<Vec<ProcCgroup>, super::CgroupError> {
    let p = Path::new("/proc/self/cgroup");
    let text = std::fs::read_to_string(p).map_err(|e| super::CgroupError::io(p, e))?;
    Ok(parse_proc_cgroup(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 35 0:32 / /mnt/mem\\040copy rw - cgroup cgroup rw,memory
";

    #[test]
    fn parses_hybrid() {
        let m = parse_mountinfo(HYBRID);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[2].controllers, vec!["name=systemd"]);
        assert_eq!(m[4].mount_point, PathBuf::from("/mnt/mem copy"));
        match layout_from_mounts(&m) {
            Some(Layout::Hybrid {
                hierarchies,
                unified,
            }) => {
                assert_eq!(hierarchies.len(), 3, "bind mount of memory collapsed");
                assert_eq!(unified.mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
            }
            other => panic!("not hybrid: {other:?}"),
        }
    }

    #[test]
    fn parses_pure_v2_and_v1() {
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert!(matches!(
            layout_from_mounts(&parse_mountinfo(v2)),
            Some(Layout::V2 { .. })
        ));
        let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert!(matches!(
            layout_from_mounts(&parse_mountinfo(v1)),
            Some(Layout::V1 { .. })
        ));
        assert_eq!(
            layout_from_mounts(&parse_mountinfo("1 2 0:1 / / rw - ext4 /dev/sda rw\n")),
            None
        );
        // Only a named hierarchy with a cgroup2 mount is a v2 host for our purposes.
        let named = "40 31 0:37 / /x rw - cgroup cgroup rw,name=systemd\n41 31 0:38 / /y rw - cgroup2 cgroup2 rw\n";
        assert!(matches!(
            layout_from_mounts(&parse_mountinfo(named)),
            Some(Layout::V2 { .. })
        ));
    }

    #[test]
    fn skips_malformed_lines() {
        assert!(parse_mountinfo("garbage\n1 2 - cgroup\n").is_empty());
    }

    #[test]
    fn proc_cgroup_and_dirs() {
        let own = parse_proc_cgroup("4:memory:/a/b\n1:cpu,cpuacct:/\n0::/user.slice\n");
        assert_eq!(own_path(&own, &["cpuacct".into(), "cpu".into()]), Some("/"));
        assert_eq!(own_path(&own, &[]), Some("/user.slice"));
        let m = CgroupMount {
            mount_point: "/sys/fs/cgroup/memory".into(),
            root: "/a".into(),
            controllers: vec![],
            v2: false,
        };
        assert_eq!(
            dir_for(&m, "/a/b/c"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/b/c"))
        );
        assert_eq!(
            dir_for(&m, "/a"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(dir_for(&m, "/ab"), None);
        let r = CgroupMount {
            root: "/".into(),
            ..m
        };
        assert_eq!(
            dir_for(&r, "/x"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/x"))
        );
    }
}
