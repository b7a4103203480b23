//! A minimal registry API v2 client: manifests (with the media types we accept), blobs, and
//! bearer-token auth. HTTPS by default; plain HTTP only for localhost or with --insecure.

use super::image_source::ImageSource;
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::types::{self, Descriptor, MAX_JSON};
use base64::Engine as _;
use std::io::Read;
use std::sync::Mutex;

/// An image in a registry: `[HOST/]REPO[:TAG][@DIGEST]`, normalised as docker, podman and
/// skopeo normalise it (Docker Hub by default, `library/` for its one-component names, tag
/// `latest` when neither tag nor digest is given).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryRef {
    /// The registry's `host[:port]` (`registry-1.docker.io` for Docker Hub).
    pub host: String,
    /// The repository (`library/NAME` for Docker Hub's official images).
    pub repo: String,
    /// What is fetched: the digest (`sha256:...`) when one is given, else the tag.
    pub reference: String,
    /// The tag, also when a digest picks the image (`NAME:TAG@DIGEST`).
    pub tag: Option<String>,
}

impl RegistryRef {
    /// Parses what follows `docker://` by the distribution reference grammar (see the
    /// `reference` module): the first component is the registry when it has a `.` or `:`, is
    /// `localhost` or has an upper-case letter; otherwise the image is on Docker Hub.
    pub fn parse(s: &str) -> Result<RegistryRef> {
        let r = super::reference::parse(s).map_err(|reason| ImageError::Source {
            spec: format!("docker://{s}"),
            reason,
        })?;
        let host = if r.domain == super::reference::DOCKER_HUB {
            "registry-1.docker.io".to_string()
        } else {
            r.domain
        };
        let reference = match (&r.digest, &r.tag) {
            (Some(d), _) => d.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        };
        Ok(RegistryRef {
            host,
            repo: r.path,
            reference,
            tag: r.tag,
        })
    }

    fn is_local(&self) -> bool {
        let h = self
            .host
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&self.host);
        matches!(h, "localhost" | "127.0.0.1" | "[::1]")
    }
}

pub(crate) struct Registry {
    r: RegistryRef,
    /// `SCHEME://HOST/v2/REPO`; with `--tls-verify=false` settled on first use (see
    /// [`Registry::base`]), as skopeo tries HTTPS then HTTP.
    base: std::sync::OnceLock<String>,
    agent: ureq::Agent,
    creds: Option<String>,
    token: Mutex<Option<String>>,
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses `Bearer realm="...",service="...",scope="..."` into its parameters.
pub(crate) fn parse_challenge(h: &str) -> Option<(String, Vec<(String, String)>)> {
    let (scheme, rest) = h.trim().split_once(' ')?;
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, v) = s.split_once('=')?;
        let v = v.trim_start();
        let (val, after) = if let Some(q) = v.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = v.find(',').unwrap_or(v.len());
            (v[..end].trim().to_string(), &v[end..])
        };
        params.push((k.trim().to_lowercase(), val));
        s = after.trim_start_matches([',', ' ']);
    }
    Some((scheme.to_lowercase(), params))
}

impl Registry {
    /// A client for `r`; plain HTTP only for localhost or when `insecure`.
    pub(crate) fn new(
        r: RegistryRef,
        insecure: bool,
        creds: Option<String>,
        tls: std::sync::Arc<rustls::ClientConfig>,
        skip_verify: bool,
    ) -> Registry {
        let plain = r.is_local() || insecure;
        let base = std::sync::OnceLock::new();
        if plain {
            let _ = base.set(format!("http://{}/v2/{}", r.host, r.repo));
        } else if !skip_verify {
            let _ = base.set(format!("https://{}/v2/{}", r.host, r.repo));
        }
        let agent = ureq::AgentBuilder::new()
            .redirects(5)
            .timeout_connect(std::time::Duration::from_secs(30))
            .tls_config(tls)
            .build();
        Registry {
            r,
            base,
            agent,
            creds,
            token: Mutex::new(None),
        }
    }

    /// The repository's base URL: set in `new` unless the scheme is open (`--tls-verify=false`):
    /// then any HTTP answer to `GET /v2/` over HTTPS, even 401, settles on HTTPS, and a
    /// registry that cannot speak it at all is used over plain HTTP.
    fn base(&self) -> &str {
        self.base.get_or_init(|| {
            let https = format!("https://{}/v2/", self.r.host);
            let scheme = match self.agent.get(&https).call() {
                Err(ureq::Error::Transport(_)) => "http",
                _ => "https",
            };
            format!("{scheme}://{}/v2/{}", self.r.host, self.r.repo)
        })
    }

    fn err(&self, url: &str, reason: impl Into<String>) -> ImageError {
        ImageError::Registry {
            url: url.to_string(),
            reason: reason.into(),
        }
    }

    fn basic(&self) -> Option<String> {
        self.creds.as_ref().map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
    }

    /// GET with the current auth; on 401 performs the challenge once and retries.
    fn get(&self, url: &str, accept: Option<&str>) -> Result<ureq::Response> {
        for attempt in 0..2 {
            let mut req = self.agent.get(url);
            if let Some(a) = accept {
                req = req.set("Accept", a);
            }
            let token = self.token.lock().map(|t| t.clone()).unwrap_or(None);
            if let Some(t) = token {
                req = req.set("Authorization", &t);
            }
            match req.call() {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if attempt == 0 => {
                    let challenge = resp.header("WWW-Authenticate").unwrap_or("").to_string();
                    self.authenticate(url, &challenge)?;
                }
                Err(ureq::Error::Status(404, _)) => {
                    return Err(ImageError::NotFound(url.to_string()))
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let mut body = String::new();
                    let _ = resp.into_reader().take(4096).read_to_string(&mut body);
                    return Err(self.err(url, format!("HTTP {code}: {}", body.trim())));
                }
                Err(e) => {
                    return Err(ImageError::Transfer {
                        url: url.to_string(),
                        source: Box::new(e),
                    })
                }
            }
        }
        Err(self.err(url, "authentication failed"))
    }

