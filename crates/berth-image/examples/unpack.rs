//! Unpacks an image into an OCI runtime bundle through berth-image's public API.
//!
//! ```text
//! cargo run -p berth-image --example unpack -- oci:/path/to/layout:latest /tmp/bundle
//! ```
//!
//! SOURCE is any reference `SourceRef::parse` reads (`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
//! `docker-archive:FILE[:REPO:TAG]`, `docker://HOST/REPO:TAG`); BUNDLE must not exist or be
//! empty. Not running as root, the unpack is rootless (no device nodes, owners recorded in the
//! `user.rootlesscontainers` xattr).

use berth_image::{unpack, SourceOptions, SourceRef, UnpackOptions};
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

fn run(source: &str, bundle: &Path) -> Result<(), Box<dyn Error>> {
    let source = SourceRef::parse(source)?.open(&SourceOptions::default())?;
    let mut opts = UnpackOptions::default();
    opts.apply.rootless = !nix::unistd::geteuid().is_root();
    let report = unpack(&source, bundle, &opts)?;
    println!("source:   {}", source.describe());
    println!("manifest: {}", report.manifest_digest);
    println!(
        "unpacked {} layers, {} entries, {} bytes of file data into {}",
        report.layers,
        report.entries,
        report.bytes,
        bundle.display()
    );
    println!(
        "wrote {} and {}",
        bundle.join("rootfs").display(),
        bundle.join("config.json").display()
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, bundle] = args.as_slice() else {
        eprintln!("usage: unpack SOURCE BUNDLE");
        return ExitCode::from(2);
    };
    match run(source, Path::new(bundle)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The library keeps each cause as a source: print the whole chain.
            let mut msg = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                msg.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("unpack: {msg}");
            ExitCode::FAILURE
        }
    }
}
