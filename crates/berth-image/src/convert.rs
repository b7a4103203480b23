//! Image config → runtime config.json, following the image-spec's conversion document, layered on
//! the defaults `berth spec` writes.

use crate::error::{ImageError, Result};
use crate::types::ImageConfig;
use berth_sys::tree;
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::BorrowedFd;

/// A resolved `User`: uid, gid and supplementary groups.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Reads a file of the rootfs (resolved inside it: /etc/passwd may be a hostile symlink).
fn read_rootfs_file(root: BorrowedFd<'_>, path: &str) -> Option<String> {
    let fd = tree::open_in_root_with(root, OsStr::new(path), libc::O_RDONLY).ok()?;
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(8 << 20)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// Resolves `user`, `uid`, `user:group`, `uid:gid` (and mixes) against passwd/group contents.
pub(crate) fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let pw_entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u)));
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => pw_entry
            .as_ref()
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                ImageError::Invalid(format!(
                    "image user {u:?} not found in the rootfs's /etc/passwd"
                ))
            })?,
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "image group {g:?} not found in the rootfs's /etc/group"
                    ))
                })?,
        },
        None => pw_entry
            .as_ref()
            .and_then(|f| f[3].parse().ok())
            .unwrap_or(0),
    };
    // Supplementary groups: those listing the user's name as a member (only when no group was
    // named explicitly, as the conversion document says).
    let mut additional_gids = Vec::new();
    if g.is_none() {
        if let Some(name) = pw_entry.as_ref().map(|f| f[0]) {
            for f in &groups {
                let members = f.get(3).copied().unwrap_or("");
                if members.split(',').any(|m| m == name) {
                    if let Ok(n) = f[2].parse::<u32>() {
                        if n != gid && !additional_gids.contains(&n) {
                            additional_gids.push(n);
                        }
                    }
                }
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
    })
}

/// Options that change the generated config.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConvertOptions {
    /// Add a user namespace mapping the caller to root, as `runc spec --rootless` does.
    pub rootless: Option<(u32, u32)>,
    /// Keep the default's cgroup namespace: `berth spec` (like runc) keeps it only on a
    /// pure cgroup v2 host ([`host_has_pure_cgroup_v2`]).
    pub cgroup_ns: bool,
}

/// Whether /sys/fs/cgroup is a cgroup v2 mount: the test `berth spec` makes before it keeps
/// the cgroup namespace.
pub(crate) fn host_has_pure_cgroup_v2() -> bool {
    use berth_sys::mount::{statfs_type, CGROUP2_SUPER_MAGIC};
    statfs_type("/sys/fs/cgroup").is_ok_and(|t| t == CGROUP2_SUPER_MAGIC)
}

/// Builds config.json for a rootfs already unpacked at `root`.
pub(crate) fn runtime_config(
    img: &ImageConfig,
    root: BorrowedFd<'_>,
    opts: &ConvertOptions,
) -> Result<Value> {
    // Exactly what `berth spec` [--rootless] writes on this host, then the image's settings.
    let (uid, gid) = opts.rootless.unwrap_or((0, 0));
    let mut spec = berth_spec::default_config(opts.rootless.is_some(), uid, gid);
    if !opts.cgroup_ns {
        berth_spec::drop_cgroup_namespace(&mut spec);
    }
    let ec = img.config.clone().unwrap_or_default();
    let process = &mut spec["process"];
    // Not a terminal: bundles are usually run detached or from scripts.
    process["terminal"] = json!(false);
    let mut args: Vec<String> = ec.entrypoint.clone().unwrap_or_default();
    args.extend(ec.cmd.clone().unwrap_or_default());
    if !args.is_empty() {
        process["args"] = json!(args);
    }
    // Image Env wins over the defaults, variable by variable.
    let mut env: Vec<String> = process["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for e in ec.env.clone().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    process["env"] = json!(env);
    if let Some(wd) = ec.working_dir.as_deref().filter(|w| !w.is_empty()) {
        process["cwd"] = json!(wd);
    }
    if let Some(user) = ec.user.as_deref().filter(|u| !u.is_empty()) {
        let passwd = read_rootfs_file(root, "etc/passwd").unwrap_or_default();
        let group = read_rootfs_file(root, "etc/group").unwrap_or_default();
        let u = resolve_user(user, &passwd, &group)?;
        process["user"] = json!({"uid": u.uid, "gid": u.gid});
        if !u.additional_gids.is_empty() {
            process["user"]["additionalGids"] = json!(u.additional_gids);
        }
    }
    let mut ann = serde_json::Map::new();
    for (k, v) in ec.labels.clone().unwrap_or_default() {
        ann.insert(k, json!(v));
    }
    // The conversion document's annotations take precedence over same-named labels.
    let platform = &img.platform;
    if !platform.os.is_empty() {
        ann.insert("org.opencontainers.image.os".into(), json!(platform.os));
    }
    if !platform.architecture.is_empty() {
        ann.insert(
            "org.opencontainers.image.architecture".into(),
            json!(platform.architecture),
        );
    }
    if let Some(v) = &platform.variant {
        ann.insert("org.opencontainers.image.variant".into(), json!(v));
    }
    if let Some(a) = &img.author {
        ann.insert("org.opencontainers.image.author".into(), json!(a));
    }
    if let Some(c) = &img.created {
        ann.insert("org.opencontainers.image.created".into(), json!(c));
    }
    if let Some(s) = ec.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        ann.insert("org.opencontainers.image.stopSignal".into(), json!(s));
    }
    if let Some(p) = ec.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
        ann.insert(
            "org.opencontainers.image.exposedPorts".into(),
            json!(p.keys().cloned().collect::<Vec<_>>().join(",")),
        );
    }
    if let Some(v) = ec.volumes.as_ref().filter(|v| !v.is_empty()) {
        ann.insert(
            "org.opencontainers.image.volumes".into(),
            json!(v.keys().cloned().collect::<Vec<_>>().join(",")),
        );
    }
    if !ann.is_empty() {
        spec["annotations"] = Value::Object(ann);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n";

    #[test]
    fn resolves_users() {
        assert_eq!(
            resolve_user("alice", PASSWD, GROUP).unwrap(),
            ResolvedUser {
                uid: 1000,
                gid: 1000,
                additional_gids: vec![10, 29]
            }
        );
        assert_eq!(
            resolve_user("alice:wheel", PASSWD, GROUP).unwrap(),
            ResolvedUser {
                uid: 1000,
                gid: 10,
                additional_gids: vec![]
            }
        );
        assert_eq!(resolve_user("1000", PASSWD, GROUP).unwrap().gid, 1000);
        assert_eq!(
            resolve_user("4242:77", PASSWD, GROUP).unwrap(),
            ResolvedUser {
                uid: 4242,
                gid: 77,
                additional_gids: vec![]
            }
        );
        assert!(resolve_user("mallory", PASSWD, GROUP).is_err());
        assert!(resolve_user("alice:nogroup", PASSWD, GROUP).is_err());
    }
}
