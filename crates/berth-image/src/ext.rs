//! A tar entry's PAX records, read with the meaning Go's archive/tar gives them (the reader
//! umoci, containerd and docker use): owner ids, times to the nanosecond, `SCHILY.xattr.*`
//! and the GNU sparse records
//! of formats 0.0, 0.1 and 1.0, whose map is checked the way Go checks it.
//!
//! What Go would refuse with `ErrHeader` is refused here too, as a [`Malformed`] error inside
//! the `io::Error`, so the applier can name the layer and the entry.

use std::io::{self, Read};

/// Why an entry's headers cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Malformed(pub String);

fn bad(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Malformed(reason.into()))
}

/// One data region of a sparse file: `(offset, length)` in the logical file.
pub(crate) type Region = (u64, u64);

/// Where a sparse entry's map is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SparseMap {
    /// Formats 0.0 and 0.1: in the PAX records.
    Records(Vec<Region>),
    /// Format 1.0: in the first blocks of the entry's data, before the packed regions.
    InData,
}

/// A GNU PAX sparse entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Sparse {
    /// `GNU.sparse.name`: the file's real path (the tar name is a `GNUSparseFile.N/NAME`
    /// placeholder).
    pub name: Option<Vec<u8>>,
    /// The logical size (`GNU.sparse.size`, else `GNU.sparse.realsize`); `None`: the entry's.
    pub size: Option<u64>,
    pub map: SparseMap,
}

/// A time as `utimensat` takes it: seconds, and nanoseconds in `0..1_000_000_000`.
pub(crate) type Time = (i64, i64);

/// What the PAX records say about one entry.
#[derive(Debug, Default)]
pub(crate) struct Ext {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mtime: Option<Time>,
    pub atime: Option<Time>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub sparse: Option<Sparse>,
}

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, no spaces.
fn int(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn id(key: &str, v: &[u8]) -> io::Result<u32> {
    int(v)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(format!("PAX {key} {:?} is not an id", lossy(v))))
}

/// Go's `parsePAXTime`: `SECONDS[.FRACTION]`, seconds as `ParseInt` takes them (sign
/// allowed), the fraction all digits, cut or padded to nine; a negative time counts the
/// fraction backwards (`-1.5` is 1.5 s before the epoch).
pub(crate) fn pax_time(key: &str, v: &[u8]) -> io::Result<Time> {
    let invalid = || bad(format!("PAX {key} {:?} is not a time", lossy(v)));
    let (secs, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    let secs = int(secs).ok_or_else(invalid)?;
    if !frac.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut nsec = 0i64;
    for i in 0..9 {
        nsec = nsec * 10 + frac.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    if nsec != 0 && v.first() == Some(&b'-') {
        // time.Unix(secs, -nsec), normalised.
        return Ok((
            secs.checked_sub(1).ok_or_else(invalid)?,
            1_000_000_000 - nsec,
        ));
    }
    Ok((secs, nsec))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads the records of `entry` (none: an empty [`Ext`]).
pub(crate) fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Ext> {
    let mut ext = Ext::default();
    let Some(records) = entry.pax_extensions()? else {
        return Ok(ext);
    };
    let mut major: &[u8] = b"";
    let mut minor: &[u8] = b"";
    let mut name: &[u8] = b"";
    let mut size: &[u8] = b"";
    let mut realsize: &[u8] = b"";
    let mut numblocks: Option<&[u8]> = None;
    let mut map: &[u8] = b"";
    // Format 0.0 repeats GNU.sparse.offset / GNU.sparse.numbytes, in that order.
    let mut pairs: Vec<&[u8]> = Vec::new();
    for r in records {
        let r = r?;
        let (k, v) = (r.key_bytes(), r.value_bytes());
        match k {
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                let want_offset = pairs.len().is_multiple_of(2);
                if want_offset != (k == b"GNU.sparse.offset") || v.contains(&b',') {
                    return Err(bad("GNU sparse 0.0 offset/numbytes records out of order"));
                }
                pairs.push(v);
                continue;
            }
            _ => {}
        }
        // Go keeps the header's value when a record is empty.
        if v.is_empty() {
            continue;
        }
        match k {
            b"uid" => ext.uid = Some(id("uid", v)?),
            b"gid" => ext.gid = Some(id("gid", v)?),
            b"mtime" => ext.mtime = Some(pax_time("mtime", v)?),
            b"atime" => ext.atime = Some(pax_time("atime", v)?),
            // Nothing can set a ctime, but Go refuses the entry when it is malformed.
            b"ctime" => {
                pax_time("ctime", v)?;
            }
            b"GNU.sparse.major" => major = v,
            b"GNU.sparse.minor" => minor = v,
            b"GNU.sparse.name" => name = v,
            b"GNU.sparse.size" => size = v,
            b"GNU.sparse.realsize" => realsize = v,
            b"GNU.sparse.numblocks" => numblocks = Some(v),
            b"GNU.sparse.map" => map = v,
            _ => {
                if let Some(x) = k.strip_prefix(XATTR_PREFIX) {
                    ext.xattrs.push((x.to_vec(), v.to_vec()));
                }
            }
        }
    }
    let joined;
    if !pairs.is_empty() {
        joined = pairs.join(&b","[..]);
        map = &joined;
    }
    let in_data = match (major, minor) {
        (b"0", b"0" | b"1") => false,
        (b"1", b"0") => true,
        (b"", b"") if !map.is_empty() => false,
        (b"", b"") => return Ok(ext),
        _ => {
            // Go reads an unknown version as a plain file, which would leave the map and
            // the placeholder name in the rootfs: refuse it instead.
            return Err(bad(format!(
                "unknown GNU sparse format {}.{}",
                lossy(major),
                lossy(minor)
            )));
        }
    };
    let size = if !size.is_empty() { size } else { realsize };
    let size = if size.is_empty() {
        None
    } else {
        Some(
            int(size)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| bad(format!("GNU sparse size {:?} is invalid", lossy(size))))?,
        )
    };
    let map = if in_data {
        SparseMap::InData
    } else {
        SparseMap::Records(records_map(numblocks.unwrap_or(b""), map)?)
    };
    ext.sparse = Some(Sparse {
        name: (!name.is_empty()).then(|| name.to_vec()),
        size,
        map,
    });
    Ok(ext)
}

fn count(tok: &[u8]) -> io::Result<usize> {
    int(tok)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| n.checked_mul(2).is_some())
        .ok_or_else(|| {
            bad(format!(
                "GNU sparse entry count {:?} is invalid",
                lossy(tok)
            ))
        })
}

