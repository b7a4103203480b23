//! Keeping the runtime's own executable out of the container's reach (CVE-2019-5736).
//!
//! A container's init and every `exec`'d process run berth's code inside the container until
//! they `execve` its program. Until then their `/proc/PID/exe` is berth's executable, and a
//! container whose program is `#!/proc/self/exe` makes the kernel run *that file* as a dumpable
//! process inside the container. Anything in the container can then open it through
//! `/proc/PID/exe` (or `/proc/PID/map_files`), wait for the process to exit and write to it: on
//! the host, the next `berth` to run would be the attacker's.
//!
//! So those processes are never clones of the caller's image: they are cloned by the
//! launcher ([`crate::process::launcher`]), berth executed from a file no process can write
//! through, made here:
//!
//! 1. a **detached read-only bind mount** of the executable (`open_tree(OPEN_TREE_CLONE)` +
//!    `mount_setattr(MOUNT_ATTR_RDONLY)`, executed through its fd). No copy is made. Once the
//!    last fd of the mount is closed (the launcher closes its copy before it clones anything)
//!    the mount belongs to no mount namespace at all; the kernel refuses to remount it
//!    (`mount -o remount`, `mount_setattr`) or to clone it (`open_tree`) from any namespace,
//!    even with `CAP_SYS_ADMIN`, so an opened `/proc/PID/exe` stays read-only for good (`EROFS`).
//! 2. where the mount API is missing or not permitted (kernels before 5.12, an unprivileged
//!    caller), a **sealed memfd copy** (`memfd_create(MFD_ALLOW_SEALING)`, the binary copied in,
//!    `F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE`): it can be opened but never
//!    changed. This costs a copy of the binary per call.
//!
//! `BERTH_EXE_SEAL=memfd` in the environment forces the memfd copy (to test or measure it).
//! The launcher checks that its own executable really is read-only or sealed before it does
//! anything, so no environment can switch the defence off.
//!
//! The init and exec'd processes are also non-dumpable until they `execve` (their `/proc`
//! entries are closed to the container), but that alone does not help once the kernel has
//! exec'd the runtime's file for a `#!/proc/self/exe` script: the sealed executable does.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use berth_sys::exe as sys;

/// `BERTH_EXE_SEAL=memfd` forces the memfd copy where the read-only mount would work (tests and
/// benchmarks of the fallback); both are safe.
const METHOD_ENV: &str = "BERTH_EXE_SEAL";

/// Sealing the runtime's executable failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExeSealError {
    /// A system call failed; `what` names it.
    #[error("protecting the runtime's executable (CVE-2019-5736): {what}")]
    Sys {
        /// What failed.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The launcher was executed from a sealed copy, yet its executable is writable.
    #[error("protecting the runtime's executable (CVE-2019-5736): /proc/self/exe is still writable in the launcher executed from a sealed copy")]
    NotSealed,
}

fn sys_err(what: &'static str) -> impl FnOnce(io::Error) -> ExeSealError {
    move |source| ExeSealError::Sys { what, source }
}

/// How the running executable (`/proc/self/exe`) is protected against writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExeProtection {
    /// It was opened through a read-only mount (the launcher's detached one; any read-only
    /// mount reports this).
    ReadOnlyMount,
    /// It is a memfd whose contents are sealed against writes.
    SealedMemfd,
    /// Neither: a process that can reach `/proc/self/exe` could write to it.
    Writable,
}

/// How the calling process's own executable is protected (see the module docs).
pub fn exe_protection() -> Result<ExeProtection, ExeSealError> {
    // O_PATH: enough for statfs, and works for an executable the caller may not read.
    let exe = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open("/proc/self/exe")
        .map_err(sys_err("opening /proc/self/exe"))?;
    let flags = sys::fstatfs_flags(exe.as_fd()).map_err(sys_err("statfs of /proc/self/exe"))?;
    if flags & sys::ST_RDONLY != 0 {
        return Ok(ExeProtection::ReadOnlyMount);
    }
    // Seals are read from a readable fd (fcntl refuses O_PATH fds); an unreadable executable
    // is not a memfd of ours.
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return Ok(ExeProtection::Writable);
    };
    match sys::get_seals(exe.as_fd()) {
        Ok(seals) if seals & sys::F_SEAL_WRITE != 0 => Ok(ExeProtection::SealedMemfd),
        _ => Ok(ExeProtection::Writable),
    }
}

