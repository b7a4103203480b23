//! Encoding of the eBPF instructions the cgroup device program uses; bpf(2) itself (load,
//! attach, query) is in `berth_sys::bpf`.

/// Ids of the device programs attached directly to a cgroup (see `berth_sys::bpf`).
pub use berth_sys::bpf::prog_query_device;
pub(crate) use berth_sys::bpf::{
    prog_attach_device, prog_detach_device, prog_get_fd_by_id, prog_load_cgroup_device, Insn,
};

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

// Opcodes: class | op | source (see the kernel's Documentation/bpf/standardization).
/// `dst = *(u32 *)(src + off)`
pub(crate) const fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// `dst &= imm` (64-bit)
pub(crate) const fn and_k(dst: u8, imm: i32) -> Insn {
    insn(0x57, dst, 0, 0, imm)
}
/// `dst >>= imm` (64-bit)
pub(crate) const fn rsh_k(dst: u8, imm: i32) -> Insn {
    insn(0x77, dst, 0, 0, imm)
}
/// `dst = src`
pub(crate) const fn mov_x(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
/// `dst = imm`
pub(crate) const fn mov_k(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
/// `if dst != imm goto pc + off`
pub(crate) const fn jne_k(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
pub(crate) const fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}

/// BPF_DEVCG_DEV_* device types in the program's context.
pub(crate) const DEVCG_DEV_BLOCK: i32 = 1;
pub(crate) const DEVCG_DEV_CHAR: i32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        let i = mov_x(6, 3);
        assert_eq!((i.dst(), i.src()), (6, 3));
        assert!(jne_k(1, 2, 3).is_jump());
        assert!(!exit().is_jump());
        assert!(!ldx_w(1, 2, 0).is_jump());
    }
}
