//! Tar entry names → safe rootfs-relative paths, and whiteout recognition.
//!
//! Names are cleaned lexically: leading `/` and `./` go, `.` components go, and `..` pops a
//! component. A `..` that would climb above the root is refused outright: no honest image has
//! one, and refusing is clearer than silently clamping.

/// What a tar entry means for the layer being applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// An ordinary entry to create at this path.
    Normal,
    /// `.wh.NAME`: delete `NAME` (from lower layers) in the same directory.
    Whiteout(&'a [u8]),
    /// `.wh..wh..opq`: hide everything lower layers put in the directory.
    Opaque,
}

pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub const OPAQUE: &[u8] = b".wh..wh..opq";

/// Cleans `name`; `None` when a `..` escapes the root. The empty path means the root itself.
pub fn clean(name: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

/// Splits a cleaned, non-empty path into (parent, last component).
pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"", path),
    }
}

/// Classifies the last component of a cleaned path.
pub fn kind(base: &[u8]) -> Kind<'_> {
    if base == OPAQUE {
        Kind::Opaque
    } else if let Some(rest) = base.strip_prefix(WHITEOUT_PREFIX) {
        Kind::Whiteout(rest)
    } else {
        Kind::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_names() {
        assert_eq!(clean(b"./usr/bin/").unwrap(), b"usr/bin");
        assert_eq!(clean(b"/etc//passwd").unwrap(), b"etc/passwd");
        assert_eq!(clean(b"a/../b").unwrap(), b"b");
        assert_eq!(clean(b"./").unwrap(), b"");
        assert!(clean(b"../etc/passwd").is_none());
        assert!(clean(b"a/../../x").is_none());
        assert!(clean(b"/../x").is_none());
    }

    #[test]
    fn splits_and_classifies() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(kind(b".wh..wh..opq"), Kind::Opaque);
        assert_eq!(kind(b".wh.foo"), Kind::Whiteout(b"foo"));
        assert_eq!(kind(b"foo.wh."), Kind::Normal);
    }
}
