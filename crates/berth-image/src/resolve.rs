//! From a source's root document to a verified manifest and config: walks an index to the
//! manifest for the wanted platform, and checks every document against its digest.

use crate::digest::{read_verified, Digest};
use crate::error::{ImageError, Result};
use crate::source::ImageSource;
use crate::types::{self, Descriptor, ImageConfig, Index, Manifest, Platform, MAX_JSON};

/// A resolved image: everything but the layer contents, all verified.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// The index the manifest was picked from, if any.
    pub index: Option<(Descriptor, Index)>,
    pub manifest_desc: Descriptor,
    pub manifest: Manifest,
    pub manifest_raw: Vec<u8>,
    pub config_raw: Vec<u8>,
    pub config: ImageConfig,
}

/// The platform this program runs on, in OCI terms (`linux/amd64`, `linux/arm64`, ...): what
/// [`crate::unpack`] and friends pick from a multi-platform image unless told otherwise.
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: None,
    }
}

/// Parses `OS/ARCH[/VARIANT]`, e.g. `linux/arm64/v8`.
pub fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] => Ok(Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: None,
        }),
        [os, arch, v] => Ok(Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: Some(v.to_string()),
        }),
        _ => Err(ImageError::Invalid(format!(
            "invalid platform {s:?} (want OS/ARCH[/VARIANT])"
        ))),
    }
}

fn json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| ImageError::json(what, e))
}

pub(crate) fn fetch_json(src: &dyn ImageSource, d: &Descriptor) -> Result<Vec<u8>> {
    let digest = Digest::parse(&d.digest)?;
    read_verified(src.blob(&digest)?, &digest, d.size, MAX_JSON)
}

pub(crate) fn resolve(src: &dyn ImageSource, want: &Platform) -> Result<Resolved> {
    let (mut desc, mut body) = src.root()?;
    Digest::parse(&desc.digest)?.verify_bytes(&body, Some(desc.size))?;
    let mut index = None;
    // An index may point at another index (rare, but allowed); bound the walk.
    for _ in 0..4 {
        let mt = types::sniff_media_type(Some(&desc.media_type), &body);
        if !types::is_index(&mt) {
            break;
        }
        let idx: Index = json(&format!("image index {}", desc.digest), &body)?;
        let pick = idx
            .manifests
            .iter()
            .find(|m| {
                m.platform.as_ref().is_some_and(|p| {
                    p.os == want.os
                        && p.architecture == want.architecture
                        && (want.variant.is_none() || p.variant == want.variant)
                })
            })
            .or_else(|| {
                if idx.manifests.len() == 1 && idx.manifests[0].platform.is_none() {
                    idx.manifests.first()
                } else {
                    None
                }
            })
            .cloned()
            .ok_or_else(|| ImageError::Platform(want.to_string()))?;
        body = fetch_json(src, &pick)?;
        index = Some((desc, idx));
        desc = pick;
    }
    let manifest: Manifest = json(&format!("manifest {}", desc.digest), &body)?;
    let config_raw = fetch_json(src, &manifest.config)?;
    let config: ImageConfig = json(
        &format!("image config {}", manifest.config.digest),
        &config_raw,
    )?;
    if !config.rootfs.diff_ids.is_empty() && config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Invalid(format!(
            "manifest {} has {} layers but its config lists {} diff_ids",
            desc.digest,
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    Ok(Resolved {
        index,
        manifest_desc: desc,
        manifest,
        manifest_raw: body,
        config_raw,
        config,
    })
}
