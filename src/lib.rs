//! berth: a low-level OCI container runtime and image unpacker.
//!
//! Layering (arrows point down, nothing calls upward):
//! `main` → [`container`] → {[`process`], [`rootfs`], [`cgroups`], [`security`], [`hooks`]} → [`syscall`].
//! Only [`syscall`] talks to the kernel directly; everything above it can be unit-tested without root.

pub mod cgroups;
pub mod container;
pub mod hooks;
pub mod image;
pub mod logging;
pub mod mountinfo;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod spec;
pub mod state;
pub mod syscall;
pub mod timefmt;
