//! Hostile layers: each must be rejected (or confined to the rootfs), with nothing written
//! outside it, an error naming the layer digest and the entry, exit status 1, and no bundle left.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_util;

use image_util::*;
use serde_json::json;
use std::path::Path;

struct Case {
    s: Scratch,
    outside: std::path::PathBuf,
}

impl Case {
    fn new(tag: &str) -> Case {
        let s = scratch(tag);
        let outside = s.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"original").unwrap();
        Case { s, outside }
    }

    fn layout(&self, layers: Vec<(Vec<u8>, Comp)>) -> Built {
        let built = Image::new(layers, json!({"Cmd": ["/bin/sh"]})).build();
        write_layout(&self.s.path().join("layout"), &built, "v1");
        built
    }

    fn unpack(&self) -> (Option<i32>, String) {
        let out = run_image(&[
            "unpack",
            &format!("oci:{}:v1", self.s.path().join("layout").display()),
            &self.s.path().join("bundle").display().to_string(),
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The outside directory holds exactly what we put there.
    fn assert_outside_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("victim")],
            "something was written outside the rootfs"
        );
        assert_eq!(
            std::fs::read(self.outside.join("victim")).unwrap(),
            b"original"
        );
        let md = std::fs::metadata(self.outside.join("victim")).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::nlink(&md),
            1,
            "victim got hardlinked"
        );
    }

    fn assert_rejected(&self, layer: &str, entry: &str) {
        let (code, stderr) = self.unpack();
        assert_eq!(code, Some(1), "hostile layer was accepted: {stderr}");
        assert!(
            stderr.contains(layer),
            "error does not name the layer {layer}: {stderr}"
        );
        assert!(
            stderr.contains(entry),
            "error does not name the entry {entry}: {stderr}"
        );
        assert!(
            !self.s.path().join("bundle").exists(),
            "failed unpack left the bundle behind"
        );
        self.assert_outside_untouched();
    }

    /// `../` steps from the rootfs up to the scratch dir.
    fn up(&self) -> String {
        let depth = self.s.path().join("bundle/rootfs").components().count();
        "../".repeat(depth)
    }
}

#[test]
fn path_traversal_is_rejected() {
    let c = Case::new("traversal");
    let target = format!(
        "{}{}",
        c.up(),
        c.outside
            .join("evil")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    let mut l = Layer::new();
    l.file("ok", b"fine", 0o644).file(&target, b"pwned", 0o644);
    let built = c.layout(vec![(l.finish(), Comp::Gzip)]);
    c.assert_rejected(&built.layers[0].digest, "evil");
}

#[test]
fn symlink_escape_then_write_stays_inside() {
    for (tag, link) in [("abs", None), ("rel", Some(()))] {
        let c = Case::new(&format!("symesc-{tag}"));
        let target = match link {
            None => c.outside.display().to_string(),
            Some(()) => format!(
                "{}{}",
                c.up(),
                c.outside.display().to_string().trim_start_matches('/')
            ),
        };
        let mut l1 = Layer::new();
        l1.symlink("escape", &target);
        let mut l2 = Layer::new();
        l2.file("escape/victim", b"pwned", 0o644)
            .file("escape/new", b"pwned", 0o644);
        let built = c.layout(vec![(l1.finish(), Comp::Gzip), (l2.finish(), Comp::Zstd)]);
        let (code, stderr) = c.unpack();
        // Resolved inside the rootfs the link points at a directory that does not exist there,
        // so the write fails; what matters is that it cannot land outside.
        assert_eq!(code, Some(1), "{tag}: {stderr}");
        assert!(
            stderr.contains(&built.layers[1].digest) && stderr.contains("escape/"),
            "{tag}: {stderr}"
        );
        c.assert_outside_untouched();
    }
}

#[test]
fn symlink_escape_into_existing_dir_is_confined() {
    let c = Case::new("symconf");
    let mut l1 = Layer::new();
    // The same absolute path exists inside the rootfs, so the write succeeds - inside it.
    let inside = c.outside.display().to_string();
    l1.dir(inside.trim_start_matches('/'), 0o755)
        .symlink("escape", &inside);
    let mut l2 = Layer::new();
    l2.file("escape/victim", b"pwned", 0o644);
    c.layout(vec![(l1.finish(), Comp::Gzip), (l2.finish(), Comp::Gzip)]);
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(0), "{stderr}");
    let confined =
        c.s.path()
            .join("bundle/rootfs")
            .join(inside.trim_start_matches('/'))
            .join("victim");
    assert_eq!(std::fs::read(confined).unwrap(), b"pwned");
    c.assert_outside_untouched();
}

