//! bpf(2) for cgroup device programs: the instruction type, prog load, attach/replace, detach,
//! query. Only what the device controller needs; the programs themselves are written by
//! berth-cgroups.

use crate::ret::cvt;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | operation | source.
    pub code: u8,
    /// dst register in the low nibble, src in the high one.
    pub regs: u8,
    /// Signed offset (jumps, memory access).
    pub off: i16,
    /// Immediate operand.
    pub imm: i32,
}

impl Insn {
    /// Destination register.
    pub fn dst(&self) -> u8 {
        self.regs & 0xf
    }
    /// Source register.
    pub fn src(&self) -> u8 {
        self.regs >> 4
    }
    /// A conditional or unconditional jump (its `off` is relative to the next instruction).
    pub fn is_jump(&self) -> bool {
        self.code & 0x07 == 0x05 && self.code != 0x95
    }
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;

/// `union bpf_attr`, as raw zeroed storage: each command fills its own prefix; the kernel
/// requires the unused tail to be zero.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32_at(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64_at(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
}

fn sys_bpf(cmd: libc::c_int, attr: &mut Attr) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, writable, 8-aligned buffer of the size we pass; every pointer
    // stored inside it points to memory that outlives the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr,
            std::mem::size_of::<Attr>(),
        )
    })
}

fn fd_from(r: libc::c_long) -> std::io::Result<OwnedFd> {
    let fd =
        i32::try_from(r).map_err(|_| std::io::Error::other("bpf returned an out-of-range fd"))?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A failed BPF_PROG_LOAD: the errno, and what the verifier logged (empty when nothing).
#[derive(Debug)]
pub struct LoadError {
    /// The error bpf(2) returned.
    pub errno: std::io::Error,
    /// The verifier's log, trimmed.
    pub log: String,
}

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program.
pub fn prog_load_cgroup_device(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 16 * 1024];
    let mut a = Attr::new();
    // Layout: prog_type u32 @0, insn_cnt u32 @4, insns u64 @8, license u64 @16, log_level u32
    // @24, log_size u32 @28, log_buf u64 @32, kern_version @40, prog_flags @44, prog_name @48.
    a.u32_at(0, BPF_PROG_TYPE_CGROUP_DEVICE)
        .u32_at(4, insns.len() as u32)
        .u64_at(8, insns.as_ptr() as u64)
        .u64_at(16, license.as_ptr() as u64)
        .u32_at(24, 1)
        .u32_at(28, log.len() as u32)
        .u64_at(32, log.as_mut_ptr() as u64);
    a.0[48..48 + 12].copy_from_slice(b"berth_device");
    match sys_bpf(BPF_PROG_LOAD, &mut a) {
        Ok(r) => fd_from(r).map_err(|errno| LoadError {
            errno,
            log: String::new(),
        }),
        Err(errno) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            let log = String::from_utf8_lossy(&log[..end]).trim().to_string();
            Err(LoadError { errno, log })
        }
    }
}

/// Attaches `prog` to the cgroup `cg` (multi mode); with `replace`, atomically swaps it in for
/// that program.
pub fn prog_attach_device(
    cg: &impl AsFd,
    prog: &impl AsFd,
    replace: Option<&OwnedFd>,
) -> std::io::Result<()> {
    let mut a = Attr::new();
    let mut flags = BPF_F_ALLOW_MULTI;
    if replace.is_some() {
        flags |= BPF_F_REPLACE;
    }
    // target_fd @0, attach_bpf_fd @4, attach_type @8, attach_flags @12, replace_bpf_fd @16.
    a.u32_at(0, cg.as_fd().as_raw_fd() as u32)
        .u32_at(4, prog.as_fd().as_raw_fd() as u32)
        .u32_at(8, BPF_CGROUP_DEVICE)
        .u32_at(12, flags);
    if let Some(r) = replace {
        a.u32_at(16, r.as_raw_fd() as u32);
    }
    sys_bpf(BPF_PROG_ATTACH, &mut a).map(|_| ())
}

/// Detaches `prog` from the cgroup `cg`.
pub fn prog_detach_device(cg: &impl AsFd, prog: &impl AsFd) -> std::io::Result<()> {
    let mut a = Attr::new();
    a.u32_at(0, cg.as_fd().as_raw_fd() as u32)
        .u32_at(4, prog.as_fd().as_raw_fd() as u32)
        .u32_at(8, BPF_CGROUP_DEVICE);
    sys_bpf(BPF_PROG_DETACH, &mut a).map(|_| ())
}

/// Ids of the device programs attached directly to the cgroup `cg`.
pub fn prog_query_device(cg: &impl AsFd) -> std::io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut a = Attr::new();
    // target_fd @0, attach_type @4, query_flags @8, attach_flags @12, prog_ids @16, prog_cnt @24.
    a.u32_at(0, cg.as_fd().as_raw_fd() as u32)
        .u32_at(4, BPF_CGROUP_DEVICE)
        .u64_at(16, ids.as_mut_ptr() as u64)
        .u32_at(24, ids.len() as u32);
    sys_bpf(BPF_PROG_QUERY, &mut a)?;
    let n = (a.get_u32(24) as usize).min(ids.len());
    ids.truncate(n);
    Ok(ids)
}

/// An fd for the loaded program with id `id` (needs CAP_SYS_ADMIN).
pub fn prog_get_fd_by_id(id: u32) -> std::io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32_at(0, id);
    fd_from(sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut a)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_layout_is_the_kernels() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        let i = Insn {
            code: 0xbf,
            regs: (3 << 4) | 6,
            off: 0,
            imm: 0,
        };
        assert_eq!((i.dst(), i.src()), (6, 3));
        assert!(Insn {
            code: 0x55,
            regs: 1,
            off: 3,
            imm: 2
        }
        .is_jump());
        assert!(!Insn {
            code: 0x95,
            regs: 0,
            off: 0,
            imm: 0
        }
        .is_jump());
    }
}
