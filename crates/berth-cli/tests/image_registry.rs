//! The registry path against a local docker-registry (Debian's package) on 127.0.0.1, fed with
//! skopeo: plain and multi-platform images, pull into a layout, platform selection, and a
//! token-auth front end that the client must get a bearer token from.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_util;

use image_util::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Registry {
    child: Child,
    port: u16,
    _dir: Scratch,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry() -> Option<Registry> {
    start_registry_on("127.0.0.1", "")
}

/// A registry listening on `ip`; `http_extra` is appended to its `http:` section (TLS).
fn start_registry_on(ip: &str, http_extra: &str) -> Option<Registry> {
    let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        eprintln!("SKIP: docker-registry is not installed (apt-get install docker-registry)");
        return None;
    };
    if Command::new("skopeo").arg("--version").output().is_err() {
        eprintln!("SKIP: skopeo is not installed (apt-get install skopeo)");
        return None;
    }
    let dir = scratch("registry");
    let port = TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {ip}:{port}\n{http_extra}",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reg = Registry {
        child,
        port,
        _dir: dir,
    };
    let start = Instant::now();
    while TcpStream::connect((ip, port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "docker-registry did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(reg)
}

fn push(layout_ref: &str, dest: &str, all: bool) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--dest-tls-verify=false"]);
    if all {
        cmd.arg("--all");
    }
    let out = cmd.arg(layout_ref).arg(dest).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn marker_image(arch: &str) -> Image {
    let mut l = busybox_layer("");
    l.file("arch", arch.as_bytes(), 0o644);
    let mut img = Image::new(vec![(l.finish(), Comp::Gzip)], json!({"Cmd": ["/bin/sh"]}));
    img.arch = arch.into();
    img
}

#[test]
fn unpack_and_pull_from_a_local_registry() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("reg");
    let layout = s.path().join("layout");
    let built = rich_image().build();
    write_layout(&layout, &built, "v1");
    let host = format!("127.0.0.1:{}", reg.port);
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/test/rich:v1"),
        false,
    );

    let bundle = s.path().join("bundle");
    let out = run_image(&[
        "unpack",
        &format!("docker://{host}/test/rich:v1"),
        &bundle.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Same tree as unpacking the layout directly.
    let direct = s.path().join("direct");
    let out = run_image(&[
        "unpack",
        &format!("oci:{}:v1", layout.display()),
        &direct.display().to_string(),
    ]);
    assert!(out.status.success());
    let d = diff_trees(&tree(&direct.join("rootfs")), &tree(&bundle.join("rootfs")));
    assert!(d.is_empty(), "{}", d.join("\n"));

    let store = s.path().join("store");
    let out = run_image(&[
        "pull",
        &format!("docker://{host}/test/rich:v1"),
        &store.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_image(&["ls", &store.display().to_string()]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.starts_with("v1 "), "{listing}");

    let out = run_image(&[
        "inspect",
        "--json",
        &format!("docker://{host}/test/rich:nosuchtag"),
    ]);
    assert_eq!(out.status.code(), Some(1));

    // NAME:TAG@DIGEST: the digest picks the image (the tag names nothing in the registry),
    // the tag names it in the layout, as skopeo keeps it.
    let out = run_image(&[
        "inspect",
        "--json",
        &format!("docker://{host}/test/rich:v1"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = v["manifestDigest"].as_str().unwrap().to_string();
    let pinned = s.path().join("pinned");
    let out = run_image(&[
        "pull",
        &format!("docker://{host}/test/rich:pinned@{digest}"),
        &format!("oci:{}", pinned.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_image(&["ls", "--json", &pinned.display().to_string()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ref"], "pinned");
    assert_eq!(v[0]["digest"], digest.as_str());
    let out = run_image(&["inspect", &format!("docker://{host}/test/Rich:v1")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repository name must be lowercase"), "{err}");
}

/// Writes an OCI layout whose index.json names, as `multi`, an image index of two images
/// (`marker_image` for linux/amd64 and linux/arm64); returns the two images and the index's
/// bytes.
fn multi_layout(layout: &std::path::Path) -> (Built, Built, Vec<u8>) {
    let amd = marker_image("amd64").build();
    let arm = marker_image("arm64").build();
    let mut descs = Vec::new();
    for (b, arch) in [(&amd, "amd64"), (&arm, "arm64")] {
        for blob in b.layers.iter().chain([&b.config, &b.manifest]) {
            write_blob(layout, blob);
        }
        let mut d = b.manifest.desc();
        d["platform"] = json!({"os": "linux", "architecture": arch});
        descs.push(d);
    }
    let idx = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs})).unwrap();
    let idx_digest = format!("sha256:{}", sha256_hex(&idx));
    std::fs::write(layout.join("blobs/sha256").join(&idx_digest[7..]), &idx).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idx_digest, "size": idx.len(), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    (amd, arm, idx)
}

#[test]
fn index_platform_selection() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("multi");
    let layout = s.path().join("layout");
    multi_layout(&layout);

    // Locally first: the layout path walks the index too.
    let b0 = s.path().join("b0");
    let out = run_image(&[
        "unpack",
        "--platform",
        "linux/arm64",
        &format!("oci:{}:multi", layout.display()),
        &b0.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(b0.join("rootfs/arch")).unwrap(), b"arm64");

    let host = format!("127.0.0.1:{}", reg.port);
    push(
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{host}/test/multi:v1"),
        true,
    );
    for arch in ["amd64", "arm64"] {
        let b = s.path().join(format!("b-{arch}"));
        let out = run_image(&[
            "unpack",
            "--platform",
            &format!("linux/{arch}"),
            &format!("docker://{host}/test/multi:v1"),
            &b.display().to_string(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(b.join("rootfs/arch")).unwrap(),
            arch.as_bytes()
        );
    }
    let out = run_image(&[
        "inspect",
        "--platform",
        "linux/s390x",
        &format!("docker://{host}/test/multi:v1"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux/s390x"));
}

/// A tiny HTTP front end demanding a bearer token, which it hands out at /token; /v2 requests
/// with the token are proxied to the real registry. Just enough HTTP/1.1 for one client.
fn token_proxy(upstream: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    token_proxy_with(upstream, None)
}

/// [`token_proxy`] whose token endpoint wants `Authorization: Basic BASIC` when given.
fn token_proxy_with(
    upstream: u16,
    basic: Option<String>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    token_proxy_full(upstream, basic, None)
}

/// [`token_proxy_with`] whose token endpoint, given `refresh`, hands tokens out only to an
/// OAuth2 refresh-token grant: a form POSTed with `grant_type=refresh_token` and
/// `refresh_token=REFRESH`.
fn token_proxy_full(
    upstream: u16,
    basic: Option<String>,
    refresh: Option<&'static str>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let tokens = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t2 = tokens.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let t3 = t2.clone();
            let basic = basic.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        headers.push(h.trim().to_string());
                    }
                    let authed = headers
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case("authorization: Bearer sekrit"));
                    let length: usize = headers
                        .iter()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    r.read_exact(&mut body).unwrap();
                    // Go sends a body set after the request was made in chunks.
                    if headers
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case("transfer-encoding: chunked"))
                    {
                        loop {
                            let mut size = String::new();
                            r.read_line(&mut size).unwrap();
                            let n = usize::from_str_radix(size.trim(), 16).unwrap();
                            // The data and its CRLF; the last chunk is a CRLF alone.
                            let mut chunk = vec![0; n + 2];
                            r.read_exact(&mut chunk).unwrap();
                            body.extend_from_slice(&chunk[..n]);
                            if n == 0 {
                                break;
                            }
                        }
                    }
                    let body = String::from_utf8_lossy(&body).to_string();
                    if path.starts_with("/token") {
                        if let Some(rt) = refresh {
                            let fields: Vec<&str> = body.split('&').collect();
                            if !line.starts_with("POST ")
                                || !fields.contains(&"grant_type=refresh_token")
                                || !fields.contains(&format!("refresh_token={rt}").as_str())
                            {
                                let _ = write!(
                                    c,
                                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
                                );
                                continue;
                            }
                        }
                        if let Some(b) = &basic {
                            let want = format!("authorization: Basic {b}");
                            if !headers.iter().any(|h| h.eq_ignore_ascii_case(&want)) {
                                let _ = write!(
                                    c,
                                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
                                );
                                continue;
                            }
                        }
                        t3.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = r#"{"token":"sekrit"}"#;
                        let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        continue;
                    }
                    if !authed {
                        let _ = write!(c, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:test/rich:pull\"\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    }
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    let accept = headers
                        .iter()
                        .find(|h| h.to_lowercase().starts_with("accept:"))
                        .cloned()
                        .unwrap_or_default();
                    let _ = write!(
                        up,
                        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{upstream}\r\n{accept}\r\n\r\n"
                    );
                    let mut resp = Vec::new();
                    let _ = up.read_to_end(&mut resp);
                    // HTTP/1.0 upstream reply ends at close; pass it on and close too.
                    let _ = c.write_all(&resp);
                    return;
                }
            });
        }
    });
    (port, tokens)
}

#[test]
fn bearer_token_auth() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("token");
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://127.0.0.1:{}/test/rich:v1", reg.port),
        false,
    );
    let (port, tokens) = token_proxy(reg.port);
    let bundle = s.path().join("bundle");
    let out = run_image(&[
        "unpack",
        &format!("docker://127.0.0.1:{port}/test/rich:v1"),
        &bundle.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(bundle.join("rootfs/arch")).unwrap(), b"amd64");
    assert!(
        tokens.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "client never fetched a token"
    );
}

/// Standard base64 with padding, as auth files hold `USER:PASSWORD`.
fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Credentials from auth files as podman and skopeo find them: --authfile, $REGISTRY_AUTH_FILE,
/// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json; none: refused.
#[test]
fn credentials_from_auth_files() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("authfile");
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://127.0.0.1:{}/test/rich:v1", reg.port),
        false,
    );
    let (port, tokens) = token_proxy_with(reg.port, Some(b64("alice:s3cret")));
    let host = format!("127.0.0.1:{port}");
    let entry = |key: &str, creds: &str| {
        serde_json::json!({"auths": {key: {"auth": b64(creds)}}}).to_string()
    };
    let home = s.path().join("home");
    let xdg = s.path().join("xdg");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::create_dir_all(xdg.join("containers")).unwrap();
    let explicit = s.path().join("explicit.json");
    std::fs::write(&explicit, entry(&host, "alice:s3cret")).unwrap();
    let wrong = s.path().join("wrong.json");
    std::fs::write(&wrong, entry(&host, "alice:wrong")).unwrap();
    let run = |n: usize, args: &[&str], env: &[(&str, &std::path::Path)]| {
        let bundle = s.path().join(format!("bundle{n}"));
        let mut cmd = Command::new(image_bin());
        cmd.arg("unpack")
            .args(args)
            .arg(format!("docker://{host}/test/rich:v1"))
            .arg(&bundle)
            .env("HOME", &home)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DOCKER_CONFIG")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("BERTH_IMAGE_CREDS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Nothing anywhere: the token endpoint refuses.
    assert_eq!(run(0, &[], &[]).status.code(), Some(1));
    ok(run(
        1,
        &["--authfile", &explicit.display().to_string()],
        &[],
    ));
    ok(run(2, &[], &[("REGISTRY_AUTH_FILE", &explicit)]));
    // --authfile wins over $REGISTRY_AUTH_FILE.
    ok(run(
        3,
        &["--authfile", &explicit.display().to_string()],
        &[("REGISTRY_AUTH_FILE", &wrong)],
    ));
    std::fs::write(
        home.join(".docker/config.json"),
        entry(&format!("http://{host}"), "alice:s3cret"),
    )
    .unwrap();
    ok(run(4, &[], &[]));
    // The containers auth.json comes before docker's config.json.
    std::fs::write(
        xdg.join("containers/auth.json"),
        entry(&format!("{host}/test"), "alice:wrong"),
    )
    .unwrap();
    let out = run(5, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    assert_eq!(out.status.code(), Some(1));
    // The token server's 401 to the wrong password, said as such.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{host} refused the credentials for test/rich")),
        "{err}"
    );
    std::fs::write(
        xdg.join("containers/auth.json"),
        entry(&format!("{host}/test/rich"), "alice:s3cret"),
    )
    .unwrap();
    std::fs::remove_file(home.join(".docker/config.json")).unwrap();
    ok(run(6, &[], &[("XDG_RUNTIME_DIR", &xdg)]));
    assert!(tokens.load(std::sync::atomic::Ordering::SeqCst) >= 5);
}

/// An identity token (`"identitytoken"` of an auths entry, as `docker login` stores an OAuth2
/// refresh token) is traded at the token server with a refresh-token grant, POSTed as a form,
/// as containers/image and docker do; a wrong one is refused naming the registry. skopeo
/// agrees on both.
#[test]
fn identity_token_from_an_auth_file() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("idtoken");
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://127.0.0.1:{}/test/rich:v1", reg.port),
        false,
    );
    let (port, tokens) = token_proxy_full(reg.port, None, Some("rt-berth"));
    let host = format!("127.0.0.1:{port}");
    let image = format!("docker://{host}/test/rich:v1");
    let home = s.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let file = |name: &str, token: &str| {
        let f = s.path().join(name);
        std::fs::write(
            &f,
            json!({"auths": {host.as_str(): {
                "auth": b64("00000000-0000-0000-0000-000000000000:"),
                "identitytoken": token,
            }}})
            .to_string(),
        )
        .unwrap();
        f
    };
    let good = file("good.json", "rt-berth");
    let wrong = file("wrong.json", "rt-other");
    // skopeo tries HTTPS first here; --tls-verify=false lets it fall back to HTTP.
    let args = |f: &std::path::Path| {
        vec![
            "--tls-verify=false".to_string(),
            "--authfile".into(),
            f.display().to_string(),
        ]
    };
    let a = args(&good);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (ours, theirs) = inspect_both(&image, &a, &[], &home);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert!(String::from_utf8_lossy(&ours.stdout).contains("amd64"));
    assert!(
        theirs.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert!(tokens.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    let a = args(&wrong);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (ours, theirs) = inspect_both(&image, &a, &[], &home);
    let err = String::from_utf8_lossy(&ours.stderr);
    assert_eq!(ours.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{host} refused the credentials for test/rich")),
        "{err}"
    );
    assert!(!theirs.status.success());
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A registry on 127.0.0.2 (not "local", so HTTPS) with a certificate from a CA of the test's:
/// refused as it is, trusted through --cert-dir or $SSL_CERT_FILE (the system store), or
/// accepted unverified with --tls-verify=false; and a plain-HTTP one reached with
/// --tls-verify=false.
#[test]
fn tls_with_a_private_ca() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIP tls_with_a_private_ca: no openssl");
        return;
    }
    let s = scratch("tls");
    let pki = s.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    openssl(
        &pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth test CA",
        ],
    );
    openssl(
        &pki,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.2",
        ],
    );
    std::fs::write(
        pki.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &pki,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        pki.join("srv.crt").display(),
        pki.join("srv.key").display()
    );
    let Some(reg) = start_registry_on("127.0.0.2", &tls) else {
        return;
    };
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    let image = format!("docker://127.0.0.2:{}/test/tls:v1", reg.port);
    push(&format!("oci:{}:v1", layout.display()), &image, false);
    let certs = s.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(pki.join("ca.crt"), certs.join("ca.crt")).unwrap();
    let inspect = |args: &[&str], env: Option<&std::path::Path>| {
        let mut cmd = Command::new(image_bin());
        cmd.arg("inspect")
            .args(args)
            .arg(&image)
            .env_remove("SSL_CERT_FILE");
        if let Some(f) = env {
            cmd.env("SSL_CERT_FILE", f);
        }
        cmd.output().unwrap()
    };
    let out = inspect(&[], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    for (args, env) in [
        (&["--cert-dir", &certs.display().to_string()][..], None),
        (&["--tls-verify=false"][..], None),
        (&[][..], Some(pki.join("ca.crt"))),
    ] {
        let out = inspect(args, env.as_deref());
        assert!(
            out.status.success(),
            "{args:?} {env:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("amd64"));
    }

    // A plain-HTTP registry that is not local: HTTPS fails; --tls-verify=false falls back to
    // HTTP as skopeo does.
    let Some(plain) = start_registry_on("127.0.0.2", "") else {
        return;
    };
    let image = format!("docker://127.0.0.2:{}/test/plain:v1", plain.port);
    push(&format!("oci:{}:v1", layout.display()), &image, false);
    let out = run_image(&["inspect", &image]);
    assert_eq!(out.status.code(), Some(1));
    let out = run_image(&["inspect", "--tls-verify=false", &image]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the registry docs have users do for a registry of their own: a self-signed
/// certificate from `openssl req -x509` (so marked CA:TRUE) for 127.0.0.2, to be copied to
/// `certs.d/HOST:PORT/ca.crt`; written into `pki` as domain.crt and domain.key.
fn self_signed_cert(pki: &std::path::Path) {
    openssl(
        pki,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-keyout",
            "domain.key",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.2",
            "-addext",
            "subjectAltName = IP:127.0.0.2",
            "-out",
            "domain.crt",
        ],
    );
}

/// The `tls:` part of a registry's `http:` section serving `pki`'s domain.crt, and asking
/// clients for a certificate from `client_ca` when given.
fn registry_tls(pki: &std::path::Path, client_ca: Option<&std::path::Path>) -> String {
    let mut tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        pki.join("domain.crt").display(),
        pki.join("domain.key").display()
    );
    if let Some(ca) = client_ca {
        tls.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
    }
    tls
}

fn have(prog: &str, arg: &str) -> bool {
    let ok = Command::new(prog).arg(arg).output().is_ok();
    if !ok {
        eprintln!("SKIP: {prog} is not installed");
    }
    ok
}

/// `berth-image inspect` and `skopeo inspect` with the same arguments and environment (HOME
/// and the auth-file variables as given, nothing from the caller's).
fn inspect_both(
    image: &str,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
    home: &std::path::Path,
) -> (std::process::Output, std::process::Output) {
    let run = |prog: &std::path::Path| {
        let mut cmd = Command::new(prog);
        cmd.arg("inspect")
            .args(args)
            .arg(image)
            .env("HOME", home)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DOCKER_CONFIG")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("BERTH_IMAGE_CREDS")
            .env_remove("SSL_CERT_FILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    (run(&image_bin()), run(std::path::Path::new("skopeo")))
}

/// A docker-registry on 127.0.0.2 serving a self-signed certificate (see [`self_signed_cert`])
/// and wanting alice:s3cret (htpasswd -B), holding the marker image at `repo:v1`.
struct BasicTls {
    reg: Registry,
    /// HOST:PORT.
    host: String,
    /// certs.d/HOST:PORT with the certificate as ca.crt.
    certs: std::path::PathBuf,
    /// docker://HOST:PORT/REPO:v1.
    image: String,
}

fn basic_tls_registry(s: &std::path::Path, repo: &str) -> Option<BasicTls> {
    if !have("openssl", "version") || !have("htpasswd", "-h") {
        return None;
    }
    let pki = s.join("pki");
    std::fs::create_dir(&pki).unwrap();
    self_signed_cert(&pki);
    let out = Command::new("htpasswd")
        .args(["-B", "-b", "-c"])
        .arg(pki.join("htpasswd"))
        .args(["alice", "s3cret"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let extra = format!(
        "{}auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
        registry_tls(&pki, None),
        pki.join("htpasswd").display()
    );
    let reg = start_registry_on("127.0.0.2", &extra)?;
    let host = format!("127.0.0.2:{}", reg.port);
    let certs = s.join("certs.d").join(&host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(pki.join("domain.crt"), certs.join("ca.crt")).unwrap();
    let layout = s.join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    let image = format!("docker://{host}/{repo}:v1");
    let out = Command::new("skopeo")
        .args(["copy", "--dest-creds", "alice:s3cret", "--dest-cert-dir"])
        .arg(&certs)
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(BasicTls {
        reg,
        host,
        certs,
        image,
    })
}

/// docker-registry itself over TLS with a self-signed certificate and basic auth from an
/// htpasswd file (bcrypt, `htpasswd -B`): credentials from each auth file podman and skopeo
/// read, in their order; a wrong password refused naming the registry; the certificate
/// trusted through a certs.d/HOST:PORT directory (--cert-dir), refused without it, accepted
/// unverified with --tls-verify=false. Every case is run through skopeo too, which must agree.
#[test]
fn basic_auth_and_self_signed_tls_on_docker_registry() {
    let s = scratch("basictls");
    let Some(BasicTls {
        reg: _reg,
        host,
        certs,
        image,
    }) = basic_tls_registry(s.path(), "test/basic")
    else {
        return;
    };
    let certs_arg = certs.display().to_string();

    let auth = |key: &str, creds: &str| json!({"auths": {key: {"auth": b64(creds)}}}).to_string();
    let home = s.path().join("home");
    let xdg = s.path().join("xdg");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::create_dir_all(home.join(".config/containers")).unwrap();
    std::fs::create_dir_all(xdg.join("containers")).unwrap();
    let good = s.path().join("good.json");
    std::fs::write(&good, auth(&host, "alice:s3cret")).unwrap();
    let wrong = s.path().join("wrong.json");
    std::fs::write(&wrong, auth(&host, "alice:wrong")).unwrap();
    let other = s.path().join("other.json");
    std::fs::write(&other, auth("other.example", "x:y")).unwrap();

    // Each case: arguments, environment, whether it works; skopeo must agree.
    let check_with = |what: &str,
                      args: &[&str],
                      env: &[(&str, &std::path::Path)],
                      works: bool,
                      skopeo_works: bool|
     -> String {
        let (ours, theirs) = inspect_both(&image, args, env, &home);
        let err = String::from_utf8_lossy(&ours.stderr).to_string();
        assert_eq!(ours.status.success(), works, "{what}: berth-image: {err}");
        assert_eq!(
            theirs.status.success(),
            skopeo_works,
            "{what}: skopeo: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        if works {
            assert!(String::from_utf8_lossy(&ours.stdout).contains("amd64"));
        }
        err
    };
    let check = |what: &str, args: &[&str], env: &[(&str, &std::path::Path)], works: bool| {
        check_with(what, args, env, works, works)
    };
    let ca = ["--cert-dir", &certs_arg];
    let with = |extra: &[&'static str]| -> Vec<&str> { [&ca[..], extra].concat() };
    let good_s = good.display().to_string();
    let wrong_s = wrong.display().to_string();

    // No credentials anywhere.
    let err = check("none", &ca, &[], false);
    assert!(err.contains("wants credentials"), "{err}");
    // A wrong password: refused, naming the registry.
    let err = check(
        "wrong",
        &[&ca[..], &["--authfile", &wrong_s]].concat(),
        &[],
        false,
    );
    assert!(
        err.contains(&format!("{host} refused the credentials for test/basic")),
        "{err}"
    );
    check(
        "--authfile",
        &[&ca[..], &["--authfile", &good_s]].concat(),
        &[],
        true,
    );
    check(
        "$REGISTRY_AUTH_FILE",
        &with(&[]),
        &[("REGISTRY_AUTH_FILE", &good)],
        true,
    );
    // --authfile over $REGISTRY_AUTH_FILE.
    check(
        "--authfile over $REGISTRY_AUTH_FILE",
        &[&ca[..], &["--authfile", &good_s]].concat(),
        &[("REGISTRY_AUTH_FILE", &wrong)],
        true,
    );
    // Docker's config.json, found through HOME.
    std::fs::write(
        home.join(".docker/config.json"),
        auth(&host, "alice:s3cret"),
    )
    .unwrap();
    check("~/.docker/config.json", &with(&[]), &[], true);
    // A file named by $REGISTRY_AUTH_FILE (or --authfile) is the only one read, even without
    // an entry, as current containers/image does (getAuthFilePaths adds no fallbacks to a
    // path the user gave); Debian 12's skopeo 1.9 still goes on to the other files.
    let skopeo_old = String::from_utf8_lossy(
        &Command::new("skopeo")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .contains("version 1.9.");
    check_with(
        "$REGISTRY_AUTH_FILE alone",
        &with(&[]),
        &[("REGISTRY_AUTH_FILE", &other)],
        false,
        skopeo_old,
    );
    // $XDG_CONFIG_HOME's (here ~/.config) containers/auth.json before docker's.
    std::fs::write(
        home.join(".config/containers/auth.json"),
        auth(&host, "alice:wrong"),
    )
    .unwrap();
    check(
        "~/.config/containers/auth.json first",
        &with(&[]),
        &[],
        false,
    );
    // $XDG_RUNTIME_DIR/containers/auth.json before both.
    std::fs::write(
        xdg.join("containers/auth.json"),
        auth(&host, "alice:s3cret"),
    )
    .unwrap();
    check(
        "$XDG_RUNTIME_DIR/containers/auth.json first",
        &with(&[]),
        &[("XDG_RUNTIME_DIR", &xdg)],
        true,
    );
    // A file without an entry for the registry passes the search on.
    std::fs::write(
        xdg.join("containers/auth.json"),
        auth("other.example", "x:y"),
    )
    .unwrap();
    std::fs::remove_file(home.join(".config/containers/auth.json")).unwrap();
    check(
        "entries searched file after file",
        &with(&[]),
        &[("XDG_RUNTIME_DIR", &xdg)],
        true,
    );
    // Last, docker's legacy ~/.dockercfg (the auths map alone, keyed by an API URL).
    std::fs::remove_file(home.join(".docker/config.json")).unwrap();
    check(
        "no file with an entry",
        &with(&[]),
        &[("XDG_RUNTIME_DIR", &xdg)],
        false,
    );
    std::fs::write(
        home.join(".dockercfg"),
        json!({format!("https://{host}/v1/"): {"auth": b64("alice:s3cret")}}).to_string(),
    )
    .unwrap();
    check(
        "~/.dockercfg",
        &with(&[]),
        &[("XDG_RUNTIME_DIR", &xdg)],
        true,
    );

    // The certs.d directory found without --cert-dir, in the user's certs.d (root's too, as
    // containers/image looks there first whoever runs it).
    let user_certs = home.join(".config/containers/certs.d");
    std::fs::create_dir_all(user_certs.join(&host)).unwrap();
    std::fs::copy(certs.join("ca.crt"), user_certs.join(&host).join("ca.crt")).unwrap();
    check(
        "~/.config/containers/certs.d",
        &["--authfile", &good_s],
        &[],
        true,
    );
    std::fs::remove_dir_all(&user_certs).unwrap();

    // The certificate: refused without the certs.d directory, naming the problem; accepted
    // unverified with --tls-verify=false.
    let err = check("no CA", &["--authfile", &good_s], &[], false);
    assert!(
        err.contains("certificate") && err.contains("UnknownIssuer"),
        "{err}"
    );
    // Said once: the URL, then what failed there.
    let url = format!("https://{host}/v2/test/basic/manifests/v1");
    assert_eq!(err.matches(&url).count(), 1, "{err}");
    check(
        "--tls-verify=false",
        &["--authfile", &good_s, "--tls-verify=false"],
        &[],
        true,
    );

    // The whole way, as a user would: unpack with the auth file and the certs.d directory.
    let bundle = s.path().join("bundle");
    let out = Command::new(image_bin())
        .args([
            "unpack",
            "--authfile",
            &good_s,
            "--cert-dir",
            &certs_arg,
            &image,
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(bundle.join("rootfs/arch")).unwrap(), b"amd64");
}

/// Credentials from docker-credential-* helpers, named by `credHelpers` (in any auth file) or
/// `credsStore` (docker's config.json), against the registry of
/// [`basic_auth_and_self_signed_tls_on_docker_registry`]: a helper's answer is used, a
/// failing helper is an error carrying what it said, a "not found" answer passes the search
/// on to the next file. skopeo agrees, except on credsStore, which it does not read (docker
/// does).
#[test]
fn credential_helpers_against_docker_registry() {
    use std::os::unix::fs::PermissionsExt;
    let s = scratch("credhelpers");
    let Some(BasicTls {
        reg: _reg,
        host,
        certs,
        image,
    }) = basic_tls_registry(s.path(), "test/helpers")
    else {
        return;
    };
    let bin = s.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, script) in [
        (
            "berthgood",
            format!(
                "read server\n[ \"$server\" = {host} ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}' \"$server\""
            ),
        ),
        ("berthlocked", "echo 'the keyring is locked'; exit 1".into()),
        (
            "berthnone",
            "echo 'credentials not found in native keychain'; exit 1".into(),
        ),
    ] {
        let p = bin.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::path::PathBuf::from(format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    ));
    let home = s.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::create_dir_all(home.join(".config/containers")).unwrap();
    let docker = home.join(".docker/config.json");
    let containers = home.join(".config/containers/auth.json");
    let certs_arg = certs.display().to_string();
    let check = |what: &str, works: bool, skopeo_works: bool| -> String {
        let (ours, theirs) = inspect_both(
            &image,
            &["--cert-dir", &certs_arg],
            &[("PATH", &path)],
            &home,
        );
        let err = String::from_utf8_lossy(&ours.stderr).to_string();
        assert_eq!(ours.status.success(), works, "{what}: berth-image: {err}");
        assert_eq!(
            theirs.status.success(),
            skopeo_works,
            "{what}: skopeo: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        err
    };
    let helper = |h: &str| json!({"credHelpers": {host.as_str(): h}}).to_string();

    std::fs::write(&docker, helper("berthgood")).unwrap();
    check("credHelpers", true, true);
    std::fs::write(&docker, helper("berthlocked")).unwrap();
    let err = check("failing helper", false, false);
    assert!(
        err.contains("docker-credential-berthlocked")
            && err.contains(&host)
            && err.contains("the keyring is locked"),
        "{err}"
    );
    std::fs::write(&docker, helper("berthmissing")).unwrap();
    let err = check("helper not installed", false, false);
    assert!(err.contains("docker-credential-berthmissing"), "{err}");
    // "Not found" in the containers auth.json: docker's config.json is read next.
    std::fs::write(&containers, helper("berthnone")).unwrap();
    std::fs::write(
        &docker,
        json!({"auths": {host.as_str(): {"auth": b64("alice:s3cret")}}}).to_string(),
    )
    .unwrap();
    check("not found, next file", true, true);
    std::fs::remove_file(&containers).unwrap();
    std::fs::write(&docker, json!({"credsStore": "berthgood"}).to_string()).unwrap();
    check("credsStore", true, false);
}

/// A registry that wants a client certificate (docker-registry's `http.tls.clientcas`): refused
/// without one, served with the `client.cert` + `client.key` of the certs.d directory; skopeo
/// agrees on both.
#[test]
fn client_certificate_from_certs_d() {
    if !have("openssl", "version") {
        return;
    }
    let s = scratch("clientcert");
    let pki = s.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    self_signed_cert(&pki);
    openssl(
        &pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "cca.key",
            "-out",
            "cca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth client CA",
        ],
    );
    openssl(
        &pki,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=alice",
        ],
    );
    std::fs::write(
        pki.join("client.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(
        &pki,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "cca.crt",
            "-CAkey",
            "cca.key",
            "-CAcreateserial",
            "-out",
            "client.cert",
            "-days",
            "2",
            "-extfile",
            "client.cnf",
        ],
    );
    let Some(reg) = start_registry_on("127.0.0.2", &registry_tls(&pki, Some(&pki.join("cca.crt"))))
    else {
        return;
    };
    let host = format!("127.0.0.2:{}", reg.port);
    let certs = s.path().join("certs.d").join(&host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(pki.join("domain.crt"), certs.join("ca.crt")).unwrap();
    let image = format!("docker://{host}/test/cc:v1");
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    let certs_arg = certs.display().to_string();
    let home = s.path().join("home");
    std::fs::create_dir(&home).unwrap();

    let (ours, theirs) = inspect_both(&image, &["--cert-dir", &certs_arg], &[], &home);
    let err = String::from_utf8_lossy(&ours.stderr);
    assert_eq!(ours.status.code(), Some(1), "{err}");
    assert!(err.contains("BadCertificate"), "{err}");
    assert!(!theirs.status.success());

    std::fs::copy(pki.join("client.cert"), certs.join("client.cert")).unwrap();
    std::fs::copy(pki.join("client.key"), certs.join("client.key")).unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--dest-cert-dir", &certs_arg])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ours, theirs) = inspect_both(&image, &["--cert-dir", &certs_arg], &[], &home);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert!(String::from_utf8_lossy(&ours.stdout).contains("amd64"));
    assert!(
        theirs.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
}

#[test]
fn docker_schema2_manifests() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("v2s2");
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    let host = format!("127.0.0.1:{}", reg.port);
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--format", "v2s2"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{host}/test/v2s2:latest"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_image(&["inspect", "--json", &format!("docker://{host}/test/v2s2")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["manifestMediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        v["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    let bundle = s.path().join("bundle");
    let out = run_image(&[
        "unpack",
        &format!("docker://{host}/test/v2s2"),
        &bundle.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(bundle.join("rootfs/arch")).unwrap(), b"amd64");
}

/// An image of `n` layers, each one file of `size` pseudo-random bytes (incompressible, so the
/// blobs are about `size` each), layer `i` holding `/layer-i`.
fn many_layers(n: usize, size: usize) -> Image {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let layers = (0..n)
        .map(|i| {
            let mut data = vec![0u8; size];
            for chunk in data.chunks_mut(8) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let b = seed.to_le_bytes();
                chunk.copy_from_slice(&b[..chunk.len()]);
            }
            let mut l = busybox_layer("");
            l.file(&format!("layer-{i}"), &data, 0o644);
            (l.finish(), Comp::Gzip)
        })
        .collect();
    Image::new(layers, json!({"Cmd": ["/bin/sh"]}))
}

/// Every blob of `built` is in the layout `dir` with the same bytes, its index.json names the
/// manifest under `reference`, and nothing else (no temporary file) is left in blobs/.
fn assert_layout_holds(dir: &std::path::Path, built: &Built, reference: &str) {
    let mut want: Vec<String> = built
        .layers
        .iter()
        .chain([&built.config, &built.manifest])
        .map(|b| {
            let hex = b.digest.trim_start_matches("sha256:");
            let got = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap();
            assert!(got == b.data, "blob {} differs", b.digest);
            hex.to_string()
        })
        .collect();
    want.sort();
    want.dedup();
    let mut have: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    have.sort();
    assert_eq!(have, want);
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m = idx["manifests"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{idx}");
    assert_eq!(m[0]["digest"], built.manifest.digest.as_str());
    assert_eq!(
        m[0]["annotations"]["org.opencontainers.image.ref.name"],
        reference
    );
}

/// A pull of an image with more layers than are fetched at once (several in flight, one
/// named twice) writes exactly the source's blobs, byte for byte, and the same index.json on
/// every run; a corrupt layer in the middle fails the pull, naming it, and leaves no blob or
/// temporary file of it behind.
#[test]
fn pull_fetches_many_layers() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("many");
    let mut img = many_layers(9, 256 * 1024);
    // The same layer twice (images repeat empty layers): fetched once.
    let again = img.layers[2].clone();
    img.layers.push(again);
    let built = img.build();
    let layout = s.path().join("layout");
    write_layout(&layout, &built, "v1");
    let host = format!("127.0.0.1:{}", reg.port);
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/test/many:v1"),
        false,
    );
    let mut indexes = Vec::new();
    for n in 0..2 {
        let dest = s.path().join(format!("pulled{n}"));
        let out = run_image(&[
            "pull",
            &format!("docker://{host}/test/many:v1"),
            &format!("oci:{}", dest.display()),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_layout_holds(&dest, &built, "v1");
        indexes.push(std::fs::read(dest.join("index.json")).unwrap());
    }
    assert_eq!(indexes[0], indexes[1]);

    // A layout source whose fifth layer's bytes do not match its digest.
    let bad = &built.layers[4];
    let hex = bad.digest.trim_start_matches("sha256:");
    let mut data = bad.data.clone();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(layout.join("blobs/sha256").join(hex), &data).unwrap();
    let dest = s.path().join("corrupt");
    let out = run_image(&[
        "pull",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci:{}", dest.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&bad.digest), "{err}");
    for e in std::fs::read_dir(dest.join("blobs/sha256")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name != hex && !name.starts_with(".tmp"),
            "left behind: {name}"
        );
    }
}

/// `pull --all` copies an index of two platforms as skopeo copy --all does: the index byte for
/// byte under the name, both manifests, configs and layers; each platform unpacks from the
/// copy. Without --all only this host's platform comes (the other's layer stays behind), and
/// --all with docker-archive: is refused.
#[test]
fn pull_all_platforms() {
    let Some(reg) = start_registry() else { return };
    let s = scratch("all");
    let layout = s.path().join("layout");
    let (amd, arm, idx) = multi_layout(&layout);
    let idx_digest = format!("sha256:{}", sha256_hex(&idx));
    let host = format!("127.0.0.1:{}", reg.port);
    push(
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{host}/test/multi:v1"),
        true,
    );
    let blob = |dir: &std::path::Path, digest: &str| {
        std::fs::read(dir.join("blobs/sha256").join(&digest[7..])).ok()
    };
    for (n, source) in [
        format!("docker://{host}/test/multi:v1"),
        format!("oci:{}:multi", layout.display()),
    ]
    .iter()
    .enumerate()
    {
        let dest = s.path().join(format!("all{n}"));
        let out = run_image(&[
            "pull",
            "--all",
            source,
            &format!("oci:{}:both", dest.display()),
        ]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with(&idx_digest), "{stdout}");
        assert_eq!(blob(&dest, &idx_digest).as_deref(), Some(&idx[..]));
        for b in [&amd, &arm] {
            for x in b.layers.iter().chain([&b.config, &b.manifest]) {
                assert_eq!(blob(&dest, &x.digest), Some(x.data.clone()), "{source}");
            }
        }
        let top: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
        assert_eq!(top["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(top["manifests"][0]["digest"], idx_digest.as_str());
        assert_eq!(
            top["manifests"][0]["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(
            top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            "both"
        );
        for arch in ["amd64", "arm64"] {
            let b = s.path().join(format!("b{n}-{arch}"));
            let out = run_image(&[
                "unpack",
                "--platform",
                &format!("linux/{arch}"),
                &format!("oci:{}:both", dest.display()),
                &b.display().to_string(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                std::fs::read(b.join("rootfs/arch")).unwrap(),
                arch.as_bytes()
            );
        }
    }

    // Without --all: one platform, as before.
    let one = s.path().join("one");
    let out = run_image(&[
        "pull",
        "--platform",
        "linux/arm64",
        &format!("docker://{host}/test/multi:v1"),
        &format!("oci:{}", one.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(blob(&one, &arm.layers[0].digest).is_some());
    assert!(blob(&one, &amd.layers[0].digest).is_none());
    assert!(blob(&one, &amd.manifest.digest).is_none());

    let out = run_image(&[
        "pull",
        "--all",
        &format!("docker://{host}/test/multi:v1"),
        &format!("docker-archive:{}", s.path().join("d.tar").display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docker-archive"), "{err}");
}

/// A one-layer image whose `/from` says where it was pushed.
fn from_image(place: &str) -> Built {
    let mut l = busybox_layer("");
    l.file("from", place.as_bytes(), 0o644);
    Image::new(vec![(l.finish(), Comp::Gzip)], json!({"Cmd": ["/bin/sh"]})).build()
}

/// Mirrors from registries.conf as podman and skopeo use them: tried in order, a mirror that
/// lacks the image skipped, the primary location last; a primary that is down does not matter
/// when a mirror has the image; pull-from-mirror = "digest-only" leaves a pull by tag to the
/// primary; a blocked prefix is refused naming the file; and when nothing has it the error
/// names the mirrors tried.
#[test]
fn registry_mirrors_from_registries_conf() {
    let Some(primary) = start_registry() else {
        return;
    };
    let Some(mirror) = start_registry() else {
        return;
    };
    let s = scratch("mirrors");
    for (reg, repo, place) in [
        (&primary, "test/img", "primary"),
        (&mirror, "mirrored/img", "mirror"),
    ] {
        let layout = s.path().join(format!("layout-{place}"));
        write_layout(&layout, &from_image(place), "v1");
        push(
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://127.0.0.1:{}/{repo}:v1", reg.port),
            false,
        );
    }
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (p, m) = (primary.port, mirror.port);
    let home = s.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let conf = s.path().join("registries.conf");
    let mut n = 0;
    let mut pull = |conf_text: Option<String>, image: String| {
        n += 1;
        let mut cmd = Command::new(image_bin());
        cmd.env("HOME", &home);
        match conf_text {
            Some(t) => {
                std::fs::write(&conf, t).unwrap();
                cmd.env("CONTAINERS_REGISTRIES_CONF", &conf);
            }
            None => {
                cmd.env_remove("CONTAINERS_REGISTRIES_CONF");
            }
        }
        let bundle = s.path().join(format!("b{n}"));
        let out = cmd
            .args(["unpack", &format!("docker://{image}")])
            .arg(&bundle)
            .output()
            .unwrap();
        let from = std::fs::read_to_string(bundle.join("rootfs/from")).ok();
        (out, from)
    };
    let table = |prefix: &str, extra: &str, mirrors: &[&str]| {
        let mut t = format!("[aliases]\n\"img\" = \"{prefix}/img\"\n\n[[registry]]\nprefix = \"{prefix}\"\nlocation = \"{prefix}\"\n{extra}\n");
        for m in mirrors {
            t.push_str(&format!("[[registry.mirror]]\nlocation = \"{m}\"\n"));
        }
        t
    };
    let empty = format!("127.0.0.1:{m}/empty");
    let mirrored = format!("127.0.0.1:{m}/mirrored");

    // No configuration (HOME has none, the host's has no table for 127.0.0.1): the primary.
    let (out, from) = pull(None, format!("127.0.0.1:{p}/test/img:v1"));
    assert_eq!(
        from.as_deref(),
        Some("primary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Mirrors first, in order: the first lacks the image, the second has it.
    let (out, from) = pull(
        Some(table(
            &format!("127.0.0.1:{p}/test"),
            "",
            &[&empty, &mirrored],
        )),
        format!("127.0.0.1:{p}/test/img:v1"),
    );
    assert_eq!(
        from.as_deref(),
        Some("mirror"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The primary is down: the mirror serves.
    let (out, from) = pull(
        Some(table(&format!("127.0.0.1:{down}/test"), "", &[&mirrored])),
        format!("127.0.0.1:{down}/test/img:v1"),
    );
    assert_eq!(
        from.as_deref(),
        Some("mirror"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No mirror has it: the primary location.
    let (out, from) = pull(
        Some(table(&format!("127.0.0.1:{p}/test"), "", &[&empty])),
        format!("127.0.0.1:{p}/test/img:v1"),
    );
    assert_eq!(
        from.as_deref(),
        Some("primary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A digest-only mirror is not asked for a tag.
    let digest_only = format!(
        "[[registry]]\nlocation = \"127.0.0.1:{p}/test\"\n[[registry.mirror]]\nlocation = \"{mirrored}\"\npull-from-mirror = \"digest-only\"\n"
    );
    let (out, from) = pull(Some(digest_only), format!("127.0.0.1:{p}/test/img:v1"));
    assert_eq!(
        from.as_deref(),
        Some("primary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Blocked: refused before any request, naming the table and the file.
    let (out, from) = pull(
        Some(table(
            &format!("127.0.0.1:{p}/test"),
            "blocked = true",
            &[&mirrored],
        )),
        format!("127.0.0.1:{p}/test/img:v1"),
    );
    assert_eq!((out.status.code(), from), (Some(1), None));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("image 127.0.0.1:{p}/test/img:v1 is blocked"))
            && err.contains(&conf.display().to_string()),
        "{err}"
    );
    // Nothing has it: the error names the mirrors tried and gives the primary's answer.
    let (out, from) = pull(
        Some(table(&format!("127.0.0.1:{down}/test"), "", &[&empty])),
        format!("127.0.0.1:{down}/test/img:v1"),
    );
    assert_eq!((out.status.code(), from), (Some(1), None));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no mirror gave it ({empty}/img)")),
        "{err}"
    );
    // A file that does not parse is an error, not an empty configuration.
    let (out, _) = pull(
        Some("[[registry]\n".into()),
        format!("127.0.0.1:{p}/test/img:v1"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid configuration"), "{err}");
}

/// A forwarding HTTP proxy on 127.0.0.1, as squid would be: `CONNECT HOST:PORT` tunnels and
/// absolute-form `GET http://HOST:PORT/PATH` requests are passed on to HOST:PORT and counted
/// (tunnels, requests).
fn forward_proxy() -> (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let tunnels = std::sync::Arc::new(AtomicUsize::new(0));
    let gets = std::sync::Arc::new(AtomicUsize::new(0));
    let (t2, g2) = (tunnels.clone(), gets.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let (t3, g3) = (t2.clone(), g2.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, target) = (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    );
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                        headers.push(h.trim().to_string());
                    }
                    if method == "CONNECT" {
                        t3.fetch_add(1, SeqCst);
                        let Ok(mut up) = TcpStream::connect(&target) else {
                            let _ =
                                write!(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                            return;
                        };
                        let _ = write!(c, "HTTP/1.1 200 Connection established\r\n\r\n");
                        let _ = up.write_all(r.buffer());
                        let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut up2, &mut c2);
                            let _ = c2.shutdown(std::net::Shutdown::Both);
                        });
                        let _ = std::io::copy(&mut c, &mut up);
                        let _ = up.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    let Some(rest) = target.strip_prefix("http://") else {
                        let _ = write!(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                        return;
                    };
                    g3.fetch_add(1, SeqCst);
                    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    let mut up = TcpStream::connect(authority).unwrap();
                    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\n");
                    for h in &headers {
                        let lower = h.to_lowercase();
                        if !lower.starts_with("host:")
                            && !lower.starts_with("connection:")
                            && !lower.starts_with("proxy-")
                        {
                            req.push_str(h);
                            req.push_str("\r\n");
                        }
                    }
                    req.push_str("\r\n");
                    up.write_all(req.as_bytes()).unwrap();
                    let mut resp = Vec::new();
                    let _ = up.read_to_end(&mut resp);
                    let _ = c.write_all(&resp);
                }
            });
        }
    });
    (port, tunnels, gets)
}

/// This host's address on its default route, when it has one that is not loopback (Go, and
/// so podman, never proxy loopback addresses, so the proxied registry must be elsewhere).
fn routable_ip() -> Option<String> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// Proxies from the environment as podman and skopeo take them: HTTP_PROXY (or http_proxy)
/// for plain HTTP, sent through the proxy; HTTPS_PROXY for HTTPS, tunnelled with CONNECT;
/// NO_PROXY and loopback registries reached directly; a SOCKS proxy refused by name.
#[test]
fn proxies_from_the_environment() {
    use std::sync::atomic::Ordering::SeqCst;
    let Some(ip) = routable_ip() else {
        eprintln!("SKIP proxies_from_the_environment: no routable address");
        return;
    };
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIP proxies_from_the_environment: no openssl");
        return;
    }
    let s = scratch("proxy");
    openssl(
        s.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth proxy test",
        ],
    );
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        s.path().join("srv.crt").display(),
        s.path().join("srv.key").display()
    );
    let Some(plain) = start_registry_on(&ip, "") else {
        return;
    };
    let Some(secure) = start_registry_on(&ip, &tls) else {
        return;
    };
    let Some(local) = start_registry() else {
        return;
    };
    let layout = s.path().join("layout");
    write_layout(&layout, &marker_image("amd64").build(), "v1");
    for reg in [&plain, &secure] {
        push(
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{ip}:{}/test/img:v1", reg.port),
            false,
        );
    }
    push(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://127.0.0.1:{}/test/img:v1", local.port),
        false,
    );
    let (px, tunnels, gets) = forward_proxy();
    let proxy = format!("http://127.0.0.1:{px}");
    let run = |flag: &str, image: String, env: &[(&str, &str)]| {
        let mut cmd = Command::new(image_bin());
        for v in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(env.iter().copied());
        cmd.args(["inspect", flag, &format!("docker://{image}")])
            .output()
            .unwrap()
    };
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("amd64"));
    };
    let count = || (tunnels.load(SeqCst), gets.load(SeqCst));
    let plain_img = format!("{ip}:{}/test/img:v1", plain.port);
    let secure_img = format!("{ip}:{}/test/img:v1", secure.port);

    ok(&run(
        "--insecure",
        plain_img.clone(),
        &[("HTTP_PROXY", &proxy)],
    ));
    let after_upper = count();
    assert!(after_upper.0 == 0 && after_upper.1 >= 2, "{after_upper:?}");
    ok(&run(
        "--insecure",
        plain_img.clone(),
        &[("http_proxy", &proxy)],
    ));
    let after_lower = count();
    assert!(after_lower.1 > after_upper.1, "{after_lower:?}");
    // NO_PROXY names the registry's address: direct. A list naming something else: proxied.
    ok(&run(
        "--insecure",
        plain_img.clone(),
        &[
            ("HTTP_PROXY", &proxy),
            ("NO_PROXY", &format!("other.example, {ip}")),
        ],
    ));
    assert_eq!(count(), after_lower);
    ok(&run(
        "--insecure",
        plain_img.clone(),
        &[("HTTP_PROXY", &proxy), ("no_proxy", "other.example")],
    ));
    let after_other = count();
    assert!(after_other.1 > after_lower.1, "{after_other:?}");
    // HTTPS: a CONNECT tunnel through HTTPS_PROXY (the HTTP proxy is not used for it).
    ok(&run(
        "--tls-verify=false",
        secure_img.clone(),
        &[
            ("HTTPS_PROXY", &proxy),
            ("HTTP_PROXY", "http://127.0.0.1:1"),
        ],
    ));
    let after_tls = count();
    assert!(
        after_tls.0 >= 1 && after_tls.1 == after_other.1,
        "{after_tls:?}"
    );
    // A loopback registry is never proxied.
    ok(&run(
        "--tls-verify=true",
        format!("127.0.0.1:{}/test/img:v1", local.port),
        &[("HTTP_PROXY", &proxy), ("HTTPS_PROXY", &proxy)],
    ));
    assert_eq!(count(), after_tls);
    // ureq speaks to HTTP proxies only: a SOCKS one is an error, not a direct connection.
    let out = run(
        "--tls-verify=false",
        secure_img,
        &[("HTTPS_PROXY", "socks5://127.0.0.1:1080")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("socks5:// proxies are not supported"), "{err}");
    assert_eq!(count(), after_tls);
}
