//! Real-container scenarios for the rootfs setup, shared by two runners: `rootfs_direct.rs`
//! (calls `berth_runtime::rootfs::setup_rootfs` in a fresh mount namespace, no runtime core needed)
//! and `rootfs_container.rs` (full `berth run`). Everything is observed from inside the
//! container, hostile cases also from the host.
#![allow(dead_code)]

use crate::common::{self, Bundle, Scratch};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// How a scenario runs a bundle: returns the container's output and exit status.
pub trait Runner {
    fn run(&self, b: &Bundle, id: &str, no_pivot: bool) -> Output;
    /// The container gets a user namespace (only root mapped): locked mount flags apply.
    fn userns(&self) -> bool {
        false
    }
}

/// A busybox bundle with berth's default config.json (terminal off, `args` as the process).
pub fn bundle(args: &[&str]) -> Bundle {
    let scratch = Scratch::new("rootfs");
    let dir = scratch.0.join("bundle");
    let state_root = scratch.0.join("state");
    std::fs::create_dir_all(&dir).expect("mkdir bundle");
    common::populate_busybox_rootfs(&dir.join("rootfs"));
    std::fs::write(dir.join("config.json"), berth_spec::DEFAULT_CONFIG_JSON).expect("write config");
    let b = Bundle {
        scratch,
        dir,
        state_root,
    };
    b.set_args(args);
    b.update_config(|c| c["process"]["terminal"] = Value::Bool(false));
    b
}

fn sh(script: &str) -> Bundle {
    bundle(&["sh", "-c", script])
}

fn ok(r: &dyn Runner, b: &Bundle, tag: &str) -> String {
    let out = r.run(b, &common::unique_id(tag), false);
    assert!(
        out.status.success(),
        "{tag}: container failed ({:?}): stdout={} stderr={}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The mountinfo line whose mount point is `mp` (the last one: the top of a stack).
pub fn mount_line<'a>(mountinfo: &'a str, mp: &str) -> &'a str {
    mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("no mount at {mp} in:\n{mountinfo}"))
}

/// Per-mount options (field 6) and super options (last field) of a mountinfo line.
fn opts(line: &str) -> (Vec<&str>, Vec<&str>) {
    let per = line.split(' ').nth(5).unwrap_or("").split(',').collect();
    let sup = line.rsplit(' ').next().unwrap_or("").split(',').collect();
    (per, sup)
}

fn add_mount(b: &Bundle, m: Value) {
    b.update_config(|c| c["mounts"].as_array_mut().expect("mounts array").push(m));
}

pub fn default_mounts(r: &dyn Runner) {
    let b = bundle(&["cat", "/proc/self/mountinfo"]);
    let mi = ok(r, &b, "defmounts");
    let root = mount_line(&mi, "/");
    assert!(opts(root).0.contains(&"ro"), "root.readonly: {root}");
    assert!(mount_line(&mi, "/proc").contains(" - proc "));
    let dev = mount_line(&mi, "/dev");
    assert!(
        dev.contains(" - tmpfs ")
            && opts(dev).0.contains(&"nosuid")
            && opts(dev).1.contains(&"mode=755"),
        "{dev}"
    );
    assert!(
        opts(dev).0.contains(&"strictatime") || !opts(dev).0.contains(&"relatime"),
        "strictatime: {dev}"
    );
    let pts = mount_line(&mi, "/dev/pts");
    assert!(
        pts.contains(" - devpts ") && opts(pts).1.contains(&"ptmxmode=666"),
        "{pts}"
    );
    // Only root is mapped in the user-namespace runner, which drops gid=5.
    assert!(r.userns() || opts(pts).1.contains(&"gid=5"), "{pts}");
    let shm = mount_line(&mi, "/dev/shm");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(opts(shm).0.contains(&o), "{o}: {shm}");
    }
    // tmpfs shows mode= only when it is not the default 1777.
    assert!(!shm.contains("mode="), "{shm}");
    assert!(mount_line(&mi, "/dev/mqueue").contains(" - mqueue "));
    let sys = mount_line(&mi, "/sys");
    assert!(
        opts(sys).0.contains(&"ro") && sys.contains(" - sysfs "),
        "{sys}"
    );
    // cgroup: v1 → a tmpfs with read-only hierarchies below; v2 → cgroup2.
    let cg = mount_line(&mi, "/sys/fs/cgroup");
    assert!(
        cg.contains(" - tmpfs ") || cg.contains(" - cgroup2 "),
        "{cg}"
    );
    if cg.contains(" - tmpfs ") {
        let cpu = mi
            .lines()
            .find(|l| l.contains(" - cgroup "))
            .unwrap_or_else(|| panic!("no v1 hierarchy:\n{mi}"));
        assert!(opts(cpu).0.contains(&"ro"), "{cpu}");
    }
}

