//! The cgroup v1 backend (also used on hybrid hosts, where the container gets a directory in
//! the controller-less cgroup2 mount as well so nothing of it is left outside its cgroups).

use super::mountinfo::{self, CgroupMount, ProcCgroup};
use super::plan::{self, Host, Online};
use super::{devices, fs, stats, CgroupError, CgroupManager, CgroupPlacement, CgroupVersion};
use oci_spec::runtime::LinuxResources;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One hierarchy the container has a directory in.
#[derive(Debug, Clone)]
struct Hier {
    /// Controller list as in /proc/self/cgroup (`cpu,cpuacct`), `""` for the unified mount.
    key: String,
    controllers: Vec<String>,
    /// Mount point: creation stops there.
    mount: PathBuf,
    dir: PathBuf,
}

pub(crate) struct V1Manager {
    path: String,
    hiers: Vec<Hier>,
    /// Directories this instance created in `apply`, removed again by `destroy`.
    created: RefCell<Vec<PathBuf>>,
    /// The leaf was created by this instance and no resources were set yet: no rollback needed.
    fresh: Cell<bool>,
}

impl V1Manager {
    pub(crate) fn open(
        mounts: &[CgroupMount],
        unified: Option<&CgroupMount>,
        own: &[ProcCgroup],
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<V1Manager, CgroupError> {
        let mut hiers = Vec::new();
        let mut path = None;
        for m in mounts.iter().chain(unified) {
            let own_path = mountinfo::own_path(own, &m.controllers).unwrap_or("/");
            let p = super::resolve_path(cgroups_path, id, own_path)?;
            let dir = mountinfo::dir_for(m, &p).ok_or_else(|| CgroupError::OutsideMount {
                path: p.clone(),
                mount: m.mount_point.clone(),
            })?;
            if path.is_none() || m.controllers.iter().any(|c| c == "cpu") {
                path = Some(p);
            }
            hiers.push(Hier {
                key: m.controllers.join(","),
                controllers: m.controllers.clone(),
                mount: m.mount_point.clone(),
                dir,
            });
        }
        let path = path.ok_or(CgroupError::NoHierarchy("no cgroup v1 hierarchy"))?;
        Ok(V1Manager {
            path,
            hiers,
            created: RefCell::new(Vec::new()),
            fresh: Cell::new(false),
        })
    }

    pub(crate) fn from_placement(p: &CgroupPlacement) -> Result<V1Manager, CgroupError> {
        let hiers = p
            .dirs
            .iter()
            .map(|(k, d)| Hier {
                key: k.clone(),
                controllers: if k.is_empty() {
                    Vec::new()
                } else {
                    k.split(',').map(str::to_string).collect()
                },
                mount: PathBuf::from("/"),
                dir: d.clone(),
            })
            .collect();
        Ok(V1Manager {
            path: p.path.to_string_lossy().into_owned(),
            hiers,
            created: RefCell::new(Vec::new()),
            fresh: Cell::new(false),
        })
    }

    fn dir_of(&self, ctrl: &str) -> Option<PathBuf> {
        self.hiers
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == ctrl))
            .map(|h| h.dir.clone())
    }

    /// A fresh cpuset cgroup has empty cpus/mems and refuses tasks: copy the parent's down,
    /// from the top. Ancestors someone else made (a pod's cgroup, say) may be empty too.
    fn init_cpuset(leaf: &Path) -> Result<(), CgroupError> {
        let mut chain: Vec<&Path> = leaf
            .ancestors()
            .take_while(|d| d.join("cpuset.cpus").exists())
            .collect();
        chain.reverse();
        for d in chain {
            let Some(parent) = d.parent() else { continue };
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if fs::read(d, f).map(|v| v.trim().is_empty()).unwrap_or(false) {
                    let v = fs::read(parent, f)?;
                    fs::write(d, f, v.trim())?;
                }
            }
        }
        Ok(())
    }

    fn try_apply(&self, pid: i32) -> Result<(), CgroupError> {
        for h in &self.hiers {
            let mut mine = Vec::new();
            let r = fs::mkdir_tracked(&h.dir, &h.mount, &mut mine);
            let is_cpuset = h.controllers.iter().any(|c| c == "cpuset");
            self.created.borrow_mut().extend(mine.iter().cloned());
            r?;
            if is_cpuset {
                Self::init_cpuset(&h.dir)?;
            }
        }
        if pid > 0 {
            self.join(pid)?;
        }
        Ok(())
    }

    fn freezer_dir(&self) -> Option<PathBuf> {
        self.dir_of("freezer")
    }
}

/// The container's cgroup as the planner sees it.
struct V1Host<'a>(&'a V1Manager);

impl Host for V1Host<'_> {
    fn has_controller(&self, ctrl: &str) -> bool {
        self.0.dir_of(ctrl).is_some()
    }
    fn exists(&self, ctrl: &str, file: &str) -> bool {
        self.0.dir_of(ctrl).is_some_and(|d| d.join(file).exists())
    }
    fn read(&self, ctrl: &str, file: &str) -> Option<String> {
        self.0.dir_of(ctrl).and_then(|d| fs::read(&d, file).ok())
    }
    fn online(&self, set: Online) -> String {
        plan::online_from_sysfs(set)
    }
}

