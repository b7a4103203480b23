//! Reading a bundle: config.json parsed into the runtime-spec types, with the paths resolved.

use super::SpecError;
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// A parsed bundle: its absolute directory, the config and the absolute rootfs path.
#[derive(Debug, Clone)]
pub struct BundleConfig {
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// `bundle/config.json`.
    pub config_path: PathBuf,
    /// The parsed config.
    pub spec: Spec,
    /// `root.path`, absolute (a relative one is taken relative to the bundle).
    pub rootfs: PathBuf,
}

/// Loads `BUNDLE/config.json` and checks what the core needs (see [`super::validate_core`]).
pub fn load_bundle(bundle: &Path) -> Result<BundleConfig, SpecError> {
    let bundle = std::path::absolute(bundle).map_err(|source| SpecError::Read {
        path: bundle.to_path_buf(),
        source,
    })?;
    let config_path = bundle.join("config.json");
    let bytes = match std::fs::read(&config_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SpecError::NotFound(config_path))
        }
        Err(source) => {
            return Err(SpecError::Read {
                path: config_path,
                source,
            })
        }
    };
    config_from_bytes(bundle, config_path, &bytes)
}

/// Parses and checks config.json's contents as [`load_bundle`] does once it has read
/// `BUNDLE/config.json` (for a config that comes from elsewhere, and for the fuzz targets in
/// fuzz/). `bundle` is made absolute; config.json is not read from it, but the checks look at
/// the rootfs (it must exist, as [`super::validate_core`] requires).
pub fn parse_bundle_config(bundle: &Path, bytes: &[u8]) -> Result<BundleConfig, SpecError> {
    let bundle = std::path::absolute(bundle).map_err(|source| SpecError::Read {
        path: bundle.to_path_buf(),
        source,
    })?;
    let config_path = bundle.join("config.json");
    config_from_bytes(bundle, config_path, bytes)
}

fn config_from_bytes(
    bundle: PathBuf,
    config_path: PathBuf,
    bytes: &[u8],
) -> Result<BundleConfig, SpecError> {
    let spec = parse_config(&config_path, bytes)?;
    let root = spec.root().as_ref().ok_or_else(|| SpecError::Invalid {
        path: config_path.clone(),
        field: "root".into(),
        reason: "missing (the rootfs path is required)".into(),
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let cfg = BundleConfig {
        bundle,
        config_path,
        spec,
        rootfs,
    };
    super::validate_core(&cfg)?;
    Ok(cfg)
}

/// Parses config.json; a syntax or type error reports the line and column serde found it at.
/// The security fields are checked on the raw JSON first, because oci-spec rejects an unknown
/// capability or rlimit name without saying which field held it, and it spells two runtime-spec
/// scheduler flags differently (see `security::check_raw_config`).
pub(crate) fn parse_config(path: &Path, bytes: &[u8]) -> Result<Spec, SpecError> {
    let parse_err = |e: serde_json::Error| SpecError::Parse {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let original: serde_json::Value = serde_json::from_slice(bytes).map_err(parse_err)?;
    let mut checked = original.clone();
    crate::raw::check_raw_config(&mut checked).map_err(|e| SpecError::Parse {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    if checked == original {
        // Parsing the bytes (not the Value) keeps line and column in type errors.
        serde_json::from_slice(bytes).map_err(parse_err)
    } else {
        // Back through bytes rather than `from_value`: a second deserializer (over `Value`) would
        // put another copy of every config type's parsing code into the binary (~100 KB).
        let bytes = serde_json::to_vec(&checked).map_err(parse_err)?;
        serde_json::from_slice(&bytes).map_err(parse_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bundle_config_checks_as_load_bundle_does() {
        let dir = std::env::temp_dir().join(format!("berth-spec-parse-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let bundle = dir.as_path();
        let cfg = parse_bundle_config(bundle, crate::DEFAULT_CONFIG_JSON.as_bytes());
        // Nothing but the rootfs is looked at: no config.json was written.
        assert!(!dir.join("config.json").exists());
        let cfg = cfg.unwrap();
        assert_eq!(cfg.rootfs, dir.join("rootfs"));
        assert_eq!(cfg.config_path, dir.join("config.json"));
        std::fs::remove_dir_all(&dir).unwrap();

        let err = parse_bundle_config(bundle, b"{\"ociVersion\":").unwrap_err();
        assert!(matches!(err, SpecError::Parse { .. }), "{err:?}");
        let err = parse_bundle_config(bundle, br#"{"ociVersion":"1.0.2"}"#).unwrap_err();
        assert!(
            matches!(&err, SpecError::Invalid { field, .. } if field == "root"),
            "{err:?}"
        );
    }
}
