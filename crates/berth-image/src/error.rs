//! Typed errors for image handling. Every layer-level error names the layer digest, and every
//! entry-level error names the tar entry as well, so a user can tell which blob is bad.
//! A message names what failed (layer, entry, path, document, URL); an underlying error is kept
//! as the `source`, never also formatted into the message, so printing the chain (`msg: cause`,
//! as anyhow's `{:#}` does) shows each part once and `io::Error`s keep their errno.

use std::io;
use std::sync::Arc;

/// Everything that can go wrong reading, verifying or unpacking an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A digest string that is not `sha256:HEX` or `sha512:HEX` (lower-case hex).
    #[error("invalid digest {0:?} (want ALGORITHM:HEX, sha256 or sha512)")]
    BadDigest(String),

    /// A blob's content does not hash to its digest.
    #[error("blob {digest}: digest mismatch (content hashes to {actual})")]
    DigestMismatch {
        /// The digest the blob was asked for by.
        digest: String,
        /// What its content hashes to.
        actual: String,
    },

    /// A blob is longer or shorter than its descriptor says.
    #[error("blob {digest}: size mismatch (descriptor says {declared} bytes, blob has {actual})")]
    SizeMismatch {
        /// The blob's digest.
        digest: String,
        /// The size in the descriptor.
        declared: u64,
        /// The bytes seen (at most one past `declared`: reading stops there).
        actual: u64,
    },

    /// A layer's uncompressed content does not hash to the config's diff_id for it.
    #[error("layer {layer}: uncompressed diff_id mismatch (config says {expected}, content hashes to {actual})")]
    DiffIdMismatch {
        /// The layer's (compressed) digest.
        layer: String,
        /// The diff_id in the image config.
        expected: String,
        /// What the uncompressed stream hashes to.
        actual: String,
    },

    /// A layer decompressed to more than the allowed ratio of its compressed size.
    #[error("layer {layer}: decompressed size exceeds {limit} bytes (decompression bomb?)")]
    TooLarge {
        /// The layer's digest.
        layer: String,
        /// The bound that was exceeded, in bytes.
        limit: u64,
    },

    /// A tar entry that would reach outside the rootfs (or is otherwise malformed) was refused.
    #[error("layer {layer}: entry {entry:?}: {reason}")]
    Unsafe {
        /// The layer's digest.
        layer: String,
        /// The entry's name as written in the tar.
        entry: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// Creating or changing one tar entry in the rootfs failed.
    #[error("layer {layer}: entry {entry:?}")]
    Entry {
        /// The layer's digest.
        layer: String,
        /// The entry's name as written in the tar.
        entry: String,
        /// The failed call's error.
        #[source]
        source: io::Error,
    },

    /// Reading a layer's stream failed (not a single entry: the tar itself or the blob).
    #[error("layer {layer}")]
    Layer {
        /// The layer's digest.
        layer: String,
        /// The read error.
        #[source]
        source: io::Error,
    },

    /// A layer whose media type is not a tar (compressed or not).
    #[error("layer {layer}: unsupported media type {media_type:?}")]
    MediaType {
        /// The layer's digest.
        layer: String,
        /// Its media type.
        media_type: String,
    },

    /// A file operation outside the layers failed; `what` says which and on what path.
    #[error("{what}")]
    Io {
        /// The operation and its path, e.g. `create /bundle/rootfs`.
        what: String,
        /// The error it returned.
        #[source]
        source: io::Error,
    },

    /// A JSON document (manifest, index, config) did not parse.
    #[error("{what}: invalid JSON")]
    Json {
        /// Which document.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// A source reference (`oci:DIR`, `docker://...`) that cannot be used.
    #[error("invalid image source {spec:?}: {reason}")]
    Source {
        /// The reference as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A registry reference (`docker://NAME[:TAG][@DIGEST]`) that does not parse.
    #[error("invalid image source {reference:?}")]
    BadReference {
        /// The reference as given, with its transport.
        reference: String,
        /// What is wrong with it.
        #[source]
        cause: ReferenceError,
    },

    /// registries.conf rewrote a reference (a prefix or mirror rule) into one that does not
    /// parse.
    #[error("invalid image source {reference:?}: registries.conf rewrites it to {rewritten:?}, which is not a valid reference")]
    BadRewrite {
        /// The reference as given, with its transport.
        reference: String,
        /// What registries.conf made of it.
        rewritten: String,
        /// What is wrong with the rewritten one.
        #[source]
        cause: ReferenceError,
    },

    /// A configured proxy that a request would go through cannot be used.
    #[error(transparent)]
    Proxy(ProxyError),

    /// A file, blob, reference or URL that does not exist.
    #[error("{0}: not found")]
    NotFound(String),

    /// The image index has no manifest for the wanted platform.
    #[error("no manifest for platform {0} in the image index")]
    Platform(String),

    /// The registry answered, but not with something usable.
    #[error("registry {url}: {reason}")]
    Registry {
        /// The request URL.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },

    /// The registry asks for credentials and none were given ([`crate::SourceOptions::creds`]).
    #[error("registry {url}: registry wants credentials")]
    CredentialsNeeded {
        /// The request URL.
        url: String,
    },

    /// A request to a registry failed (connection, TLS, HTTP or reading the body).
    #[error("registry {url}")]
    Transfer {
        /// The request URL.
        url: String,
        /// The transport's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Getting a registry token failed; `what` says at which step.
    #[error("registry {url}: {what}")]
    Auth {
        /// The token request URL.
        url: String,
        /// `token request` or `token response`.
        what: &'static str,
        /// The transport's or parser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A configuration file (registries.conf) that does not parse.
    #[error("{path}: invalid configuration")]
    Config {
        /// The file.
        path: String,
        /// The parser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// registries.conf blocks pulls of this image.
    #[error("image {image} is blocked: [[registry]] prefix {prefix:?} in {file}")]
    Blocked {
        /// The image, `HOST/REPO[:TAG][@DIGEST]`.
        image: String,
        /// The prefix of the table that blocks it.
        prefix: String,
        /// The file that table is in.
        file: String,
    },

    /// Neither a mirror nor the primary location gave the image; the source is the primary's
    /// error.
    #[error("image {image}: no mirror gave it ({mirrors}), nor the primary location")]
    Mirrors {
        /// The image, `HOST/REPO[:TAG][@DIGEST]`.
        image: String,
        /// The mirrors tried, comma-separated.
        mirrors: String,
        /// What the primary location answered.
        #[source]
        source: Box<ImageError>,
    },

    /// Anything else that makes an image or request invalid; the text says what.
    #[error("{0}")]
    Invalid(String),

    /// The unpack was cancelled through [`crate::ApplyOptions::cancel`].
    #[error("interrupted")]
    Cancelled,
}

/// `Result` with an [`ImageError`].
pub type Result<T> = std::result::Result<T, ImageError>;

impl ImageError {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> ImageError {
        ImageError::Io {
            what: what.into(),
            source,
        }
    }

    /// Wraps a JSON error with the document it came from.
    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> ImageError {
        ImageError::Json {
            what: what.into(),
            source,
        }
    }

    /// Readers can only return `io::Error`; verification failures travel inside one and are
    /// unwrapped again here so the caller sees the typed error rather than a string.
    pub(crate) fn from_io_in_layer(layer: &str, entry: Option<&str>, e: io::Error) -> ImageError {
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
                source: e,
            },
            None => ImageError::Layer {
                layer: layer.to_string(),
                source: e,
            },
        }
    }

    /// Packs a typed error into an `io::Error` so it can cross a `Read` boundary.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// What is wrong with an image reference (the wording is the distribution project's, which
/// docker, podman and skopeo print).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The reference is empty.
    #[error("repository name must have at least one component")]
    Empty,
    /// 64 hex digits alone: an image id, not a name.
    #[error("cannot specify 64-byte hexadecimal strings as a repository name")]
    ImageId,
    /// What follows `@` is not `ALGORITHM:HEX`.
    #[error("invalid digest {0:?}")]
    Digest(String),
    /// The tag has a character outside `[A-Za-z0-9_.-]`, starts with `.` or `-`, or is long.
    #[error("invalid tag {0:?}")]
    Tag(String),
    /// The registry part is not a host name or address with an optional port.
    #[error("invalid registry domain {0:?}")]
    Domain(String),
    /// The repository path has an upper-case letter.
    #[error("repository name must be lowercase")]
    Uppercase,
    /// A path component is empty or has characters outside the grammar.
    #[error("invalid repository name {0:?}")]
    Repository(String),
    /// Registry and path together are longer than the distribution project allows.
    #[error("repository name must not be more than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

/// A configured proxy that cannot be used. It is reported when a request would go through it,
/// as Go's net/http does, so a bad `https_proxy` does not stop a pull that never uses it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// ureq reaches proxies over plain HTTP only: `https://` and SOCKS proxies are refused.
    #[error("proxy {proxy:?}: {scheme}:// proxies are not supported (http:// only)")]
    Scheme {
        /// The proxy as configured.
        proxy: String,
        /// Its scheme.
        scheme: String,
    },
    /// ureq cannot read the address (shared: every request through the proxy reports it).
    #[error("proxy {proxy:?}")]
    Address {
        /// The proxy as configured.
        proxy: String,
        /// ureq's reason.
        #[source]
        cause: Arc<ureq::Error>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_cause_is_the_source_not_part_of_the_message() {
        let e = ImageError::from_io_in_layer(
            "sha256:abc",
            Some("etc/passwd"),
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(e.to_string(), r#"layer sha256:abc: entry "etc/passwd""#);
        let cause = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(cause.and_then(io::Error::raw_os_error), Some(libc::ENOENT));
        // A typed error that crossed a Read boundary comes back as itself.
        let inner = ImageError::TooLarge {
            layer: "sha256:abc".into(),
            limit: 1,
        };
        let back = ImageError::from_io_in_layer("sha256:abc", None, inner.into_io());
        assert!(
            matches!(back, ImageError::TooLarge { limit: 1, .. }),
            "{back}"
        );
    }
}
