//! Shared helpers for the integration tests: busybox bundles and running the `berth` binary.
#![allow(dead_code)]
// Test helpers: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// Real-container tests need root; they print why they skip instead of passing silently.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("SKIP {test}: needs root to create containers");
        false
    }
}

/// The busybox-static binary the rootfs is built from (Debian's busybox-static package).
pub fn busybox_path() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static is not installed (apt-get install busybox-static)");
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique scratch directory under /tmp, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("berth-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unique container id for a test.
pub fn unique_id(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{tag}-{}-{n}", std::process::id())
}

/// Fills `rootfs` with busybox-static, its applet links and the directories a container expects.
pub fn populate_busybox_rootfs(rootfs: &Path) {
    for d in [
        "bin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "run", "usr/bin", "sbin",
    ] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
    let bb = rootfs.join("bin/busybox");
    std::fs::copy(busybox_path(), &bb).expect("copy busybox");
    // Ask the host's busybox, not the fresh copy: while another test thread forks, the copy's
    // write descriptor can be inherited for a moment and exec of the copy fails with ETXTBSY.
    let list = Command::new(busybox_path())
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet == "busybox" || applet.is_empty() {
            continue;
        }
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("write passwd");
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )
    .expect("write group");
}

/// A bundle with a busybox rootfs and a config.json from `berth spec`, plus its own `--root`.
pub struct Bundle {
    pub scratch: Scratch,
    pub dir: PathBuf,
    pub state_root: PathBuf,
}

impl Bundle {
    /// A bundle whose process runs `args` without a terminal.
    pub fn busybox(args: &[&str]) -> Bundle {
        let scratch = Scratch::new("bundle");
        let dir = scratch.0.join("bundle");
        let state_root = scratch.0.join("state");
        std::fs::create_dir_all(&dir).expect("mkdir bundle");
        populate_busybox_rootfs(&dir.join("rootfs"));
        let out = Command::new(berth_bin())
            .args(["spec", "--bundle"])
            .arg(&dir)
            .output()
            .expect("run berth spec");
        assert!(
            out.status.success(),
            "berth spec failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = Bundle {
            scratch,
            dir,
            state_root,
        };
        b.update_config(|c| {
            c["process"]["terminal"] = Value::Bool(false);
            // Tests talk to the container through files in its rootfs (e.g. /tmp/ready), so
            // the root stays writable; `berth spec`'s root.readonly: true is now enforced.
            c["root"]["readonly"] = Value::Bool(false);
            c["process"]["args"] =
                Value::from(args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        });
        b
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.config_path()).expect("read config"))
            .expect("parse config")
    }

    pub fn update_config(&self, f: impl FnOnce(&mut Value)) {
        let mut c = self.config();
        f(&mut c);
        std::fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(&c).expect("serialize"),
        )
        .expect("write config");
    }

    /// `berth --root STATE ARGS...`, stdin closed, output captured. Output goes through files,
    /// not pipes: a created container's init inherits stdout/stderr and keeps them open long
    /// after `berth create` has exited, so reading a pipe to EOF would wait for the container.
    pub fn berth(&self, args: &[&str]) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.0.join(format!("out-{n}"));
        let err_path = self.scratch.0.join(format!("err-{n}"));
        let out_file = std::fs::File::create(&out_path).expect("create stdout file");
        let err_file = std::fs::File::create(&err_path).expect("create stderr file");
        let status = Command::new(berth_bin())
            .arg("--root")
            .arg(&self.state_root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file)
            .status()
            .expect("spawn berth");
        let stdout = std::fs::read(&out_path).unwrap_or_default();
        let stderr = std::fs::read(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// `berth run --bundle DIR ID`: the container's stdout/stderr come back in the Output.
    pub fn run(&self, id: &str) -> Output {
        let bundle = self.dir.to_string_lossy().to_string();
        self.berth(&["run", "--bundle", &bundle, id])
    }

    /// Runs the container and returns its stdout, asserting it exited 0.
    pub fn run_ok(&self, id: &str) -> String {
        let out = self.run(id);
        assert!(
            out.status.success(),
            "berth run failed ({:?}): stdout={} stderr={}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `berth run --bundle DIR ID` in the background (stdin closed, stdout/stderr inherited), for
    /// tests that signal the runtime or the container while it runs.
    pub fn spawn_run(&self, id: &str) -> std::process::Child {
        Command::new(berth_bin())
            .arg("--root")
            .arg(&self.state_root)
            .args(["run", "--bundle"])
            .arg(&self.dir)
            .arg(id)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn berth run")
    }

    /// Sets the process args.
    pub fn set_args(&self, args: &[&str]) {
        self.update_config(|c| {
            c["process"]["args"] =
                Value::from(args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        });
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Best effort: never leave a container of a test behind.
        if let Ok(entries) = std::fs::read_dir(&self.state_root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().to_string();
                let _ = self.berth(&["delete", "--force", &id]);
            }
        }
    }
}