fn region(off: &[u8], len: &[u8]) -> io::Result<Region> {
    match (int(off), int(len)) {
        (Some(o), Some(l)) if o >= 0 && l >= 0 => Ok((o as u64, l as u64)),
        _ => Err(bad(format!(
            "GNU sparse region {:?},{:?} is invalid",
            lossy(off),
            lossy(len)
        ))),
    }
}

/// The 0.0/0.1 map: `numblocks` pairs in the comma-separated `map`.
fn records_map(numblocks: &[u8], map: &[u8]) -> io::Result<Vec<Region>> {
    let n = count(numblocks)?;
    let toks: Vec<&[u8]> = if map.is_empty() {
        Vec::new()
    } else {
        map.split(|&b| b == b',').collect()
    };
    if toks.len() != 2 * n {
        return Err(bad(format!(
            "GNU sparse map has {} numbers for {n} regions",
            toks.len()
        )));
    }
    toks.chunks(2).map(|p| region(p[0], p[1])).collect()
}

/// Reads the 1.0 map from the front of the entry's data: newline-terminated decimal numbers
/// (a count, then offset/length pairs) in whole 512-byte blocks; the packed regions follow.
pub(crate) fn read_map_in_data<R: Read>(r: &mut R) -> io::Result<Vec<Region>> {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut newlines = 0usize;
    let mut block = [0u8; 512];
    let mut feed = |buf: &mut Vec<u8>, newlines: &mut usize, want: usize| -> io::Result<()> {
        while *newlines < want {
            r.read_exact(&mut block).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    bad("GNU sparse 1.0 map runs past the end of the entry")
                } else {
                    e
                }
            })?;
            *newlines += block.iter().filter(|&&b| b == b'\n').count();
            buf.extend_from_slice(&block);
        }
        Ok(())
    };
    let next = |buf: &Vec<u8>, pos: &mut usize| -> Vec<u8> {
        let rest = &buf[*pos..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        *pos += end + 1;
        rest[..end].to_vec()
    };
    feed(&mut buf, &mut newlines, 1)?;
    let n = count(&next(&buf, &mut pos))?;
    // Each region needs two more lines; the entry's size, not n, bounds what is read.
    feed(&mut buf, &mut newlines, 1 + 2 * n)?;
    (0..n)
        .map(|_| {
            let off = next(&buf, &mut pos);
            let len = next(&buf, &mut pos);
            region(&off, &len)
        })
        .collect()
}

