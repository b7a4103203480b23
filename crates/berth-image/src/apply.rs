//! Applies one uncompressed layer tar to a rootfs directory fd.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)` from the rootfs fd, and the final
//! component is then handled with `*at` calls that never follow symlinks, so neither `..`, nor an
//! absolute or relative symlink planted by an earlier entry or layer, can make us create, link or
//! change anything outside the rootfs. Whiteouts and opaque markers follow the OCI image spec.

use crate::entry_path::{self, Kind};
use crate::error::{ImageError, Result};
use crate::ext;
use crate::idmap::IdMap;
use crate::meta::{self, Meta, Ownership};
use berth_sys::{path, tree};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to apply ownership and special files, and when to stop. Construct with `default()` and
/// set the fields that matter.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Not running as root: skip device nodes, and record ownership in the
    /// `user.rootlesscontainers` xattr (as umoci does) instead of chowning, unless maps are given.
    pub rootless: bool,
    /// Container uid → host uid for chown; empty: the identity.
    pub uid_map: IdMap,
    /// Container gid → host gid for chown; empty: the identity.
    pub gid_map: IdMap,
    /// Set (from a signal handler, say) to stop at the next entry; the unpack then fails with
    /// [`ImageError::Cancelled`] and cleans up.
    pub cancel: Option<&'static AtomicBool>,
    /// Where a layer has a directory and the rootfs already has a symlink that resolves (inside
    /// the rootfs) to a directory, keep the symlink and give its target the entry's metadata,
    /// instead of replacing the symlink with a new directory (umoci's and rsync's
    /// `--keep-dirlinks`).
    pub keep_dirlinks: bool,
}

/// What applying a layer did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ApplyStats {
    /// Tar entries processed (whiteouts and skipped entries included).
    pub entries: u64,
    /// Bytes of regular-file data written.
    pub bytes: u64,
    /// What could not be applied as the image asked and was done another way or skipped
    /// (device nodes when rootless, xattrs the filesystem refused, unknown entry types).
    pub warnings: Vec<String>,
}

/// How a regular file's data is laid out in its entry.
enum Layout {
    /// As it is.
    Dense,
    /// Old GNU sparse: expanded by the tar crate; runs of zeros become holes again.
    ZeroHoles,
    /// GNU PAX sparse: the packed regions of `map` (`None`: the map leads the data, format
    /// 1.0), in a file of `size` bytes.
    Sparse {
        map: Option<Vec<ext::Region>>,
        size: u64,
    },
}

/// The target of a symlink kept by [`ApplyOptions::keep_dirlinks`].
struct KeptDirlink {
    /// The symlink's path (for errors).
    path: Vec<u8>,
    /// The target, open O_PATH.
    fd: OwnedFd,
    /// Its (atime, mtime) before this layer first reached it.
    times: (ext::Time, ext::Time),
    /// Its (device, inode): a target reached through two symlinks is recorded once.
    id: (u64, u64),
}

/// State for applying a single layer.
struct Applier<'a> {
    root: BorrowedFd<'a>,
    opts: &'a ApplyOptions,
    layer: String,
    /// Last parent directory opened: tar streams list a directory's entries together, so this
    /// saves one openat2 per entry (shared, not dup'ed: that would cost a dup and a close).
    /// Dropped whenever something is removed.
    parent_cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    /// Paths this layer created; an opaque marker must not hide them.
    seen: HashSet<Vec<u8>>,
    /// Directory (atime, mtime)s, set once all entries are in (creating children changes
    /// them).
    dir_times: Vec<(Vec<u8>, (ext::Time, ext::Time))>,
    /// The targets of symlinks kept by [`ApplyOptions::keep_dirlinks`]: their times are put
    /// back last, as those in `touched`.
    dirlink_times: Vec<KeptDirlink>,
    /// (atime, mtime) of each directory this layer changes (creates or removes something in)
    /// before it first does: restored at the end unless the layer has an entry for it, so a
    /// lower layer's directory keeps its times, as umoci keeps them.
    touched: HashMap<Vec<u8>, (ext::Time, ext::Time)>,
    buf: Vec<u8>,
    stats: ApplyStats,
}

