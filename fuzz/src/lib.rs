//! The fuzz targets' bodies, one function per target: `src/bin/*.rs` hands each AFL++ input to
//! one of them, and `tests/corpus.rs` replays the committed corpus (and every crash found so
//! far, under `corpus/*/regressions`) through them as ordinary tests.
//!
//! A target fails by panicking: on any panic in berth's code (an index out of range, an
//! overflow: the targets are built with debug assertions) and when an invariant stated here
//! does not hold. An error return is never a failure: it is what bad input should get.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The committed bundle directory config.json is read against (an empty `rootfs/`, so that
/// relative bind sources and `root.path` resolve to something real). Nothing writes to it.
fn bundle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle")
}

/// `config`: config.json as `berth create` reads it: parsed, checked by berth-spec, then the
/// checks berth-runtime makes before it creates anything (security fields: capabilities,
/// rlimits, scheduler, ioprio, user, personality, sysctls, seccomp; rootfs fields: mounts and
/// their options, devices, masked paths, propagation, cwd), none of which needs root.
pub fn config(data: &[u8]) {
    let Ok(cfg) = berth_spec::parse_bundle_config(&bundle_dir(), data) else {
        return;
    };
    let _ = berth_runtime::security::validate(&cfg.spec);
    let _ = berth_runtime::rootfs::validate(&cfg.spec, &cfg.bundle);
}

/// A fresh directory for one input: `DIR/canary` (a file no layer may touch) beside
/// `DIR/rootfs` (where the layer goes). Unique per process and call, so the corpus tests can
/// run in parallel threads.
struct Sandbox {
    dir: PathBuf,
}

const CANARY: &[u8] = b"canary: a layer must never reach this file\n";

impl Sandbox {
    fn new() -> Sandbox {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var_os("BERTH_FUZZ_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!(
            "berth-fuzz-layer-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        must(
            fs::create_dir_all(dir.join("rootfs")),
            "creating the sandbox",
        );
        must(fs::write(dir.join("canary"), CANARY), "writing the canary");
        must(
            fs::set_permissions(dir.join("canary"), fs::Permissions::from_mode(0o644)),
            "chmod of the canary",
        );
        must(
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)),
            "chmod of the sandbox",
        );
        Sandbox { dir }
    }

    /// The invariant: the sandbox holds exactly `canary` (unchanged: contents, mode, a regular
    /// file) and `rootfs` (still a directory, not a symlink), and its own mode is unchanged.
    fn check(&self) {
        let mut names: Vec<_> = must(fs::read_dir(&self.dir), "reading the sandbox")
            .map(|e| must(e, "a sandbox entry").file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["canary", "rootfs"],
            "the layer wrote outside the rootfs"
        );
        let canary = must(
            fs::symlink_metadata(self.dir.join("canary")),
            "stat of the canary",
        );
        assert!(canary.is_file(), "the canary was replaced");
        assert_eq!(
            canary.permissions().mode() & 0o7777,
            0o644,
            "the canary's mode was changed"
        );
        assert_eq!(
            must(fs::read(self.dir.join("canary")), "reading the canary"),
            CANARY,
            "the canary was written"
        );
        let rootfs = must(
            fs::symlink_metadata(self.dir.join("rootfs")),
            "stat of rootfs",
        );
        assert!(rootfs.is_dir(), "rootfs is no longer a directory");
        let me = must(fs::symlink_metadata(&self.dir), "stat of the sandbox");
        assert_eq!(
            me.permissions().mode() & 0o7777,
            0o700,
            "the sandbox's mode was changed"
        );
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A layer may leave directories without write or search permission: open them up
        // first (as root that is not needed, as a user it is).
        fn open_up(p: &Path) {
            let Ok(md) = fs::symlink_metadata(p) else {
                return;
            };
            if md.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                if let Ok(rd) = fs::read_dir(p) {
                    for e in rd.flatten() {
                        open_up(&e.path());
                    }
                }
            }
        }
        if fs::remove_dir_all(&self.dir).is_err() {
            open_up(&self.dir);
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fails the target for a failure of the harness itself (not of the code under test).
fn must<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("fuzz harness: {what}: {e}"),
    }
}

/// `layer`: the input as an uncompressed layer tar, applied unprivileged (`rootless`: no
/// device nodes, ownership kept in an xattr) to an empty rootfs, then once more over what the
/// first pass left (so later entries meet earlier symlinks, whiteouts and opaque markers).
/// Either pass may fail; neither may touch anything outside the rootfs.
pub fn layer(data: &[u8]) {
    let data = fix_tar_checksums(data);
    let data = data.as_slice();
    let sandbox = Sandbox::new();
    let root = must(
        fs::File::open(sandbox.dir.join("rootfs")),
        "opening the rootfs",
    );
    let mut opts = berth_image::ApplyOptions::default();
    opts.rootless = true;
    let _ = berth_image::apply_layer(root.as_fd(), data, "sha256:fuzz-1", &opts);
    sandbox.check();
    let _ = berth_image::apply_layer(root.as_fd(), data, "sha256:fuzz-2", &opts);
    sandbox.check();
}

