//! A handle on the kernel's procfs that nothing mounted by a container can stand in for
//! (CVE-2019-16884, CVE-2023-28642): writes that must reach the kernel (sysctls, LSM
//! attributes) and reads of magic links go through it, never through a path under `/proc` that
//! a rootfs, a volume or a joined mount namespace may have mounted something over.

use crate::mount;
use crate::path::{openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The inode number of a procfs root directory (`PROC_ROOT_INO`, fs/proc/internal.h).
pub const PROC_ROOT_INO: u64 = 1;

fn not_procfs(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what} is not procfs"))
}

/// Checks that `fd` is the root directory of a procfs mount: the file system's magic and the
/// root's inode number (a directory of procfs mounted elsewhere, or a fake file system, fails).
pub fn verify_proc_root(fd: BorrowedFd<'_>) -> io::Result<()> {
    if mount::fstatfs_type(fd)? != mount::PROC_SUPER_MAGIC {
        return Err(not_procfs("the directory"));
    }
    if crate::path::fstat(fd)?.st_ino != PROC_ROOT_INO {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the directory is on procfs but not its root",
        ));
    }
    Ok(())
}

/// A private, detached procfs instance (`fsopen("proc")` + `fsmount`): no path is resolved to
/// reach it and it is in no mount namespace, so nothing can be mounted over any of its files.
/// It shows the caller's pid namespace. Refused in a user namespace whose mount namespace has
/// no fully visible procfs (EPERM), and before Linux 5.2 (ENOSYS).
pub fn private_proc() -> io::Result<OwnedFd> {
    let fs = mount::fsopen("proc")?;
    mount::fsconfig_create(fs.as_fd())?;
    let mnt = mount::fsmount(
        fs.as_fd(),
        mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV | mount::MOUNT_ATTR_NOEXEC,
    )?;
    verify_proc_root(mnt.as_fd())?;
    Ok(mnt)
}

/// A procfs root to write through: [`private_proc`] where it can be made, otherwise `/proc`
/// checked to be a procfs root ([`verify_proc_root`]); [`open_in_proc`] then refuses to cross
/// any mount below it.
///
/// The private instance is dissolved when its fd is closed, and the kernel then waits for an
/// RCU grace period (a sleep of 0.1-0.7 ms on a loaded host): where that matters more than
/// an overmount on the very last component, use [`verified_proc`].
pub fn open_proc_root() -> io::Result<OwnedFd> {
    if let Ok(fd) = private_proc() {
        return Ok(fd);
    }
    verified_proc()
}

/// `/proc`, checked to be the root of a procfs mount ([`verify_proc_root`]); no mount is made.
pub fn verified_proc() -> io::Result<OwnedFd> {
    let fd = crate::path::open_path(
        std::ffi::OsStr::new("/proc"),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )?;
    verify_proc_root(fd.as_fd())?;
    Ok(fd)
}

/// Opens `path` (relative: `sys/net/ipv4/ip_forward`, `thread-self/attr/exec`) beneath a procfs
/// root from [`open_proc_root`], crossing no mount point (an overmount anywhere on the way
/// fails with EXDEV), following no magic link and not `..` out, and checks that the file is
/// on procfs.
pub fn open_in_proc(root: BorrowedFd<'_>, path: &str, flags: i32) -> io::Result<OwnedFd> {
    let p = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fd = openat2(
        root.as_raw_fd(),
        &p,
        flags | libc::O_NOFOLLOW,
        0,
        RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
    )?;
    if mount::fstatfs_type(fd.as_fd())? != mount::PROC_SUPER_MAGIC {
        return Err(not_procfs(path));
    }
    Ok(fd)
}

/// Reopens one of the caller's own descriptors through `<root>/thread-self/fd/N` (the way to
/// open a fifo for writing from an `O_PATH` fd): the `fd` directory is reached with
/// [`open_in_proc`]'s checks, and only its last component, the magic link, is followed.
///
/// Where openat2 itself is refused (ENOSYS, or EPERM from a seccomp filter that predates it:
/// the init reopens exec.fifo with the container's filter already loaded), the directory is
/// opened with a plain openat below the verified root instead, and checked to be on procfs.
pub fn reopen_own_fd(root: BorrowedFd<'_>, fd: BorrowedFd<'_>, flags: i32) -> io::Result<OwnedFd> {
    let dir = match open_in_proc(root, "thread-self/fd", libc::O_PATH | libc::O_DIRECTORY) {
        Ok(dir) => dir,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            // SAFETY: a valid C string and an open directory fd; no other memory is passed.
            let r = crate::ret::cvt(unsafe {
                libc::openat(
                    root.as_raw_fd(),
                    c"thread-self/fd".as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            })?;
            // SAFETY: the kernel just returned this fd and nothing else owns it.
            let dir = unsafe { OwnedFd::from_raw_fd(r) };
            if mount::fstatfs_type(dir.as_fd())? != mount::PROC_SUPER_MAGIC {
                return Err(not_procfs("thread-self/fd"));
            }
            dir
        }
        Err(e) => return Err(e),
    };
    let name = CString::new(fd.as_raw_fd().to_string())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: name is a valid C string; dir is an open directory fd.
    let r = crate::ret::cvt(unsafe {
        libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC)
    })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// The path of the calling thread's LSM attribute `attr` below a procfs root: the per-LSM
/// `thread-self/attr/<lsm>/<attr>` where `lsm` is given and the kernel has that directory
/// (AppArmor's since Linux 5.1), else the shared `thread-self/attr/<attr>` (older kernels,
/// and SELinux, which owns the shared files). Never `self`: an LSM only lets a thread change
/// its own attributes, and the thread is what `thread-self` names.
fn thread_attr_paths(lsm: Option<&str>, attr: &str) -> (Option<String>, String) {
    (
        lsm.map(|l| format!("thread-self/attr/{l}/{attr}")),
        format!("thread-self/attr/{attr}"),
    )
}

