//! Parsing of the fstab-style `options` of a config.json mount into what the mount code needs:
//! mount attributes (for the new mount API), bind/rbind, propagation changes and the
//! filesystem-specific data that is handed to the filesystem untouched.

use berth_sys::mount::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};

/// One propagation change, applied after the mount is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    /// The MS_* value `mount_setattr`'s `propagation` field takes.
    // c_ulong is u64 only on 64-bit targets.
    #[allow(clippy::unnecessary_cast)]
    pub fn ms_flag(self) -> u64 {
        (match self {
            Propagation::Shared => libc::MS_SHARED,
            Propagation::Slave => libc::MS_SLAVE,
            Propagation::Private => libc::MS_PRIVATE,
            Propagation::Unbindable => libc::MS_UNBINDABLE,
        }) as u64
    }
}

/// A propagation option: the kind and whether it applies to the whole subtree (r* forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropagationChange {
    pub kind: Propagation,
    pub recursive: bool,
}

/// Parses "shared", "rslave", ... (the values of a mount option and of `rootfsPropagation`).
pub fn parse_propagation(s: &str) -> Option<PropagationChange> {
    let (recursive, base) = match s.strip_prefix('r') {
        Some(b @ ("shared" | "slave" | "private" | "unbindable")) => (true, b),
        _ => (false, s),
    };
    let kind = match base {
        "shared" => Propagation::Shared,
        "slave" => Propagation::Slave,
        "private" => Propagation::Private,
        "unbindable" => Propagation::Unbindable,
        _ => return None,
    };
    Some(PropagationChange { kind, recursive })
}

/// Attribute changes for `mount_setattr`: bits to set and bits to clear.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AttrChange {
    pub set: u64,
    pub clr: u64,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }

    /// Records a flag option: `on` sets the attribute, otherwise clears it. Later options win.
    fn flag(&mut self, attr: u64, on: bool) {
        if on {
            self.set |= attr;
            self.clr &= !attr;
        } else {
            self.clr |= attr;
            self.set &= !attr;
        }
    }

    /// Records an atime mode: the kernel wants the whole atime mask cleared and one mode set.
    fn atime(&mut self, mode: u64) {
        self.set = (self.set & !MOUNT_ATTR__ATIME) | mode;
        self.clr |= MOUNT_ATTR__ATIME;
    }
}

/// The non-atime attributes a bind mount's own options decide.
const BIND_FLAGS: u64 = MOUNT_ATTR_RDONLY
    | MOUNT_ATTR_NOSUID
    | MOUNT_ATTR_NODEV
    | MOUNT_ATTR_NOEXEC
    | MOUNT_ATTR_NOSYMFOLLOW;
/// Those the kernel locks on the mounts a less privileged user namespace inherits.
const LOCKABLE: u64 = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
/// A mount's atime setting: the mode and nodiratime (locked as one in a user namespace).
const ATIME_SETTING: u64 = MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME;

/// Why a bind mount's options cannot be applied in a user namespace: the kernel locks the
/// flags and the atime setting of the mounts a less privileged namespace inherits, and
/// would refuse the change with EPERM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedChange {
    /// Options clear flags the source has (named: "ro", "nosuid", ...).
    Flags(String),
    /// Options ask for another atime setting than the source's.
    Atime,
}

impl std::fmt::Display for LockedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockedChange::Flags(names) => {
                write!(f, "the source's locked flags {names} cannot be cleared")
            }
            LockedChange::Atime => {
                f.write_str("the source's locked atime setting cannot be changed")
            }
        }
    }
}

