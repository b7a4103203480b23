//! Errors of the rootfs setup: each names the config field or mount destination and, for
//! kernel failures, the syscall that failed; the kernel's error is the `source` (its errno
//! kept), never part of the message, so a caller printing the chain prints it once.

use std::io;

/// Why the rootfs of a container was refused ([`super::validate`]) or could not be set up
/// ([`super::setup_rootfs`]). The message names the config field or mount destination; a
/// failed syscall's `io::Error` is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootfsError {
    /// A `mounts` entry that cannot be mounted as given.
    #[error("mount {destination:?}: {reason}")]
    InvalidMount { destination: String, reason: String },

    /// One of a `mounts` entry's `options` is malformed.
    #[error("mount {destination:?}: option {option:?}: {reason}")]
    InvalidOption {
        destination: String,
        option: String,
        reason: String,
    },

    /// A `mounts` entry asks for something berth does not implement.
    #[error("mount {destination:?}: {what} is not supported by berth")]
    Unsupported { destination: String, what: String },

    /// A `mounts` entry's ID mapping (`uidMappings`/`gidMappings`, `idmap`/`ridmap`) that
    /// cannot be applied; `field` names the mapping at fault.
    #[error("mount {destination:?}: {field}: {reason}")]
    InvalidIdMapping {
        destination: String,
        field: String,
        reason: String,
    },

    /// A bind mount's source cannot be opened (`detail` says which source and, for a relative
    /// one that leaves the bundle, what to do instead).
    #[error("mount {destination:?}: {detail}")]
    BindSource {
        destination: String,
        detail: String,
        #[source]
        source: io::Error,
    },

    /// Copying the covered directory's content into a `tmpcopyup` tmpfs failed at `path`
    /// (relative to the destination).
    #[error("mount {destination:?}: tmpcopyup of {path:?}")]
    CopyUp {
        destination: String,
        path: String,
        #[source]
        source: io::Error,
    },

    /// A `linux.devices` entry that cannot be created as given.
    #[error("linux.devices {path:?}: {reason}")]
    InvalidDevice { path: String, reason: String },

    /// Another config field with a value berth refuses.
    #[error("{field} {value:?}: {reason}")]
    InvalidField {
        field: &'static str,
        value: String,
        reason: String,
    },

    /// A caller's [`super::SetupHooks`] callback failed; its error is shown as it is.
    #[error(transparent)]
    Hook(Box<dyn std::error::Error + Send + Sync>),

    /// A syscall failed while setting up the mount at `destination`; `detail` (empty or
    /// starting with a space) says what the syscall was applied to.
    #[error("mount {destination:?}: {syscall}{detail}")]
    Mount {
        destination: String,
        syscall: &'static str,
        detail: String,
        #[source]
        source: io::Error,
    },

    /// A syscall failed on a path that is not a config.json mount (rootfs, devices, masked paths...).
    #[error("{what} {path:?}: {syscall}")]
    Path {
        what: &'static str,
        path: String,
        syscall: &'static str,
        #[source]
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

    /// A failed syscall on the mount at `dest`; `detail` is appended after a space when not empty.
    pub(crate) fn mount(
        dest: &str,
        syscall: &'static str,
        detail: impl Into<String>,
        source: io::Error,
    ) -> Self {
        let detail = detail.into();
        let detail = if detail.is_empty() {
            detail
        } else {
            format!(" {detail}")
        };
        RootfsError::Mount {
            destination: dest.to_string(),
            syscall,
            detail,
            source,
        }
    }

    /// The errno of the failed syscall, when this error is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            RootfsError::Mount { source, .. }
            | RootfsError::Path { source, .. }
            | RootfsError::BindSource { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_printed_once() {
        let e = RootfsError::mount(
            "/x",
            "fsopen",
            "(type \"nosuchfs\")",
            io::Error::from_raw_os_error(libc::ENODEV),
        );
        // The CLI prints "message: source".
        assert_eq!(e.to_string(), "mount \"/x\": fsopen (type \"nosuchfs\")");
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("No such device (os error 19)"));
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        let e = RootfsError::mount("/x", "move_mount", "", io::Error::from_raw_os_error(1));
        assert_eq!(e.to_string(), "mount \"/x\": move_mount");
        let e = RootfsError::path("device", "/dev/null", "mknodat", io::Error::other("boom"));
        assert_eq!(e.to_string(), "device \"/dev/null\": mknodat");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_hook_error_is_shown_as_it_is() {
        let e = RootfsError::Hook("hook \"x\" failed".to_string().into());
        assert_eq!(e.to_string(), "hook \"x\" failed");
        assert!(std::error::Error::source(&e).is_none());
    }
}
