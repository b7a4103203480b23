//! ID-mapped bind mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`),
//! observed from inside real containers (`stat` through the mount) and from the host (who owns
//! what the container created).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bundle;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A host directory with files of several owners: foo 0:0, bar 100:211.
fn source(b: &Bundle, name: &str) -> PathBuf {
    let dir = b.dir.join(name);
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir source");
    std::fs::write(dir.join("foo"), "foo").expect("write foo");
    std::fs::write(dir.join("bar"), "bar").expect("write bar");
    std::os::unix::fs::chown(dir.join("bar"), Some(100), Some(211)).expect("chown bar");
    dir
}

fn add_mount(b: &Bundle, m: Value) {
    b.update_config(|c| c["mounts"].as_array_mut().expect("mounts").push(m));
}

/// The container gets a user namespace with root at host uid/gid 100000 (its rootfs chowned
/// to match).
fn with_userns(b: &Bundle) {
    b.update_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = map(0, 100000, 65536);
        c["linux"]["gidMappings"] = map(0, 100000, 65536);
    });
    let st = Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(b.dir.join("rootfs"))
        .status()
        .expect("chown");
    assert!(st.success());
}

/// A bind mount on the host (a submount of an rbind source), undone on drop.
struct HostMount(PathBuf);

impl HostMount {
    fn bind(src: &Path, dst: &Path) -> HostMount {
        let st = Command::new("mount")
            .arg("--bind")
            .arg(src)
            .arg(dst)
            .status()
            .expect("mount --bind");
        assert!(st.success(), "mount --bind {src:?} {dst:?}");
        HostMount(dst.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn overflow_ids() -> (String, String) {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .expect("overflow id")
            .trim()
            .to_string()
    };
    (read("overflowuid"), read("overflowgid"))
}

/// Without a user namespace: a file owned by `containerID + n` on disk shows as `hostID + n`;
/// the container's root (uid 0, outside the mapping's host range) cannot create files there
/// (EOVERFLOW, as runc reports it); a plain bind of the same source is unchanged.
#[test]
fn mapped_owners_without_userns() {
    if !common::require_root("mapped_owners_without_userns") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /m/foo /m/bar /p/foo /p/bar; touch /m/new 2>&1; echo rc=$?",
    ]);
    let src = source(&b, "src");
    add_mount(
        &b,
        json!({"source": "src", "destination": "/m", "options": ["bind"],
            "uidMappings": map(0, 100000, 65536), "gidMappings": map(0, 200000, 65536)}),
    );
    add_mount(
        &b,
        json!({"source": "src", "destination": "/p", "options": ["bind"]}),
    );
    let out = b.run_ok(&common::unique_id("idmap-plain"));
    assert!(out.contains("/m/foo 100000 200000\n"), "{out}");
    assert!(out.contains("/m/bar 100100 200211\n"), "{out}");
    assert!(out.contains("/p/foo 0 0\n"), "{out}");
    assert!(out.contains("/p/bar 100 211\n"), "{out}");
    assert!(
        out.contains("Value too large for defined data type") && out.contains("rc=1"),
        "{out}"
    );
    assert!(!src.join("new").exists());
}

/// With a user namespace (root = host 100000) and the same mapping on the mount: the files show
/// with their on-disk owners, and what the container's root creates lands as 0:0 on the host
/// (the mount maps 100000 back to 0), while a plain bind shows the overflow ids.
#[test]
fn writes_land_unmapped_on_the_host() {
    if !common::require_root("writes_land_unmapped_on_the_host") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /m/foo /m/bar /p/foo && touch /m/new && mkdir /m/dir && \
         stat -c '%n %u %g' /m/new /m/dir",
    ]);
    let src = source(&b, "src");
    with_userns(&b);
    let m = map(0, 100000, 65536);
    add_mount(
        &b,
        json!({"source": "src", "destination": "/m", "options": ["bind"],
            "uidMappings": m, "gidMappings": m}),
    );
    add_mount(
        &b,
        json!({"source": "src", "destination": "/p", "options": ["bind"]}),
    );
    let out = b.run_ok(&common::unique_id("idmap-write"));
    let (ou, og) = overflow_ids();
    assert!(out.contains("/m/foo 0 0\n"), "{out}");
    assert!(out.contains("/m/bar 100 211\n"), "{out}");
    assert!(out.contains(&format!("/p/foo {ou} {og}\n")), "{out}");
    assert!(out.contains("/m/new 0 0\n"), "{out}");
    assert!(out.contains("/m/dir 0 0\n"), "{out}");
    let new = std::fs::metadata(src.join("new")).expect("the file reached the host");
    assert_eq!((new.uid(), new.gid()), (0, 0));
    let dir = std::fs::metadata(src.join("dir")).expect("the dir reached the host");
    assert_eq!((dir.uid(), dir.gid()), (0, 0));
}

