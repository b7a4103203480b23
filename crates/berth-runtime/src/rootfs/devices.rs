//! Device nodes in the container's /dev: the default set every container gets, the
//! `linux.devices` of config.json, and the standard /dev symlinks. Without a user namespace
//! nodes are made with mknod; in one, mknod is not allowed, so the host's node is bind-mounted
//! onto an empty file instead.

use super::error::RootfsError;
use super::inroot;
use berth_sys::mount as sys;
use berth_sys::path::{
    fstat, lstat_at, mknodat, open_path, openat2, readlinkat, symlinkat, umask, unlinkat,
    RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

impl NodeKind {
    fn s_ifmt(self) -> u32 {
        match self {
            NodeKind::Char => libc::S_IFCHR,
            NodeKind::Block => libc::S_IFBLK,
            NodeKind::Fifo => libc::S_IFIFO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Path inside the container, e.g. "/dev/null".
    pub path: PathBuf,
    pub kind: NodeKind,
    pub major: u64,
    pub minor: u64,
    /// Permission bits only.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceNode {
    pub fn dev(&self) -> u64 {
        libc::makedev(self.major as u32, self.minor as u32)
    }
}

fn char_dev(name: &str, major: u64, minor: u64) -> DeviceNode {
    DeviceNode {
        path: PathBuf::from("/dev").join(name),
        kind: NodeKind::Char,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

/// The nodes every container gets (the runtime-spec's default devices, the list the device
/// cgroup allows too).
pub fn default_devices() -> Vec<DeviceNode> {
    berth_spec::DEFAULT_DEVICES
        .iter()
        .map(|d| char_dev(d.name, u64::from(d.major), u64::from(d.minor)))
        .collect()
}

/// Largest major/minor the kernel's dev_t encoding holds (12 and 20 bits on the old ABI,
/// 32 bits each with the glibc encoding we use).
const MAX_DEV_NUMBER: i64 = u32::MAX as i64;

/// The file-type bits of a mode (`S_IFMT`).
const S_IFMT: u32 = libc::S_IFMT;

/// Checks a `linux.devices` entry and turns it into a node to create.
pub fn device_from_spec(d: &LinuxDevice) -> Result<DeviceNode, RootfsError> {
    let path = d.path().to_string_lossy().into_owned();
    let bad = |reason: &str| RootfsError::InvalidDevice {
        path: path.clone(),
        reason: reason.to_string(),
    };
    if !d.path().is_absolute() {
        return Err(bad("the path must be absolute"));
    }
    let comps = inroot::lookup_components(d.path());
    if comps.is_empty() || comps.iter().any(|c| c == "..") {
        return Err(bad("the path must name a file and must not contain \"..\""));
    }
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => NodeKind::Char,
        LinuxDeviceType::B => NodeKind::Block,
        LinuxDeviceType::P => NodeKind::Fifo,
        LinuxDeviceType::A => {
            return Err(bad(
                "type \"a\" is only valid in cgroup device rules, use c, b, u or p",
            ))
        }
    };
    if kind != NodeKind::Fifo && !(0..=MAX_DEV_NUMBER).contains(&d.major()) {
        return Err(bad("major number out of range"));
    }
    if kind != NodeKind::Fifo && !(0..=MAX_DEV_NUMBER).contains(&d.minor()) {
        return Err(bad("minor number out of range"));
    }
    // Engines may send the host node's whole st_mode (podman: 0o20666 for a char device). As
    // runc does, the file-type bits are dropped, whether or not they agree with `type` (which
    // alone says what node to make, as it alone says what the device cgroup allows); anything
    // beyond a mode_t is refused.
    let mode = d.file_mode().unwrap_or(0o666);
    if mode & !(0o7777 | S_IFMT) != 0 {
        return Err(bad(
            "fileMode may only hold permission and file-type bits (at most 0177777)",
        ));
    }
    let mode = mode & 0o7777;
    let (major, minor) = if kind == NodeKind::Fifo {
        (0, 0)
    } else {
        (d.major() as u64, d.minor() as u64)
    };
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major,
        minor,
        mode,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// The default devices overridden by, then followed by, the spec's devices.
pub fn devices_to_create(spec_devices: &[LinuxDevice]) -> Result<Vec<DeviceNode>, RootfsError> {
    let spec: Vec<DeviceNode> = spec_devices
        .iter()
        .map(device_from_spec)
        .collect::<Result<_, _>>()?;
    let mut all: Vec<DeviceNode> = default_devices()
        .into_iter()
        .filter(|d| !spec.iter().any(|s| same_path(&s.path, &d.path)))
        .collect();
    all.extend(spec);
    Ok(all)
}

fn same_path(a: &Path, b: &Path) -> bool {
    inroot::lookup_components(a) == inroot::lookup_components(b)
}

fn dev_err(node: &DeviceNode, syscall: &'static str, e: io::Error) -> RootfsError {
    RootfsError::path("device", node.path.to_string_lossy(), syscall, e)
}

/// Creates one node inside the rootfs (its parent directories too).
pub fn create_device(
    root: BorrowedFd<'_>,
    node: &DeviceNode,
    user_namespace: bool,
) -> Result<(), RootfsError> {
    let (parent, name) =
        inroot::open_parent(root, &node.path).map_err(|e| dev_err(node, "openat2", e))?;
    let name = name.as_os_str();
    if user_namespace {
        return bind_host_device(root, node);
    }
    // Whatever the rootfs had there (a stale node, a file, a symlink) is replaced by name in
    // the in-root parent directory; unlinkat never follows a symlink.
    match lstat_at(parent.as_fd(), name) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
            return Err(dev_err(
                node,
                "mknodat",
                io::Error::from_raw_os_error(libc::EISDIR),
            ))
        }
        Ok(_) => unlinkat(parent.as_fd(), name, 0).map_err(|e| dev_err(node, "unlinkat", e))?,
        Err(_) => {}
    }
    // The umask must not trim the node's mode; the init process is single-threaded here.
    let old = umask(0);
    let made = mknodat(
        parent.as_fd(),
        name,
        node.kind.s_ifmt() | node.mode,
        node.dev(),
    );
    umask(old);
    made.map_err(|e| dev_err(node, "mknodat", e))?;
    berth_sys::tree::lchown_at(parent.as_fd(), name, node.uid, node.gid)
        .map_err(|e| dev_err(node, "fchownat", e))
}

/// In a user namespace: an empty file at the node's path with the host's node bound onto it.
fn bind_host_device(root: BorrowedFd<'_>, node: &DeviceNode) -> Result<(), RootfsError> {
    let target = inroot::open_or_create(root, &node.path, inroot::Kind::File)
        .map_err(|e| dev_err(node, "openat2", e))?;
    let src = open_path(node.path.as_os_str(), libc::O_PATH)
        .map_err(|e| dev_err(node, "open (host device)", e))?;
    let tree = sys::clone_tree(src.as_fd(), false).map_err(|e| dev_err(node, "open_tree", e))?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(|e| dev_err(node, "move_mount", e))
}

/// The standard /dev symlinks: fd, stdin/stdout/stderr, ptmx (to the devpts instance), and
/// core when the kernel has /proc/kcore.
pub fn dev_symlinks() -> Vec<(&'static str, &'static str)> {
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    links
}

pub fn create_dev_symlinks(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let dev = inroot::open_or_create(root, Path::new("/dev"), inroot::Kind::Dir)
        .map_err(|e| RootfsError::path("directory", "/dev", "openat2", e))?;
    for (target, name) in dev_symlinks() {
        let n = OsStr::new(name);
        let path = format!("/dev/{name}");
        // /dev/ptmx must point at the container's devpts instance whatever the rootfs had
        // (a host-style node would reach the host's ptys); other existing entries are kept.
        if name == "ptmx" {
            let already = readlinkat(dev.as_fd(), n)
                .ok()
                .flatten()
                .is_some_and(|t| t == OsStr::new(target));
            if already {
                continue;
            }
            match unlinkat(dev.as_fd(), n, 0) {
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                    return Err(RootfsError::path("symlink", path, "unlinkat", e))
                }
                _ => {}
            }
        }
        match symlinkat(OsStr::new(target), dev.as_fd(), n) {
            Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                return Err(RootfsError::path("symlink", path, "symlinkat", e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The console's bind target: `/dev/console` in the in-root `/dev`, never followed through a
/// symlink (CVE-2025-52565: a /dev the container can change could otherwise send the pty's
/// bind onto any path), and only a plain file or a character device; an empty file is made
/// when there is none (`create`). None when it is missing and cannot be made on a read-only
/// /dev: the container then has no console.
fn console_target(root: BorrowedFd<'_>, create: bool) -> Result<Option<OwnedFd>, RootfsError> {
    let err = |sc: &'static str| move |e| RootfsError::path("console", "/dev/console", sc, e);
    let dev = inroot::open(root, Path::new("/dev")).map_err(err("openat2 /dev"))?;
    let open = || {
        openat2(
            dev.as_raw_fd(),
            c"console",
            libc::O_PATH,
            0,
            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        )
    };
    let fd = match open() {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
            match berth_sys::tree::create_new_file_at(dev.as_fd(), OsStr::new("console"), 0o644) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EROFS) => return Ok(None),
                // Made meanwhile: what is there now is checked below.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(err("create")(e)),
            }
            open()
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(err("openat2")(io::Error::new(
                io::ErrorKind::InvalidData,
                "is a symlink; the console is never bound through one",
            )))
        }
        r => r,
    }
    .map_err(err("openat2"))?;
    let st = fstat(fd.as_fd()).map_err(err("fstat"))?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(err("fstat")(io::Error::new(
            io::ErrorKind::InvalidData,
            "is neither a plain file nor a character device",
        )));
    }
    Ok(Some(fd))
}

/// Creates an empty /dev/console (while the rootfs can still be written) for a container
/// with a terminal; [`mount_console`] later binds the pty onto it. What the rootfs already
/// has there must be a plain file or a character device, never a symlink.
pub fn create_console_target(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    console_target(root, true).map(drop)
}

/// Binds the container's pty (its slave end, an open fd) onto /dev/console, after the root
/// switch, as runc does for `process.terminal`. The pty must come from the container's
/// devpts (opened after [`super::setup_rootfs`]): a host pty's mount is no longer in the
/// namespace and cannot be bound. The mount is cloned from the fd itself, so no /dev/pts
/// path is looked up again, and attached onto /dev/console opened without following a
/// symlink (`console_target`). A read-only /dev without a console: nothing is bound.
pub fn mount_console(pty: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let err = |sc: &'static str| move |e| RootfsError::path("console", "/dev/console", sc, e);
    let root =
        open_path(OsStr::new("/"), libc::O_PATH | libc::O_DIRECTORY).map_err(err("open /"))?;
    let Some(target) = console_target(root.as_fd(), true)? else {
        return Ok(());
    };
    let tree = sys::clone_tree(pty, false).map_err(err("open_tree"))?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err("move_mount"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(json: &str) -> LinuxDevice {
        serde_json::from_str(json).expect("device json")
    }

    #[test]
    fn defaults() {
        let d = default_devices();
        assert_eq!(d.len(), 6);
        let null = &d[0];
        assert_eq!(
            (null.path.as_path(), null.major, null.minor, null.mode),
            (Path::new("/dev/null"), 1, 3, 0o666)
        );
        assert!(d
            .iter()
            .any(|n| n.path == Path::new("/dev/tty") && n.major == 5 && n.minor == 0));
        assert_eq!(null.dev(), libc::makedev(1, 3));
    }

    #[test]
    fn spec_device_parsing() {
        let n = device_from_spec(&dev(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":432,"uid":1,"gid":2}"#))
            .expect("valid");
        assert_eq!(
            (n.kind, n.major, n.minor, n.mode, n.uid, n.gid),
            (NodeKind::Char, 10, 229, 0o660, 1, 2)
        );
        let n = device_from_spec(&dev(r#"{"path":"/dev/myfifo","type":"p"}"#)).expect("fifo");
        assert_eq!((n.kind, n.mode), (NodeKind::Fifo, 0o666));
        let n = device_from_spec(&dev(
            r#"{"path":"/dev/sdz","type":"b","major":8,"minor":0}"#,
        ))
        .expect("blk");
        assert_eq!(n.kind, NodeKind::Block);
    }

    #[test]
    fn file_type_bits_in_file_mode_are_dropped() {
        // podman's --device: the host node's st_mode, S_IFCHR|0666 (8630).
        let n = device_from_spec(&dev(
            r#"{"path":"/dev/xzero","type":"c","major":1,"minor":5,"fileMode":8630}"#,
        ))
        .expect("st_mode of a char device");
        assert_eq!((n.kind, n.mode), (NodeKind::Char, 0o666));
        // Bits that disagree with `type` are dropped too (runc: type alone decides).
        let n = device_from_spec(&dev(
            r#"{"path":"/dev/xb","type":"c","major":1,"minor":5,"fileMode":25008}"#,
        ))
        .expect("S_IFBLK|0660 on a char device");
        assert_eq!((n.kind, n.mode), (NodeKind::Char, 0o660));
        let n = device_from_spec(&dev(r#"{"path":"/dev/f","type":"p","fileMode":33188}"#))
            .expect("S_IFREG|0644 on a fifo");
        assert_eq!((n.kind, n.mode), (NodeKind::Fifo, 0o644));
    }

    #[test]
    fn spec_device_errors_name_the_path() {
        for (json, want) in [
            (
                r#"{"path":"dev/x","type":"c","major":1,"minor":3}"#,
                "absolute",
            ),
            (
                r#"{"path":"/dev/../x","type":"c","major":1,"minor":3}"#,
                "..",
            ),
            (
                r#"{"path":"/dev/x","type":"a","major":1,"minor":3}"#,
                "type",
            ),
            (
                r#"{"path":"/dev/x","type":"c","major":-1,"minor":3}"#,
                "major",
            ),
            (
                r#"{"path":"/dev/x","type":"c","major":1,"minor":3,"fileMode":262582}"#,
                "fileMode",
            ),
        ] {
            let e = device_from_spec(&dev(json)).expect_err(json).to_string();
            assert!(
                e.contains("linux.devices") && e.contains(want),
                "{json}: {e}"
            );
        }
    }

    #[test]
    fn spec_devices_override_defaults() {
        let list = devices_to_create(&[dev(
            r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384}"#,
        )])
        .expect("valid");
        assert_eq!(list.len(), 6);
        let null: Vec<_> = list
            .iter()
            .filter(|n| n.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(null.len(), 1);
        assert_eq!(null[0].mode, 0o600);
    }

    #[test]
    fn symlink_set() {
        let l = dev_symlinks();
        assert!(l.contains(&("/proc/self/fd", "fd")));
        assert!(l.contains(&("pts/ptmx", "ptmx")));
        assert!(l.contains(&("/proc/self/fd/2", "stderr")));
    }
}
