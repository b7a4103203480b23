//! A layer's byte pipeline: raw blob → size/digest check → decompression → size bound, on a
//! worker thread, then → diff_id check → tar applier on the caller's thread. Inflating a gzip
//! stream is serial and the largest cost, so the worker does only that (and the blob's digest);
//! the diff_id's hash of the uncompressed bytes runs on the applier's side, whose filesystem
//! work alone would leave it waiting on the inflater.

use crate::compress;
use crate::digest::{Digest, Hasher, VerifyReader};
use crate::error::ImageError;
use crate::progress::{LayerProgress, Progress};
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

const CHUNK: usize = 256 * 1024;
const DEPTH: usize = 4;

/// Stops the decompressed stream growing past `limit` bytes, so a small hostile blob cannot
/// expand without bound.
struct BoundReader<R> {
    inner: R,
    layer: String,
    seen: u64,
    limit: u64,
}

impl<R: Read> Read for BoundReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(ImageError::TooLarge {
                layer: self.layer.clone(),
                limit: self.limit,
            }
            .into_io());
        }
        Ok(n)
    }
}

/// Small blobs still get some room: a tiny compressed layer may legitimately expand a lot.
const MIN_LIMIT: u64 = 1 << 20;

fn layer_limit(size: u64, ratio: u64, compressed: bool) -> u64 {
    if ratio == 0 {
        u64::MAX
    } else if !compressed {
        size
    } else {
        size.saturating_mul(ratio).max(MIN_LIMIT)
    }
}

/// The applier's end of the pipeline.
pub(crate) struct LayerStream {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// The layer's digest (for errors), the diff_id the uncompressed stream must hash to, and
    /// the hash so far; checked when the worker marks the end.
    layer: String,
    diff_id: Option<(Digest, Hasher)>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

pub(crate) struct LayerSpec {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Option<Digest>,
    /// Decompressed bytes allowed per compressed byte (0: unbounded); an uncompressed layer
    /// is bounded by its own size.
    pub max_ratio: u64,
}

/// Starts decoding `raw` on a worker thread.
pub(crate) fn spawn(
    raw: Box<dyn Read + Send>,
    spec: LayerSpec,
    progress: Option<Arc<dyn Progress>>,
) -> LayerStream {
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
    let (back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let layer = spec.digest.to_string();
    let diff_id = spec.diff_id.clone().map(|d| {
        let h = d.hasher();
        (d, h)
    });
    let thread = std::thread::spawn(move || {
        let layer = spec.digest.to_string();
        let mut verified = VerifyReader::new(raw, spec.digest.clone(), spec.size);
        if let Some(p) = progress {
            let layer = LayerProgress::new(p, &layer, spec.size);
            verified = verified.on_read(move |n| layer.inc(n));
        }
        let (kind, dec) = match compress::decoder(verified) {
            Ok(d) => d,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let limit = layer_limit(
            spec.size,
            spec.max_ratio,
            kind != compress::Compression::None,
        );
        let mut r = BoundReader {
            inner: dec,
            layer,
            seen: 0,
            limit,
        };
        loop {
            let mut buf = spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            buf.resize(CHUNK, 0);
            let mut filled = 0;
            let res = loop {
                if filled == CHUNK {
                    break Ok(false);
                }
                match r.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(true),
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(filled);
            match res {
                Ok(eof) => {
                    if filled > 0 && tx.send(Ok(buf)).is_err() {
                        return;
                    }
                    if eof {
                        // An explicit end marker: a worker that dies must not look like EOF.
                        let _ = tx.send(Ok(Vec::new()));
                        return;
                    }
                }
                Err(e) => {
                    if filled > 0 {
                        let _ = tx.send(Ok(buf));
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    LayerStream {
        rx,
        layer,
        diff_id,
        back,
        cur: Vec::new(),
        pos: 0,
        done: false,
        thread: Some(thread),
    }
}

impl Read for LayerStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(buf)) if buf.is_empty() => {
                    self.done = true;
                    // The layer only counts as read once its uncompressed bytes match the
                    // diff_id (the blob's own digest was checked by the worker).
                    if let Some((expected, h)) = self.diff_id.take() {
                        let actual = h.finish();
                        if actual != expected {
                            return Err(ImageError::DiffIdMismatch {
                                layer: self.layer.clone(),
                                expected: expected.to_string(),
                                actual: actual.to_string(),
                            }
                            .into_io());
                        }
                    }
                    return Ok(0);
                }
                Ok(Ok(buf)) => {
                    if let Some((_, h)) = self.diff_id.as_mut() {
                        h.update(&buf);
                    }
                    let old = std::mem::replace(&mut self.cur, buf);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(
                        "layer decoder thread stopped unexpectedly",
                    ));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for LayerStream {
    fn drop(&mut self) {
        // Unblock a worker stuck on a full channel, then wait so no thread outlives the unpack.
        let (_, dead) = sync_channel(0);
        self.rx = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
