//! berth-runtime: an embeddable OCI container runtime, the library behind the `berth` command.
//!
//! A [`Runtime`] keeps containers' state under a root directory (`/run/berth` for the command
//! line) and offers runc's lifecycle: [`create`](Runtime::create), [`start`](Runtime::start),
//! [`run`](Runtime::run), [`state`](Runtime::state), [`kill`](Runtime::kill),
//! [`delete`](Runtime::delete), [`list`](Runtime::list), [`exec`](Runtime::exec), and the
//! cgroup-backed [`pause`](Runtime::pause), [`resume`](Runtime::resume),
//! [`update`](Runtime::update), [`events`](Runtime::events) and [`ps`](Runtime::ps).
//!
//! ```no_run
//! use berth_runtime::{CreateOptions, Runtime};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::new("/run/my-shim", false);
//! let pid = runtime.create("web", &CreateOptions::new("/var/lib/bundles/web"))?;
//! runtime.start("web")?;
//! let status = berth_runtime::wait_for_exit(pid)?;
//! runtime.delete("web", false)?;
//! println!("exit status {status}");
//! # Ok(())
//! # }
//! ```
//!
//! What the embedder must know:
//! - **Threads.** [`Runtime::create`], [`Runtime::run`] and [`Runtime::exec`] clone the
//!   container's processes from the calling process, which is only sound while it has a single
//!   thread; they check, and fail with [`ContainerError::MultiThreaded`] otherwise. Call them
//!   from a single-threaded helper process if yours has threads.
//! - **Children.** A container's init and exec'd processes are children of the calling process:
//!   wait for them ([`wait_for_exit`]), or they stay zombies once they exit.
//! - **Signals and stdio** are the embedder's: no call changes the signal mask or touches stdio.
//!   A caller that forwards signals to a container (as `berth run` does) blocks them before
//!   [`Runtime::run`]; the container's process starts with an empty mask.
//! - **Logging** goes through the [`log`] facade (a failed poststart/poststop hook is a
//!   warning; some validation notes are debug): install any logger, or none.
//! - **The executable (CVE-2019-5736).** A container's processes run the caller's program until
//!   they exec the container's; a hostile container could overwrite that file on the host if
//!   they were clones of the caller. They are cloned by a launcher instead: the caller's
//!   program executed again from a read-only mount of itself (or a sealed copy). Call
//!   [`launcher_entry`] first thing in `main`, where the launcher takes its job (the `berth`
//!   command does).
//! - **Errors** name what failed (field, path or system call) and keep the cause as
//!   [`source`](std::error::Error::source); print the chain to tell the whole story.
//!
//! Layering (arrows point down, nothing calls upward): `container` → {`process`, [`rootfs`],
//! [`security`], `hooks`, `berth_cgroups`} → `berth_sys`. Only `berth_sys` talks to the kernel
//! directly.

#![warn(missing_docs)]

mod container;
mod cpumask;
mod exe_seal;
mod hooks;
mod init_error;
mod namespaces;
mod process;
#[allow(missing_docs)]
pub mod rootfs;
#[allow(missing_docs)]
pub mod security;
mod state;
mod timefmt;

pub use container::{
    features, list_table, ContainerError, CreateOptions, EventsOptions, ExecOptions, PsFormat,
    Runtime,
};
pub use exe_seal::{exe_protection, ExeProtection, ExeSealError};
pub use hooks::{HookError, HookFailure};
pub use process::launcher::{launcher_entry, Launcher};
pub use process::{
    exit_code, first_unpassed_fd, wait_for_exit, InitError, Launched, ProcessError, ProgramError,
};
pub use state::{OciState, StateError, Status};
pub use timefmt::now_rfc3339;