/// Every cgroup v1 hierarchy of the host shows up read-only in the container, with and
/// without a cgroup namespace (without one, as a bind of the container's own cgroup).
pub fn cgroup_v1_hierarchies(r: &dyn Runner) {
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("host mountinfo");
    let names: Vec<String> = host
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .filter_map(|l| l.split(' ').nth(4))
        .filter_map(|mp| mp.strip_prefix("/sys/fs/cgroup/"))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        eprintln!("SKIP cgroup_v1_hierarchies: the host has no cgroup v1 hierarchies");
        return;
    }
    for (cgroupns, ro) in [(true, true), (false, true), (true, false)] {
        let b = sh("cat /proc/self/mountinfo; echo; cat /proc/self/cgroup");
        b.update_config(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.retain(|n| n["type"] != "cgroup");
            if cgroupns {
                ns.push(serde_json::json!({"type": "cgroup"}));
            }
            if !ro {
                // runc's bats "delete --force in cgroupv1 with subcgroups" drops "ro" to make
                // sub-cgroups inside the container.
                for m in c["mounts"].as_array_mut().expect("mounts") {
                    if m["type"] == "cgroup" {
                        if let Some(o) = m["options"].as_array_mut() {
                            o.retain(|o| o != "ro");
                        }
                    }
                }
            }
        });
        let out = ok(r, &b, "cgv1");
        for n in &names {
            let l = mount_line(&out, &format!("/sys/fs/cgroup/{n}"));
            assert!(l.contains(" - cgroup "), "cgroupns={cgroupns}: {l}");
            assert_eq!(
                opts(l).0.contains(&"ro"),
                ro,
                "cgroupns={cgroupns} ro={ro}: {l}"
            );
        }
    }
}

