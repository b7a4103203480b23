//! Checks on config.json before it is parsed into `oci_spec::runtime::Spec`.
//!
//! oci-spec turns an unknown capability, rlimit type, scheduler policy, I/O class or
//! personality domain into a serde error that does not say which field was wrong, so the
//! runtime runs [`check_raw_config`] on the JSON first. It also translates the runtime-spec's
//! scheduler flag names that oci-spec 0.10 spells differently ("SCHED_FLAG_RESET_ON_FORK" is
//! "SCHED_RESET_ON_FORK" there, "SCHED_FLAG_DL_OVERRUN" is "SCHED_FLAG_D_L_OVERRUN"), without
//! which a valid config would not parse at all.

use crate::seccomp_names;
use serde_json::Value;

/// A field of config.json whose value the runtime-spec does not define.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RawConfigError {
    /// A capability name that is not a Linux capability.
    #[error("{field}: unknown capability {name:?}")]
    UnknownCapability { field: String, name: String },

    /// A value the runtime-spec does not accept.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl RawConfigError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RawConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

const CAP_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

const POLICIES: [&str; 7] = [
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
];

/// (runtime-spec name, oci-spec 0.10 name) of each scheduler flag.
const SCHED_FLAGS: [(&str, &str); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_RECLAIM", "SCHED_FLAG_RECLAIM"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
    ("SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_POLICY"),
    ("SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_KEEP_PARAMS"),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MIN"),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", "SCHED_FLAG_UTIL_CLAMP_MAX"),
];

const IO_CLASSES: [&str; 3] = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];

const PERSONALITY_DOMAINS: [&str; 2] = ["LINUX", "LINUX32"];

/// The set_mempolicy(2) modes the runtime-spec names (`linux.memoryPolicy.mode`).
const MEMORY_POLICY_MODES: [&str; 7] = [
    "MPOL_DEFAULT",
    "MPOL_PREFERRED",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];

/// The set_mempolicy(2) mode flags the runtime-spec names (`linux.memoryPolicy.flags`).
const MEMORY_POLICY_FLAGS: [&str; 3] = [
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// A string field that must be one of `allowed`. Absent is fine (the spec parser decides
/// whether it is required).
fn one_of(
    v: Option<&Value>,
    field: &str,
    what: &str,
    allowed: &[&str],
) -> Result<(), RawConfigError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(Value::String(s)) => Err(RawConfigError::invalid(
            field,
            format!(
                "unknown {what} {s:?} (expected one of {})",
                allowed.join(", ")
            ),
        )),
        Some(other) => Err(RawConfigError::invalid(
            field,
            format!("expected a string, got {other}"),
        )),
    }
}

fn array<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a [Value], RawConfigError> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(RawConfigError::invalid(
            field,
            format!("expected an array, got {other}"),
        )),
    }
}

/// A name that is not a Linux capability is dropped with a warning, as runc does: one warning
/// for all the sets, naming each unknown name once, sorted, in runc's words and list form
/// ("ignoring unknown or unavailable capabilities: [CAP_BAR CAP_FOO]"; youki's contest looks
/// for exactly that). The container runs with the rest. A value that is not a string at all is
/// an error.
fn check_capabilities(caps: &mut Value) -> Result<(), RawConfigError> {
    if let Some(msg) = ignored_capabilities_warning(&drop_unknown_capabilities(caps)?) {
        log::warn!("{msg}");
    }
    Ok(())
}

/// Removes the names that are not Linux capabilities from every set; returns them.
fn drop_unknown_capabilities(
    caps: &mut Value,
) -> Result<std::collections::BTreeSet<String>, RawConfigError> {
    let mut unknown = std::collections::BTreeSet::new();
    for set in CAP_SETS {
        let field = format!("process.capabilities.{set}");
        array(caps.get(set), &field)?;
        let Some(Value::Array(names)) = caps.get_mut(set) else {
            continue;
        };
        let mut unknown_here = Vec::new();
        for name in names.iter() {
            match name.as_str() {
                Some(s) if s.parse::<caps::Capability>().is_ok() => {}
                Some(s) => unknown_here.push(s.to_string()),
                None => {
                    return Err(RawConfigError::UnknownCapability {
                        field,
                        name: name.to_string(),
                    })
                }
            }
        }
        names.retain(|n| {
            n.as_str()
                .is_some_and(|s| !unknown_here.iter().any(|u| u == s))
        });
        unknown.extend(unknown_here);
    }
    Ok(unknown)
}

