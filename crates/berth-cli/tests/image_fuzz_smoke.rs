//! A stable-toolchain stand-in for the cargo-fuzz target: structured mutations of tar headers
//! (names, link names, types) drawn from a hostile dictionary, applied twice to a sandboxed
//! rootfs. Whatever happens, nothing outside the rootfs may change.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_util;

use berth_image::{apply_layer, ApplyOptions};
use image_util::*;
use std::os::fd::AsFd;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"../",
    b"/",
    b"./",
    b".wh.",
    b".wh..wh..opq",
    b"escape",
    b"a",
    b"b/",
    b"etc/passwd",
    b"..",
    b"x",
];
const TYPES: &[u8] = b"0125673";

fn seed() -> Vec<u8> {
    let mut l = Layer::new();
    l.dir("a", 0o755)
        .file("a/f", b"data", 0o644)
        .symlink("escape", "/")
        .symlink("up", "../../..")
        .hardlink("a/h", "a/f")
        .file("escape/x", b"x", 0o644)
        .whiteout("a/f")
        .opaque("a")
        .dir("b", 0o555)
        .file("b/c", b"c", 0o4755);
    l.finish()
}

fn mutate(rng: &mut Rng, tar: &mut [u8]) {
    let headers = tar.len() / 512;
    for _ in 0..1 + rng.below(3) {
        let h = rng.below(headers) * 512;
        let block = &mut tar[h..h + 512];
        match rng.below(3) {
            0 | 1 => {
                // name (0..100) or linkname (157..257)
                let base = if rng.below(2) == 0 { 0 } else { 157 };
                let mut s = Vec::new();
                for _ in 0..1 + rng.below(5) {
                    s.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
                s.truncate(99);
                block[base..base + 100].fill(0);
                block[base..base + s.len()].copy_from_slice(&s);
            }
            _ => block[156] = TYPES[rng.below(TYPES.len())],
        }
        // Recompute the checksum so the mutated header is read rather than rejected.
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|&b| b as u32).sum();
        let cs = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(cs.as_bytes());
    }
}

#[test]
fn mutated_layers_never_escape() {
    let s = scratch("fuzz");
    let seed = seed();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut opts = ApplyOptions::default();
    opts.rootless = true;
    let mut accepted = 0;
    for i in 0..400 {
        let dir = s.path().join(format!("case{i}"));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::write(dir.join("canary"), b"canary").unwrap();
        let mut tar = seed.clone();
        mutate(&mut rng, &mut tar);
        let root = std::fs::File::open(dir.join("rootfs")).unwrap();
        let r1 = apply_layer(root.as_fd(), &tar[..], "sha256:one", &opts);
        let _ = apply_layer(root.as_fd(), &tar[..], "sha256:two", &opts);
        accepted += r1.is_ok() as usize;
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["canary", "rootfs"],
            "case {i} wrote outside the rootfs"
        );
        assert_eq!(
            std::fs::read(dir.join("canary")).unwrap(),
            b"canary",
            "case {i}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // The mutations must leave a good share of layers valid, or this tests nothing.
    assert!(
        accepted > 40,
        "only {accepted} of 400 mutated layers applied"
    );
    assert!(accepted < 400, "no mutated layer was rejected");
}
