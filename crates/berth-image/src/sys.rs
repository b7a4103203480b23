//! Thin wrappers over the `*at` syscalls the layer applier uses. Every function takes a directory
//! fd plus a single path component (or a path resolved with `RESOLVE_IN_ROOT`), never an absolute
//! host path, so nothing here can be talked into touching files outside the rootfs. Kept free of
//! policy so the applier's logic can be read (and unit-tested) separately.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn owned(ret: libc::c_int) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// Opens a host directory (the rootfs itself) to anchor all later `*at` calls.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let p = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: p is a valid NUL-terminated string; the flags ask for a plain directory fd.
    owned(unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` as seen from inside `root`: `..`, absolute symlinks and relative symlinks can
/// never climb out of it (the kernel treats `root` as `/`), and /proc magic links are refused.
pub fn open_in_root(root: BorrowedFd<'_>, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let p = cstr(if path.is_empty() { b"." } else { path })?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` is a properly laid out struct open_how of the size passed; p is NUL-terminated.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    owned(ret as libc::c_int)
}

/// Opens one entry of `dir` without following a symlink in its place.
pub fn open_at(dir: BorrowedFd<'_>, name: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let n = cstr(name)?;
    // SAFETY: n is NUL-terminated; O_NOFOLLOW keeps a planted symlink from redirecting the open.
    owned(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            n.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    })
}

/// Creates a new regular file, failing if anything (including a symlink) already has the name.
pub fn create_file(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<File> {
    let fd = open_at(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        mode,
    )?;
    Ok(File::from(fd))
}

pub fn mkdir_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: n is NUL-terminated; mkdirat never follows a final symlink.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode) })
}

pub fn symlink_at(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let t = cstr(target)?;
    let n = cstr(name)?;
    // SAFETY: both strings are NUL-terminated. The target is stored verbatim, never resolved here.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) })
}

/// Hard-links `old_dir/old_name` (not following a symlink there) to `new_dir/new_name`.
pub fn link_at(
    old_dir: BorrowedFd<'_>,
    old_name: &[u8],
    new_dir: BorrowedFd<'_>,
    new_name: &[u8],
) -> io::Result<()> {
    let o = cstr(old_name)?;
    let n = cstr(new_name)?;
    // SAFETY: both names are NUL-terminated single components; flags 0 means no symlink following.
    check(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            0,
        )
    })
}

pub fn mknod_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32, dev: u64) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: n is NUL-terminated; mknodat does not follow symlinks.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), n.as_ptr(), mode, dev) })
}

pub fn unlink_at(dir: BorrowedFd<'_>, name: &[u8], is_dir: bool) -> io::Result<()> {
    let n = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: n is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), flags) })
}

