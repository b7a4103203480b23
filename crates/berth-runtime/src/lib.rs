//! berth-runtime: an embeddable OCI container runtime (the library behind the `berth` command).
//!
//! Layering (arrows point down, nothing calls upward):
//! [`container`] → {[`process`], [`rootfs`], [`security`], [`hooks`], `berth_cgroups`} → `berth_sys`.
//! Only `berth_sys` talks to the kernel directly; everything above it can be unit-tested without root.
//!
//! The library never touches the calling process's signal mask or stdio and prints nothing: it
//! reports through the [`log`] facade (the embedder installs any logger, or none) and through
//! typed errors.

pub mod container;
pub mod hooks;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod state;
pub mod timefmt;

pub use container::{ContainerError, CreateOptions, Runtime};
pub use process::{exit_code, wait_for_exit, Launched};
