//! Id map parsing (`CONTAINER:HOST:SIZE`) and id translation for unpacking into a user namespace.

use crate::error::{ImageError, Result};

/// One `container:host:size` range, as in /proc/PID/uid_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    /// The first id inside the container.
    pub container: u32,
    /// The host id it maps to.
    pub host: u32,
    /// How many consecutive ids the range covers.
    pub size: u32,
}

/// A uid or gid map: container ids → host ids. Empty: the identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap(pub Vec<IdRange>);

impl IdRange {
    /// Parses `CONTAINER:HOST:SIZE`; the size must be non-zero and neither range may wrap.
    pub fn parse(s: &str) -> Result<IdRange> {
        let bad =
            || ImageError::Invalid(format!("invalid id map {s:?} (want CONTAINER:HOST:SIZE)"));
        let mut it = s
            .split(':')
            .map(|p| p.trim().parse::<u32>().map_err(|_| bad()));
        let (Some(c), Some(h), Some(n), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        let r = IdRange {
            container: c?,
            host: h?,
            size: n?,
        };
        if r.size == 0
            || r.container.checked_add(r.size - 1).is_none()
            || r.host.checked_add(r.size - 1).is_none()
        {
            return Err(bad());
        }
        Ok(r)
    }
}

impl IdMap {
    /// True for the identity map (no ranges).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The host id for a container id; an empty map is the identity.
    pub fn to_host(&self, id: u32) -> Option<u32> {
        if self.0.is_empty() {
            return Some(id);
        }
        self.0
            .iter()
            .find(|r| id >= r.container && id - r.container < r.size)
            .map(|r| r.host + (id - r.container))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ranges() {
        let m = IdMap(vec![
            IdRange::parse("0:1000:1").unwrap(),
            IdRange::parse("1:100000:65536").unwrap(),
        ]);
        assert_eq!(m.to_host(0), Some(1000));
        assert_eq!(m.to_host(1), Some(100000));
        assert_eq!(m.to_host(65536), Some(165535));
        assert_eq!(m.to_host(65537), None);
        assert_eq!(IdMap::default().to_host(42), Some(42));
        assert!(IdRange::parse("0:1").is_err());
        assert!(IdRange::parse("0:1:0").is_err());
        assert!(IdRange::parse("4294967295:0:2").is_err());
    }
}
