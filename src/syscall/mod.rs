//! Thin wrappers over the kernel calls the runtime makes. Everything above this module works
//! with typed values and `std::io::Error`s; only here is `libc` called directly.

pub mod clone;
pub mod fd;
pub mod mount;
pub mod ns;
pub mod path;
pub mod process;
pub mod security;
pub mod tty;