/// The attributes of a bind mount's top mount, as runc 1.5 makes them: options that name no
/// flag keep the source's flags; otherwise the mount gets exactly the flags named, the others
/// cleared ("bind,dev" of a ro,noexec mount is rw and exec). The atime setting changes only
/// when an option sets one (see [`AtimeFlags`]). In a user namespace (`locked`), the source's
/// ro/nosuid/nodev/noexec and its atime setting are locked by the kernel: unnamed locked
/// flags stay, and asking to clear one or to change the atime setting is refused, as the
/// kernel (and so runc) refuses it. `src` is the source mount's attributes.
pub fn bind_attr_change(
    req: &AttrChange,
    src: u64,
    locked: bool,
) -> Result<AttrChange, LockedChange> {
    if req.is_empty() {
        return Ok(*req);
    }
    let mut set = req.set & BIND_FLAGS;
    let mut clr = BIND_FLAGS & !set;
    set |= req.set & ATIME_SETTING;
    clr |= req.clr & ATIME_SETTING;
    if locked {
        let cannot = req.clr & src & LOCKABLE;
        if cannot != 0 {
            return Err(LockedChange::Flags(attr_names(cannot)));
        }
        if clr & ATIME_SETTING != 0 {
            if set & ATIME_SETTING != src & ATIME_SETTING {
                return Err(LockedChange::Atime);
            }
            // The same setting as the source's: nothing to change.
            set &= !ATIME_SETTING;
            clr &= !ATIME_SETTING;
        }
        set |= src & LOCKABLE;
        clr &= !(src & LOCKABLE);
    }
    Ok(AttrChange { set, clr })
}