#[test]
fn hardlink_to_outside_is_rejected() {
    let c = Case::new("hardlink");
    let target = format!(
        "{}{}",
        c.up(),
        c.outside
            .join("victim")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    let mut l = Layer::new();
    l.hardlink("stolen", &target);
    let built = c.layout(vec![(l.finish(), Comp::Gzip)]);
    c.assert_rejected(&built.layers[0].digest, "stolen");
}

#[test]
fn hardlink_through_escaping_symlink_stays_inside() {
    let c = Case::new("hardsym");
    let mut l1 = Layer::new();
    l1.symlink("escape", &c.outside.display().to_string());
    let mut l2 = Layer::new();
    l2.hardlink("stolen", "escape/victim");
    let built = c.layout(vec![(l1.finish(), Comp::Gzip), (l2.finish(), Comp::Gzip)]);
    // Resolved in the rootfs there is no such file: refused, and the host file gains no link.
    c.assert_rejected(&built.layers[1].digest, "stolen");
}

#[test]
fn digest_mismatch_aborts_and_cleans_up() {
    let c = Case::new("digest");
    let mut l = busybox_layer("");
    l.file("etc/hosts", b"127.0.0.1 localhost\n", 0o644);
    let built = c.layout(vec![(l.finish(), Comp::Gzip)]);
    // Flip one byte near the end of the stored blob (same size, different hash).
    let p =
        c.s.path()
            .join("layout/blobs/sha256")
            .join(built.layers[0].digest.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&p).unwrap();
    let n = data.len() - 12;
    data[n] ^= 0xff;
    std::fs::write(&p, data).unwrap();
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&built.layers[0].digest), "{stderr}");
    assert!(
        stderr.contains("mismatch") || stderr.contains("corrupt") || stderr.contains("invalid"),
        "{stderr}"
    );
    assert!(!c.s.path().join("bundle").exists());
}

#[test]
fn truncated_gzip_is_rejected_even_with_a_matching_descriptor() {
    let c = Case::new("truncated");
    let mut l = busybox_layer("");
    l.file("etc/hosts", b"127.0.0.1 localhost\n", 0o644);
    let tar = l.finish();
    let gz = compress(&tar, Comp::Gzip);
    let cut = gz[..gz.len() / 2].to_vec();
    // A layer whose descriptor honestly describes the truncated blob; the diff_id still says
    // what the full tar hashes to.
    let mut built = Image::new(vec![(tar, Comp::Gzip)], json!({})).build();
    let digest = format!("sha256:{}", sha256_hex(&cut));
    let mut m: serde_json::Value = serde_json::from_slice(&built.manifest.data).unwrap();
    m["layers"][0]["digest"] = json!(digest);
    m["layers"][0]["size"] = json!(cut.len());
    built.layers[0].data = cut;
    built.layers[0].digest = digest.clone();
    built.manifest.data = serde_json::to_vec(&m).unwrap();
    built.manifest.digest = format!("sha256:{}", sha256_hex(&built.manifest.data));
    write_layout(&c.s.path().join("layout"), &built, "v1");
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&digest), "{stderr}");
    assert!(!c.s.path().join("bundle").exists());
}

