//! The error the container's init, the intermediate and an exec'd process report: built where
//! the failure happens (in another process, often after the runtime's own code is gone), sent
//! over the sync channel (`process::sync`) as JSON, and returned by the runtime as it came.
//! Its own module, below both `process` and `namespaces`, which build it.

use serde::{Deserialize, Serialize};

/// A failure of the container's init, the intermediate or an exec'd process, as it crosses the
/// sync channel and as the runtime returns it: what failed (naming the field, path or system
/// call) and, as its [`source`](std::error::Error::source), what caused it, each link with the
/// errno of the system call when that was the cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitError {
    what: String,
    errno: Option<i32>,
    cause: Option<Box<InitError>>,
}

impl InitError {
    /// A failure with nothing below it.
    pub fn new(what: impl Into<String>) -> InitError {
        InitError {
            what: what.into(),
            errno: None,
            cause: None,
        }
    }

    /// `what` failed because of a system call's error (errno kept).
    pub fn sys(what: impl Into<String>, e: &std::io::Error) -> InitError {
        InitError::new(what).caused_by(InitError {
            what: errno_text(e),
            errno: e.raw_os_error(),
            cause: None,
        })
    }

    /// `what` failed with `errno` (nix's error type, whose text names the constant).
    pub fn nix(what: impl Into<String>, e: nix::errno::Errno) -> InitError {
        InitError::new(what).caused_by(InitError {
            what: e.to_string(),
            errno: Some(e as i32),
            cause: None,
        })
    }

    /// `what` failed because of `e` (any error, its chain kept).
    pub fn context(what: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> InitError {
        InitError::new(what).caused_by(InitError::from_error(e))
    }

    /// An error and its chain of sources, link by link. A link whose text the one above it
    /// already ends with (an error that formats its source into its own message) is skipped,
    /// so that nothing is told twice.
    pub fn from_error(e: &(dyn std::error::Error + 'static)) -> InitError {
        let mut links: Vec<InitError> = Vec::new();
        let mut next = Some(e);
        while let Some(err) = next {
            let rust_text = err.to_string();
            let io = err.downcast_ref::<std::io::Error>();
            let text = io.map_or_else(|| rust_text.clone(), errno_text);
            let errno = io.and_then(|io| io.raw_os_error());
            match links.last_mut() {
                // Told already: keep only its errno.
                Some(above) if above.what.ends_with(&text) || above.what.ends_with(&rust_text) => {
                    above.errno = above.errno.or(errno)
                }
                _ => links.push(InitError {
                    what: text,
                    errno,
                    cause: None,
                }),
            }
            next = err.source();
        }
        let mut chain: Option<InitError> = None;
        while let Some(mut link) = links.pop() {
            link.cause = chain.map(Box::new);
            chain = Some(link);
        }
        chain.unwrap_or_else(|| InitError::new(e.to_string()))
    }

    fn caused_by(mut self, cause: InitError) -> InitError {
        self.cause = Some(Box::new(cause));
        self
    }

    /// The errno of the system call that caused this failure, if one did (the first along the
    /// chain).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno
            .or_else(|| self.cause.as_ref().and_then(|c| c.raw_os_error()))
    }
}

/// A system call's error as runc (Go) words it (see [`berth_sys::ret::errno_text`]); errors
/// without an errno keep their text. Every errno an [`InitError`] carries is worded here.
fn errno_text(e: &std::io::Error) -> String {
    berth_sys::ret::errno_text(e).unwrap_or_else(|| e.to_string())
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// An error with its sources, `: `-separated, each told once (see [`InitError::from_error`]).
pub(crate) fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut link = Some(&InitError::from_error(e));
    while let Some(l) = link {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&l.what);
        link = l.cause.as_deref();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_formatted_into_its_parent_is_told_once() {
        let e = Repeats {
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        let text = chain_text(&e);
        assert_eq!(text, e.to_string());
        assert_eq!(InitError::from_error(&e).raw_os_error(), Some(libc::ENOENT));
        let ctx = InitError::context("setting up", &e);
        assert_eq!(chain_text(&ctx), format!("setting up: {e}"));
    }

    #[test]
    fn system_errors_read_as_runc_words_them() {
        let e = InitError::sys(
            "exec \"/x\"",
            &std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(chain_text(&e), "exec \"/x\": no such file or directory");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = crate::process::exec_path::check_path("/no/such/binary").unwrap_err();
        assert_eq!(
            chain_text(&e),
            "exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory"
        );
        let e = crate::process::exec_path::check_path("/").unwrap_err();
        assert_eq!(chain_text(&e), "exec: \"/\": permission denied");
        assert_eq!(InitError::from_error(&e).raw_os_error(), Some(libc::EACCES));
        // Errors without an errno keep their words.
        assert_eq!(errno_text(&std::io::Error::other("Some Text")), "Some Text");
    }
}
