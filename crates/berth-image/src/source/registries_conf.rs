//! registries.conf as containers-registries.conf(5) describes it (version 2, and version 1's
//! insecure and block lists): which `[[registry]]` table an image name falls under (the longest
//! `prefix`, or a `*.domain` wildcard), whether it is blocked, and the places to pull it from:
//! the mirrors in order, then the primary `location`, each with its own `insecure`.
//! Short-name aliases and search registries are not read (references here are always
//! qualified).

use crate::error::{ImageError, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The registries configuration: every file read, merged in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegistriesConf {
    registries: Vec<Entry>,
}

/// One `[[registry]]` table, with the file it came from (for messages).
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    prefix: String,
    location: String,
    insecure: bool,
    blocked: bool,
    mirror_by_digest_only: bool,
    mirrors: Vec<MirrorTable>,
    file: PathBuf,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
struct MirrorTable {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: Option<String>,
}

/// The file's shape; unknown keys (aliases, short-name-mode, credential-helpers...) are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    registry: Vec<RegistryTable>,
    /// Version 1: `[registries.insecure] registries = [...]`, `[registries.block]`.
    #[serde(default)]
    registries: Option<V1>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryTable {
    prefix: Option<String>,
    location: Option<String>,
    insecure: Option<bool>,
    blocked: Option<bool>,
    mirror_by_digest_only: Option<bool>,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
}

#[derive(Debug, Default, Deserialize)]
struct V1 {
    #[serde(default)]
    insecure: Option<V1List>,
    #[serde(default)]
    block: Option<V1List>,
}

#[derive(Debug, Default, Deserialize)]
struct V1List {
    #[serde(default)]
    registries: Vec<String>,
}

/// One place an image may be pulled from: a rewritten reference (`HOST/REPO[:TAG][@DIGEST]`)
/// and whether TLS may be skipped there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PullSource {
    pub reference: String,
    pub insecure: bool,
    /// `true` for a mirror, `false` for the primary location.
    pub mirror: bool,
}

