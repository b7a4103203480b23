//! `inspect`: what an image is made of, without unpacking it.

use crate::error::Result;
use crate::resolve::{host_platform, resolve};
use crate::source::Source;
use crate::types::{ExecConfig, Platform};
use serde::Serialize;

/// One layer of an inspected image. Serialised with camelCase keys, as the OCI specs spell
/// a descriptor's (`mediaType`, `digest`, `size`; `diffId`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LayerInfo {
    /// The layer blob's digest.
    pub digest: String,
    /// Its media type (tells the compression).
    pub media_type: String,
    /// Its (compressed) size in bytes.
    pub size: u64,
    /// The digest of its uncompressed tar, from the image config.
    pub diff_id: Option<String>,
}

/// What [`inspect`] found: the image's documents, verified, and a summary of them. Serialised
/// with camelCase keys (`manifestDigest`, `manifestMediaType`, `totalSize`, ...), as the OCI
/// specs spell theirs; `config` and `manifest` keep the image's own spelling.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Inspect {
    /// The source's name.
    pub source: String,
    /// The digest of the index the manifest was picked from, if the image is multi-platform.
    pub index_digest: Option<String>,
    /// Platforms the index offers (OS/ARCH[/VARIANT]), when the image is multi-platform.
    pub platforms: Vec<String>,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The manifest's media type.
    pub manifest_media_type: String,
    /// The image config's digest.
    pub config_digest: String,
    /// The image's OS.
    pub os: String,
    /// The image's architecture.
    pub architecture: String,
    /// When the image was created (RFC 3339), if it says.
    pub created: Option<String>,
    /// The execution parameters.
    pub config: Option<ExecConfig>,
    /// The layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The sum of the layers' sizes.
    pub total_size: u64,
    /// The manifest itself.
    pub manifest: serde_json::Value,
}

/// Resolves the image in `src` for `platform` (default: [`crate::host_platform`]), verifying
/// the index, manifest and config against their digests, and describes it. Layers are not read.
pub fn inspect(src: &Source, platform: Option<&Platform>) -> Result<Inspect> {
    let src = src.inner();
    let img = resolve(src, &platform.cloned().unwrap_or_else(host_platform))?;
    let layers: Vec<LayerInfo> = img
        .manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerInfo {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: l.size,
            diff_id: img.config.rootfs.diff_ids.get(i).cloned(),
        })
        .collect();
    Ok(Inspect {
        source: src.describe(),
        index_digest: img.index.as_ref().map(|(d, _)| d.digest.clone()),
        platforms: img
            .index
            .iter()
            .flat_map(|(_, idx)| idx.manifests.iter())
            .filter_map(|m| m.platform.as_ref())
            .map(Platform::to_string)
            .collect(),
        manifest_digest: img.manifest_desc.digest.clone(),
        manifest_media_type: img.manifest_desc.media_type.clone(),
        config_digest: img.manifest.config.digest.clone(),
        os: img.config.platform.os.clone(),
        architecture: img.config.platform.architecture.clone(),
        created: img.config.created.clone(),
        config: img.config.config.clone(),
        total_size: layers.iter().map(|l| l.size).sum(),
        layers,
        manifest: serde_json::from_slice(&img.manifest_raw).unwrap_or_default(),
    })
}