pub fn dev_nodes(r: &dyn Runner) {
    let b = sh("stat -c '%n %t %T %a %F' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
                for l in fd stdin stdout stderr ptmx core; do echo \"$l -> $(readlink /dev/$l)\"; done; \
                test -d /dev/pts && test -d /dev/shm && echo dirs-ok; echo hi > /dev/null && echo null-ok");
    let out = ok(r, &b, "devnodes");
    for want in [
        "/dev/null 1 3 666 character special file",
        "/dev/zero 1 5 666",
        "/dev/full 1 7 666",
        "/dev/random 1 8 666",
        "/dev/urandom 1 9 666",
        "/dev/tty 5 0 666",
        "fd -> /proc/self/fd",
        "stdin -> /proc/self/fd/0",
        "stdout -> /proc/self/fd/1",
        "stderr -> /proc/self/fd/2",
        "ptmx -> pts/ptmx",
        "dirs-ok",
        "null-ok",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    if Path::new("/proc/kcore").exists() {
        assert!(out.contains("core -> /proc/kcore"), "{out}");
    }
}

pub fn spec_devices(r: &dyn Runner) {
    let b = sh("stat -c '%n %t %T %a %u %g %F' /dev/fuse /dev/sub/myfifo /dev/xzero");
    // /dev/xzero as podman's --device writes it: fileMode is the host node's whole st_mode.
    b.update_config(|c| {
        c["linux"]["devices"] = json!([
            {"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":0o640,"uid":1,"gid":2},
            {"path":"/dev/sub/myfifo","type":"p","fileMode":0o600},
            {"path":"/dev/xzero","type":"c","major":1,"minor":5,"fileMode":0o20666}
        ])
    });
    let out = ok(r, &b, "specdev");
    assert!(
        out.contains("/dev/fuse a e5 640 1 2 character special file"),
        "{out}"
    );
    assert!(out.contains("/dev/sub/myfifo 0 0 600 0 0 fifo"), "{out}");
    assert!(
        out.contains("/dev/xzero 1 5 666 0 0 character special file"),
        "{out}"
    );
}

pub fn masked_and_readonly_paths(r: &dyn Runner) {
    let b = sh(
        "echo keys=$(wc -c < /proc/keys); echo domain=$(wc -c < /proc/sys/kernel/domainname); echo firmware=$(ls -A /sys/firmware | wc -l); \
                touch /sys/firmware/x 2>/dev/null && echo fw-writable || echo fw-ro; \
                echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-ro; \
                cat /proc/self/mountinfo",
    );
    b.update_config(|c| {
        c["linux"]["maskedPaths"] = json!([
            "/proc/keys",
            "/sys/firmware",
            "/does/not/exist",
            "/proc/sys/kernel/domainname"
        ]);
        c["linux"]["readonlyPaths"] = json!(["/proc/sys", "/proc/sysrq-trigger", "/nope"]);
    });
    let out = ok(r, &b, "masked");
    assert!(out.contains("keys=0"), "{out}");
    // A mask below a read-only path sits on top of it.
    assert!(out.contains("domain=0"), "{out}");
    assert!(out.contains("firmware=0"), "{out}");
    assert!(out.contains("fw-ro") && out.contains("sysrq-ro"), "{out}");
    let sys = mount_line(&out, "/proc/sys");
    assert!(opts(sys).0.contains(&"ro"), "{sys}");
    let fw = mount_line(&out, "/sys/firmware");
    assert!(
        fw.contains(" - tmpfs ") && opts(fw).0.contains(&"ro"),
        "{fw}"
    );
}

pub fn root_readonly(r: &dyn Runner) {
    let b = sh("touch /newfile 2>&1; echo rc=$?");
    let out = ok(r, &b, "rootro");
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    b.update_config(|c| c["root"]["readonly"] = Value::Bool(false));
    let out = ok(r, &b, "rootrw");
    assert!(out.contains("rc=0"), "{out}");
    assert!(b.dir.join("rootfs/newfile").exists());
}

/// A host directory with one file in it.
fn host_dir(b: &Bundle, name: &str) -> PathBuf {
    let d = b.scratch.0.join(name);
    std::fs::create_dir_all(&d).expect("mkdir host dir");
    std::fs::write(d.join("hello"), "hello from host\n").expect("write");
    d
}

pub fn bind_options(r: &dyn Runner) {
    let b = sh(
        "cat /mnt/data/hello; touch /mnt/data/new 2>&1; cat /etc/hosted; \
                cat /mnt/rel/hello; cat /proc/self/mountinfo",
    );
    let src = host_dir(&b, "data");
    std::fs::write(b.scratch.0.join("hostfile"), "a file\n").expect("write");
    add_mount(
        &b,
        json!({"destination":"/mnt/data","type":"bind","source":src,
        "options":["rbind","ro","nosuid","nodev","noexec","noatime","nodiratime"]}),
    );
    if r.userns() {
        // The source's atime setting is locked there: asking for another fails (bind_atime).
        b.update_config(|c| {
            let m = c["mounts"].as_array_mut().and_then(|m| m.last_mut());
            if let Some(o) = m.and_then(|m| m["options"].as_array_mut()) {
                o.retain(|v| v != "noatime" && v != "nodiratime");
            }
        });
    }
    // A file bind onto a file that does not exist yet in the rootfs.
    add_mount(
        &b,
        json!({"destination":"/etc/hosted","source":b.scratch.0.join("hostfile"),"options":["bind"]}),
    );
    // A source relative to the bundle.
    std::fs::create_dir_all(b.dir.join("reldir")).expect("mkdir");
    std::fs::write(b.dir.join("reldir/hello"), "relative\n").expect("write");
    add_mount(
        &b,
        json!({"destination":"/mnt/rel","type":"none","source":"reldir","options":["bind","rw"]}),
    );
    let out = ok(r, &b, "bindopts");
    assert!(
        out.contains("hello from host") && out.contains("a file") && out.contains("relative"),
        "{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    let l = mount_line(&out, "/mnt/data");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts(l).0.contains(&o), "{o}: {l}");
    }
    for o in ["noatime", "nodiratime"] {
        assert!(r.userns() || opts(l).0.contains(&o), "{o}: {l}");
    }
    assert!(mount_line(&out, "/etc/hosted").contains("rw"), "file bind");
    assert!(!src.join("new").exists());
}

/// A bind mount's atime options as runc 1.5 and the kernel's remount read them (runc's
/// mounts_sshfs.bats): an option that only clears a flag ("atime", "norelatime") keeps the
/// source's setting, one that sets a flag replaces it. In a user namespace the source's
/// setting is locked: asking for the same one works, asking for another fails naming the
/// mount, with EPERM's text.
pub fn bind_atime(r: &dyn Runner) {
    let b = sh("cat /proc/self/mountinfo");
    let src = b.scratch.0.join("noatime-src");
    let _host = HostMount::tmpfs(&src);
    let st = std::process::Command::new("mount")
        .args(["--bind", "-o", "remount,noatime"])
        .arg(&src)
        .status();
    assert!(st.is_ok_and(|s| s.success()), "remount the source noatime");
    let bind = |dest: &str, opts: &[&str]| {
        let mut o = vec!["bind"];
        o.extend_from_slice(opts);
        json!({"destination":dest,"type":"bind","source":src,"options":o})
    };
    add_mount(&b, bind("/mnt/atime", &["atime"]));
    add_mount(&b, bind("/mnt/norelatime", &["dev", "norelatime"]));
    add_mount(&b, bind("/mnt/noatime", &["noatime"]));
    if !r.userns() {
        add_mount(&b, bind("/mnt/relatime", &["relatime"]));
        add_mount(&b, bind("/mnt/nodiratime", &["nodiratime"]));
    }
    let out = ok(r, &b, "bindatime");
    for mp in ["/mnt/atime", "/mnt/norelatime", "/mnt/noatime"] {
        let l = mount_line(&out, mp);
        assert!(opts(l).0.contains(&"noatime"), "{mp} keeps noatime: {l}");
    }
    if !r.userns() {
        let l = mount_line(&out, "/mnt/relatime");
        assert!(
            opts(l).0.contains(&"relatime") && !opts(l).0.contains(&"noatime"),
            "{l}"
        );
        let l = mount_line(&out, "/mnt/nodiratime");
        let o = opts(l).0;
        assert!(o.contains(&"relatime") && o.contains(&"nodiratime"), "{l}");
        return;
    }
    for asked in ["strictatime", "relatime", "nodiratime"] {
        let b = bundle(&["true"]);
        add_mount(&b, bind("/mnt/other", &[asked]));
        let out = r.run(&b, &common::unique_id("bindatime-locked"), false);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{asked}: {err}");
        assert!(
            err.contains("/mnt/other")
                && err.contains("atime")
                && err.to_lowercase().contains("operation not permitted"),
            "{asked}: {err}"
        );
    }
}

/// `tmpcopyup` (podman's --read-only and --tmpfs): the tmpfs holds a copy of the image's
/// directory, modes, owners, symlinks and nodes kept, symlinks not followed, and writes to it
/// never reach the image; with `ro` the copy is made first and the mount is read-only after.
pub fn tmpfs_copyup(r: &dyn Runner) {
    // The container's root has no CAP_DAC_OVERRIDE: what it reads it owns.
    let b = sh("cd /srv/cu && stat -c '%n %a %u %g %F' file sub sub/deep out fifo; cat file;                 readlink out; echo changed > file && cat file;                 touch /srv/ro/x 2>/dev/null && echo ro-writable || echo ro-refused; cat /srv/ro/k;                 cat /proc/self/mountinfo");
    let img = b.dir.join("rootfs/srv");
    std::fs::create_dir_all(img.join("cu/sub/deep")).expect("mkdir");
    std::fs::create_dir_all(img.join("ro")).expect("mkdir");
    std::fs::write(img.join("cu/file"), "from-image\n").expect("write");
    std::fs::write(img.join("ro/k"), "kept\n").expect("write");
    let set = |p: &str, mode: u32, uid: u32, gid: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(img.join(p), Some(uid), Some(gid)).expect("chown");
        std::fs::set_permissions(img.join(p), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
    };
    set("cu/file", 0o640, 0, 2000);
    set("cu/sub", 0o1777, 0, 0);
    set("cu/sub/deep", 0o2750, 1000, 1000);
    std::os::unix::fs::symlink("/etc/passwd", img.join("cu/out")).expect("symlink");
    let fifo = std::ffi::CString::new(img.join("cu/fifo").into_os_string().into_encoded_bytes())
        .expect("path");
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o620) }, 0, "mkfifo");
    set("cu/fifo", 0o620, 0, 0);
    add_mount(
        &b,
        json!({"destination":"/srv/cu","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","nosuid"]}),
    );
    add_mount(
        &b,
        json!({"destination":"/srv/ro","type":"tmpfs","source":"tmpfs","options":["ro","tmpcopyup"]}),
    );
    let out = ok(r, &b, "copyup");
    for want in [
        "file 640 0 2000 regular file",
        "sub 1777 0 0 directory",
        "sub/deep 2750 1000 1000 directory",
        "out 777 0 0 symbolic link",
        "fifo 620 0 0 fifo",
        "from-image\n/etc/passwd\nchanged\n",
        "ro-refused\nkept\n",
    ] {
        assert!(out.contains(want), "{want:?}: {out}");
    }
    assert!(mount_line(&out, "/srv/cu").contains(" - tmpfs "), "{out}");
    assert!(opts(mount_line(&out, "/srv/ro")).0.contains(&"ro"), "{out}");
    assert_eq!(
        std::fs::read_to_string(img.join("cu/file")).expect("read"),
        "from-image\n",
        "a write in the container reached the image"
    );
}

