//! Image references as the container tools read them (the distribution project's reference
//! grammar, with Docker Hub's normalisation as `docker pull`, podman and skopeo apply it):
//!
//! ```text
//! reference       := name [ ":" tag ] [ "@" digest ]
//! name            := [ domain "/" ] path-component ( "/" path-component )*
//! domain          := host [ ":" port ]       host: DNS labels joined by ".", or [IPv6]
//! path-component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag             := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest          := algorithm ":" hex{32,}  algorithm: [A-Za-z][A-Za-z0-9]* joined by [+._-]
//! ```
//!
//! The first component is the domain when it has a `.` or `:`, is `localhost`, or has an
//! upper-case letter; otherwise the name is on `docker.io` (`index.docker.io` is the same), where
//! a one-component path gets `library/`. Without tag or digest the tag is `latest`.

use crate::error::ReferenceError;

/// A parsed, normalised reference.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// `docker.io` for Docker Hub.
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub(crate) const DOCKER_HUB: &str = "docker.io";
const NAME_MAX: usize = 255;

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-", always between alphanumerics.
        let sep_len = match b[i] {
            b'.' => 1,
            b'_' if b.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => b[i..].iter().take_while(|&&x| x == b'-').count(),
            _ => return false,
        };
        i += sep_len;
        if !b.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

fn domain_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

fn domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    d.starts_with('[') || host.split('.').all(domain_label)
}

fn tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let comps_ok = algo.split(['+', '.', '-', '_']).all(|c| {
        c.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    comps_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses and normalises `s` (no transport prefix); the error says what is wrong.
pub(crate) fn parse(s: &str) -> Result<Parsed, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ReferenceError::ImageId);
    }
    let (rest, dig) = match s.split_once('@') {
        Some((n, d)) => {
            if !digest(d) {
                return Err(ReferenceError::Digest(d.to_string()));
            }
            (n, Some(d.to_string()))
        }
        None => (s, None),
    };
    // A tag follows the last colon after the last slash (a colon before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tg) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let t = &rest[last_slash + i + 1..];
            if !tag(t) {
                return Err(ReferenceError::Tag(t.to_string()));
            }
            (&rest[..last_slash + i], Some(t.to_string()))
        }
        None => (rest, None),
    };
    let (dom, path) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, remainder)
        }
        _ => (DOCKER_HUB, name),
    };
    let dom = if dom == "index.docker.io" {
        DOCKER_HUB
    } else {
        dom
    };
    if !domain(dom) {
        return Err(ReferenceError::Domain(dom.to_string()));
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase);
    }
    if path.is_empty() || !path.split('/').all(path_component) {
        return Err(ReferenceError::Repository(path.to_string()));
    }
    let path = if dom == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    if dom.len() + 1 + path.len() > NAME_MAX {
        return Err(ReferenceError::TooLong { max: NAME_MAX });
    }
    let tg = if tg.is_none() && dig.is_none() {
        Some("latest".to_string())
    } else {
        tg
    };
    Ok(Parsed {
        domain: dom.to_string(),
        path,
        tag: tg,
        digest: dig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";

    fn p(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (r.domain, r.path, r.tag, r.digest)
    }

    fn t(
        d: &str,
        p: &str,
        tag: Option<&str>,
        dig: Option<&str>,
    ) -> (String, String, Option<String>, Option<String>) {
        (d.into(), p.into(), tag.map(Into::into), dig.map(Into::into))
    }

    #[test]
    fn normalises_as_docker_does() {
        assert_eq!(
            p("busybox"),
            t("docker.io", "library/busybox", Some("latest"), None)
        );
        assert_eq!(
            p("docker.io/busybox:1.36"),
            t("docker.io", "library/busybox", Some("1.36"), None)
        );
        assert_eq!(
            p("index.docker.io/busybox"),
            t("docker.io", "library/busybox", Some("latest"), None)
        );
        assert_eq!(
            p("user/app"),
            t("docker.io", "user/app", Some("latest"), None)
        );
        assert_eq!(
            p("docker.io/library/busybox"),
            t("docker.io", "library/busybox", Some("latest"), None)
        );
        assert_eq!(
            p("localhost/app"),
            t("localhost", "app", Some("latest"), None)
        );
        assert_eq!(
            p("localhost:5000/a/b:v1"),
            t("localhost:5000", "a/b", Some("v1"), None)
        );
        assert_eq!(
            p("127.0.0.1:5000/test/busybox:v1"),
            t("127.0.0.1:5000", "test/busybox", Some("v1"), None)
        );
        assert_eq!(
            p("[::1]:5000/app"),
            t("[::1]:5000", "app", Some("latest"), None)
        );
        assert_eq!(
            p("Registry/app"),
            t("Registry", "app", Some("latest"), None)
        );
        assert_eq!(
            p("quay.io/a/b/c"),
            t("quay.io", "a/b/c", Some("latest"), None)
        );
        assert_eq!(
            p("x/a__b.c-d---e_f"),
            t("docker.io", "x/a__b.c-d---e_f", Some("latest"), None)
        );
        assert_eq!(
            p(&format!("busybox@{D}")),
            t("docker.io", "library/busybox", None, Some(D))
        );
        // Both: the digest picks the image, the tag is kept (as skopeo keeps it).
        assert_eq!(
            p(&format!("busybox:1.36@{D}")),
            t("docker.io", "library/busybox", Some("1.36"), Some(D))
        );
        assert_eq!(
            p(&format!("localhost:5000/x:v@{D}")),
            t("localhost:5000", "x", Some("v"), Some(D))
        );
        assert_eq!(
            p("x:_tag.-1"),
            t("docker.io", "library/x", Some("_tag.-1"), None)
        );
    }

    #[test]
    fn refuses_what_the_grammar_refuses() {
        for (s, want) in [
            ("", "at least one component"),
            ("Busybox", "lowercase"),
            ("docker.io/Busybox", "lowercase"),
            ("busybox:", "invalid tag"),
            ("busybox:-x", "invalid tag"),
            (&format!("busybox:{}", "a".repeat(129)), "invalid tag"),
            ("busybox@sha256:abc", "invalid digest"),
            ("busybox@sha256", "invalid digest"),
            ("busybox@", "invalid digest"),
            ("a//b", "invalid repository name"),
            ("a/-b", "invalid repository name"),
            ("a/b-", "invalid repository name"),
            ("a/b..c", "invalid repository name"),
            ("a/b___c", "invalid repository name"),
            ("-host.io/a", "invalid registry domain"),
            ("host.io:x/a", "invalid registry domain"),
            ("host.io:/a", "invalid registry domain"),
            ("host..io/a", "invalid registry domain"),
            ("[::1/a", "invalid registry domain"),
            ("a b", "invalid repository name"),
            (
                "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
                "64-byte",
            ),
            (&format!("docker.io/{}", "a".repeat(250)), "255"),
        ] {
            let e = parse(s).expect_err(s).to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }
}
