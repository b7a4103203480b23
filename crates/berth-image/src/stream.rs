//! A layer's byte pipeline: raw blob → size/digest check → decompression → diff_id check and
//! size bound → tar applier. Everything up to the applier runs on its own thread so inflating
//! and hashing overlap with the filesystem work (the second core is otherwise idle).

use crate::compress;
use crate::digest::{Digest, Hasher, VerifyReader};
use crate::error::ImageError;
use crate::progress::{LayerProgress, Progress};
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

const CHUNK: usize = 512 * 1024;
const DEPTH: usize = 8;

/// Checks the decompressed stream against the config's diff_id and stops it growing past
/// `limit` bytes, so a small hostile blob cannot expand without bound.
struct DiffIdReader<R> {
    inner: R,
    layer: String,
    expected: Option<Digest>,
    hasher: Option<Hasher>,
    seen: u64,
    limit: u64,
}

impl<R: Read> Read for DiffIdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let (Some(h), Some(expected)) = (self.hasher.take(), self.expected.as_ref()) {
                let actual = h.finish();
                if actual != *expected {
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
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(ImageError::TooLarge {
                layer: self.layer.clone(),
                limit: self.limit,
            }
            .into_io());
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
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
        let hasher = spec.diff_id.as_ref().map(|d| d.hasher());
        let mut r = DiffIdReader {
            inner: dec,
            layer,
            expected: spec.diff_id,
            hasher,
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
                    return Ok(0);
                }
                Ok(Ok(buf)) => {
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
