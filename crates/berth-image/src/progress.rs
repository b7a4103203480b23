//! The progress hook: the library counts bytes, the embedder draws (or logs) them.

/// Receives progress of [`crate::unpack`] and [`crate::pull`]: one `begin`, any number of
/// `inc`, one `end` per operation. Every method has an empty default, and calls come from the
/// unpacking thread and from layer decoder threads, hence `Send + Sync`.
pub trait Progress: Send + Sync {
    /// An operation starts: `label` says what, `total` is the number of compressed bytes to read.
    fn begin(&self, _label: &str, _total: u64) {}
    /// `n` more compressed bytes were read.
    fn inc(&self, _n: u64) {}
    /// The operation finished (it is not called when it fails).
    fn end(&self) {}
}