impl CgroupManager for V1Manager {
    fn apply(&self, pid: i32) -> Result<(), CgroupError> {
        let r = self.try_apply(pid);
        // Only a leaf this call made is "fresh": an existing cgroup (shared, or re-applied)
        // keeps the careful update path.
        let leafs: Vec<&PathBuf> = self.hiers.iter().map(|h| &h.dir).collect();
        self.fresh
            .set(r.is_ok() && leafs.iter().all(|d| self.created.borrow().contains(d)));
        if r.is_err() {
            // A failed create leaves nothing behind in any hierarchy.
            fs::remove_created(&self.created.borrow());
            self.created.borrow_mut().clear();
        }
        r
    }

    fn join(&self, pid: i32) -> Result<(), CgroupError> {
        self.hiers
            .iter()
            .try_for_each(|h| super::add_pid(&h.dir, pid))
    }

    fn enter_sub(&self, pid: i32, sub: &super::SubCgroups) -> Result<(), CgroupError> {
        if let Some(unknown) = sub
            .keys()
            .find(|k| !k.is_empty() && !self.hiers.iter().any(|h| h.controllers.contains(k)))
        {
            return Err(CgroupError::UnknownController(unknown.clone()));
        }
        // All paths are checked before the process moves anywhere.
        let dirs = self
            .hiers
            .iter()
            .map(|h| {
                let path = sub
                    .get("")
                    .or_else(|| h.controllers.iter().find_map(|c| sub.get(c)));
                match path {
                    Some(p) => super::sub_dir(&h.dir, p),
                    None => Ok(h.dir.clone()),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        dirs.iter().try_for_each(|d| super::add_pid(d, pid))
    }

    fn set(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let mut writes = plan::plan_v1(r, &V1Host(self))?;
        // At create a container always gets a device list (deny-all + defaults), even when
        // the spec has none; an update without devices leaves them alone.
        let fresh_default =
            (self.fresh.get() && self.dir_of("devices").is_some()).then_some(&[][..]);
        if let Some(rules) = r.devices().as_deref().or(fresh_default) {
            let rules = devices::effective_rules(rules)?;
            if self.dir_of("devices").is_none() {
                return Err(CgroupError::field(
                    "devices",
                    "the devices controller is not mounted on this host",
                ));
            }
            writes.extend(devices::v1_writes(&rules));
        }
        let rollback = !self.fresh.replace(false);
        fs::apply_writes(&writes, &|c| self.dir_of(c), rollback)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        // Any hierarchy holds every process; prefer one that always exists.
        let dir = self
            .dir_of("pids")
            .or_else(|| self.dir_of("freezer"))
            .or_else(|| self.hiers.first().map(|h| h.dir.clone()))
            .ok_or(CgroupError::NoHierarchy("no cgroup hierarchy"))?;
        fs::procs_recursive(&dir)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        // The usual delete finds the cgroup empty (the init is gone): then there is nothing to
        // freeze or kill, only directories to remove.
        if self.pids().is_ok_and(|p| !p.is_empty()) {
            // Freezing first means nothing can fork between reading the pids and the kills.
            let frozen = self.freezer_dir().is_some_and(|d| d.exists()) && self.freeze().is_ok();
            if let Ok(p) = self.pids() {
                fs::kill_all(&p);
            }
            if frozen {
                let _ = self.thaw();
            }
        }
        let mut first_err = None;
        for h in &self.hiers {
            if let Err(e) = fs::rmdir_tree(&h.dir) {
                first_err.get_or_insert(e);
            }
        }
        fs::remove_created(&self.created.borrow());
        self.created.borrow_mut().clear();
        first_err.map_or(Ok(()), Err)
    }

    fn placement(&self) -> CgroupPlacement {
        let dirs: BTreeMap<String, PathBuf> = self
            .hiers
            .iter()
            .map(|h| (h.key.clone(), h.dir.clone()))
            .collect();
        CgroupPlacement {
            path: PathBuf::from(&self.path),
            version: CgroupVersion::V1,
            dirs,
        }
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let d = self
            .freezer_dir()
            .ok_or(CgroupError::NoController("freezer"))?;
        fs::write(&d, "freezer.state", "FROZEN")?;
        // FREEZING can linger while tasks are in uninterruptible sleep; re-asking helps.
        let ok = fs::wait_until(Duration::from_secs(5), || {
            let s = fs::read(&d, "freezer.state").unwrap_or_default();
            if s.trim() == "FROZEN" {
                return true;
            }
            let _ = fs::write(&d, "freezer.state", "FROZEN");
            false
        });
        if ok {
            Ok(())
        } else {
            let _ = fs::write(&d, "freezer.state", "THAWED");
            Err(CgroupError::NotFrozen(d))
        }
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        let d = self
            .freezer_dir()
            .ok_or(CgroupError::NoController("freezer"))?;
        fs::write(&d, "freezer.state", "THAWED")?;
        fs::wait_until(Duration::from_secs(5), || {
            fs::read(&d, "freezer.state")
                .map(|s| s.trim() == "THAWED")
                .unwrap_or(true)
        });
        Ok(())
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.freezer_dir() {
            Some(d) if d.exists() => Ok(fs::read(&d, "freezer.state")?.trim() == "FROZEN"),
            _ => Ok(false),
        }
    }

    fn stats(&self) -> Result<stats::Stats, CgroupError> {
        Ok(stats::v1(&|c: &str| self.dir_of(c)))
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        let d = self
            .dir_of("memory")
            .ok_or(CgroupError::NoController("memory"))?;
        Ok(stats::flat_key(&fs::read(&d, "memory.oom_control")?, "oom_kill").unwrap_or(0))
    }

    fn exists(&self) -> bool {
        self.hiers.iter().any(|h| Path::new(&h.dir).exists())
    }
}