/// An rbind source with a submount: mappings alone and `idmap` map the top mount only (the
/// submount keeps its owners), `ridmap` the whole tree.
#[test]
fn idmap_is_top_only_and_ridmap_recursive() {
    if !common::require_root("idmap_is_top_only_and_ridmap_recursive") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /none/bar /none/sub/bar /i/bar /i/sub/bar /r/bar /r/sub/bar",
    ]);
    let tree = source(&b, "tree");
    let other = source(&b, "other");
    std::os::unix::fs::chown(other.join("bar"), Some(7), Some(8)).expect("chown");
    let _sub = HostMount::bind(&other, &tree.join("sub"));
    let (u, g) = (map(0, 1000, 1000), map(0, 2000, 1000));
    for (dest, opts) in [
        ("/none", json!(["rbind"])),
        ("/i", json!(["rbind", "idmap"])),
        ("/r", json!(["rbind", "ridmap"])),
    ] {
        add_mount(
            &b,
            json!({"source": "tree", "destination": dest, "options": opts,
                "uidMappings": u, "gidMappings": g}),
        );
    }
    let out = b.run_ok(&common::unique_id("idmap-rec"));
    assert_eq!(
        out,
        "/none/bar 1100 2211\n/none/sub/bar 7 8\n/i/bar 1100 2211\n/i/sub/bar 7 8\n\
         /r/bar 1100 2211\n/r/sub/bar 1007 2008\n"
    );
}

/// Twenty ID-mapped mounts made by the runtime for a container with a user namespace whose
/// RLIMIT_NOFILE is 20 (idmap.bats' "mount source fds are cleaned up"): the trees the init
/// inherits must not use up the fd numbers it may still open.
#[test]
fn many_idmapped_mounts_under_a_low_nofile_limit() {
    if !common::require_root("many_idmapped_mounts_under_a_low_nofile_limit") {
        return;
    }
    let b = Bundle::busybox(&["stat", "-c", "%u %g", "/tmp/m-9/bar"]);
    source(&b, "src");
    with_userns(&b);
    let m = map(0, 100000, 65536);
    for i in 0..20 {
        add_mount(
            &b,
            json!({"source": "src", "destination": format!("/tmp/m-{i}"), "options": ["bind"],
                "uidMappings": m, "gidMappings": m}),
        );
    }
    b.update_config(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}]);
    });
    let out = b.run_ok(&common::unique_id("idmap-nofile"));
    assert_eq!(out, "100 211\n");
}

/// `idmap`/`ridmap` without mappings take the container's user namespace: the mount maps the
/// namespace's ids back, so the container sees the on-disk owners, submounts too with ridmap.
#[test]
fn implied_mapping_from_the_user_namespace() {
    if !common::require_root("implied_mapping_from_the_user_namespace") {
        return;
    }
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /i/bar /i/sub/bar /r/bar /r/sub/bar",
    ]);
    let tree = source(&b, "tree");
    let other = source(&b, "other");
    let _sub = HostMount::bind(&other, &tree.join("sub"));
    with_userns(&b);
    add_mount(
        &b,
        json!({"source": "tree", "destination": "/i", "options": ["rbind", "idmap"]}),
    );
    add_mount(
        &b,
        json!({"source": "tree", "destination": "/r", "options": ["rbind", "ridmap"]}),
    );
    let out = b.run_ok(&common::unique_id("idmap-implied"));
    let (ou, og) = overflow_ids();
    assert_eq!(
        out,
        format!("/i/bar 100 211\n/i/sub/bar {ou} {og}\n/r/bar 100 211\n/r/sub/bar 100 211\n")
    );
}

