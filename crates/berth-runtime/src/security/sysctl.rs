//! linux.sysctl: kernel parameters written under /proc/sys from inside the container.
//!
//! Only parameters that belong to a namespace the container has its own copy of may be set;
//! anything else would change the host. The classification follows runc's.

use super::error::SecurityError;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which namespace a sysctl belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ipc,
    Net,
    Uts,
}

impl Scope {
    fn namespace_type(self) -> LinuxNamespaceType {
        match self {
            Scope::Ipc => LinuxNamespaceType::Ipc,
            Scope::Net => LinuxNamespaceType::Network,
            Scope::Uts => LinuxNamespaceType::Uts,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scope::Ipc => "ipc",
            Scope::Net => "network",
            Scope::Uts => "uts",
        }
    }

    fn proc_ns(self) -> &'static str {
        match self {
            Scope::Ipc => "ipc",
            Scope::Net => "net",
            Scope::Uts => "uts",
        }
    }
}

/// The path components of a sysctl key. Like sysctl(8): a key whose first separator is '/'
/// is split on '/' (dots then belong to names, e.g. interface "eth0.100"); otherwise it is
/// split on '.' and a '/' inside a component stands for a dot.
pub fn components(key: &str) -> Result<Vec<String>, SecurityError> {
    let slash_form = key
        .find(['.', '/'])
        .map(|i| key.as_bytes()[i] == b'/')
        .unwrap_or(false);
    let parts: Vec<String> = if slash_form {
        key.split('/').map(str::to_string).collect()
    } else {
        key.split('.').map(|p| p.replace('/', ".")).collect()
    };
    // "..", "." or empty components would let a key escape /proc/sys.
    if parts
        .iter()
        .any(|p| p.is_empty() || p == "." || p == ".." || p.contains('\0'))
    {
        return Err(SecurityError::invalid(
            "linux.sysctl",
            format!("{key:?} is not a valid sysctl name"),
        ));
    }
    Ok(parts)
}

/// The namespace `key` needs, or an error for keys that are never allowed.
pub fn classify(key: &str) -> Result<Scope, SecurityError> {
    let parts = components(key)?;
    let dotted = parts.join(".");
    const IPC_KEYS: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC_KEYS.contains(&dotted.as_str())
        || (parts.len() > 2 && parts[0] == "fs" && parts[1] == "mqueue")
    {
        return Ok(Scope::Ipc);
    }
    if parts.len() > 1 && parts[0] == "net" {
        return Ok(Scope::Net);
    }
    match dotted.as_str() {
        "kernel.domainname" => Ok(Scope::Uts),
        "kernel.hostname" => Err(SecurityError::invalid(
            "linux.sysctl",
            format!("{key:?} conflicts with the \"hostname\" field; set the hostname there"),
        )),
        _ => Err(SecurityError::invalid(
            "linux.sysctl",
            format!("{key:?} is not namespaced; setting it would change the host"),
        )),
    }
}

/// (device, inode) of a namespace file, how two namespace references are compared.
fn ns_identity(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Whether the container gets its own namespace of `scope`'s kind: listed without a path, or
/// joined by path where that path is not the runtime's own (host) namespace.
fn has_own_namespace(scope: Scope, namespaces: &[LinuxNamespace]) -> Result<bool, SecurityError> {
    let Some(ns) = namespaces
        .iter()
        .find(|n| n.typ() == scope.namespace_type())
    else {
        return Ok(false);
    };
    let Some(path) = ns.path() else {
        return Ok(true);
    };
    let field = "linux.namespaces";
    let joined = ns_identity(path)
        .map_err(|e| SecurityError::syscall(field, format!("stat {}", path.display()), e))?;
    let own = format!("/proc/self/ns/{}", scope.proc_ns());
    let host = ns_identity(std::path::Path::new(&own))
        .map_err(|e| SecurityError::syscall(field, format!("stat {own}"), e))?;
    Ok(joined != host)
}

pub fn validate(
    sysctls: &HashMap<String, String>,
    namespaces: &[LinuxNamespace],
) -> Result<(), SecurityError> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let scope = classify(key)?;
        if !has_own_namespace(scope, namespaces)? {
            return Err(SecurityError::SysctlNeedsNamespace {
                key: key.clone(),
                namespace: scope.name(),
            });
        }
        if sysctls[key].contains('\0') {
            return Err(SecurityError::invalid(
                "linux.sysctl",
                format!("value of {key:?} contains a NUL byte"),
            ));
        }
    }
    Ok(())
}

/// Where the value of `key` is written.
pub fn proc_path(key: &str) -> Result<PathBuf, SecurityError> {
    Ok(PathBuf::from("/proc/sys").join(components(key)?.join("/")))
}

/// Writes every sysctl, from inside the container's namespaces (/proc/sys shows those of the
/// writer). The files are opened beneath a verified procfs root (see `apply`), without
/// following symlinks or crossing mounts, so neither a rootfs nor an overmount can redirect
/// the write elsewhere.
/// Set once the sysctls of this process's container were written, so that the later
/// apply_process_security does not write them again (by then /proc/sys may be read-only).
static APPLIED: AtomicBool = AtomicBool::new(false);

pub fn already_applied() -> bool {
    APPLIED.load(Ordering::SeqCst)
}

