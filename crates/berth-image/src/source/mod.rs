//! Where images come from: `oci:`, `oci-archive:`, `docker-archive:` and `docker://`.
//! Each source hands out its root manifest (or index) and raw blob streams; verification of
//! every byte happens above, in one place, whatever the source.
//!
//! The submodules depend on `image_source` and `files` only; this module, which picks one of
//! them from a reference, sits on top.

mod auth;
mod docker_archive;
pub(crate) mod files;
mod image_source;
pub(crate) mod layout;
mod proxy;
mod reference;
mod registries_conf;
pub(crate) mod registry;
mod tls;

pub(crate) use image_source::ImageSource;
pub use proxy::ProxySettings;
pub use registry::RegistryRef;

use crate::error::{ImageError, Result};
use std::path::PathBuf;

/// A parsed image reference: where to read an image from. [`SourceRef::parse`] reads the
/// `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REPO:TAG]` and
/// `docker://[HOST/]REPO[:TAG][@DIGEST]` forms; [`SourceRef::open`] opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceRef {
    /// An OCI image layout directory.
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// The image's `org.opencontainers.image.ref.name` or manifest digest; `None`: the only
        /// image, or the one called `latest`.
        reference: Option<String>,
    },
    /// An OCI image layout in a tar file.
    OciArchive {
        /// The tar file.
        file: PathBuf,
        /// As for [`SourceRef::Oci`].
        reference: Option<String>,
    },
    /// A `docker save` tar file.
    DockerArchive {
        /// The tar file.
        file: PathBuf,
        /// `REPO:TAG` of the image; `None`: the archive's only image.
        reference: Option<String>,
    },
    /// An image in a registry (API v2).
    Registry(RegistryRef),
}

/// Options that only some sources use. Construct with `default()` and set what is needed.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SourceOptions {
    /// Allow plain HTTP to registries other than localhost.
    pub insecure: bool,
    /// `user:password` for registry basic auth / token requests.
    pub creds: Option<String>,
    /// Auth files to take credentials from when `creds` is `None`, in order: podman's
    /// `auth.json` and docker's `config.json` formats (`auths`, `credHelpers`, `credsStore`).
    /// The first file with an entry for the registry (or the repository, or a namespace of
    /// it) is used; missing files are skipped. A file named `.dockercfg` is read in docker's
    /// legacy format.
    pub auth_files: Vec<PathBuf>,
    /// Accept any registry certificate (`--tls-verify=false`), and fall back to plain HTTP for a
    /// registry that does not speak HTTPS at all (as skopeo does).
    pub skip_tls_verify: bool,
    /// PEM bundles of CA certificates trusted besides the bundled roots (the system store).
    pub ca_files: Vec<PathBuf>,
    /// Directories in the `certs.d/HOST` layout for the registry: `*.crt` CA certificates,
    /// `NAME.cert` with `NAME.key` a client certificate. When empty, `cert_roots` is used.
    pub cert_dirs: Vec<PathBuf>,
    /// Directories holding one such directory per registry, named `HOST[:PORT]` (`docker.io`
    /// for Docker Hub): `/etc/containers/certs.d` and the like, in order: the first that has
    /// one for the registry is used. Each registry pulled from (a mirror too) gets its own.
    pub cert_roots: Vec<PathBuf>,
    /// registries.conf files (containers-registries.conf(5)), read in order, missing ones
    /// skipped: mirrors, blocked and insecure registries, locations rewritten by prefix.
    pub registries_conf: Vec<PathBuf>,
    /// HTTP proxies for registry requests (as podman and skopeo take them from
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`); none by default.
    pub proxy: ProxySettings,
}

/// An opened image source, ready for [`crate::unpack`], [`crate::pull`] and [`crate::inspect`].
pub struct Source(Box<dyn ImageSource>);

impl Source {
    /// A name for messages: the directory, file or registry reference.
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    pub(crate) fn inner(&self) -> &dyn ImageSource {
        self.0.as_ref()
    }
}

/// A client for the registry of `r`, with its credentials and its TLS settings (`insecure`:
/// registries.conf allows plain HTTP and unverified certificates there).
fn open_registry(
    r: RegistryRef,
    insecure: bool,
    opts: &SourceOptions,
) -> Result<registry::Registry> {
    let found = match &opts.creds {
        Some(c) => Some(auth::Credentials::Password(c.clone())),
        None => auth::lookup(&opts.auth_files, &r.host, &r.repo)?,
    };
    let cert_dirs = if opts.cert_dirs.is_empty() {
        let host = if r.host == "registry-1.docker.io" {
            reference::DOCKER_HUB
        } else {
            r.host.as_str()
        };
        // The first root that has a directory for the registry, as containers/image picks
        // it: the others are not read.
        opts.cert_roots
            .iter()
            .map(|d| d.join(host))
            .find(|d| d.exists())
            .into_iter()
            .collect()
    } else {
        opts.cert_dirs.clone()
    };
    let skip_verify = opts.skip_tls_verify || insecure;
    let tls = tls::client_config(&tls::TlsSettings {
        skip_verify,
        ca_files: opts.ca_files.clone(),
        cert_dirs,
    })?;
    let (creds, identity_token) = match found {
        Some(auth::Credentials::Password(p)) => (Some(p), None),
        Some(auth::Credentials::IdentityToken(t)) => (None, Some(t)),
        None => (None, None),
    };
    let mut reg = registry::Registry::new(r, opts.insecure, creds, tls, skip_verify, &opts.proxy);
    reg.identity_token = identity_token;
    Ok(reg)
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
    /// Parses a reference (see [`SourceRef`] for the forms). Only `docker-archive:` looks at the
    /// file system, to tell `FILE:REPO:TAG` from a file name with colons in it.
    pub fn parse(s: &str) -> Result<SourceRef> {
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
            return Ok(SourceRef::Registry(RegistryRef::parse(rest)?));
        }
        Err(ImageError::Source {
            spec: s.to_string(),
            reason: "want oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG] or docker://[HOST/]REPO[:TAG][@DIGEST]".into(),
        })
    }

    /// Opens the source: reads and checks the layout's index.json or the archive's
    /// manifest.json; a registry is only contacted later, by the operation.
    pub fn open(&self, opts: &SourceOptions) -> Result<Source> {
        Ok(Source(match self {
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
            SourceRef::Registry(r) => {
                let conf = registries_conf::RegistriesConf::load(&opts.registries_conf)?;
                let name = r.name();
                let mut tries = Vec::new();
                for place in conf.pull_sources(&name, r.by_digest())? {
                    let at = if place.reference == name {
                        r.clone()
                    } else {
                        RegistryRef::from_reference(&place.reference).map_err(|cause| {
                            ImageError::BadRewrite {
                                reference: format!("docker://{name}"),
                                rewritten: place.reference.clone(),
                                cause,
                            }
                        })?
                    };
                    tries.push(open_registry(at, place.insecure, opts)?);
                }
                match tries.len() {
                    1 => Box::new(tries.remove(0)),
                    _ => Box::new(registry::Mirrored::new(name, tries)),
                }
            }
        }))
    }
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
