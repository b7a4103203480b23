//! Building a directory tree from untrusted input (an image layer): every call takes a directory
//! fd plus one path component (or a path resolved with `RESOLVE_IN_ROOT`), never a host path, and
//! none follows a symlink in the final component, so nothing here can be talked into touching
//! files outside the tree. An empty name means the directory fd itself where the call allows it.
//! Free of policy: which call to make when is the caller's business.

use crate::path::{
    cpath, fstat, lstat_at, openat2, unlinkat, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
};
use crate::ret::cvt;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// `name`, or "." for the empty name (calls that cannot take AT_EMPTY_PATH).
fn dot_if_empty(name: &OsStr) -> &OsStr {
    if name.is_empty() {
        OsStr::new(".")
    } else {
        name
    }
}

/// AT_SYMLINK_NOFOLLOW, plus AT_EMPTY_PATH when `name` is empty (the fd itself).
fn nofollow_flags(name: &OsStr) -> i32 {
    if name.is_empty() {
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    }
}

/// Opens `path` as seen from inside `root` with `flags` (O_CLOEXEC is added): `..`, absolute and
/// relative symlinks can never climb out of it (the kernel treats `root` as `/`), and /proc magic
/// links are refused. The empty path opens `root` itself.
pub fn open_in_root_with(root: BorrowedFd<'_>, path: &OsStr, flags: i32) -> io::Result<OwnedFd> {
    let p = cpath(dot_if_empty(path))?;
    openat2(
        root.as_raw_fd(),
        &p,
        flags,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens one entry of `dir` with `flags` and `mode`, never following a symlink in its place
/// (O_NOFOLLOW and O_CLOEXEC are added).
pub fn open_nofollow_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let n = cpath(name)?;
    // SAFETY: n is a valid C string; O_NOFOLLOW keeps a planted symlink from redirecting the open.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            n.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates a new regular file `name` in `dir` open for writing; fails with EEXIST if anything
/// (a symlink included) already has the name.
pub fn create_new_file_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<File> {
    let fd = open_nofollow_at(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        mode,
    )?;
    Ok(File::from(fd))
}

/// Hard-links `old_dir/old_name` (not following a symlink there) to `new_dir/new_name`.
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
) -> io::Result<()> {
    let o = cpath(old_name)?;
    let n = cpath(new_name)?;
    // SAFETY: both names are valid C strings; flags 0 means no symlink following.
    cvt(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `lstat` of one entry of `dir`; the empty name stats `dir` itself.
pub fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    if name.is_empty() {
        fstat(dir)
    } else {
        lstat_at(dir, name)
    }
}

/// chown of one entry of `dir` (the empty name: `dir` itself) without following a symlink: a
/// symlink gets its own owner changed, not its target's.
pub fn lchown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: n is a valid C string; AT_SYMLINK_NOFOLLOW changes a symlink itself.
    cvt(unsafe { libc::fchownat(dir.as_raw_fd(), n.as_ptr(), uid, gid, nofollow_flags(name)) })
        .map(drop)
}

/// chmod of an entry of `dir` (the empty name: `dir` itself) that the caller knows is not a
/// symlink: fchmodat cannot refuse to follow one.
pub fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cpath(dot_if_empty(name))?;
    // SAFETY: n is a valid C string.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), mode as libc::mode_t, 0) }).map(drop)
}

/// chmod of an open file or directory.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd; no memory is passed.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) }).map(drop)
}

/// Sets atime and mtime, each `(seconds, nanoseconds)`, of one entry of `dir` (the empty name:
/// `dir` itself) without following a symlink.
pub fn utimens_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    atime: (i64, i64),
    mtime: (i64, i64),
) -> io::Result<()> {
    let n = cpath(name)?;
    let ts = [atime, mtime].map(|(sec, nsec)| libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    });
    // SAFETY: n is a valid C string and ts an array of two timespecs, as utimensat expects.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            n.as_ptr(),
            ts.as_ptr(),
            nofollow_flags(name),
        )
    })
    .map(drop)
}

/// The entry names of directory `dir` (without `.` and `..`).
pub fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    // A fresh open: the directory stream must not share its offset with `dir`.
    let fd = open_nofollow_at(dir, OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut d = nix::dir::Dir::from_fd(fd.into_raw_fd()).map_err(io::Error::from)?;
    let mut out = Vec::new();
    for ent in d.iter() {
        let ent = ent.map_err(io::Error::from)?;
        let b = ent.file_name().to_bytes();
        if b != b"." && b != b".." {
            out.push(OsStr::from_bytes(b).to_os_string());
        }
    }
    Ok(out)
}

/// Removes one entry of `dir`, recursing into directories; a missing entry is no error. Never
/// follows symlinks: a symlink is removed as itself, and subdirectories are opened with
/// O_NOFOLLOW relative to their parent.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match unlinkat(dir, name, 0) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let sub = open_nofollow_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for child in read_dir_names(sub.as_fd())? {
        remove_all_at(sub.as_fd(), &child)?;
    }
    unlinkat(dir, name, libc::AT_REMOVEDIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_removes_a_tree_without_leaving_it() {
        let d = std::env::temp_dir().join(format!("berth-sys-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("root")).unwrap();
        std::fs::write(d.join("outside"), b"x").unwrap();
        let root = File::open(d.join("root")).unwrap();
        let root = root.as_fd();
        crate::path::mkdirat(root, OsStr::new("a"), 0o755).unwrap();
        crate::path::symlinkat(OsStr::new("../../outside"), root, OsStr::new("up")).unwrap();
        // The symlink resolves inside the root, where there is no "outside".
        let err = open_in_root_with(root, OsStr::new("up"), libc::O_RDONLY).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        let a = open_in_root_with(root, OsStr::new("a"), libc::O_PATH | libc::O_DIRECTORY).unwrap();
        create_new_file_at(a.as_fd(), OsStr::new("f"), 0o600).unwrap();
        let again = create_new_file_at(a.as_fd(), OsStr::new("f"), 0o600).unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
        linkat(a.as_fd(), OsStr::new("f"), root, OsStr::new("h")).unwrap();
        utimens_at(root, OsStr::new("up"), (5, 0), (7, 0)).unwrap();
        assert_eq!(stat_at(root, OsStr::new("up")).unwrap().st_mtime, 7);
        let mut names = read_dir_names(root).unwrap();
        names.sort();
        assert_eq!(names, ["a", "h", "up"]);
        remove_all_at(root, OsStr::new("a")).unwrap();
        remove_all_at(root, OsStr::new("up")).unwrap();
        remove_all_at(root, OsStr::new("missing")).unwrap();
        assert_eq!(read_dir_names(root).unwrap(), ["h"]);
        assert_eq!(std::fs::read(d.join("outside")).unwrap(), b"x");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
