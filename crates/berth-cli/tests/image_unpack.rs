//! End-to-end unpacking: a multi-layer busybox image (gzip, zstd and plain layers, whiteouts,
//! opaque dirs, hardlinks across layers, xattrs, devices) in every source format.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_util;

use image_util::*;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn unpack_ok(source: &str, bundle: &Path, extra: &[&str]) -> String {
    let mut args = vec!["unpack"];
    args.extend_from_slice(extra);
    args.push(source);
    let b = bundle.display().to_string();
    args.push(&b);
    let out = run_image(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "unpack {source} failed: {stderr}");
    stderr
}

#[test]
fn unpacks_multilayer_oci_layout() {
    let s = scratch("oci");
    let built = rich_image().build();
    write_layout(&s.path().join("layout"), &built, "v1");
    let bundle = s.path().join("bundle");
    unpack_ok(
        &format!("oci:{}:v1", s.path().join("layout").display()),
        &bundle,
        &[],
    );
    let r = bundle.join("rootfs");

    assert_eq!(
        std::fs::read(r.join("bin/busybox")).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
    assert_eq!(
        std::fs::read_link(r.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    // Whiteouts: a file, a whole directory, a file from two layers down.
    assert!(!r.join("etc/motd").exists());
    assert!(!r.join("gone").exists());
    assert!(!r.join("usr/share/doc/b").exists());
    assert_eq!(std::fs::read(r.join("usr/share/doc/a")).unwrap(), b"doc a");
    assert!(std::fs::read_dir(&r).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".wh.")));
    // Opaque directory: only this layer's content survives; its own mode applies.
    let names: Vec<String> = std::fs::read_dir(r.join("opq"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["new".to_string()]);
    assert_eq!(
        std::fs::metadata(r.join("opq"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o750
    );
    // Hardlink across layers shares the inode.
    assert_eq!(
        std::fs::metadata(r.join("usr/bin/bb-hard")).unwrap().ino(),
        std::fs::metadata(r.join("bin/busybox")).unwrap().ino()
    );
    // Modes, setuid, ownership.
    assert_eq!(
        std::fs::metadata(r.join("usr/bin/suid"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o4755
    );
    assert_eq!(
        std::fs::metadata(r.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    assert_eq!(
        std::fs::metadata(r.join("etc/private"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o700
    );
    let md = std::fs::metadata(r.join("home-alice-file")).unwrap();
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o7777),
        (1000, 1000, 0o640)
    );
    assert_eq!(md.mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::metadata(r.join("usr/share")).unwrap().mtime(),
        1_600_000_000,
        "directory mtimes set after children"
    );
    // xattrs, including the file capability that chown would have cleared.
    let x = berth_sys::xattr::list_xattrs(&r.join("usr/bin/ping-cap")).unwrap();
    assert!(
        x.contains(&("security.capability".to_string(), CAP_NET_RAW.to_vec())),
        "{x:?}"
    );
    assert!(
        x.contains(&("user.test".to_string(), b"hello".to_vec())),
        "{x:?}"
    );
    // Symlink replaced by a directory (not followed into /bin), file replaced by a symlink.
    assert!(std::fs::symlink_metadata(r.join("replaceme"))
        .unwrap()
        .is_dir());
    assert_eq!(
        std::fs::read(r.join("replaceme/inside")).unwrap(),
        b"inside"
    );
    assert!(!Path::new("/bin/inside").exists());
    assert_eq!(
        std::fs::read_link(r.join("plain-to-link")).unwrap(),
        Path::new("etc/passwd")
    );
    // Device nodes and fifos (as root).
    assert!(std::fs::metadata(r.join("tmp/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let dev = std::fs::metadata(r.join("dev/mynull")).unwrap();
    assert!(dev.file_type().is_char_device());
    assert_eq!(dev.rdev(), nix::sys::stat::makedev(1, 3));

    // config.json per the conversion document, on top of berth spec's defaults.
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let p = &cfg["process"];
    assert_eq!(p["args"], json!(["/bin/sh", "-c", "echo hi"]));
    assert_eq!(p["cwd"], "/tmp");
    assert_eq!(
        p["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
    );
    let env: Vec<&str> = p["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"FOO=bar")
            && env.contains(&"PATH=/bin:/usr/bin")
            && env.contains(&"TERM=xterm"),
        "{env:?}"
    );
    assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
    let a = &cfg["annotations"];
    assert_eq!(a["org.example.label"], "yes");
    assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGINT");
    assert_eq!(a["org.opencontainers.image.exposedPorts"], "53/udp,80/tcp");
    assert_eq!(a["org.opencontainers.image.volumes"], "/data");
    assert_eq!(a["org.opencontainers.image.architecture"], "amd64");
    assert_eq!(cfg["root"]["path"], "rootfs");
    // berth spec's defaults on this host (config_is_berth_spec_for_this_host checks the rest).
    let mut default = berth_spec::default_config(false, 0, 0);
    if !berth_cgroups::is_pure_v2_host() {
        berth_spec::drop_cgroup_namespace(&mut default);
    }
    assert_eq!(cfg["linux"]["namespaces"], default["linux"]["namespaces"]);
    assert_eq!(cfg["mounts"], default["mounts"]);
}

#[test]
fn every_source_format_gives_the_same_rootfs() {
    let s = scratch("formats");
    let img = rich_image();
    let built = img.build();
    let layout = s.path().join("layout");
    write_layout(&layout, &built, "v1");
    let oci_archive = s.path().join("image.oci.tar");
    tar_dir(&layout, &oci_archive);
    let legacy = s.path().join("docker-legacy.tar");
    write_docker_legacy(&legacy, &built, &img, "example/rich:v1");
    let legacy_gz = s.path().join("docker-legacy-gz.tar");
    write_docker_legacy_with(&legacy_gz, &built, &img, "example/rich:v1", Comp::Gzip);
    let docker_oci = s.path().join("docker-oci.tar");
    write_docker_oci(&docker_oci, s.path(), &built, "example/rich:v1");

    let sources = [
        format!("oci:{}:v1", layout.display()),
        format!("oci-archive:{}:v1", oci_archive.display()),
        format!("docker-archive:{}:example/rich:v1", legacy.display()),
        format!("docker-archive:{}", docker_oci.display()),
        format!(
            "docker-archive:{}:docker.io/example/rich:v1",
            legacy_gz.display()
        ),
    ];
    let mut trees = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let bundle = s.path().join(format!("b{i}"));
        unpack_ok(src, &bundle, &[]);
        trees.push((src, tree(&bundle.join("rootfs"))));
        let cfg: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
        assert_eq!(
            cfg["process"]["args"],
            json!(["/bin/sh", "-c", "echo hi"]),
            "{src}"
        );
    }
    assert!(trees[0].1.len() > 250, "busybox tree is implausibly small");
    for (src, t) in &trees[1..] {
        let d = diff_trees(&trees[0].1, t);
        assert!(
            d.is_empty(),
            "{src} differs from the OCI layout:\n{}",
            d.join("\n")
        );
    }
}

#[test]
fn rootless_skips_devices_and_records_owners() {
    let s = scratch("rootless");
    write_layout(&s.path().join("layout"), &rich_image().build(), "v1");
    let bundle = s.path().join("bundle");
    let stderr = unpack_ok(
        &format!("oci:{}:v1", s.path().join("layout").display()),
        &bundle,
        &["--rootless"],
    );
    let r = bundle.join("rootfs");
    assert!(
        stderr.contains("character device") && stderr.contains("dev/mynull"),
        "{stderr}"
    );
    let placeholder = std::fs::symlink_metadata(r.join("dev/mynull")).unwrap();
    assert!(
        placeholder.is_file() && placeholder.len() == 0,
        "device not replaced by an empty file"
    );
    assert!(std::fs::metadata(r.join("tmp/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let x = berth_sys::xattr::list_xattrs(&r.join("home-alice-file")).unwrap();
    // protobuf {uid: 1000, gid: 1000}
    assert!(
        x.contains(&(
            "user.rootlesscontainers".to_string(),
            vec![0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07]
        )),
        "{x:?}"
    );
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert!(cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
    assert_eq!(cfg["linux"]["uidMappings"][0]["containerID"], 0);
}

#[test]
fn uid_and_gid_maps_shift_ownership() {
    if !is_root() {
        eprintln!("SKIP uid_and_gid_maps_shift_ownership: chown to mapped ids needs root");
        return;
    }
    let s = scratch("idmap");
    write_layout(&s.path().join("layout"), &rich_image().build(), "v1");
    let bundle = s.path().join("bundle");
    unpack_ok(
        &format!("oci:{}:v1", s.path().join("layout").display()),
        &bundle,
        &["--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536"],
    );
    let r = bundle.join("rootfs");
    let md = std::fs::metadata(r.join("home-alice-file")).unwrap();
    assert_eq!((md.uid(), md.gid()), (101000, 201000));
    let md = std::fs::symlink_metadata(r.join("bin/sh")).unwrap();
    assert_eq!((md.uid(), md.gid()), (100000, 200000));
    // security.capability survives the chown.
    let x = berth_sys::xattr::list_xattrs(&r.join("usr/bin/ping-cap")).unwrap();
    assert!(x.iter().any(|(k, _)| k == "security.capability"), "{x:?}");
}

#[test]
fn sparse_files_from_gnu_tar_stay_sparse() {
    let s = scratch("sparse");
    let src = s.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let f = std::fs::File::create(src.join("holey")).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"middle", 32 << 20).unwrap();
    drop(f);
    let tarball = s.path().join("layer.tar");
    let st = std::process::Command::new("tar")
        .args(["--sparse", "--format=gnu", "-cf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .arg("holey")
        .status()
        .unwrap();
    assert!(st.success());
    let tar = std::fs::read(&tarball).unwrap();
    assert!(tar.len() < 1 << 20, "GNU tar did not write a sparse entry");
    let img = Image::new(vec![(tar, Comp::Gzip)], json!({"Cmd": ["/holey"]}));
    write_layout(&s.path().join("layout"), &img.build(), "v1");
    let bundle = s.path().join("bundle");
    unpack_ok(
        &format!("oci:{}", s.path().join("layout").display()),
        &bundle,
        &[],
    );
    let p = bundle.join("rootfs/holey");
    let md = std::fs::metadata(&p).unwrap();
    assert_eq!(md.len(), 64 << 20);
    assert!(
        md.blocks() * 512 < 4 << 20,
        "file is not sparse: {} blocks",
        md.blocks()
    );
    let data = std::fs::read(&p).unwrap();
    assert_eq!(&data[32 << 20..(32 << 20) + 6], b"middle");
}

/// The JSON of `inspect --json` and `ls --json` spells its keys in camelCase, as the OCI specs
/// do; the image's own `config` and `manifest` are left as they are.
fn assert_camel_case(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                assert!(
                    k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric()),
                    "key {k:?} is not camelCase"
                );
                if k != "config" && k != "manifest" {
                    assert_camel_case(v);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(assert_camel_case),
        _ => {}
    }
}

#[test]
fn inspect_ls_and_pull() {
    let s = scratch("inspect");
    let built = rich_image().build();
    let layout = s.path().join("layout");
    write_layout(&layout, &built, "v1");
    let out = run_image(&["inspect", "--json", &format!("oci:{}:v1", layout.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["manifestDigest"], built.manifest.digest.as_str());
    assert_eq!(v["layers"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(v["layers"][0]["size"], built.layers[0].data.len());
    assert_eq!(v["config"]["User"], "alice");
    let config: Value = serde_json::from_slice(&built.config.data).unwrap();
    assert_eq!(v["layers"][0]["diffId"], config["rootfs"]["diff_ids"][0]);
    assert_eq!(
        v["totalSize"],
        built.layers.iter().map(|l| l.data.len()).sum::<usize>()
    );
    assert_camel_case(&v);
    let human = run_image(&["inspect", &format!("oci:{}:v1", layout.display())]);
    assert!(String::from_utf8_lossy(&human.stdout).contains(&built.layers[2].digest));

    // pull into a second layout under a new name, then list and unpack from it.
    let store = s.path().join("store");
    let out = run_image(&[
        "pull",
        &format!("oci:{}:v1", layout.display()),
        &format!("{}:copy", store.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_image(&["ls", "--json", &store.display().to_string()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ref"], "copy");
    assert_eq!(v[0]["digest"], built.manifest.digest.as_str());
    assert_eq!(
        v[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(v[0]["size"], built.manifest.data.len());
    assert_camel_case(&v);
    for b in &built.layers {
        assert!(store
            .join("blobs/sha256")
            .join(b.digest.trim_start_matches("sha256:"))
            .exists());
    }
    let bundle = s.path().join("bundle");
    unpack_ok(&format!("oci:{}:copy", store.display()), &bundle, &[]);
    assert!(bundle.join("rootfs/bin/busybox").exists());
}

/// skopeo's destination forms: `oci:DIR:REF` and `oci-archive:FILE:REF`, run from the scratch
/// directory so a stray `oci:` directory there would show.
#[test]
fn pull_into_skopeo_destinations() {
    let s = scratch("pulldest");
    let built = rich_image().build();
    let layout = s.path().join("layout");
    write_layout(&layout, &built, "v1");
    let src = format!("oci:{}:v1", layout.display());
    let pull = |dest: &str| {
        let out = Command::new(image_bin())
            .args(["pull", &src, dest])
            .current_dir(s.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pull {dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    pull("oci:store:copy");
    pull(&format!("oci:{}/abs", s.path().display()));
    pull("oci-archive:img.tar:arch");
    pull("oci-archive:img2.tar");
    pull("docker-archive:docker.tar:test/img:v2");
    let mut names: Vec<_> = std::fs::read_dir(s.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "abs",
            "docker.tar",
            "img.tar",
            "img2.tar",
            "layout",
            "store"
        ]
    );
    for (ls, want) in [("oci:store", "copy"), ("abs", "v1")] {
        let out = Command::new(image_bin())
            .args(["ls", "--json", ls])
            .current_dir(s.path())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v[0]["ref"], want, "{ls}");
        assert_eq!(v[0]["digest"], built.manifest.digest.as_str());
    }
    for (src, bundle) in [
        (
            format!("oci-archive:{}/img.tar:arch", s.path().display()),
            "b1",
        ),
        (
            format!("oci-archive:{}/img2.tar:v1", s.path().display()),
            "b2",
        ),
        (format!("oci:{}/store:copy", s.path().display()), "b3"),
        (
            format!(
                "docker-archive:{}/docker.tar:test/img:v2",
                s.path().display()
            ),
            "b4",
        ),
    ] {
        let bundle = s.path().join(bundle);
        unpack_ok(&src, &bundle, &[]);
        assert!(bundle.join("rootfs/bin/busybox").exists(), "{src}");
    }
    // skopeo reads the archive this wrote.
    if Command::new("skopeo").arg("--version").output().is_ok() {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci-archive:{}/img.tar:arch", s.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sha256_hex(&out.stdout),
            built.manifest.digest.trim_start_matches("sha256:")
        );
        let out = Command::new("skopeo")
            .args(["inspect", "--config", "--raw"])
            .arg(format!("docker-archive:{}/docker.tar", s.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(sha256_hex(&out.stdout), sha256_hex(&built.config.data));
    }
}

/// config.json is `berth spec`'s on this host (its namespaces, the cgroup one included or not,
/// mounts, masked paths, capabilities...), and for --rootless `berth spec --rootless`'s; only
/// what the image sets (args, env, cwd, terminal) and its annotations differ.
#[test]
fn config_is_berth_spec_for_this_host() {
    let s = scratch("specdefault");
    write_layout(&s.path().join("layout"), &rich_image().build(), "v1");
    let src = format!("oci:{}:v1", s.path().join("layout").display());
    for (tag, rootless) in [("root", false), ("rootless", true)] {
        let bundle = s.path().join(format!("bundle-{tag}"));
        let extra: &[&str] = if rootless { &["--rootless"] } else { &[] };
        unpack_ok(&src, &bundle, extra);
        let ours: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
        let spec_dir = s.path().join(format!("spec-{tag}"));
        std::fs::create_dir(&spec_dir).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args([
                "--rootless",
                if rootless { "true" } else { "false" },
                "spec",
                "--bundle",
            ])
            .arg(&spec_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let spec: Value =
            serde_json::from_slice(&std::fs::read(spec_dir.join("config.json")).unwrap()).unwrap();
        let strip = |v: &Value| {
            let mut v = v.clone();
            let o = v.as_object_mut().unwrap();
            o.remove("annotations");
            let p = o["process"].as_object_mut().unwrap();
            for k in ["args", "env", "cwd", "terminal", "user"] {
                p.remove(k);
            }
            v
        };
        assert_eq!(strip(&ours), strip(&spec), "{tag}");
        assert_eq!(ours["linux"]["namespaces"], spec["linux"]["namespaces"]);
    }
}

#[test]
fn cli_errors_exit_1_with_a_message() {
    let s = scratch("clierr");
    let out = run_image(&[
        "unpack",
        &format!("oci:{}/nope:v1", s.path().display()),
        &s.path().join("b").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!s.path().join("b").exists());
    let out = run_image(&["inspect", "ftp://example"]);
    assert_eq!(out.status.code(), Some(1));
    write_layout(&s.path().join("layout"), &rich_image().build(), "v1");
    let out = run_image(&[
        "unpack",
        &format!("oci:{}:nosuchref", s.path().join("layout").display()),
        "/tmp/unused-bundle-x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchref"));
}

/// Runs the unpacked bundle with `runtime` (berth itself, or runc as the reference).
fn run_bundle_with(runtime: &Path, tag: &str) {
    let s = scratch(tag);
    let img = Image::new(
        vec![(
            busybox_layer("bob:x:1234:1234::/:/bin/sh\n").finish(),
            Comp::Gzip,
        )],
        json!({"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello-from-image; id -u; pwd"], "User": "bob", "WorkingDir": "/tmp"}),
    );
    write_layout(&s.path().join("layout"), &img.build(), "v1");
    let bundle = s.path().join("bundle");
    unpack_ok(
        &format!("oci:{}", s.path().join("layout").display()),
        &bundle,
        &[],
    );
    let id = format!("berth-image-{tag}-{}", std::process::id());
    let out = Command::new(runtime)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = Command::new(runtime)
        .args(["delete", "--force", &id])
        .output();
    assert!(
        out.status.success(),
        "{} run: {}",
        runtime.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["hello-from-image", "1234", "/tmp"],
        "{stdout}"
    );
}

#[test]
fn berth_runs_the_bundle() {
    if !is_root() {
        eprintln!("SKIP berth_runs_the_bundle: needs root to create containers");
        return;
    }
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let help = Command::new(berth).arg("--help").output().unwrap();
    if !String::from_utf8_lossy(&help.stdout).contains("run ") {
        eprintln!("SKIP berth_runs_the_bundle: this berth build has no `run` command yet");
        return;
    }
    run_bundle_with(berth, "berth");
}

/// The reference runtime must accept the generated bundle too.
#[test]
fn runc_runs_the_bundle() {
    if !is_root() {
        eprintln!("SKIP runc_runs_the_bundle: needs root to create containers");
        return;
    }
    if Command::new("runc").arg("--version").output().is_err() {
        eprintln!("SKIP runc_runs_the_bundle: runc is not installed");
        return;
    }
    run_bundle_with(Path::new("runc"), "runc");
}

/// `--quiet`: `pull` prints no summary line and `unpack` draws no progress bar even on a
/// terminal (script(1) gives it one); errors are still printed.
#[test]
fn quiet_prints_only_errors() {
    let s = scratch("quiet");
    let built = rich_image().build();
    let layout = s.path().join("layout");
    write_layout(&layout, &built, "v1");
    let src = format!("oci:{}:v1", layout.display());
    let store = s.path().join("store");
    let out = run_image(&["pull", &src, &format!("oci:{}:a", store.display())]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&built.manifest.digest));
    let out = run_image(&[
        "pull",
        "--quiet",
        &src,
        &format!("oci:{}:b", store.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b""[..], &b""[..])
    );
    let on_tty = |extra: &str, bundle: &Path| {
        let cmd = format!(
            "{} unpack {extra} {src} {}",
            image_bin().display(),
            bundle.display()
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        out.stdout
    };
    if Command::new("script").arg("--version").output().is_ok() {
        let loud = on_tty("", &s.path().join("loud"));
        assert!(!loud.is_empty(), "no progress bar drawn on the terminal");
        let quiet = on_tty("--quiet", &s.path().join("quiet"));
        assert_eq!(String::from_utf8_lossy(&quiet), "");
        assert!(s.path().join("quiet/rootfs/bin/busybox").exists());
    } else {
        eprintln!("SKIP quiet_prints_only_errors on a terminal: no script(1)");
    }
    let out = run_image(&[
        "unpack",
        "--quiet",
        &format!("oci:{}/nope:v1", s.path().display()),
        &s.path().join("b").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("berth-image: error:"));
}
