//! The error of the security module: the config field it is about, and for a failed
//! syscall the syscall and its `io::Error` as the source.

/// Why a container's security settings were refused or could not be applied. Every message
/// starts with the config field it is about, so the user knows what to fix; a failed
/// syscall's `io::Error` (errno kept) is the [`source`](std::error::Error::source), not part
/// of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A sysctl that would change the host unless the container has its own namespace.
    #[error("linux.sysctl: {key:?} needs a new {namespace} namespace")]
    SysctlNeedsNamespace {
        key: String,
        namespace: &'static str,
    },

    /// A value the runtime-spec or the kernel does not accept.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },

    /// A syscall (or /proc write) that failed while applying `field`.
    #[error("{field}: {syscall} failed")]
    Syscall {
        field: String,
        syscall: String,
        #[source]
        source: std::io::Error,
    },

    /// sched_setattr refused (EPERM) in a container whose cgroup restricts its CPUs: the
    /// kernel admits a SCHED_DEADLINE task only where it may use all CPUs of its root domain.
    /// runc 1.5 says so in these words (its tests look for them).
    #[error(
        "process.scheduler: process scheduler can't be used together with AllowedCPUs (linux.resources.cpu.cpus {cpus:?})"
    )]
    SchedulerVsCpus {
        cpus: String,
        #[source]
        source: std::io::Error,
    },

    /// libseccomp refused to build or load the filter of `field`.
    #[error("{field}: {what}")]
    Seccomp {
        field: String,
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
}

impl SecurityError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SecurityError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn syscall(
        field: impl Into<String>,
        syscall: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        SecurityError::Syscall {
            field: field.into(),
            syscall: syscall.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_printed_once() {
        let e = SecurityError::syscall(
            "linux.sysctl[\"x\"]",
            "open /proc/sys/x",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            e.to_string(),
            "linux.sysctl[\"x\"]: open /proc/sys/x failed"
        );
        // The CLI prints "message: source".
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(
            source.as_deref(),
            Some("No such file or directory (os error 2)")
        );
    }
}