/// Opens the calling thread's LSM attribute `attr` below `root` (a procfs root from
/// [`open_proc_root`] or [`verified_proc`]) with [`open_in_proc`]'s checks; see
/// [`write_thread_attr`] for `lsm`.
pub fn open_thread_attr(
    root: BorrowedFd<'_>,
    lsm: Option<&str>,
    attr: &str,
    flags: i32,
) -> io::Result<OwnedFd> {
    let (own, shared) = thread_attr_paths(lsm, attr);
    if let Some(own) = own {
        match open_in_proc(root, &own, flags | libc::O_CLOEXEC) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r,
        }
    }
    open_in_proc(root, &shared, flags | libc::O_CLOEXEC)
}

/// Writes `value` to the calling thread's LSM attribute `attr` (`exec`, `keycreate`, ...) in
/// one write(2), as the kernel wants it (a short write is an error), through a procfs root
/// (`root`, see [`open_thread_attr`]): a fake or overmounted /proc cannot swallow it
/// (CVE-2019-16884). `lsm` names the per-LSM directory (`apparmor`) to prefer; an empty
/// `value` resets the attribute.
pub fn write_thread_attr(
    root: BorrowedFd<'_>,
    lsm: Option<&str>,
    attr: &str,
    value: &[u8],
) -> io::Result<()> {
    let fd = open_thread_attr(root, lsm, attr, libc::O_WRONLY)?;
    // SAFETY: value is a valid buffer of value.len() bytes; fd is open for writing.
    let n = crate::ret::cvt(unsafe {
        libc::write(fd.as_raw_fd(), value.as_ptr().cast(), value.len())
    })?;
    if usize::try_from(n).ok() != Some(value.len()) {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write to thread-self/attr/{attr}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn proc_root_is_verified() {
        let fd = open_proc_root().unwrap();
        verify_proc_root(fd.as_fd()).unwrap();
        let sys = crate::path::open_path(std::ffi::OsStr::new("/proc/sys"), libc::O_PATH).unwrap();
        assert!(
            verify_proc_root(sys.as_fd()).is_err(),
            "a procfs subdirectory"
        );
        let tmp = crate::path::open_path(std::ffi::OsStr::new("/tmp"), libc::O_PATH).unwrap();
        assert!(verify_proc_root(tmp.as_fd()).is_err(), "not procfs");
        let f = open_in_proc(fd.as_fd(), "sys/kernel/ostype", libc::O_RDONLY).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(f), &mut s).unwrap();
        assert_eq!(s.trim(), "Linux");
        assert!(open_in_proc(fd.as_fd(), "../etc/passwd", libc::O_RDONLY).is_err());
        assert!(open_in_proc(fd.as_fd(), "self/cwd/x", libc::O_RDONLY).is_err());
    }

    #[test]
    fn thread_attr_paths_prefer_the_lsm_directory() {
        assert_eq!(
            thread_attr_paths(Some("apparmor"), "exec"),
            (
                Some("thread-self/attr/apparmor/exec".to_string()),
                "thread-self/attr/exec".to_string()
            )
        );
        assert_eq!(
            thread_attr_paths(None, "keycreate"),
            (None, "thread-self/attr/keycreate".to_string())
        );
    }

    /// The attribute files are reached through the verified root; every kernel has the shared
    /// `exec` file, whichever LSMs it runs (a write there fails without one).
    #[test]
    fn thread_attr_is_opened_below_the_root() {
        let root = verified_proc().unwrap();
        let fd =
            open_thread_attr(root.as_fd(), Some("no-such-lsm"), "exec", libc::O_RDONLY).unwrap();
        let l = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(l.to_string_lossy().ends_with("/attr/exec"), "{l:?}");
    }

    #[test]
    fn reopen_own_fd_through_proc() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let root = open_proc_root().unwrap();
        let w = reopen_own_fd(root.as_fd(), f.as_fd(), libc::O_WRONLY).unwrap();
        let l = std::fs::read_link(format!("/proc/self/fd/{}", w.as_raw_fd())).unwrap();
        assert_eq!(l, std::path::Path::new("/dev/null"));
    }

    /// An overmount on a file under /proc: the path root refuses to cross it, the private
    /// instance does not see it. Runs in a thread of its own with a private mount namespace.
    #[test]
    fn overmounts_under_proc_are_never_followed() {
        if !root() {
            eprintln!("SKIP overmounts_under_proc_are_never_followed: needs root");
            return;
        }
        std::thread::spawn(|| {
            crate::ns::unshare(libc::CLONE_NEWNS).unwrap();
            mount::mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None).unwrap();
            // /proc/sys/kernel/ostype now shows the contents of /proc/sys/kernel/osrelease.
            mount::mount(
                Some("/proc/sys/kernel/osrelease"),
                "/proc/sys/kernel/ostype",
                None,
                libc::MS_BIND,
                None,
            )
            .unwrap();
            let path_root = crate::path::open_path(
                std::ffi::OsStr::new("/proc"),
                libc::O_PATH | libc::O_DIRECTORY,
            )
            .unwrap();
            verify_proc_root(path_root.as_fd()).unwrap();
            let e =
                open_in_proc(path_root.as_fd(), "sys/kernel/ostype", libc::O_RDONLY).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
            let private = private_proc().unwrap();
            let f = open_in_proc(private.as_fd(), "sys/kernel/ostype", libc::O_RDONLY).unwrap();
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(f), &mut s).unwrap();
            assert_eq!(s.trim(), "Linux");
        })
        .join()
        .unwrap();
    }
}
