//! `berth exec`'s process: from `--process FILE`, or the container's own process with runc's
//! command-line overrides (args, -e, --cwd, -u, -g, -c, -t, --no-new-privs, --apparmor,
//! --process-label).

use anyhow::{Context, Result};
use oci_spec::runtime::Process;
use std::path::{Path, PathBuf};

/// Command-line overrides of `exec` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOverrides {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub tty: bool,
    pub no_new_privs: bool,
    /// `--apparmor`: the process's AppArmor profile.
    pub apparmor: Option<String>,
    /// `--process-label`: the process's SELinux label.
    pub process_label: Option<String>,
}

/// `--cgroup` values (runc's syntax): one `path` for every hierarchy, or any number of
/// `controller[,controller]:path`, each controller named once.
pub fn sub_cgroups(args: &[String]) -> Result<berth_cgroups::SubCgroups> {
    let mut out = berth_cgroups::SubCgroups::new();
    for a in args {
        match a.split_once(':') {
            None if args.len() == 1 => {
                out.insert(String::new(), a.clone());
            }
            None => anyhow::bail!("invalid --cgroup argument: {a} (missing <controller>: prefix)"),
            Some((_, path)) if path.contains(':') => {
                anyhow::bail!("invalid --cgroup argument: {a}")
            }
            Some((ctrls, path)) => {
                for c in ctrls.split(',') {
                    if out.insert(c.to_string(), path.to_string()).is_some() {
                        anyhow::bail!(
                            "invalid --cgroup argument(s): controller {c} specified multiple times"
                        );
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Loads `--process FILE` (`-` for stdin is not offered: engines pass a file).
pub fn process_from_file(path: &Path) -> Result<Process> {
    let bytes = std::fs::read(path).with_context(|| format!("--process {}", path.display()))?;
    let malformed = |e: serde_json::Error| {
        anyhow::anyhow!("--process {}: malformed process JSON: {e}", path.display())
    };
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(malformed)?;
    // runc decodes into a Go struct, where a missing `user` is uid 0, gid 0; oci-spec's
    // Process requires the field.
    if let Some(obj) = v.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    serde_json::from_value(v).map_err(malformed)
}

/// runc's exec defaults: the container's process (env, user, capabilities, rlimits, ...) with
/// the new args, extra env, cwd, user, groups, capabilities, terminal and no_new_privs.
pub fn process_from_args(base: &Process, o: &ExecOverrides) -> Result<Process> {
    let mut p = serde_json::to_value(base)?;
    p["args"] = serde_json::json!(o.args);
    p["terminal"] = o.tty.into();
    if let Some(env) = p["env"].as_array_mut() {
        env.extend(o.env.iter().map(|e| serde_json::Value::from(e.as_str())));
    } else {
        p["env"] = serde_json::json!(o.env);
    }
    if let Some(cwd) = &o.cwd {
        p["cwd"] = cwd.to_string_lossy().into_owned().into();
    }
    if let Some(user) = &o.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| anyhow::anyhow!("--user {user:?}: expected uid[:gid] as numbers"))
        };
        p["user"]["uid"] = num(uid)?.into();
        if let Some(g) = gid {
            p["user"]["gid"] = num(g)?.into();
        }
    }
    if !o.additional_gids.is_empty() {
        p["user"]["additionalGids"] = serde_json::json!(o.additional_gids);
    }
    // As runc: ambient too when the process has an inheritable set (the kernel raises an
    // ambient capability only if it is also inheritable, which --cap does not add).
    let with_ambient = p["capabilities"]["inheritable"].is_array();
    for cap in &o.caps {
        let sets: &[&str] = if with_ambient {
            &["bounding", "effective", "permitted", "ambient"]
        } else {
            &["bounding", "effective", "permitted"]
        };
        for set in sets.iter().copied() {
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = serde_json::json!([]);
            }
            if let Some(a) = list.as_array_mut() {
                if !a.iter().any(|c| c == cap) {
                    a.push(cap.as_str().into());
                }
            }
        }
    }
    if o.no_new_privs {
        p["noNewPrivileges"] = true.into();
    }
    // An empty value keeps the container's, as in runc.
    if let Some(profile) = o.apparmor.as_deref().filter(|s| !s.is_empty()) {
        p["apparmorProfile"] = profile.into();
    }
    if let Some(label) = o.process_label.as_deref().filter(|s| !s.is_empty()) {
        p["selinuxLabel"] = label.into();
    }
    // Through bytes, as process.json is read: one Process deserializer in the binary, not a
    // second one over `Value` (see berth_spec's config loading).
    let bytes = serde_json::to_vec(&p).map_err(|e| anyhow::anyhow!("exec: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("exec: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_arguments() {
        let v = |a: &[&str]| sub_cgroups(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let m = v(&["sub"]).unwrap();
        assert_eq!(m.get("").map(String::as_str), Some("sub"));
        let m = v(&["memory:submem", "cpu,cpuacct:subcpu"]).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["cpuacct"], "subcpu");
        assert_eq!(m["memory"], "submem");
        assert!(v(&["a", "b"]).is_err());
        assert!(v(&["cpu:a", "cpu:b"]).is_err());
        assert!(v(&["cpu:a:b"]).is_err());
        assert!(v(&[]).unwrap().is_empty());
    }

    #[test]
    fn process_file_without_user_runs_as_root() {
        let dir = std::env::temp_dir().join(format!("berth-exec-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("process.json");
        std::fs::write(&f, r#"{"args":["/bin/cat","/tmp/x"],"cwd":"/"}"#).unwrap();
        let p = process_from_file(&f).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        std::fs::write(
            &f,
            r#"{"args":["/bin/true"],"cwd":"/","user":{"uid":5,"gid":6}}"#,
        )
        .unwrap();
        let p = process_from_file(&f).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (5, 6));
        std::fs::write(&f, r#"{"args":"#).unwrap();
        assert!(process_from_file(&f).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn overrides_apply_on_the_container_process() {
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(berth_spec::default_config(false, 0, 0)).unwrap();
        let base = spec.process().clone().unwrap();
        let o = ExecOverrides {
            args: vec!["ls".into(), "-l".into()],
            env: vec!["X=1".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            caps: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        };
        let p = process_from_args(&base, &o).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["ls", "-l"]);
        assert!(p.env().as_ref().unwrap().iter().any(|e| e == "X=1"));
        assert!(p
            .env()
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.starts_with("PATH=")));
        assert_eq!(p.cwd(), &PathBuf::from("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        let v = serde_json::to_value(&p).unwrap();
        assert!(v["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
        assert_eq!(p.terminal(), Some(false));
        assert!(process_from_args(
            &base,
            &ExecOverrides {
                user: Some("bob".into()),
                ..o
            }
        )
        .is_err());
    }

    #[test]
    fn cap_is_ambient_too_when_the_process_has_an_inheritable_set() {
        let caps = |p: &Process, set: &str| {
            serde_json::to_value(p).unwrap()["capabilities"][set]
                .as_array()
                .map(|a| a.iter().any(|c| c == "CAP_SYSLOG"))
        };
        let o = ExecOverrides {
            args: vec!["true".into()],
            caps: vec!["CAP_SYSLOG".into()],
            ..Default::default()
        };
        let with: Process = serde_json::from_value(serde_json::json!({"cwd": "/", "args": ["sh"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                             "inheritable": ["CAP_CHOWN"], "ambient": ["CAP_CHOWN"]}}))
        .unwrap();
        let p = process_from_args(&with, &o).unwrap();
        assert_eq!(caps(&p, "ambient"), Some(true));
        assert_eq!(caps(&p, "permitted"), Some(true));
        assert_eq!(caps(&p, "inheritable"), Some(false));
        let without: Process =
            serde_json::from_value(serde_json::json!({"cwd": "/", "args": ["sh"],
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}))
            .unwrap();
        let p = process_from_args(&without, &o).unwrap();
        assert_ne!(caps(&p, "ambient"), Some(true));
        assert_eq!(caps(&p, "bounding"), Some(true));
    }

    #[test]
    fn apparmor_and_process_label_flags() {
        let mut base: oci_spec::runtime::Process = serde_json::from_value(
            serde_json::json!({"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                               "apparmorProfile": "container-profile"}),
        )
        .unwrap();
        let o = ExecOverrides {
            args: vec!["id".into()],
            apparmor: Some("exec-profile".into()),
            process_label: Some("system_u:system_r:container_t:s0:c1,c2".into()),
            ..Default::default()
        };
        let p = process_from_args(&base, &o).unwrap();
        assert_eq!(p.apparmor_profile().as_deref(), Some("exec-profile"));
        assert_eq!(
            p.selinux_label().as_deref(),
            Some("system_u:system_r:container_t:s0:c1,c2")
        );
        // Without the flags (or with empty values), the container's stay.
        let o = ExecOverrides {
            args: vec!["id".into()],
            apparmor: Some(String::new()),
            ..Default::default()
        };
        let p = process_from_args(&base, &o).unwrap();
        assert_eq!(p.apparmor_profile().as_deref(), Some("container-profile"));
        assert_eq!(p.selinux_label(), &None);
        base.set_apparmor_profile(None);
        let p = process_from_args(&base, &o).unwrap();
        assert_eq!(p.apparmor_profile(), &None);
    }
}
