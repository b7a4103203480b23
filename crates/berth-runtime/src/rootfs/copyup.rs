//! `tmpcopyup` (runc's and crun's mount extension, which podman puts on every tmpfs of
//! `--read-only` and `--tmpfs`): the image's content of the directory a tmpfs covers is copied
//! into the new tmpfs before it is attached, so the container sees the same files, writable.
//!
//! The source is the untrusted rootfs: the copy walks it from the opened target directory one
//! name at a time and never follows a symlink (every open is `O_NOFOLLOW` relative to its
//! parent, symlinks are copied as symlinks), so nothing outside the rootfs can be read. Modes,
//! owners, symlinks, device nodes, fifos and sockets are kept; hard links become copies.

use berth_sys::path::{lstat_at, mkdirat, mknodat, readlinkat, symlinkat};
use berth_sys::tree::{chmod_at, create_new_file_at, lchown_at, open_nofollow_at, read_dir_names};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// A copy that failed: the entry (relative to the covered directory) and the kernel's error.
#[derive(Debug)]
pub(crate) struct CopyError {
    pub(crate) path: OsString,
    pub(crate) source: io::Error,
}

/// Copies the content of directory `src` into directory `dst` (both fds; `src` may be O_PATH).
pub(crate) fn copy_dir_content(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), CopyError> {
    copy_children(src, dst, OsStr::new(""))
}

fn copy_children(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, rel: &OsStr) -> Result<(), CopyError> {
    let at = |path: &OsStr| {
        let path = path.to_os_string();
        move |source| CopyError { path, source }
    };
    for name in read_dir_names(src).map_err(at(rel))? {
        let mut path = rel.to_os_string();
        if !path.is_empty() {
            path.push("/");
        }
        path.push(&name);
        let st = lstat_at(src, &name).map_err(at(&path))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            // The content first, the owner and mode last: a read-only directory can be
            // filled, and chown cannot clear a setgid bit set before it.
            mkdirat(dst, &name, 0o700).map_err(at(&path))?;
            let s = open_nofollow_at(src, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(at(&path))?;
            let d = open_nofollow_at(dst, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(at(&path))?;
            copy_children(s.as_fd(), d.as_fd(), &path)?;
        } else {
            copy_leaf(src, dst, &name, &st).map_err(at(&path))?;
        }
        lchown_at(dst, &name, st.st_uid, st.st_gid).map_err(at(&path))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            chmod_at(dst, &name, st.st_mode & 0o7777).map_err(at(&path))?;
        }
    }
    Ok(())
}

/// Creates the copy of one entry that is not a directory (its owner and mode come after).
fn copy_leaf(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &OsStr,
    st: &libc::stat,
) -> io::Result<()> {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => {
            let s = open_nofollow_at(src, name, libc::O_RDONLY, 0)?;
            let mut d = create_new_file_at(dst, name, 0o600)?;
            io::copy(&mut File::from(s), &mut d).map(drop)
        }
        libc::S_IFLNK => {
            // None only for a non-symlink, which lstat just ruled out.
            let target =
                readlinkat(src, name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
            symlinkat(&target, dst, name)
        }
        // Device nodes, fifos and sockets: the same node.
        _ => mknodat(dst, name, st.st_mode, st.st_rdev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sys::path::open_path;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copies_files_dirs_symlinks_and_modes_without_following_links() {
        let base = std::env::temp_dir().join(format!("berth-copyup-{}", std::process::id()));
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("sub/deep")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("sub/deep/f"), b"hello").unwrap();
        std::fs::set_permissions(
            src.join("sub/deep/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        // Links out of the tree are copied as links, never through.
        std::os::unix::fs::symlink("/etc", src.join("out")).unwrap();
        std::os::unix::fs::symlink("../../etc/passwd", src.join("sub/up")).unwrap();
        let s = open_path(src.as_os_str(), libc::O_PATH | libc::O_DIRECTORY).unwrap();
        let d = open_path(dst.as_os_str(), libc::O_PATH | libc::O_DIRECTORY).unwrap();
        copy_dir_content(s.as_fd(), d.as_fd()).unwrap();
        assert_eq!(std::fs::read(dst.join("sub/deep/f")).unwrap(), b"hello");
        let m = |p: &str| std::fs::symlink_metadata(dst.join(p)).unwrap();
        assert_eq!(m("sub/deep/f").mode() & 0o7777, 0o640);
        assert_eq!(m("sub").mode() & 0o7777, 0o1777);
        assert_eq!(m("sub").uid(), std::fs::metadata(&src).unwrap().uid());
        assert!(m("out").file_type().is_symlink());
        assert_eq!(
            std::fs::read_link(dst.join("out")).unwrap().to_str(),
            Some("/etc")
        );
        assert_eq!(
            std::fs::read_link(dst.join("sub/up")).unwrap().to_str(),
            Some("../../etc/passwd")
        );
        // A name that already exists in the destination is an error naming the entry.
        let e = copy_dir_content(s.as_fd(), d.as_fd()).unwrap_err();
        assert_eq!(e.source.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(
            e.path.to_str().map(|p| p == "sub" || p == "out"),
            Some(true)
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
