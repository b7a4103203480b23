//! berth-runtime: an embeddable OCI container runtime (the library behind the `berth` command).
//!
//! Layering (arrows point down, nothing calls upward):
//! [`container`] → {[`process`], [`rootfs`], [`security`], [`hooks`], `berth_cgroups`} → `berth_sys`.
//! Only `berth_sys` talks to the kernel directly; everything above it can be unit-tested without root.

pub mod container;
pub mod hooks;
pub mod logging;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod state;
pub mod timefmt;
