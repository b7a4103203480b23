//! Typed errors for image handling. Every layer-level error names the layer digest, and every
//! entry-level error names the tar entry as well, so a user can tell which blob is bad.
//! Underlying errors are part of the message (fields are `err`, not `source`), so printing the
//! chain with anyhow does not repeat them.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid digest {0:?} (want ALGORITHM:HEX, sha256 or sha512)")]
    BadDigest(String),

    #[error("blob {digest}: digest mismatch (content hashes to {actual})")]
    DigestMismatch { digest: String, actual: String },

    #[error("blob {digest}: size mismatch (descriptor says {declared} bytes, blob has {actual})")]
    SizeMismatch {
        digest: String,
        declared: u64,
        actual: u64,
    },

    #[error("layer {layer}: uncompressed diff_id mismatch (config says {expected}, content hashes to {actual})")]
    DiffIdMismatch {
        layer: String,
        expected: String,
        actual: String,
    },

    #[error("layer {layer}: decompressed size exceeds {limit} bytes (decompression bomb?)")]
    TooLarge { layer: String, limit: u64 },

    #[error("layer {layer}: entry {entry:?}: {reason}")]
    Unsafe {
        layer: String,
        entry: String,
        reason: String,
    },

    #[error("layer {layer}: entry {entry:?}: {err}")]
    Entry {
        layer: String,
        entry: String,
        err: io::Error,
    },

    #[error("layer {layer}: {err}")]
    Layer { layer: String, err: io::Error },

    #[error("layer {layer}: unsupported media type {media_type:?}")]
    MediaType { layer: String, media_type: String },

    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },

    #[error("{what}: invalid JSON: {err}")]
    Json {
        what: String,
        err: serde_json::Error,
    },

    #[error("invalid image source {0:?}: {1}")]
    Source(String, String),

    #[error("{0}: not found")]
    NotFound(String),

    #[error("no manifest for platform {0} in the image index")]
    Platform(String),

    #[error("registry {url}: {reason}")]
    Registry { url: String, reason: String },

    #[error("{0}")]
    Invalid(String),

    #[error("interrupted")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, ImageError>;

impl ImageError {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> ImageError {
        ImageError::Io {
            what: what.into(),
            err: source,
        }
    }

    /// Readers can only return `io::Error`; verification failures travel inside one and are
    /// unwrapped again here so the caller sees the typed error rather than a string.
    pub fn from_io_in_layer(layer: &str, entry: Option<&str>, e: io::Error) -> ImageError {
        if e.get_ref().is_some_and(|inner| inner.is::<ImageError>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(img) = inner.downcast::<ImageError>() {
                    return *img;
                }
            }
            return ImageError::Invalid(format!("layer {layer}: lost error"));
        }
        match entry {
            Some(entry) => ImageError::Entry {
                layer: layer.to_string(),
                entry: entry.to_string(),
                err: e,
            },
            None => ImageError::Layer {
                layer: layer.to_string(),
                err: e,
            },
        }
    }

    /// Packs a typed error into an `io::Error` so it can cross a `Read` boundary.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}
