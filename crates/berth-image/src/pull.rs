//! `pull`: copy one image (for one platform) from any source into a local OCI layout, or an
//! OCI layout in a tar file.

use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::layout::LayoutWriter;
use crate::progress::{LayerProgress, Progress};
use crate::resolve::{fetch_json, host_platform, resolve};
use crate::source::{Source, SourceRef};
use crate::stream::{self, LayerSpec};
use crate::types::{self, Descriptor, Index, Manifest, Platform};
use std::path::Path;
use std::sync::Arc;

/// Copies the image in `src` for `platform` (default: [`crate::host_platform`]) into the OCI
/// layout directory `dest` (created if missing) and tags it `reference` there, replacing an older
/// image of that name. Layers are fetched four at a time, each
/// streamed to disk; every blob is verified on the way in and blobs already there are not
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
    fetch_layers(src, &out, &img.manifest.layers, progress.as_ref())?;
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

/// Copies every image of `src` into the OCI layout directory `dest`, as `skopeo copy --all`
/// does: an index (or Docker manifest list) is kept byte for byte and tagged `reference`, with
/// every manifest it names (nested indexes too), and their configs and layers, all verified on
/// the way in. A source whose root is a single manifest is copied as [`pull`] copies it.
/// Returns the descriptor of the stored root.
pub fn pull_all(
    src: &Source,
    dest: &Path,
    reference: &str,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    let inner = src.inner();
    let (mut root, body) = inner.root()?;
    Digest::parse(&root.digest)?.verify_bytes(&body, Some(root.size))?;
    root.media_type = types::sniff_media_type(Some(&root.media_type), &body);
    if !types::is_index(&root.media_type) {
        return pull(src, dest, reference, None, progress);
    }
    // Walk the tree of indexes and manifests (bounded in depth, as `resolve` is) and gather
    // the documents to store, each with its bytes, and the blobs they name.
    let mut docs: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut level = vec![(root.clone(), body)];
    for depth in 0..4 {
        let mut next = Vec::new();
        for (desc, body) in level {
            let mt = types::sniff_media_type(Some(&desc.media_type), &body);
            if types::is_index(&mt) {
                let idx: Index = serde_json::from_slice(&body)
                    .map_err(|e| ImageError::json(format!("image index {}", desc.digest), e))?;
                if depth == 3 && !idx.manifests.is_empty() {
                    return Err(ImageError::Invalid(format!(
                        "image index {}: indexes nested more than 3 deep",
                        desc.digest
                    )));
                }
                for m in &idx.manifests {
                    if !docs.iter().chain(&next).any(|(d, _)| d.digest == m.digest) {
                        next.push((m.clone(), fetch_json(inner, m)?));
                    }
                }
            } else {
                let m: Manifest = serde_json::from_slice(&body)
                    .map_err(|e| ImageError::json(format!("manifest {}", desc.digest), e))?;
                blobs.push(m.config.clone());
                blobs.extend(m.layers.iter().cloned());
            }
            docs.push((desc, body));
        }
        level = next;
        if level.is_empty() {
            break;
        }
    }
    let out = LayoutWriter::open_or_create(dest)?;
    if let Some(p) = &progress {
        p.begin(
            &format!("pulling {} manifests", docs.len() - 1),
            blobs.iter().map(|b| b.size).sum(),
        );
    }
    fetch_layers(inner, &out, &blobs, progress.as_ref())?;
    // Children before the documents that name them, so a document is never there without
    // what it points at.
    for (desc, body) in docs.iter().rev() {
        out.put_blob(desc, &body[..])?;
    }
    root.annotations.clear();
    out.tag(&root, reference)?;
    if let Some(p) = &progress {
        p.end();
    }
    Ok(root)
}

/// Copies the image in `src` to `dest`, given as skopeo names destinations: `oci:DIR[:REF]`
/// (as [`pull`]), `oci-archive:FILE[:REF]` (an OCI layout in a tar file) or
/// `docker-archive:FILE[:REPO:TAG]` (`docker save`'s format, layers uncompressed); archives are
/// written next to `FILE` and renamed over it once complete. `default_ref` tags the image
/// where an `oci` destination names no REF.
pub fn pull_to(
    src: &Source,
    dest: &SourceRef,
    default_ref: &str,
    platform: Option<&Platform>,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    if let SourceRef::DockerArchive { file, reference } = dest {
        return pull_docker_archive(src, file, reference.as_deref(), platform, progress);
    }
    to_layout(dest, default_ref, |dir, reference| {
        pull(src, dir, reference, platform, progress)
    })
}

