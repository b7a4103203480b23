//! Content digests and a reader that verifies digest and size while the bytes stream through.

use crate::error::{ImageError, Result};
use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;
use std::io::{self, Read};

/// A parsed `algorithm:hex` content digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algo: Algo,
    hex: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    Sha256,
    Sha512,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Digest> {
        let bad = || ImageError::BadDigest(s.to_string());
        let (algo, hex) = s.split_once(':').ok_or_else(bad)?;
        let (algo, len) = match algo {
            "sha256" => (Algo::Sha256, 64),
            "sha512" => (Algo::Sha512, 128),
            _ => return Err(bad()),
        };
        // Lower-case hex only: the digest doubles as a file name under blobs/, so anything else
        // (`/`, `..`) must never get through.
        if hex.len() != len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        Ok(Digest {
            algo,
            hex: hex.to_string(),
        })
    }

    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest {
            algo: Algo::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }

    pub fn algo_name(&self) -> &'static str {
        match self.algo {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    pub fn hasher(&self) -> Hasher {
        Hasher::new(self.algo)
    }

    /// Checks a whole in-memory blob (manifests and configs are small).
    pub fn verify_bytes(&self, data: &[u8], size: Option<u64>) -> Result<()> {
        if let Some(declared) = size {
            if declared != data.len() as u64 {
                return Err(ImageError::SizeMismatch {
                    digest: self.to_string(),
                    declared,
                    actual: data.len() as u64,
                });
            }
        }
        let mut h = self.hasher();
        h.update(data);
        let actual = h.finish();
        if actual != *self {
            return Err(ImageError::DigestMismatch {
                digest: self.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo_name(), self.hex)
    }
}

/// An incremental hasher for either supported algorithm.
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algo: Algo::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algo: Algo::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// Wraps a blob reader: never reads more than the declared size (plus one byte, to notice a blob
/// that is too long), and at end of stream checks size and digest. A mismatch surfaces as an
/// `io::Error` carrying [`ImageError`], so whatever consumes the stream fails before finishing.
pub struct VerifyReader<R> {
    inner: R,
    expected: Digest,
    declared: u64,
    seen: u64,
    hasher: Option<Hasher>,
    on_read: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<R: Read> VerifyReader<R> {
    pub fn new(inner: R, expected: Digest, declared: u64) -> VerifyReader<R> {
        let hasher = Some(expected.hasher());
        VerifyReader {
            inner,
            expected,
            declared,
            seen: 0,
            hasher,
            on_read: None,
        }
    }

    /// Called with the number of bytes after each read (progress bars).
    pub fn on_read(mut self, f: impl FnMut(u64) + Send + 'static) -> Self {
        self.on_read = Some(Box::new(f));
        self
    }

    fn check_end(&mut self) -> io::Result<()> {
        let Some(h) = self.hasher.take() else {
            return Ok(());
        };
        if self.seen != self.declared {
            return Err(ImageError::SizeMismatch {
                digest: self.expected.to_string(),
                declared: self.declared,
                actual: self.seen,
            }
            .into_io());
        }
        let actual = h.finish();
        if actual != self.expected {
            return Err(ImageError::DigestMismatch {
                digest: self.expected.to_string(),
                actual: actual.to_string(),
            }
            .into_io());
        }
        Ok(())
    }
}

impl<R: Read> Read for VerifyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.hasher.is_none() {
            return Ok(0);
        }
        // Allow one byte past the declared size so an over-long blob is detected, not truncated.
        let room = (self.declared + 1).saturating_sub(self.seen);
        let want = buf.len().min(room.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.check_end()?;
            return Ok(0);
        }
        self.seen += n as u64;
        if self.seen > self.declared {
            return Err(ImageError::SizeMismatch {
                digest: self.expected.to_string(),
                declared: self.declared,
                actual: self.seen,
            }
            .into_io());
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(f) = self.on_read.as_mut() {
            f(n as u64);
        }
        Ok(n)
    }
}

/// Reads a whole blob into memory, verified; `limit` guards against huge "manifests".
pub fn read_verified(r: impl Read, digest: &Digest, size: u64, limit: u64) -> Result<Vec<u8>> {
    if size > limit {
        return Err(ImageError::Invalid(format!(
            "blob {digest}: {size} bytes is too large for a manifest or config"
        )));
    }
    let mut out = Vec::with_capacity(size as usize);
    VerifyReader::new(r, digest.clone(), size)
        .read_to_end(&mut out)
        .map_err(|e| ImageError::from_io_in_layer(&digest.to_string(), None, e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_digests() {
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse("md5:abcd").is_err());
        assert!(Digest::parse("sha256:ABCDEF").is_err());
        let d = Digest::sha256_of(b"hi");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn verify_reader_catches_mismatch_and_truncation() {
        let d = Digest::sha256_of(b"hello");
        let mut out = Vec::new();
        assert!(VerifyReader::new(&b"hello"[..], d.clone(), 5)
            .read_to_end(&mut out)
            .is_ok());
        let e = VerifyReader::new(&b"hellO"[..], d.clone(), 5)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(e.to_string().contains("digest mismatch"), "{e}");
        let e = VerifyReader::new(&b"hell"[..], d.clone(), 5)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(e.to_string().contains("size mismatch"), "{e}");
        let e = VerifyReader::new(&b"hello!!"[..], d, 5)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(e.to_string().contains("size mismatch"), "{e}");
    }
}
