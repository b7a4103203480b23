//! Errors of the rootfs setup: each names the config field or mount destination and, for
//! kernel failures, the syscall that failed.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mount {destination:?}: {reason}")]
    InvalidMount { destination: String, reason: String },

    #[error("mount {destination:?}: option {option:?}: {reason}")]
    InvalidOption {
        destination: String,
        option: String,
        reason: String,
    },

    #[error("mount {destination:?}: {what} is not supported by berth")]
    Unsupported { destination: String, what: String },

    #[error("linux.devices {path:?}: {reason}")]
    InvalidDevice { path: String, reason: String },

    #[error("{field} {value:?}: {reason}")]
    InvalidField {
        field: &'static str,
        value: String,
        reason: String,
    },

    /// A caller's [`super::SetupHooks`] callback failed.
    #[error("{0}")]
    Hook(String),

    /// A syscall failed while setting up the mount at `destination`.
    #[error("mount {destination:?}: {syscall}{detail}: {source}")]
    Mount {
        destination: String,
        syscall: &'static str,
        detail: String,
        source: io::Error,
    },

    /// A syscall failed on a path that is not a config.json mount (rootfs, devices, masked paths...).
    #[error("{what} {path:?}: {syscall}: {source}")]
    Path {
        what: &'static str,
        path: String,
        syscall: &'static str,
        source: io::Error,
    },
}

impl RootfsError {
    pub(crate) fn path(
        what: &'static str,
        path: impl Into<String>,
        syscall: &'static str,
        source: io::Error,
    ) -> Self {
        RootfsError::Path {
            what,
            path: path.into(),
            syscall,
            source,
        }
    }
}
