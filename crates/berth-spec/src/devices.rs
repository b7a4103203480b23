//! The runtime-spec's default devices: the character devices every Linux container gets,
//! whatever `linux.devices` says. The rootfs creates them in `/dev`; the device cgroup allows
//! them. `/dev/console` and `/dev/ptmx` are also required by the spec but are not plain nodes
//! (a bind of the console pty, a symlink into devpts), so they are not in this list.

/// One default device: a character device node `/dev/NAME`, mode 0666, owned by root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DefaultDevice {
    /// The name below `/dev`.
    pub name: &'static str,
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
}

const fn c(name: &'static str, major: u32, minor: u32) -> DefaultDevice {
    DefaultDevice { name, major, minor }
}

/// The runtime-spec's default devices, in the order runc creates them.
pub const DEFAULT_DEVICES: [DefaultDevice; 6] = [
    c("null", 1, 3),
    c("zero", 1, 5),
    c("full", 1, 7),
    c("random", 1, 8),
    c("urandom", 1, 9),
    c("tty", 5, 0),
];
