//! The calls behind sealing the runtime's own executable (CVE-2019-5736): a read-only detached
//! bind mount of it, a sealed memfd copy, and `execveat` on the result.

use crate::ret::cvt;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `MFD_CLOEXEC` (linux/memfd.h).
pub const MFD_CLOEXEC: u32 = 0x1;
/// `MFD_ALLOW_SEALING`: the memfd accepts `F_ADD_SEALS`.
pub const MFD_ALLOW_SEALING: u32 = 0x2;
/// `MFD_EXEC` (Linux 6.3): an executable memfd even where `vm.memfd_noexec` defaults to noexec.
pub const MFD_EXEC: u32 = 0x10;

/// `F_SEAL_SEAL`: no further seals may be added (or removed: seals are never removed).
pub const F_SEAL_SEAL: i32 = 0x1;
/// `F_SEAL_SHRINK`: the file cannot shrink.
pub const F_SEAL_SHRINK: i32 = 0x2;
/// `F_SEAL_GROW`: the file cannot grow.
pub const F_SEAL_GROW: i32 = 0x4;
/// `F_SEAL_WRITE`: its contents cannot change (no write, no shared writable mapping).
pub const F_SEAL_WRITE: i32 = 0x8;

/// `ST_RDONLY` in `statvfs.f_flag`: the *mount* (not just the filesystem) is read-only.
pub const ST_RDONLY: i64 = libc::ST_RDONLY as i64;

/// `memfd_create(name, flags)`: an anonymous, in-memory file.
pub fn memfd_create(name: &CStr, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: name is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) })?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `fcntl(F_ADD_SEALS)`: adds `seals` (the `F_SEAL_*` above) to a memfd.
pub fn add_seals(fd: BorrowedFd<'_>, seals: i32) -> io::Result<()> {
    // SAFETY: fcntl with integer arguments on a borrowed, open descriptor.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(())
}

/// `fcntl(F_GET_SEALS)`: the seals of a file (EINVAL for a file that cannot be sealed).
pub fn get_seals(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: fcntl with integer arguments on a borrowed, open descriptor.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })
}

/// The mount flags (`statvfs.f_flag`: `ST_RDONLY`, ...) of the mount through which `fd` was
/// opened (an `O_PATH` fd will do).
// f_flag's width differs between targets.
#[allow(clippy::unnecessary_cast)]
pub fn fstatfs_flags(fd: BorrowedFd<'_>) -> io::Result<i64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: st is a valid out-pointer for one struct statvfs.
    cvt(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded and filled st.
    Ok(unsafe { st.assume_init() }.f_flag as i64)
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`: executes the file `fd` refers to (an `O_PATH`
/// fd, a detached mount's root or a memfd; it may be close-on-exec, the file being an ELF
/// binary). Returns only on failure.
pub fn execveat_fd(fd: BorrowedFd<'_>, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to C strings that outlive the
    // call (on success the process image is replaced; on failure nothing was touched).
    let r = unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    match cvt(r) {
        Err(e) => e,
        Ok(_) => io::Error::other("execveat returned without replacing the process"),
    }
}

/// Starts a child that executes the ELF file open at `exe` (through `/proc/self/fd`, as
/// `fexecve` does) with `argv` and `envp`, keeping the descriptors in `inherit` open across its
/// exec (their close-on-exec flag is cleared in the child only). posix_spawn: the child borrows
/// our address space until its exec (no copy of our page tables, no copy-on-write faults for us
/// afterwards) and starts with our signal mask. Returns its pid; a failed exec is the error.
pub fn spawn_fd(
    exe: BorrowedFd<'_>,
    argv: &[CString],
    envp: &[CString],
    inherit: &[BorrowedFd<'_>],
) -> io::Result<i32> {
    let path =
        CString::new(format!("/proc/self/fd/{}", exe.as_raw_fd())).map_err(io::Error::other)?;
    let mut a: Vec<*mut libc::c_char> = argv.iter().map(|s| s.as_ptr().cast_mut()).collect();
    a.push(std::ptr::null_mut());
    let mut e: Vec<*mut libc::c_char> = envp.iter().map(|s| s.as_ptr().cast_mut()).collect();
    e.push(std::ptr::null_mut());
    let mut actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
    // SAFETY: initialises the actions object we own; destroyed below on every path.
    let rc = unsafe { libc::posix_spawn_file_actions_init(actions.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut rc = 0;
    for fd in inherit {
        // SAFETY: the actions object is initialised; dup2 of a descriptor onto itself clears
        // its close-on-exec flag in the child (POSIX, glibc 2.29+).
        rc = unsafe {
            libc::posix_spawn_file_actions_adddup2(
                actions.as_mut_ptr(),
                fd.as_raw_fd(),
                fd.as_raw_fd(),
            )
        };
        if rc != 0 {
            break;
        }
    }
    let mut pid: libc::pid_t = 0;
    if rc == 0 {
        // SAFETY: path, argv and envp are NUL-terminated strings and NULL-terminated arrays
        // that outlive the call; the actions object is initialised; no attributes.
        rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                actions.as_ptr(),
                std::ptr::null(),
                a.as_ptr(),
                e.as_ptr(),
            )
        };
    }
    // SAFETY: initialised above, destroyed once.
    unsafe { libc::posix_spawn_file_actions_destroy(actions.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn sealed_memfd_refuses_writes() {
        let fd = memfd_create(c"berth-test", MFD_CLOEXEC | MFD_ALLOW_SEALING).unwrap();
        let mut f = std::fs::File::from(fd);
        f.write_all(b"hello").unwrap();
        add_seals(
            f.as_fd(),
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE,
        )
        .unwrap();
        let seals = get_seals(f.as_fd()).unwrap();
        assert_eq!(seals & F_SEAL_WRITE, F_SEAL_WRITE);
        let e = f.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // A further seal is refused once F_SEAL_SEAL is set.
        assert!(add_seals(f.as_fd(), F_SEAL_WRITE).is_err());
    }

    #[test]
    fn ordinary_files_have_no_seals_and_a_writable_mount() {
        // A file we could just create lives on a writable mount.
        let path = std::env::temp_dir().join(format!("berth-sys-exe-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            get_seals(f.as_fd()).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(fstatfs_flags(f.as_fd()).unwrap() & ST_RDONLY, 0);
    }
}
