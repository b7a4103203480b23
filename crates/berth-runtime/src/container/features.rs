//! `features`: the runtime-spec features document, listing only what berth really does.
//! `linux.apparmor.enabled` and `linux.selinux.enabled` say that berth applies those fields
//! (the runtime-spec defines them as "support compiled in", unrelated to the host, and runc
//! 1.5 reports `true` on any host); whether this host has the module decides at `create`.
//! The fields runc 1.5 reports for what berth does not do say so: `linux.intelRdt` (no
//! resctrl groups, schemata or monitoring) and `linux.netDevices` are not enabled, and
//! `potentiallyUnsafeConfigAnnotations` is empty: no annotation changes what berth does (runc
//! lists `bundle`, `org.systemd.property.` and `org.criu.config`).

use serde_json::Value;

/// The fixed part of the document, in the order `berth features` prints it; the versions, the
/// capabilities and the seccomp section are filled in by [`features`]. Parsed from text rather
/// than built with `json!`, whose code is several times the size of this string.
const FIXED: &str = r#"{
  "ociVersionMin": null,
  "ociVersionMax": null,
  "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
  "mountOptions": [
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion",
    "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
    "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
    "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap",
    "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
    "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
    "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
    "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"
  ],
  "linux": {
    "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
    "capabilities": null,
    "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
    "seccomp": null,
    "apparmor": {"enabled": true},
    "selinux": {"enabled": true},
    "intelRdt": {"enabled": false, "schemata": false, "monitoring": false},
    "memoryPolicy": {
      "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
      "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
    },
    "mountExtensions": {"idmap": {"enabled": false}},
    "netDevices": {"enabled": false}
  },
  "annotations": {
    "org.opencontainers.runtime-spec.features.version": null
  },
  "potentiallyUnsafeConfigAnnotations": []
}"#;

/// The runtime-spec features document (`berth features`): what this runtime supports.
pub fn features() -> Value {
    // FIXED is a constant, valid JSON (checked by the unit test below).
    let mut v: Value = serde_json::from_slice(FIXED.as_bytes()).unwrap_or_default();
    v["ociVersionMin"] = berth_spec::OCI_VERSION_MIN.into();
    v["ociVersionMax"] = berth_spec::OCI_VERSION_MAX.into();
    v["linux"]["capabilities"] = all_capabilities().into();
    v["linux"]["seccomp"] = crate::security::seccomp_features();
    v["linux"]["mountExtensions"]["idmap"]["enabled"] =
        berth_sys::mount::mount_setattr_supported().into();
    v["annotations"]["org.opencontainers.runtime-spec.features.version"] =
        berth_spec::OCI_VERSION_MAX.into();
    v
}

/// Every capability name the kernel headers know, as the spec spells them.
pub fn all_capabilities() -> Vec<String> {
    let mut v: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_document_is_complete_and_in_order() {
        let want = json!({
            "ociVersionMin": berth_spec::OCI_VERSION_MIN,
            "ociVersionMax": berth_spec::OCI_VERSION_MAX,
            "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
            "mountOptions": [
                "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion",
                "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
                "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
                "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap",
                "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
                "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
                "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
                "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"
            ],
            "linux": {
                "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
                "capabilities": all_capabilities(),
                "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
                "seccomp": crate::security::seccomp_features(),
                "apparmor": {"enabled": true},
                "selinux": {"enabled": true},
                "intelRdt": {"enabled": false, "schemata": false, "monitoring": false},
                "memoryPolicy": {
                    "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL",
                        "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
                    "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
                },
                "mountExtensions": {"idmap": {"enabled": berth_sys::mount::mount_setattr_supported()}},
                "netDevices": {"enabled": false}
            },
            "annotations": {
                "org.opencontainers.runtime-spec.features.version": berth_spec::OCI_VERSION_MAX
            },
            "potentiallyUnsafeConfigAnnotations": []
        });
        let got = features();
        // Equal values and, as printed, the same key order.
        assert_eq!(got, want);
        assert_eq!(
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&want).unwrap()
        );
    }
}
