//! Builds test images (layers, OCI layouts, oci-archives, docker-archives) without any network,
//! and compares unpacked trees. Shared by the tests/image_*.rs suites.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn image_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-image"))
}

pub fn run_image(args: &[&str]) -> Output {
    Command::new(image_bin())
        .args(args)
        .output()
        .expect("run berth-image")
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// One layer under construction (an uncompressed tar).
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
    mtime: u64,
}

fn header(
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_size(size);
    h.set_mtime(mtime);
    h
}

/// Writes a name straight into the header, bypassing the tar crate's own `..` checks, so we can
/// build hostile layers.
fn raw_name(h: &mut tar::Header, name: &[u8]) {
    let old = h.as_old_mut();
    old.name = [0; 100];
    old.name[..name.len()].copy_from_slice(name);
}

fn raw_link(h: &mut tar::Header, name: &[u8]) {
    let old = h.as_old_mut();
    old.linkname = [0; 100];
    old.linkname[..name.len()].copy_from_slice(name);
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
            mtime: 1_600_000_000,
        }
    }

    fn put(&mut self, mut h: tar::Header, name: &str, data: &[u8]) {
        raw_name(&mut h, name.as_bytes());
        h.set_cksum();
        self.b.append(&h, data).expect("append");
    }

    /// The mtime of the entries added from now on.
    pub fn mtime(&mut self, mtime: u64) -> &mut Self {
        self.mtime = mtime;
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = header(tar::EntryType::Directory, mode, 0, 0, 0, self.mtime);
        self.put(h, &format!("{}/", name.trim_end_matches('/')), &[]);
        self
    }

    pub fn file_owned(
        &mut self,
        name: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Self {
        let h = header(
            tar::EntryType::Regular,
            mode,
            uid,
            gid,
            data.len() as u64,
            self.mtime,
        );
        self.put(h, name, data);
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.file_owned(name, data, mode, 0, 0)
    }

    /// A file with PAX xattrs (SCHILY.xattr.*).
    pub fn file_xattrs(
        &mut self,
        name: &str,
        data: &[u8],
        mode: u32,
        xattrs: &[(&str, &[u8])],
    ) -> &mut Self {
        let pax: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        self.b
            .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
            .expect("pax");
        self.file(name, data, mode)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0, 0, 0, self.mtime);
        raw_link(&mut h, target.as_bytes());
        self.put(h, name, &[]);
        self
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Link, 0o644, 0, 0, 0, self.mtime);
        raw_link(&mut h, target.as_bytes());
        self.put(h, name, &[]);
        self
    }

    pub fn device(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut h = header(kind, 0o666, 0, 0, 0, self.mtime);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        self.put(h, name, &[]);
        self
    }

    pub fn whiteout(&mut self, path: &str) -> &mut Self {
        let (dir, base) = path
            .rsplit_once('/')
            .map(|(d, b)| (format!("{d}/"), b))
            .unwrap_or((String::new(), path));
        self.file(&format!("{dir}.wh.{base}"), b"", 0o600)
    }

    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.file(
            &format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
            b"",
            0o600,
        )
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().expect("finish tar")
    }
}

/// A busybox-static base layer: /bin/busybox, its applet symlinks, /etc/passwd and /etc/group.
pub fn busybox_layer(extra_users: &str) -> Layer {
    let bb = std::fs::read(
        ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is not installed"),
    )
    .expect("read busybox");
    let mut l = Layer::new();
    l.dir("./", 0o755);
    for d in [
        "bin", "etc", "tmp", "proc", "sys", "dev", "root", "usr", "usr/bin", "var",
    ] {
        l.dir(d, if d == "tmp" { 0o1777 } else { 0o755 });
    }
    l.file("bin/busybox", &bb, 0o755);
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" {
            l.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    l.file(
        "etc/passwd",
        format!("root:x:0:0:root:/root:/bin/sh\n{extra_users}").as_bytes(),
        0o644,
    );
    l.file(
        "etc/group",
        b"root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n",
        0o644,
    );
    l
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn compress(tar: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => tar.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).expect("gzip");
            e.finish().expect("gzip")
        }
        Comp::Zstd => zstd::stream::encode_all(tar, 3).expect("zstd"),
    }
}

/// A built image: layer tars with their compression, and the image config.
pub struct Image {
    pub layers: Vec<(Vec<u8>, Comp)>,
    pub exec_config: serde_json::Value,
    pub arch: String,
}

pub struct Blob {
    pub digest: String,
    pub data: Vec<u8>,
    pub media_type: String,
}

impl Blob {
    fn new(data: Vec<u8>, media_type: &str) -> Blob {
        Blob {
            digest: format!("sha256:{}", sha256_hex(&data)),
            data,
            media_type: media_type.into(),
        }
    }
    pub fn desc(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest, "size": self.data.len()})
    }
}

pub struct Built {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
}

