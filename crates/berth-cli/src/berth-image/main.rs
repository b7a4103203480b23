//! berth-image: unpack Docker and OCI images into runtime bundles; pull, inspect, list.
// The doc comments on the clap types are the --help text, written as users read it
// (`oci:DIR[:REF]`, `--user UID[:GID]`), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

use anyhow::{Context, Result};
use berth_image::{
    ApplyOptions, IdMap, IdRange, ImageError, Platform, Progress, ProxySettings, Source,
    SourceOptions, SourceRef, UnpackOptions,
};
use clap::{Args, Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[path = "../shared/error_chain.rs"]
mod error_chain;

#[derive(Parser)]
#[command(
    name = "berth-image",
    version,
    about = "Turn Docker and OCI images into OCI runtime bundles"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct SourceArgs {
    /// Platform to pick from a multi-platform image (OS/ARCH[/VARIANT]); default: this host's.
    #[arg(long)]
    platform: Option<String>,
    /// Allow plain HTTP to registries other than localhost.
    #[arg(long)]
    insecure: bool,
    /// Registry credentials, USER:PASSWORD (or set BERTH_IMAGE_CREDS).
    #[arg(long)]
    creds: Option<String>,
    /// Auth file to read credentials from (default: $REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json and
    /// ~/.docker/config.json and ~/.dockercfg, as podman and skopeo read them).
    #[arg(long)]
    authfile: Option<PathBuf>,
    /// Verify registry certificates (--tls-verify=false accepts any, and falls back to plain
    /// HTTP for a registry that does not speak HTTPS).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tls_verify: bool,
    /// Directory of CA certificates (*.crt) and a client certificate (NAME.cert + NAME.key)
    /// for the registry (default: the first of ~/.config/containers/certs.d/HOST,
    /// /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST that exists).
    #[arg(long)]
    cert_dir: Option<PathBuf>,
}

/// The system CA bundle: $SSL_CERT_FILE, else the distribution's usual place.
fn system_ca_files() -> Vec<PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(f)];
    }
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .into_iter()
    .collect()
}

/// The certs.d directories podman and skopeo read (containers-certs.d(5)), each holding one
/// directory per registry, in their order: the user's (root's too), then the system's.
fn cert_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        roots.push(PathBuf::from(h).join(".config/containers/certs.d"));
    }
    roots.push(PathBuf::from("/etc/containers/certs.d"));
    roots.push(PathBuf::from("/etc/docker/certs.d"));
    roots
}

/// The registries.conf files podman and skopeo read, in order (containers-registries.conf(5)
/// and .d(5)): $CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf where it
/// exists, else /etc/containers/registries.conf; then the `*.conf` drop-ins of
/// /etc/containers/registries.conf.d (not when the user's file is the main one) and of
/// ~/.config/containers/registries.conf.d, each directory in name order.
fn registries_conf_files() -> Vec<PathBuf> {
    let user = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config/containers"));
    let mut dirs = Vec::new();
    let main = match std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
        Some(f) => {
            dirs.push(PathBuf::from("/etc/containers/registries.conf.d"));
            PathBuf::from(f)
        }
        None => match user.as_ref().map(|u| u.join("registries.conf")) {
            Some(f) if f.exists() => f,
            _ => {
                dirs.push(PathBuf::from("/etc/containers/registries.conf.d"));
                PathBuf::from("/etc/containers/registries.conf")
            }
        },
    };
    if let Some(u) = &user {
        dirs.push(u.join("registries.conf.d"));
    }
    let mut out = vec![main];
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// The proxies of the environment as Go's net/http reads them (podman, skopeo): the upper-case
/// name first, then the lower-case one; an empty value is unset.
fn proxy_settings() -> ProxySettings {
    let env = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let mut p = ProxySettings::default();
    p.http_proxy = env(["HTTP_PROXY", "http_proxy"]);
    p.https_proxy = env(["HTTPS_PROXY", "https_proxy"]);
    p.no_proxy = env(["NO_PROXY", "no_proxy"]);
    p
}

