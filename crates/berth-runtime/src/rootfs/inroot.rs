//! Opening and creating paths inside the container rootfs through a directory fd that can
//! not be escaped: every lookup is `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative
//! to the rootfs fd, so "..", absolute symlinks and /proc magic links all stay inside it, and
//! every missing entry is created by name relative to an in-root opened parent fd.

use berth_sys::path::{
    cpath, mkdirat, open_in_root, openat2, readlinkat, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed while creating one path before giving up, as the kernel's ELOOP limit.
const MAX_SYMLINKS: usize = 40;

/// What to create for the last component of a missing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// The components of `path` that matter for lookup: names and "..", not "/" or ".".
pub fn lookup_components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Opens `path` (taken as inside the root) as O_PATH; ENOENT when it does not exist.
pub fn open(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    open_in_root(root, path.as_os_str())
}

/// Opens `path` (taken as inside the root) as O_PATH; None when it does not exist.
pub fn open_existing(root: BorrowedFd<'_>, path: &Path) -> io::Result<Option<OwnedFd>> {
    match open(root, path) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `path` inside the root, creating what is missing: directories (mode 0755) and, for
/// the last component, a directory or an empty file (0644) as `kind` says. A dangling
/// symlink on the way is followed the way the kernel would, inside the root, and its target
/// created; nothing is ever created outside the root.
pub fn open_or_create(root: BorrowedFd<'_>, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let mut pending = lookup_components(path);
    let mut prefix = PathBuf::from("/");
    let mut parent = open_in_root(root, OsStr::new("/"))?;
    let mut followed = 0;
    while let Some(name) = pending.pop_front() {
        let candidate = prefix.join(&name);
        // Existing, or created now (EEXIST: raced, or a dangling symlink, see below).
        let found = match open_existing(root, &candidate)? {
            Some(fd) => Some(fd),
            None => {
                let created = if pending.is_empty() && kind == Kind::File {
                    berth_sys::tree::create_new_file_at(parent.as_fd(), &name, 0o644).map(drop)
                } else {
                    mkdirat(parent.as_fd(), &name, 0o755)
                };
                match created {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e),
                    _ => open_existing(root, &candidate)?,
                }
            }
        };
        if let Some(fd) = found {
            parent = fd;
            prefix = candidate;
            continue;
        }
        // The entry exists yet does not resolve: a dangling symlink. Continue with its
        // target (relative to the symlink's directory, or to the root when absolute).
        let Some(target) = readlinkat(parent.as_fd(), &name)? else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = PathBuf::from(target);
        if target.is_absolute() {
            prefix = PathBuf::from("/");
            parent = open_in_root(root, OsStr::new("/"))?;
        }
        for c in lookup_components(&target).into_iter().rev() {
            pending.push_front(c);
        }
    }
    Ok(parent)
}

/// Like [`open_or_create`], but the final fd is opened with RESOLVE_NO_SYMLINKS: fails with
/// ELOOP when any component of `path` is a symlink (for kernel filesystems like proc and
/// sysfs, whose destination must be the real directory, never a redirect).
pub fn open_or_create_no_symlinks(
    root: BorrowedFd<'_>,
    path: &Path,
    kind: Kind,
) -> io::Result<OwnedFd> {
    let p = cpath(path.as_os_str())?;
    let how = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    match openat2(root.as_raw_fd(), &p, libc::O_PATH, 0, how) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            drop(open_or_create(root, path, kind)?);
            openat2(root.as_raw_fd(), &p, libc::O_PATH, 0, how)
        }
        r => r,
    }
}

/// Opens (creating as directories) the parent of `path` inside the root and returns it with
/// the last component's name, for work done by name in that directory (mknod, symlink).
pub fn open_parent(root: BorrowedFd<'_>, path: &Path) -> io::Result<(OwnedFd, OsString)> {
    let mut comps = lookup_components(path);
    let name = match comps.pop_back() {
        Some(n) if n != ".." => n,
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    let parent_path: PathBuf = comps.iter().collect();
    let parent = open_or_create(root, &parent_path, Kind::Dir)?;
    Ok((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_skip_root_and_dot() {
        let c: Vec<_> = lookup_components(Path::new("/a/./b/../c/"))
            .into_iter()
            .collect();
        assert_eq!(c, vec!["a", "b", "..", "c"]);
        assert!(lookup_components(Path::new("/")).is_empty());
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-inroot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir scratch");
        d
    }

    fn root_fd(p: &Path) -> OwnedFd {
        berth_sys::path::open_path(p.as_os_str(), libc::O_PATH | libc::O_DIRECTORY)
            .expect("open root")
    }

    #[test]
    fn creates_dirs_and_files_inside() {
        let d = scratch("create");
        let root = root_fd(&d);
        open_or_create(root.as_fd(), Path::new("/x/y/z"), Kind::Dir).expect("mkdir");
        assert!(d.join("x/y/z").is_dir());
        open_or_create(root.as_fd(), Path::new("/x/f"), Kind::File).expect("file");
        assert!(d.join("x/f").is_file());
        // open_existing: missing is None, other failures (through a file: ENOTDIR) are errors.
        let existing = |p: &str| open_existing(root.as_fd(), Path::new(p));
        assert!(existing("/x/y/z").expect("exists").is_some());
        assert!(existing("/x/nope").expect("missing").is_none());
        let e = existing("/x/f/g").expect_err("through a file");
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        // ".." cannot climb out of the root.
        open_or_create(root.as_fd(), Path::new("/../../w"), Kind::Dir).expect("dotdot");
        assert!(d.join("w").is_dir());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let d = scratch("symlink");
        let outside = scratch("symlink-outside");
        let root = root_fd(&d);
        // An absolute symlink to a host path and a relative one climbing out.
        std::os::unix::fs::symlink(&outside, d.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../../../victim", d.join("rel")).expect("symlink");
        open_or_create(root.as_fd(), Path::new("/abs/sub"), Kind::Dir).expect("abs");
        open_or_create(root.as_fd(), Path::new("/rel"), Kind::File).expect("rel");
        assert!(std::fs::read_dir(&outside)
            .expect("read outside")
            .next()
            .is_none());
        // The targets were created inside the root instead.
        assert!(d
            .join(outside.strip_prefix("/").expect("abs"))
            .join("sub")
            .is_dir());
        assert!(d.join("victim").is_file());
        // A lookup through /proc's magic links is refused.
        std::os::unix::fs::symlink("/proc/self/root", d.join("magic")).expect("symlink");
        assert!(open(root.as_fd(), Path::new("/magic/etc")).is_err());
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn no_symlinks_variant() {
        let d = scratch("nosym");
        let root = root_fd(&d);
        std::fs::create_dir_all(d.join("real")).expect("mkdir");
        std::os::unix::fs::symlink("real", d.join("proc")).expect("symlink");
        let e = open_or_create_no_symlinks(root.as_fd(), Path::new("/proc"), Kind::Dir)
            .expect_err("symlink");
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        open_or_create_no_symlinks(root.as_fd(), Path::new("/sys/fs"), Kind::Dir).expect("created");
        assert!(d.join("sys/fs").is_dir());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn parent_and_name() {
        let d = scratch("parent");
        let root = root_fd(&d);
        let (_p, name) = open_parent(root.as_fd(), Path::new("/dev/sub/null")).expect("parent");
        assert_eq!(name, "null");
        assert!(d.join("dev/sub").is_dir());
        assert!(open_parent(root.as_fd(), Path::new("/")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
