//! The cgroup v2 (unified hierarchy) backend.

use super::mountinfo::{self, CgroupMount, ProcCgroup};
use super::plan::{self, Host, Online};
use super::{devices, fs, stats, CgroupError, CgroupManager, CgroupPlacement, CgroupVersion};
use oci_spec::runtime::LinuxResources;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) struct V2Manager {
    path: String,
    mount: PathBuf,
    dir: PathBuf,
    created: RefCell<Vec<PathBuf>>,
    /// The leaf was created by this instance and no resources were set yet: no rollback needed.
    fresh: Cell<bool>,
}

impl V2Manager {
    pub(crate) fn open(
        m: &CgroupMount,
        own: &[ProcCgroup],
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<V2Manager, CgroupError> {
        // Relative paths go under the *parent* of the caller's cgroup (as runc does): the caller's
        // own cgroup has processes, so the no-internal-processes rule would forbid enabling
        // controllers for a child of it.
        let own = mountinfo::own_path(own, &[]).unwrap_or("/");
        let parent = Path::new(own)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        let path = super::resolve_path(cgroups_path, id, &parent)?;
        let dir = mountinfo::dir_for(m, &path).ok_or_else(|| CgroupError::OutsideMount {
            path: path.clone(),
            mount: m.mount_point.clone(),
        })?;
        Ok(V2Manager {
            path,
            mount: m.mount_point.clone(),
            dir,
            created: RefCell::new(Vec::new()),
            fresh: Cell::new(false),
        })
    }

    pub(crate) fn from_placement(p: &CgroupPlacement) -> Result<V2Manager, CgroupError> {
        let dir = p
            .dirs
            .get("")
            .cloned()
            .ok_or_else(|| CgroupError::Placement {
                path: p.path.clone(),
                reason: "has no cgroup v2 directory",
            })?;
        Ok(V2Manager {
            path: p.path.to_string_lossy().into_owned(),
            mount: PathBuf::from("/"),
            dir,
            created: RefCell::new(Vec::new()),
            fresh: Cell::new(false),
        })
    }

    /// Enables every available controller from the mount point down to the container's parent.
    /// Controllers that cannot be enabled (a parent with processes) are left off: `set` then
    /// names the field it cannot honour.
    fn enable_controllers(&self) {
        let mut chain: Vec<&Path> = self
            .dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&self.mount))
            .collect();
        chain.reverse();
        for d in chain {
            let avail = fs::read(d, "cgroup.controllers").unwrap_or_default();
            let on = fs::read(d, "cgroup.subtree_control").unwrap_or_default();
            for c in avail.split_whitespace() {
                if !on.split_whitespace().any(|x| x == c) {
                    let _ = fs::write(d, "cgroup.subtree_control", &format!("+{c}"));
                }
            }
        }
    }

    fn try_apply(&self, pid: i32) -> Result<(), CgroupError> {
        let mut mine = Vec::new();
        let r = fs::mkdir_tracked(&self.dir, &self.mount, &mut mine);
        self.created.borrow_mut().extend(mine);
        r?;
        self.enable_controllers();
        if pid > 0 {
            self.join(pid)?;
        }
        Ok(())
    }

    fn controllers(&self) -> Vec<String> {
        fs::read(&self.dir, "cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

struct V2Host<'a> {
    m: &'a V2Manager,
    ctrls: Vec<String>,
}

impl Host for V2Host<'_> {
    fn has_controller(&self, ctrl: &str) -> bool {
        self.ctrls.iter().any(|c| c == ctrl)
    }
    fn exists(&self, _ctrl: &str, file: &str) -> bool {
        self.m.dir.join(file).exists()
    }
    fn read(&self, _ctrl: &str, file: &str) -> Option<String> {
        fs::read(&self.m.dir, file).ok()
    }
    fn online(&self, set: Online) -> String {
        plan::online_from_sysfs(set)
    }
}