/// The auth files podman and skopeo consult, in their order: the one named by --authfile or
/// $REGISTRY_AUTH_FILE alone, else the containers auth.json files, docker's config.json, then
/// its legacy ~/.dockercfg.
fn auth_files(flag: Option<&PathBuf>) -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(f) = flag.cloned().or_else(|| env("REGISTRY_AUTH_FILE")) {
        return vec![f];
    }
    let mut out = Vec::new();
    match env("XDG_RUNTIME_DIR") {
        Some(d) => out.push(d.join("containers/auth.json")),
        None => out.push(PathBuf::from(format!(
            "/run/containers/{}/auth.json",
            nix::unistd::getuid()
        ))),
    }
    let home = env("HOME");
    if let Some(c) = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config"))) {
        out.push(c.join("containers/auth.json"));
    }
    if let Some(d) = env("DOCKER_CONFIG") {
        out.push(d.join("config.json"));
    } else if let Some(h) = &home {
        out.push(h.join(".docker/config.json"));
    }
    if let Some(h) = &home {
        out.push(h.join(".dockercfg"));
    }
    out
}

#[derive(Subcommand)]
enum Cmd {
    /// Unpack SOURCE into the bundle directory BUNDLE (rootfs/ and config.json).
    Unpack {
        /// oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG] or docker://[HOST/]REPO[:TAG][@DIGEST]
        source: String,
        bundle: PathBuf,
        #[command(flatten)]
        src: SourceArgs,
        /// Unpack without root: skip device nodes, record ownership in user.rootlesscontainers
        /// (default when not running as root).
        #[arg(long)]
        rootless: bool,
        /// Map container uids to host uids, CONTAINER:HOST:SIZE (repeatable).
        #[arg(long = "uid-map")]
        uid_map: Vec<String>,
        /// Map container gids to host gids, CONTAINER:HOST:SIZE (repeatable).
        #[arg(long = "gid-map")]
        gid_map: Vec<String>,
        /// Reject a layer whose decompressed size exceeds this many times its compressed size (0: no limit).
        #[arg(long, default_value_t = berth_image::DEFAULT_MAX_RATIO)]
        max_ratio: u64,
        /// Where a layer has a directory and the rootfs a symlink to a directory (resolved inside
        /// the rootfs), keep the symlink and apply the entry to its target (as umoci does).
        #[arg(long)]
        keep_dirlinks: bool,
        /// No progress bar; only warnings and errors are printed.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Copy SOURCE into DEST: oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG]
    /// or a bare DIR[:REF] (an OCI layout directory); REF defaults to the source's tag or "latest".
    Pull {
        source: String,
        dest: String,
        #[command(flatten)]
        src: SourceArgs,
        /// Copy every platform of an image index, and the index as it is (oci: and
        /// oci-archive: destinations); without it, only the platform --platform picks.
        #[arg(long, conflicts_with = "platform")]
        all: bool,
        /// No progress bar and no summary line; only errors are printed.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show an image's manifest, config and layers.
    Inspect {
        source: String,
        #[command(flatten)]
        src: SourceArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List the images in an OCI layout directory (DIR or oci:DIR).
    Ls {
        dir: String,
        #[arg(long)]
        json: bool,
    },
}

/// indicatif bars on stderr, only when stderr is a terminal (and not --quiet): the whole
/// operation's bytes, rate and ETA, and under it one line per layer being read, with its
/// bytes and rate (a finished layer keeps its line, with its size and mean rate).
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    layers: Mutex<HashMap<String, ProgressBar>>,
    layer_style: Option<ProgressStyle>,
}

impl Progress for Bars {
    fn begin(&self, label: &str, total: u64) {
        self.total.set_length(total);
        self.total.set_message(label.to_string());
    }
    fn inc(&self, n: u64) {
        self.total.inc(n);
    }
    fn end(&self) {
        self.total.finish_and_clear();
    }
    fn layer_begin(&self, digest: &str, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        if let Some(style) = &self.layer_style {
            bar.set_style(style.clone());
        }
        // The hex of the digest, shortened as docker and podman show layers.
        let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
        bar.set_prefix(hex.chars().take(12).collect::<String>());
        if let Ok(mut l) = self.layers.lock() {
            l.insert(digest.to_string(), bar);
        }
    }
    fn layer_inc(&self, digest: &str, n: u64) {
        if let Some(bar) = self.layers.lock().ok().and_then(|l| l.get(digest).cloned()) {
            bar.inc(n);
        }
    }
    fn layer_end(&self, digest: &str) {
        if let Some(bar) = self.layers.lock().ok().and_then(|mut l| l.remove(digest)) {
            bar.finish();
        }
    }
}

fn progress(quiet: bool) -> Option<Arc<dyn Progress>> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let multi = MultiProgress::new();
    let total = multi.add(ProgressBar::new(0));
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        total.set_style(style.progress_chars("=> "));
    }
    let layer_style = ProgressStyle::with_template(
        "  {prefix} [{bar:20}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec}",
    )
    .ok()
    .map(|s| s.progress_chars("=> "));
    Some(Arc::new(Bars {
        multi,
        total,
        layers: Mutex::new(HashMap::new()),
        layer_style,
    }))
}