/// The warning for the capability names [`check_capabilities`] dropped, if any.
fn ignored_capabilities_warning(unknown: &std::collections::BTreeSet<String>) -> Option<String> {
    if unknown.is_empty() {
        return None;
    }
    let names: Vec<&str> = unknown.iter().map(String::as_str).collect();
    Some(format!(
        "process.capabilities: ignoring unknown or unavailable capabilities: [{}]",
        names.join(" ")
    ))
}

fn fix_scheduler(sched: &mut Value) -> Result<(), RawConfigError> {
    one_of(
        sched.get("policy"),
        "process.scheduler.policy",
        "scheduler policy",
        &POLICIES,
    )?;
    let Some(Value::Array(flags)) = sched.get_mut("flags") else {
        return array(sched.get("flags"), "process.scheduler.flags").map(|_| ());
    };
    for flag in flags.iter_mut() {
        let known = flag
            .as_str()
            .and_then(|s| {
                SCHED_FLAGS
                    .iter()
                    .find(|(spec, ours)| s == *spec || s == *ours)
            })
            .map(|(_, ours)| *ours);
        match known {
            Some(ours) => *flag = Value::String(ours.to_string()),
            None => {
                let names: Vec<&str> = SCHED_FLAGS.iter().map(|(spec, _)| *spec).collect();
                return Err(RawConfigError::invalid(
                    "process.scheduler.flags",
                    format!(
                        "unknown scheduler flag {flag} (expected one of {})",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_seccomp(sc: &Value) -> Result<(), RawConfigError> {
    let f = "linux.seccomp";
    one_of(
        sc.get("defaultAction"),
        &format!("{f}.defaultAction"),
        "seccomp action",
        &seccomp_names::ACTIONS,
    )?;
    for (i, a) in array(sc.get("architectures"), &format!("{f}.architectures"))?
        .iter()
        .enumerate()
    {
        one_of(
            Some(a),
            &format!("{f}.architectures[{i}]"),
            "seccomp architecture",
            &seccomp_names::ARCHITECTURES,
        )?;
    }
    for (i, fl) in array(sc.get("flags"), &format!("{f}.flags"))?
        .iter()
        .enumerate()
    {
        one_of(
            Some(fl),
            &format!("{f}.flags[{i}]"),
            "seccomp flag",
            &seccomp_names::FLAGS,
        )?;
    }
    for (i, call) in array(sc.get("syscalls"), &format!("{f}.syscalls"))?
        .iter()
        .enumerate()
    {
        let field = format!("{f}.syscalls[{i}]");
        one_of(
            call.get("action"),
            &format!("{field}.action"),
            "seccomp action",
            &seccomp_names::ACTIONS,
        )?;
        for (j, arg) in array(call.get("args"), &format!("{field}.args"))?
            .iter()
            .enumerate()
        {
            one_of(
                arg.get("op"),
                &format!("{field}.args[{j}].op"),
                "seccomp operator",
                &seccomp_names::OPERATORS,
            )?;
        }
    }
    Ok(())
}

/// `linux.memoryPolicy`: the mode is required (oci-spec's serde error would not say so) and,
/// like the flags, must be a name set_mempolicy(2) knows; runc's wording ("invalid memory
/// policy mode/flag") so that scripts matching it keep working.
fn check_memory_policy(mp: &Value) -> Result<(), RawConfigError> {
    match mp.get("mode") {
        None | Some(Value::Null) => {
            return Err(RawConfigError::invalid(
                "linux.memoryPolicy.mode",
                "invalid memory policy mode: missing",
            ))
        }
        Some(Value::String(m)) if MEMORY_POLICY_MODES.contains(&m.as_str()) => {}
        Some(m) => {
            return Err(RawConfigError::invalid(
                "linux.memoryPolicy.mode",
                format!(
                    "invalid memory policy mode {m} (expected one of {})",
                    MEMORY_POLICY_MODES.join(", ")
                ),
            ))
        }
    }
    for (i, flag) in array(mp.get("flags"), "linux.memoryPolicy.flags")?
        .iter()
        .enumerate()
    {
        if !flag
            .as_str()
            .is_some_and(|f| MEMORY_POLICY_FLAGS.contains(&f))
        {
            return Err(RawConfigError::invalid(
                format!("linux.memoryPolicy.flags[{i}]"),
                format!(
                    "invalid memory policy flag {flag} (expected one of {})",
                    MEMORY_POLICY_FLAGS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Validates the enumerated security fields of a raw config.json with messages that name the
/// field, and rewrites runtime-spec scheduler flag names into the spelling oci-spec parses.
/// Call it before `serde_json::from_value::<Spec>`.
pub fn check_raw_config(config: &mut Value) -> Result<(), RawConfigError> {
    if let Some(process) = config.get_mut("process") {
        if let Some(caps) = process.get_mut("capabilities").filter(|c| !c.is_null()) {
            check_capabilities(caps)?;
        }
        for (i, limit) in array(process.get("rlimits"), "process.rlimits")?
            .iter()
            .enumerate()
        {
            let field = format!("process.rlimits[{i}].type");
            one_of(limit.get("type"), &field, "rlimit type", &RLIMITS)?;
        }
        if let Some(io) = process.get("ioPriority").filter(|c| !c.is_null()) {
            one_of(
                io.get("class"),
                "process.ioPriority.class",
                "I/O priority class",
                &IO_CLASSES,
            )?;
        }
        if let Some(sched) = process.get_mut("scheduler").filter(|c| !c.is_null()) {
            fix_scheduler(sched)?;
        }
    }
    if let Some(p) = config
        .get("linux")
        .and_then(|l| l.get("personality"))
        .filter(|c| !c.is_null())
    {
        one_of(
            p.get("domain"),
            "linux.personality.domain",
            "personality domain",
            &PERSONALITY_DOMAINS,
        )?;
    }
    if let Some(mp) = config
        .get("linux")
        .and_then(|l| l.get("memoryPolicy"))
        .filter(|c| !c.is_null())
    {
        check_memory_policy(mp)?;
    }
    if let Some(sc) = config
        .get("linux")
        .and_then(|l| l.get("seccomp"))
        .filter(|c| !c.is_null())
    {
        check_seccomp(sc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(mut v: Value) -> String {
        check_raw_config(&mut v).unwrap_err().to_string()
    }

    #[test]
    fn unknown_capabilities_make_one_warning_in_runcs_words() {
        // youki's contest (process_capabilities_fail) replaces every bounding and effective
        // name with TEST_CAP and looks for runc's warning: each name once, Go's list form.
        let mut caps = json!({
            "bounding": ["TEST_CAP", "TEST_CAP", "TEST_CAP"],
            "effective": ["TEST_CAP", "TEST_CAP", "TEST_CAP"],
            "permitted": ["CAP_KILL", "CAP_ZZZ"],
        });
        let unknown = drop_unknown_capabilities(&mut caps).unwrap();
        assert_eq!(
            ignored_capabilities_warning(&unknown).unwrap(),
            "process.capabilities: ignoring unknown or unavailable capabilities: [CAP_ZZZ TEST_CAP]"
        );
        assert_eq!(caps["permitted"], json!(["CAP_KILL"]));
        assert_eq!(caps["bounding"], json!([]));
        let mut known = json!({"bounding": ["CAP_KILL"]});
        assert!(
            ignored_capabilities_warning(&drop_unknown_capabilities(&mut known).unwrap()).is_none()
        );
    }

    #[test]
    fn unknown_capability_is_dropped_and_a_non_string_refused() {
        let mut v = json!({"process":{"capabilities":{"bounding":["CAP_KILL","CAP_FOO"],"ambient":["kill"]}}});
        check_raw_config(&mut v).unwrap();
        assert_eq!(
            v["process"]["capabilities"],
            json!({"bounding":["CAP_KILL"],"ambient":[]})
        );
        assert!(err(json!({"process":{"capabilities":{"effective":[7]}}})).contains("effective"));
        let mut ok =
            json!({"process":{"capabilities":{"bounding":["CAP_KILL","CAP_CHECKPOINT_RESTORE"]}}});
        assert!(check_raw_config(&mut ok).is_ok());
    }

    #[test]
    fn enumerations() {
        assert!(err(
            json!({"process":{"rlimits":[{"type":"RLIMIT_NOFILE"},{"type":"RLIMIT_FOO"}]}})
        )
        .starts_with("process.rlimits[1].type: unknown rlimit type \"RLIMIT_FOO\""));
        assert!(
            err(json!({"process":{"scheduler":{"policy":"SCHED_FAST"}}}))
                .starts_with("process.scheduler.policy")
        );
        assert!(
            err(json!({"process":{"scheduler":{"policy":"SCHED_RR","flags":["X"]}}}))
                .starts_with("process.scheduler.flags")
        );
        assert!(
            err(json!({"process":{"ioPriority":{"class":"IOPRIO_CLASS_NONE"}}}))
                .starts_with("process.ioPriority.class")
        );
        assert!(err(json!({"linux":{"personality":{"domain":"LINUX64"}}}))
            .starts_with("linux.personality.domain"));
        assert!(
            err(json!({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_MAYBE"}}})).starts_with(
                "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\""
            )
        );
        assert!(err(json!({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}}}))
            .starts_with("linux.seccomp.architectures[0]"));
        assert!(err(json!({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_ABOUT"}]}]}}}))
        .starts_with("linux.seccomp.syscalls[0].args[0].op"));
    }

    #[test]
    fn memory_policy_mode_and_flags() {
        assert_eq!(
            err(json!({"linux":{"memoryPolicy":{}}})),
            "linux.memoryPolicy.mode: invalid memory policy mode: missing"
        );
        assert!(
            err(json!({"linux":{"memoryPolicy":{"mode":"INTERLEAVE","nodes":"0"}}}))
                .starts_with("linux.memoryPolicy.mode: invalid memory policy mode \"INTERLEAVE\"")
        );
        assert!(err(json!({"linux":{"memoryPolicy":{"mode":"MPOL_PREFERRED",
            "flags":["MPOL_F_RELATIVE_NODES","badflag"]}}}))
        .starts_with("linux.memoryPolicy.flags[1]: invalid memory policy flag \"badflag\""));
        let mut ok = json!({"ociVersion":"1.3.0","linux":{"memoryPolicy":{"mode":"MPOL_BIND",
            "nodes":"0","flags":["MPOL_F_STATIC_NODES"]}}});
        check_raw_config(&mut ok).unwrap();
        let spec: oci_spec::runtime::Spec = serde_json::from_value(ok).expect("parses");
        assert!(spec.linux().as_ref().unwrap().memory_policy().is_some());
    }

    #[test]
    fn scheduler_flags_are_translated_so_the_spec_parses() {
        let mut v = json!({"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_RR","priority":1,"flags":["SCHED_FLAG_RESET_ON_FORK","SCHED_FLAG_DL_OVERRUN"]}}});
        check_raw_config(&mut v).unwrap();
        // Idempotent: a second pass sees oci-spec's spelling and keeps it.
        check_raw_config(&mut v).unwrap();
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(v).expect("parses after translation");
        let flags = spec
            .process()
            .as_ref()
            .unwrap()
            .scheduler()
            .as_ref()
            .unwrap()
            .flags()
            .clone()
            .unwrap();
        assert_eq!(flags.len(), 2);
    }
}