/// [`pull_to`] for every image of `src` ([`pull_all`]); a `docker-archive:` destination, which
/// holds one image per name, is refused (as skopeo refuses it).
pub fn pull_all_to(
    src: &Source,
    dest: &SourceRef,
    default_ref: &str,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    if let SourceRef::DockerArchive { .. } = dest {
        return Err(ImageError::Invalid(
            "a docker-archive: holds no image index: copy every platform (--all) to oci: or oci-archive:".into(),
        ));
    }
    to_layout(dest, default_ref, |dir, reference| {
        pull_all(src, dir, reference, progress)
    })
}

/// Runs `copy` (into a layout directory, under a name) for an `oci:` or `oci-archive:`
/// destination; an archive is built in a temporary directory next to it and renamed over it.
fn to_layout(
    dest: &SourceRef,
    default_ref: &str,
    copy: impl FnOnce(&Path, &str) -> Result<Descriptor>,
) -> Result<Descriptor> {
    match dest {
        SourceRef::Oci { dir, reference } => copy(dir, reference.as_deref().unwrap_or(default_ref)),
        SourceRef::OciArchive { file, reference } => {
            let reference = reference.as_deref().unwrap_or(default_ref);
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let tmp = file.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
            let res = (|| {
                let d = copy(&tmp.join("layout"), reference)?;
                write_archive(&tmp.join("layout"), &tmp.join("archive.tar"))?;
                std::fs::rename(tmp.join("archive.tar"), file)
                    .map_err(|e| ImageError::io(format!("rename to {}", file.display()), e))?;
                Ok(d)
            })();
            let _ = std::fs::remove_dir_all(&tmp);
            res
        }
        _ => Err(ImageError::Invalid(
            "pull cannot push to a registry: write to oci:, oci-archive: or docker-archive:".into(),
        )),
    }
}

/// [`pull_to`]'s `docker-archive:FILE[:REPO:TAG]` destination.
fn pull_docker_archive(
    src: &Source,
    file: &Path,
    reference: Option<&str>,
    platform: Option<&Platform>,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = file.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        std::fs::create_dir(&tmp)
            .map_err(|e| ImageError::io(format!("create {}", tmp.display()), e))?;
        // docker's RepoTags always carry a tag.
        let tagged = reference.map(|r| {
            let last = r.rsplit('/').next().unwrap_or(r);
            if last.contains(':') {
                r.to_string()
            } else {
                format!("{r}:latest")
            }
        });
        let d = write_docker_archive(src, &tmp, tagged.as_deref(), platform, progress)?;
        std::fs::rename(tmp.join("archive.tar"), file)
            .map_err(|e| ImageError::io(format!("rename to {}", file.display()), e))?;
        Ok(d)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    res
}

