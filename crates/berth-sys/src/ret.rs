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
}