impl Image {
    pub fn new(layers: Vec<(Vec<u8>, Comp)>, exec_config: serde_json::Value) -> Image {
        Image {
            layers,
            exec_config,
            arch: "amd64".into(),
        }
    }

    pub fn build(&self) -> Built {
        let layers: Vec<Blob> = self
            .layers
            .iter()
            .map(|(t, c)| {
                let mt = match c {
                    Comp::None => "application/vnd.oci.image.layer.v1.tar",
                    Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                    Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
                };
                Blob::new(compress(t, *c), mt)
            })
            .collect();
        let diff_ids: Vec<String> = self
            .layers
            .iter()
            .map(|(t, _)| format!("sha256:{}", sha256_hex(t)))
            .collect();
        let config = serde_json::json!({
            "architecture": self.arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": self.exec_config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = Blob::new(
            serde_json::to_vec(&config).expect("json"),
            "application/vnd.oci.image.config.v1+json",
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.desc(), "layers": layers.iter().map(|l| l.desc()).collect::<Vec<_>>(),
        });
        let manifest = Blob::new(
            serde_json::to_vec(&manifest).expect("json"),
            "application/vnd.oci.image.manifest.v1+json",
        );
        Built {
            config,
            layers,
            manifest,
        }
    }
}

pub fn write_blob(layout: &Path, b: &Blob) {
    let hex = b.digest.trim_start_matches("sha256:");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("mkdir blobs");
    std::fs::write(layout.join("blobs/sha256").join(hex), &b.data).expect("write blob");
}

/// Writes an OCI layout holding `built` under `reference`; returns the manifest descriptor.
pub fn write_layout(dir: &Path, built: &Built, reference: &str) {
    std::fs::create_dir_all(dir).expect("mkdir layout");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    for b in built.layers.iter().chain([&built.config, &built.manifest]) {
        write_blob(dir, b);
    }
    let mut d = built.manifest.desc();
    d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": reference});
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [d]});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index.json");
}

/// Tars up a directory's contents (for oci-archive).
pub fn tar_dir(dir: &Path, out: &Path) {
    let f = std::fs::File::create(out).expect("create archive");
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).expect("tar dir");
    b.finish().expect("finish");
}

/// A legacy `docker save` archive: <id>/layer.tar (uncompressed), <id>.json config, manifest.json.
pub fn write_docker_legacy(out: &Path, built: &Built, image: &Image, repo_tag: &str) {
    write_docker_legacy_with(out, built, image, repo_tag, Comp::None)
}

/// The legacy format with compressed layer.tar members, as some non-Docker tools write it.
pub fn write_docker_legacy_with(
    out: &Path,
    built: &Built,
    image: &Image,
    repo_tag: &str,
    comp: Comp,
) {
    let f = std::fs::File::create(out).expect("create");
    let mut b = tar::Builder::new(f);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    };
    let mut layer_paths = Vec::new();
    for (i, (t, _)) in image.layers.iter().enumerate() {
        let id = sha256_hex(format!("layer{i}").as_bytes());
        add(&format!("{id}/layer.tar"), &compress(t, comp));
        add(&format!("{id}/VERSION"), b"1.0");
        layer_paths.push(format!("{id}/layer.tar"));
    }
    let cfg_name = format!("{}.json", built.config.digest.trim_start_matches("sha256:"));
    add(&cfg_name, &built.config.data);
    let m =
        serde_json::json!([{"Config": cfg_name, "RepoTags": [repo_tag], "Layers": layer_paths}]);
    add("manifest.json", &serde_json::to_vec(&m).expect("json"));
    b.finish().expect("finish");
}

/// Docker 25+'s `docker save`: an OCI layout plus manifest.json pointing into blobs/.
pub fn write_docker_oci(out: &Path, scratch: &Path, built: &Built, repo_tag: &str) {
    let dir = scratch.join("docker-oci");
    write_layout(&dir, built, repo_tag);
    let m = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", built.config.digest.trim_start_matches("sha256:")),
        "RepoTags": [repo_tag],
        "Layers": built.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:"))).collect::<Vec<_>>(),
    }]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&m).expect("json"),
    )
    .expect("manifest.json");
    tar_dir(&dir, out);
}

/// Everything the cross-checks compare about a tree: type+mode, owner, size, content hash or
/// link target or device number, xattrs. Keyed by path relative to the root.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, String>) {
    let md = std::fs::symlink_metadata(p).expect("lstat");
    let rel = p.strip_prefix(root).expect("prefix").display().to_string();
    let ft = md.file_type();
    let what = if ft.is_symlink() {
        format!(
            "link->{}",
            std::fs::read_link(p).expect("readlink").display()
        )
    } else if ft.is_file() {
        format!("file:{}", sha256_hex(&std::fs::read(p).expect("read")))
    } else if ft.is_dir() {
        "dir".to_string()
    } else {
        format!("special:{}", md.rdev())
    };
    let xattrs: Vec<String> = berth_sys::xattr::list_xattrs(p)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={}", hex::encode(v)))
        .collect();
    let mode = if ft.is_symlink() {
        0
    } else {
        md.permissions().mode() & 0o7777
    };
    out.insert(
        rel,
        format!(
            "{what} mode={mode:o} owner={}:{} xattrs=[{}]",
            md.uid(),
            md.gid(),
            xattrs.join(",")
        ),
    );
    if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(p)
            .expect("readdir")
            .map(|e| e.expect("entry").path())
            .collect();
        names.sort();
        for n in names {
            walk(root, &n, out);
        }
    }
}

