//! OCI image layouts (a directory, or the same inside an oci-archive tarball).

use super::files::Files;
use super::image_source::ImageSource;
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::types::{Descriptor, Index, MAX_JSON, REF_NAME};
use std::io::Read;

pub(crate) struct LayoutSource {
    files: Files,
    root: Descriptor,
    name: String,
}

pub(crate) fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algo_name(), d.hex())
}

pub(crate) fn read_index(files: &Files, name: &str) -> Result<Index> {
    if !files.exists("oci-layout") {
        return Err(ImageError::Source {
            spec: name.to_string(),
            reason: "not an OCI image layout (no oci-layout file)".into(),
        });
    }
    let body = files.read_small("index.json", MAX_JSON)?;
    serde_json::from_slice(&body).map_err(|e| ImageError::json(format!("{name}/index.json"), e))
}

/// Picks the manifest named `reference` (by ref.name annotation, or by digest); without a
/// reference the only manifest, or the one called "latest".
fn select<'a>(index: &'a Index, reference: Option<&str>, name: &str) -> Result<&'a Descriptor> {
    let by_ref = |r: &str| {
        index
            .manifests
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(r) || d.digest == r)
    };
    match reference {
        Some(r) => {
            by_ref(r).ok_or_else(|| ImageError::NotFound(format!("reference {r:?} in {name}")))
        }
        None if index.manifests.is_empty() => {
            Err(ImageError::Invalid(format!("{name} holds no images")))
        }
        None if index.manifests.len() == 1 => Ok(&index.manifests[0]),
        None => by_ref("latest").ok_or_else(|| {
            let refs: Vec<&str> = index
                .manifests
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                .collect();
            ImageError::Invalid(format!(
                "{name} holds several images; name one of: {}",
                refs.join(", ")
            ))
        }),
    }
}

impl LayoutSource {
    pub(crate) fn new(
        files: Files,
        reference: Option<String>,
        name: String,
    ) -> Result<LayoutSource> {
        let index = read_index(&files, &name)?;
        let root = select(&index, reference.as_deref(), &name)?.clone();
        Ok(LayoutSource { files, root, name })
    }
}

impl ImageSource for LayoutSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<(Descriptor, Vec<u8>)> {
        let d = Digest::parse(&self.root.digest)?;
        let body = self.files.read_small(&blob_path(&d), MAX_JSON)?;
        Ok((self.root.clone(), body))
    }

    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        Ok(self.files.open(&blob_path(digest))?.1)
    }
}
