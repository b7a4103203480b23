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
        Self::from_reference(s).map_err(|cause| ImageError::BadReference {
            reference: format!("docker://{s}"),
            cause,
        })
    }

    /// [`RegistryRef::parse`] with the bare grammar error, for callers that name the reference
    /// in their own error.
    pub(crate) fn from_reference(
        s: &str,
    ) -> std::result::Result<RegistryRef, crate::error::ReferenceError> {
        let r = super::reference::parse(s)?;
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

    /// The image's name as registries.conf matches it: `HOST/REPO[:TAG][@DIGEST]`, Docker Hub
    /// as `docker.io`, the tag `latest` when neither tag nor digest was given.
    pub(crate) fn name(&self) -> String {
        let host = if self.host == "registry-1.docker.io" {
            super::reference::DOCKER_HUB
        } else {
            &self.host
        };
        let mut s = format!("{host}/{}", self.repo);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if self.by_digest() {
            s.push('@');
            s.push_str(&self.reference);
        } else if self.tag.is_none() {
            s.push(':');
            s.push_str(&self.reference);
        }
        s
    }

    /// Whether a digest picks the image (a tag cannot contain `:`, a digest always does).
    pub(crate) fn by_digest(&self) -> bool {
        self.reference.contains(':')
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
    agents: super::proxy::Agents,
    creds: Option<String>,
    /// An OAuth2 refresh token from an auth file, traded for access tokens at the token
    /// server (instead of `creds`).
    pub(crate) identity_token: Option<String>,
    token: Mutex<Option<String>>,
    retry: Retry,
}

/// How often a request that failed in a way that may pass is tried, and how long to wait
/// before the second try (doubled before each further one).
#[derive(Clone, Copy, Debug)]
struct Retry {
    tries: u32,
    first_delay: std::time::Duration,
}

/// Three tries, 0.5 s then 1 s apart; a 429's Retry-After is honoured up to
/// [`MAX_RETRY_AFTER`].
const RETRY: Retry = Retry {
    tries: 3,
    first_delay: std::time::Duration::from_millis(500),
};

/// The longest Retry-After (seconds) waited for; a registry asking for more gets its error.
const MAX_RETRY_AFTER: u64 = 10;

/// Whether `e` may pass on another try: the connection refused, reset or cut before an
/// answer, 429 Too Many Requests, or a 5xx other than 501 (Not Implemented) and 505.
fn transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Status(code, _) => {
            *code == 429 || ((500..600).contains(code) && !matches!(*code, 501 | 505))
        }
        ureq::Error::Transport(t) => matches!(
            t.kind(),
            ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io
        ),
    }
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
/// A ureq transport failure told without the URL ureq puts in front of it: the error that
/// carries it names the URL already.
#[derive(Debug)]
struct Transport(ureq::Transport);

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.kind())?;
        if let Some(m) = self.0.message() {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Transport {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// `e` as the cause of an error that names the URL itself.
fn without_url(e: ureq::Error) -> Box<dyn std::error::Error + Send + Sync> {
    match e {
        ureq::Error::Transport(t) => Box::new(Transport(t)),
        other => Box::new(other),
    }
}

/// The `message` of the first entry of a registry's `{"errors": [...]}` answer, else the
/// answer's text (cut short), else "no reason given".
fn registry_message(body: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| {
        let e = v.get("errors")?.get(0)?;
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
        let m = e.get("message")?.as_str()?;
        Some(if code.is_empty() {
            m.to_string()
        } else {
            format!("{}: {m}", code.to_lowercase())
        })
    });
    match msg {
        Some(m) => m,
        None if body.trim().is_empty() => "no reason given".into(),
        None => body.trim().chars().take(200).collect(),
    }
}

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
        proxy: &super::proxy::ProxySettings,
    ) -> Registry {
        let plain = r.is_local() || insecure;
        let base = std::sync::OnceLock::new();
        if plain {
            let _ = base.set(format!("http://{}/v2/{}", r.host, r.repo));
        } else if !skip_verify {
            let _ = base.set(format!("https://{}/v2/{}", r.host, r.repo));
        }
        let build = || {
            ureq::AgentBuilder::new()
                .redirects(5)
                .timeout_connect(std::time::Duration::from_secs(30))
                .tls_config(tls.clone())
        };
        Registry {
            r,
            base,
            agents: super::proxy::Agents::new(build, proxy),
            creds,
            identity_token: None,
            token: Mutex::new(None),
            retry: RETRY,
        }
    }

    /// Sends the request `make` builds, again (up to [`Retry::tries`] in all, with backoff)
    /// while it fails in a [`transient`] way; the last answer or error is returned.
    fn call(
        &self,
        make: impl Fn() -> ureq::Request,
    ) -> std::result::Result<ureq::Response, Box<ureq::Error>> {
        let mut delay = self.retry.first_delay;
        let mut tries = 1;
        loop {
            match make().call() {
                Err(e) if tries < self.retry.tries && transient(&e) => {
                    let mut wait = delay;
                    if let ureq::Error::Status(429, resp) = &e {
                        match resp.header("Retry-After").map(|v| v.trim().parse::<u64>()) {
                            Some(Ok(secs)) if secs > MAX_RETRY_AFTER => return Err(Box::new(e)),
                            Some(Ok(secs)) => wait = wait.max(std::time::Duration::from_secs(secs)),
                            _ => {}
                        }
                    }
                    // Read what is left of an error answer so its connection can be reused.
                    if let ureq::Error::Status(_, resp) = e {
                        let _ = std::io::copy(
                            &mut resp.into_reader().take(64 * 1024),
                            &mut std::io::sink(),
                        );
                    }
                    std::thread::sleep(wait);
                    delay = delay.saturating_mul(2);
                    tries += 1;
                }
                r => return r.map_err(Box::new),
            }
        }
    }

    /// The repository's base URL: set in `new` unless the scheme is open (`--tls-verify=false`):
    /// then any HTTP answer to `GET /v2/` over HTTPS, even 401, settles on HTTPS, and a
    /// registry that cannot speak it at all is used over plain HTTP.
    fn base(&self) -> &str {
        self.base.get_or_init(|| {
            let https = format!("https://{}/v2/", self.r.host);
            // A proxy that cannot be used fails the requests themselves, with its reason.
            let scheme = match self.agents.for_url(&https) {
                Ok(a) => match a.get(&https).call() {
                    Err(ureq::Error::Transport(_)) => "http",
                    _ => "https",
                },
                Err(_) => "https",
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

    /// The registry turned the credentials down (401 after authenticating with them).
    fn refused(&self, url: &str, why: &str) -> ImageError {
        self.err(
            url,
            format!(
                "{} refused the credentials for {} ({why})",
                self.r.host, self.r.repo
            ),
        )
    }

    fn basic(&self) -> Option<String> {
        self.creds.as_ref().map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
    }

    /// GET with the current auth, tried again on transient failures; on 401 performs the
    /// challenge once and retries.
    fn get(&self, url: &str, accept: Option<&str>) -> Result<ureq::Response> {
        let agent = self.agents.for_url(url)?;
        for attempt in 0..2 {
            let token = self.token.lock().map(|t| t.clone()).unwrap_or(None);
            let res = self.call(|| {
                let mut req = agent.get(url);
                if let Some(a) = accept {
                    req = req.set("Accept", a);
                }
                if let Some(t) = &token {
                    req = req.set("Authorization", t);
                }
                req
            });
            match res.map_err(|e| *e) {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if attempt == 0 => {
                    let challenge = resp.header("WWW-Authenticate").unwrap_or("").to_string();
                    self.authenticate(url, &challenge)?;
                }
                Err(ureq::Error::Status(401, resp))
                    if self.creds.is_some() || self.identity_token.is_some() =>
                {
                    let mut body = String::new();
                    let _ = resp.into_reader().take(4096).read_to_string(&mut body);
                    return Err(self.refused(url, &registry_message(&body)));
                }
                Err(ureq::Error::Status(401, _)) => {
                    return Err(ImageError::CredentialsNeeded {
                        url: url.to_string(),
                    })
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
                        source: without_url(e),
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
            let basic = self.basic();
            let auth_err = |what, e: Box<dyn std::error::Error + Send + Sync>| ImageError::Auth {
                url: turl.clone(),
                what,
                source: e,
            };
            let sent = match &self.identity_token {
                // An identity token is traded as OAuth2 wants it (docker's token spec, "oauth"):
                // POSTed as a form to the realm, as containers/image and docker do.
                Some(rt) => {
                    let mut form = Vec::new();
                    if let Some(svc) = get("service") {
                        form.push(("service", svc));
                    }
                    form.push(("scope", scope.clone()));
                    form.push(("grant_type", "refresh_token".into()));
                    form.push(("refresh_token", rt.clone()));
                    form.push(("client_id", "berth-image".into()));
                    let pairs: Vec<(&str, &str)> =
                        form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    self.agents
                        .for_url(&realm)?
                        .post(&realm)
                        .send_form(&pairs)
                        .map_err(Box::new)
                }
                None => {
                    let agent = self.agents.for_url(&turl)?;
                    self.call(|| {
                        let req = agent.get(&turl);
                        match &basic {
                            Some(b) => req.set("Authorization", b),
                            None => req,
                        }
                    })
                }
            };
            let with_creds = basic.is_some() || self.identity_token.is_some();
            let resp = sent.map_err(|e| match *e {
                ureq::Error::Status(code @ (401 | 403), resp) if with_creds => {
                    let mut body = String::new();
                    let _ = resp.into_reader().take(4096).read_to_string(&mut body);
                    let why = registry_message(&body);
                    self.refused(&turl, &format!("token server: HTTP {code}: {why}"))
                }
                e => auth_err("token request", without_url(e)),
            })?;
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

/// An image with registry mirrors (registries.conf): the places to pull it from in order, the
/// primary location last. The first that gives the root manifest is used for everything after,
/// as podman and skopeo use it.
pub(crate) struct Mirrored {
    /// The logical name, for messages.
    name: String,
    tries: Vec<Registry>,
    chosen: std::sync::OnceLock<usize>,
}

impl Mirrored {
    pub(crate) fn new(name: String, tries: Vec<Registry>) -> Mirrored {
        Mirrored {
            name,
            tries,
            chosen: std::sync::OnceLock::new(),
        }
    }

    fn chosen(&self) -> Result<&Registry> {
        let i = self
            .chosen
            .get()
            .copied()
            .unwrap_or(self.tries.len().saturating_sub(1));
        self.tries
            .get(i)
            .ok_or_else(|| ImageError::Invalid(format!("{}: no place to pull from", self.name)))
    }
}

impl ImageSource for Mirrored {
    fn describe(&self) -> String {
        match self.chosen.get() {
            Some(_) => self.chosen().map(|r| r.describe()).unwrap_or_default(),
            None => format!("docker://{}", self.name),
        }
    }

    fn root(&self) -> Result<(Descriptor, Vec<u8>)> {
        if self.chosen.get().is_some() {
            return self.chosen()?.root();
        }
        let mut last = None;
        for (i, reg) in self.tries.iter().enumerate() {
            match reg.root() {
                Ok(found) => {
                    let _ = self.chosen.set(i);
                    return Ok(found);
                }
                Err(e) => last = Some(e),
            }
        }
        let mirrors: Vec<String> = self.tries[..self.tries.len().saturating_sub(1)]
            .iter()
            .map(|r| format!("{}/{}", r.r.host, r.r.repo))
            .collect();
        Err(ImageError::Mirrors {
            image: self.name.clone(),
            mirrors: mirrors.join(", "),
            source: Box::new(last.unwrap_or_else(|| ImageError::NotFound(self.name.clone()))),
        })
    }

    fn blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        self.chosen()?.blob(digest)
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
        assert_eq!(r.name(), format!("docker.io/library/busybox:1.36@{d}"));
        assert_eq!(
            RegistryRef::parse("busybox").unwrap().name(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            RegistryRef::parse(&format!("localhost:5000/a/b@{d}"))
                .unwrap()
                .name(),
            format!("localhost:5000/a/b@{d}")
        );
        let e = RegistryRef::parse("Busybox").unwrap_err();
        assert_eq!(e.to_string(), r#"invalid image source "docker://Busybox""#);
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("repository name must be lowercase"));
        let (s, p) = parse_challenge(r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull""#).unwrap();
        assert_eq!(s, "bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull".into()));
    }

    /// A one-thread HTTP server on 127.0.0.1 that answers the requests it gets, one per
    /// connection, with `answers` in order (`None`: close the connection without a word), then
    /// with [`OK`], until a request for `/stop`; returns its port and the number of other
    /// requests it read.
    fn serve(answers: Vec<Option<&'static str>>) -> (u16, std::thread::JoinHandle<usize>) {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            let mut n = 0;
            loop {
                let (c, _) = l.accept().unwrap();
                let mut r = BufReader::new(c);
                let mut first = String::new();
                r.read_line(&mut first).unwrap();
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                if first.starts_with("GET /stop ") {
                    r.get_mut().write_all(OK.as_bytes()).unwrap();
                    return n;
                }
                n += 1;
                if let Some(a) = answers.next().unwrap_or(Some(OK)) {
                    r.get_mut().write_all(a.as_bytes()).unwrap();
                }
            }
        });
        (port, t)
    }

    /// Stops the server of [`serve`] and says how many requests it read.
    fn requests(port: u16, t: std::thread::JoinHandle<usize>) -> usize {
        ureq::get(&format!("http://127.0.0.1:{port}/stop"))
            .call()
            .unwrap();
        t.join().unwrap()
    }

    fn client(port: u16) -> Registry {
        let r = RegistryRef::parse(&format!("127.0.0.1:{port}/test/img:v1")).unwrap();
        let tls = crate::source::tls::client_config(&Default::default()).unwrap();
        let mut reg = Registry::new(r, false, None, tls, false, &Default::default());
        reg.retry.first_delay = std::time::Duration::from_millis(1);
        reg
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    const BUSY: &str =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
    const SLOW_DOWN: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    #[test]
    fn transient_failures_are_tried_again_up_to_three_times() {
        // A dropped connection, a 503 and a 429, then the answer: 3 tries are not enough...
        let (port, t) = serve(vec![None, Some(BUSY), Some(SLOW_DOWN)]);
        let reg = client(port);
        let url = format!("http://127.0.0.1:{port}/v2/test/img/blobs/x");
        let e = reg.get(&url, None).err().unwrap();
        assert_eq!(requests(port, t), 3);
        assert!(e.to_string().contains(&url), "{e}");
        // ... 2 failures are.
        let (port, t) = serve(vec![Some(BUSY), None, Some(OK)]);
        let reg = client(port);
        let url = format!("http://127.0.0.1:{port}/v2/test/img/blobs/x");
        let mut body = String::new();
        reg.get(&url, None)
            .unwrap()
            .into_reader()
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!((body.as_str(), requests(port, t)), ("hello", 3));
    }

    #[test]
    fn lasting_failures_are_not_tried_again() {
        for answer in [
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            // A registry that wants us back in a minute: its error now, not a minute's wait.
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ] {
            let (port, t) = serve(vec![Some(answer)]);
            let reg = client(port);
            let url = format!("http://127.0.0.1:{port}/v2/test/img/blobs/x");
            assert!(reg.get(&url, None).is_err(), "{answer}");
            assert_eq!(requests(port, t), 1, "{answer}");
        }
        // Nobody listening: refused, tried three times, then the transport error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = client(port)
            .get(&format!("http://127.0.0.1:{port}/v2/"), None)
            .err()
            .unwrap();
        assert!(matches!(e, ImageError::Transfer { .. }), "{e:?}");
    }
}