/// `docker save`'s format, as skopeo writes a docker-archive: `HEX.tar` layers, uncompressed
/// (checked against the blob digest and the config's diff_id on the way), `HEX.json` config,
/// and manifest.json naming them with `repo_tag` (none: no RepoTags), written to
/// `tmp/archive.tar`.
fn write_docker_archive(
    src: &Source,
    tmp: &Path,
    repo_tag: Option<&str>,
    platform: Option<&Platform>,
    progress: Option<Arc<dyn Progress>>,
) -> Result<Descriptor> {
    let inner = src.inner();
    let img = resolve(inner, &platform.cloned().unwrap_or_else(host_platform))?;
    let out = tmp.join("archive.tar");
    let io = |what: &str, p: &Path, e| ImageError::io(format!("{what} {}", p.display()), e);
    let f = std::fs::File::create(&out).map_err(|e| io("create", &out, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    let mut layers = Vec::new();
    for (i, layer) in img.manifest.layers.iter().enumerate() {
        let diff_id = img.config.rootfs.diff_ids.get(i).ok_or_else(|| {
            ImageError::Invalid(format!("layer {}: the config has no diff_id", layer.digest))
        })?;
        let spec = LayerSpec {
            digest: Digest::parse(&layer.digest)?,
            size: layer.size,
            diff_id: Some(Digest::parse(diff_id)?),
            max_ratio: crate::unpack::DEFAULT_MAX_RATIO,
        };
        let raw = inner.blob(&spec.digest)?;
        let mut plain = stream::spawn(raw, spec, progress.clone());
        let part = tmp.join("layer.tar");
        let mut w = std::fs::File::create(&part).map_err(|e| io("create", &part, e))?;
        std::io::copy(&mut plain, &mut w)
            .map_err(|e| ImageError::from_io_in_layer(&layer.digest, None, e))?;
        let name = format!("{}.tar", Digest::parse(diff_id)?.hex());
        let mut r = std::fs::File::open(&part).map_err(|e| io("open", &part, e))?;
        let mut h = tar::Header::new_ustar();
        h.set_size(r.metadata().map_err(|e| io("stat", &part, e))?.len());
        h.set_mode(0o644);
        b.append_data(&mut h, &name, &mut r)
            .map_err(|e| io("archive", &out, e))?;
        layers.push(name);
    }
    let config_name = format!("{}.json", Digest::parse(&img.manifest.config.digest)?.hex());
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": repo_tag.into_iter().collect::<Vec<_>>(),
        "Layers": layers,
    }]);
    let manifest =
        serde_json::to_vec(&manifest).map_err(|e| ImageError::json("manifest.json", e))?;
    for (name, data) in [
        (config_name.as_str(), &img.config_raw[..]),
        ("manifest.json", &manifest[..]),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data)
            .map_err(|e| io("archive", &out, e))?;
    }
    b.into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .map_err(|e| io("write", &out, e))?;
    let mut desc = img.manifest_desc.clone();
    desc.annotations.clear();
    Ok(desc)
}

/// Tars the layout `dir` (oci-layout, index.json, blobs) into `out`.
fn write_archive(dir: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let io =
        |what: &str, p: &std::path::Path, e| ImageError::io(format!("{what} {}", p.display()), e);
    let f = std::fs::File::create(out).map_err(|e| io("create", out, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    b.mode(tar::HeaderMode::Deterministic);
    let mut names = vec!["oci-layout".to_string(), "index.json".to_string()];
    let blobs = dir.join("blobs");
    for algo in std::fs::read_dir(&blobs).map_err(|e| io("read", &blobs, e))? {
        let algo = algo.map_err(|e| io("read", &blobs, e))?.file_name();
        let sub = blobs.join(&algo);
        let mut hexes = Vec::new();
        for blob in std::fs::read_dir(&sub).map_err(|e| io("read", &sub, e))? {
            hexes.push(blob.map_err(|e| io("read", &sub, e))?.file_name());
        }
        hexes.sort();
        for h in hexes {
            names.push(format!(
                "blobs/{}/{}",
                algo.to_string_lossy(),
                h.to_string_lossy()
            ));
        }
    }
    for n in names {
        let p = dir.join(&n);
        b.append_path_with_name(&p, &n)
            .map_err(|e| io("archive", &p, e))?;
    }
    b.into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .map_err(|e| io("write", out, e))
}

/// How many layers of one pull are fetched at once: enough to hide a registry's per-request
/// latency and keep a fast link busy, few enough to stay polite (podman and skopeo copy 6).
pub(crate) const PARALLEL_LAYERS: usize = 4;

/// Copies the blobs `layers` names into `out`, [`PARALLEL_LAYERS`] at a time, each streamed
/// through a temporary file and verified against its digest and size before it takes its name.
/// Blobs already there are skipped (counted as done); a digest named twice is copied once. The
/// first failure stops the workers from starting more layers and is returned (the one of the
/// earliest layer when several fail); the layout only ever holds whole, verified blobs.
fn fetch_layers(
    src: &dyn crate::source::ImageSource,
    out: &LayoutWriter,
    layers: &[Descriptor],
    progress: Option<&Arc<dyn Progress>>,
) -> Result<()> {
    let mut todo: Vec<(usize, &Descriptor, Digest)> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let d = Digest::parse(&layer.digest)?;
        if out.has_blob(&d) || todo.iter().any(|(_, _, seen)| *seen == d) {
            if let Some(p) = progress {
                p.inc(layer.size);
            }
            continue;
        }
        todo.push((i, layer, d));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let errors = std::sync::Mutex::new(Vec::<(usize, ImageError)>::new());
    let fetch = |layer: &Descriptor, d: &Digest| -> Result<()> {
        let raw = src.blob(d)?;
        let counted = CountingReader {
            inner: raw,
            progress: progress.map(|p| LayerProgress::new(p.clone(), &layer.digest, layer.size)),
        };
        out.put_blob(layer, counted)
    };
    let worker = || loop {
        if failed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some((i, layer, d)) = todo.get(n) else {
            return;
        };
        if let Err(e) = fetch(layer, d) {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut v) = errors.lock() {
                v.push((*i, e));
            }
        }
    };
    let workers = todo.len().min(PARALLEL_LAYERS);
    if workers <= 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(worker);
            }
        });
    }
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    errors.sort_by_key(|(i, _)| *i);
    match errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