pub fn apply(sysctls: &HashMap<String, String>) -> Result<(), SecurityError> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    if keys.is_empty() {
        return Ok(());
    }
    // Through a procfs handle nothing mounted over /proc (or under it) can stand in for: a
    // private procfs instance, or /proc verified as a procfs root with no mount crossed below
    // it (CVE-2019-16884, CVE-2023-28642: a fake or overmounted /proc swallowing the write).
    let proc_root = berth_sys::procfs::open_proc_root()
        .map_err(|e| SecurityError::syscall("linux.sysctl", "opening procfs", e))?;
    for key in keys {
        classify(key)?;
        let path = proc_path(key)?;
        let shown = path.display().to_string();
        let relative = path
            .strip_prefix("/proc")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fd = berth_sys::procfs::open_in_proc(
            proc_root.as_fd(),
            &relative,
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
        .map_err(|e| {
            SecurityError::syscall(format!("linux.sysctl[{key:?}]"), format!("open {shown}"), e)
        })?;
        let mut file = std::fs::File::from(fd);
        file.write_all(sysctls[key].as_bytes()).map_err(|e| {
            SecurityError::syscall(
                format!("linux.sysctl[{key:?}]"),
                format!("write {shown}"),
                e,
            )
        })?;
    }
    APPLIED.store(true, Ordering::SeqCst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(json: serde_json::Value) -> Vec<LinuxNamespace> {
        serde_json::from_value(json).expect("namespaces json")
    }

    fn one(key: &str) -> HashMap<String, String> {
        HashMap::from([(key.to_string(), "1".to_string())])
    }

    #[test]
    fn classification() {
        assert_eq!(classify("kernel.shmmax").unwrap(), Scope::Ipc);
        assert_eq!(classify("kernel.sem").unwrap(), Scope::Ipc);
        assert_eq!(classify("fs.mqueue.msg_max").unwrap(), Scope::Ipc);
        assert_eq!(classify("net.ipv4.ip_forward").unwrap(), Scope::Net);
        assert_eq!(classify("net/ipv4/ip_forward").unwrap(), Scope::Net);
        assert_eq!(classify("kernel.domainname").unwrap(), Scope::Uts);
        assert!(classify("kernel.hostname")
            .unwrap_err()
            .to_string()
            .contains("hostname"));
        assert!(classify("kernel.pid_max")
            .unwrap_err()
            .to_string()
            .contains("not namespaced"));
        assert!(classify("fs.mqueue").is_err());
        assert!(classify("vm.swappiness").is_err());
    }

    #[test]
    fn key_forms_and_escapes() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/100.rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
        assert_eq!(
            proc_path("net/ipv4/conf/eth0.100/rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
        assert!(components("net/../../etc/passwd").is_err());
        assert!(components("net..ipv4").is_err());
        assert!(classify("net/ipv4/..").is_err());
    }

    #[test]
    fn namespace_requirements() {
        // (key, the one namespace the container gets, the namespace the error asks for)
        for (key, own, missing) in [
            ("net.ipv4.ip_forward", Some("ipc"), Some("network")),
            ("net.ipv4.ip_forward", Some("network"), None),
            ("kernel.shmmax", Some("network"), Some("ipc")),
            ("kernel.domainname", Some("uts"), None),
            ("kernel.domainname", None, Some("uts")),
        ] {
            let namespaces = ns(own.map_or(
                serde_json::json!([]),
                |t| serde_json::json!([{ "type": t }]),
            ));
            let got = validate(&one(key), &namespaces).map_err(|e| e.to_string());
            let want = missing.map_or(Ok(()), |n| {
                Err(format!("linux.sysctl: {key:?} needs a new {n} namespace"))
            });
            assert_eq!(got, want, "{key}");
        }
    }

    #[test]
    fn joining_the_host_namespace_by_path_counts_as_none() {
        let host = ns(serde_json::json!([{"type":"network","path":"/proc/self/ns/net"}]));
        assert!(validate(&one("net.ipv4.ip_forward"), &host).is_err());
        let missing = ns(serde_json::json!([{"type":"network","path":"/nonexistent/ns"}]));
        let e = validate(&one("net.ipv4.ip_forward"), &missing)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.namespaces: stat /nonexistent/ns"),
            "{e}"
        );
    }

    /// CVE-2019-16884 / CVE-2023-28642: a procfs file mounted over the sysctl's path (here
    /// ip_default_ttl over ip_forward, in a throwaway network namespace) must not swallow the
    /// write. Runs in a thread with its own mount and network namespaces.
    #[test]
    fn an_overmounted_proc_sys_file_cannot_swallow_a_sysctl() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP an_overmounted_proc_sys_file_cannot_swallow_a_sysctl: needs root");
            return;
        }
        std::thread::spawn(|| {
            berth_sys::ns::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET).unwrap();
            let m = berth_sys::mount::mount;
            m(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None).unwrap();
            let dir = "/proc/sys/net/ipv4";
            m(
                Some(&format!("{dir}/ip_default_ttl")),
                &format!("{dir}/ip_forward"),
                None,
                libc::MS_BIND,
                None,
            )
            .unwrap();
            let proc = berth_sys::procfs::private_proc().unwrap();
            let read = |name: &str| {
                let fd = berth_sys::procfs::open_in_proc(
                    proc.as_fd(),
                    &format!("sys/net/ipv4/{name}"),
                    libc::O_RDONLY,
                )
                .unwrap();
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).unwrap();
                s.trim().to_string()
            };
            // The opposite of what the namespace started with (it may inherit the host's).
            let want = if read("ip_forward") == "1" { "0" } else { "1" };
            let ttl = read("ip_default_ttl");
            // Through the overmounted path the write would land in ip_default_ttl.
            let sysctls = HashMap::from([("net.ipv4.ip_forward".to_string(), want.to_string())]);
            apply(&sysctls).unwrap();
            assert_eq!(read("ip_forward"), want);
            assert_eq!(read("ip_default_ttl"), ttl);
        })
        .join()
        .unwrap();
    }
}
