//! berth-spec: the OCI runtime config (config.json) as berth reads it: loading a bundle, checking
//! every field the runtime will apply before anything is created, container ids, and the defaults
//! `berth spec` writes (runc's).

mod devices;
mod id;
mod load;
mod raw;
mod validate;

pub use devices::{DefaultDevice, DEFAULT_DEVICES};
pub use id::validate_container_id;
pub use load::{load_bundle, BundleConfig};
pub use raw::{check_raw_config, RawConfigError};
pub use validate::validate_core;

use std::path::PathBuf;

/// The configuration `berth spec` writes: runc's defaults, with the cgroup namespace added (as runc 1.2 does).
pub const DEFAULT_CONFIG_JSON: &str = include_str!("default_config.json");

/// Oldest and newest runtime-spec versions accepted in `ociVersion`.
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// Errors about a bundle or its config.json; each names the file and, where it applies, the field.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("JSON specification file {0} not found")]
    NotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: malformed config: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("File {0} exists. Remove it first")]
    SpecExists(PathBuf),
}

/// `berth spec`: the default config (or its rootless variant) as pretty JSON.
// The JSON is compiled in (and parsed by the tests): nothing a user or the kernel does can make
// the expect fail.
#[allow(clippy::expect_used)]
pub fn default_config(rootless: bool, uid: u32, gid: u32) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON)
        .expect("the embedded default config is valid JSON");
    if rootless {
        make_rootless(&mut v, uid, gid);
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
/// mounted without owning the network namespace), no cgroup mount or resources, no gid on devpts.
fn make_rootless(v: &mut serde_json::Value, uid: u32, gid: u32) {
    use serde_json::json;
    let linux = &mut v["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    if let Some(mounts) = v["mounts"].as_array_mut() {
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if m["type"] == "devpts" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "gid=5");
                }
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
