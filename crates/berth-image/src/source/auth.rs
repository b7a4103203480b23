//! Registry credentials from auth files, read as podman and skopeo read them
//! (containers-auth.json(5)) and as docker writes them (`~/.docker/config.json`): `auths`
//! entries keyed by registry, namespace or repository (the most specific wins; docker's
//! `https://index.docker.io/v1/` style keys are normalised), and `credHelpers` / `credsStore`
//! through `docker-credential-HELPER get`.
//!
//! Which files to read is the caller's choice: this module reads no environment.

use crate::error::{ImageError, Result};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    /// An OAuth2 refresh token (`docker login` to registries that hand them out).
    #[serde(default)]
    identitytoken: Option<String>,
}

/// What an auth file holds for a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// `USER:PASSWORD`, for basic auth and token requests.
    Password(String),
    /// An identity (OAuth2 refresh) token, exchanged at the token server for an access token.
    IdentityToken(String),
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000`; other keys
/// (`host`, `host/ns/repo`) as they are.
fn normalise_key(k: &str) -> String {
    let k = match k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => k,
    };
    match k {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.into(),
    }
}

/// `registry/a/b/c`, `registry/a/b`, `registry/a`, `registry`: most specific first.
fn candidates(registry: &str, repo: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = format!("{registry}/{repo}");
    loop {
        out.push(path.clone());
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => return out,
        }
    }
}

fn decode(file: &Path, key: &str, b64: &str) -> Result<String> {
    let bad =
        |why: &str| ImageError::Invalid(format!("{}: auths entry {key:?}: {why}", file.display()));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad("auth is not base64"))?;
    let s = String::from_utf8(raw).map_err(|_| bad("auth is not UTF-8"))?;
    if !s.contains(':') {
        return Err(bad("auth is not USER:PASSWORD"));
    }
    Ok(s)
}

/// What docker-credential-helpers print (on stdout, exiting 1) when they hold nothing for the
/// server: not an error, only no credentials.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// Asks `docker-credential-HELPER` for `server`'s credentials: `None` when it holds none (or,
/// with `missing_ok`, when no such program is installed). A helper that fails otherwise is an
/// error carrying what it printed, as podman and skopeo (and docker) report it.
fn from_helper(helper: &str, server: &str, missing_ok: bool) -> Result<Option<Credentials>> {
    let prog = format!("docker-credential-{helper}");
    let what = |e| ImageError::io(format!("run {prog} get"), e);
    let mut child = match Command::new(&prog)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(what(e)),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper may answer (or fail) without reading the server name: its exit status and
        // output tell, not the pipe it closed.
        match stdin.write_all(server.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(what(e)),
            _ => {}
        }
    }
    let out = child.wait_with_output().map_err(what)?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if said == NOT_FOUND {
            return Ok(None);
        }
        let said = if said.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            said
        };
        return Err(ImageError::Invalid(format!(
            "{prog} get for {server} failed ({}): {}",
            out.status,
            if said.is_empty() { "no message" } else { &said }
        )));
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let r: Reply = serde_json::from_slice(&out.stdout)
        .map_err(|e| ImageError::json(format!("{prog} get's answer"), e))?;
    if r.username == "<token>" {
        return Ok(Some(Credentials::IdentityToken(r.secret)));
    }
    Ok(Some(Credentials::Password(format!(
        "{}:{}",
        r.username, r.secret
    ))))
}

/// `USER:PASSWORD` for `repo` on `registry` (`docker.io` for Docker Hub) from the first of
/// `files` that has any; files that do not exist are skipped, malformed ones are an error. A
/// file named `.dockercfg` is read in docker's legacy format (the `auths` map alone).
pub(crate) fn lookup(files: &[PathBuf], registry: &str, repo: &str) -> Result<Option<Credentials>> {
    let registry = normalise_key(registry);
    let wanted = candidates(&registry, repo);
    for file in files {
        let text = match std::fs::read(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ImageError::io(format!("read {}", file.display()), e)),
        };
        let json_err = |e| ImageError::json(file.display().to_string(), e);
        let f: AuthFile = if file.file_name() == Some(std::ffi::OsStr::new(".dockercfg")) {
            // docker's legacy format: the `auths` map alone, keyed by API URLs.
            AuthFile {
                auths: serde_json::from_slice(&text).map_err(json_err)?,
                ..AuthFile::default()
            }
        } else {
            serde_json::from_slice(&text).map_err(json_err)?
        };
        let helper = f
            .cred_helpers
            .iter()
            .find(|(k, _)| normalise_key(k) == registry)
            .map(|(_, h)| h.clone());
        if let Some(h) = helper {
            let server = if registry == "docker.io" {
                "https://index.docker.io/v1/".to_string()
            } else {
                registry.clone()
            };
            if let Some(c) = from_helper(&h, &server, false)? {
                return Ok(Some(c));
            }
            continue;
        }
        let auths: HashMap<String, (&String, &AuthEntry)> = f
            .auths
            .iter()
            .map(|(k, v)| (normalise_key(k), (k, v)))
            .collect();
        for c in &wanted {
            if let Some((key, e)) = auths.get(c) {
                // An identity token goes before `auth` (which then holds `USER:` only), as
                // containers/image and docker take it.
                if let Some(t) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
                    return Ok(Some(Credentials::IdentityToken(t.to_string())));
                }
                if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
                    return Ok(Some(Credentials::Password(decode(file, key, a)?)));
                }
            }
        }
        if let Some(store) = &f.creds_store {
            let server = if registry == "docker.io" {
                "https://index.docker.io/v1/".to_string()
            } else {
                registry.clone()
            };
            // A store this host lacks (Docker Desktop's `desktop` left in a copied config):
            // no credentials, rather than no pulls at all; podman and skopeo never read
            // credsStore.
            if let Some(c) = from_helper(store, &server, true)? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// The USER:PASSWORD of `c`, or `token:TOKEN` for an identity token.
    fn pw(c: Credentials) -> String {
        match c {
            Credentials::Password(p) => p,
            Credentials::IdentityToken(t) => format!("token:{t}"),
        }
    }

    #[test]
    fn credential_helpers_are_asked_and_their_failures_reported() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("berth-authh-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        // Helpers are found through PATH: the test's ones sit in a directory put in front.
        // The last two answer without reading the server name (the pipe to them breaks).
        for (name, script) in [
            (
                "berthtest",
                "read server\nif [ \"$server\" != reg.example:5000 ]; then echo 'credentials not found in native keychain'; exit 1; fi\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"hu\",\"Secret\":\"hs\"}' \"$server\"",
            ),
            ("berthlocked", "echo 'the keyring is locked'; exit 3"),
            (
                "berthtoken",
                "printf '{\"Username\":\"<token>\",\"Secret\":\"rt-1\"}'",
            ),
            (
                "berthempty",
                "echo 'credentials not found in native keychain'; exit 1",
            ),
        ] {
            let helper = d.join(format!("docker-credential-{name}"));
            std::fs::write(&helper, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cfg = d.join("config.json");
        std::fs::write(
            &cfg,
            serde_json::json!({
                "credHelpers": {
                    "reg.example:5000": "berthtest",
                    "miss.example": "berthtest",
                    "empty.example": "berthempty",
                    "locked.example": "berthlocked",
                    "token.example": "berthtoken",
                    "other.example": "nosuchhelper",
                },
                "credsStore": "nosuchstore",
            })
            .to_string(),
        )
        .unwrap();
        let second = d.join("second.json");
        std::fs::write(
            &second,
            serde_json::json!({"auths": {"empty.example": {"auth": b64("from:second")}}})
                .to_string(),
        )
        .unwrap();
        let store = d.join("store.json");
        std::fs::write(
            &store,
            serde_json::json!({"credsStore": "berthlocked"}).to_string(),
        )
        .unwrap();
        // Only prepended, and left so: other tests of this binary that run programs (tar)
        // still find them.
        let path = std::env::var("PATH").unwrap_or_default();
        std::env::set_var("PATH", format!("{}:{path}", d.display()));
        let files = [cfg, second];
        let run = |reg: &str| lookup(&files, reg, "x/y").map(|c| c.map(pw));
        assert_eq!(run("reg.example:5000").unwrap().as_deref(), Some("hu:hs"));
        assert_eq!(run("token.example").unwrap().as_deref(), Some("token:rt-1"));
        // "Not found": none from this file, the next one is read.
        assert_eq!(run("miss.example").unwrap(), None);
        assert_eq!(
            run("empty.example").unwrap().as_deref(),
            Some("from:second")
        );
        // A failing helper, or one named for the registry that is not installed: an error.
        let e = run("locked.example").unwrap_err().to_string();
        assert!(
            e.contains("docker-credential-berthlocked")
                && e.contains("locked.example")
                && e.contains("the keyring is locked"),
            "{e}"
        );
        let e = run("other.example").unwrap_err().to_string();
        assert!(e.contains("docker-credential-nosuchhelper"), "{e}");
        // The default store (credsStore) not installed: no credentials; failing: an error.
        assert_eq!(run("third.example").unwrap(), None);
        let e = lookup(&[store], "third.example", "x/y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the keyring is locked"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn most_specific_entry_of_the_first_file_that_has_one() {
        let d = std::env::temp_dir().join(format!("berth-auth-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let a = d.join("auth.json");
        let docker = d.join("config.json");
        std::fs::write(
            &a,
            serde_json::json!({"auths": {
                "quay.io": {"auth": b64("q:1")},
                "quay.io/team": {"auth": b64("q:team")},
                "quay.io/team/app": {"auth": b64("q:app")},
            }})
            .to_string(),
        )
        .unwrap();
        std::fs::write(
            &docker,
            serde_json::json!({"auths": {
                "https://index.docker.io/v1/": {"auth": b64("hub:pw")},
                "localhost:5000": {"auth": b64("me:pw:with:colons")},
                "acr.example": {"auth": b64("00000000-0000-0000-0000-000000000000:"), "identitytoken": "rt-acr"},
                "quay.io": {"auth": b64("never:used")},
                "bad.io": {"auth": "%%%"},
            }})
            .to_string(),
        )
        .unwrap();
        let legacy = d.join(".dockercfg");
        std::fs::write(
            &legacy,
            serde_json::json!({"https://old.example:5000/v1/": {"auth": b64("old:pw")}})
                .to_string(),
        )
        .unwrap();
        let files = [d.join("missing.json"), a.clone(), docker.clone(), legacy];
        let l = |reg: &str, repo: &str| lookup(&files, reg, repo).unwrap().map(pw);
        assert_eq!(l("quay.io", "team/app").as_deref(), Some("q:app"));
        assert_eq!(l("quay.io", "team/other").as_deref(), Some("q:team"));
        assert_eq!(l("quay.io", "x/y").as_deref(), Some("q:1"));
        assert_eq!(
            l("registry-1.docker.io", "library/busybox").as_deref(),
            Some("hub:pw")
        );
        assert_eq!(
            l("localhost:5000", "a").as_deref(),
            Some("me:pw:with:colons")
        );
        assert_eq!(l("ghcr.io", "a/b"), None);
        assert_eq!(l("acr.example", "a/b").as_deref(), Some("token:rt-acr"));
        assert_eq!(l("old.example:5000", "a/b").as_deref(), Some("old:pw"));
        let e = lookup(&files, "bad.io", "x").unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("bad.io"), "{e}");
        std::fs::write(&a, "{not json").unwrap();
        assert!(lookup(&files, "quay.io", "x").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
