//! Keeping the runtime's own executable out of the container's reach (CVE-2019-5736).
//!
//! berth does not re-exec itself to start a container: the init and every `exec`'d process are
//! clones of the calling process, running its code until they `execve` the container's
//! program. Until then their `/proc/PID/exe` is the caller's executable, and a container whose
//! program is `#!/proc/self/exe` makes the kernel run *that file* as a dumpable process inside
//! the container. Anything in the container can then open it through `/proc/PID/exe` (or
//! `/proc/PID/map_files`), wait for the process to exit and write to it: on the host, the next
//! `berth` to run would be the attacker's.
//!
//! [`reexec_from_sealed_exe`] closes that: the caller re-executes itself, once, from a file no
//! process can write through:
//!
//! 1. a **detached read-only bind mount** of its own executable (`open_tree(OPEN_TREE_CLONE)` +
//!    `mount_setattr(MOUNT_ATTR_RDONLY)`, then `execveat` on the mount's fd). No copy is made.
//!    Once the last fd of the mount is closed (ours at the exec, a forked closer's copy just
//!    after, which the new image waits for before it lets any container process go on) the mount
//!    belongs to no mount namespace at all; the kernel refuses to remount it (`mount -o remount`, `mount_setattr`) or
//!    to clone it (`open_tree`) from any namespace, even with `CAP_SYS_ADMIN`, so an opened
//!    `/proc/PID/exe` stays read-only for good (`EROFS`).
//! 2. where the mount API is missing or not permitted (kernels before 5.12, an unprivileged
//!    caller), a **sealed memfd copy** (`memfd_create(MFD_ALLOW_SEALING)`, the binary copied in,
//!    `F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE`): it can be opened but never
//!    changed. This costs a copy of the binary per call.
//!
//! `BERTH_EXE_SEAL=memfd` in the environment forces the memfd copy (to test or measure it).
//!
//! The re-executed process carries a marker in its environment (removed again at once) so it
//! does not re-exec a second time; the marker only skips the re-exec after checking that the
//! executable really is read-only or sealed, so setting it cannot switch the defence off.
//!
//! The init and exec'd processes are also non-dumpable until they `execve` (their `/proc`
//! entries are closed to the container), but that alone does not help once the kernel has
//! exec'd the runtime's file for a `#!/proc/self/exe` script: the sealed executable does.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicI32, Ordering};

use berth_sys::exe as sys;

/// Environment marker of a process that [`reexec_from_sealed_exe`] has re-executed.
const MARKER: &str = "_BERTH_SEALED_EXE";

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
    /// The process was re-executed from a sealed copy, yet its executable is writable.
    #[error("protecting the runtime's executable (CVE-2019-5736): /proc/self/exe is still writable after re-executing from a sealed copy")]
    NotSealed,
    /// An argument or environment entry holds a NUL byte (it cannot be passed to `execve`).
    #[error("protecting the runtime's executable (CVE-2019-5736): an argument or environment variable contains a NUL byte")]
    Nul,
}

fn sys_err(what: &'static str) -> impl FnOnce(io::Error) -> ExeSealError {
    move |source| ExeSealError::Sys { what, source }
}

/// How the running executable (`/proc/self/exe`) is protected against writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExeProtection {
    /// It was opened through a read-only mount (a detached one after
    /// [`reexec_from_sealed_exe`]; any read-only mount reports this).
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

