//! A parser for /proc/self/mountinfo, shared by the rootfs setup (the mount holding the rootfs:
//! its propagation matters to pivot_root) and cgroup layout detection.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The path inside the filesystem that is the root of this mount.
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Optional fields, e.g. "shared:1", "master:2".
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// Undoes the kernel's octal escapes (\040 for space, \011, \012, \134).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one line; None for a malformed one.
pub fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let _id = l.next()?;
    let _parent = l.next()?;
    let _dev = l.next()?;
    let root = unescape(l.next()?);
    let mount_point = unescape(l.next()?);
    let _opts = l.next()?;
    let optional = l.filter(|s| !s.is_empty()).map(str::to_string).collect();
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let source = unescape(r.next()?);
    let super_options = r
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    Some(MountInfo {
        root: root.into(),
        mount_point: mount_point.into(),
        optional,
        fstype,
        source,
        super_options,
    })
}

pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

pub fn read_self() -> std::io::Result<Vec<MountInfo>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// The mount `path` lives on: the last-mounted entry whose mount point is the longest prefix.
pub fn containing_mount<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    let mut best: Option<&MountInfo> = None;
    for m in mounts {
        if path.starts_with(&m.mount_point)
            && best
                .is_none_or(|b| m.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(m);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
30 22 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
31 22 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
40 22 0:40 / /tmp/with\\040space rw master:3 - tmpfs tmpfs rw
41 40 0:41 /sub /tmp/with\\040space/x rw - tmpfs none rw,size=10k
";

    #[test]
    fn parses_fields() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].mount_point, Path::new("/"));
        assert!(m[0].is_shared());
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].super_options, vec!["rw", "cpu", "cpuacct"]);
        assert_eq!(m[3].mount_point, Path::new("/tmp/with space"));
        assert_eq!(m[3].optional, vec!["master:3"]);
        assert!(!m[3].is_shared());
        assert_eq!(m[4].root, Path::new("/sub"));
        assert!(m[4].optional.is_empty());
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn finds_containing_mount() {
        let m = parse(SAMPLE);
        let c = containing_mount(&m, Path::new("/tmp/with space/x/y")).expect("found");
        assert_eq!(c.mount_point, Path::new("/tmp/with space/x"));
        let c = containing_mount(&m, Path::new("/tmp/with spacey")).expect("found");
        assert_eq!(c.mount_point, Path::new("/"));
    }
}
