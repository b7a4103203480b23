//! Layer compression, told from the stream's magic bytes rather than the media type
//! (docker-archive layers carry no media type, and some registries mislabel them).

use std::io::{self, BufRead, BufReader, Read};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Tells the compression from a stream's first bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
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
