//! `inspect`: what an image is made of, without unpacking it.

use super::error::Result;
use super::resolve::{host_platform, resolve};
use super::source::ImageSource;
use super::types::{ExecConfig, Platform};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct LayerInfo {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub diff_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Inspect {
    pub source: String,
    pub index_digest: Option<String>,
    /// Platforms the index offers (OS/ARCH[/VARIANT]), when the image is multi-platform.
    pub platforms: Vec<String>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub config_digest: String,
    pub os: String,
    pub architecture: String,
    pub created: Option<String>,
    pub config: Option<ExecConfig>,
    pub layers: Vec<LayerInfo>,
    pub total_size: u64,
    pub manifest: serde_json::Value,
}

pub fn inspect(src: &dyn ImageSource, platform: Option<&Platform>) -> Result<Inspect> {
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
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect(),
        manifest_digest: img.manifest_desc.digest.clone(),
        manifest_media_type: img.manifest_desc.media_type.clone(),
        config_digest: img.manifest.config.digest.clone(),
        os: img.config.os.clone(),
        architecture: img.config.architecture.clone(),
        created: img.config.created.clone(),
        config: img.config.config.clone(),
        total_size: layers.iter().map(|l| l.size).sum(),
        layers,
        manifest: serde_json::from_slice(&img.manifest_raw).unwrap_or_default(),
    })
}