/// Go's `validateSparseEntries`: regions in order, not overlapping, inside `size`.
pub(crate) fn check_map(map: &[Region], size: u64) -> io::Result<()> {
    let mut end = 0u64;
    for &(off, len) in map {
        let e = off
            .checked_add(len)
            .filter(|&e| e <= size && e <= i64::MAX as u64)
            .ok_or_else(|| {
                bad(format!(
                    "GNU sparse region {off}+{len} ends past the file's size {size}"
                ))
            })?;
        if off < end {
            return Err(bad(format!(
                "GNU sparse region at {off} overlaps or precedes the one before it"
            )));
        }
        end = e;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_with(records: &[(&str, &str)], data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions(records.iter().map(|(k, v)| (*k, v.as_bytes())))
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "GNUSparseFile.0/f", data).unwrap();
        b.into_inner().unwrap()
    }

    fn read_first(t: &[u8]) -> io::Result<Ext> {
        let mut a = tar::Archive::new(t);
        let mut e = a.entries()?.next().unwrap()?;
        read(&mut e)
    }

    fn reason(e: io::Error) -> String {
        e.get_ref()
            .and_then(|i| i.downcast_ref::<Malformed>())
            .map(|m| m.0.clone())
            .unwrap_or_else(|| format!("not Malformed: {e}"))
    }

    #[test]
    fn sparse_versions_are_told_apart() {
        let t = entry_with(
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.name", "d/f"),
                ("GNU.sparse.realsize", "100"),
            ],
            b"",
        );
        let s = read_first(&t).unwrap().sparse.unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"d/f"[..]));
        assert_eq!((s.size, s.map), (Some(100), SparseMap::InData));

        let t = entry_with(
            &[
                ("GNU.sparse.size", "10"),
                ("GNU.sparse.numblocks", "2"),
                ("GNU.sparse.offset", "0"),
                ("GNU.sparse.numbytes", "1"),
                ("GNU.sparse.offset", "5"),
                ("GNU.sparse.numbytes", "2"),
            ],
            b"",
        );
        let s = read_first(&t).unwrap().sparse.unwrap();
        assert_eq!(s.map, SparseMap::Records(vec![(0, 1), (5, 2)]));
        assert_eq!(s.size, Some(10));

        let t = entry_with(
            &[
                ("GNU.sparse.major", "0"),
                ("GNU.sparse.minor", "1"),
                ("GNU.sparse.numblocks", "1"),
                ("GNU.sparse.map", "3,4"),
            ],
            b"",
        );
        let s = read_first(&t).unwrap().sparse.unwrap();
        assert_eq!(s.map, SparseMap::Records(vec![(3, 4)]));
        assert_eq!(s.size, None);

        // No sparse records, or empty ones: a plain entry.
        let t = entry_with(&[("GNU.sparse.map", ""), ("uid", "7")], b"");
        let e = read_first(&t).unwrap();
        assert!(e.sparse.is_none());
        assert_eq!(e.uid, Some(7));
    }

    #[test]
    fn malformed_maps_are_refused() {
        for (records, want) in [
            (
                &[("GNU.sparse.numblocks", "2"), ("GNU.sparse.map", "0,1")][..],
                "2 numbers for 2 regions",
            ),
            (
                &[("GNU.sparse.numblocks", "1"), ("GNU.sparse.map", "0,x")][..],
                "region",
            ),
            (
                &[("GNU.sparse.numblocks", "-1"), ("GNU.sparse.map", "0,1")][..],
                "entry count",
            ),
            (&[("GNU.sparse.numbytes", "1")][..], "out of order"),
            (
                &[("GNU.sparse.major", "2"), ("GNU.sparse.minor", "0")][..],
                "unknown GNU sparse format 2.0",
            ),
            (&[("uid", "-1")][..], "not an id"),
        ] {
            let t = entry_with(records, b"");
            let e = reason(read_first(&t).unwrap_err());
            assert!(e.contains(want), "{records:?}: {e}");
        }
    }

    #[test]
    fn pax_times_as_go_parses_them() {
        for (v, want) in [
            ("1796347534.99", (1796347534, 990_000_000)),
            ("1796347534.991740700", (1796347534, 991_740_700)),
            ("1796347534.9917407009999", (1796347534, 991_740_700)),
            ("1796347534", (1796347534, 0)),
            ("1796347534.", (1796347534, 0)),
            ("+12.5", (12, 500_000_000)),
            ("-1.5", (-2, 500_000_000)),
            ("-0.25", (-1, 750_000_000)),
            ("-3.000", (-3, 0)),
            ("0.000000001", (0, 1)),
        ] {
            assert_eq!(pax_time("mtime", v.as_bytes()).unwrap(), want, "{v}");
        }
        for v in [
            ".5",
            "1.5x",
            "1.-5",
            "x",
            "1e3",
            " 1",
            "1.5.5",
            "99999999999999999999",
        ] {
            let e = reason(pax_time("mtime", v.as_bytes()).unwrap_err());
            assert!(e.contains("not a time"), "{v}: {e}");
        }
        let t = entry_with(&[("mtime", "5.5"), ("atime", "6"), ("ctime", "7.25")], b"");
        let e = read_first(&t).unwrap();
        assert_eq!((e.mtime, e.atime), (Some((5, 500_000_000)), Some((6, 0))));
        let t = entry_with(&[("ctime", "7,25")], b"");
        assert!(reason(read_first(&t).unwrap_err()).contains("ctime"));
    }

    #[test]
    fn map_in_data_and_checks() {
        let mut data = b"2\n0\n3\n1000\n0\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"abc");
        let mut r = &data[..];
        assert_eq!(read_map_in_data(&mut r).unwrap(), vec![(0, 3), (1000, 0)]);
        assert_eq!(r, b"abc");
        // The count promises more lines than the entry holds.
        let mut short = b"3\n0\n1\n".to_vec();
        short.resize(512, 0);
        let e = reason(read_map_in_data(&mut &short[..]).unwrap_err());
        assert!(e.contains("past the end"), "{e}");

        check_map(&[(0, 3), (1000, 0)], 1000).unwrap();
        assert!(check_map(&[(0, 3), (2, 1)], 10).is_err());
        assert!(check_map(&[(5, 6)], 10).is_err());
        assert!(check_map(&[(u64::MAX, 2)], u64::MAX).is_err());
    }
}