fn open(source: &str, a: &SourceArgs) -> Result<(SourceRef, Source)> {
    let sref = SourceRef::parse(source)?;
    let mut opts = SourceOptions::default();
    opts.insecure = a.insecure;
    opts.creds = a
        .creds
        .clone()
        .or_else(|| std::env::var("BERTH_IMAGE_CREDS").ok());
    opts.auth_files = auth_files(a.authfile.as_ref());
    opts.skip_tls_verify = !a.tls_verify;
    opts.ca_files = system_ca_files();
    opts.cert_dirs = a.cert_dir.iter().cloned().collect();
    opts.cert_roots = cert_roots();
    opts.registries_conf = registries_conf_files();
    opts.proxy = proxy_settings();
    let src = sref
        .open(&opts)
        .with_context(|| format!("opening {source}"))?;
    Ok((sref, src))
}

fn platform(a: &SourceArgs) -> Result<Option<Platform>> {
    Ok(match &a.platform {
        Some(p) => Some(berth_image::parse_platform(p)?),
        None => None,
    })
}

fn id_map(specs: &[String]) -> Result<IdMap> {
    Ok(IdMap(
        specs
            .iter()
            .map(|s| IdRange::parse(s))
            .collect::<std::result::Result<_, _>>()?,
    ))
}

/// The name `pull` gives an image when the destination names none: the source's tag, else
/// `latest`.
fn default_tag(sref: &SourceRef) -> String {
    match sref {
        SourceRef::Registry(r) => r.tag.clone().unwrap_or_else(|| "latest".into()),
        SourceRef::Oci {
            reference: Some(r), ..
        }
        | SourceRef::OciArchive {
            reference: Some(r), ..
        } => r.clone(),
        SourceRef::DockerArchive {
            reference: Some(r), ..
        } => r
            .rsplit_once(':')
            .map(|(_, t)| t.to_string())
            .unwrap_or_else(|| "latest".into()),
        _ => "latest".into(),
    }
}

/// Set by SIGINT/SIGTERM/SIGHUP: the unpack stops at the next tar entry and removes its bundle.
static CANCEL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    CANCEL.store(true, Ordering::Relaxed);
}

