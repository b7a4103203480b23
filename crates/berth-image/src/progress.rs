//! The progress hook: the library counts bytes, the embedder draws (or logs) them.

use std::sync::Arc;

/// Receives progress of [`crate::unpack`] and [`crate::pull`]: one `begin`, any number of
/// `inc`, one `end` per operation; within it, for each layer (blob) read, one `layer_begin`,
/// any number of `layer_inc` (each also counted in an `inc`) and one `layer_end`. Layers may
/// be read at the same time (a pull fetches several at once; an unpack decodes the next layer
/// while it writes one), so their calls interleave. Every method has an empty default, and
/// calls come from the operation's thread and from worker threads, hence `Send + Sync`.
pub trait Progress: Send + Sync {
    /// An operation starts: `label` says what, `total` is the number of compressed bytes to read.
    fn begin(&self, _label: &str, _total: u64) {}
    /// `n` more compressed bytes were read.
    fn inc(&self, _n: u64) {}
    /// The operation finished (it is not called when it fails).
    fn end(&self) {}
    /// Reading the layer (or blob) `digest` of `size` compressed bytes starts.
    fn layer_begin(&self, _digest: &str, _size: u64) {}
    /// `n` more bytes of layer `digest` were read.
    fn layer_inc(&self, _digest: &str, _n: u64) {}
    /// No more bytes of layer `digest` will be read: all were, or reading it stopped.
    fn layer_end(&self, _digest: &str) {}
}

/// The progress of one layer: `layer_begin` when made, `layer_inc` and `inc` for its bytes,
/// `layer_end` when dropped.
pub(crate) struct LayerProgress {
    progress: Arc<dyn Progress>,
    digest: String,
}

impl LayerProgress {
    pub(crate) fn new(progress: Arc<dyn Progress>, digest: &str, size: u64) -> LayerProgress {
        progress.layer_begin(digest, size);
        LayerProgress {
            progress,
            digest: digest.to_string(),
        }
    }

    pub(crate) fn inc(&self, n: u64) {
        self.progress.inc(n);
        self.progress.layer_inc(&self.digest, n);
    }
}

impl Drop for LayerProgress {
    fn drop(&mut self) {
        self.progress.layer_end(&self.digest);
    }
}