pub fn tmpfs_options(r: &dyn Runner) {
    let b = sh("stat -c '%a' /scratch; cat /proc/self/mountinfo");
    add_mount(
        &b,
        json!({"destination":"/scratch","type":"tmpfs","source":"tmpfs",
        "options":["nosuid","nodev","noexec","nosymfollow","strictatime","mode=1770","size=1m","nr_inodes=77"]}),
    );
    add_mount(
        &b,
        json!({"destination":"/relat/deep","type":"tmpfs","source":"tmpfs","options":["relatime","ro"]}),
    );
    let out = ok(r, &b, "tmpfs");
    assert!(out.starts_with("1770"), "{out}");
    let l = mount_line(&out, "/scratch");
    for o in ["nosuid", "nodev", "noexec", "nosymfollow"] {
        assert!(opts(l).0.contains(&o), "{o}: {l}");
    }
    assert!(
        !opts(l).0.contains(&"relatime") && !opts(l).0.contains(&"noatime"),
        "strictatime: {l}"
    );
    assert!(
        opts(l).1.contains(&"mode=1770")
            && opts(l).1.contains(&"size=1024k")
            && opts(l).1.contains(&"nr_inodes=77"),
        "{l}"
    );
    let l = mount_line(&out, "/relat/deep");
    assert!(
        opts(l).0.contains(&"ro") && opts(l).0.contains(&"relatime"),
        "{l}"
    );
}