/// [`tree`] plus what a byte-for-byte cross-check also needs: mtime and atime to the
/// nanosecond, and which paths share an inode (each entry names the first path of its inode).
/// The times are taken in a first walk that only lstats and lists, each directory before it
/// is listed, so neither listing nor reading moves an atime before it is recorded.
pub fn tree_exact(root: &Path) -> BTreeMap<String, String> {
    let mut times = BTreeMap::new();
    times_walk(root, root, &mut times);
    let mut out = tree(root);
    let mut first: BTreeMap<u64, String> = BTreeMap::new();
    for (rel, v) in out.iter_mut() {
        let (ino, t) = times.get(rel).expect("walked twice alike");
        let same = first.entry(*ino).or_insert_with(|| rel.clone());
        v.push_str(&format!(" {t} inode-of={same}"));
    }
    out
}

fn times_walk(root: &Path, p: &Path, out: &mut BTreeMap<String, (u64, String)>) {
    let md = std::fs::symlink_metadata(p).expect("lstat");
    let rel = p.strip_prefix(root).expect("prefix").display().to_string();
    let t = format!(
        "mtime={}.{:09} atime={}.{:09}",
        md.mtime(),
        md.mtime_nsec(),
        md.atime(),
        md.atime_nsec()
    );
    out.insert(rel, (md.ino(), t));
    if md.is_dir() {
        for e in std::fs::read_dir(p).expect("readdir") {
            times_walk(root, &e.expect("entry").path(), out);
        }
    }
}

/// Describes how two trees differ (empty when equal), for assertion messages.
pub fn diff_trees(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut d = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => d.push(format!("only in first: {k} {v}")),
            Some(w) if w != v => d.push(format!("differs: {k}\n   {v}\n   {w}")),
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            d.push(format!("only in second: {k} {v}"));
        }
    }
    d
}

pub fn scratch(tag: &str) -> Scratch {
    Scratch::new(tag)
}

pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "berth-image-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        Scratch(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// CAP_NET_RAW in a VFS_CAP_REVISION_2 security.capability value.
pub const CAP_NET_RAW: &[u8] = &[
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

pub fn rich_image() -> Image {
    let mut l1 = busybox_layer("alice:x:1000:1000::/home/alice:/bin/sh\n");
    l1.dir("usr/share", 0o755)
        .dir("usr/share/doc", 0o755)
        .file("usr/share/doc/a", b"doc a", 0o644)
        .file("usr/share/doc/b", b"doc b", 0o644)
        .file("etc/motd", b"hello", 0o644)
        .dir("opq", 0o755)
        .file("opq/old1", b"1", 0o644)
        .file("opq/old2", b"2", 0o644)
        .dir("gone", 0o755)
        .file("gone/file", b"x", 0o644)
        .symlink("replaceme", "/bin")
        .file("plain-to-link", b"was a file", 0o644);
    let mut l2 = Layer::new();
    l2.whiteout("etc/motd")
        .dir("opq", 0o750)
        .opaque("opq")
        .file("opq/new", b"new", 0o644)
        .whiteout("gone")
        .hardlink("usr/bin/bb-hard", "bin/busybox")
        .file_xattrs(
            "usr/bin/ping-cap",
            b"cap",
            0o755,
            &[
                ("security.capability", CAP_NET_RAW),
                ("user.test", b"hello"),
            ],
        )
        .file("usr/bin/suid", b"suid", 0o4755)
        .file_owned("home-alice-file", b"alice's", 0o640, 1000, 1000)
        .device("dev/mynull", tar::EntryType::Char, 1, 3)
        .device("tmp/fifo", tar::EntryType::Fifo, 0, 0)
        .dir("replaceme", 0o755)
        .file("replaceme/inside", b"inside", 0o644)
        .symlink("plain-to-link", "etc/passwd");
    let mut l3 = Layer::new();
    l3.whiteout("usr/share/doc/b")
        .dir("etc/private", 0o700)
        .file("etc/private/key", b"k", 0o600);
    Image::new(
        vec![
            (l1.finish(), Comp::Gzip),
            (l2.finish(), Comp::Zstd),
            (l3.finish(), Comp::None),
        ],
        serde_json::json!({
            "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["FOO=bar", "PATH=/bin:/usr/bin"],
            "WorkingDir": "/tmp", "User": "alice", "Labels": {"org.example.label": "yes"},
            "StopSignal": "SIGINT", "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}},
        }),
    )
}
