//! Layer compression: chosen from the media type, falling back to the stream's magic bytes
//! (docker-archive layers carry no media type, and some registries mislabel them).

use std::io::{self, BufRead, BufReader, Read};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// `None` when the media type says nothing certain.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        if mt.ends_with("+gzip")
            || mt.ends_with(".tar.gzip")
            || mt == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Wraps `r` in the right decoder. The magic bytes win over the media type: decoding a gzip
/// stream as plain tar would only produce a confusing error later.
pub fn decoder<'a>(
    r: impl Read + Send + 'a,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let kind = Compression::sniff(br.fill_buf()?);
    Ok((
        kind,
        match kind {
            Compression::None => Box::new(br),
            // MultiGzDecoder: some tools write a layer as several concatenated gzip members.
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar"),
            Some(Compression::None)
        );
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        let mut out = Vec::new();
        decoder(&b"plain"[..])
            .unwrap()
            .1
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"plain");
    }
}