/// RAII: a tmpfs mounted on the host (under the test's scratch dir), unmounted on drop.
struct HostMount(PathBuf);
impl HostMount {
    fn tmpfs(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).expect("mkdir");
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status();
        assert!(st.is_ok_and(|s| s.success()), "mount tmpfs on the host");
        HostMount(at.to_path_buf())
    }
}
impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

pub fn rbind_submounts_and_rro(r: &dyn Runner) {
    let b = sh("cat /r/sub/inner; echo ---; ls /nr/sub; echo ---; touch /rro/sub/x 2>&1; touch /r/sub/y && echo r-writable; \
                cat /proc/self/mountinfo");
    let src = host_dir(&b, "tree");
    let sub = HostMount::tmpfs(&src.join("sub"));
    std::fs::write(sub.0.join("inner"), "inner mount\n").expect("write");
    add_mount(
        &b,
        json!({"destination":"/r","source":src,"options":["rbind"]}),
    );
    // In a user namespace a non-recursive bind would uncover what the (locked) submount
    // hides, which the kernel refuses (EINVAL); /nr then does not exist and `ls` shows nothing.
    if !r.userns() {
        add_mount(
            &b,
            json!({"destination":"/nr","source":src,"options":["bind"]}),
        );
    }
    add_mount(
        &b,
        json!({"destination":"/rro","source":src,"options":["rbind","rro"]}),
    );
    let out = ok(r, &b, "rbind");
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(
        parts[0].contains("inner mount"),
        "rbind brings submounts: {out}"
    );
    assert!(
        parts.get(1).is_some_and(|p| !p.contains("inner")),
        "bind leaves them: {out}"
    );
    assert!(
        out.contains("Read-only file system") && out.contains("r-writable"),
        "{out}"
    );
    let l = mount_line(&out, "/rro/sub");
    assert!(opts(l).0.contains(&"ro"), "rro reaches the submount: {l}");
    drop(sub);
}