/// Re-executes the calling program, with the same arguments and environment, from a read-only
/// detached mount of its own executable, or a sealed memfd copy where that is impossible (see
/// the module docs). Returns `Ok(())` in the re-executed process (or at once when the
/// executable is already a sealed memfd); on success it does not return in the original
/// process.
///
/// **An embedder that creates containers or execs into them must call this** (at the start of
/// `main`, while single-threaded, or in the helper process that calls
/// [`Runtime::create`](crate::Runtime::create)/[`run`](crate::Runtime::run)/[`exec`](crate::Runtime::exec)):
/// the container's processes are clones of the caller, and without it a hostile container can
/// overwrite the caller's executable on the host. Fds without `O_CLOEXEC`, the signal mask and
/// ignored signals survive the re-exec as they survive any `execve`.
pub fn reexec_from_sealed_exe() -> Result<(), ExeSealError> {
    if let Some(marker) = std::env::var_os(MARKER) {
        // Single-threaded here (the caller's contract), so changing the environment is sound.
        std::env::remove_var(MARKER);
        // The closer (see `spawn_closer`) must be done before any container code can run
        // (until then the mount is still in its anonymous namespace): `reap_closer` waits for
        // it just before a container process is sent Go, by when it is almost always gone.
        if let Some(pid) = marker.to_str().and_then(|m| m.parse::<i32>().ok()) {
            CLOSER.store(pid, Ordering::SeqCst);
        }
        return match exe_protection()? {
            ExeProtection::Writable => Err(ExeSealError::NotSealed),
            _ => Ok(()),
        };
    }
    // A sealed memfd cannot be unsealed; a read-only mount of the host's could be remounted
    // read-write by the host later, so only the former is trusted without a re-exec.
    if exe_protection()? == ExeProtection::SealedMemfd {
        return Ok(());
    }
    let argv = std::env::args_os()
        .map(os_cstring)
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            os_cstring(kv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let memfd_only = std::env::var_os(METHOD_ENV).is_some_and(|m| m == "memfd");
    // The closer's pid and the pipe end that keeps it waiting until our execveat.
    let mut closer = (0, None);
    let sealed = match read_only_mount(c"/proc/self/exe") {
        Ok(fd) if !memfd_only => {
            closer = spawn_closer(&fd);
            fd
        }
        Ok(_) => sealed_memfd()?,
        Err(e) => {
            log::debug!("read-only mount of /proc/self/exe: {e}; using a sealed memfd copy");
            sealed_memfd()?
        }
    };
    envp.push(os_cstring(OsString::from(format!(
        "{MARKER}={}",
        closer.0
    )))?);
    let err = sys::execveat_fd(sealed.as_fd(), &argv, &envp);
    // Still here: let the closer go, and reap it.
    drop(closer.1);
    drop(sealed);
    if closer.0 > 0 {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(closer.0), None);
    }
    Err(ExeSealError::Sys {
        what: "execveat of the sealed executable",
        source: err,
    })
}

/// The pid of this process's closer (see [`spawn_closer`]) until it is reaped; 0 if none.
static CLOSER: AtomicI32 = AtomicI32::new(0);

/// Waits for the closer, if any is left: called before a container process is sent Go. Until
/// then the cloned processes run only berth's code and are not dumpable, so nothing in the
/// container can reach their executable; the wait overlaps the clone and namespace work.
pub(crate) fn reap_closer() {
    let pid = CLOSER.swap(0, Ordering::SeqCst);
    if pid > 0 {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    }
}

/// Closing the last fd of the detached mount dissolves its anonymous mount namespace, and
/// the kernel then waits for an RCU grace period: measured at 0.1-0.7 ms of sleep (no CPU) on
/// a loaded 2-core host, which would otherwise land on every `create`, `run` and `exec`. A
/// forked child holds a copy of the fd and closes it once our execveat has closed ours (it
/// waits for EOF on a close-on-exec pipe), so the sleep happens beside us. Returns its pid and
/// the pipe's write end, to be held until the execveat; (0, None) when it could not be started
/// (then the exec itself pays the wait).
fn spawn_closer(tree: &OwnedFd) -> (i32, Option<OwnedFd>) {
    let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return (0, None);
    };
    match berth_sys::clone::clone_process(0) {
        Ok(berth_sys::clone::CloneResult::Child) => {
            // Only async-signal-safe calls here: read, close, _exit.
            drop(w);
            let mut b = [0u8; 1];
            while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(r.as_raw_fd(), &mut b) {}
            let _ = nix::unistd::close(tree.as_raw_fd());
            berth_sys::clone::exit_now(0)
        }
        Ok(berth_sys::clone::CloneResult::Parent { child }) => (child, Some(w)),
        Err(_) => (0, None),
    }
}

fn os_cstring(s: OsString) -> Result<CString, ExeSealError> {
    CString::new(s.into_vec()).map_err(|_| ExeSealError::Nul)
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
