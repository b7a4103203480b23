//! `unpack`: resolve, create the bundle, apply layers in order through the verifying pipeline,
//! write config.json. On any failure the bundle (or what we added to an empty one) is removed.

use crate::apply::{apply_layer, ApplyOptions};
use crate::convert::{host_has_pure_cgroup_v2, runtime_config, ConvertOptions};
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::progress::Progress;
use crate::resolve::{host_platform, resolve, Resolved};
use crate::source::{ImageSource, Source};
use crate::stream::{self, LayerSpec};
use crate::types::Platform;
use berth_sys::{path, tree};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

/// How [`unpack`] works. `default()` gives what the `berth-image` command does without flags
/// when run as root; set the fields that should differ.
#[derive(Clone)]
#[non_exhaustive]
pub struct UnpackOptions {
    /// Ownership, device nodes and cancellation while applying layers.
    pub apply: ApplyOptions,
    /// The platform to pick from a multi-platform image; `None`: [`crate::host_platform`].
    pub platform: Option<Platform>,
    /// Decompressed bytes allowed per compressed byte before a layer counts as a bomb
    /// (0: no limit). gzip cannot exceed ~1032:1, so the default leaves honest layers alone.
    pub max_ratio: u64,
    /// Where to report bytes read; `None`: nowhere.
    pub progress: Option<Arc<dyn Progress>>,
}

impl Default for UnpackOptions {
    fn default() -> UnpackOptions {
        UnpackOptions {
            apply: ApplyOptions::default(),
            platform: None,
            max_ratio: DEFAULT_MAX_RATIO,
            progress: None,
        }
    }
}

/// What [`unpack`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UnpackReport {
    /// The digest of the manifest that was unpacked.
    pub manifest_digest: String,
    /// Layers applied.
    pub layers: usize,
    /// Tar entries processed over all layers.
    pub entries: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// What could not be applied as the image asked (see [`crate::ApplyStats::warnings`]).
    pub warnings: Vec<String>,
}

/// The default [`UnpackOptions::max_ratio`].
pub const DEFAULT_MAX_RATIO: u64 = 2048;

/// Unpacks the image in `src` into the runtime bundle directory `bundle` (which must not exist,
/// or be empty): `bundle/rootfs` from the layers, verified against their digests and diff_ids
/// while they stream, and `bundle/config.json` from the image config. On failure the bundle
/// (or, if it existed, what was added to it) is removed again.
pub fn unpack(src: &Source, bundle: &Path, opts: &UnpackOptions) -> Result<UnpackReport> {
    let src = src.inner();
    let want = opts.platform.clone().unwrap_or_else(host_platform);
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
    let root = path::open_path(rootfs.as_os_str(), libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(|e| ImageError::io(format!("open {}", rootfs.display()), e))?;
    tree::fchmod(root.as_fd(), 0o755)
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
        cgroup_ns: host_has_pure_cgroup_v2(),
    };
    let config = runtime_config(&img.config, root.as_fd(), &conv)?;
    let body =
        serde_json::to_vec_pretty(&config).map_err(|e| ImageError::json("config.json", e))?;
    let cfg = bundle.join("config.json");
    std::fs::write(&cfg, body)
        .map_err(|e| ImageError::io(format!("write {}", cfg.display()), e))?;
    if let Some(p) = &opts.progress {
        p.end();
    }
    Ok(report)
}
