//! Process security attributes. (Interim minimal version on main; the full module lands from the security work.)

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecurityError(String);

pub fn validate(_spec: &oci_spec::runtime::Spec) -> Result<(), SecurityError> {
    Ok(())
}

pub fn set_oom_score_adj(pid: i32, value: i32) -> Result<(), SecurityError> {
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), value.to_string())
        .map_err(|e| SecurityError(e.to_string()))
}

pub fn apply_process_security(spec: &oci_spec::runtime::Spec) -> Result<(), SecurityError> {
    if let Some(p) = spec.process() {
        let u = p.user();
        nix::unistd::setresgid(u.gid().into(), u.gid().into(), u.gid().into())
            .map_err(|e| SecurityError(e.to_string()))?;
        nix::unistd::setresuid(u.uid().into(), u.uid().into(), u.uid().into())
            .map_err(|e| SecurityError(e.to_string()))?;
    }
    Ok(())
}
