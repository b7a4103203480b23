//! Which namespaces a container gets: created by the init's clone, or joined by path first.

use crate::init_error::InitError;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::path::PathBuf;

/// CLONE_NEWTIME: not in every libc crate version, and only usable with unshare(2).
pub const CLONE_NEWTIME: libc::c_int = 0x80;

/// The CLONE_NEW* flag of a namespace type.
pub fn clone_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// Order for joining: the user namespace first (it grants the capabilities to join the others),
/// the mount namespace last (paths of the other namespace files are resolved before it).
fn join_rank(t: LinuxNamespaceType) -> u8 {
    match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    }
}

/// What the runtime does about namespaces for one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespacePlan {
    /// CLONE_NEW* flags for the init's clone (without the time namespace).
    pub clone_flags: libc::c_int,
    /// Namespaces to join before the clone, in join order.
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    /// A new user namespace: the runtime writes its id maps.
    pub new_user: bool,
    /// A new time namespace: unshared before the clone, offsets written, then inherited by the init.
    pub new_time: bool,
    /// A new cgroup namespace: unshared by the init itself once the runtime has put it in its
    /// cgroup, so the namespace's root is the container's cgroup, not the runtime's.
    pub new_cgroup: bool,
    /// `/proc/self/timens_offsets` content for a new time namespace.
    pub time_offsets: String,
    pub uid_map: String,
    pub gid_map: String,
}

impl NamespacePlan {
    pub fn from_spec(spec: &Spec) -> NamespacePlan {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return plan;
        };
        for ns in linux.namespaces().iter().flatten() {
            // An empty path means "create", as runc reads it.
            match ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
                Some(path) => plan.joins.push((ns.typ(), path.clone())),
                None if ns.typ() == LinuxNamespaceType::Time => plan.new_time = true,
                None if ns.typ() == LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                None => {
                    plan.clone_flags |= clone_flag(ns.typ());
                    plan.new_user |= ns.typ() == LinuxNamespaceType::User;
                }
            }
        }
        plan.joins.sort_by_key(|(t, _)| join_rank(*t));
        if plan.new_user {
            plan.uid_map = id_map(linux.uid_mappings().as_deref().unwrap_or_default());
            plan.gid_map = id_map(linux.gid_mappings().as_deref().unwrap_or_default());
        }
        if let Some(offsets) = linux.time_offsets() {
            let mut clocks: Vec<_> = offsets.iter().collect();
            clocks.sort_by(|a, b| a.0.cmp(b.0));
            plan.time_offsets = clocks
                .into_iter()
                .map(|(clock, o)| {
                    format!(
                        "{clock} {} {}\n",
                        o.secs().unwrap_or(0),
                        o.nanosecs().unwrap_or(0)
                    )
                })
                .collect();
        }
        plan
    }

    /// The container has its own user namespace, created or joined: its root is not the host's
    /// (devices are bound rather than made, mount flags are locked, host ids are unmapped).
    pub fn in_user_namespace(&self) -> bool {
        self.new_user
            || self
                .joins
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::User)
    }
}

/// A namespace to join: what to call it in errors, its file, its CLONE_NEW* flag.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Join {
    pub what: String,
    pub path: PathBuf,
    pub flag: libc::c_int,
}

/// Joins `joins`. Every file is opened before any is joined: joining the mount namespace
/// changes what the remaining paths mean.
///
/// The order is runc's (1.5): first every namespace but the user one, with the runtime's own
/// credentials, leaving for later those the kernel refuses with EPERM; then the user
/// namespace; then the ones left. A namespace owned by a user namespace other than the one
/// joined (the host's network namespace, another container's time namespace) can only be
/// joined before the user namespace, when the runtime still has its capabilities over it;
/// one owned by the joined user namespace may need that namespace's capabilities (a rootless
/// runtime) and is joined after it. Within each pass `joins` keeps its order.
pub fn join_all(joins: &[Join]) -> Result<(), InitError> {
    let mut files = Vec::with_capacity(joins.len());
    for j in joins {
        let f = std::fs::File::open(&j.path)
            .map_err(|e| InitError::sys(format!("{} {}", j.what, j.path.display()), &e))?;
        files.push(f);
    }
    join_in_passes(joins, |i| {
        berth_sys::ns::setns(std::os::fd::AsFd::as_fd(&files[i]), joins[i].flag)
    })
}

/// [`join_all`]'s order, with `setns(i)` joining `joins[i]`.
fn join_in_passes(
    joins: &[Join],
    mut setns: impl FnMut(usize) -> std::io::Result<()>,
) -> Result<(), InitError> {
    let fail = |j: &Join, e: &std::io::Error| {
        InitError::sys(format!("joining {} {}", j.what, j.path.display()), e)
    };
    let is_user = |j: &Join| j.flag == libc::CLONE_NEWUSER;
    let mut refused = Vec::new();
    for (i, j) in joins.iter().enumerate().filter(|(_, j)| !is_user(j)) {
        match setns(i) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => refused.push(i),
            Err(e) => return Err(fail(j, &e)),
        }
    }
    for (i, j) in joins.iter().enumerate().filter(|(_, j)| is_user(j)) {
        setns(i).map_err(|e| fail(j, &e))?;
    }
    for i in refused {
        setns(i).map_err(|e| fail(&joins[i], &e))?;
    }
    Ok(())
}

