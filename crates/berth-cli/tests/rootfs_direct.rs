//! The rootfs scenarios run by calling `berth_runtime::rootfs::setup_rootfs` directly in fresh
//! namespaces (made by util-linux `unshare`), without the runtime core: the test binary
//! re-executes itself as the "init", sets up the rootfs and runs the container's process in
//! it. `host::*` uses mount, PID and cgroup namespaces; `userns::*` adds a user namespace
//! (root mapped to root) with its own network and IPC namespaces, as a rootless-style
//! container would have, to exercise the locked-flags and device bind-mount paths.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod rootfs_scenarios;

use common::Bundle;
use rootfs_scenarios::Runner;
use std::process::{Command, Output};

const ENV_BUNDLE: &str = "BERTH_ROOTFS_DIRECT_BUNDLE";
const ENV_NO_PIVOT: &str = "BERTH_ROOTFS_DIRECT_NO_PIVOT";
const ENV_USERNS: &str = "BERTH_ROOTFS_DIRECT_USERNS";
const ENV_JOIN_CGROUP: &str = "BERTH_ROOTFS_DIRECT_JOIN_CGROUP";
const BEGIN: &str = "\n@@berth-container-output-begin@@\n";

struct Direct {
    userns: bool,
    /// A cgroup v1 `cgroup.procs` the init moves itself into after its cgroup namespace was
    /// made (so it does not sit at the namespace's root).
    join_cgroup: Option<std::path::PathBuf>,
}

const fn direct(userns: bool) -> Direct {
    Direct {
        userns,
        join_cgroup: None,
    }
}

impl Runner for Direct {
    fn run(&self, b: &Bundle, _id: &str, no_pivot: bool) -> Output {
        let exe = std::env::current_exe().expect("test exe");
        // A cgroup namespace only when the config asks for one, as the runtime does.
        let cgroupns = b.config()["linux"]["namespaces"]
            .as_array()
            .is_some_and(|ns| ns.iter().any(|n| n["type"] == "cgroup"));
        let mut cmd = Command::new("unshare");
        if self.userns {
            cmd.args(["--user", "--map-root-user", "--net", "--ipc"]);
            // Only root is mapped: devpts cannot be given the host's tty group, as with
            // `runc spec --rootless`.
            b.update_config(|c| {
                for m in c["mounts"].as_array_mut().into_iter().flatten() {
                    if let Some(o) = m["options"].as_array_mut() {
                        o.retain(|v| v != "gid=5");
                    }
                }
            });
        }
        let mut out = cmd
            .args(["--mount", "--pid", "--fork", "--propagation", "unchanged"])
            .args(cgroupns.then_some("--cgroup"))
            .arg(exe)
            .args([
                "--exact",
                "direct_init",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ENV_BUNDLE, &b.dir)
            .env(ENV_NO_PIVOT, if no_pivot { "1" } else { "0" })
            .env(ENV_USERNS, if self.userns { "1" } else { "0" })
            .env(
                ENV_JOIN_CGROUP,
                self.join_cgroup
                    .as_deref()
                    .unwrap_or(std::path::Path::new("")),
            )
            .output()
            .expect("spawn unshare");
        // Drop the test harness's chatter before the container's output.
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        out.stdout = match s.split_once(BEGIN) {
            Some((_, rest)) => rest.as_bytes().to_vec(),
            None => Vec::new(),
        };
        out
    }

    fn userns(&self) -> bool {
        self.userns
    }
}

struct Recorder {
    marker: std::path::PathBuf,
    rootfs_proc: String,
}

impl berth_runtime::rootfs::SetupHooks<String> for Recorder {
    fn before_pivot(&mut self) -> Result<(), String> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let seen = mi.lines().any(|l| l.contains(&self.rootfs_proc));
        let note = if seen { "proc mounted\n" } else { "no proc\n" };
        std::fs::write(&self.marker, note).map_err(|e| e.to_string())
    }

    fn before_readonly(&mut self) -> Result<(), String> {
        // After the root switch the marker's host path is gone: report through stderr.
        let writable = std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/kernel/domainname")
            .is_ok();
        eprintln!("hooks-saw: /proc/sys writable={writable}");
        Ok(())
    }
}

