//! Thin wrappers over the mount syscalls, old (`mount(2)`, `umount2`, `pivot_root`) and new
//! (`open_tree`, `move_mount`, `mount_setattr`, `fsopen`, `fsconfig`, `fsmount`).
//!
//! The new mount API is used for everything that attaches a mount inside a container rootfs:
//! it attaches onto an already opened (and in-root resolved) fd, so no path is resolved again
//! at mount time, it does not depend on a mounted /proc, and mount attributes (ro, nosuid, ...)
//! are set on the detached mount before it becomes visible, so a bind mount is never briefly
//! writable. The constants are defined here because they are stable kernel ABI and not every
//! libc crate version exports them.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub const OPEN_TREE_CLONE: u32 = 0x1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const AT_EMPTY_PATH: u32 = libc::AT_EMPTY_PATH as u32;
pub const AT_SYMLINK_NOFOLLOW: u32 = libc::AT_SYMLINK_NOFOLLOW as u32;

pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

pub const FSOPEN_CLOEXEC: u32 = 0x1;
pub const FSMOUNT_CLOEXEC: u32 = 0x1;

pub const FSCONFIG_SET_FLAG: u32 = 0;
pub const FSCONFIG_SET_STRING: u32 = 1;
pub const FSCONFIG_CMD_CREATE: u32 = 6;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// Mask of the three mutually exclusive atime modes below.
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
/// ID-map the mount through the user namespace in `MountAttr::userns_fd` (detached mounts only).
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (linux/mount.h, MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    /// One of MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, or 0 for "unchanged".
    pub propagation: u64,
    pub userns_fd: u64,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

use crate::ret::cvt;

/// Turns a syscall's returned fd into an owned one.
fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = cvt(ret)? as RawFd;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open_tree(dirfd, path, flags)`: with OPEN_TREE_CLONE, a detached copy of the mount at
/// `path` (and its submounts with AT_RECURSIVE).
pub fn open_tree(dirfd: RawFd, path: &CStr, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: path is a valid NUL-terminated string for the duration of the call.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) })
}

/// Clones the mount tree at an already opened fd (`recursive`: with its submounts).
pub fn clone_tree(fd: BorrowedFd<'_>, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    open_tree(fd.as_raw_fd(), c"", flags)
}

/// Attaches the detached (or moves the attached) mount `from` onto the object `to` refers to.
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: both paths are valid empty C strings; the fds are borrowed and open.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `mount_setattr` on the mount an fd refers to (`recursive`: and all its submounts).
pub fn mount_setattr_fd(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: attr points to a live, properly sized struct mount_attr; the path is "".
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// Whether the kernel has `mount_setattr(2)` (Linux 5.12), and so ID-mapped mounts: a call
/// with no fd and no attributes is refused with ENOSYS only when it does not.
pub fn mount_setattr_supported() -> bool {
    // SAFETY: a null attr pointer with size 0 and fd -1: the kernel reads nothing and fails.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            std::ptr::null::<libc::c_char>(),
            0,
            std::ptr::null::<MountAttr>(),
            0usize,
        )
    };
    !(r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

/// `fsopen(fstype)`: a filesystem context to configure with [`fsconfig_flag`]/[`fsconfig_string`].
pub fn fsopen(fstype: &str) -> io::Result<OwnedFd> {
    let t = cstr(fstype)?;
    // SAFETY: t is a valid C string for the duration of the call.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) })
}

/// `fsconfig(FSCONFIG_SET_FLAG, key)`: a bare option such as "ro" or "newinstance".
pub fn fsconfig_flag(fs: BorrowedFd<'_>, key: &str) -> io::Result<()> {
    let k = cstr(key)?;
    // SAFETY: k is a valid C string; value must be NULL for SET_FLAG.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_FLAG,
            k.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    Ok(())
}

/// `fsconfig(FSCONFIG_SET_STRING, key, value)`: a "key=value" option.
pub fn fsconfig_string(fs: BorrowedFd<'_>, key: &str, value: &str) -> io::Result<()> {
    let k = cstr(key)?;
    let v = cstr(value)?;
    // SAFETY: k and v are valid C strings for the duration of the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    })?;
    Ok(())
}

/// `fsconfig(FSCONFIG_CMD_CREATE)`: creates the superblock from the options set so far.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: no pointers are passed for FSCONFIG_CMD_CREATE.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    Ok(())
}

/// `fsmount`: a detached mount of the created superblock with `attrs` (MOUNT_ATTR_*) applied.
pub fn fsmount(fs: BorrowedFd<'_>, attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// Reads the kernel's error/warning messages queued on a filesystem context (best effort):
/// they say which option a filesystem rejected, far better than a bare EINVAL.
pub fn fs_context_messages(fs: BorrowedFd<'_>) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..16 {
        match nix::unistd::read(fs.as_raw_fd(), &mut buf) {
            // Each message is "e|w|i <text>\n" (error, warning, info).
            Ok(n) if n > 0 => {
                let m = String::from_utf8_lossy(&buf[..n]);
                let m = m.trim_end();
                out.push(
                    m.get(2..)
                        .filter(|_| m.as_bytes().get(1) == Some(&b' '))
                        .unwrap_or(m)
                        .to_string(),
                );
            }
            _ => break,
        }
    }
    out.join("; ")
}

/// Classic `mount(2)`, used only for propagation changes on host paths and `MS_MOVE`.
pub fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let s = source.map(cstr).transpose()?;
    let t = cstr(target)?;
    let f = fstype.map(cstr).transpose()?;
    let d = data.map(cstr).transpose()?;
    let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is NULL or a valid C string that outlives the call.
    let ret = unsafe {
        libc::mount(
            p(&s),
            t.as_ptr(),
            p(&f),
            flags,
            p(&d) as *const libc::c_void,
        )
    };
    cvt(ret)?;
    Ok(())
}

/// `umount2(target, flags)` (MNT_DETACH for a lazy unmount).
pub fn umount2(target: &str, flags: libc::c_int) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: t is a valid C string.
    cvt(unsafe { libc::umount2(t.as_ptr(), flags) })?;
    Ok(())
}

/// `pivot_root(new_root, put_old)`; `pivot_root(".", ".")` stacks the old root on the new one.
pub fn pivot_root(new_root: &str, put_old: &str) -> io::Result<()> {
    let n = cstr(new_root)?;
    let o = cstr(put_old)?;
    // SAFETY: both are valid C strings.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) })?;
    Ok(())
}

/// `statfs` magic of the filesystem at `path` (to tell cgroup v1 from v2).
// f_type's width differs between targets.
#[allow(clippy::unnecessary_cast)]
pub fn statfs_type(path: &str) -> io::Result<i64> {
    let p = cstr(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: st is a valid out-pointer of the right type.
    cvt(unsafe { libc::statfs(p.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: statfs succeeded, so it filled the struct.
    Ok(unsafe { st.assume_init() }.f_type as i64)
}

/// The filesystem type of `path` (`f_type`, a `*_SUPER_MAGIC`) and whether it is mounted
/// read-only (`ST_RDONLY` in `f_flags`).
// f_type's width differs between targets.
#[allow(clippy::unnecessary_cast)]
pub fn statfs_type_ro(path: &str) -> io::Result<(i64, bool)> {
    let p = cstr(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: st is a valid out-pointer of the right type.
    cvt(unsafe { libc::statfs(p.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: statfs succeeded, so it filled the struct.
    let fs_type = unsafe { st.assume_init() }.f_type as i64;
    let mut vfs = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: vfs is a valid out-pointer of the right type.
    cvt(unsafe { libc::statvfs(p.as_ptr(), vfs.as_mut_ptr()) })?;
    // SAFETY: statvfs succeeded, so it filled the struct.
    let flags = unsafe { vfs.assume_init() }.f_flag;
    Ok((fs_type, flags & libc::ST_RDONLY != 0))
}

/// The filesystem type (`f_type`, a `*_SUPER_MAGIC`) of the file `fd` refers to.
// f_type's width differs between targets.
#[allow(clippy::unnecessary_cast)]
pub fn fstatfs_type(fd: BorrowedFd<'_>) -> io::Result<i64> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: st is a valid out-pointer for one struct statfs.
    crate::ret::cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded and filled st.
    Ok(unsafe { st.assume_init() }.f_type as i64)
}

/// `PROC_SUPER_MAGIC` (linux/magic.h): the `f_type` of procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// `SELINUX_MAGIC` (linux/magic.h): the `f_type` of selinuxfs.
pub const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

/// `CGROUP2_SUPER_MAGIC` (linux/magic.h): the `f_type` of a cgroup v2 mount.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
