//! syscall (filled in by its issue's work).
pub mod mount;
pub mod path;