struct CountingReader<R> {
    inner: R,
    progress: Option<LayerProgress>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceRef;
    use std::io::Write;
    use std::sync::Mutex;

    /// Every call a pull makes on its progress hook, in order.
    #[derive(Default)]
    struct Record(Mutex<Vec<(String, String, u64)>>);

    impl Record {
        fn push(&self, what: &str, digest: &str, n: u64) {
            self.0.lock().unwrap().push((what.into(), digest.into(), n));
        }
    }

    impl Progress for Record {
        fn begin(&self, _: &str, total: u64) {
            self.push("begin", "", total);
        }
        fn inc(&self, n: u64) {
            self.push("inc", "", n);
        }
        fn layer_begin(&self, d: &str, size: u64) {
            self.push("layer_begin", d, size);
        }
        fn layer_inc(&self, d: &str, n: u64) {
            self.push("layer_inc", d, n);
        }
        fn layer_end(&self, d: &str) {
            self.push("layer_end", d, 0);
        }
    }

    /// Writes an OCI layout of `n` gzip layers (each one file of `size` varied bytes) under
    /// the name `v1`; returns the layer descriptors.
    fn layout(dir: &Path, n: usize, size: usize) -> Vec<Descriptor> {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = Digest::sha256_of(data);
            std::fs::write(blobs.join(d.hex()), data).unwrap();
            d.to_string()
        };
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for i in 0..n {
            let data: Vec<u8> = (0..size)
                .map(|j| (j * 31 + i * 7 + j / 251) as u8)
                .collect();
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("file-{i}"), &data[..])
                .unwrap();
            let tar = b.into_inner().unwrap();
            diff_ids.push(Digest::sha256_of(&tar).to_string());
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            let gz = gz.finish().unwrap();
            layers.push(Descriptor {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                digest: put(&gz),
                size: gz.len() as u64,
                ..Default::default()
            });
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::types::OCI_MANIFEST,
            "config": {"mediaType": crate::types::OCI_CONFIG, "digest": put(&config), "size": config.len()},
            "layers": layers,
        }))
        .unwrap();
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": crate::types::OCI_MANIFEST, "digest": put(&manifest),
            "size": manifest.len(), "annotations": {crate::types::REF_NAME: "v1"},
        }]});
        std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        layers
    }

    /// Each layer of a pull reports its own bytes (begin with its size, increments adding up
    /// to it, one end), alongside the operation's total; a layer already in the destination
    /// counts toward the total only.
    #[test]
    fn progress_per_layer() {
        let tmp = std::env::temp_dir().join(format!("berth-image-progress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let layers = layout(&tmp.join("src"), 6, 300_000);
        let src = SourceRef::parse(&format!("oci:{}:v1", tmp.join("src").display()))
            .unwrap()
            .open(&Default::default())
            .unwrap();
        let total: u64 = layers.iter().map(|l| l.size).sum();
        for round in 0..2 {
            let rec = Arc::new(Record::default());
            pull(&src, &tmp.join("dest"), "v1", None, Some(rec.clone())).unwrap();
            let events = rec.0.lock().unwrap().clone();
            assert_eq!(events[0], ("begin".into(), String::new(), total));
            let incs: u64 = events.iter().filter(|e| e.0 == "inc").map(|e| e.2).sum();
            assert_eq!(incs, total, "round {round}");
            for l in &layers {
                let of = |what: &str| {
                    events
                        .iter()
                        .filter(|e| e.0 == what && e.1 == l.digest)
                        .map(|e| e.2)
                        .collect::<Vec<_>>()
                };
                if round == 0 {
                    assert_eq!(of("layer_begin"), [l.size]);
                    assert_eq!(of("layer_inc").iter().sum::<u64>(), l.size);
                    assert_eq!(of("layer_end").len(), 1);
                } else {
                    assert!(of("layer_begin").is_empty());
                }
            }
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