/// Whether `name` starts with `prefix` at a reference boundary: all of it, or followed by
/// `/` (a namespace), `:` (a tag) or `@` (a digest).
fn prefix_matches(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

/// Whether the host of `name` (before the first `/`, port dropped) is below the wildcard
/// `*.DOMAIN`.
fn wildcard_matches(name: &str, prefix: &str) -> bool {
    let Some(domain) = prefix.strip_prefix("*.") else {
        return false;
    };
    let host = name.split('/').next().unwrap_or(name);
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host.strip_suffix(domain)
        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
}

impl RegistriesConf {
    /// Reads `files` in order, skipping those that do not exist; a later file's `[[registry]]`
    /// table replaces an earlier one with the same prefix, as the drop-in directories work.
    pub fn load(files: &[PathBuf]) -> Result<RegistriesConf> {
        let mut conf = RegistriesConf::default();
        for f in files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ImageError::io(format!("read {}", f.display()), e)),
            };
            conf.add(&text, f)?;
        }
        Ok(conf)
    }

    /// Merges one file's text into the configuration.
    fn add(&mut self, text: &str, path: &Path) -> Result<()> {
        let bad = |reason: String| ImageError::Invalid(format!("{}: {reason}", path.display()));
        let file: File = toml::from_str(text).map_err(|e| ImageError::Config {
            path: path.display().to_string(),
            source: Box::new(e),
        })?;
        let mut new = Vec::new();
        for r in file.registry {
            let location = r.location.unwrap_or_default();
            let prefix = r.prefix.unwrap_or_else(|| location.clone());
            if prefix.is_empty() {
                return Err(bad(
                    "a [[registry]] table has neither prefix nor location".into()
                ));
            }
            if prefix.starts_with("*.") && !location.is_empty() {
                return Err(bad(format!(
                    "[[registry]] prefix {prefix:?}: a wildcard prefix takes no location"
                )));
            }
            for m in &r.mirror {
                if m.location.is_empty() {
                    return Err(bad(format!(
                        "[[registry]] prefix {prefix:?}: a mirror without location"
                    )));
                }
                if let Some(p) = &m.pull_from_mirror {
                    if !matches!(p.as_str(), "" | "all" | "digest-only" | "tag-only") {
                        return Err(bad(format!(
                            "[[registry]] prefix {prefix:?}: pull-from-mirror {p:?} is not all, digest-only or tag-only"
                        )));
                    }
                }
            }
            new.push(Entry {
                location: if prefix.starts_with("*.") {
                    String::new()
                } else if location.is_empty() {
                    prefix.clone()
                } else {
                    location
                },
                prefix,
                insecure: r.insecure.unwrap_or(false),
                blocked: r.blocked.unwrap_or(false),
                mirror_by_digest_only: r.mirror_by_digest_only.unwrap_or(false),
                mirrors: r.mirror,
                file: path.to_path_buf(),
            });
        }
        if let Some(v1) = file.registries {
            if !new.is_empty() {
                return Err(bad(
                    "mixes version 1 ([registries.*]) and version 2 ([[registry]]) tables".into(),
                ));
            }
            let mut hosts: Vec<(String, bool, bool)> = Vec::new();
            for (list, insecure) in [(v1.insecure, true), (v1.block, false)] {
                for h in list.map(|l| l.registries).unwrap_or_default() {
                    let i = match hosts.iter().position(|(x, _, _)| *x == h) {
                        Some(i) => i,
                        None => {
                            hosts.push((h, false, false));
                            hosts.len() - 1
                        }
                    };
                    if insecure {
                        hosts[i].1 = true;
                    } else {
                        hosts[i].2 = true;
                    }
                }
            }
            for (h, insecure, blocked) in hosts {
                new.push(Entry {
                    prefix: h.clone(),
                    location: h,
                    insecure,
                    blocked,
                    mirror_by_digest_only: false,
                    mirrors: Vec::new(),
                    file: path.to_path_buf(),
                });
            }
        }
        for e in new {
            match self.registries.iter_mut().find(|x| x.prefix == e.prefix) {
                Some(old) => *old = e,
                None => self.registries.push(e),
            }
        }
        Ok(())
    }

    /// The table `name` (`HOST/REPO[:TAG][@DIGEST]`, Docker Hub as `docker.io/...`) falls
    /// under: the longest matching prefix, else the most specific wildcard.
    fn find(&self, name: &str) -> Option<&Entry> {
        self.registries
            .iter()
            .filter(|e| !e.prefix.starts_with("*.") && prefix_matches(name, &e.prefix))
            .max_by_key(|e| e.prefix.len())
            .or_else(|| {
                self.registries
                    .iter()
                    .filter(|e| wildcard_matches(name, &e.prefix))
                    .max_by_key(|e| e.prefix.len())
            })
    }

    /// The places to pull `name` from, in order: the mirrors that apply (all, or only those
    /// whose pull-from-mirror fits a reference by digest or by tag; none for a tag when
    /// mirror-by-digest-only is set), then the primary location. An image under a blocked
    /// table is refused.
    pub(crate) fn pull_sources(&self, name: &str, by_digest: bool) -> Result<Vec<PullSource>> {
        let Some(e) = self.find(name) else {
            return Ok(vec![PullSource {
                reference: name.to_string(),
                insecure: false,
                mirror: false,
            }]);
        };
        if e.blocked {
            return Err(ImageError::Blocked {
                image: name.to_string(),
                prefix: e.prefix.clone(),
                file: e.file.display().to_string(),
            });
        }
        // A wildcard table has no location: the name is used as it is.
        let (from, rest) = if e.location.is_empty() {
            (String::new(), name.to_string())
        } else {
            (e.prefix.clone(), name[e.prefix.len()..].to_string())
        };
        let rewrite = |location: &str| {
            if from.is_empty() {
                rest.clone()
            } else {
                format!("{location}{rest}")
            }
        };
        let mut out = Vec::new();
        if by_digest || !e.mirror_by_digest_only {
            for m in &e.mirrors {
                let fits = match m.pull_from_mirror.as_deref() {
                    Some("digest-only") => by_digest,
                    Some("tag-only") => !by_digest,
                    _ => true,
                };
                if fits {
                    out.push(PullSource {
                        reference: rewrite(&m.location),
                        insecure: m.insecure,
                        mirror: true,
                    });
                }
            }
        }
        out.push(PullSource {
            reference: rewrite(&e.location),
            insecure: e.insecure,
            mirror: false,
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(files: &[&str]) -> RegistriesConf {
        let mut c = RegistriesConf::default();
        for (i, t) in files.iter().enumerate() {
            c.add(t, Path::new(&format!("/f{i}.conf"))).unwrap();
        }
        c
    }

    fn refs(c: &RegistriesConf, name: &str, by_digest: bool) -> Vec<(String, bool)> {
        c.pull_sources(name, by_digest)
            .unwrap()
            .into_iter()
            .map(|s| (s.reference, s.insecure))
            .collect()
    }

    const EXAMPLE: &str = r#"
unqualified-search-registries = ["example.com"]
short-name-mode = "permissive"

[aliases]
"busybox" = "docker.io/library/busybox"

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "example.com"
insecure = true

[[registry]]
prefix = "*.corp.example"
blocked = true
"#;

    #[test]
    fn mirrors_then_the_rewritten_location() {
        let c = conf(&[EXAMPLE]);
        assert_eq!(
            refs(&c, "example.com/foo/image:latest", false),
            [
                (
                    "example-mirror-0.local/mirror-for-foo/image:latest".into(),
                    false
                ),
                (
                    "example-mirror-1.local/mirrors/foo/image:latest".into(),
                    true
                ),
                (
                    "internal-registry-for-example.com/bar/image:latest".into(),
                    false
                ),
            ]
        );
        // The prefix must end at a boundary: example.com/foobar is not under example.com/foo.
        assert_eq!(
            refs(&c, "example.com/foobar/x:1", false),
            [("example.com/foobar/x:1".into(), true)]
        );
        // No table: the name as it is.
        assert_eq!(
            refs(&c, "docker.io/library/busybox:latest", false),
            [("docker.io/library/busybox:latest".into(), false)]
        );
        let e = c.pull_sources("a.corp.example/x:1", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"image a.corp.example/x:1 is blocked: [[registry]] prefix "*.corp.example" in /f0.conf"#
        );
        // The wildcard needs a label before the domain.
        assert!(c.pull_sources("corp.example/x:1", false).is_ok());
    }

    #[test]
    fn digest_only_and_tag_only_mirrors() {
        let c = conf(&[r#"
[[registry]]
location = "reg.example"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.example"
"#]);
        assert_eq!(refs(&c, "reg.example/a:1", false).len(), 1);
        let d =
            "reg.example/a@sha256:0000000000000000000000000000000000000000000000000000000000000000";
        assert_eq!(refs(&c, d, true)[0].0, format!("m.example{}", &d[11..]));
        let c = conf(&[r#"
[[registry]]
location = "reg.example"
[[registry.mirror]]
location = "digest.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag.example"
pull-from-mirror = "tag-only"
"#]);
        assert_eq!(
            refs(&c, "reg.example/a:1", false),
            [
                ("tag.example/a:1".into(), false),
                ("reg.example/a:1".into(), false)
            ]
        );
        assert_eq!(
            refs(&c, "reg.example/a@sha256:00", true)[0].0,
            "digest.example/a@sha256:00"
        );
    }

    #[test]
    fn drop_ins_replace_tables_with_the_same_prefix_and_v1_lists() {
        let c = conf(&[
            EXAMPLE,
            "[[registry]]\nprefix = \"example.com/foo\"\nlocation = \"other.example\"\n",
        ]);
        assert_eq!(
            refs(&c, "example.com/foo/image:1", false),
            [("other.example/image:1".into(), false)]
        );
        let c = conf(&[
            "[registries.insecure]\nregistries = ['a.example']\n[registries.block]\nregistries = ['b.example']\n",
        ]);
        assert_eq!(
            refs(&c, "a.example/x:1", false),
            [("a.example/x:1".into(), true)]
        );
        assert!(c.pull_sources("b.example/x:1", false).is_err());
        let mut c = RegistriesConf::default();
        for bad in [
            "[[registry]]\ninsecure = true\n",
            "[[registry]]\nprefix = \"*.a.example\"\nlocation = \"b.example\"\n",
            "[[registry]]\nlocation = \"a.example\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n",
            "[[registry]\n",
            "[[registry]]\nlocation = \"a.example\"\n[registries.block]\nregistries = ['b.example']\n",
        ] {
            assert!(c.add(bad, Path::new("/bad.conf")).is_err(), "{bad}");
        }
    }
}