    fn authenticate(&self, url: &str, challenge: &str) -> Result<()> {
        let (scheme, params) = parse_challenge(challenge)
            .ok_or_else(|| self.err(url, "401 without a usable WWW-Authenticate"))?;
        let auth = if scheme == "basic" {
            self.basic().ok_or_else(|| ImageError::CredentialsNeeded {
                url: url.to_string(),
            })?
        } else if scheme == "bearer" {
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(pk, _)| pk == k)
                    .map(|(_, v)| v.clone())
            };
            let realm =
                get("realm").ok_or_else(|| self.err(url, "bearer challenge without realm"))?;
            let mut turl = format!("{realm}?");
            if let Some(svc) = get("service") {
                turl.push_str(&format!("service={}&", query_escape(&svc)));
            }
            let scope = get("scope").unwrap_or_else(|| format!("repository:{}:pull", self.r.repo));
            turl.push_str(&format!("scope={}", query_escape(&scope)));
            let mut req = self.agent.get(&turl);
            if let Some(b) = self.basic() {
                req = req.set("Authorization", &b);
            }
            let auth_err = |what, e: Box<dyn std::error::Error + Send + Sync>| ImageError::Auth {
                url: turl.clone(),
                what,
                source: e,
            };
            let resp = req
                .call()
                .map_err(|e| auth_err("token request", Box::new(e)))?;
            let v: serde_json::Value = resp
                .into_json()
                .map_err(|e| auth_err("token response", Box::new(e)))?;
            let tok = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| self.err(&turl, "token response has no token"))?;
            format!("Bearer {tok}")
        } else {
            return Err(self.err(url, format!("unsupported auth scheme {scheme:?}")));
        };
        if let Ok(mut t) = self.token.lock() {
            *t = Some(auth);
        }
        Ok(())
    }
}

impl ImageSource for Registry {
    fn describe(&self) -> String {
        format!(
            "docker://{}/{}:{}",
            self.r.host, self.r.repo, self.r.reference
        )
    }

    fn root(&self) -> Result<(Descriptor, Vec<u8>)> {
        let url = format!("{}/manifests/{}", self.base(), self.r.reference);
        let resp = self.get(&url, Some(ACCEPT))?;
        let ctype = resp.content_type().to_string();
        let header_digest = resp.header("Docker-Content-Digest").map(str::to_string);
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_JSON + 1)
            .read_to_end(&mut body)
            .map_err(|e| ImageError::Transfer {
                url: url.clone(),
                source: Box::new(e),
            })?;
        if body.len() as u64 > MAX_JSON {
            return Err(self.err(&url, "manifest too large"));
        }
        // Pulling by digest pins the content; by tag the bytes are checked against the registry's
        // Docker-Content-Digest when it sends one, and named by their hash.
        let digest = match Digest::parse(&self.r.reference) {
            Ok(d) => {
                d.verify_bytes(&body, None)?;
                d
            }
            Err(_) => match header_digest.as_deref().map(Digest::parse) {
                // The registry's own digest for the tag must match what it sent.
                Some(Ok(d)) => {
                    d.verify_bytes(&body, None)?;
                    d
                }
                _ => Digest::sha256_of(&body),
            },
        };
        let declared = if ctype.contains("json") && ctype != "application/json" {
            Some(ctype.as_str())
        } else {
            None
        };
        let media_type = types::sniff_media_type(declared, &body);
        Ok((
            Descriptor {
                media_type,
                digest: digest.to_string(),
                size: body.len() as u64,
                ..Default::default()
            },
            body,
        ))
    }

    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        // Manifests inside an index live under /manifests/, everything else under /blobs/.
        let url = format!("{}/blobs/{digest}", self.base());
        match self.get(&url, None) {
            Ok(resp) => Ok(resp.into_reader()),
            Err(ImageError::NotFound(_)) => {
                let url = format!("{}/manifests/{digest}", self.base());
                Ok(self.get(&url, Some(ACCEPT))?.into_reader())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_refs_and_challenges() {
        let r = RegistryRef::parse("127.0.0.1:5000/test/busybox:v1").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repo.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "test/busybox", "v1")
        );
        assert!(r.is_local());
        for s in [
            "debian",
            "docker.io/debian",
            "index.docker.io/library/debian:latest",
        ] {
            let r = RegistryRef::parse(s).unwrap();
            assert_eq!(
                (r.host.as_str(), r.repo.as_str(), r.reference.as_str()),
                ("registry-1.docker.io", "library/debian", "latest"),
                "{s}"
            );
        }
        let d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
        let r = RegistryRef::parse(&format!("busybox:1.36@{d}")).unwrap();
        assert_eq!((r.reference.as_str(), r.tag.as_deref()), (d, Some("1.36")));
        let e = RegistryRef::parse("Busybox").unwrap_err().to_string();
        assert_eq!(
            e,
            r#"invalid image source "docker://Busybox": repository name must be lowercase"#
        );
        let (s, p) = parse_challenge(r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull""#).unwrap();
        assert_eq!(s, "bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull".into()));
    }
}