/// `/proc/PID/uid_map` content: one "container-id host-id size" line per mapping.
pub fn id_map(mappings: &[LinuxIdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: serde_json::Value, extra: serde_json::Value) -> Spec {
        let mut v = berth_spec::default_config(false, 0, 0);
        v["linux"]["namespaces"] = ns;
        if let (Some(l), serde_json::Value::Object(e)) = (v["linux"].as_object_mut(), extra) {
            l.extend(e);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn default_spec_clones_everything_at_once() {
        let s: Spec = serde_json::from_value(berth_spec::default_config(false, 0, 0)).unwrap();
        let p = NamespacePlan::from_spec(&s);
        assert!(p.joins.is_empty() && !p.new_time);
        let want =
            libc::CLONE_NEWPID | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        assert_eq!(p.clone_flags, want | libc::CLONE_NEWNS);
        assert!(
            p.new_cgroup,
            "unshared by the init after it joined its cgroup"
        );
        assert!(!p.new_user);
    }

    #[test]
    fn joins_put_user_first_and_mount_last() {
        let s = spec(
            serde_json::json!([
                {"type": "mount", "path": "/proc/1/ns/mnt"},
                {"type": "network", "path": "/proc/1/ns/net"},
                {"type": "user", "path": "/proc/1/ns/user"},
                {"type": "pid"}
            ]),
            serde_json::json!({}),
        );
        let p = NamespacePlan::from_spec(&s);
        let order: Vec<_> = p.joins.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            order,
            vec![
                LinuxNamespaceType::User,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Mount
            ]
        );
        assert_eq!(p.clone_flags, libc::CLONE_NEWPID);
        assert!(!p.joins.is_empty());
    }

    /// A stand-in for the kernel's setns permission check: each namespace is owned by the host
    /// ("host") or by the user namespace being joined ("container"); the caller may join one
    /// when it still has the host's capabilities, or when it has joined the owner.
    fn joins_with_owners(owners: &[(&str, libc::c_int, &str)]) -> (Vec<String>, Option<String>) {
        let joins: Vec<Join> = owners
            .iter()
            .map(|(name, flag, _)| Join {
                what: format!("{name} namespace"),
                path: PathBuf::from(format!("/ns/{name}")),
                flag: *flag,
            })
            .collect();
        let mut in_user_ns = false;
        let mut joined = Vec::new();
        let r = join_in_passes(&joins, |i| {
            let (name, flag, owner) = owners[i];
            let allowed = if flag == libc::CLONE_NEWUSER {
                !in_user_ns
            } else if in_user_ns {
                owner == "container"
            } else {
                true
            };
            if !allowed {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            in_user_ns |= flag == libc::CLONE_NEWUSER;
            joined.push(name.to_string());
            Ok(())
        });
        (joined, r.err().map(|e| crate::init_error::chain_text(&e)))
    }

    #[test]
    fn namespaces_the_joined_user_namespace_does_not_own_are_joined_before_it() {
        // runc's "join external namespaces [wrong userns owner]": the user namespace of one
        // container, a network namespace of the host's.
        let (joined, err) = joins_with_owners(&[
            ("user", libc::CLONE_NEWUSER, "host"),
            ("net", libc::CLONE_NEWNET, "host"),
            ("time", CLONE_NEWTIME, "container"),
            ("mnt", libc::CLONE_NEWNS, "container"),
        ]);
        assert_eq!(err, None);
        assert_eq!(joined, ["net", "time", "mnt", "user"]);
    }

    #[test]
    fn a_namespace_refused_before_the_user_namespace_is_retried_after_it() {
        let joins = [
            Join {
                what: "user namespace".into(),
                path: "/ns/user".into(),
                flag: libc::CLONE_NEWUSER,
            },
            Join {
                what: "net namespace".into(),
                path: "/ns/net".into(),
                flag: libc::CLONE_NEWNET,
            },
        ];
        // A rootless runtime: the network namespace only after the user namespace.
        let mut calls = Vec::new();
        let mut user_joined = false;
        join_in_passes(&joins, |i| {
            calls.push(i);
            match joins[i].flag {
                libc::CLONE_NEWUSER => {
                    user_joined = true;
                    Ok(())
                }
                _ if user_joined => Ok(()),
                _ => Err(std::io::Error::from_raw_os_error(libc::EPERM)),
            }
        })
        .unwrap();
        assert_eq!(calls, [1, 0, 1]);
        // Refused both times: the error names the namespace and keeps EPERM.
        let e = join_in_passes(&joins, |i| match joins[i].flag {
            libc::CLONE_NEWUSER => Ok(()),
            _ => Err(std::io::Error::from_raw_os_error(libc::EPERM)),
        })
        .unwrap_err();
        assert_eq!(
            crate::init_error::chain_text(&e),
            "joining net namespace /ns/net: operation not permitted"
        );
        // Any other error ends the joins at once.
        let mut calls = 0;
        let e = join_in_passes(&joins, |_| {
            calls += 1;
            Err(std::io::Error::from_raw_os_error(libc::EINVAL))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(crate::init_error::chain_text(&e).starts_with("joining net namespace /ns/net: "));
    }

    #[test]
    fn user_maps_and_time_offsets() {
        let s = spec(
            serde_json::json!([{"type": "mount"}, {"type": "user"}, {"type": "time"}]),
            serde_json::json!({
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10}],
                "timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 5}, "boottime": {"secs": -3}}
            }),
        );
        let p = NamespacePlan::from_spec(&s);
        assert!(p.new_user && p.new_time);
        assert_eq!(p.uid_map, "0 100000 65536\n");
        assert_eq!(p.gid_map, "0 200000 10\n");
        assert_eq!(p.time_offsets, "boottime -3 0\nmonotonic 86400 5\n");
        assert_eq!(
            p.clone_flags & CLONE_NEWTIME,
            0,
            "time is unshared, never cloned"
        );
    }
}
