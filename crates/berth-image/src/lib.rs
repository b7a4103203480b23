//! berth-image: Docker and OCI images → runtime bundles.
//!
//! Flow: [`source`] (where bytes come from) → [`resolve`] (index → manifest → config, all
//! digest-checked) → [`stream`] (per-layer verify + decompress pipeline) → [`apply`] (tar onto
//! a rootfs fd, confined with openat2) → [`convert`] (config.json). [`sys`] holds the syscalls.

pub mod apply;
pub mod compress;
pub mod convert;
pub mod digest;
pub mod entry_path;
pub mod error;
pub mod idmap;
pub mod inspect;
pub mod layout;
pub mod meta;
pub mod pull;
pub mod resolve;
pub mod source;
pub mod stream;
pub mod sys;
pub mod types;
pub mod unpack;

pub use error::{ImageError, Result};

/// Progress reporting hook; the binary draws bars, the library only counts bytes.
pub trait Progress: Send + Sync {
    fn begin(&self, _label: &str, _total: u64) {}
    fn inc(&self, _n: u64) {}
    fn end(&self) {}
}
