//! CVE-2024-21626: a runtime's file descriptors, or ones its caller leaked to it, must not lead
//! out of the container through `/proc/self/fd/N`.
//!
//! From the public description: runc leaked a directory fd of the host into the container's
//! process; an image with `WORKDIR /proc/self/fd/N` (process.cwd), `runc exec --cwd` with the
//! same path, or an entrypoint path through it (`/proc/self/fd/N/../../bin/sh`) gave the
//! container a working directory, or a program, on the host. The tests here leak a host
//! directory to berth as fd 7 (the caller's mistake), and also try every low fd number (the
//! runtime's own, whatever they are), for `run` and `exec`. A container that escaped sees the
//! host's scratch directory: every test asserts its output never names it and never shows
//! the host file's secret. Either berth refuses, or the process runs inside the container.
// Test helpers unwrap too: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{berth_bin, require_root, unique_id, Bundle};
use serde_json::Value;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SECRET: &str = "host-secret-5ea1ed";
/// The fd number the caller leaks to berth.
const LEAKED: i32 = 7;

/// A host directory outside every container, holding a secret and a host-only program.
fn host_dir(b: &Bundle) -> std::path::PathBuf {
    let dir = b.scratch.0.join("host-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    // Named as an applet, so busybox run by this path is a shell.
    std::fs::copy(common::busybox_path(), dir.join("sh")).unwrap();
    dir
}

/// `berth --root STATE ARGS...` with `leak` open as fd 7 and not close-on-exec (as a careless
/// caller would pass it); output captured through files.
fn berth_leaking(b: &Bundle, leak: &Path, args: &[&str]) -> Output {
    let dir = std::fs::File::open(leak).unwrap();
    let out_path = b.scratch.0.join(format!("out-{}", unique_id("o")));
    let err_path = b.scratch.0.join(format!("err-{}", unique_id("e")));
    let mut cmd = Command::new(berth_bin());
    cmd.arg("--root")
        .arg(&b.state_root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let raw = dir.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, LEAKED) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// What the container printed must not come from the host.
fn assert_contained(out: &Output, what: &str, host: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let scratch = host.parent().unwrap().to_string_lossy().into_owned();
    assert!(
        !stdout.contains(SECRET) && !stdout.contains(&scratch),
        "{what}: the container reached the host: stdout={stdout} stderr={stderr}"
    );
}

/// Prints where the process is and tries the host file by a relative path.
const PROBE: &str = "readlink /proc/$$/cwd; readlink /proc/$$/exe; cat secret 2>/dev/null; true";

#[test]
fn run_cwd_through_a_leaked_or_runtime_fd_stays_inside() {
    if !require_root("run_cwd_through_a_leaked_or_runtime_fd_stays_inside") {
        return;
    }
    let b = Bundle::busybox(&["sh", "-c", PROBE]);
    let host = host_dir(&b);
    let bundle = b.dir.to_string_lossy().to_string();
    let mut refused = 0;
    for n in 3..=12 {
        b.update_config(|c| c["process"]["cwd"] = Value::from(format!("/proc/self/fd/{n}")));
        let id = unique_id("cwd-run");
        let out = berth_leaking(&b, &host, &["run", "--bundle", &bundle, &id]);
        assert_contained(
            &out,
            &format!("run with process.cwd /proc/self/fd/{n}"),
            &host,
        );
        if !out.status.success() {
            refused += 1;
        }
        let _ = b.berth(&["delete", "--force", &id]);
    }
    // fd 7 is the leaked host directory: that one at least cannot have worked.
    assert!(refused >= 1, "no cwd was refused");
}

#[test]
fn run_program_through_a_leaked_fd_is_not_the_hosts() {
    if !require_root("run_program_through_a_leaked_fd_is_not_the_hosts") {
        return;
    }
    let b = Bundle::busybox(&[]);
    let host = host_dir(&b);
    b.set_args(&[&format!("/proc/self/fd/{LEAKED}/sh"), "-c", PROBE]);
    let id = unique_id("prog-run");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = berth_leaking(&b, &host, &["run", "--bundle", &bundle, &id]);
    assert_contained(&out, "run of /proc/self/fd/7/sh", &host);
    assert!(
        !out.status.success(),
        "a program on the host ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = b.berth(&["delete", "--force", &id]);
}

#[test]
fn exec_cwd_and_program_through_a_leaked_or_runtime_fd_stay_inside() {
    if !require_root("exec_cwd_and_program_through_a_leaked_or_runtime_fd_stay_inside") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let host = host_dir(&b);
    let id = unique_id("cwd-exec");
    let bundle = b.dir.to_string_lossy().to_string();
    let out = b.berth(&["run", "-d", "--bundle", &bundle, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut refused = 0;
    for n in 3..=12 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = berth_leaking(&b, &host, &["exec", "--cwd", &cwd, &id, "sh", "-c", PROBE]);
        assert_contained(&out, &format!("exec --cwd {cwd}"), &host);
        if !out.status.success() {
            refused += 1;
        }
    }
    assert!(refused >= 1, "no cwd was refused");
    let prog = format!("/proc/self/fd/{LEAKED}/sh");
    let out = berth_leaking(&b, &host, &["exec", &id, &prog, "-c", PROBE]);
    assert_contained(&out, "exec of /proc/self/fd/7/sh", &host);
    assert!(
        !out.status.success(),
        "a program on the host ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = b.berth(&["delete", "--force", &id]);
}
