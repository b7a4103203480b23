//! `docker save` tarballs. Both shapes have a top-level manifest.json listing each image's config
//! and layer members: the legacy one (`<id>/layer.tar`, uncompressed, so a layer's digest is its
//! diff_id) and Docker 25+'s OCI-in-docker one (`blobs/sha256/<hex>`). We read manifest.json in
//! both cases and synthesize an OCI manifest whose digests all get verified as usual.

use super::files::Files;
use super::image_source::ImageSource;
use crate::compress::Compression;
use crate::digest::{Algo, Digest, Hasher};
use crate::error::{ImageError, Result};
use crate::types::{
    Descriptor, ImageConfig, Manifest, MAX_JSON, OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub(crate) struct DockerArchive {
    files: Files,
    name: String,
    manifest: Vec<u8>,
    manifest_desc: Descriptor,
    members: HashMap<Digest, String>,
}

/// "busybox:latest" also matches "docker.io/library/busybox:latest" and vice versa.
fn same_tag(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.trim_start_matches("docker.io/")
            .trim_start_matches("library/")
            .to_string()
    };
    strip(a) == strip(b)
}

fn digest_from_member(path: &str) -> Option<Digest> {
    let rest = path.strip_prefix("blobs/")?;
    let (algo, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{algo}:{hex}")).ok()
}

/// Legacy layers are normally plain tars, but some tools write them compressed.
fn is_compressed(files: &Files, member: &str) -> Result<bool> {
    let mut head = [0u8; 4];
    let (_, mut r) = files.open(member)?;
    let n = r
        .read(&mut head)
        .map_err(|e| ImageError::io(format!("read {member}"), e))?;
    Ok(Compression::sniff(&head[..n]) != Compression::None)
}

/// A compressed legacy layer's digest is not its diff_id, and the archive does not record it:
/// hash it once here (the diff_id is still checked while unpacking).
fn hash_member(files: &Files, member: &str) -> Result<Digest> {
    let (_, mut r) = files.open(member)?;
    let mut h = Hasher::new(Algo::Sha256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| ImageError::io(format!("read {member}"), e))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

impl DockerArchive {
    pub(crate) fn new(files: Files, reference: Option<&str>, path: &Path) -> Result<DockerArchive> {
        let name = path.display().to_string();
        let body = files
            .read_small("manifest.json", MAX_JSON)
            .map_err(|e| match e {
                ImageError::NotFound(_) => ImageError::Source {
                    spec: name.clone(),
                    reason: "not a docker-archive (no manifest.json)".into(),
                },
                e => e,
            })?;
        let entries: Vec<Entry> = serde_json::from_slice(&body)
            .map_err(|e| ImageError::json(format!("{name}/manifest.json"), e))?;
        let entry = match reference {
            Some(r) => entries
                .iter()
                .find(|e| e.repo_tags.iter().flatten().any(|t| same_tag(t, r)))
                .ok_or_else(|| ImageError::NotFound(format!("{r} in {name}")))?,
            None if entries.len() == 1 => &entries[0],
            None => {
                return Err(ImageError::Invalid(format!(
                    "{name} holds several images; name one as FILE:REPO:TAG"
                )))
            }
        };
        let config_body = files.read_small(&entry.config, MAX_JSON)?;
        let config_digest = Digest::sha256_of(&config_body);
        let config: ImageConfig = serde_json::from_slice(&config_body)
            .map_err(|e| ImageError::json(format!("{name}/{}", entry.config), e))?;
        let mut members = HashMap::new();
        members.insert(config_digest.clone(), entry.config.clone());
        let mut layers = Vec::new();
        for (i, member) in entry.layers.iter().enumerate() {
            let (size, _) = files.open(member)?;
            // Legacy layers are uncompressed tars, so their digest is the config's diff_id.
            let digest = match digest_from_member(member) {
                Some(d) => d,
                None if is_compressed(&files, member)? => hash_member(&files, member)?,
                None => Digest::parse(config.rootfs.diff_ids.get(i).ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "{name}: manifest.json lists more layers than the config's diff_ids"
                    ))
                })?)?,
            };
            members.insert(digest.clone(), member.clone());
            layers.push(Descriptor {
                media_type: OCI_LAYER_TAR.into(),
                digest: digest.to_string(),
                size,
                ..Default::default()
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: OCI_CONFIG.into(),
                digest: config_digest.to_string(),
                size: config_body.len() as u64,
                ..Default::default()
            },
            layers,
            annotations: Default::default(),
        };
        let manifest =
            serde_json::to_vec(&manifest).map_err(|e| ImageError::json("manifest", e))?;
        let manifest_desc = Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&manifest).to_string(),
            size: manifest.len() as u64,
            ..Default::default()
        };
        Ok(DockerArchive {
            files,
            name,
            manifest,
            manifest_desc,
            members,
        })
    }
}

impl ImageSource for DockerArchive {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<(Descriptor, Vec<u8>)> {
        Ok((self.manifest_desc.clone(), self.manifest.clone()))
    }

    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        let member = self
            .members
            .get(digest)
            .ok_or_else(|| ImageError::NotFound(format!("blob {digest} in {}", self.name)))?;
        Ok(self.files.open(member)?.1)
    }
}
