//! Checks of config.json that the core relies on, done before anything is created so that bad
//! input fails without leaving anything behind. Feature areas (rootfs, security, cgroups) validate
//! their own fields.

use super::{BundleConfig, SpecError, OCI_VERSION_MAX};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;

/// The checks the runtime core relies on: `ociVersion`, `root.path` (an existing directory),
/// `process` (args, an absolute cwd, NAME=VALUE env) and `linux.namespaces` (no duplicates,
/// absolute existing paths; without a mount namespace no masked or read-only paths and no
/// rootfs propagation; UTS for hostname/domainname, id mappings with
/// a user namespace, time offsets with a time namespace). [`crate::load_bundle`] runs them.
pub fn validate_core(cfg: &BundleConfig) -> Result<(), SpecError> {
    let invalid = |field: &str, reason: String| SpecError::Invalid {
        path: cfg.config_path.clone(),
        field: field.to_string(),
        reason,
    };
    check_version(cfg.spec.version()).map_err(|(f, r)| invalid(f, r))?;
    match std::fs::metadata(&cfg.rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(invalid(
                "root.path",
                format!("{} is not a directory", cfg.rootfs.display()),
            ))
        }
        Err(e) => {
            return Err(invalid(
                "root.path",
                format!("{}: {e}", cfg.rootfs.display()),
            ))
        }
    }
    check_process(&cfg.spec).map_err(|(f, r)| invalid(f, r))?;
    check_namespaces(&cfg.spec).map_err(|(f, r)| invalid(f, r))?;
    Ok(())
}

/// A refused field and why; [`validate_core`] adds the config's path.
type FieldError = (&'static str, String);

/// Accepts 1.0.0 up to 1.3.x; pre-release suffixes like `1.0.2-dev` count as their version.
fn check_version(version: &str) -> Result<(), FieldError> {
    const FIELD: &str = "ociVersion";
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    let Some(nums) = nums.filter(|n| n.len() == 3) else {
        return Err((
            FIELD,
            format!("{version:?} is not a semantic version (expected e.g. \"1.2.0\")"),
        ));
    };
    let max_minor = OCI_VERSION_MAX
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(0);
    if nums[0] != 1 || nums[1] > max_minor {
        return Err((
            FIELD,
            format!("version {version} is not supported (supported: 1.0.0 to 1.{max_minor}.x)"),
        ));
    }
    Ok(())
}

fn check_process(spec: &Spec) -> Result<(), FieldError> {
    let Some(process) = spec.process() else {
        return Err((
            "process",
            "missing (a container needs a process to run)".into(),
        ));
    };
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(("process.args", "must name the program to run".into())),
    }
    if !process.cwd().is_absolute() {
        return Err((
            "process.cwd",
            format!("{} is not an absolute path", process.cwd().display()),
        ));
    }
    if let Some(env) = process.env() {
        if let Some(bad) = env.iter().find(|e| !e.contains('=') || e.starts_with('=')) {
            return Err(("process.env", format!("{bad:?} is not NAME=VALUE")));
        }
    }
    Ok(())
}

