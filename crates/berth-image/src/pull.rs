//! `pull`: copy one image (for one platform) from any source into a local OCI layout.

use crate::digest::Digest;
use crate::error::Result;
use crate::layout::LayoutWriter;
use crate::progress::Progress;
use crate::resolve::{host_platform, resolve};
use crate::source::Source;
use crate::types::{Descriptor, Platform};
use std::path::Path;
use std::sync::Arc;

/// Copies the image in `src` for `platform` (default: [`crate::host_platform`]) into the OCI
/// layout directory `dest` (created if missing) and tags it `reference` there, replacing an older
/// image of that name. Every blob is verified on the way in and blobs already there are not
/// copied again. Returns the descriptor of the stored manifest.
pub fn pull(
    src: &Source,
    dest: &Path,
    reference: &str,
    platform: Option<&Platform>,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    let src = src.inner();
    let img = resolve(src, &platform.cloned().unwrap_or_else(host_platform))?;
    let out = LayoutWriter::open_or_create(dest)?;
    let total: u64 = img.manifest.layers.iter().map(|l| l.size).sum();
    if let Some(p) = &progress {
        p.begin(
            &format!("pulling {} layers", img.manifest.layers.len()),
            total,
        );
    }
    for layer in &img.manifest.layers {
        let d = Digest::parse(&layer.digest)?;
        if out.has_blob(&d) {
            if let Some(p) = &progress {
                p.inc(layer.size);
            }
            continue;
        }
        let raw = src.blob(&d)?;
        let p2 = progress.clone();
        let counted = CountingReader {
            inner: raw,
            progress: p2,
        };
        out.put_blob(layer, counted)?;
    }
    out.put_blob(&img.manifest.config, &img.config_raw[..])?;
    let mut desc = img.manifest_desc.clone();
    desc.annotations.clear();
    if desc.platform.is_none() {
        desc.platform = img.index.as_ref().and(Some(img.config.platform.clone()));
    }
    out.put_blob(&desc, &img.manifest_raw[..])?;
    out.tag(&desc, reference)?;
    if let Some(p) = &progress {
        p.end();
    }
    Ok(desc)
}

struct CountingReader<R> {
    inner: R,
    progress: Option<Arc<dyn Progress>>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}
