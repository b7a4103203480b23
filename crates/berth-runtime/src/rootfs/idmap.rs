//! ID-mapped bind mounts (runtime-spec 1.2: a mount's `uidMappings`/`gidMappings`, the
//! options `idmap` and `ridmap`), as runc 1.5 reads them:
//!
//! - mappings on a mount make it ID-mapped even without an option; `idmap` maps the top mount
//!   only (an rbind's submounts keep their ids), `ridmap` the whole tree;
//! - `idmap`/`ridmap` without mappings take the container's user namespace: its
//!   `linux.uidMappings`/`gidMappings`, or the namespace it joins by path; without a user
//!   namespace of its own the container must give the mappings;
//! - only bind mounts can be ID-mapped, and both mappings must be given.
//!
//! A mapping reads as the kernel applies it: a file whose owner on disk is `containerID + n`
//! shows through the mount as owned by `hostID + n`, and a file created through it by
//! `hostID + n` is stored as `containerID + n` (an id outside every range cannot write:
//! EOVERFLOW). The kernel takes the mapping from a user namespace (`MOUNT_ATTR_IDMAP` with its
//! fd, on the detached clone before it is attached), so one is made per distinct mapping
//! ([`UsernsCache`]) with a child parked in it ([`berth_sys::ns::ParkedUserns`]), whose maps
//! are exactly the mount's (uid_map "containerID hostID size").

use super::error::RootfsError;
use super::options::MountOptions;
use berth_sys::mount::{self as sys, MountAttr};
use berth_sys::ns::ParkedUserns;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// The kernel's limit on the lines of a uid_map/gid_map (UID_GID_MAP_MAX_EXTENTS).
const MAX_EXTENTS: usize = 340;

/// Where an ID-mapped mount's user namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsernsSource {
    /// One made for it, with these `uid_map` and `gid_map` contents.
    Maps { uid_map: String, gid_map: String },
    /// The user namespace the container joins (`linux.namespaces` user `path`).
    Path(PathBuf),
}

/// How one mount is ID-mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountIdmap {
    pub(crate) userns: UsernsSource,
    /// `ridmap`: every mount of the (rbind) tree, not only the top one.
    pub(crate) recursive: bool,
}

fn invalid(dest: &str, field: &str, reason: impl Into<String>) -> RootfsError {
    RootfsError::InvalidIdMapping {
        destination: dest.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Whether (and how) the mount `m` of `spec` is ID-mapped; refuses what cannot be, naming the
/// mount and the field. `bind`: the mount is a bind mount.
pub(crate) fn mount_idmap(
    spec: &Spec,
    m: &Mount,
    opts: &MountOptions,
    bind: bool,
    dest: &str,
) -> Result<Option<MountIdmap>, RootfsError> {
    let (uids, gids) = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    if !opts.idmap && uids.is_none() && gids.is_none() {
        return Ok(None);
    }
    if !bind {
        return Err(invalid(
            dest,
            "uidMappings/gidMappings",
            "ID-mapped mounts are only supported for bind mounts",
        ));
    }
    let recursive = opts.recursive_idmap;
    if uids.is_some() || gids.is_some() {
        let uids = uids.unwrap_or_default();
        let gids = gids.unwrap_or_default();
        if uids.is_empty() || gids.is_empty() {
            let missing = if uids.is_empty() {
                "uidMappings"
            } else {
                "gidMappings"
            };
            return Err(invalid(
                dest,
                missing,
                "an ID-mapped mount needs both uidMappings and gidMappings",
            ));
        }
        check_ranges(dest, "uidMappings", uids)?;
        check_ranges(dest, "gidMappings", gids)?;
        return Ok(Some(MountIdmap {
            userns: UsernsSource::Maps {
                uid_map: crate::namespaces::id_map(uids),
                gid_map: crate::namespaces::id_map(gids),
            },
            recursive,
        }));
    }
    // "idmap"/"ridmap" alone: the container's user namespace.
    let linux = spec.linux().as_ref();
    let userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::User));
    let option = if recursive { "ridmap" } else { "idmap" };
    let Some(userns) = userns else {
        return Err(invalid(
            dest,
            "uidMappings/gidMappings",
            format!(
                "option {option:?} without mappings needs the container's user namespace; \
                 give the mount both uidMappings and gidMappings"
            ),
        ));
    };
    if let Some(path) = userns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Ok(Some(MountIdmap {
            userns: UsernsSource::Path(path.clone()),
            recursive,
        }));
    }
    let uids = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    for (field, maps) in [("linux.uidMappings", uids), ("linux.gidMappings", gids)] {
        if maps.is_empty() {
            return Err(invalid(
                dest,
                field,
                format!("option {option:?} without mappings takes the container's, which has none"),
            ));
        }
        check_ranges(dest, field, maps)?;
    }
    Ok(Some(MountIdmap {
        userns: UsernsSource::Maps {
            uid_map: crate::namespaces::id_map(uids),
            gid_map: crate::namespaces::id_map(gids),
        },
        recursive,
    }))
}

