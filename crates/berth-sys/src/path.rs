//! Thin wrappers for path work relative to directory fds, chiefly `openat2(2)` with
//! RESOLVE_IN_ROOT so a path inside a container rootfs can never resolve outside it.

use crate::ret::cvt;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// `openat2(2)` RESOLVE_* flag (linux/openat2.h): no crossing of mount points.
pub const RESOLVE_NO_XDEV: u64 = 0x01;
/// No /proc magic links (/proc/self/root, /proc/PID/fd/N...).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// No symlinks at all.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// The path must stay beneath the directory fd (EXDEV otherwise).
pub const RESOLVE_BENEATH: u64 = 0x08;
/// The directory fd is the root: "..", absolute paths and symlinks stay inside it.
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct open_how` (linux/openat2.h). Defined here because libc marks its copy non_exhaustive.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `p` as a C string; a path with a NUL byte is EINVAL, as the kernel would answer.
pub fn cpath(p: &OsStr) -> io::Result<CString> {
    CString::new(p.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat2(dirfd, path, {flags, mode, resolve})`; O_CLOEXEC is always added.
pub fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: path is a valid C string and how a live open_how of the size we pass.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match crate::ret::cvt(ret) {
            // SAFETY: the kernel returned a fresh fd that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Opens `path` (relative or absolute, both taken as inside the root) as an O_PATH fd,
/// resolving every symlink and ".." as if `root` were "/", and refusing /proc magic links.
pub fn open_in_root(root: BorrowedFd<'_>, path: &OsStr) -> io::Result<OwnedFd> {
    let p = cpath(path)?;
    openat2(
        root.as_raw_fd(),
        &p,
        libc::O_PATH,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Plain `openat` (follows symlinks): only for trusted host paths, e.g. bind sources.
pub fn open_path(path: &OsStr, flags: i32) -> io::Result<OwnedFd> {
    let p = cpath(path)?;
    // SAFETY: p is a valid C string.
    let fd = cvt(unsafe { libc::openat(libc::AT_FDCWD, p.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstat` of an fd (O_PATH fds included).
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: st is a valid out-pointer; "" with AT_EMPTY_PATH stats the fd itself (O_PATH works).
    cvt(unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            st.as_mut_ptr(),
            libc::AT_EMPTY_PATH,
        )
    })?;
    // SAFETY: fstatat succeeded and filled st.
    Ok(unsafe { st.assume_init() })
}

/// lstat of one entry of a directory fd.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    let n = cpath(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: n is a valid C string, st a valid out-pointer.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            n.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded and filled st.
    Ok(unsafe { st.assume_init() })
}

/// Whether a stat result is a directory.
pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// `stat(path)`, following symlinks: only for trusted host paths.
pub fn stat(path: &OsStr) -> io::Result<libc::stat> {
    let p = cpath(path)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: p is a valid C string, st a valid out-pointer.
    cvt(unsafe { libc::stat(p.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: stat succeeded and filled st.
    Ok(unsafe { st.assume_init() })
}

/// Whether the calling process may execute `path` with its *effective* ids
/// (`faccessat(AT_FDCWD, path, X_OK, AT_EACCESS)`, which needs faccessat2 in the kernel).
pub fn may_execute_effective(path: &OsStr) -> io::Result<()> {
    let p = cpath(path)?;
    // SAFETY: faccessat reads the NUL-terminated path, valid for the call.
    cvt(unsafe { libc::faccessat(libc::AT_FDCWD, p.as_ptr(), libc::X_OK, libc::AT_EACCESS) })
        .map(drop)
}

/// Whether the calling process may execute `path` with its *real* ids (`access(path, X_OK)`,
/// the plain syscall every seccomp profile knows).
pub fn may_execute_real(path: &OsStr) -> io::Result<()> {
    let p = cpath(path)?;
    // SAFETY: access reads the NUL-terminated path, valid for the call.
    cvt(unsafe { libc::access(p.as_ptr(), libc::X_OK) }).map(drop)
}

/// `fchown(fd, uid, gid)`; `None` leaves that id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    // (uid_t)-1 and (gid_t)-1 mean "unchanged" to the kernel.
    let (uid, gid) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
    // SAFETY: fchown takes an fd and two integers and touches no memory of ours.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// `chdir(path)`.
pub fn chdir(path: &OsStr) -> io::Result<()> {
    let p = cpath(path)?;
    // SAFETY: p is a valid C string.
    cvt(unsafe { libc::chdir(p.as_ptr()) }).map(drop)
}

/// `fchdir(fd)`: the working directory becomes the directory `fd` refers to (O_PATH works).
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fchdir takes an fd and touches no memory of ours.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// `chroot(path)`.
pub fn chroot(path: &OsStr) -> io::Result<()> {
    let p = cpath(path)?;
    // SAFETY: p is a valid C string.
    cvt(unsafe { libc::chroot(p.as_ptr()) }).map(drop)
}

/// `umask(mask)`: sets the file mode creation mask (permission bits only) and returns the
/// previous one. It cannot fail.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask takes an integer and touches no memory of ours.
    let old = unsafe { libc::umask((mask & 0o777) as libc::mode_t) };
    old as u32
}

/// `mkdirat(dir, name, mode)`; the umask applies.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: n is a valid C string.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// `mknodat(dir, name, mode, dev)`: `mode` holds the file type (S_IFCHR...) and permissions.
pub fn mknodat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32, dev: u64) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: n is a valid C string.
    cvt(unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            n.as_ptr(),
            mode as libc::mode_t,
            dev as libc::dev_t,
        )
    })
    .map(drop)
}

/// `symlinkat(target, dir, name)`: creates `name` in `dir` pointing at `target`.
pub fn symlinkat(target: &OsStr, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let t = cpath(target)?;
    let n = cpath(name)?;
    // SAFETY: both are valid C strings.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// `unlinkat(dir, name, flags)` (AT_REMOVEDIR for a directory); never follows a symlink.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, flags: i32) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: n is a valid C string.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), flags) }).map(drop)
}

/// The target of symlink `name` in `dir`, or None when it is not a symlink.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<std::ffi::OsString>> {
    match nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name) {
        Ok(t) => Ok(Some(t)),
        Err(nix::errno::Errno::EINVAL) => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// The `/proc/self/fd/N` path of an fd, for the few syscalls that only take a path.
pub fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}
