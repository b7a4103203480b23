//! Writing OCI image layouts (`pull`), and listing them (`ls`).

use crate::digest::{Digest, VerifyReader};
use crate::error::{ImageError, Result};
use crate::source::files::Files;
use crate::source::layout::{blob_path, read_index};
use crate::types::{Descriptor, Index, OCI_INDEX, REF_NAME};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub(crate) struct LayoutWriter {
    dir: PathBuf,
}

impl LayoutWriter {
    /// Opens a layout, creating an empty one if `dir` does not exist.
    pub(crate) fn open_or_create(dir: &Path) -> Result<LayoutWriter> {
        let io = |what: &str, e| ImageError::io(format!("{what} {}", dir.display()), e);
        if !dir.join("oci-layout").exists() {
            fs::create_dir_all(dir.join("blobs/sha256")).map_err(|e| io("create", e))?;
            fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(|e| io("write oci-layout in", e))?;
            if !dir.join("index.json").exists() {
                let idx = Index {
                    schema_version: 2,
                    media_type: Some(OCI_INDEX.into()),
                    manifests: vec![],
                };
                write_json(&dir.join("index.json"), &idx)?;
            }
        }
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
        })
    }

    pub(crate) fn has_blob(&self, d: &Digest) -> bool {
        self.dir.join(blob_path(d)).exists()
    }

    /// Streams a blob in through a temporary file; it only gets its digest name once verified.
    pub(crate) fn put_blob(&self, d: &Descriptor, r: impl Read) -> Result<()> {
        let digest = Digest::parse(&d.digest)?;
        if self.has_blob(&digest) {
            return Ok(());
        }
        let final_path = self.dir.join(blob_path(&digest));
        let dir = final_path.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&dir)
            .map_err(|e| ImageError::io(format!("create {}", dir.display()), e))?;
        let tmp = dir.join(format!(".tmp-{}-{}", digest.hex(), std::process::id()));
        let res = (|| {
            let mut f = fs::File::create(&tmp)
                .map_err(|e| ImageError::io(format!("create {}", tmp.display()), e))?;
            let mut v = VerifyReader::new(r, digest.clone(), d.size);
            io::copy(&mut v, &mut f)
                .map_err(|e| ImageError::from_io_in_layer(&d.digest, None, e))?;
            fs::rename(&tmp, &final_path)
                .map_err(|e| ImageError::io(format!("rename to {}", final_path.display()), e))
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res
    }

    /// Points `reference` at `d` in index.json (replacing an older image of that name).
    pub(crate) fn tag(&self, d: &Descriptor, reference: &str) -> Result<()> {
        let files = Files::dir(&self.dir)?;
        let mut idx = read_index(&files, &self.dir.display().to_string())?;
        idx.manifests
            .retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(reference));
        let mut d = d.clone();
        d.annotations.insert(REF_NAME.into(), reference.into());
        idx.manifests.push(d);
        write_json(&self.dir.join("index.json"), &idx)
    }
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<()> {
    let body =
        serde_json::to_vec(v).map_err(|e| ImageError::json(path.display().to_string(), e))?;
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, body).map_err(|e| ImageError::io(format!("write {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| ImageError::io(format!("rename {}", path.display()), e))
}

/// The images the OCI layout directory `dir` holds, as (reference, manifest descriptor) in
/// index.json's order; the reference is the `org.opencontainers.image.ref.name` annotation.
pub fn list(dir: &Path) -> Result<Vec<(Option<String>, Descriptor)>> {
    let files = Files::dir(dir)?;
    let idx = read_index(&files, &dir.display().to_string())?;
    Ok(idx
        .manifests
        .into_iter()
        .map(|d| (d.annotations.get(REF_NAME).cloned(), d))
        .collect())
}
