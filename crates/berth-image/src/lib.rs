//! berth-image: Docker and OCI images → OCI runtime bundles.
//!
//! # What to call
//!
//! 1. [`SourceRef::parse`] a reference (`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
//!    `docker-archive:FILE[:REPO:TAG]`, `docker://[HOST/]REPO[:TAG][@DIGEST]`) and
//!    [`SourceRef::open`] it with [`SourceOptions`] into a [`Source`].
//! 2. Then, with that source:
//!    - [`unpack`] it into a bundle directory (`rootfs/` and `config.json`), as set by
//!      [`UnpackOptions`] (rootless, id maps, platform, decompression bound, progress,
//!      cancellation), getting an [`UnpackReport`];
//!    - [`pull`] it into a local OCI layout ([`pull_to`]: `oci:`, `oci-archive:` or
//!      `docker-archive:`), or every platform of it ([`pull_all`], [`pull_all_to`]);
//!    - or [`inspect`] it.
//! 3. [`list`] the images in an OCI layout; [`apply_layer`] applies a single uncompressed layer
//!    tar to a rootfs directory fd, with the same confinement `unpack` uses.
//!
//! Every failure is an [`ImageError`] that names the layer, entry, path or URL, with the
//! underlying error as its `source()`: print the whole chain (`{:#}` of an `anyhow::Error`, or
//! walk `source()`) to see both. Nothing here prints, installs signal handlers or reads the
//! environment; progress goes to a [`Progress`] the caller supplies.
//!
//! ```no_run
//! use berth_image::{unpack, SourceOptions, SourceRef, UnpackOptions};
//! # fn main() -> berth_image::Result<()> {
//! let source = SourceRef::parse("oci:/var/lib/images/busybox:latest")?;
//! let source = source.open(&SourceOptions::default())?;
//! let report = unpack(&source, "/run/bundles/b1".as_ref(), &UnpackOptions::default())?;
//! println!("{} layers, {} entries", report.layers, report.entries);
//! # Ok(())
//! # }
//! ```
//!
//! # Layering
//!
//! Module dependencies point one way (no cycles), each layer using only those above it:
//!
//! 1. leaves: `error`, `progress`, `types`, `entry_path`, `compress`, `ext` (PAX records as
//!    Go's archive/tar reads them: ids, times, xattrs, GNU sparse maps); `idmap` and `digest`
//!    (content digests, the verifying reader) on `error`.
//! 2. `source`: `files` and `image_source` (the trait every reader implements), `reference`
//!    (the distribution reference grammar), `auth` (auth files, credential helpers), `tls`
//!    (roots, certs.d, client certificates) and `registries_conf` (mirrors, blocked
//!    registries), then the layout, docker-archive and registry readers, then `source`
//!    itself, which picks one from a [`SourceRef`] (through registries.conf's mirrors).
//! 3. `resolve` (index → manifest → config, all digest-checked) and `stream` (per-layer
//!    verify + decompress pipeline on a worker thread).
//! 4. `meta` (entry metadata), then `apply` (a layer tar onto a rootfs fd, confined with
//!    openat2); `convert` (image config → config.json); `layout` (writing OCI layouts).
//! 5. the operations: `unpack`, `pull` (layouts and archives), `inspect`.
//!
//! Every system call goes through berth-sys (`path`, `tree`, `xattr`, `mount::statfs_type`);
//! this crate makes none of its own (it runs `docker-credential-*` helpers through std's
//! `Command`).

#![deny(missing_docs)]

mod apply;
mod compress;
mod convert;
mod digest;
mod entry_path;
mod error;
mod ext;
#[doc(hidden)]
pub mod fuzzing;
mod idmap;
mod inspect;
mod layout;
mod meta;
mod progress;
mod pull;
mod resolve;
mod source;
mod stream;
mod types;
mod unpack;

pub use apply::{apply_layer, ApplyOptions, ApplyStats};
pub use error::{ImageError, ProxyError, ReferenceError, Result};
pub use idmap::{IdMap, IdRange};
pub use inspect::{inspect, Inspect, LayerInfo};
pub use layout::list;
pub use progress::Progress;
pub use pull::{pull, pull_all, pull_all_to, pull_to};
pub use resolve::{host_platform, parse_platform};
pub use source::{ProxySettings, RegistryRef, Source, SourceOptions, SourceRef};
pub use types::{Descriptor, ExecConfig, Platform};
pub use unpack::{unpack, UnpackOptions, UnpackReport, DEFAULT_MAX_RATIO};
