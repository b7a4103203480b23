//! The device controller: v1 `devices.allow`/`devices.deny` lines, v2 an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE generated from the same rules.
//!
//! Rule semantics are v1's, which the runtime-spec inherits: rules apply in order, a later rule
//! overrides an earlier one, and a wildcard rule (`a`, any major/minor, `rwm`) resets the
//! default. The program therefore tests rules newest first and returns the first match.

use super::bpf::{self, Insn};
use super::plan::Write;
use super::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::OwnedFd;
use std::path::Path;

pub(crate) const ACC_MKNOD: u8 = 1;
pub(crate) const ACC_READ: u8 = 2;
pub(crate) const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// A validated rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    /// 'a', 'b' or 'c'.
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: u8,
}

impl Rule {
    const fn c(major: u32, minor: Option<u32>) -> Rule {
        Rule {
            allow: true,
            typ: 'c',
            major: Some(major),
            minor,
            access: ACC_ALL,
        }
    }

    fn is_wildcard_all(&self) -> bool {
        self.typ == 'a' && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }

    /// The v1 text form, `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        for (bit, ch) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(ch);
            }
        }
        format!("{} {}:{} {acc}", self.typ, n(self.major), n(self.minor))
    }
}

/// What every container may use besides what its spec allows (runc's list): mknod of any
/// character or block device, the runtime-spec's default devices ([`berth_spec::DEFAULT_DEVICES`],
/// the same list the rootfs creates in /dev), then /dev/ptmx, the devpts ptys and /dev/net/tun.
pub(crate) fn default_allowed() -> impl Iterator<Item = Rule> {
    let mknod = |typ| Rule {
        allow: true,
        typ,
        major: None,
        minor: None,
        access: ACC_MKNOD,
    };
    [mknod('c'), mknod('b')]
        .into_iter()
        .chain(
            berth_spec::DEFAULT_DEVICES
                .iter()
                .map(|d| Rule::c(d.major, Some(d.minor))),
        )
        .chain([
            Rule::c(5, Some(2)),    // ptmx
            Rule::c(136, None),     // pts
            Rule::c(10, Some(200)), // net/tun
        ])
}

fn num(field: &str, v: Option<i64>) -> Result<Option<u32>, CgroupError> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(CgroupError::field(
            field,
            format!("invalid device number {n}"),
        )),
    }
}

/// Deny everything: where a container's device list starts (as with runc), whatever the
/// kernel's default for a fresh cgroup is. A spec rule `a *:* rwm` allow (privileged) resets it.
pub(crate) const DENY_ALL: Rule = Rule {
    allow: false,
    typ: 'a',
    major: None,
    minor: None,
    access: ACC_ALL,
};

/// Validates the spec's rules, puts them after a deny-all and before the default allowed
/// devices.
pub(crate) fn effective_rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>, CgroupError> {
    let mut out = Vec::with_capacity(spec.len() + 12);
    out.push(DENY_ALL);
    for (i, d) in spec.iter().enumerate() {
        let field = format!("devices[{i}]");
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::P => {
                return Err(CgroupError::field(
                    &field,
                    "FIFOs (type p) are not controlled by the device cgroup",
                ))
            }
        };
        let mut access = 0;
        let acc = d.access().as_deref().unwrap_or("rwm");
        for ch in if acc.is_empty() { "rwm" } else { acc }.chars() {
            access |= match ch {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                // runc keeps the letters it knows and drops the rest; its own tests write
                // "rwa" (no such access). Accepted as nothing; other letters stay errors.
                'a' => 0,
                other => {
                    return Err(CgroupError::field(
                        &field,
                        format!("invalid access {other:?} (only r, w, m)"),
                    ))
                }
            };
        }
        if access == 0 {
            continue;
        }
        out.push(Rule {
            allow: d.allow(),
            typ,
            major: num(&field, d.major())?,
            minor: num(&field, d.minor())?,
            access,
        });
    }
    out.extend(default_allowed());
    Ok(out)
}

/// v1: one write per rule, in order.
pub(crate) fn v1_writes(rules: &[Rule]) -> Vec<Write> {
    rules
        .iter()
        .map(|r| Write {
            ctrl: "devices".into(),
            file: if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            }
            .into(),
            value: r.v1_line(),
            field: "devices".into(),
        })
        .collect()
}

