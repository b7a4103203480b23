//! Entry metadata: reading it from tar headers and PAX records, and applying it in the one
//! order that keeps every bit: ownership, then mode (chown clears setuid/setgid), then xattrs
//! (chown clears security.capability), then times.

use crate::ext::{Ext, Time};
use crate::idmap::IdMap;
use berth_sys::{tree, xattr};
use std::ffi::OsStr;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

const ROOTLESS_XATTR: &[u8] = b"user.rootlesscontainers";

/// An entry's metadata as the tar records it.
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Time,
    /// The PAX or GNU atime, else the mtime (as umoci sets it).
    pub atime: Time,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What to apply metadata to: `name` in `dir`, with an open `fd` for files and directories.
pub(crate) struct Target<'a> {
    pub dir: BorrowedFd<'a>,
    pub name: &'a [u8],
    pub fd: Option<BorrowedFd<'a>>,
    pub is_dir: bool,
}

/// How owners are recorded: chowned through the id maps, or, rootless without maps, in the
/// `user.rootlesscontainers` xattr.
pub(crate) struct Ownership<'a> {
    pub rootless: bool,
    pub uid_map: &'a IdMap,
    pub gid_map: &'a IdMap,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads mode, owner, times and xattrs from the header, then what the PAX records override
/// (large ids, times to the nanosecond, xattrs).
pub(crate) fn read(h: &tar::Header, ext: &mut Ext) -> io::Result<Meta> {
    let mtime = match ext.mtime {
        Some(t) => t,
        None => (h.mtime()? as i64, 0),
    };
    // Go reads the old GNU header's atime field when its first byte is set.
    let gnu_atime = match h.as_gnu() {
        Some(g) if g.atime[0] != 0 => Some((g.atime()? as i64, 0)),
        _ => None,
    };
    Ok(Meta {
        mode: h.mode()? & 0o7777,
        uid: ext.uid.unwrap_or(h.uid()? as u32),
        gid: ext.gid.unwrap_or(h.gid()? as u32),
        mtime,
        atime: ext.atime.or(gnu_atime).unwrap_or(mtime),
        xattrs: std::mem::take(&mut ext.xattrs),
    })
}

/// Applies `meta`; problems that only mean "this filesystem or user cannot hold it" (xattrs
/// refused with ENOTSUP/EPERM) become warnings, anything else is an error.
pub(crate) fn apply(
    t: &Target<'_>,
    meta: &Meta,
    opts: &Ownership<'_>,
    layer: &str,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    let (dir, name, fd) = (t.dir, OsStr::from_bytes(t.name), t.fd);
    let is_link = fd.is_none() && tree::stat_at(dir, name)?.st_mode & libc::S_IFMT == libc::S_IFLNK;
    let mut owner_xattr = None;
    if opts.rootless && opts.uid_map.is_empty() && opts.gid_map.is_empty() {
        owner_xattr = rootless_owner(meta.uid, meta.gid);
    } else {
        let uid = opts
            .uid_map
            .to_host(meta.uid)
            .ok_or_else(|| unmapped("uid", meta.uid))?;
        let gid = opts
            .gid_map
            .to_host(meta.gid)
            .ok_or_else(|| unmapped("gid", meta.gid))?;
        match tree::lchown_at(dir, name, uid, gid) {
            Err(e) if opts.rootless && errno(&e) == libc::EPERM => {
                owner_xattr = rootless_owner(meta.uid, meta.gid);
            }
            r => r?,
        }
    }
    let mut mode = meta.mode;
    if t.is_dir && opts.rootless {
        // Without CAP_DAC_OVERRIDE we must still be able to fill the directory later.
        mode |= 0o700;
    }
    if !is_link {
        match fd {
            Some(fd) => tree::fchmod(fd, mode)?,
            None => tree::chmod_at(dir, name, mode)?,
        }
    }
    let mut xattrs: Vec<(&[u8], &[u8])> = meta
        .xattrs
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    if let Some(v) = owner_xattr.as_ref() {
        // user.* xattrs are not allowed on symlinks.
        if !is_link {
            xattrs.push((ROOTLESS_XATTR, v));
        }
    }
    for (k, v) in xattrs {
        let key = OsStr::from_bytes(k);
        let r = match fd {
            Some(fd) => xattr::fsetxattr(fd, key, v),
            None => xattr::set_xattr_at(dir, name, key, v),
        };
        match r {
            Err(e) if matches!(errno(&e), libc::ENOTSUP | libc::EPERM) => {
                warnings.push(format!(
                    "layer {layer}: entry {:?}: xattr {} not set: {e}",
                    lossy(t.name),
                    lossy(k)
                ));
            }
            r => r?,
        }
    }
    // Directory times are set by the applier once the layer is complete.
    if !t.is_dir {
        tree::utimens_at(dir, name, meta.atime, meta.mtime)?;
    }
    Ok(())
}

fn unmapped(what: &str, id: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} {id} is not covered by the id map"),
    )
}

/// umoci's `user.rootlesscontainers` payload: a protobuf message {uint32 uid = 1; uint32 gid = 2}.
/// Root-owned entries need no record (None).
pub(crate) fn rootless_owner(uid: u32, gid: u32) -> Option<Vec<u8>> {
    if uid == 0 && gid == 0 {
        return None;
    }
    let mut out = Vec::new();
    for (tag, v) in [(0x08u8, uid), (0x10u8, gid)] {
        if v == 0 {
            continue;
        }
        out.push(tag);
        let mut v = v;
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    Some(out)
}
