//! `unpack`: resolve, create the bundle, apply layers in order through the verifying pipeline,
//! write config.json. On any failure the bundle (or what we added to an empty one) is removed.

use super::apply::{apply_layer, ApplyOptions};
use super::convert::{runtime_config, ConvertOptions};
use super::digest::Digest;
use super::error::{ImageError, Result};
use super::resolve::{resolve, Resolved};
use super::source::ImageSource;
use super::stream::{self, LayerSpec};
use super::sys;
use super::types::Platform;
use super::Progress;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct UnpackOptions {
    pub apply: ApplyOptions,
    pub platform: Option<Platform>,
    /// Decompressed bytes allowed per compressed byte before a layer counts as a bomb
    /// (0: no limit). gzip cannot exceed ~1032:1, so the default leaves honest layers alone.
    pub max_ratio: u64,
    pub progress: Option<Arc<dyn Progress>>,
}

#[derive(Debug, Default)]
pub struct UnpackReport {
    pub manifest_digest: String,
    pub layers: usize,
    pub entries: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

pub const DEFAULT_MAX_RATIO: u64 = 2048;

/// Unpacks into `bundle` (which must not exist, or be empty).
pub fn unpack(src: &dyn ImageSource, bundle: &Path, opts: &UnpackOptions) -> Result<UnpackReport> {
    let want = opts
        .platform
        .clone()
        .unwrap_or_else(super::resolve::host_platform);
    let img = resolve(src, &want)?;
    let created = match std::fs::read_dir(bundle) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(ImageError::Invalid(format!(
                    "bundle {} exists and is not empty",
                    bundle.display()
                )));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(bundle)
                .map_err(|e| ImageError::io(format!("create {}", bundle.display()), e))?;
            true
        }
        Err(e) => return Err(ImageError::io(format!("read {}", bundle.display()), e)),
    };
    let res = unpack_into(src, &img, bundle, opts);
    if res.is_err() {
        // Nothing half-made may be left for a runtime to pick up.
        if created {
            let _ = std::fs::remove_dir_all(bundle);
        } else {
            let _ = std::fs::remove_dir_all(bundle.join("rootfs"));
            let _ = std::fs::remove_file(bundle.join("config.json"));
        }
    }
    res
}

fn layer_spec(img: &Resolved, i: usize, max_ratio: u64) -> Result<LayerSpec> {
    let d = &img.manifest.layers[i];
    let digest = Digest::parse(&d.digest)?;
    let diff_id = match img.config.rootfs.diff_ids.get(i) {
        Some(s) => Some(Digest::parse(s)?),
        None => None,
    };
    if d.media_type.contains("nondistributable") || d.media_type.contains("foreign") {
        // Still a tar layer; nothing special to do when the blob is present.
    } else if !d.media_type.is_empty() && !d.media_type.contains("tar") {
        return Err(ImageError::MediaType {
            layer: d.digest.clone(),
            media_type: d.media_type.clone(),
        });
    }
    Ok(LayerSpec {
        digest,
        size: d.size,
        diff_id,
        max_ratio,
    })
}

fn unpack_into(
    src: &dyn ImageSource,
    img: &Resolved,
    bundle: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackReport> {
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir(&rootfs)
        .map_err(|e| ImageError::io(format!("create {}", rootfs.display()), e))?;
    let root = sys::open_dir(&rootfs)
        .map_err(|e| ImageError::io(format!("open {}", rootfs.display()), e))?;
    sys::fchmod(root.as_fd(), 0o755)
        .map_err(|e| ImageError::io(format!("chmod {}", rootfs.display()), e))?;
    let mut report = UnpackReport {
        manifest_digest: img.manifest_desc.digest.clone(),
        ..Default::default()
    };
    let total: u64 = img.manifest.layers.iter().map(|l| l.size).sum();
    if let Some(p) = &opts.progress {
        p.begin(
            &format!("unpacking {} layers", img.manifest.layers.len()),
            total,
        );
    }
    let start = |i: usize| -> Result<stream::LayerStream> {
        let spec = layer_spec(img, i, opts.max_ratio)?;
        let raw = src.blob(&spec.digest)?;
        Ok(stream::spawn(raw, spec, opts.progress.clone()))
    };
    // Decode one layer ahead: layer i+1 inflates and hashes while layer i is being written.
    let mut next = if img.manifest.layers.is_empty() {
        None
    } else {
        Some(start(0)?)
    };
    for i in 0..img.manifest.layers.len() {
        let Some(cur) = next.take() else { break };
        if i + 1 < img.manifest.layers.len() {
            next = Some(start(i + 1)?);
        }
        let stats = apply_layer(
            root.as_fd(),
            cur,
            &img.manifest.layers[i].digest,
            &opts.apply,
        )?;
        report.entries += stats.entries;
        report.bytes += stats.bytes;
        report.warnings.extend(stats.warnings);
        report.layers += 1;
    }
    let conv = ConvertOptions {
        rootless: if opts.apply.rootless {
            Some((
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ))
        } else {
            None
        },
    };
    let config = runtime_config(&img.config, root.as_fd(), &conv)?;
    let body = serde_json::to_vec_pretty(&config).map_err(|e| ImageError::Json {
        what: "config.json".into(),
        err: e,
    })?;
    let cfg = bundle.join("config.json");
    std::fs::write(&cfg, body)
        .map_err(|e| ImageError::io(format!("write {}", cfg.display()), e))?;
    if let Some(p) = &opts.progress {
        p.end();
    }
    Ok(report)
}