/// The input with every tar header's checksum made right, so that mutations of a header reach
/// the applier instead of stopping at the tar crate's checksum check. Headers are found as the
/// applier's reader finds them: one at 0, the next after the entry's data (its octal size
/// rounded up to 512-byte blocks); the walk stops at a size it cannot read.
fn fix_tar_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut off = 0usize;
    while off + 512 <= out.len() {
        let h = &mut out[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            off += 512;
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        let field = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(field.as_bytes());
        let size = std::str::from_utf8(&h[124..136])
            .ok()
            .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
            .and_then(|s| u64::from_str_radix(s, 8).ok());
        let Some(size) = size else { break };
        let Some(blocks) = usize::try_from(size.div_ceil(512)).ok() else {
            break;
        };
        let Some(next) = blocks
            .checked_mul(512)
            .and_then(|n| n.checked_add(off + 512))
        else {
            break;
        };
        off = next;
    }
    out
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
alice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nalice:x:1000:\nwheel:x:10:alice,bob\n";

/// The committed rootfs (fuzz/image-rootfs: /etc/passwd and /etc/group holding [`PASSWD`] and
/// [`GROUP`]) an image config's `User` is resolved in. Nothing writes to it.
fn image_rootfs() -> fs::File {
    must(
        fs::File::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("image-rootfs")),
        "opening the image rootfs",
    )
}

/// `registry_json`: a registry's manifest response body (or any JSON document of an image):
/// read as an index, a manifest and an image config, as the registry reader and the resolver
/// read them; an image config is also turned into config.json as `unpack` does (rootful and
/// rootless), and that config.json must then load: a bundle berth-image writes is one berth
/// can run.
pub fn registry_json(data: &[u8]) {
    berth_image::fuzzing::registry_document(None, data);
    berth_image::fuzzing::registry_document(Some("application/vnd.oci.image.index.v1+json"), data);
    let root = image_rootfs();
    for rootless in [false, true] {
        if let Some(config) = berth_image::fuzzing::image_config(data, root.as_fd(), rootless) {
            let _ = berth_spec::parse_bundle_config(&bundle_dir(), &config);
        }
    }
}

/// `registry_text`: the text a registry or a user gives berth-image: a `WWW-Authenticate`
/// header, an image reference (and the other source forms, digests, platforms), an image's
/// `User`. A parsed registry reference, written back out in full, must parse to itself.
pub fn registry_text(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((scheme, params)) = berth_image::fuzzing::www_authenticate(s) {
        assert_eq!(scheme, scheme.to_lowercase(), "the scheme is lower case");
        for (k, _) in &params {
            assert_eq!(*k, k.to_lowercase(), "parameter names are lower case");
        }
    }
    let _ = berth_image::fuzzing::user(s, PASSWD, GROUP);
    if let Some(r) = berth_image::fuzzing::references(s) {
        let mut full = format!("{}/{}", r.host, r.repo);
        if let Some(t) = &r.tag {
            full.push(':');
            full.push_str(t);
        }
        if r.reference != r.tag.clone().unwrap_or_else(|| "latest".into()) {
            full.push('@');
            full.push_str(&r.reference);
        }
        match berth_image::RegistryRef::parse(&full) {
            Ok(again) => assert_eq!(again, r, "{s:?} → {full:?} does not parse back"),
            Err(e) => panic!("{s:?} parsed, but its full form {full:?} does not: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layer target's invariant is only worth something if it notices an escape: each of
    // these does what an escaping layer would, and the check must fail.
    #[test]
    #[should_panic(expected = "outside the rootfs")]
    fn check_sees_a_new_file_beside_the_rootfs() {
        let s = Sandbox::new();
        fs::write(s.dir.join("evil"), b"x").unwrap();
        s.check();
    }

    #[test]
    #[should_panic(expected = "the canary was written")]
    fn check_sees_a_written_canary() {
        let s = Sandbox::new();
        fs::write(s.dir.join("canary"), b"pwned").unwrap();
        s.check();
    }

    #[test]
    #[should_panic(expected = "rootfs is no longer a directory")]
    fn check_sees_a_replaced_rootfs() {
        let s = Sandbox::new();
        fs::remove_dir(s.dir.join("rootfs")).unwrap();
        std::os::unix::fs::symlink("/", s.dir.join("rootfs")).unwrap();
        s.check();
    }

    #[test]
    fn fix_tar_checksums_restores_every_header() {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/layer/basic.tar");
        let good = fs::read(seed).unwrap();
        let mut bad = good.clone();
        let mut headers = 0;
        let mut off = 0;
        while off + 512 <= bad.len() && bad[off] != 0 {
            bad[off + 150] ^= 1;
            headers += 1;
            let size = std::str::from_utf8(&good[off + 124..off + 135]).unwrap();
            let size = usize::from_str_radix(size, 8).unwrap();
            off += 512 + size.div_ceil(512) * 512;
        }
        assert!(headers > 5, "{headers} headers");
        assert_eq!(fix_tar_checksums(&bad), good);
    }

    #[test]
    fn image_rootfs_holds_passwd_and_group() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("image-rootfs/etc");
        assert_eq!(fs::read_to_string(dir.join("passwd")).unwrap(), PASSWD);
        assert_eq!(fs::read_to_string(dir.join("group")).unwrap(), GROUP);
    }

    #[test]
    fn check_passes_a_clean_sandbox() {
        let s = Sandbox::new();
        fs::write(s.dir.join("rootfs/file"), b"inside").unwrap();
        s.check();
    }
}
