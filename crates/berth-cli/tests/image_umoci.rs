//! Cross-check against umoci: the same image unpacked by both must give the same rootfs
//! (paths, types, modes, owners, xattrs, content hashes, link targets, device numbers).

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
    if extra.contains(&"--rootless") {
        cmd.arg("--rootless");
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
    let d = diff_trees(&tree(&ours.join("rootfs")), &tree(&theirs.join("rootfs")));
    assert!(
        d.is_empty(),
        "berth-image and umoci disagree ({} differences):\n{}",
        d.len(),
        d.join("\n")
    );
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
    let a = tree(&ours.join("rootfs"));
    assert!(a.len() > 5000, "Debian tree implausibly small: {}", a.len());
    let d = diff_trees(&a, &tree(&theirs.join("rootfs")));
    assert!(
        d.is_empty(),
        "berth-image and umoci disagree ({} differences):\n{}",
        d.len(),
        d.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
