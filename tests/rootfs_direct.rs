//! The rootfs scenarios run by calling `berth::rootfs::setup_rootfs` directly in a fresh
//! mount, PID and cgroup namespace (made by util-linux `unshare`), without the runtime core:
//! the test binary re-executes itself as the "init", sets up the rootfs and runs the
//! container's process in it.

mod common;
mod rootfs_scenarios;

use common::Bundle;
use rootfs_scenarios::Runner;
use std::process::{Command, Output};

const ENV_BUNDLE: &str = "BERTH_ROOTFS_DIRECT_BUNDLE";
const ENV_NO_PIVOT: &str = "BERTH_ROOTFS_DIRECT_NO_PIVOT";
const BEGIN: &str = "\n@@berth-container-output-begin@@\n";

struct Direct;

impl Runner for Direct {
    fn run(&self, b: &Bundle, _id: &str, no_pivot: bool) -> Output {
        let exe = std::env::current_exe().expect("test exe");
        let mut out = Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--cgroup",
                "--propagation",
                "unchanged",
            ])
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
    let cfg = berth::rootfs::RootfsConfig {
        spec: &spec,
        rootfs: &rootfs,
        bundle: &bundle,
        no_pivot: std::env::var(ENV_NO_PIVOT).is_ok_and(|v| v == "1"),
        user_namespace: false,
    };
    if let Err(e) = berth::rootfs::setup_rootfs(&cfg) {
        eprintln!("berth: {e}");
        std::process::exit(1);
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

rootfs_scenario_tests!(Direct);
