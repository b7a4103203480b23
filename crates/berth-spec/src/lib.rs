//! berth-spec: the OCI runtime config (config.json) as berth reads it: loading a bundle, checking
//! every field the runtime will apply before anything is created, container ids, and the defaults
//! `berth spec` writes (runc's).

mod devices;
mod id;
mod load;
mod raw;
pub mod seccomp_names;
mod validate;

pub use devices::{DefaultDevice, DEFAULT_DEVICES};
pub use id::validate_container_id;
pub use load::{load_bundle, parse_bundle_config, BundleConfig};
pub use raw::{check_raw_config, RawConfigError};
pub use validate::validate_core;

use std::path::PathBuf;

/// The configuration `berth spec` writes: runc's defaults, with the cgroup namespace added (as runc 1.2 does).
pub const DEFAULT_CONFIG_JSON: &str = include_str!("default_config.json");

/// Oldest runtime-spec version accepted in `ociVersion`.
pub const OCI_VERSION_MIN: &str = "1.0.0";
/// Newest runtime-spec version accepted in `ociVersion` (its patch releases too).
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// Errors about a bundle or its config.json; each names the file and, where it applies, the
/// field. The cause (an `io::Error` with its errno, a JSON error with its line and column) is
/// the [`source`](std::error::Error::source), not part of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The bundle has no config.json.
    #[error("JSON specification file {0} not found")]
    NotFound(PathBuf),
    /// A file of the bundle could not be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// config.json is not JSON, or not a runtime config (a field of the wrong type, an
    /// unknown capability name...).
    #[error("{path}: malformed config")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A field holds a value the runtime refuses.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
    /// A container id the runtime refuses (see [`validate_container_id`]).
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// A file could not be written (`berth spec`).
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `berth spec` would overwrite an existing config.json.
    #[error("File {0} exists. Remove it first")]
    SpecExists(PathBuf),
}

/// `berth spec`: the default config (or its rootless variant) as a JSON value.
pub fn default_config(rootless: bool, uid: u32, gid: u32) -> serde_json::Value {
    // The text is compiled in and `default_config_is_runc_compatible` parses it: nothing a
    // user or the kernel does can make this fail.
    #[allow(clippy::expect_used)]
    let mut v: serde_json::Value = serde_json::from_slice(DEFAULT_CONFIG_JSON.as_bytes())
        .expect("the embedded default config is valid JSON");
    if rootless {
        make_rootless(&mut v, uid, gid);
        // The generated config also leaves out the cgroup mount.
        if let Some(mounts) = v["mounts"].as_array_mut() {
            mounts.retain(|m| m["type"] != "cgroup");
        }
    }
    v
}

/// Drops the cgroup namespace from a generated config: runc adds it only on a pure cgroup v2
/// host, where a container's view of /sys/fs/cgroup is then its own cgroup.
pub fn drop_cgroup_namespace(v: &mut serde_json::Value) {
    if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "cgroup");
    }
}

/// What `runc spec --rootless` changes: a user namespace mapping the caller, no network namespace
/// (an unprivileged user cannot configure one), /sys bind-mounted from the host (sysfs cannot be
/// mounted without owning the network namespace), no cgroup resources, no gid= on any mount
/// (that group is not mapped). Shared by `berth spec --rootless` and berth-image's bundles.
pub fn make_rootless(v: &mut serde_json::Value, uid: u32, gid: u32) {
    use serde_json::json;
    let linux = &mut v["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user");
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            } else if let Some(opts) = m.get_mut("options").and_then(|o| o.as_array_mut()) {
                opts.retain(|o| o.as_str().is_none_or(|s| !s.starts_with("gid=")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_runc_compatible() {
        let v = default_config(false, 0, 0);
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["process"]["args"], serde_json::json!(["sh"]));
        assert_eq!(v["root"]["path"], "rootfs");
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(caps.len(), 3);
        // The newest runtime-spec berth implements, as runc 1.5's `spec` writes its own (and
        // `features` reports): the version decides what a zero pids.limit means.
        assert_eq!(v["ociVersion"], OCI_VERSION_MAX);
        // It must also parse as a runtime spec.
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn rootless_config_maps_caller_and_drops_netns() {
        let v = default_config(true, 1000, 1001);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().any(|n| n["type"] == "user"));
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], 1001);
        assert!(v["linux"].get("resources").is_none());
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }
}