fn check_namespaces(spec: &Spec) -> Result<(), FieldError> {
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().as_ref())
        .cloned()
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for ns in &namespaces {
        if !seen.insert(ns.typ()) {
            return Err((
                "linux.namespaces",
                format!("namespace {} is listed twice", ns.typ()),
            ));
        }
        if let Some(path) = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
            if !path.is_absolute() {
                return Err((
                    "linux.namespaces",
                    format!("{} path {} is not absolute", ns.typ(), path.display()),
                ));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err((
                    "linux.namespaces",
                    format!("{} path {}: {e}", ns.typ(), path.display()),
                ));
            }
        }
    }
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t);
    let new_ns = |t: LinuxNamespaceType| {
        namespaces
            .iter()
            .any(|n| n.typ() == t && n.path().as_ref().is_none_or(|p| p.as_os_str().is_empty()))
    };
    if !has(LinuxNamespaceType::Mount) {
        // The container then shares the runtime's mount namespace, as runc allows: its
        // mounts are made under the rootfs in the host's namespace and it is chrooted there.
        // Read-only and masked paths would be host mounts hiding nothing from a process that
        // can see the host's; runc refuses them too ("unable to restrict sys entries without
        // a private MNT namespace").
        let non_empty = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
        for (field, paths) in [
            (
                "linux.maskedPaths",
                linux.and_then(|l| l.masked_paths().as_ref()),
            ),
            (
                "linux.readonlyPaths",
                linux.and_then(|l| l.readonly_paths().as_ref()),
            ),
        ] {
            if non_empty(paths) {
                return Err((field, "cannot be applied without a mount namespace".into()));
            }
        }
        // runc would apply it to the host's "/"; berth does not change host mounts.
        if linux
            .and_then(|l| l.rootfs_propagation().as_deref())
            .is_some_and(|p| !p.is_empty())
        {
            return Err((
                "linux.rootfsPropagation",
                "needs a mount namespace: without one it would change the host's mounts".into(),
            ));
        }
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err((
            "hostname",
            "cannot set a hostname without a UTS namespace".into(),
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        return Err((
            "domainname",
            "cannot set a domainname without a UTS namespace".into(),
        ));
    }
    let uid_maps = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .map_or(0, |m| m.len());
    let gid_maps = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .map_or(0, |m| m.len());
    if new_ns(LinuxNamespaceType::User) {
        if uid_maps == 0 {
            return Err((
                "linux.uidMappings",
                "a new user namespace needs uid mappings".into(),
            ));
        }
        if gid_maps == 0 {
            return Err((
                "linux.gidMappings",
                "a new user namespace needs gid mappings".into(),
            ));
        }
    } else if uid_maps + gid_maps > 0 && !has(LinuxNamespaceType::User) {
        // Mappings beside a joined user namespace describe it (engines pass both); only
        // mappings without any user namespace are meaningless.
        return Err((
            "linux.uidMappings",
            "id mappings need a user namespace".into(),
        ));
    }
    if let Some(offsets) = linux.and_then(|l| l.time_offsets().as_ref()) {
        if !new_ns(LinuxNamespaceType::Time) {
            return Err((
                "linux.timeOffsets",
                "time offsets need a new time namespace".into(),
            ));
        }
        if let Some(clock) = offsets
            .keys()
            .find(|k| *k != "monotonic" && *k != "boottime")
        {
            return Err((
                "linux.timeOffsets",
                format!("unknown clock {clock:?} (monotonic or boottime)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.3.0", "1.3.7+x"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "2.0.0", "0.9.0", "1.4.0", "1", "one", "1.x.0"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = crate::default_config(false, 0, 0);
        json_merge(&mut base, json);
        serde_json::from_value(base).unwrap()
    }

    fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn default_namespaces_pass() {
        assert!(check_namespaces(&spec(serde_json::json!({}))).is_ok());
        assert!(check_process(&spec(serde_json::json!({}))).is_ok());
    }

    #[test]
    fn empty_args_refused() {
        let s = spec(serde_json::json!({"process": {"args": []}}));
        assert_eq!(check_process(&s).unwrap_err().0, "process.args");
    }

    #[test]
    fn user_ns_needs_mappings() {
        let s = spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "user"}]}}),
        );
        assert_eq!(check_namespaces(&s).unwrap_err().0, "linux.uidMappings");
    }

    #[test]
    fn hostname_needs_uts() {
        let s = spec(serde_json::json!({"linux": {"namespaces": [{"type": "mount"}]}}));
        assert_eq!(check_namespaces(&s).unwrap_err().0, "hostname");
    }

    #[test]
    fn duplicate_namespace_refused() {
        let s = spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}, {"type": "mount"}]}}),
        );
        assert!(check_namespaces(&s).unwrap_err().1.contains("twice"));
    }

    #[test]
    fn no_mount_namespace_refuses_what_only_one_can_do() {
        // youki's contest and runtime-tools' linux_ns_itype: no namespaces at all.
        let bare = serde_json::json!({"hostname": "", "linux": {"namespaces": [], "maskedPaths": [], "readonlyPaths": []}});
        let mut s = bare.clone();
        assert!(check_namespaces(&spec(s.clone())).is_ok());
        s["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
        assert_eq!(
            check_namespaces(&spec(s)).unwrap_err().0,
            "linux.maskedPaths"
        );
        let mut s = bare.clone();
        s["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys"]);
        assert_eq!(
            check_namespaces(&spec(s)).unwrap_err().0,
            "linux.readonlyPaths"
        );
        let mut s = bare;
        s["linux"]["rootfsPropagation"] = "rshared".into();
        assert_eq!(
            check_namespaces(&spec(s)).unwrap_err().0,
            "linux.rootfsPropagation"
        );
    }

    #[test]
    fn time_offsets_need_time_ns() {
        let s = spec(serde_json::json!({"linux": {"timeOffsets": {"monotonic": {"secs": 1}}}}));
        assert_eq!(check_namespaces(&s).unwrap_err().0, "linux.timeOffsets");
    }
}