/// `lstat` of one entry of `dir` (an empty name means `dir` itself).
pub fn stat_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<libc::stat> {
    let n = cstr(name)?;
    let mut flags = libc::AT_SYMLINK_NOFOLLOW;
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: an all-zero stat is a valid value for the kernel to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: n is NUL-terminated and st is a valid, writable stat buffer.
    check(unsafe { libc::fstatat(dir.as_raw_fd(), n.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub fn chown_at(dir: BorrowedFd<'_>, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let n = cstr(name)?;
    let mut flags = libc::AT_SYMLINK_NOFOLLOW;
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: n is NUL-terminated; AT_SYMLINK_NOFOLLOW changes a symlink itself, not its target.
    check(unsafe { libc::fchownat(dir.as_raw_fd(), n.as_ptr(), uid, gid, flags) })
}

/// chmod of an entry that is known not to be a symlink (fchmodat cannot skip symlinks itself).
pub fn chmod_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let n = cstr(if name.is_empty() { b"." } else { name })?;
    // SAFETY: n is NUL-terminated; callers only pass names they just created as non-symlinks.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), mode, 0) })
}

pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
}

/// Sets atime and mtime of one entry without following a symlink.
pub fn set_times_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    atime: (i64, i64),
    mtime: (i64, i64),
) -> io::Result<()> {
    let n = cstr(name)?;
    let ts = [
        libc::timespec {
            tv_sec: atime.0 as libc::time_t,
            tv_nsec: atime.1 as _,
        },
        libc::timespec {
            tv_sec: mtime.0 as libc::time_t,
            tv_nsec: mtime.1 as _,
        },
    ];
    let mut flags = libc::AT_SYMLINK_NOFOLLOW;
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: n is NUL-terminated and ts is an array of two timespecs as utimensat expects.
    check(unsafe { libc::utimensat(dir.as_raw_fd(), n.as_ptr(), ts.as_ptr(), flags) })
}

/// Sets an xattr on an open fd (regular files and directories).
pub fn fsetxattr(fd: BorrowedFd<'_>, key: &[u8], value: &[u8]) -> io::Result<()> {
    let k = cstr(key)?;
    // SAFETY: k is NUL-terminated; value points to value.len() readable bytes.
    check(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// `setxattrat(2)` (Linux 6.13+) has the same number on every architecture.
const SYS_SETXATTRAT: libc::c_long = 463;

#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// Sets an xattr on one entry of `dir` without following a symlink there: for symlinks, devices
/// and fifos, which cannot (or must not) be opened for I/O. Uses `setxattrat`; on older kernels
/// a fifo is opened non-blocking instead, and anything else reports ENOTSUP.
pub fn set_xattr_at(dir: BorrowedFd<'_>, name: &[u8], key: &[u8], value: &[u8]) -> io::Result<()> {
    let n = cstr(name)?;
    let k = cstr(key)?;
    let args = XattrArgs {
        value: value.as_ptr() as u64,
        size: value.len() as u32,
        flags: 0,
    };
    // SAFETY: n and k are NUL-terminated; args is a struct xattr_args of the size passed, whose
    // value pointer covers value.len() readable bytes for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            SYS_SETXATTRAT,
            dir.as_raw_fd(),
            n.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            k.as_ptr(),
            &args as *const XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    if stat_at(dir, name)?.st_mode & libc::S_IFMT == libc::S_IFIFO {
        let fd = open_at(dir, name, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
        return fsetxattr(std::os::fd::AsFd::as_fd(&fd), key, value);
    }
    Err(io::Error::from_raw_os_error(libc::ENOTSUP))
}

/// Reads a directory's entry names (without `.` and `..`) from a dir fd.
pub fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = open_at(dir, b".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut d =
        nix::dir::Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)).map_err(io::Error::from)?;
    let mut out = Vec::new();
    for ent in d.iter() {
        let ent = ent.map_err(io::Error::from)?;
        let name: &CStr = ent.file_name();
        let b = name.to_bytes();
        if b != b"." && b != b".." {
            out.push(b.to_vec());
        }
    }
    Ok(out)
}

/// Removes one entry of `dir`, recursing into directories. Never follows symlinks: a symlink is
/// removed as itself, and subdirectories are opened with O_NOFOLLOW relative to their parent.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match unlink_at(dir, name, false) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let sub = open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for child in read_dir_names(std::os::fd::AsFd::as_fd(&sub))? {
        remove_all_at(std::os::fd::AsFd::as_fd(&sub), &child)?;
    }
    unlink_at(dir, name, true)
}

/// Lists xattrs of a host path without following symlinks (used by `inspect`-style checks and tests).
pub fn list_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let p = cstr(path.as_os_str().as_bytes())?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: p is NUL-terminated and buf has buf.len() writable bytes.
    let n = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    for key in buf[..n as usize]
        .split(|&b| b == 0)
        .filter(|k| !k.is_empty())
    {
        let k = cstr(key)?;
        let mut val = vec![0u8; 65536];
        // SAFETY: k is NUL-terminated and val has val.len() writable bytes.
        let m =
            unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), val.as_mut_ptr().cast(), val.len()) };
        if m < 0 {
            return Err(io::Error::last_os_error());
        }
        val.truncate(m as usize);
        out.push((String::from_utf8_lossy(key).into_owned(), val));
    }
    out.sort();
    Ok(out)
}

/// Punches nothing: moves the file offset forward so a sparse hole stays unallocated.
pub fn seek_forward(f: &File, by: u64) -> io::Result<()> {
    // SAFETY: plain lseek on a valid fd.
    let r = unsafe { libc::lseek(f.as_raw_fd(), by as libc::off_t, libc::SEEK_CUR) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn os(s: &[u8]) -> &OsStr {
    OsStr::from_bytes(s)
}