pub fn mount_propagation(r: &dyn Runner) {
    let b = bundle(&["cat", "/proc/self/mountinfo"]);
    let src = host_dir(&b, "prop");
    add_mount(
        &b,
        json!({"destination":"/shared","source":src,"options":["rbind","rshared"]}),
    );
    add_mount(
        &b,
        json!({"destination":"/unb","source":src,"options":["bind","unbindable"]}),
    );
    let out = ok(r, &b, "prop");
    assert!(mount_line(&out, "/shared").contains("shared:"), "{out}");
    assert!(mount_line(&out, "/unb").contains("unbindable"), "{out}");
    b.update_config(|c| c["linux"]["rootfsPropagation"] = json!("rshared"));
    let out = ok(r, &b, "prop-rshared");
    assert!(
        mount_line(&out, "/").contains("shared:"),
        "rootfsPropagation: {out}"
    );
    b.update_config(|c| c["linux"]["rootfsPropagation"] = json!("private"));
    let out = ok(r, &b, "prop-private");
    let root = mount_line(&out, "/");
    assert!(
        !root.contains("shared:") && !root.contains("master:"),
        "{root}"
    );
    // An unbindable tree cannot be bind-mounted: the rootfs's own bind comes first.
    for value in ["unbindable", "runbindable"] {
        b.update_config(|c| c["linux"]["rootfsPropagation"] = json!(value));
        let out = ok(r, &b, value);
        assert!(
            mount_line(&out, "/").contains("unbindable"),
            "{value}: {out}"
        );
    }
}

pub fn cwd_created(r: &dyn Runner) {
    let b = sh("pwd; stat -c '%a' /work/deep/er");
    b.update_config(|c| c["process"]["cwd"] = json!("/work/deep/er"));
    let out = ok(r, &b, "cwd");
    assert!(out.contains("/work/deep/er\n755"), "{out}");
}

pub fn no_pivot(r: &dyn Runner) {
    let b = sh("cat /proc/self/mountinfo; ls /bin/busybox");
    let out = r.run(&b, &common::unique_id("nopivot"), true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/bin/busybox") && mount_line(&stdout, "/proc").contains(" - proc "),
        "{stdout}"
    );
}

/// Nothing was mounted on or created in `victim` on the host.
fn assert_untouched(victim: &Path) {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("host mountinfo");
    let v = victim.to_string_lossy();
    assert!(
        !mi.lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp.starts_with(&*v))),
        "host mount at {v}"
    );
    let names: Vec<_> = std::fs::read_dir(victim)
        .expect("victim")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("canary")],
        "victim dir changed"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("canary")).expect("canary"),
        "canary\n"
    );
}

