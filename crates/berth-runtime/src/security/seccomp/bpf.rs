//! A small classic-BPF assembler for seccomp filters: symbolic labels, forward jumps only,
//! and conditional jumps that are widened into a conditional hop over an unconditional jump
//! (which has a 32-bit offset) whenever a target is beyond the 8-bit jt/jf range.

/// `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Opcodes from include/uapi/linux/bpf_common.h: BPF_LD|BPF_W|BPF_ABS, BPF_ALU|BPF_AND|BPF_K,
// BPF_JMP|BPF_JA, BPF_RET|BPF_K; the conditional jumps are BPF_JMP|BPF_J*|BPF_K.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x54;
const BPF_JMP_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;

/// The conditional jumps BPF has; "less than" is a swapped "greater or equal".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Eq = 0x15,
    Gt = 0x25,
    Ge = 0x35,
}

pub type Label = usize;

#[derive(Debug, Clone, Copy)]
enum Op {
    Load(u32),
    And(u32),
    Jump {
        cond: Cond,
        k: u32,
        t: Label,
        f: Label,
    },
    Goto(Label),
    Ret(u32),
    Mark(Label),
}

/// A program being built.
#[derive(Debug, Default)]
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

/// Largest program the kernel loads (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
pub enum AsmError {
    TooLarge(usize),
    BackwardJump,
    UnplacedLabel,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }
    pub fn mark(&mut self, l: Label) {
        self.ops.push(Op::Mark(l));
    }
    /// A = 32-bit word at `offset` of `struct seccomp_data`.
    pub fn load(&mut self, offset: u32) {
        self.ops.push(Op::Load(offset));
    }
    pub fn and(&mut self, k: u32) {
        self.ops.push(Op::And(k));
    }
    pub fn jump(&mut self, cond: Cond, k: u32, t: Label, f: Label) {
        self.ops.push(Op::Jump { cond, k, t, f });
    }
    pub fn goto(&mut self, l: Label) {
        self.ops.push(Op::Goto(l));
    }
    pub fn ret(&mut self, action: u32) {
        self.ops.push(Op::Ret(action));
    }

    /// Lays the program out and encodes it.
    pub fn assemble(&self) -> Result<Vec<SockFilter>, AsmError> {
        // wide[i]: op i is a conditional jump that needs the 3-instruction form.
        let mut wide = vec![false; self.ops.len()];
        loop {
            let (addr, label_addr) = self.layout(&wide)?;
            let mut changed = false;
            for (i, op) in self.ops.iter().enumerate() {
                if let Op::Jump { t, f, .. } = op {
                    if wide[i] {
                        continue;
                    }
                    let base = addr[i] + 1;
                    let fits =
                        |l: &Label| label_addr[*l].checked_sub(base).is_some_and(|d| d <= 255);
                    if !fits(t) || !fits(f) {
                        wide[i] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return self.encode(&wide, &addr, &label_addr);
            }
        }
    }

    fn size(op: &Op, wide: bool) -> usize {
        match op {
            Op::Mark(_) => 0,
            Op::Jump { .. } if wide => 3,
            _ => 1,
        }
    }

    fn layout(&self, wide: &[bool]) -> Result<(Vec<usize>, Vec<usize>), AsmError> {
        let mut addr = Vec::with_capacity(self.ops.len());
        let mut label_addr = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for (i, op) in self.ops.iter().enumerate() {
            addr.push(pc);
            if let Op::Mark(l) = op {
                label_addr[*l] = pc;
            }
            pc += Self::size(op, wide[i]);
        }
        if label_addr.contains(&usize::MAX) {
            return Err(AsmError::UnplacedLabel);
        }
        if pc > MAX_INSNS {
            return Err(AsmError::TooLarge(pc));
        }
        Ok((addr, label_addr))
    }

    fn encode(
        &self,
        wide: &[bool],
        addr: &[usize],
        label_addr: &[usize],
    ) -> Result<Vec<SockFilter>, AsmError> {
        let dist = |from: usize, to: Label| {
            label_addr[to]
                .checked_sub(from + 1)
                .ok_or(AsmError::BackwardJump)
        };
        let ins = |code, jt, jf, k| SockFilter { code, jt, jf, k };
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let pc = addr[i];
            match *op {
                Op::Mark(_) => {}
                Op::Load(off) => out.push(ins(BPF_LD_W_ABS, 0, 0, off)),
                Op::And(k) => out.push(ins(BPF_ALU_AND_K, 0, 0, k)),
                Op::Ret(k) => out.push(ins(BPF_RET_K, 0, 0, k)),
                Op::Goto(l) => out.push(ins(BPF_JMP_JA, 0, 0, dist(pc, l)? as u32)),
                Op::Jump { cond, k, t, f } if !wide[i] => {
                    // Both distances were checked to fit in a byte by `assemble`.
                    let jt = u8::try_from(dist(pc, t)?).map_err(|_| AsmError::TooLarge(0))?;
                    let jf = u8::try_from(dist(pc, f)?).map_err(|_| AsmError::TooLarge(0))?;
                    out.push(ins(cond as u16, jt, jf, k));
                }
                Op::Jump { cond, k, t, f } => {
                    out.push(ins(cond as u16, 0, 1, k));
                    out.push(ins(BPF_JMP_JA, 0, 0, dist(pc + 1, t)? as u32));
                    out.push(ins(BPF_JMP_JA, 0, 0, dist(pc + 2, f)? as u32));
                }
            }
        }
        Ok(out)
    }
}

/// Runs a program on `data` (a `struct seccomp_data` as bytes) the way the kernel would, so
/// filters can be tested without installing them.
#[cfg(test)]
pub fn interpret(prog: &[SockFilter], data: &[u8]) -> Option<u32> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    while let Some(i) = prog.get(pc) {
        pc += 1;
        match i.code {
            BPF_LD_W_ABS => {
                let off = i.k as usize;
                let bytes = data.get(off..off + 4)?;
                a = u32::from_ne_bytes(bytes.try_into().ok()?);
            }
            BPF_ALU_AND_K => a &= i.k,
            BPF_RET_K => return Some(i.k),
            BPF_JMP_JA => pc += i.k as usize,
            c => {
                let taken = match c {
                    x if x == Cond::Eq as u16 => a == i.k,
                    x if x == Cond::Gt as u16 => a > i.k,
                    x if x == Cond::Ge as u16 => a >= i.k,
                    _ => return None,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_jumps_are_widened() {
        let mut asm = Asm::default();
        let (far, near) = (asm.label(), asm.label());
        asm.load(0);
        asm.jump(Cond::Eq, 7, far, near);
        asm.mark(near);
        for _ in 0..300 {
            asm.and(u32::MAX);
        }
        asm.ret(1);
        asm.mark(far);
        asm.ret(2);
        let prog = asm.assemble().unwrap();
        assert_eq!(prog.len(), 1 + 3 + 300 + 2);
        assert_eq!(interpret(&prog, &7u32.to_ne_bytes()), Some(2));
        assert_eq!(interpret(&prog, &8u32.to_ne_bytes()), Some(1));
    }

    #[test]
    fn unplaced_label_is_an_error() {
        let mut asm = Asm::default();
        let l = asm.label();
        asm.goto(l);
        assert_eq!(asm.assemble().unwrap_err(), AsmError::UnplacedLabel);
    }
}
