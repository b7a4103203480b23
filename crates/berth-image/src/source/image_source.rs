//! What every source provides: its root document and raw blob streams.

use crate::digest::Digest;
use crate::error::Result;
use crate::types::Descriptor;
use std::io::Read;

/// A place to read one image from.
pub(crate) trait ImageSource: Send + Sync {
    /// Name for messages.
    fn describe(&self) -> String;
    /// The descriptor and body of the image's top manifest or index (bodies are verified by
    /// the caller against the descriptor when the descriptor came from elsewhere).
    fn root(&self) -> Result<(Descriptor, Vec<u8>)>;
    /// A raw, unverified stream of a blob's bytes.
    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>>;
}