/// A file of this program's executable that no process can write through, to execute the
/// launcher from (see [`crate::process::launcher`]): a detached read-only bind mount of
/// `/proc/self/exe`, or a sealed memfd copy where the mount API is missing or not permitted
/// (`BERTH_EXE_SEAL=memfd` forces the copy). Close-on-exec.
pub(crate) fn sealed_exe() -> Result<OwnedFd, ExeSealError> {
    let memfd_only = std::env::var_os(METHOD_ENV).is_some_and(|m| m == "memfd");
    if memfd_only {
        return sealed_memfd();
    }
    match read_only_mount(c"/proc/self/exe") {
        Ok(fd) => Ok(fd),
        Err(e) => {
            log::debug!("read-only mount of /proc/self/exe: {e}; using a sealed memfd copy");
            sealed_memfd()
        }
    }
}

/// A detached, read-only bind mount of the file `path`; the fd is the mount's root, the file.
fn read_only_mount(path: &std::ffi::CStr) -> io::Result<OwnedFd> {
    use berth_sys::mount as m;
    let fd = m::open_tree(
        libc::AT_FDCWD,
        path,
        m::OPEN_TREE_CLONE | m::OPEN_TREE_CLOEXEC,
    )?;
    let attr = m::MountAttr {
        attr_set: m::MOUNT_ATTR_RDONLY | m::MOUNT_ATTR_NODEV,
        ..Default::default()
    };
    m::mount_setattr_fd(fd.as_fd(), false, &attr)?;
    // Trust what the kernel reports, not what was asked for.
    if sys::fstatfs_flags(fd.as_fd())? & sys::ST_RDONLY == 0 {
        return Err(io::Error::other("the detached mount is not read-only"));
    }
    Ok(fd)
}

/// A memfd copy of /proc/self/exe with every write sealed off.
fn sealed_memfd() -> Result<OwnedFd, ExeSealError> {
    let mut exe = std::fs::File::open("/proc/self/exe")
        .map_err(sys_err("opening /proc/self/exe to copy it"))?;
    let flags = sys::MFD_CLOEXEC | sys::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3+) keeps the copy executable under vm.memfd_noexec=1; older kernels
    // refuse the flag and make every memfd executable.
    let fd = sys::memfd_create(c"berth", flags | sys::MFD_EXEC)
        .or_else(|_| sys::memfd_create(c"berth", flags))
        .map_err(sys_err("memfd_create"))?;
    let mut copy = std::fs::File::from(fd);
    io::copy(&mut exe, &mut copy).map_err(sys_err("copying /proc/self/exe into a memfd"))?;
    let seals = sys::F_SEAL_SEAL | sys::F_SEAL_SHRINK | sys::F_SEAL_GROW | sys::F_SEAL_WRITE;
    sys::add_seals(copy.as_fd(), seals).map_err(sys_err("sealing the memfd copy"))?;
    Ok(OwnedFd::from(copy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn memfd_copy_is_sealed_and_whole() {
        let fd = sealed_memfd().unwrap();
        let seals = sys::get_seals(fd.as_fd()).unwrap();
        assert_eq!(seals & sys::F_SEAL_WRITE, sys::F_SEAL_WRITE);
        let mut f = std::fs::File::from(fd);
        let copy_len = f.metadata().unwrap().len();
        assert_eq!(copy_len, std::fs::metadata("/proc/self/exe").unwrap().len());
        use std::io::Write;
        assert!(f.write_all(b"x").is_err());
    }

    #[test]
    fn read_only_mount_refuses_writes() {
        // A file nothing executes (the running test binary would answer ETXTBSY first).
        let dir = std::env::temp_dir().join(format!("berth-exe-seal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bin");
        std::fs::write(&file, b"#!/bin/true\n").unwrap();
        let c = CString::new(file.as_os_str().to_owned().into_vec()).unwrap();
        let mounted = read_only_mount(&c);
        std::fs::write(&file, b"still writable here\n").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let fd = match mounted {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                eprintln!("skipped: open_tree needs CAP_SYS_ADMIN ({e})");
                return;
            }
            Err(e) => panic!("read-only mount: {e}"),
        };
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    }

    #[test]
    fn a_test_binary_is_not_protected() {
        // cargo's test binaries live in a writable target directory.
        assert_eq!(exe_protection().unwrap(), ExeProtection::Writable);
    }
}