/// The "init" half: only does something when re-executed by [`Direct::run`].
#[test]
fn direct_init() {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let Some(bundle) = std::env::var_os(ENV_BUNDLE) else {
        return;
    };
    let bundle = std::path::PathBuf::from(bundle);
    let spec = oci_spec::runtime::Spec::load(bundle.join("config.json")).expect("load config");
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).expect("rootfs");
    if let Some(procs) = std::env::var_os(ENV_JOIN_CGROUP).filter(|p| !p.is_empty()) {
        std::fs::write(procs, "0").expect("join the test cgroup");
    }
    let cfg = berth_runtime::rootfs::RootfsConfig {
        spec: &spec,
        rootfs: &rootfs,
        bundle: &bundle,
        no_pivot: std::env::var(ENV_NO_PIVOT).is_ok_and(|v| v == "1"),
        user_namespace: std::env::var(ENV_USERNS).is_ok_and(|v| v == "1"),
        bind_sources: None,
    };
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    // The hooks record what they see: all mounts at their host paths before the root switch
    // (createContainer hooks), a writable /proc/sys after it (linux.sysctl).
    let mut hook = Recorder {
        marker: bundle.join("hooks-saw"),
        rootfs_proc: format!(" {}/proc ", rootfs.display()),
    };
    if let Err(e) = berth_runtime::rootfs::setup_rootfs_with_hooks(&cfg, &mut hook) {
        // The whole chain, as the CLI prints it (the cause carries the errno's text).
        eprintln!("berth: {:#}", anyhow::Error::new(e));
        std::process::exit(1);
    }
    // For process.terminal, as runc: a pty from the container's /dev/ptmx (the runtime
    // core's job) is bound onto /dev/console; the process's stdio stays on the test's pipes.
    if terminal {
        let pty = nix::pty::openpty(None, None).expect("openpty in the container");
        if let Err(e) = berth_runtime::rootfs::mount_console(std::os::fd::AsFd::as_fd(&pty.slave)) {
            eprintln!("berth: {e}");
            std::process::exit(1);
        }
    }
    let process = spec.process().as_ref().expect("process");
    let args = process.args().as_ref().expect("args");
    print!("{BEGIN}");
    let _ = std::io::stdout().flush();
    let err = Command::new(&args[0])
        .args(&args[1..])
        .current_dir(process.cwd())
        .env_clear()
        .env("PATH", "/bin")
        .exec();
    eprintln!("berth: exec {:?}: {err}", args[0]);
    std::process::exit(127);
}

mod host {
    use super::direct;
    use crate::rootfs_scenario_tests;
    rootfs_scenario_tests!(direct(false));
}

mod userns {
    use super::direct;
    use crate::rootfs_scenario_tests;
    rootfs_scenario_tests!(direct(true);
        default_mounts cgroup_v1_hierarchies dev_nodes masked_and_readonly_paths root_readonly bind_options bind_atime tmpfs_options
        rbind_submounts_and_rro cwd_created no_pivot hostile_symlinks hostile_rootfs_etc_symlink
        magic_link_target_refused destination_resolving_to_root_refused proc_on_symlink_refused relative_source_escape_refused bad_input);
}

/// A cgroup namespace made before the init joined its cgroup (its root is then above the
/// container's cgroup): the container still sees only its own cgroup in each v1 hierarchy.
#[test]
fn cgroup_namespace_root_above_the_container() {
    if !common::require_root("cgroup_namespace_root_above_the_container") {
        return;
    }
    let pids_root = std::path::Path::new("/sys/fs/cgroup/pids");
    let ours = std::fs::read_to_string("/proc/self/cgroup").expect("cgroup");
    let Some(rel) = ours
        .lines()
        .find_map(|l| l.split_once(":pids:").map(|x| x.1))
    else {
        eprintln!("SKIP cgroup_namespace_root_above_the_container: no cgroup v1 pids hierarchy");
        return;
    };
    if !pids_root.is_dir() {
        eprintln!(
            "SKIP cgroup_namespace_root_above_the_container: /sys/fs/cgroup/pids is not mounted"
        );
        return;
    }
    let child = pids_root
        .join(rel.trim_start_matches('/'))
        .join(format!("berth-rootfs-test-{}", std::process::id()));
    std::fs::create_dir_all(&child).expect("mkdir test cgroup");
    let b =
        rootfs_scenarios::bundle(&["sh", "-c", "cat /proc/self/cgroup; ls /sys/fs/cgroup/pids"]);
    let r = Direct {
        userns: false,
        join_cgroup: Some(child.join("cgroup.procs")),
    };
    let out = r.run(&b, "cgns", false);
    let _ = std::fs::remove_dir(&child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = child
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        stdout.contains(&format!(":pids:/{name}")),
        "joined below the ns root: {stdout}"
    );
    // Only the container's own cgroup: no root-only files, no sibling cgroups.
    assert!(stdout.contains("cgroup.procs"), "{stdout}");
    // The name shows once (in /proc/self/cgroup), not as a directory in the listing.
    assert_eq!(stdout.matches(&name[..]).count(), 1, "{stdout}");
    assert!(
        !stdout.contains("cgroup.sane_behavior"),
        "the hierarchy root is exposed: {stdout}"
    );
}

/// process.terminal: /dev/console exists (made before root.readonly) and is the pty.
#[test]
fn console_is_the_pty() {
    if !common::require_root("console_is_the_pty") {
        return;
    }
    let b = rootfs_scenarios::bundle(&["stat", "-c", "%t %F", "/dev/console"]);
    b.update_config(|c| c["process"]["terminal"] = serde_json::Value::Bool(true));
    let out = direct(false).run(&b, "console", false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Unix98 ptys have major 136 (0x88).
    assert_eq!(stdout.trim(), "88 character special file");
}

/// The hooks run with every mount in place at its host path (before the root switch) and
/// with /proc/sys still writable (after it).
#[test]
fn hooks_before_the_root_switch_and_before_readonly() {
    if !common::require_root("hooks_before_the_root_switch_and_before_readonly") {
        return;
    }
    let b = rootfs_scenarios::bundle(&["true"]);
    let out = direct(false).run(&b, "hook", false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let seen = std::fs::read_to_string(b.dir.join("hooks-saw")).expect("before_pivot ran");
    assert_eq!(seen, "proc mounted\n");
    assert!(
        stderr.contains("hooks-saw: /proc/sys writable=true"),
        "{stderr}"
    );
}