/// The default verdict and the rules that still matter after the last wildcard reset.
fn effective_tail(rules: &[Rule]) -> (bool, &[Rule]) {
    match rules.iter().rposition(Rule::is_wildcard_all) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        // A fresh v1 cgroup allows everything.
        None => (true, rules),
    }
}

/// Generates the device program. Register use: r2 = device type, r3 = requested access,
/// r4 = major, r5 = minor (from `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }`, access_type = access << 16 | type).
pub(crate) fn program(rules: &[Rule]) -> Vec<Insn> {
    let (default, tail) = effective_tail(rules);
    let mut p = vec![
        bpf::ldx_w(2, 1, 0),
        bpf::and_k(2, 0xffff),
        bpf::ldx_w(3, 1, 0),
        bpf::rsh_k(3, 16),
        bpf::ldx_w(4, 1, 4),
        bpf::ldx_w(5, 1, 8),
    ];
    for r in tail.iter().rev() {
        // Each check jumps past the rest of this block when it does not match.
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        match r.typ {
            'b' => checks.push(vec![bpf::jne_k(2, bpf::DEVCG_DEV_BLOCK, 0)]),
            'c' => checks.push(vec![bpf::jne_k(2, bpf::DEVCG_DEV_CHAR, 0)]),
            _ => {}
        }
        if r.access != ACC_ALL {
            // Matches when every requested bit is granted by the rule.
            checks.push(vec![
                bpf::mov_x(6, 3),
                bpf::and_k(6, i32::from(ACC_ALL & !r.access)),
                bpf::jne_k(6, 0, 0),
            ]);
        }
        if let Some(m) = r.major {
            checks.push(vec![bpf::jne_k(4, m as i32, 0)]);
        }
        if let Some(m) = r.minor {
            checks.push(vec![bpf::jne_k(5, m as i32, 0)]);
        }
        let mut block: Vec<Insn> = checks.into_iter().flatten().collect();
        block.push(bpf::mov_k(0, i32::from(r.allow)));
        block.push(bpf::exit());
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.is_jump() {
                // Jump to the first instruction after the block.
                insn.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(bpf::mov_k(0, i32::from(default)));
    p.push(bpf::exit());
    p
}

/// Loads the program for `rules` into the kernel (not yet attached).
pub(crate) fn load_v2_program(rules: &[Rule]) -> Result<OwnedFd, CgroupError> {
    bpf::prog_load_cgroup_device(&program(rules)).map_err(|e| CgroupError::DeviceFilter {
        op: if e.log.is_empty() {
            "loading the device eBPF program".into()
        } else {
            format!("loading the device eBPF program (verifier: {})", e.log)
        },
        source: e.errno,
    })
}

/// Attaches `prog` to the cgroup at `dir`, replacing the program attached before in one step
/// (BPF_F_REPLACE), so there is never a moment without a device filter, and none is leaked.
pub(crate) fn attach_v2_program(dir: &Path, prog: OwnedFd) -> Result<(), CgroupError> {
    let err = |what: &str, source: std::io::Error| CgroupError::DeviceFilter {
        op: format!("{what} on {}", dir.display()),
        source,
    };
    let cg = std::fs::File::open(dir).map_err(|e| CgroupError::io(dir, e))?;
    let old = bpf::prog_query_device(&cg).map_err(|e| err("querying device programs", e))?;
    match old.as_slice() {
        [] => bpf::prog_attach_device(&cg, &prog, None)
            .map_err(|e| err("attaching the device program", e))?,
        [one] => {
            let old_fd = bpf::prog_get_fd_by_id(*one)
                .map_err(|e| err("opening the old device program", e))?;
            bpf::prog_attach_device(&cg, &prog, Some(&old_fd))
                .map_err(|e| err("replacing the device program", e))?;
        }
        many => {
            // Not ours alone (someone attached more): add ours first, then take the old ones off.
            bpf::prog_attach_device(&cg, &prog, None)
                .map_err(|e| err("attaching the device program", e))?;
            for id in many {
                if let Ok(fd) = bpf::prog_get_fd_by_id(*id) {
                    let _ = bpf::prog_detach_device(&cg, &fd);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).expect("test json")
    }

    /// Runs the generated program in a tiny interpreter of the instructions we emit.
    fn eval(p: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = (usize::from(i.dst()), usize::from(i.src()));
            match i.code {
                0x61 => r[d] = u64::from(ctx[(i.off / 4) as usize]),
                0x57 => r[d] &= i.imm as i64 as u64,
                0x77 => r[d] >>= i.imm,
                0xbf => r[d] = r[s],
                0xb7 => r[d] = i.imm as i64 as u64,
                0x55 => {
                    if r[d] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                0x95 => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
            pc += 1;
        }
    }

    #[test]
    fn program_semantics() {
        let rules = effective_rules(&spec(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"b","major":8,"access":"r"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
        ))
        .unwrap();
        let p = program(&rules);
        let (c, b) = (bpf::DEVCG_DEV_CHAR as u32, bpf::DEVCG_DEV_BLOCK as u32);
        let (r, w, m) = (
            u32::from(ACC_READ),
            u32::from(ACC_WRITE),
            u32::from(ACC_MKNOD),
        );
        assert_eq!(eval(&p, c, r, 1, 3), 1, "read /dev/null allowed");
        assert_eq!(
            eval(&p, c, r | w, 1, 3),
            1,
            "default list re-allows null rw last"
        );
        assert_eq!(eval(&p, c, r, 4, 1), 0, "tty1 denied");
        assert_eq!(eval(&p, b, r, 8, 1), 1, "block 8:* read");
        assert_eq!(eval(&p, b, w, 8, 1), 0, "block 8:* write denied");
        assert_eq!(eval(&p, b, m, 200, 1), 1, "mknod of any block");
        assert_eq!(eval(&p, c, r, 136, 5), 1, "pts");
        // Without a reset in the spec the list still starts from deny-all.
        let p = program(
            &effective_rules(&spec(
                r#"[{"allow":false,"type":"c","major":4,"access":"rwm"}]"#,
            ))
            .unwrap(),
        );
        assert_eq!(eval(&p, c, r, 4, 1), 0);
        assert_eq!(eval(&p, b, r, 7, 7), 0);
        assert_eq!(eval(&p, c, r, 1, 3), 1);
        // A privileged spec (allow a *:* rwm) allows everything.
        let p = program(&effective_rules(&spec(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap());
        assert_eq!(eval(&p, b, r | w, 7, 7), 1);
        // The raw default (no rules at all) is allow, as a fresh v1 cgroup.
        let p = program(&[]);
        assert_eq!(eval(&p, b, r, 7, 7), 1);
    }

    #[test]
    fn default_allowed_is_runcs_list() {
        let lines: Vec<String> = default_allowed().map(|r| r.v1_line()).collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
                "c 10:200 rwm",
            ]
        );
        assert!(default_allowed().all(|r| r.allow));
    }

    #[test]
    fn validation_and_v1_lines() {
        assert!(effective_rules(&spec(r#"[{"allow":true,"type":"p","access":"r"}]"#)).is_err());
        assert!(
            effective_rules(&spec(r#"[{"allow":true,"type":"c","access":"x"}]"#))
                .unwrap_err()
                .to_string()
                .contains("devices[0]")
        );
        assert!(effective_rules(&spec(
            r#"[{"allow":true,"type":"c","major":-7,"access":"r"}]"#
        ))
        .is_err());
        let r = effective_rules(&spec(
            r#"[{"allow":false,"type":"c","major":1,"minor":11,"access":"rwa"},{"allow":true,"access":"a"}]"#,
        ))
        .unwrap();
        assert_eq!(v1_writes(&r)[1].value, "c 1:11 rw");
        // The rule with no access left is dropped, not turned into an allow-all.
        assert!(!r.iter().any(|x| x.allow && x.typ == 'a'));
        let r = effective_rules(&spec(
            r#"[{"allow":true,"type":"b","major":8,"access":"r"}]"#,
        ))
        .unwrap();
        let w = v1_writes(&r);
        assert_eq!(
            (w[0].file.as_str(), w[0].value.as_str()),
            ("devices.deny", "a *:* rwm")
        );
        assert_eq!(
            (w[1].file.as_str(), w[1].value.as_str()),
            ("devices.allow", "b 8:* r")
        );
        assert_eq!(w[2].value, "c *:* m");
        assert_eq!(w[4].value, "c 1:3 rwm");
    }
}