#[test]
fn layer_not_matching_its_diff_id_is_rejected() {
    // The blob is intact (its digest and size match the manifest) but decompresses to
    // something other than what the config's diff_id says: the unpack fails naming the layer.
    let c = Case::new("diffid");
    let mut l1 = busybox_layer("");
    l1.file("etc/hosts", b"127.0.0.1 localhost\n", 0o644);
    let mut l2 = Layer::new();
    l2.file("etc/motd", b"hello\n", 0o644);
    let mut built = Image::new(
        vec![(l1.finish(), Comp::Gzip), (l2.finish(), Comp::Gzip)],
        json!({}),
    )
    .build();
    let mut cfg: serde_json::Value = serde_json::from_slice(&built.config.data).unwrap();
    let wrong = format!("sha256:{}", sha256_hex(b"some other tar"));
    cfg["rootfs"]["diff_ids"][1] = json!(wrong);
    built.config.data = serde_json::to_vec(&cfg).unwrap();
    built.config.digest = format!("sha256:{}", sha256_hex(&built.config.data));
    let mut m: serde_json::Value = serde_json::from_slice(&built.manifest.data).unwrap();
    m["config"] = built.config.desc();
    built.manifest.data = serde_json::to_vec(&m).unwrap();
    built.manifest.digest = format!("sha256:{}", sha256_hex(&built.manifest.data));
    write_layout(&c.s.path().join("layout"), &built, "v1");
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("diff_id mismatch")
            && stderr.contains(&built.layers[1].digest)
            && stderr.contains(&wrong),
        "{stderr}"
    );
    assert!(!c.s.path().join("bundle").exists());
}

#[test]
fn decompression_bomb_is_bounded() {
    let c = Case::new("bomb");
    let mut l = Layer::new();
    l.file("zeros", &vec![0u8; 16 << 20], 0o644);
    let built = c.layout(vec![(l.finish(), Comp::Zstd)]);
    let out = run_image(&[
        "unpack",
        "--max-ratio",
        "100",
        &format!("oci:{}:v1", c.s.path().join("layout").display()),
        &c.s.path().join("bundle").display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("decompression bomb") && stderr.contains(&built.layers[0].digest),
        "{stderr}"
    );
    assert!(!c.s.path().join("bundle").exists());
}

#[test]
fn non_empty_bundle_is_refused_and_kept() {
    let c = Case::new("nonempty");
    c.layout(vec![(Layer::new().finish(), Comp::Gzip)]);
    let bundle = c.s.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("precious"), b"keep me").unwrap();
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(std::fs::read(bundle.join("precious")).unwrap(), b"keep me");
    assert!(Path::new(&bundle).exists());
}

#[test]
fn absolute_names_land_inside_the_rootfs() {
    let c = Case::new("absolute");
    let abs = c.outside.join("victim").display().to_string();
    let mut l = Layer::new();
    l.file(&abs, b"pwned", 0o644)
        .symlink("/abs-link", &abs)
        .hardlink("/abs-hard", &abs);
    c.layout(vec![(l.finish(), Comp::Gzip)]);
    let (code, stderr) = c.unpack();
    assert_eq!(code, Some(0), "{stderr}");
    let rootfs = c.s.path().join("bundle/rootfs");
    let inside = rootfs.join(abs.trim_start_matches('/'));
    assert_eq!(std::fs::read(&inside).unwrap(), b"pwned");
    // The hardlink joined the in-rootfs file, not the host one.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(rootfs.join("abs-hard")).unwrap().ino(),
        std::fs::metadata(&inside).unwrap().ino()
    );
    c.assert_outside_untouched();
}

#[test]
fn interrupted_unpack_removes_the_bundle() {
    let c = Case::new("sigint");
    let mut l = busybox_layer("");
    for i in 0..200 {
        l.file(&format!("etc/many/f{i}"), &[b'x'; 4096], 0o644);
    }
    let tar = l.finish();
    let built = c.layout(vec![(tar.clone(), Comp::None)]);
    // Serve the layer through a fifo so we control when its second half arrives.
    let blob =
        c.s.path()
            .join("layout/blobs/sha256")
            .join(built.layers[0].digest.trim_start_matches("sha256:"));
    std::fs::remove_file(&blob).unwrap();
    nix::unistd::mkfifo(&blob, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let bundle = c.s.path().join("bundle");
    let child = std::process::Command::new(image_bin())
        .arg("unpack")
        .arg(format!("oci:{}:v1", c.s.path().join("layout").display()))
        .arg(&bundle)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut fifo = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
    use std::io::Write;
    let half = tar.len() / 2;
    fifo.write_all(&tar[..half]).unwrap();
    // Wait until the unpack is under way, then interrupt it.
    while !bundle.join("rootfs/bin/busybox").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let _ = fifo.write_all(&tar[half..]);
    drop(fifo);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        !bundle.exists(),
        "interrupted unpack left the bundle behind"
    );
}
