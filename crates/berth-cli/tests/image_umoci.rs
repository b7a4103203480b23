//! Cross-check against umoci: the same image unpacked by both must give the same rootfs
//! (paths, types, modes, owners, xattrs, content hashes, link targets, device numbers); for
//! layers written by GNU tar, mtimes to the nanosecond and hard links too.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_util;

use image_util::*;
use std::process::Command;

fn have_umoci() -> bool {
    Command::new("umoci")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn compare(tag: &str, img: Image, extra: &[&str]) {
    compare_with(tag, img, extra, tree);
}

/// [`compare`] with `walk` to read each rootfs.
fn compare_with(
    tag: &str,
    img: Image,
    extra: &[&str],
    walk: fn(&std::path::Path) -> std::collections::BTreeMap<String, String>,
) {
    // umoci 0.4 predates zstd layers: give it the same tars gzip-compressed.
    let layers = img
        .layers
        .into_iter()
        .map(|(t, c)| (t, if c == Comp::Zstd { Comp::Gzip } else { c }))
        .collect();
    let img = Image::new(layers, img.exec_config);
    let s = scratch(tag);
    let layout = s.path().join("layout");
    write_layout(&layout, &img.build(), "v1");
    let ours = s.path().join("ours");
    let theirs = s.path().join("theirs");
    let mut args = vec!["unpack"];
    args.extend_from_slice(extra);
    let src = format!("oci:{}:v1", layout.display());
    let dst = ours.display().to_string();
    args.extend([src.as_str(), dst.as_str()]);
    let out = run_image(&args);
    assert!(
        out.status.success(),
        "berth-image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = Command::new("umoci");
    cmd.arg("unpack");
    for flag in ["--rootless", "--keep-dirlinks"] {
        if extra.contains(&flag) {
            cmd.arg(flag);
        }
    }
    let out = cmd
        .arg("--image")
        .arg(format!("{}:v1", layout.display()))
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = diff_trees(&walk(&ours.join("rootfs")), &walk(&theirs.join("rootfs")));
    assert!(
        d.is_empty(),
        "berth-image and umoci disagree ({} differences):\n{}",
        d.len(),
        d.join("\n")
    );
}

/// Layers that put a directory where a lower layer left a symlink: to a directory (relative,
/// absolute, climbing above the root, and through a second symlink), to a file, and dangling.
fn dirlink_image() -> Image {
    let mut l1 = Layer::new();
    l1.dir(".", 0o755)
        .dir("real", 0o755)
        .file("real/old", b"lower", 0o644)
        .dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .symlink("lib", "usr/lib")
        .symlink("abs", "/real")
        .symlink("up", "../../real")
        .symlink("twice", "lib")
        .file("plain", b"f", 0o644)
        .symlink("tofile", "plain")
        .symlink("dangling", "nowhere");
    let mut l2 = Layer::new();
    l2.mtime(1_700_000_000);
    for d in ["lib", "abs", "up", "twice", "tofile", "dangling"] {
        l2.dir(d, 0o750)
            .file(&format!("{d}/new"), d.as_bytes(), 0o600);
    }
    Image::new(
        vec![(l1.finish(), Comp::Gzip), (l2.finish(), Comp::Gzip)],
        serde_json::json!({}),
    )
}

#[test]
fn keep_dirlinks_same_as_umoci() {
    if !have_umoci() || !is_root() {
        eprintln!("SKIP keep_dirlinks_same_as_umoci: needs umoci and root");
        return;
    }
    // Owners, modes and mtimes (umoci's mtree walk moves atimes).
    let exact = |p: &std::path::Path| without_atimes(&tree_exact(p));
    compare_with(
        "dirlinks-keep",
        dirlink_image(),
        &["--keep-dirlinks"],
        exact,
    );
    compare_with("dirlinks-replace", dirlink_image(), &[], exact);
}

#[test]
fn same_rootfs_as_umoci() {
    if !have_umoci() {
        eprintln!("SKIP same_rootfs_as_umoci: umoci is not installed (apt-get install umoci)");
        return;
    }
    if !is_root() {
        eprintln!("SKIP same_rootfs_as_umoci: the root-mode comparison needs root");
        return;
    }
    compare("umoci", rich_image(), &[]);
}

#[test]
fn same_rootfs_as_umoci_rootless() {
    if !have_umoci() {
        eprintln!(
            "SKIP same_rootfs_as_umoci_rootless: umoci is not installed (apt-get install umoci)"
        );
        return;
    }
    compare("umoci-rootless", rich_image(), &["--rootless"]);
}

/// The Debian image `make bench-image` builds (debootstrap minbase + perl + python3, ~10k
/// entries), when present: a real distribution rootfs must also come out identical to umoci's.
#[test]
fn same_debian_rootfs_as_umoci() {
    let layout = std::env::var("BERTH_IMAGE_DEBIAN_LAYOUT")
        .unwrap_or_else(|_| "/var/tmp/berth-bench-image/layout".into());
    if !std::path::Path::new(&layout).join("index.json").exists() {
        eprintln!("SKIP same_debian_rootfs_as_umoci: no Debian layout at {layout} (run `make bench-image` once)");
        return;
    }
    if !have_umoci() || !is_root() {
        eprintln!("SKIP same_debian_rootfs_as_umoci: needs umoci and root");
        return;
    }
    let s = scratch("debian");
    let ours = s.path().join("ours");
    let out = run_image(&[
        "unpack",
        &format!("oci:{layout}:bench"),
        &ours.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "berth-image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = s.path().join("theirs");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{layout}:bench"))
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // To the nanosecond: GNU tar's PAX layers carry sub-second mtimes (atimes: see
    // gnu_tar_layers_same_as_umoci_to_the_nanosecond).
    let a = without_atimes(&tree_exact(&ours.join("rootfs")));
    assert!(a.len() > 5000, "Debian tree implausibly small: {}", a.len());
    let d = diff_trees(&a, &without_atimes(&tree_exact(&theirs.join("rootfs"))));
    assert!(
        d.is_empty(),
        "berth-image and umoci disagree ({} differences):\n{}",
        d.len(),
        d.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// A [`tree_exact`] without its atimes, for comparing with unpackers that move them (umoci's
/// mtree walk, tar -x).
fn without_atimes(
    t: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    t.iter()
        .map(|(k, v)| {
            let v: Vec<&str> = v.split(' ').filter(|w| !w.starts_with("atime=")).collect();
            (k.clone(), v.join(" "))
        })
        .collect()
}

/// Sets atime and mtime (to the nanosecond) of `p`, not following a symlink.
fn set_times(p: &std::path::Path, atime: (i64, u32), mtime: (i64, u32)) {
    let at = format!("@{}.{:09}", atime.0, atime.1);
    let mt = format!("@{}.{:09}", mtime.0, mtime.1);
    for (flag, t) in [("-a", at), ("-m", mt)] {
        let st = Command::new("touch")
            .args(["-h", flag, "-d", &t])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success(), "touch {}", p.display());
    }
}

fn set_owner(p: &std::path::Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

fn set_xattr(p: &std::path::Path, k: &str, v: &[u8]) {
    use std::os::fd::AsFd;
    let f = std::fs::File::open(p).unwrap();
    berth_sys::xattr::fsetxattr(f.as_fd(), std::ffi::OsStr::new(k), v).unwrap();
}

/// A 3 MiB file with data at 1 MiB and 3 bytes at its end: holes elsewhere.
fn sparse_file(p: &std::path::Path, marker: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(p).unwrap();
    f.set_len(3 << 20).unwrap();
    f.write_all_at(marker, 1 << 20).unwrap();
    f.write_all_at(b"end", (3 << 20) - 3).unwrap();
}

/// Tars `dir`'s contents with GNU tar (`args` pick the format), as a layer.
fn gnu_tar(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("tar")
        .args(["--numeric-owner", "-cf", "-"])
        .args(args)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Four layers written by GNU tar: PAX with sparse 1.0 (xattrs, sub-second times, large ids,
/// setuid, long names, hard and symbolic links, a fifo), PAX with sparse 0.0 (a whiteout, a
/// re-declared directory), the GNU format (long-name records), and PAX with sparse 0.1 (long
/// symbolic and hard link targets).
fn gnu_tar_layers(s: &std::path::Path) -> Vec<Vec<u8>> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let long = "d".repeat(60) + "/" + &"e".repeat(70);
    let l1 = s.join("l1");
    for d in ["etc", "bin", "data", &long] {
        std::fs::create_dir_all(l1.join(d)).unwrap();
    }
    std::fs::write(l1.join("etc/conf"), b"conf\n").unwrap();
    mode(&l1.join("etc/conf"), 0o640);
    set_owner(&l1.join("etc/conf"), 1000, 1000);
    set_xattr(&l1.join("etc/conf"), "user.berth", b"v1");
    std::fs::write(l1.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    mode(&l1.join("bin/tool"), 0o4755);
    // A file capability (cap_net_raw, effective: what `setcap cap_net_raw+ep` writes) and a
    // trusted.* xattr, beside the user.* one: SCHILY.xattr records of every namespace.
    std::fs::write(l1.join("bin/ping"), b"ping").unwrap();
    set_owner(&l1.join("bin/ping"), 0, 0);
    set_xattr(
        &l1.join("bin/ping"),
        "security.capability",
        &[
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    set_xattr(&l1.join("bin/ping"), "trusted.berth", b"t1");
    std::fs::write(l1.join("bin/big-id"), b"x").unwrap();
    set_owner(&l1.join("bin/big-id"), 3_000_000, 3_000_001);
    sparse_file(&l1.join("data/sparse.img"), b"one");
    std::fs::hard_link(l1.join("etc/conf"), l1.join("data/hard")).unwrap();
    symlink("../etc/conf", l1.join("data/link")).unwrap();
    std::fs::write(l1.join(&long).join("f".repeat(40)), b"long").unwrap();
    let st = Command::new("mkfifo")
        .arg(l1.join("data/pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    mode(&l1.join("etc"), 0o750);
    set_owner(&l1.join("etc"), 0, 42);
    let mut n = 0u32;
    for p in [
        "etc/conf",
        "bin/tool",
        "bin/big-id",
        "data/sparse.img",
        "data/link",
        "data/pipe",
        &format!("{long}/{}", "f".repeat(40)),
        &long,
        "etc",
        "bin",
        "data",
        "",
    ] {
        n += 1;
        set_times(
            &l1.join(p),
            (1_796_347_600 + i64::from(n), n * 7_654_321),
            (1_796_347_534, 990_000_000 + n),
        );
    }
    let xattrs = ["--xattrs", "--xattrs-include=*"];
    let t1 = gnu_tar(&l1, &[&["--sparse", "--format=pax"][..], &xattrs].concat());

    let l2 = s.join("l2");
    std::fs::create_dir_all(l2.join("bin")).unwrap();
    std::fs::create_dir_all(l2.join("data")).unwrap();
    std::fs::write(l2.join("bin/.wh.tool"), b"").unwrap();
    sparse_file(&l2.join("data/sparse0.img"), b"zero");
    std::fs::write(l2.join("data/new"), b"new").unwrap();
    for (i, p) in [
        "bin/.wh.tool",
        "data/sparse0.img",
        "data/new",
        "bin",
        "data",
        "",
    ]
    .iter()
    .enumerate()
    {
        set_times(
            &l2.join(p),
            (1_700_000_000, 5),
            (1_700_000_000 + i as i64, 123_456_789),
        );
    }
    let t2 = gnu_tar(
        &l2,
        &[
            &["--sparse", "--format=pax", "--sparse-version=0.0"][..],
            &xattrs,
        ]
        .concat(),
    );

    let l3 = s.join("l3");
    let long3 = "g".repeat(120);
    std::fs::create_dir_all(l3.join("data")).unwrap();
    std::fs::write(l3.join("data").join(&long3), b"gnu long name").unwrap();
    std::fs::write(l3.join("data/new"), b"replaced").unwrap();
    symlink("x".repeat(150), l3.join("data/longlink")).unwrap();
    for p in ["data/new", "data", ""] {
        set_times(&l3.join(p), (1_650_000_000, 0), (1_650_000_001, 0));
    }
    let t3 = gnu_tar(&l3, &["--format=gnu"]);

    // PAX with sparse 0.1, and long link targets as PAX linkpath records: a symbolic link's,
    // and a hard link's to a file whose name is longer than a ustar header holds.
    let l4 = s.join("l4");
    let long4 = "h".repeat(90) + "/" + &"i".repeat(60);
    std::fs::create_dir_all(l4.join("data")).unwrap();
    std::fs::create_dir_all(l4.join(&long4)).unwrap();
    sparse_file(&l4.join("data/sparse01.img"), b"zero-one");
    std::fs::write(l4.join(&long4).join("target"), b"hard to a long name").unwrap();
    std::fs::hard_link(l4.join(&long4).join("target"), l4.join("data/hard-long")).unwrap();
    symlink("y".repeat(180), l4.join("data/pax-longlink")).unwrap();
    for (i, p) in [
        "data/sparse01.img",
        "data/pax-longlink",
        &format!("{long4}/target"),
        &long4,
        "data",
        "",
    ]
    .iter()
    .enumerate()
    {
        set_times(
            &l4.join(p),
            (1_600_000_000, 42),
            (1_600_000_000 + i as i64, 987_654_321),
        );
    }
    let t4 = gnu_tar(&l4, &["--sparse", "--format=pax", "--sparse-version=0.1"]);
    vec![t1, t2, t3, t4]
}

/// The same image, its layers made by GNU tar in its PAX (sparse 1.0 and 0.0) and GNU formats,
/// unpacked by berth-image and by umoci: byte-for-byte the same rootfs, atime and mtime to the
/// nanosecond and hard links included; and berth-image's sparse files keep their holes.
#[test]
fn gnu_tar_layers_same_as_umoci_to_the_nanosecond() {
    use std::os::unix::fs::MetadataExt;
    if !have_umoci() || !is_root() {
        eprintln!("SKIP gnu_tar_layers_same_as_umoci_to_the_nanosecond: needs umoci and root");
        return;
    }
    let s = scratch("gnutar");
    let layers = gnu_tar_layers(s.path());
    let img = Image::new(
        layers
            .into_iter()
            .zip([Comp::Gzip, Comp::None, Comp::Gzip, Comp::None])
            .collect(),
        serde_json::json!({}),
    );
    let layout = s.path().join("layout");
    write_layout(&layout, &img.build(), "v1");
    let ours = s.path().join("ours");
    let out = run_image(&[
        "unpack",
        &format!("oci:{}:v1", layout.display()),
        &ours.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "berth-image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = s.path().join("theirs");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:v1", layout.display()))
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = tree_exact(&ours.join("rootfs"));
    // umoci sets atimes from the tar too, but then reads every file and lists every
    // directory for its mtree manifest, which moves them to the time of the unpack: atimes
    // are compared with what GNU tar recorded instead (below).
    let b = tree_exact(&theirs.join("rootfs"));
    let d = diff_trees(&without_atimes(&a), &without_atimes(&b));
    assert!(
        d.is_empty(),
        "berth-image and umoci disagree ({} differences):\n{}",
        d.len(),
        d.join("\n")
    );
    // What the comparison must have seen, so it cannot pass on two empty trees.
    for (p, want) in [
        ("data/sparse.img", "mtime=1796347534.990000004"),
        ("etc/conf", "owner=1000:1000"),
        ("data/hard", "inode-of=data/hard"),
        ("etc/conf", "inode-of=data/hard"),
        ("bin/big-id", "owner=3000000:3000001"),
        ("bin/ping", "security.capability"),
        ("bin/ping", "trusted.berth"),
        ("data/new", "mtime=1650000001.000000000"),
        // PAX atimes as GNU tar recorded them; the GNU format has none: the mtime.
        ("etc/conf", "atime=1796347601.007654321"),
        ("data/link", "atime=1796347605.038271605"),
        ("data/sparse0.img", "atime=1700000000.000000005"),
        ("bin", "atime=1700000000.000000005"),
        ("data/new", "atime=1650000001.000000000"),
        ("data/sparse01.img", "mtime=1600000000.987654321"),
        ("data/hard-long", "inode-of=data/hard-long"),
    ] {
        let v = a.get(p).unwrap_or_else(|| panic!("{p} missing"));
        assert!(v.contains(want), "{p}: {v} lacks {want}");
    }
    assert!(!a.contains_key("bin/tool") && a.contains_key("bin"));
    assert_eq!(
        std::fs::read_link(ours.join("rootfs/data/pax-longlink")).unwrap(),
        std::path::PathBuf::from("y".repeat(180))
    );
    let long4 = "h".repeat(90) + "/" + &"i".repeat(60) + "/target";
    assert!(
        a.get(&long4)
            .is_some_and(|v| v.contains("inode-of=data/hard-long")),
        "{:?}",
        a.get(&long4)
    );
    for f in ["data/sparse.img", "data/sparse0.img", "data/sparse01.img"] {
        let md = std::fs::metadata(ours.join("rootfs").join(f)).unwrap();
        assert_eq!(md.len(), 3 << 20, "{f}");
        assert!(md.blocks() < 256, "{f}: {} blocks: no holes", md.blocks());
    }
}

/// umoci refuses old GNU sparse entries ('S', `tar --sparse --format=gnu`): those are checked
/// against GNU tar's own extraction instead, holes included.
#[test]
fn old_gnu_sparse_same_as_gnu_tar() {
    use std::os::unix::fs::MetadataExt;
    if !is_root() {
        eprintln!("SKIP old_gnu_sparse_same_as_gnu_tar: owners need root");
        return;
    }
    let s = scratch("oldgnu");
    let src = s.path().join("src");
    std::fs::create_dir_all(src.join("data")).unwrap();
    sparse_file(&src.join("data/sparse.img"), b"old gnu");
    std::fs::write(src.join("data/dense"), b"dense").unwrap();
    set_owner(&src.join("data/dense"), 7, 8);
    for p in ["data/sparse.img", "data/dense", "data", ""] {
        set_times(&src.join(p), (1_600_000_000, 0), (1_600_000_100, 0));
    }
    let t = gnu_tar(&src, &["--sparse", "--format=gnu"]);
    let x = s.path().join("x");
    std::fs::create_dir(&x).unwrap();
    std::fs::write(s.path().join("l.tar"), &t).unwrap();
    let st = Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(s.path().join("l.tar"))
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let img = Image::new(vec![(t, Comp::Gzip)], serde_json::json!({}));
    let layout = s.path().join("layout");
    write_layout(&layout, &img.build(), "v1");
    let ours = s.path().join("ours");
    let out = run_image(&[
        "unpack",
        &format!("oci:{}:v1", layout.display()),
        &ours.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "berth-image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = without_atimes(&tree_exact(&ours.join("rootfs")));
    let d = diff_trees(&a, &without_atimes(&tree_exact(&x)));
    assert!(
        d.is_empty(),
        "berth-image and tar -x disagree:\n{}",
        d.join("\n")
    );
    assert!(
        a["data/dense"].contains("owner=7:8 ")
            && a["data/sparse.img"].contains("mtime=1600000100.0")
    );
    let md = std::fs::metadata(ours.join("rootfs/data/sparse.img")).unwrap();
    assert_eq!(md.len(), 3 << 20);
    assert!(md.blocks() < 256, "{} blocks: no holes", md.blocks());
}