impl CgroupManager for V2Manager {
    fn apply(&self, pid: i32) -> Result<(), CgroupError> {
        let r = self.try_apply(pid);
        self.fresh
            .set(r.is_ok() && self.created.borrow().contains(&self.dir));
        if r.is_err() {
            fs::remove_created(&self.created.borrow());
            self.created.borrow_mut().clear();
        }
        r
    }

    fn join(&self, pid: i32) -> Result<(), CgroupError> {
        super::add_pid(&self.dir, pid)
    }

    fn enter_sub(&self, pid: i32, sub: &super::SubCgroups) -> Result<(), CgroupError> {
        // One hierarchy: only the controller-less form names it.
        if let Some(unknown) = sub.keys().find(|k| !k.is_empty()) {
            return Err(CgroupError::UnknownController(unknown.clone()));
        }
        match sub.get("") {
            Some(p) => super::add_pid(&super::sub_dir(&self.dir, p)?, pid),
            None => self.apply(pid),
        }
    }

    fn set(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        if !self.dir.exists() {
            return Err(CgroupError::Missing(self.dir.clone()));
        }
        let host = V2Host {
            m: self,
            ctrls: self.controllers(),
        };
        let writes = plan::plan_v2(r, &host)?;
        let fresh = self.fresh.replace(false);
        let rollback = !fresh;
        // At create a container always gets a device program (deny-all + defaults), even when
        // the spec lists no rules; an update without devices leaves the program alone.
        // Build and load it before any write: a rule the kernel's verifier rejects must not
        // leave half an update behind.
        let prog = match r.devices().as_deref().or(fresh.then_some(&[][..])) {
            Some(rules) => Some(devices::load_v2_program(&devices::effective_rules(rules)?)?),
            None => None,
        };
        fs::apply_writes(&writes, &|_| Some(self.dir.clone()), rollback)?;
        if let Some(prog) = prog {
            devices::attach_v2_program(&self.dir, prog)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fs::procs_recursive(&self.dir)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        if self.dir.exists() {
            if self.dir.join("cgroup.kill").exists() {
                // One write kills the whole subtree, racing no fork.
                let _ = fs::write(&self.dir, "cgroup.kill", "1");
            } else {
                let frozen = self.freeze().is_ok();
                if let Ok(p) = self.pids() {
                    fs::kill_all(&p);
                }
                if frozen {
                    let _ = self.thaw();
                }
            }
        }
        let r = fs::rmdir_tree(&self.dir);
        fs::remove_created(&self.created.borrow());
        self.created.borrow_mut().clear();
        r
    }

    fn placement(&self) -> CgroupPlacement {
        let mut dirs = BTreeMap::new();
        dirs.insert(String::new(), self.dir.clone());
        CgroupPlacement {
            path: PathBuf::from(&self.path),
            version: CgroupVersion::V2,
            dirs,
        }
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        fs::write(&self.dir, "cgroup.freeze", "1")?;
        let ok = fs::wait_until(Duration::from_secs(5), || self.is_frozen().unwrap_or(false));
        if ok {
            Ok(())
        } else {
            let _ = fs::write(&self.dir, "cgroup.freeze", "0");
            Err(CgroupError::NotFrozen(self.dir.clone()))
        }
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        fs::write(&self.dir, "cgroup.freeze", "0")?;
        fs::wait_until(Duration::from_secs(5), || {
            !self.is_frozen().unwrap_or(false)
        });
        Ok(())
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        if !self.dir.exists() {
            return Ok(false);
        }
        Ok(stats::flat_key(&fs::read(&self.dir, "cgroup.events")?, "frozen") == Some(1))
    }

    fn stats(&self) -> Result<stats::Stats, CgroupError> {
        Ok(stats::v2(&self.dir))
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        Ok(stats::flat_key(&fs::read(&self.dir, "memory.events")?, "oom_kill").unwrap_or(0))
    }

    fn exists(&self) -> bool {
        self.dir.exists()
    }
}