/// A source inside the container's rootfs, spelled (like its destination) as a host path, is
/// what the earlier mounts made of it (mounts.bats' "mount order, container idmap source"):
/// without a user namespace the init clones and ID-maps it at its turn; with one, the runtime
/// does, in the init's mount namespace.
#[test]
fn idmapped_source_made_by_an_earlier_mount() {
    if !common::require_root("idmapped_source_made_by_an_earlier_mount") {
        return;
    }
    for userns in [false, true] {
        let b = Bundle::busybox(&["stat", "-c", "%n %u %g", "/final/bar"]);
        source(&b, "src");
        let rootfs = b.dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("mnt")).expect("mkdir mnt");
        // Only the host's root may search the source's directory: the runtime opens it.
        let private = b.dir.join("private");
        std::fs::create_dir_all(&private).expect("mkdir private");
        std::fs::rename(b.dir.join("src"), private.join("src")).expect("move src");
        std::fs::set_permissions(
            &private,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        if userns {
            with_userns(&b);
        }
        add_mount(
            &b,
            json!({"source": private.join("src"), "destination": "/mnt", "options": ["rbind"]}),
        );
        add_mount(
            &b,
            json!({"source": rootfs.join("mnt"), "destination": rootfs.join("final"),
                "options": ["rbind"], "uidMappings": map(0, 100000, 65536),
                "gidMappings": map(0, 200000, 65536)}),
        );
        let out = b.run_ok(&common::unique_id("idmap-order"));
        let want = if userns {
            // 100100 is uid 100 in the container; gid 200211 is unmapped there.
            format!("/final/bar 100 {}\n", overflow_ids().1)
        } else {
            "/final/bar 100100 200211\n".to_string()
        };
        assert_eq!(out, want, "userns: {userns}");
        assert!(!rootfs
            .join(rootfs.strip_prefix("/").expect("absolute"))
            .exists());
    }
}

/// Mappings that cannot be applied: `berth run` exits 1 naming the mount and the field, and
/// leaves no container behind.
#[test]
fn bad_mappings_are_refused() {
    if !common::require_root("bad_mappings_are_refused") {
        return;
    }
    let two = json!([{"containerID": 0, "hostID": 1000, "size": 10},
        {"containerID": 5, "hostID": 5000, "size": 1}]);
    let cases = [
        (
            json!({"source": "src", "destination": "/m", "options": ["bind", "idmap"]}),
            "mount \"/m\": uidMappings/gidMappings: option \"idmap\" without mappings needs",
        ),
        (
            json!({"source": "src", "destination": "/m", "options": ["bind"],
                "uidMappings": map(0, 1000, 10)}),
            "mount \"/m\": gidMappings: an ID-mapped mount needs both",
        ),
        (
            json!({"source": "src", "destination": "/m", "options": ["bind"],
                "uidMappings": two, "gidMappings": map(0, 1000, 10)}),
            "mount \"/m\": uidMappings: ranges 0 and 1 overlap on the containerID side",
        ),
        (
            json!({"source": "src", "destination": "/m", "options": ["bind"],
                "uidMappings": map(0, 1000, 10), "gidMappings": map(0, 1000, 0)}),
            "mount \"/m\": gidMappings: range 0: size is 0",
        ),
        (
            json!({"source": "tmpfs", "destination": "/m", "type": "tmpfs",
                "uidMappings": map(0, 1000, 10), "gidMappings": map(0, 1000, 10)}),
            "mount \"/m\": uidMappings/gidMappings: ID-mapped mounts are only supported for bind",
        ),
    ];
    for (m, want) in cases {
        let b = Bundle::busybox(&["true"]);
        source(&b, "src");
        add_mount(&b, m);
        let id = common::unique_id("idmap-bad");
        let out = b.run(&id);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{want}: {stderr}");
        assert!(stderr.contains(want), "want {want:?} in {stderr}");
        assert!(!b.state_root.join(&id).exists(), "{id} left behind");
        assert!(!b.dir.join("src/new").exists());
    }
}

/// `features` says ID-mapped mounts work (this kernel has mount_setattr) and lists the options.
#[test]
fn features_report_idmap() {
    let out = Command::new(common::berth_bin())
        .arg("features")
        .output()
        .expect("berth features");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("features json");
    assert_eq!(
        v["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
    let opts = v["mountOptions"].as_array().expect("mountOptions");
    assert!(opts.contains(&json!("idmap")) && opts.contains(&json!("ridmap")));
}
