//! Where images come from: `oci:`, `oci-archive:`, `docker-archive:` and `docker://`.
//! Each source hands out its root manifest (or index) and raw blob streams; verification of
//! every byte happens above, in one place, whatever the source.

pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod registry;

use super::digest::Digest;
use super::error::{ImageError, Result};
use super::types::Descriptor;
use std::io::Read;
use std::path::PathBuf;

/// A parsed SOURCE argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceRef {
    Oci {
        dir: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    Registry(registry::RegistryRef),
}

/// Options that only some sources use.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// Allow plain HTTP to registries other than localhost.
    pub insecure: bool,
    /// `user:password` for registry basic auth / token requests.
    pub creds: Option<String>,
}

/// Splits `PATH[:REF]` at the last colon, unless what follows looks like part of the path.
fn split_path_ref(s: &str) -> (PathBuf, Option<String>) {
    match s.rsplit_once(':') {
        Some((p, r)) if !p.is_empty() && !r.is_empty() && !r.contains('/') => {
            (PathBuf::from(p), Some(r.to_string()))
        }
        _ => (PathBuf::from(s), None),
    }
}

impl SourceRef {
    pub fn parse(s: &str) -> Result<SourceRef> {
        let bad = |why: &str| ImageError::Source(s.to_string(), why.to_string());
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, reference) = split_path_ref(rest);
            return Ok(SourceRef::Oci { dir, reference });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, reference) = split_path_ref(rest);
            return Ok(SourceRef::OciArchive { file, reference });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            // FILE[:REPO:TAG]: the reference itself contains a colon, so split at the first one
            // after which the file part exists, preferring the longest existing file name.
            let mut file = PathBuf::from(rest);
            let mut reference = None;
            if !file.exists() {
                if let Some(i) = rest.find(':') {
                    file = PathBuf::from(&rest[..i]);
                    reference = Some(rest[i + 1..].to_string());
                }
            }
            return Ok(SourceRef::DockerArchive { file, reference });
        }
        if let Some(rest) = s.strip_prefix("docker://") {
            return Ok(SourceRef::Registry(
                registry::RegistryRef::parse(rest).map_err(|e| bad(&e))?,
            ));
        }
        Err(bad("want oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG] or docker://HOST/REPO:TAG"))
    }

    pub fn open(&self, opts: &SourceOptions) -> Result<Box<dyn ImageSource>> {
        Ok(match self {
            SourceRef::Oci { dir, reference } => Box::new(layout::LayoutSource::new(
                files::Files::dir(dir)?,
                reference.clone(),
                dir.display().to_string(),
            )?),
            SourceRef::OciArchive { file, reference } => Box::new(layout::LayoutSource::new(
                files::Files::tar(file)?,
                reference.clone(),
                file.display().to_string(),
            )?),
            SourceRef::DockerArchive { file, reference } => {
                Box::new(docker_archive::DockerArchive::new(
                    files::Files::tar(file)?,
                    reference.as_deref(),
                    file,
                )?)
            }
            SourceRef::Registry(r) => Box::new(registry::Registry::new(r.clone(), opts)?),
        })
    }
}

/// A place to read one image from.
pub trait ImageSource: Send + Sync {
    /// Name for messages.
    fn describe(&self) -> String;
    /// The descriptor and body of the image's top manifest or index (bodies are verified by
    /// the caller against the descriptor when the descriptor came from elsewhere).
    fn root(&self) -> Result<(Descriptor, Vec<u8>)>;
    /// A raw, unverified stream of a blob's bytes.
    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            SourceRef::parse("oci:/tmp/lay:v1").unwrap(),
            SourceRef::Oci {
                dir: "/tmp/lay".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            SourceRef::parse("oci:/tmp/lay").unwrap(),
            SourceRef::Oci {
                dir: "/tmp/lay".into(),
                reference: None
            }
        );
        assert_eq!(
            SourceRef::parse("docker-archive:/nonexistent/x.tar:busybox:latest").unwrap(),
            SourceRef::DockerArchive {
                file: "/nonexistent/x.tar".into(),
                reference: Some("busybox:latest".into())
            }
        );
        assert!(SourceRef::parse("ftp://x").is_err());
    }
}