/// Applies the tar stream `tar` (already decompressed) to the rootfs directory open at `root`.
/// `layer` (the digest) is only used to name errors and warnings.
///
/// Every path is resolved inside `root`; entries that would reach outside it are refused with
/// [`ImageError::Unsafe`]. Whiteouts and opaque markers remove what earlier layers put there.
pub fn apply_layer(
    root: BorrowedFd<'_>,
    tar: impl Read,
    layer: &str,
    opts: &ApplyOptions,
) -> Result<ApplyStats> {
    let mut a = Applier::new(root, layer, opts);
    a.apply(tar)?;
    Ok(a.stats)
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

impl<'a> Applier<'a> {
    fn new(root: BorrowedFd<'a>, layer: &str, opts: &'a ApplyOptions) -> Applier<'a> {
        Applier {
            root,
            opts,
            layer: layer.to_string(),
            parent_cache: None,
            seen: HashSet::new(),
            dir_times: Vec::new(),
            dirlink_times: Vec::new(),
            touched: HashMap::new(),
            buf: vec![0u8; 256 * 1024],
            stats: ApplyStats::default(),
        }
    }

    fn entry_err(&self, entry: &[u8], e: io::Error) -> ImageError {
        ImageError::from_io_in_layer(&self.layer, Some(&lossy(entry)), e)
    }

    fn unsafe_err(&self, entry: &[u8], reason: &'static str) -> ImageError {
        ImageError::Unsafe {
            layer: self.layer.clone(),
            entry: lossy(entry),
            reason,
        }
    }

    fn warn(&mut self, msg: String) {
        self.stats.warnings.push(msg);
    }

    fn apply(&mut self, mut tar: impl Read) -> Result<()> {
        {
            let mut archive = tar::Archive::new(&mut tar);
            let entries = archive
                .entries()
                .map_err(|e| ImageError::from_io_in_layer(&self.layer, None, e))?;
            for entry in entries {
                if self.opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(ImageError::Cancelled);
                }
                let entry =
                    entry.map_err(|e| ImageError::from_io_in_layer(&self.layer, None, e))?;
                self.entry(entry)?;
                self.stats.entries += 1;
            }
        }
        // Read whatever follows the end-of-archive marker: the digest checks sit at the end of the
        // stream, and a layer must not count as good until they have run.
        io::copy(&mut tar, &mut io::sink())
            .map_err(|e| ImageError::from_io_in_layer(&self.layer, None, e))?;
        self.finish_dir_times()
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let mut raw = entry.path_bytes().into_owned();
        let mut ext = ext::read(&mut entry).map_err(|e| self.entry_err(&raw, e))?;
        let etype = entry.header().entry_type();
        // Old GNU sparse entries ('S') carry their map in the header; the tar crate expands
        // them. PAX sparse records on them mean nothing (as for Go).
        let sparse = if etype == tar::EntryType::GNUSparse {
            None
        } else {
            ext.sparse.take()
        };
        if let Some(s) = &sparse {
            if !matches!(etype, tar::EntryType::Regular | tar::EntryType::Continuous) {
                return Err(self.entry_err(
                    &raw,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        ext::Malformed(format!("GNU sparse records on a {etype:?} entry")),
                    ),
                ));
            }
            if let Some(name) = &s.name {
                raw.clone_from(name);
            }
        }
        let path = entry_path::clean(&raw)
            .ok_or_else(|| self.unsafe_err(&raw, "path climbs out of the rootfs"))?;
        if !path.is_empty() {
            // Whiteouts carry no metadata worth parsing; handle them before anything else.
            let (parent, base) = entry_path::split(&path);
            match entry_path::kind(base) {
                Kind::Opaque => return self.opaque(parent, &raw),
                Kind::Whiteout(name) => return self.whiteout(parent, name, &raw),
                Kind::Normal => {}
            }
        }
        let meta = meta::read(entry.header(), &mut ext).map_err(|e| self.entry_err(&raw, e))?;
        if path.is_empty() {
            // The root directory's own entry ("./"): only its metadata applies.
            if etype.is_dir() {
                self.set_meta(self.root, b"", &meta, Some(self.root), true)
                    .map_err(|e| self.entry_err(&raw, e))?;
                self.dir_times.push((Vec::new(), (meta.atime, meta.mtime)));
            }
            return Ok(());
        }
        let (parent, base) = entry_path::split(&path);
        let dir = self.parent(parent).map_err(|e| self.entry_err(&raw, e))?;
        let dir = dir.as_fd();
        let res = match etype {
            tar::EntryType::Directory => match self.kept_dirlink(dir, base, &path) {
                // As umoci: the entry's owner and times go to the symlink itself; its target
                // keeps its own, which entries below the symlink must not move either.
                Some(target) => path::fstat(target.as_fd()).and_then(|st| {
                    let times = (
                        (st.st_atime, st.st_atime_nsec),
                        (st.st_mtime, st.st_mtime_nsec),
                    );
                    // The first symlink to reach it saw its times before this layer moved them.
                    let id = (st.st_dev, st.st_ino);
                    if !self.dirlink_times.iter().any(|d| d.id == id) {
                        self.dirlink_times.push(KeptDirlink {
                            path: path.clone(),
                            fd: target,
                            times,
                            id,
                        });
                    }
                    self.set_meta(dir, base, &meta, None, false)
                }),
                None => self.make_dir(dir, base, &meta).map(|()| {
                    self.dir_times
                        .push((path.clone(), (meta.atime, meta.mtime)))
                }),
            },
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let size = entry.size();
                let layout = match sparse {
                    Some(s) => Layout::Sparse {
                        map: match s.map {
                            ext::SparseMap::Records(m) => Some(m),
                            ext::SparseMap::InData => None,
                        },
                        size: s.size.unwrap_or(size),
                    },
                    None if etype == tar::EntryType::GNUSparse => Layout::ZeroHoles,
                    None => Layout::Dense,
                };
                self.make_file(dir, base, &meta, &mut entry, layout)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                self.replace(dir, base, |d, n| path::symlinkat(os(&target), d, os(n)))
                    .and_then(|()| self.set_meta(dir, base, &meta, None, false))
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                return self.hardlink(dir, base, &path, &target, &raw);
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (kind, ftype) = match etype {
                    tar::EntryType::Char => ("character device", libc::S_IFCHR),
                    tar::EntryType::Block => ("block device", libc::S_IFBLK),
                    _ => ("fifo", libc::S_IFIFO),
                };
                if self.opts.rootless && ftype != libc::S_IFIFO {
                    // Without CAP_MKNOD: leave an empty file in its place, as umoci does, so a
                    // runtime can still bind-mount the host's device over it.
                    self.warn(format!(
                        "layer {}: {kind} {:?} replaced by an empty file: not root",
                        self.layer,
                        lossy(&raw)
                    ));
                    let mut empty = io::empty();
                    let r = self.make_file(dir, base, &meta, &mut empty, Layout::Dense);
                    r.map_err(|e| self.entry_err(&raw, e))?;
                    self.seen.insert(path);
                    return Ok(());
                }
                let h = entry.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                let dev = libc::makedev(major, minor);
                self.replace(dir, base, |d, n| {
                    path::mknodat(d, os(n), ftype | (meta.mode & 0o7777), dev)
                })
                .and_then(|()| self.set_meta(dir, base, &meta, None, false))
            }
            other => {
                self.warn(format!(
                    "layer {}: skipping {:?}: unsupported tar entry type {other:?}",
                    self.layer,
                    lossy(&raw)
                ));
                return Ok(());
            }
        };
        res.map_err(|e| self.entry_err(&raw, e))?;
        self.seen.insert(path);
        Ok(())
    }

    /// Opens (creating as needed, like tar does) the directory `parent`, resolved inside the root.
    fn parent(&mut self, parent: &[u8]) -> io::Result<Rc<OwnedFd>> {
        if let Some((p, fd)) = &self.parent_cache {
            if p == parent {
                return Ok(Rc::clone(fd));
            }
        }
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let fd = match tree::open_in_root_with(self.root, os(parent), flags) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::ENOENT => {
                let mut cur = tree::open_in_root_with(self.root, os(b""), flags)?;
                let mut prefix: Vec<u8> = Vec::new();
                for comp in parent.split(|&b| b == b'/') {
                    let above = prefix.clone();
                    if !prefix.is_empty() {
                        prefix.push(b'/');
                    }
                    prefix.extend_from_slice(comp);
                    cur = match tree::open_in_root_with(self.root, os(&prefix), flags) {
                        Ok(fd) => fd,
                        Err(e) if errno(&e) == libc::ENOENT => {
                            self.note_dir(&above, cur.as_fd())?;
                            path::mkdirat(cur.as_fd(), os(comp), 0o755)?;
                            tree::open_nofollow_at(cur.as_fd(), os(comp), flags, 0)?
                        }
                        Err(e) => return Err(e),
                    };
                }
                cur
            }
            Err(e) => return Err(e),
        };
        self.note_dir(parent, fd.as_fd())?;
        let fd = Rc::new(fd);
        self.parent_cache = Some((parent.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }

    /// Records the times of the directory `path` (open at `fd`) the first time this layer is
    /// about to change it.
    fn note_dir(&mut self, path: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
        if !self.touched.contains_key(path) {
            let st = path::fstat(fd)?;
            let times = (
                (st.st_atime, st.st_atime_nsec),
                (st.st_mtime, st.st_mtime_nsec),
            );
            self.touched.insert(path.to_vec(), times);
        }
        Ok(())
    }

    /// Runs `create`; if the name is taken, removes what is there (never following a symlink)
    /// and tries once more. This is how a symlink gets replaced by a file or directory safely.
    fn replace(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        create: impl Fn(BorrowedFd<'_>, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        match create(dir, name) {
            Err(e) if errno(&e) == libc::EEXIST => {
                self.parent_cache = None;
                tree::remove_all_at(dir, os(name))?;
                create(dir, name)
            }
            r => r,
        }
    }

    /// With [`ApplyOptions::keep_dirlinks`]: the directory that the symlink `name` in `dir`
    /// (at `path`) leads to, resolved inside the root, opened for reading; `None` when
    /// `name` is not a symlink or does not lead to a directory (it is then replaced, as
    /// without the option). Opened O_PATH: only its times are set through it.
    fn kept_dirlink(&self, dir: BorrowedFd<'_>, name: &[u8], path: &[u8]) -> Option<OwnedFd> {
        if !self.opts.keep_dirlinks {
            return None;
        }
        let st = tree::stat_at(dir, os(name)).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            return None;
        }
        tree::open_in_root_with(self.root, os(path), libc::O_PATH | libc::O_DIRECTORY).ok()
    }

    fn make_dir(&mut self, dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> io::Result<()> {
        let n = os(name);
        match path::mkdirat(dir, n, 0o700) {
            Err(e) if errno(&e) == libc::EEXIST => {
                if !path::is_dir(&tree::stat_at(dir, n)?) {
                    // A symlink (or file) where a directory goes: replace it, never descend it.
                    self.parent_cache = None;
                    tree::remove_all_at(dir, n)?;
                    path::mkdirat(dir, n, 0o700)?;
                }
            }
            r => r?,
        }
        let fd = tree::open_nofollow_at(dir, n, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        self.set_meta(dir, name, meta, Some(fd.as_fd()), true)
    }

    fn make_file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        data: &mut R,
        layout: Layout,
    ) -> io::Result<()> {
        let mut f = match tree::create_new_file_at(dir, os(name), 0o600) {
            Err(e) if errno(&e) == libc::EEXIST => {
                self.parent_cache = None;
                tree::remove_all_at(dir, os(name))?;
                tree::create_new_file_at(dir, os(name), 0o600)?
            }
            r => r?,
        };
        let written = match layout {
            Layout::Dense => self.copy_data(data, &mut f, false)?,
            Layout::ZeroHoles => {
                let total = self.copy_data(data, &mut f, true)?;
                f.set_len(total)?;
                total
            }
            Layout::Sparse { map, size } => {
                let map = match map {
                    Some(m) => m,
                    None => ext::read_map_in_data(data)?,
                };
                ext::check_map(&map, size)?;
                self.copy_regions(data, &mut f, &map)?;
                f.set_len(size)?;
                map.iter().map(|r| r.1).sum()
            }
        };
        self.stats.bytes += written;
        self.set_meta(dir, name, meta, Some(f.as_fd()), false)
    }

    /// Writes the packed regions of a GNU PAX sparse entry at their offsets; what lies between
    /// them stays a hole. The data must hold exactly the bytes the map references (Go's rule).
    fn copy_regions<R: Read>(
        &mut self,
        data: &mut R,
        f: &mut File,
        map: &[ext::Region],
    ) -> io::Result<()> {
        for &(off, len) in map {
            if len == 0 {
                continue;
            }
            f.seek(SeekFrom::Start(off))?;
            let mut part = (&mut *data).take(len);
            let n = self.copy_data(&mut part, f, false)?;
            if n != len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    ext::Malformed(format!(
                        "GNU sparse map references {len} bytes at {off}, the entry holds {n}"
                    )),
                ));
            }
        }
        let mut probe = [0u8; 1];
        if data.read(&mut probe)? != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                ext::Malformed("GNU sparse entry holds data its map does not reference".into()),
            ));
        }
        Ok(())
    }

    /// Copies file data; with `holes`, all-zero reads become holes (the tar crate hands old
    /// GNU sparse entries over with their holes as separate reads of zeros).
    fn copy_data<R: Read>(&mut self, data: &mut R, f: &mut File, holes: bool) -> io::Result<u64> {
        let mut total = 0u64;
        let mut buf = std::mem::take(&mut self.buf);
        let res = (|| loop {
            let n = match data.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += n as u64;
            if holes && buf[..n].iter().all(|&b| b == 0) {
                // Leave a hole: move the offset on without writing.
                f.seek(SeekFrom::Current(n as i64))?;
            } else {
                f.write_all(&buf[..n])?;
            }
        })();
        self.buf = buf;
        res
    }

    fn hardlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        path: &[u8],
        target: &[u8],
        raw: &[u8],
    ) -> Result<()> {
        let tpath = entry_path::clean(target)
            .ok_or_else(|| self.unsafe_err(raw, "hardlink target climbs out of the rootfs"))?;
        if tpath.is_empty() {
            return Err(self.unsafe_err(raw, "hardlink to the rootfs itself"));
        }
        if tpath == path {
            return Ok(());
        }
        let (tparent, tbase) = entry_path::split(&tpath);
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let res = tree::open_in_root_with(self.root, os(tparent), flags).and_then(|tdir| {
            if path::is_dir(&tree::stat_at(tdir.as_fd(), os(tbase))?) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "hardlink target is a directory",
                ));
            }
            self.replace(dir, name, |d, n| {
                tree::linkat(tdir.as_fd(), os(tbase), d, os(n))
            })
        });
        res.map_err(|e| self.entry_err(raw, e))?;
        self.seen.insert(path.to_vec());
        Ok(())
    }

    /// The directory a whiteout entry (`raw`) removes from, opened with `flags` and its times
    /// noted for restoring; `None` when it does not exist, since whiting out something in a
    /// directory that does not exist is a no-op.
    fn whiteout_dir(
        &mut self,
        parent: &[u8],
        flags: libc::c_int,
        raw: &[u8],
    ) -> Result<Option<OwnedFd>> {
        self.parent_cache = None;
        let dir = match tree::open_in_root_with(self.root, os(parent), flags) {
            Ok(d) => d,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => return Ok(None),
            Err(e) => return Err(self.entry_err(raw, e)),
        };
        self.note_dir(parent, dir.as_fd())
            .map_err(|e| self.entry_err(raw, e))?;
        Ok(Some(dir))
    }

    fn whiteout(&mut self, parent: &[u8], name: &[u8], raw: &[u8]) -> Result<()> {
        if name.is_empty() || name == b"." || name == b".." {
            return Err(self.unsafe_err(raw, "malformed whiteout"));
        }
        let Some(dir) = self.whiteout_dir(parent, libc::O_PATH | libc::O_DIRECTORY, raw)? else {
            return Ok(());
        };
        tree::remove_all_at(dir.as_fd(), os(name)).map_err(|e| self.entry_err(raw, e))
    }

    fn opaque(&mut self, parent: &[u8], raw: &[u8]) -> Result<()> {
        let Some(dir) = self.whiteout_dir(parent, libc::O_RDONLY | libc::O_DIRECTORY, raw)? else {
            return Ok(());
        };
        let mut prefix = parent.to_vec();
        self.prune(dir.as_fd(), &mut prefix)
            .map_err(|e| self.entry_err(raw, e))
    }

    /// Removes everything under `dir` that this layer did not itself create.
    fn prune(&self, dir: BorrowedFd<'_>, prefix: &mut Vec<u8>) -> io::Result<()> {
        for child in tree::read_dir_names(dir)? {
            let len = prefix.len();
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(child.as_bytes());
            if !self.seen.contains(prefix.as_slice()) {
                tree::remove_all_at(dir, &child)?;
            } else if path::is_dir(&tree::stat_at(dir, &child)?) {
                let flags = libc::O_RDONLY | libc::O_DIRECTORY;
                let sub = tree::open_nofollow_at(dir, &child, flags, 0)?;
                self.prune(sub.as_fd(), prefix)?;
            }
            prefix.truncate(len);
        }
        Ok(())
    }

    fn set_meta(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        fd: Option<BorrowedFd<'_>>,
        is_dir: bool,
    ) -> io::Result<()> {
        let target = meta::Target {
            dir,
            name,
            fd,
            is_dir,
        };
        let owners = Ownership {
            rootless: self.opts.rootless,
            uid_map: &self.opts.uid_map,
            gid_map: &self.opts.gid_map,
        };
        meta::apply(
            &target,
            meta,
            &owners,
            &self.layer,
            &mut self.stats.warnings,
        )
    }

    fn finish_dir_times(&mut self) -> Result<()> {
        // Children first, so setting a parent's time is not undone by touching its child.
        let mut times = std::mem::take(&mut self.dir_times);
        let declared: HashSet<&[u8]> = times.iter().map(|t| t.0.as_slice()).collect();
        let mut restore: Vec<_> = std::mem::take(&mut self.touched)
            .into_iter()
            .filter(|(p, _)| !declared.contains(p.as_slice()))
            .collect();
        drop(declared);
        // A directory changed but not declared by this layer: only its times put back, and
        // only while it still is a directory.
        restore.retain(|(p, _)| {
            let (parent, base) = entry_path::split(p);
            p.is_empty()
                || tree::open_in_root_with(self.root, os(parent), libc::O_PATH | libc::O_DIRECTORY)
                    .and_then(|d| tree::stat_at(d.as_fd(), os(base)))
                    .is_ok_and(|st| path::is_dir(&st))
        });
        times.extend(restore);
        times.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        // A kept dirlink's target keeps the times it had (entries below the symlink changed
        // them), as umoci keeps them.
        let dirlinks = std::mem::take(&mut self.dirlink_times);
        for (path, (atime, mtime)) in times {
            let res = if path.is_empty() {
                tree::utimens_at(self.root, os(b""), atime, mtime)
            } else {
                let (parent, base) = entry_path::split(&path);
                let flags = libc::O_PATH | libc::O_DIRECTORY;
                tree::open_in_root_with(self.root, os(parent), flags)
                    .and_then(|d| tree::utimens_at(d.as_fd(), os(base), atime, mtime))
            };
            match res {
                // Removed again later in the same layer: nothing to date.
                Err(e) if errno(&e) == libc::ENOENT => {}
                r => r.map_err(|e| self.entry_err(&path, e))?,
            }
        }
        for d in dirlinks {
            let (atime, mtime) = d.times;
            tree::utimens_at(d.fd.as_fd(), os(b""), atime, mtime)
                .map_err(|e| self.entry_err(&d.path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sys::xattr::list_xattrs;

    #[test]
    fn rootless_owner_encoding() {
        use crate::meta::rootless_owner;
        assert_eq!(rootless_owner(0, 0), None);
        assert_eq!(rootless_owner(1000, 0).unwrap(), vec![0x08, 0xe8, 0x07]);
        assert_eq!(rootless_owner(0, 5).unwrap(), vec![0x10, 0x05]);
    }

    /// A header for an entry of type `kind` holding `size` bytes, owned by root, mtime 1.
    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_size(size);
        h
    }

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mode = if *kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            };
            let size = if *kind == tar::EntryType::Regular {
                data.len() as u64
            } else {
                0
            };
            let mut h = header(*kind, mode, size);
            if *kind == tar::EntryType::Symlink || *kind == tar::EntryType::Link {
                h.set_link_name(std::str::from_utf8(data).unwrap()).unwrap();
                b.append_data(&mut h, name, &[][..]).unwrap();
            } else {
                b.append_data(&mut h, name, *data).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("berth-apply-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn open_dir(d: &std::path::Path) -> File {
        File::open(d).unwrap()
    }

    /// A fresh rootfs directory, open, and options for a rootless apply.
    fn rootless_setup(tag: &str) -> (std::path::PathBuf, File, ApplyOptions) {
        let d = tmp(tag);
        let root = open_dir(&d);
        let opts = ApplyOptions {
            rootless: true,
            ..Default::default()
        };
        (d, root, opts)
    }

    #[test]
    fn opaque_marker_after_same_layer_children_keeps_them() {
        use tar::EntryType::*;
        let (d, root, opts) = rootless_setup("opq");
        let l1 = tar_of(&[
            ("dir/", Directory, b""),
            ("dir/old", Regular, b"old"),
            ("dir/sub/", Directory, b""),
            ("dir/sub/deep", Regular, b"d"),
        ]);
        apply_layer(root.as_fd(), &l1[..], "sha256:l1", &opts).unwrap();
        // The marker comes last in the tar; it must still only hide lower-layer content,
        // including lower content inside a directory this layer re-declares.
        let l2 = tar_of(&[
            ("dir/", Directory, b""),
            ("dir/new", Regular, b"new"),
            ("dir/sub/", Directory, b""),
            ("dir/.wh..wh..opq", Regular, b""),
        ]);
        apply_layer(root.as_fd(), &l2[..], "sha256:l2", &opts).unwrap();
        assert!(!d.join("dir/old").exists());
        assert!(!d.join("dir/sub/deep").exists());
        assert!(d.join("dir/sub").is_dir());
        assert_eq!(std::fs::read(d.join("dir/new")).unwrap(), b"new");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn whiteout_of_missing_path_is_a_noop_and_errors_name_the_entry() {
        use tar::EntryType::*;
        let (d, root, opts) = rootless_setup("wh");
        let l = tar_of(&[
            ("nodir/.wh.x", Regular, b""),
            ("f", Regular, b"f"),
            ("f/child", Regular, b"c"),
        ]);
        let e = apply_layer(root.as_fd(), &l[..], "sha256:abc", &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sha256:abc") && e.contains("f/child"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn xattrs_on_fifos_and_symlinks_land_on_the_entry_itself() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP xattrs_on_fifos_and_symlinks_land_on_the_entry_itself: trusted.* xattrs need root");
            return;
        }
        let d = tmp("xattr");
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind) in [
            ("fifo", tar::EntryType::Fifo),
            ("link", tar::EntryType::Symlink),
        ] {
            b.append_pax_extensions([("SCHILY.xattr.trusted.berth", &b"v"[..])])
                .unwrap();
            let mut h = header(kind, 0o644, 0);
            if kind == tar::EntryType::Symlink {
                h.set_link_name("fifo").unwrap();
            }
            b.append_data(&mut h, name, &[][..]).unwrap();
        }
        let l = b.into_inner().unwrap();
        let root = open_dir(&d);
        let stats =
            apply_layer(root.as_fd(), &l[..], "sha256:x", &ApplyOptions::default()).unwrap();
        if stats.warnings.iter().any(|w| w.contains("not set")) {
            eprintln!(
                "SKIP xattrs_on_fifos_and_symlinks_land_on_the_entry_itself: {:?}",
                stats.warnings
            );
            return;
        }
        let want = vec![("trusted.berth".to_string(), b"v".to_vec())];
        assert_eq!(list_xattrs(&d.join("fifo")).unwrap(), want);
        assert_eq!(list_xattrs(&d.join("link")).unwrap(), want);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A 3 MiB file with data at 1 MiB and at its end, holes elsewhere, tarred by GNU tar in
    /// `args`' format; `None` where GNU tar is missing.
    fn gnu_tar_sparse(tag: &str, args: &[&str]) -> Option<(Vec<u8>, Vec<u8>)> {
        let src = tmp(&format!("src-{tag}"));
        std::fs::create_dir(src.join("data")).unwrap();
        let f = File::create(src.join("data/sparse.img")).unwrap();
        f.set_len(3 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"hello", 1 << 20).unwrap();
        f.write_all_at(b"end", (3 << 20) - 3).unwrap();
        drop(f);
        let out = std::process::Command::new("tar")
            .args(args)
            .arg("-cf")
            .arg("-")
            .arg("-C")
            .arg(&src)
            .arg("data")
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(src.join("data/sparse.img")).unwrap();
        std::fs::remove_dir_all(&src).unwrap();
        Some((out.stdout, want))
    }

    #[test]
    fn gnu_sparse_files_come_out_at_their_path_with_holes() {
        use std::os::unix::fs::MetadataExt;
        for (tag, args) in [
            ("pax10", &["--sparse", "--format=pax"][..]),
            (
                "pax01",
                &["--sparse", "--format=pax", "--sparse-version=0.1"][..],
            ),
            (
                "pax00",
                &["--sparse", "--format=pax", "--sparse-version=0.0"][..],
            ),
            ("oldgnu", &["--sparse", "--format=gnu"][..]),
        ] {
            let Some((t, want)) = gnu_tar_sparse(tag, args) else {
                eprintln!("SKIP gnu_sparse_files_come_out_at_their_path_with_holes: no GNU tar");
                return;
            };
            let (d, root, opts) = rootless_setup(tag);
            apply_layer(root.as_fd(), &t[..], "sha256:sparse", &opts).unwrap();
            let names: Vec<_> = std::fs::read_dir(d.join("data"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["sparse.img"], "{tag}");
            let p = d.join("data/sparse.img");
            assert!(std::fs::read(&p).unwrap() == want, "{tag}: content differs");
            let md = std::fs::metadata(&p).unwrap();
            assert_eq!(md.len(), 3 << 20, "{tag}");
            // Two small data regions: far fewer than the 6144 512-byte blocks of a dense file.
            assert!(md.blocks() < 256, "{tag}: {} blocks, no holes", md.blocks());
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    /// A GNU sparse 1.0 entry (as `tar --format=pax --sparse` writes it) with `map` leading
    /// `packed`.
    fn sparse10(map: &str, packed: &[u8], realsize: &str) -> Vec<u8> {
        sparse10_named("f", map, packed, realsize)
    }

    fn sparse10_named(name: &str, map: &str, packed: &[u8], realsize: &str) -> Vec<u8> {
        let mut data = map.as_bytes().to_vec();
        data.resize(map.len().div_ceil(512) * 512, 0);
        data.extend_from_slice(packed);
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([
            ("GNU.sparse.major", &b"1"[..]),
            ("GNU.sparse.minor", b"0"),
            ("GNU.sparse.name", name.as_bytes()),
            ("GNU.sparse.realsize", realsize.as_bytes()),
        ])
        .unwrap();
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        b.append_data(&mut h, "GNUSparseFile.0/f", &data[..])
            .unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn lower_directories_keep_their_times_when_a_layer_changes_them() {
        use std::os::unix::fs::MetadataExt;
        use tar::EntryType::*;
        let (d, root, opts) = rootless_setup("keeptimes");
        // header() dates everything at 1.
        let l1 = tar_of(&[("./", Directory, b""), ("d/", Directory, b"")]);
        apply_layer(root.as_fd(), &l1[..], "sha256:l1", &opts).unwrap();
        let l2 = tar_of(&[
            ("d/f", Regular, b"f"),
            ("top", Regular, b"t"),
            ("new/sub/g", Regular, b"g"),
        ]);
        apply_layer(root.as_fd(), &l2[..], "sha256:l2", &opts).unwrap();
        let l3 = tar_of(&[("d/.wh.f", Regular, b"")]);
        apply_layer(root.as_fd(), &l3[..], "sha256:l3", &opts).unwrap();
        assert!(!d.join("d/f").exists());
        for p in ["", "d"] {
            let m = std::fs::metadata(d.join(p)).unwrap();
            assert_eq!((m.mtime(), m.mtime_nsec()), (1, 0), "{p:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn sparse_real_names_are_confined_like_any_other() {
        let (d, root, opts) = rootless_setup("sparsename");
        let t = sparse10_named("../../escape", "1\n0\n1\n", b"x", "1");
        let e = apply_layer(root.as_fd(), &t[..], "sha256:s", &opts).unwrap_err();
        assert!(
            matches!(&e, ImageError::Unsafe { entry, .. } if entry == "../../escape"),
            "{e}"
        );
        // A whiteout by its real name is a whiteout.
        std::fs::write(d.join("gone"), b"x").unwrap();
        let t = sparse10_named(".wh.gone", "0\n", b"", "0");
        apply_layer(root.as_fd(), &t[..], "sha256:s", &opts).unwrap();
        assert!(!d.join("gone").exists() && !d.join(".wh.gone").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn malformed_sparse_maps_name_the_layer_and_entry() {
        let (d, root, opts) = rootless_setup("badsparse");
        // A good one first: data at 0 and at 10, a hole between.
        let t = sparse10("2\n0\n2\n10\n2\n", b"abcd", "12");
        apply_layer(root.as_fd(), &t[..], "sha256:ok", &opts).unwrap();
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"ab\0\0\0\0\0\0\0\0cd");
        for (map, packed, size, want) in [
            ("1\n0\nx\n", &b""[..], "5", "region"),
            ("2\n0\n2\n1\n2\n", b"abcd", "12", "overlaps"),
            ("1\n0\n9\n", b"abcdefghi", "5", "past the file's size"),
            ("1\n0\n4\n", b"ab", "5", "references 4 bytes at 0"),
            ("1\n0\n2\n", b"abcd", "5", "does not reference"),
            ("3\n0\n2\n", b"", "5", "past the end"),
        ] {
            let t = sparse10(map, packed, size);
            let e = apply_layer(root.as_fd(), &t[..], "sha256:bad", &opts).unwrap_err();
            let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
            assert!(
                text.contains("layer sha256:bad: entry \"f\"") && text.contains(want),
                "{map:?}: {text}"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn pax_times_land_to_the_nanosecond() {
        use std::os::unix::fs::MetadataExt;
        let (d, root, opts) = rootless_setup("paxtime");
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, mtime, atime) in [
            (
                "dir",
                tar::EntryType::Directory,
                "1796347534.99",
                Some("1796347600.5"),
            ),
            (
                "dir/f",
                tar::EntryType::Regular,
                "1796347534.991740700",
                None,
            ),
            ("dir/l", tar::EntryType::Symlink, "-1.5", Some("-0.25")),
        ] {
            let mut recs = vec![("mtime", mtime.as_bytes())];
            if let Some(a) = atime {
                recs.push(("atime", a.as_bytes()));
            }
            b.append_pax_extensions(recs).unwrap();
            let mut h = header(kind, 0o755, 0);
            h.set_mtime(7);
            if kind == tar::EntryType::Symlink {
                h.set_link_name("f").unwrap();
            }
            b.append_data(&mut h, name, &[][..]).unwrap();
        }
        let t = b.into_inner().unwrap();
        apply_layer(root.as_fd(), &t[..], "sha256:t", &opts).unwrap();
        let times = |p: &str| {
            let m = std::fs::symlink_metadata(d.join(p)).unwrap();
            ((m.mtime(), m.mtime_nsec()), (m.atime(), m.atime_nsec()))
        };
        assert_eq!(
            times("dir/f"),
            ((1796347534, 991_740_700), (1796347534, 991_740_700))
        );
        assert_eq!(times("dir/l"), ((-2, 500_000_000), (-1, 750_000_000)));
        assert_eq!(
            times("dir"),
            ((1796347534, 990_000_000), (1796347600, 500_000_000))
        );
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("mtime", &b"12.x"[..])]).unwrap();
        let mut h = header(tar::EntryType::Regular, 0o644, 0);
        b.append_data(&mut h, "bad", &[][..]).unwrap();
        let t = b.into_inner().unwrap();
        let e = apply_layer(root.as_fd(), &t[..], "sha256:t", &opts).unwrap_err();
        let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(
            text.contains(r#"entry "bad": PAX mtime "12.x" is not a time"#),
            "{text}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
