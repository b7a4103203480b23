//! The one conversion of a raw syscall return value into an `io::Result`: the kernel (and libc)
//! signal failure with -1 and leave the reason in errno, which this reads at once, before any
//! other call can overwrite it.

use std::io;

/// A return type of a raw system call or libc wrapper that reports failure as -1.
pub trait SyscallReturn: Copy {
    fn is_failure(self) -> bool;
}

macro_rules! minus_one_fails {
    ($($t:ty),*) => {
        $(impl SyscallReturn for $t {
            fn is_failure(self) -> bool {
                self == -1
            }
        })*
    };
}
minus_one_fails!(i32, i64, isize);

/// `Ok(ret)` unless `ret` is -1, then the `errno` error (its raw code kept, so callers can match
/// EBUSY, ENOENT, ...).
pub fn cvt<T: SyscallReturn>(ret: T) -> io::Result<T> {
    if ret.is_failure() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A system call's error in runc's (Go's) words, which engines, scripts and runc's tests match:
/// the C library's text with a lower-case first letter and no "(os error N)" ("no such file or
/// directory", "permission denied"). `None` for an error without an errno.
pub fn errno_text(e: &io::Error) -> Option<String> {
    let n = e.raw_os_error()?;
    let rust = io::Error::from_raw_os_error(n).to_string();
    let plain = rust
        .strip_suffix(&format!(" (os error {n})"))
        .unwrap_or(&rust);
    let mut chars = plain.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_one_is_the_errno_error() {
        // SAFETY: close(-1) touches no memory; it only fails with EBADF.
        let rc = unsafe { libc::close(-1) };
        let err = cvt(rc).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        assert_eq!(cvt(0i64).ok(), Some(0));
        assert_eq!(cvt(7isize).ok(), Some(7));
    }

    #[test]
    fn errno_text_is_gos_wording() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(errno_text(&e).as_deref(), Some("no such file or directory"));
        assert_eq!(errno_text(&io::Error::other("plain")), None);
    }
}
