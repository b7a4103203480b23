//! berth-sys: thin wrappers over the kernel calls berth makes, and the mountinfo parser. Everything above this module works
//! with typed values and `std::io::Error`s; only here is `libc` called directly.

pub mod bpf;
pub mod clone;
pub mod exe;
pub mod fd;
pub mod mount;
pub mod mountinfo;
pub mod ns;
pub mod path;
pub mod process;
pub mod procfs;
pub mod ret;
pub mod security;
pub mod tree;
pub mod tty;
pub mod xattr;