pub fn hostile_symlinks(r: &dyn Runner) {
    let b = sh("ls /mnt/evil /etc/evil2; cat /mnt/evil/hello /rel/hello; echo done");
    let victim = b.scratch.0.join("host-victim-dir");
    std::fs::create_dir_all(&victim).expect("mkdir victim");
    std::fs::write(victim.join("canary"), "canary\n").expect("canary");
    let rootfs = b.dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("mnt")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, rootfs.join("mnt/evil")).expect("symlink");
    std::os::unix::fs::symlink(&victim, rootfs.join("etc/evil2")).expect("symlink");
    std::os::unix::fs::symlink(
        "../../../../../../../../..".to_string() + &victim.to_string_lossy(),
        rootfs.join("rel"),
    )
    .expect("symlink");
    let src = host_dir(&b, "src");
    add_mount(
        &b,
        json!({"destination":"/mnt/evil","type":"tmpfs","source":"tmpfs"}),
    );
    add_mount(
        &b,
        json!({"destination":"/etc/evil2/sub","type":"tmpfs","source":"tmpfs"}),
    );
    add_mount(
        &b,
        json!({"destination":"/mnt/evil","source":src,"options":["bind"]}),
    );
    add_mount(
        &b,
        json!({"destination":"/rel","source":src,"options":["bind"]}),
    );
    add_mount(
        &b,
        json!({"destination":"/etc/evil2/file","source":src.join("hello"),"options":["bind"]}),
    );
    let out = ok(r, &b, "hostile");
    assert!(
        out.contains("hello from host") && out.contains("done"),
        "{out}"
    );
    assert_untouched(&victim);
    // The symlink target was made inside the rootfs instead.
    assert!(rootfs
        .join(victim.strip_prefix("/").expect("absolute"))
        .is_dir());
}

pub fn hostile_rootfs_etc_symlink(r: &dyn Runner) {
    let b = sh("cat /etc/passwd.d/x; echo done");
    let victim = b.scratch.0.join("host-escape");
    std::fs::create_dir_all(&victim).expect("mkdir victim");
    std::fs::write(victim.join("canary"), "canary\n").expect("canary");
    let rootfs = b.dir.join("rootfs");
    std::fs::remove_dir_all(rootfs.join("etc")).expect("rm etc");
    std::os::unix::fs::symlink(&victim, rootfs.join("etc")).expect("symlink /etc");
    let f = b.scratch.0.join("x");
    std::fs::write(&f, "x\n").expect("write");
    add_mount(
        &b,
        json!({"destination":"/etc/passwd.d/x","source":f,"options":["bind","ro"]}),
    );
    let out = ok(r, &b, "etc-escape");
    assert!(out.contains("x\ndone"), "{out}");
    assert_untouched(&victim);
}

pub fn magic_link_target_refused(r: &dyn Runner) {
    let b = bundle(&["true"]);
    let rootfs = b.dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("mnt")).expect("mkdir");
    std::os::unix::fs::symlink("/proc/self/root/tmp", rootfs.join("mnt/magic")).expect("symlink");
    add_mount(
        &b,
        json!({"destination":"/mnt/magic/x","type":"tmpfs","source":"tmpfs"}),
    );
    let out = r.run(&b, &common::unique_id("magic"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "mounting through a magic link must fail"
    );
    assert!(
        err.contains("/mnt/magic/x"),
        "error names the destination: {err}"
    );
    assert!(!Path::new("/tmp/x").exists() || std::fs::read_dir("/tmp/x").is_ok());
}