/// Mount attributes by their option names, for messages.
fn attr_names(attrs: u64) -> String {
    [
        (MOUNT_ATTR_RDONLY, "ro"),
        (MOUNT_ATTR_NOSUID, "nosuid"),
        (MOUNT_ATTR_NODEV, "nodev"),
        (MOUNT_ATTR_NOEXEC, "noexec"),
    ]
    .iter()
    .filter(|(a, _)| attrs & a != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(",")
}

/// A mount's attributes from its `statvfs` flags (`ST_*`).
pub fn attrs_from_statvfs(flags: i64) -> u64 {
    const ST_NOSYMFOLLOW: i64 = 0x2000;
    let mut a = 0;
    for (st, attr) in [
        (libc::ST_RDONLY as i64, MOUNT_ATTR_RDONLY),
        (libc::ST_NOSUID as i64, MOUNT_ATTR_NOSUID),
        (libc::ST_NODEV as i64, MOUNT_ATTR_NODEV),
        (libc::ST_NOEXEC as i64, MOUNT_ATTR_NOEXEC),
        (libc::ST_NODIRATIME as i64, MOUNT_ATTR_NODIRATIME),
        (ST_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags & st != 0 {
            a |= attr;
        }
    }
    if flags & libc::ST_NOATIME as i64 != 0 {
        a |= MOUNT_ATTR_NOATIME;
    } else if flags & libc::ST_RELATIME as i64 == 0 {
        a |= MOUNT_ATTR_STRICTATIME;
    }
    a
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// "bind" or "rbind" was given.
    pub bind: bool,
    /// "rbind": the submounts come along.
    pub recursive_bind: bool,
    /// Attributes for the top mount only (ro, nosuid, ...).
    pub attrs: AttrChange,
    /// Attributes for the whole tree (rro, rnosuid, ...: mount_setattr with AT_RECURSIVE).
    pub rec_attrs: AttrChange,
    /// Propagation changes in the order given.
    pub propagation: Vec<PropagationChange>,
    /// "idmap"/"ridmap" was given: an ID-mapped bind mount (see `super::idmap`).
    pub idmap: bool,
    /// "ridmap": the ID mapping applies to the submounts of an rbind too.
    pub recursive_idmap: bool,
    /// "tmpcopyup": a tmpfs gets the content of the directory it covers (runc's extension).
    pub copy_up: bool,
    /// Everything else, for the filesystem (e.g. "mode=755", "size=64k", "newinstance").
    pub data: Vec<String>,
}

/// The attribute an option like "nosuid"/"suid" controls, and whether the option turns it on.
fn flag_option(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "ro" => (MOUNT_ATTR_RDONLY, true),
        "rw" => (MOUNT_ATTR_RDONLY, false),
        "nosuid" => (MOUNT_ATTR_NOSUID, true),
        "suid" => (MOUNT_ATTR_NOSUID, false),
        "nodev" => (MOUNT_ATTR_NODEV, true),
        "dev" => (MOUNT_ATTR_NODEV, false),
        "noexec" => (MOUNT_ATTR_NOEXEC, true),
        "exec" => (MOUNT_ATTR_NOEXEC, false),
        "nosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

/// The atime options of a mount's top as runc reads them (its flag table, and the kernel's
/// mount(2)): "noatime", "relatime", "strictatime" and "nodiratime" each set a flag that
/// "atime", "norelatime", "nostrictatime" and "diratime" clear again. Only the set flags
/// matter: with none, the atime setting is left alone (a bind mount keeps its source's, a
/// new mount gets the kernel's default, relatime), so "atime" or "norelatime" on their own
/// change nothing, as with mount(8) on a remount. With any, the setting is made from them
/// alone: strictatime wins over noatime, relatime is the default mode, and nodiratime is on
/// exactly when asked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AtimeFlags {
    noatime: bool,
    relatime: bool,
    strictatime: bool,
    nodiratime: bool,
}

impl AtimeFlags {
    /// Records an atime option; false when `name` is not one.
    fn apply(&mut self, name: &str) -> bool {
        let (flag, on) = match name {
            "noatime" => (&mut self.noatime, true),
            "atime" => (&mut self.noatime, false),
            "relatime" => (&mut self.relatime, true),
            "norelatime" => (&mut self.relatime, false),
            "strictatime" => (&mut self.strictatime, true),
            "nostrictatime" => (&mut self.strictatime, false),
            "nodiratime" => (&mut self.nodiratime, true),
            "diratime" => (&mut self.nodiratime, false),
            _ => return false,
        };
        *flag = on;
        true
    }

    /// The attribute change these flags make: none when no flag is set.
    fn change(&self) -> AttrChange {
        if !(self.noatime || self.relatime || self.strictatime || self.nodiratime) {
            return AttrChange::default();
        }
        let mode = if self.strictatime {
            MOUNT_ATTR_STRICTATIME
        } else if self.noatime {
            MOUNT_ATTR_NOATIME
        } else {
            MOUNT_ATTR_RELATIME
        };
        let set = mode
            | if self.nodiratime {
                MOUNT_ATTR_NODIRATIME
            } else {
                0
            };
        // mount_setattr wants the whole atime mask cleared whenever a mode is set.
        AttrChange {
            set,
            clr: MOUNT_ATTR__ATIME | (MOUNT_ATTR_NODIRATIME & !set),
        }
    }
}

/// The atime mode a recursive option ("rnoatime", "rrelatime", ...) selects for the whole
/// tree, as runc's mount_setattr table does: "ratime"/"rnostrictatime" fall back to the
/// kernel default (relatime), and so does "rnorelatime" (it clears relatime, which is mode
/// 0); runc 1.5's bats and youki's contest check the last.
fn recursive_atime_option(name: &str) -> Option<u64> {
    Some(match name {
        "relatime" | "atime" | "nostrictatime" | "norelatime" => MOUNT_ATTR_RELATIME,
        "noatime" => MOUNT_ATTR_NOATIME,
        "strictatime" => MOUNT_ATTR_STRICTATIME,
        _ => return None,
    })
}

/// Records a flag option ("ro", "nosuid", ...); false when `name` is not one.
fn apply_flag(change: &mut AttrChange, name: &str) -> bool {
    let Some((attr, on)) = flag_option(name) else {
        return false;
    };
    change.flag(attr, on);
    true
}

/// Records a recursive option (its name without the leading 'r'); false when it is none.
fn apply_recursive(change: &mut AttrChange, name: &str) -> bool {
    if apply_flag(change, name) {
        return true;
    }
    if let Some(mode) = recursive_atime_option(name) {
        change.atime(mode);
        return true;
    }
    match name {
        "nodiratime" => change.flag(MOUNT_ATTR_NODIRATIME, true),
        "diratime" => change.flag(MOUNT_ATTR_NODIRATIME, false),
        _ => return false,
    }
    true
}

/// Parses a mount's options. Never fails: anything unknown is filesystem data, as with mount(8).
pub fn parse_mount_options<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut o = MountOptions::default();
    let mut atime = AtimeFlags::default();
    for opt in options {
        let opt = opt.as_ref();
        match opt {
            // "silent"/"loud" only change how chatty the kernel log is: nothing to do.
            "" | "defaults" | "silent" | "loud" => {}
            "bind" => o.bind = true,
            "rbind" => {
                o.bind = true;
                o.recursive_bind = true;
            }
            "idmap" => o.idmap = true,
            "ridmap" => {
                o.idmap = true;
                o.recursive_idmap = true;
            }
            "tmpcopyup" => o.copy_up = true,
            _ if atime.apply(opt) => {}
            _ if apply_flag(&mut o.attrs, opt) => {}
            // "rro", "rnosuid", "rrelatime", ...: the recursive forms (runc's mount_setattr set).
            _ if opt.len() > 1
                && opt.starts_with('r')
                && apply_recursive(&mut o.rec_attrs, &opt[1..]) => {}
            _ => match parse_propagation(opt) {
                Some(p) => o.propagation.push(p),
                None => o.data.push(opt.to_string()),
            },
        }
    }
    let atime = atime.change();
    o.attrs.set |= atime.set;
    o.attrs.clr |= atime.clr;
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_flags_as_runc_1_5_sets_them() {
        let req = |o: &[&str]| parse_mount_options(o).attrs;
        let (ro, nosuid, nodev, noexec, nosym) = (
            MOUNT_ATTR_RDONLY,
            MOUNT_ATTR_NOSUID,
            MOUNT_ATTR_NODEV,
            MOUNT_ATTR_NOEXEC,
            MOUNT_ATTR_NOSYMFOLLOW,
        );
        let src = ro | noexec | nosym | MOUNT_ATTR_NODIRATIME;
        // "bind" alone: nothing changes.
        assert!(bind_attr_change(&req(&["bind"]), src, false)
            .unwrap()
            .is_empty());
        // "bind,dev": exactly dev, everything else cleared; the atime flags stay.
        let c = bind_attr_change(&req(&["bind", "dev"]), src, false).unwrap();
        assert_eq!(c.set, 0);
        assert_eq!(c.clr, ro | nosuid | nodev | noexec | nosym);
        // In a user namespace the source's locked flags stay; nosymfollow is not lockable.
        let c = bind_attr_change(&req(&["bind", "dev"]), src, true).unwrap();
        assert_eq!(c.set, ro | noexec);
        assert_eq!(c.clr, nosuid | nodev | nosym);
        // "bind,ro" of a nodev,nosuid,noexec mount.
        let src = nodev | nosuid | noexec | MOUNT_ATTR_NOATIME;
        let c = bind_attr_change(&req(&["bind", "ro"]), src, false).unwrap();
        assert_eq!((c.set, c.clr), (ro, nosuid | nodev | noexec | nosym));
        let c = bind_attr_change(&req(&["bind", "ro"]), src, true).unwrap();
        assert_eq!((c.set, c.clr), (ro | nodev | nosuid | noexec, nosym));
        // Clearing a locked flag explicitly, or another atime mode, is refused.
        let e = bind_attr_change(&req(&["bind", "rw", "nosuid"]), ro, true).unwrap_err();
        assert_eq!(e, LockedChange::Flags("ro".into()));
        let e = bind_attr_change(&req(&["bind", "ro", "relatime"]), src, true).unwrap_err();
        assert_eq!(e, LockedChange::Atime);
        // Asking for the atime setting the source has is no change.
        let c = bind_attr_change(&req(&["bind", "ro", "noatime"]), src, true).unwrap();
        assert_eq!(c.set & ATIME_SETTING, 0);
        assert_eq!(c.clr & ATIME_SETTING, 0);
    }

    /// runc 1.5's mounts_sshfs.bats, case by case: the source's atime setting, the bind
    /// mount's options, and the setting the mount ends with (or a refusal, in a user
    /// namespace).
    #[test]
    fn bind_atime_as_runc_and_the_kernel_make_it() {
        let (no, strict, rel, nodir) = (
            MOUNT_ATTR_NOATIME,
            MOUNT_ATTR_STRICTATIME,
            MOUNT_ATTR_RELATIME,
            MOUNT_ATTR_NODIRATIME,
        );
        let result = |src: u64, opts: &[&str], locked: bool| {
            let req = parse_mount_options(opts).attrs;
            bind_attr_change(&req, src, locked)
                .map(|c| (src & !c.clr | c.set) & ATIME_SETTING)
                .ok()
        };
        for (src, opts, want) in [
            (no, &["bind"][..], no),
            (no, &["bind", "norelatime"], no),
            (no, &["bind", "atime"], no),
            (no, &["bind", "dev", "suid", "exec", "atime"], no),
            (no, &["bind", "relatime"], rel),
            (no, &["bind", "nodiratime"], rel | nodir),
            (nodir, &["bind", "strictatime"], strict),
            (no, &["bind", "nodiratime", "strictatime"], strict | nodir),
            (no, &["bind", "nodiratime", "norelatime"], rel | nodir),
        ] {
            assert_eq!(result(src, opts, false), Some(want), "{src:#x} {opts:?}");
        }
        for (src, opts, want) in [
            (strict, &["bind"][..], Some(strict)),
            (no | nodir, &["bind", "norelatime"], Some(no | nodir)),
            (strict, &["bind", "nostrictatime"], Some(strict)),
            (rel | nodir, &["bind", "diratime"], Some(rel | nodir)),
            (no, &["bind", "atime"], Some(no)),
            (rel | nodir, &["bind", "strictatime"], None),
            (rel, &["bind", "strictatime"], None),
            (no, &["bind", "strictatime"], None),
            (rel | nodir, &["bind", "noatime"], None),
            (rel, &["bind", "nodiratime"], None),
            (strict, &["bind", "relatime"], None),
            (no, &["bind", "relatime"], None),
        ] {
            assert_eq!(
                result(src, opts, true),
                want,
                "{src:#x} {opts:?} (user namespace)"
            );
        }
    }

    #[test]
    fn statvfs_flags_to_attrs() {
        let st = (libc::ST_RDONLY | libc::ST_NODEV | libc::ST_RELATIME) as i64;
        assert_eq!(attrs_from_statvfs(st), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV);
        assert_eq!(
            attrs_from_statvfs(libc::ST_NOATIME as i64 | 0x2000),
            MOUNT_ATTR_NOATIME | MOUNT_ATTR_NOSYMFOLLOW
        );
        assert_eq!(attrs_from_statvfs(0), MOUNT_ATTR_STRICTATIME);
    }

    #[test]
    fn example_from_the_design() {
        let o = parse_mount_options(&["nosuid", "ro", "mode=755", "rbind"]);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(
            o.attrs,
            AttrChange {
                set: MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY,
                clr: 0
            }
        );
        assert_eq!(o.data, vec!["mode=755".to_string()]);
        assert!(o.propagation.is_empty());
        assert!(o.rec_attrs.is_empty());
    }

    #[test]
    fn later_option_wins() {
        let o = parse_mount_options(&["ro", "rw", "noexec", "exec", "nodev"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NODEV);
        assert_eq!(o.attrs.clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
    }

    #[test]
    fn symfollow_and_noops() {
        let o = parse_mount_options(&["nosymfollow", "silent", "loud", "defaults"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOSYMFOLLOW);
        assert!(o.data.is_empty());
        let o = parse_mount_options(&["rnosymfollow"]);
        assert_eq!(o.rec_attrs.set, MOUNT_ATTR_NOSYMFOLLOW);
    }

    #[test]
    fn atime_modes() {
        let o = parse_mount_options(&["noatime", "strictatime"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.attrs.clr, ATIME_SETTING);
        let o = parse_mount_options(&["relatime", "nodiratime"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_RELATIME | MOUNT_ATTR_NODIRATIME);
        assert_eq!(o.attrs.clr, MOUNT_ATTR__ATIME);
        let o = parse_mount_options(&["noatime"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOATIME);
        // Options that only clear a flag change nothing on their own.
        for opt in ["atime", "norelatime", "nostrictatime", "diratime"] {
            assert!(parse_mount_options(&[opt]).attrs.is_empty(), "{opt}");
        }
        // ... and a flag set and cleared again is not set.
        assert!(parse_mount_options(&["noatime", "atime"]).attrs.is_empty());
    }

    #[test]
    fn recursive_attrs() {
        let o = parse_mount_options(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(
            o.rec_attrs.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_attrs.clr, MOUNT_ATTR__ATIME);
        assert!(o.attrs.is_empty());
        // runc's "rnorelatime" clears relatime, which is mode 0: the tree is relatime.
        for opt in ["rnorelatime", "rrelatime", "ratime", "rnostrictatime"] {
            let o = parse_mount_options(&["rbind", "rnoatime", opt]);
            assert_eq!(o.rec_attrs.set, MOUNT_ATTR_RELATIME, "{opt}");
            assert_eq!(o.rec_attrs.clr, MOUNT_ATTR__ATIME, "{opt}");
        }
        assert_eq!(
            parse_mount_options(&["rstrictatime"]).rec_attrs.set,
            MOUNT_ATTR_STRICTATIME
        );
        // "rw" is a plain option, not recursive "w"; "relatime" is plain too.
        let o = parse_mount_options(&["rw", "relatime"]);
        assert!(o.rec_attrs.is_empty());
        assert_eq!(o.attrs.clr, MOUNT_ATTR_RDONLY | ATIME_SETTING);
    }

    #[test]
    fn propagation_options_in_order() {
        let o = parse_mount_options(&["bind", "rprivate", "shared", "runbindable", "slave"]);
        let kinds: Vec<_> = o
            .propagation
            .iter()
            .map(|p| (p.kind, p.recursive))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Propagation::Private, true),
                (Propagation::Shared, false),
                (Propagation::Unbindable, true),
                (Propagation::Slave, false)
            ]
        );
        assert!(o.data.is_empty());
    }

    #[test]
    fn propagation_values() {
        assert_eq!(
            parse_propagation("rshared"),
            Some(PropagationChange {
                kind: Propagation::Shared,
                recursive: true
            })
        );
        assert_eq!(
            parse_propagation("private"),
            Some(PropagationChange {
                kind: Propagation::Private,
                recursive: false
            })
        );
        assert_eq!(parse_propagation("rr"), None);
        assert_eq!(parse_propagation("sharedd"), None);
        assert_eq!(parse_propagation(""), None);
        assert_eq!(Propagation::Slave.ms_flag(), 1 << 19);
    }

    #[test]
    fn data_and_special_options() {
        let o = parse_mount_options(&[
            "newinstance",
            "ptmxmode=0666",
            "gid=5",
            "idmap",
            "tmpcopyup",
            "defaults",
        ]);
        assert_eq!(o.data, vec!["newinstance", "ptmxmode=0666", "gid=5"]);
        assert!(o.idmap);
        assert!(!o.recursive_idmap);
        assert!(o.copy_up);
        assert!(!o.bind);
        let o = parse_mount_options(&["rbind", "ridmap"]);
        assert!(o.idmap && o.recursive_idmap && o.recursive_bind);
    }
}
