//! Cross-check against umoci: the same image unpacked by both must give the same rootfs
//! (paths, types, modes, owners, xattrs, content hashes, link targets, device numbers).

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
