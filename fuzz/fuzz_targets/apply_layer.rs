//! Fuzzes the tar/whiteout layer applier: any byte string, applied as a layer (twice, so later
//! layers meet whatever the first left behind, symlinks included), must either fail cleanly or
//! succeed, and must never touch anything outside the rootfs.
//!
//! Run: `cargo fuzz run apply_layer` from fuzz/ (nightly toolchain, cargo-fuzz installed).
#![no_main]

use berth_image::{apply_layer, ApplyOptions};
use libfuzzer_sys::fuzz_target;
use std::os::fd::AsFd;
use std::path::PathBuf;

fn sandbox() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rootfs")).expect("sandbox");
    std::fs::write(dir.join("canary"), b"canary").expect("canary");
    dir
}

fuzz_target!(|data: &[u8]| {
    let dir = sandbox();
    let root = std::fs::File::open(dir.join("rootfs")).expect("open rootfs");
    // Rootless: no device nodes or chowns on the fuzzing host.
    let mut opts = ApplyOptions::default();
    opts.rootless = true;
    let _ = apply_layer(root.as_fd(), data, "sha256:fuzz-1", &opts);
    let _ = apply_layer(root.as_fd(), data, "sha256:fuzz-2", &opts);
    // Invariant: the sandbox holds exactly rootfs/ and an untouched canary.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["canary", "rootfs"],
        "layer wrote outside the rootfs"
    );
    assert_eq!(
        std::fs::read(dir.join("canary")).expect("canary"),
        b"canary"
    );
    let _ = std::fs::remove_dir_all(&dir);
});
