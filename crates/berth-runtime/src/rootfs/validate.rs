//! Cheap checks of the rootfs-related parts of config.json, run by `create` before anything
//! is made (no root needed), so bad input fails early with a message naming the field.

use super::devices::device_from_spec;
use super::error::RootfsError;
use super::inroot::lookup_components;
use super::mounts::{
    dest_string, idmap_of, is_bind, open_bind_source, source_in_rootfs, PreopenedSources,
};
use super::options::parse_mount_options;
use super::propagation::root_propagation;
use oci_spec::runtime::{Mount, Spec};
use std::path::Path;

/// Checks the rootfs-related fields of `spec` (mounts, devices, masked and read-only paths,
/// rootfs propagation, the process's cwd) without changing anything: bind sources are only
/// opened, relative ones beneath `bundle`. [`super::setup_rootfs`] runs it again first.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<(), RootfsError> {
    validate_with(spec, bundle, None)
}

/// [`validate`], where a bind source the runtime already opened (`preopened`) is not opened
/// again: the init, root of a new user namespace, may not be able to.
pub(crate) fn validate_with(
    spec: &Spec,
    bundle: &Path,
    preopened: Option<&PreopenedSources>,
) -> Result<(), RootfsError> {
    // A bind source inside the rootfs may be what an earlier mount puts there: it is opened
    // (and its absence reported) at its place in the mount order (see validate_mount).
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let opened = preopened.is_some_and(|p| p.get(i).is_some());
        validate_mount(spec, m, bundle, opened)?;
    }
    let Some(linux) = spec.linux() else {
        return validate_cwd(spec);
    };
    root_propagation(linux.rootfs_propagation().as_deref())?;
    for d in linux.devices().as_deref().unwrap_or_default() {
        device_from_spec(d)?;
    }
    // A relative readonlyPaths entry is taken from the container's root, as runc does (it
    // makes them read-only with "/" as the cwd); a masked path must be absolute (runc refuses
    // relative ones, and youki's contest checks that).
    for p in linux.masked_paths().as_deref().unwrap_or_default() {
        if !Path::new(p).is_absolute() {
            return Err(RootfsError::InvalidField {
                field: "linux.maskedPaths",
                value: p.clone(),
                reason: "must be an absolute path".into(),
            });
        }
    }
    validate_cwd(spec)
}

fn validate_cwd(spec: &Spec) -> Result<(), RootfsError> {
    if let Some(p) = spec.process() {
        if !p.cwd().is_absolute() {
            return Err(RootfsError::InvalidField {
                field: "process.cwd",
                value: p.cwd().to_string_lossy().into_owned(),
                reason: "must be an absolute path".into(),
            });
        }
    }
    Ok(())
}