/// What the kernel accepts in an id map: at most 340 ranges, none empty or past the last id,
/// none overlapping another on either side.
fn check_ranges(dest: &str, field: &str, maps: &[LinuxIdMapping]) -> Result<(), RootfsError> {
    if maps.len() > MAX_EXTENTS {
        return Err(invalid(
            dest,
            field,
            format!(
                "{} ranges, the kernel takes at most {MAX_EXTENTS}",
                maps.len()
            ),
        ));
    }
    let end = |first: u32, size: u32| u64::from(first) + u64::from(size);
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(invalid(dest, field, format!("range {i}: size is 0")));
        }
        for (side, first) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if end(first, m.size()) > u64::from(u32::MAX) {
                return Err(invalid(
                    dest,
                    field,
                    format!(
                        "range {i}: {side} {first} + size {} goes past the last id {}",
                        m.size(),
                        u32::MAX - 1
                    ),
                ));
            }
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            for (side, a, b) in [
                ("containerID", m.container_id(), o.container_id()),
                ("hostID", m.host_id(), o.host_id()),
            ] {
                if u64::from(a) < end(b, o.size()) && u64::from(b) < end(a, m.size()) {
                    return Err(invalid(
                        dest,
                        field,
                        format!("ranges {j} and {i} overlap on the {side} side"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// User namespaces made for ID-mapped mounts, one per distinct pair of maps (runc caches them
/// the same way): ten mounts with one mapping cost one namespace.
#[derive(Debug, Default)]
pub(crate) struct UsernsCache {
    made: Vec<(UsernsSource, OwnedFd)>,
}

impl UsernsCache {
    fn userns_fd(&mut self, src: &UsernsSource, dest: &str) -> Result<OwnedFd, RootfsError> {
        let dup = |fd: &OwnedFd| {
            fd.try_clone()
                .map_err(|e| RootfsError::mount(dest, "fcntl", "(F_DUPFD_CLOEXEC of a userns)", e))
        };
        if let Some((_, fd)) = self.made.iter().find(|(s, _)| s == src) {
            return dup(fd);
        }
        let fd = match src {
            UsernsSource::Path(path) => {
                std::fs::File::open(path).map(OwnedFd::from).map_err(|e| {
                    RootfsError::mount(dest, "open", format!("(user namespace {path:?})"), e)
                })?
            }
            UsernsSource::Maps { uid_map, gid_map } => make_userns(uid_map, gid_map, dest)?,
        };
        let out = dup(&fd)?;
        self.made.push((src.clone(), fd));
        Ok(out)
    }
}

/// A new user namespace with the given maps, as an nsfs fd.
fn make_userns(uid_map: &str, gid_map: &str, dest: &str) -> Result<OwnedFd, RootfsError> {
    let parked = ParkedUserns::spawn()
        .map_err(|e| RootfsError::mount(dest, "clone", "(CLONE_NEWUSER for the ID mapping)", e))?;
    let dir = parked.proc_dir();
    for (file, content, field) in [
        ("uid_map", uid_map, "uidMappings"),
        ("setgroups", "deny", "setgroups"),
        ("gid_map", gid_map, "gidMappings"),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, content).map_err(|e| {
            RootfsError::mount(dest, "write", format!("({field} to {})", path.display()), e)
        })?;
    }
    let path = dir.join("ns/user");
    let fd = std::fs::File::open(&path)
        .map_err(|e| RootfsError::mount(dest, "open", format!("({})", path.display()), e))?;
    Ok(OwnedFd::from(fd))
}

/// ID-maps the detached mount `tree` (made with `open_tree(OPEN_TREE_CLONE)`).
pub(crate) fn apply(
    tree: BorrowedFd<'_>,
    idm: &MountIdmap,
    cache: &mut UsernsCache,
    dest: &str,
) -> Result<(), RootfsError> {
    let ns = cache.userns_fd(&idm.userns, dest)?;
    let attr = MountAttr {
        attr_set: sys::MOUNT_ATTR_IDMAP,
        userns_fd: ns.as_fd().as_raw_fd() as u64,
        ..Default::default()
    };
    sys::mount_setattr_fd(tree, idm.recursive, &attr).map_err(|e| {
        let detail = if e.raw_os_error() == Some(libc::EINVAL) {
            "(MOUNT_ATTR_IDMAP; the source's filesystem may not support ID-mapped mounts)"
        } else {
            "(MOUNT_ATTR_IDMAP)"
        };
        RootfsError::mount(dest, "mount_setattr", detail, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::parse_mount_options;

    fn spec(linux: serde_json::Value) -> Spec {
        let mut v = berth_spec::default_config(false, 0, 0);
        if let (Some(l), serde_json::Value::Object(e)) = (v["linux"].as_object_mut(), linux) {
            l.extend(e);
        }
        serde_json::from_value(v).expect("spec")
    }

    fn mount(v: serde_json::Value) -> Mount {
        serde_json::from_value(v).expect("mount")
    }

    fn resolve(spec: &Spec, m: &Mount) -> Result<Option<MountIdmap>, RootfsError> {
        let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
        let bind = opts.bind || m.typ().as_deref() == Some("bind");
        mount_idmap(spec, m, &opts, bind, "/m")
    }

    fn map(c: u32, h: u32, s: u32) -> serde_json::Value {
        serde_json::json!({"containerID": c, "hostID": h, "size": s})
    }

    #[test]
    fn plain_mounts_are_not_idmapped() {
        let s = spec(serde_json::json!({}));
        let m =
            mount(serde_json::json!({"destination": "/m", "source": "/s", "options": ["rbind"]}));
        assert_eq!(resolve(&s, &m).expect("ok"), None);
    }

    #[test]
    fn mappings_alone_make_a_non_recursive_idmap() {
        let s = spec(serde_json::json!({}));
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["rbind"],
            "uidMappings": [map(0, 100000, 65536)],
            "gidMappings": [map(210, 1100, 10), map(220, 2200, 10)],
        }));
        let got = resolve(&s, &m).expect("ok").expect("idmapped");
        assert_eq!(
            got,
            MountIdmap {
                userns: UsernsSource::Maps {
                    uid_map: "0 100000 65536\n".into(),
                    gid_map: "210 1100 10\n220 2200 10\n".into(),
                },
                recursive: false,
            }
        );
        let mut m = m;
        m.set_options(Some(vec!["rbind".into(), "ridmap".into()]));
        assert!(resolve(&s, &m).expect("ok").expect("idmapped").recursive);
    }

    #[test]
    fn option_alone_takes_the_containers_user_namespace() {
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["rbind", "ridmap"],
        }));
        let s = spec(serde_json::json!({
            "namespaces": [{"type": "mount"}, {"type": "user"}],
            "uidMappings": [map(0, 100000, 65536)],
            "gidMappings": [map(0, 200000, 65536)],
        }));
        let got = resolve(&s, &m).expect("ok").expect("idmapped");
        assert_eq!(
            got.userns,
            UsernsSource::Maps {
                uid_map: "0 100000 65536\n".into(),
                gid_map: "0 200000 65536\n".into()
            }
        );
        assert!(got.recursive);
        let s = spec(serde_json::json!({
            "namespaces": [{"type": "mount"}, {"type": "user", "path": "/proc/42/ns/user"}],
        }));
        let got = resolve(&s, &m).expect("ok").expect("idmapped");
        assert_eq!(got.userns, UsernsSource::Path("/proc/42/ns/user".into()));
    }

    #[test]
    fn refusals_name_the_mount_and_the_field() {
        // No user namespace to take the mapping from.
        let s = spec(serde_json::json!({}));
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["bind", "idmap"],
        }));
        let e = resolve(&s, &m).expect_err("no mappings").to_string();
        assert!(
            e.starts_with("mount \"/m\": uidMappings/gidMappings: "),
            "{e}"
        );
        assert!(e.contains("\"idmap\""), "{e}");
        // Only one of the two.
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["bind"],
            "uidMappings": [map(0, 1000, 1)],
        }));
        let e = resolve(&s, &m).expect_err("one map").to_string();
        assert!(e.starts_with("mount \"/m\": gidMappings: "), "{e}");
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["bind"],
            "uidMappings": [], "gidMappings": [map(0, 1000, 1)],
        }));
        let e = resolve(&s, &m).expect_err("empty map").to_string();
        assert!(e.starts_with("mount \"/m\": uidMappings: "), "{e}");
        // Not a bind mount.
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "tmpfs", "type": "tmpfs",
            "uidMappings": [map(0, 1000, 1)], "gidMappings": [map(0, 1000, 1)],
        }));
        let e = resolve(&s, &m).expect_err("tmpfs").to_string();
        assert!(e.contains("only supported for bind mounts"), "{e}");
        // The container's user namespace has no maps.
        let s = spec(serde_json::json!({"namespaces": [{"type": "user"}]}));
        let m = mount(serde_json::json!({
            "destination": "/m", "source": "/s", "options": ["bind", "idmap"],
        }));
        let e = resolve(&s, &m).expect_err("no container maps").to_string();
        assert!(e.starts_with("mount \"/m\": linux.uidMappings: "), "{e}");
    }

    #[test]
    fn ranges_the_kernel_would_refuse() {
        let check = |maps: Vec<serde_json::Value>| {
            let maps: Vec<LinuxIdMapping> =
                serde_json::from_value(serde_json::Value::Array(maps)).expect("maps");
            check_ranges("/m", "uidMappings", &maps).map_err(|e| e.to_string())
        };
        assert!(check(vec![map(0, 100000, 65536)]).is_ok());
        assert!(check(vec![
            map(100, 1000, 1),
            map(101, 2000, 1),
            map(102, 3000, 1)
        ])
        .is_ok());
        assert!(check(vec![map(0, 0, u32::MAX)]).is_ok());
        let e = check(vec![map(0, 1000, 0)]).expect_err("empty");
        assert_eq!(e, "mount \"/m\": uidMappings: range 0: size is 0");
        let e = check(vec![map(0, 1000, 10), map(5, 5000, 10)]).expect_err("container side");
        assert_eq!(
            e,
            "mount \"/m\": uidMappings: ranges 0 and 1 overlap on the containerID side"
        );
        let e = check(vec![map(0, 1000, 10), map(100, 1009, 1)]).expect_err("host side");
        assert!(e.ends_with("overlap on the hostID side"), "{e}");
        let e = check(vec![map(1, 0, u32::MAX)]).expect_err("past the end");
        assert!(
            e.contains("containerID 1 + size 4294967295 goes past"),
            "{e}"
        );
        let many = (0..341).map(|i| map(i, i, 1)).collect();
        let e = check(many).expect_err("too many");
        assert!(e.contains("341 ranges"), "{e}");
    }
}