/// A destination that resolves to the container's root (here through a symlink) is refused.
pub fn destination_resolving_to_root_refused(r: &dyn Runner) {
    let b = bundle(&["true"]);
    std::os::unix::fs::symlink("/", b.dir.join("rootfs/up")).expect("symlink");
    add_mount(
        &b,
        json!({"destination":"/up","type":"tmpfs","source":"tmpfs"}),
    );
    let out = r.run(&b, &common::unique_id("toroot"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("\"/up\"") && err.contains("root directory"),
        "{err}"
    );
}

/// proc (like sysfs and cgroup) is never mounted through a symlink in the rootfs.
pub fn proc_on_symlink_refused(r: &dyn Runner) {
    let b = bundle(&["true"]);
    let rootfs = b.dir.join("rootfs");
    std::fs::remove_dir(rootfs.join("proc")).expect("rmdir proc");
    std::os::unix::fs::symlink("tmp", rootfs.join("proc")).expect("symlink");
    let out = r.run(&b, &common::unique_id("procsym"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("\"/proc\"")
            && err.contains("symlink")
            && err.contains("must be mounted on ordinary directory"),
        "{err}"
    );
}

/// A relative bind source is resolved beneath the bundle: a symlink in the bundle cannot
/// turn it into a host path.
pub fn relative_source_escape_refused(r: &dyn Runner) {
    let b = bundle(&["true"]);
    let outside = host_dir(&b, "outside-bundle");
    std::os::unix::fs::symlink(&outside, b.dir.join("link")).expect("symlink");
    add_mount(
        &b,
        json!({"destination":"/data","source":"link","options":["bind"]}),
    );
    let out = r.run(&b, &common::unique_id("relsrc"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("/data") && err.contains("outside the bundle"),
        "{err}"
    );
    // Inside the bundle, relative sources (through the rootfs too) work.
    let b = sh("cat /data/hello");
    std::fs::create_dir_all(b.dir.join("rootfs/srv")).expect("mkdir");
    std::fs::write(b.dir.join("rootfs/srv/hello"), "in bundle\n").expect("write");
    add_mount(
        &b,
        json!({"destination":"/data","source":"rootfs/srv","options":["bind"]}),
    );
    assert_eq!(ok(r, &b, "relsrc-ok"), "in bundle\n");
}

pub fn bad_input(r: &dyn Runner) {
    let b = bundle(&["true"]);
    add_mount(
        &b,
        json!({"destination":"/data","source":"/nonexistent/berth-src","options":["rbind"]}),
    );
    let out = r.run(&b, &common::unique_id("badsrc"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/data") && err.contains("/nonexistent/berth-src"),
        "{err}"
    );
    assert!(!b.dir.join("rootfs/data").exists(), "nothing left behind");
    let left = std::fs::read_dir(&b.state_root)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "no container state left behind");

    let b = bundle(&["true"]);
    b.update_config(|c| c["linux"]["rootfsPropagation"] = json!("sideways"));
    let out = r.run(&b, &common::unique_id("badprop"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rootfsPropagation") && err.contains("sideways"),
        "{err}"
    );

    let b = bundle(&["true"]);
    add_mount(
        &b,
        json!({"destination":"/x","type":"nosuchfs","source":"none"}),
    );
    let out = r.run(&b, &common::unique_id("badtype"), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("/x") && err.contains("nosuchfs"),
        "{err}"
    );
}

/// Declares one #[test] per scenario for a runner expression (all of them, or those listed).
#[macro_export]
macro_rules! rootfs_scenario_tests {
    ($runner:expr) => {
        $crate::rootfs_scenario_tests!($runner;
            default_mounts cgroup_v1_hierarchies dev_nodes spec_devices masked_and_readonly_paths root_readonly bind_options bind_atime
            tmpfs_options tmpfs_copyup rbind_submounts_and_rro mount_propagation cwd_created no_pivot hostile_symlinks
            hostile_rootfs_etc_symlink magic_link_target_refused destination_resolving_to_root_refused proc_on_symlink_refused relative_source_escape_refused bad_input);
    };
    ($runner:expr; $($name:ident)*) => {
        $(
            #[test]
            fn $name() {
                if !$crate::common::require_root(stringify!($name)) {
                    return;
                }
                $crate::rootfs_scenarios::$name(&$runner);
            }
        )*
    };
}