fn validate_mount(
    spec: &Spec,
    m: &Mount,
    bundle: &Path,
    source_opened: bool,
) -> Result<(), RootfsError> {
    let dest = dest_string(m);
    let invalid = |reason: String| RootfsError::InvalidMount {
        destination: dest.clone(),
        reason,
    };
    if dest.is_empty() {
        return Err(invalid("the destination is empty".into()));
    }
    // Relative destinations are taken as relative to "/", as runc does for old configs.
    if lookup_components(m.destination()).iter().all(|c| c == "..") {
        return Err(invalid(
            "mounting over the container's root directory is not allowed".into(),
        ));
    }
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    idmap_of(spec, m)?;
    let typ = m.typ().as_deref().unwrap_or("");
    if is_bind(m, &opts) {
        // A missing source in the rootfs may be made by an earlier mount of the list: the init
        // reports it at its turn if it is still missing then.
        if !source_opened {
            match open_bind_source(m, bundle, &dest) {
                Err(RootfsError::BindSource { source, .. })
                    if source.raw_os_error() == Some(libc::ENOENT)
                        && source_in_rootfs(spec, bundle, m) => {}
                r => {
                    r?;
                }
            }
        }
    } else if typ.is_empty() {
        return Err(invalid(
            "no type given and not a bind mount (add a \"type\" or a \"bind\" option)".into(),
        ));
    }
    for d in &opts.data {
        if d.contains('\0') {
            return Err(RootfsError::InvalidOption {
                destination: dest,
                option: d.clone(),
                reason: "contains a NUL byte".into(),
            });
        }
        if let Some(key) = d.split_once('=').map(|(k, _)| k) {
            if key.is_empty() {
                return Err(RootfsError::InvalidOption {
                    destination: dest,
                    option: d.clone(),
                    reason: "an option must not start with '='".into(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).expect("spec json")
    }

    fn base() -> serde_json::Value {
        json!({"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},"linux":{}})
    }

    fn err_of(v: serde_json::Value) -> String {
        validate(&spec(v), Path::new("/"))
            .expect_err("should be invalid")
            .to_string()
    }

    #[test]
    fn default_spec_is_valid() {
        let s: Spec =
            serde_json::from_str(berth_spec::DEFAULT_CONFIG_JSON).expect("default config");
        validate(&s, Path::new("/")).expect("valid");
    }

    /// Each config's error names the field or destination and the offending value.
    #[test]
    fn errors_name_field_and_value() {
        let bind = |src: &str| json!([{"destination":"/data","source":src,"options":["rbind"]}]);
        for (field, value, bundle, want) in [
            (
                "mounts",
                bind("/nonexistent/berth-src"),
                "/",
                ["\"/data\"", "/nonexistent/berth-src"],
            ),
            (
                "mounts",
                bind("../etc"),
                "/tmp",
                ["/data", "outside the bundle"],
            ),
            (
                "rootfsPropagation",
                json!("sideways"),
                "/",
                ["rootfsPropagation", "sideways"],
            ),
        ] {
            let mut v = base();
            match field {
                "mounts" => v["mounts"] = value,
                _ => v["linux"][field] = value,
            }
            let e = validate(&spec(v), Path::new(bundle))
                .expect_err("should be invalid")
                .to_string();
            assert!(want.iter().all(|w| e.contains(w)), "{want:?}: {e}");
        }
    }

    #[test]
    fn relative_bind_source_uses_bundle() {
        let mut v = base();
        v["mounts"] = json!([{"destination":"/data","source":"tmp","type":"bind"}]);
        validate(&spec(v), Path::new("/")).expect("/tmp exists");
    }

    /// A missing absolute source inside the rootfs may be made by an earlier mount (the init
    /// checks it at its turn); one outside the rootfs is an error now.
    #[test]
    fn missing_source_in_the_rootfs_waits_for_the_mount_order() {
        let bundle = std::env::temp_dir();
        let mut v = base();
        let inside = bundle.join("rootfs/berth-no-such-dir/x");
        v["mounts"] = json!([{"destination":"/a","source":inside,"options":["rbind"]}]);
        validate(&spec(v), &bundle).expect("left to the mount order");
        let mut v = base();
        let outside = bundle.join("berth-no-such-dir/x");
        v["mounts"] = json!([{"destination":"/a","source":outside,"options":["rbind"]}]);
        let e = validate(&spec(v), &bundle)
            .expect_err("missing")
            .to_string();
        assert!(e.contains("berth-no-such-dir"), "{e}");
    }

    #[test]
    fn mount_errors() {
        for (m, want) in [
            (json!({"destination":"/x","source":"none"}), "no type"),
            (
                json!({"destination":"/","type":"tmpfs","source":"tmpfs"}),
                "root directory",
            ),
            (
                json!({"destination":"/x","type":"tmpfs","options":["idmap"]}),
                "only supported for bind mounts",
            ),
            (
                json!({"destination":"/x","type":"tmpfs","options":["=5"]}),
                "'='",
            ),
            (json!({"destination":"/x","type":"bind"}), "needs a source"),
        ] {
            let mut v = base();
            v["mounts"] = json!([m]);
            let e = err_of(v);
            assert!(e.contains(want) && e.contains("mount \""), "{want}: {e}");
        }
    }

    #[test]
    fn path_fields() {
        let mut v = base();
        v["linux"]["maskedPaths"] = json!(["proc/kcore"]);
        assert!(err_of(v).contains("linux.maskedPaths"));
        let mut v = base();
        v["linux"]["readonlyPaths"] = json!(["sys", "readonly_relpath"]);
        assert!(validate(&spec(v), Path::new("/")).is_ok());
        let mut v = base();
        v["process"]["cwd"] = json!("work");
        assert!(err_of(v).contains("process.cwd"));
        let mut v = base();
        v["linux"]["devices"] = json!([{"path":"/dev/x","type":"a","major":1,"minor":1}]);
        assert!(err_of(v).contains("linux.devices"));
    }
}
