//! Entry points for the fuzz targets in fuzz/: the parsers that read what a registry or an
//! image file sends, reachable without a network. Not part of the supported API (hidden from
//! the documentation, free to change with the targets).

use crate::convert::{resolve_user, runtime_config, ConvertOptions};
use crate::digest::Digest;
use crate::resolve::parse_platform;
use crate::source::{RegistryRef, SourceRef};
use crate::types::{self, ImageConfig, Index, Manifest};
use std::os::fd::BorrowedFd;

/// A `WWW-Authenticate` header as the registry client reads it on a 401: the scheme (lower
/// case) and the parameters (names lower case), or `None` when it is unusable.
pub fn www_authenticate(header: &str) -> Option<(String, Vec<(String, String)>)> {
    crate::source::registry::parse_challenge(header)
}

/// Every reference grammar berth-image reads from a user or a layout: `docker://` references
/// (what follows it), the source forms, digests and platforms. Returns the registry reference
/// when `s` parses as one.
pub fn references(s: &str) -> Option<RegistryRef> {
    let _ = SourceRef::parse(s);
    let _ = Digest::parse(s);
    let _ = parse_platform(s);
    RegistryRef::parse(s).ok()
}

/// What the registry reader and the resolver do with a manifest response body: the media type
/// sniffed from it, then the body read as an index (and the platform picked from it), as a
/// manifest and as an image config. Returns how many of the three parses succeeded.
pub fn registry_document(content_type: Option<&str>, body: &[u8]) -> usize {
    let media_type = types::sniff_media_type(content_type, body);
    let mut parsed = 0;
    if let Ok(idx) = serde_json::from_slice::<Index>(body) {
        parsed += 1;
        let want = crate::host_platform();
        let _ = types::is_index(&media_type);
        let _ = idx.manifests.iter().find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
        });
        for m in &idx.manifests {
            let _ = Digest::parse(&m.digest);
        }
    }
    if let Ok(m) = serde_json::from_slice::<Manifest>(body) {
        parsed += 1;
        let _ = Digest::parse(&m.config.digest);
        for l in &m.layers {
            let _ = Digest::parse(&l.digest);
        }
    }
    if serde_json::from_slice::<ImageConfig>(body).is_ok() {
        parsed += 1;
    }
    parsed
}

/// An image config turned into config.json as `unpack` does, with `root` as the unpacked rootfs
/// (its etc/passwd and etc/group resolve a named `User`). `None` when `body` is not an image
/// config or the conversion refuses it.
pub fn image_config(body: &[u8], root: BorrowedFd<'_>, rootless: bool) -> Option<Vec<u8>> {
    let img: ImageConfig = serde_json::from_slice(body).ok()?;
    let opts = ConvertOptions {
        rootless: rootless.then_some((1000, 1000)),
        cgroup_ns: false,
    };
    let config = runtime_config(&img, root, &opts).ok()?;
    serde_json::to_vec(&config).ok()
}

/// `User` resolved against passwd and group contents, as [`image_config`] does it: `(uid, gid,
/// additional gids)`.
pub fn user(spec: &str, passwd: &str, group: &str) -> Option<(u32, u32, Vec<u32>)> {
    resolve_user(spec, passwd, group)
        .ok()
        .map(|u| (u.uid, u.gid, u.additional_gids))
}