fn catch_signals() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }
            .with_context(|| format!("installing a {sig} handler"))?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Unpack {
            source,
            bundle,
            src,
            rootless,
            uid_map,
            gid_map,
            max_ratio,
            keep_dirlinks,
            quiet,
        } => {
            let (_, s) = open(&source, &src)?;
            catch_signals()?;
            let rootless = rootless || !nix::unistd::geteuid().is_root();
            let mut apply = ApplyOptions::default();
            apply.rootless = rootless;
            apply.uid_map = id_map(&uid_map)?;
            apply.gid_map = id_map(&gid_map)?;
            apply.cancel = Some(&CANCEL);
            apply.keep_dirlinks = keep_dirlinks;
            let mut opts = UnpackOptions::default();
            opts.apply = apply;
            opts.platform = platform(&src)?;
            opts.max_ratio = max_ratio;
            opts.progress = progress(quiet);
            let report = berth_image::unpack(&s, &bundle, &opts)
                .with_context(|| format!("unpacking {source} into {}", bundle.display()))?;
            for w in &report.warnings {
                eprintln!("berth-image: warning: {w}");
            }
        }
        Cmd::Pull {
            source,
            dest,
            src,
            all,
            quiet,
        } => {
            let (sref, s) = open(&source, &src)?;
            let tag = default_tag(&sref);
            // skopeo's destination forms; a bare DIR[:REF] is an OCI layout directory.
            let dest_ref = if ["oci:", "oci-archive:", "docker-archive:", "docker://"]
                .iter()
                .any(|p| dest.starts_with(p))
            {
                SourceRef::parse(&dest)?
            } else {
                let (dir, reference) = match dest.rsplit_once(':') {
                    Some((d, r)) if !r.contains('/') && !d.is_empty() => {
                        (PathBuf::from(d), Some(r.to_string()))
                    }
                    _ => (PathBuf::from(&dest), None),
                };
                SourceRef::Oci { dir, reference }
            };
            let (place, reference) = match &dest_ref {
                SourceRef::Oci { dir, reference } => (dir.clone(), reference.clone()),
                SourceRef::OciArchive { file, reference } => (file.clone(), reference.clone()),
                SourceRef::DockerArchive { file, reference } => (file.clone(), reference.clone()),
                _ => (PathBuf::from(&dest), None),
            };
            let reference = reference.unwrap_or(tag);
            let d = if all {
                berth_image::pull_all_to(&s, &dest_ref, &reference, progress(quiet))
            } else {
                berth_image::pull_to(
                    &s,
                    &dest_ref,
                    &reference,
                    platform(&src)?.as_ref(),
                    progress(quiet),
                )
            }
            .with_context(|| format!("pulling {source} into {dest}"))?;
            if !quiet {
                println!("{} {}:{reference}", d.digest, place.display());
            }
        }
        Cmd::Inspect { source, src, json } => {
            let (_, s) = open(&source, &src)?;
            let i = berth_image::inspect(&s, platform(&src)?.as_ref())
                .with_context(|| format!("inspecting {source}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&i)?);
            } else {
                println!("Source:   {}", i.source);
                if let Some(d) = &i.index_digest {
                    println!("Index:    {d} ({})", i.platforms.join(", "));
                }
                println!(
                    "Manifest: {} ({})",
                    i.manifest_digest, i.manifest_media_type
                );
                println!("Config:   {}", i.config_digest);
                println!("Platform: {}/{}", i.os, i.architecture);
                if let Some(c) = &i.created {
                    println!("Created:  {c}");
                }
                if let Some(c) = &i.config {
                    if let Some(e) = &c.entrypoint {
                        println!("Entrypoint: {e:?}");
                    }
                    if let Some(e) = &c.cmd {
                        println!("Cmd:      {e:?}");
                    }
                }
                println!("Layers:   {} ({} bytes)", i.layers.len(), i.total_size);
                for l in &i.layers {
                    println!("  {} {:>12} {}", l.digest, l.size, l.media_type);
                }
            }
        }
        Cmd::Ls { dir, json } => {
            let dir = PathBuf::from(dir.strip_prefix("oci:").unwrap_or(&dir));
            let images =
                berth_image::list(&dir).with_context(|| format!("listing {}", dir.display()))?;
            if json {
                // A descriptor's keys as the OCI specs spell them, like `inspect --json`'s.
                let v: Vec<_> = images
                    .iter()
                    .map(|(r, d)| {
                        serde_json::json!({
                            "ref": r,
                            "mediaType": d.media_type,
                            "digest": d.digest,
                            "size": d.size,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (r, d) in images {
                    println!(
                        "{:<24} {} {:>8}",
                        r.as_deref().unwrap_or("<none>"),
                        d.digest,
                        d.size
                    );
                }
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        let mut msg = error_chain::chain_text(&e, |_| None);
        if let Some(ImageError::CredentialsNeeded { .. }) = e.downcast_ref::<ImageError>() {
            msg.push_str(
                " (--creds USER:PASS, or an entry in --authfile or ~/.docker/config.json)",
            );
        }
        eprintln!("berth-image: error: {msg}");
        std::process::exit(1);
    }
}
