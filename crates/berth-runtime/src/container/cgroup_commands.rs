//! The cgroup-backed commands: `pause`, `resume`, `update`, `events`, `ps`. Each loads the
//! container's state (under its lock where it changes something), rebuilds the cgroup manager
//! from the stored placement and does the work there.

use super::{ContainerError, Runtime};
use crate::state::{ContainerState, Status};
use berth_cgroups::{self as cgroups, CgroupManager};
use oci_spec::runtime::LinuxResources;
use std::io::Write;
use std::time::{Duration, Instant};

/// Is the container's cgroup frozen? `false` when it has none or it is gone. The core's status
/// computation uses this for `paused`.
pub(crate) fn placement_frozen(state: &ContainerState) -> bool {
    state
        .cgroup
        .as_ref()
        .and_then(|p| cgroups::from_placement(p).ok())
        .is_some_and(|m| m.is_frozen().unwrap_or(false))
}

fn manager(state: &ContainerState) -> Result<Box<dyn CgroupManager>, ContainerError> {
    let p = state
        .cgroup
        .as_ref()
        .ok_or_else(|| ContainerError::Invalid(format!("container {} has no cgroup", state.id)))?;
    Ok(cgroups::from_placement(p)?)
}

/// Options of [`Runtime::events`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EventsOptions {
    /// One stats event and exit.
    pub stats: bool,
    /// Period of the stats events in streaming mode.
    pub interval: Duration,
}

impl EventsOptions {
    /// One stats event (`stats`), or a stream of them every `interval` with OOM events.
    pub fn new(stats: bool, interval: Duration) -> EventsOptions {
        EventsOptions { stats, interval }
    }
}

/// Output format of [`Runtime::ps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PsFormat {
    /// ps(1)'s own table, filtered to the container's processes.
    Table,
    /// A JSON list of pids.
    Json,
}

impl Runtime {
    /// The status including `paused`, whatever the core's own computation says.
    fn cgroup_status(&self, state: &ContainerState) -> Status {
        match self.status_of(state) {
            Status::Stopped => Status::Stopped,
            _ if placement_frozen(state) => Status::Paused,
            s => s,
        }
    }

    fn load_locked(
        &self,
        id: &str,
    ) -> Result<(crate::state::ContainerDir, ContainerState), ContainerError> {
        berth_spec::validate_container_id(id)?;
        let dir = self.root.open(id)?;
        let state = dir.load()?.ok_or_else(|| {
            ContainerError::WrongState(format!("container {id} is still being created"))
        })?;
        Ok((dir, state))
    }

    /// `berth pause ID`: freezes every process and waits until the kernel says frozen.
    pub fn pause(&self, id: &str) -> Result<(), ContainerError> {
        let (_dir, state) = self.load_locked(id)?;
        match self.cgroup_status(&state) {
            Status::Running | Status::Created => Ok(manager(&state)?.freeze()?),
            s => Err(ContainerError::WrongState(format!(
                "container {id} is not running: {s}"
            ))),
        }
    }

    /// `berth resume ID`.
    pub fn resume(&self, id: &str) -> Result<(), ContainerError> {
        let (_dir, state) = self.load_locked(id)?;
        match self.cgroup_status(&state) {
            Status::Paused => Ok(manager(&state)?.thaw()?),
            s => Err(ContainerError::WrongState(format!(
                "container {id} is not paused: {s}"
            ))),
        }
    }

    /// `berth update ID`: applies `r` to the live cgroup and records it in the state. A rejected
    /// update changes neither.
    pub fn update(&self, id: &str, r: &LinuxResources) -> Result<(), ContainerError> {
        let (dir, mut state) = self.load_locked(id)?;
        if self.cgroup_status(&state) == Status::Stopped {
            return Err(ContainerError::WrongState(format!(
                "container {id} is not running: stopped"
            )));
        }
        let stored = state
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        let r = fill_from_stored(r, &stored);
        manager(&state)?.set(&r)?;
        let merged = merge(stored, &r);
        if let Some(linux) = state.config.linux_mut() {
            linux.set_resources(Some(merged));
        }
        dir.save(&state)?;
        Ok(())
    }

    /// `berth events ID`: one stats event (`--stats`), or a stream of stats every interval and
    /// `oom` events as they happen, until the container is gone.
    pub fn events(
        &self,
        id: &str,
        o: &EventsOptions,
        out: &mut dyn Write,
    ) -> Result<(), ContainerError> {
        let state = self.peek_saved(id, format_args!("{id}"))?;
        if self.cgroup_status(&state) == Status::Stopped {
            return Err(ContainerError::WrongState(format!(
                "container {id} is not running: stopped"
            )));
        }
        let m = manager(&state)?;
        let emit = |out: &mut dyn Write, v: serde_json::Value| -> Result<(), ContainerError> {
            writeln!(out, "{v}")
                .and_then(|_| out.flush())
                .map_err(super::io("writing events"))
        };
        let stats_event = |m: &dyn CgroupManager| -> Result<serde_json::Value, ContainerError> {
            let data = serde_json::to_value(m.stats()?)
                .map_err(|e| ContainerError::Invalid(e.to_string()))?;
            Ok(serde_json::json!({"type": "stats", "id": id, "data": data}))
        };
        if o.stats {
            return emit(out, stats_event(m.as_ref())?);
        }
        // OOM kills are counted by the kernel; polling the counter often enough shows each one.
        let mut ooms = m.oom_kills().unwrap_or(0);
        let mut next_stats = Instant::now();
        let tick = Duration::from_millis(100).min(o.interval.max(Duration::from_millis(1)));
        loop {
            if !m.exists() || self.status_of(&state) == Status::Stopped {
                // Last OOM of a container that died of it.
                if m.oom_kills().unwrap_or(ooms) > ooms {
                    emit(out, serde_json::json!({"type": "oom", "id": id}))?;
                }
                return Ok(());
            }
            let now_ooms = m.oom_kills().unwrap_or(ooms);
            if now_ooms > ooms {
                emit(out, serde_json::json!({"type": "oom", "id": id}))?;
                ooms = now_ooms;
            }
            if Instant::now() >= next_stats {
                emit(out, stats_event(m.as_ref())?)?;
                next_stats = Instant::now() + o.interval;
            }
            std::thread::sleep(tick);
        }
    }

    /// `berth ps ID [ps options]`: the container's processes, as ps(1) prints them (table) or
    /// as a JSON list of pids.
    pub fn ps(
        &self,
        id: &str,
        format: PsFormat,
        ps_args: &[String],
        out: &mut dyn Write,
    ) -> Result<(), ContainerError> {
        let state = self.peek_saved(id, format_args!("{id}"))?;
        let pids = if self.status_of(&state) == Status::Stopped {
            Vec::new()
        } else {
            manager(&state)?.pids()?
        };
        if format == PsFormat::Json {
            let s =
                serde_json::to_string(&pids).map_err(|e| ContainerError::Invalid(e.to_string()))?;
            return writeln!(out, "{s}").map_err(super::io("writing ps output"));
        }
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let o = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(super::io("running ps"))?;
        if !o.status.success() {
            return Err(ContainerError::Invalid(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&o.stdout);
        out.write_all(filter_ps(&text, &pids)?.as_bytes())
            .map_err(super::io("writing ps output"))
    }
}

/// Keeps ps(1)'s header and the lines whose PID column is one of `pids`.
pub fn filter_ps(text: &str, pids: &[i32]) -> Result<String, ContainerError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| {
            ContainerError::Invalid(
                "ps output has no PID column (pass options that print it)".into(),
            )
        })?;
    let mut s = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            s.push_str(l);
            s.push('\n');
        }
    }
    Ok(s)
}

/// v2 needs the memory limit to convert a memory+swap total: take it from the stored config when
/// the update gives swap alone.
fn fill_from_stored(r: &LinuxResources, stored: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    if let (Some(m), Some(sm)) = (r.memory_mut().as_mut(), stored.memory()) {
        if m.swap().is_some() && m.limit().is_none() {
            m.set_limit(sm.limit());
        }
    }
    r
}

/// The stored resources with the update's fields laid over them.
fn merge(stored: LinuxResources, u: &LinuxResources) -> LinuxResources {
    // Field-wise overlay through JSON: every field the update sets replaces the stored one, one
    // level into each section (memory.limit alone keeps memory.swap).
    let mut base = serde_json::to_value(&stored).unwrap_or_default();
    let upd = serde_json::to_value(u).unwrap_or_default();
    if let (Some(b), Some(o)) = (base.as_object_mut(), upd.as_object()) {
        for (k, v) in o {
            match (b.get_mut(k).and_then(|x| x.as_object_mut()), v.as_object()) {
                (Some(bo), Some(vo)) => {
                    for (k2, v2) in vo {
                        bo.insert(k2.clone(), v2.clone());
                    }
                }
                _ => {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
    }
    // Through bytes, as config.json is read: one LinuxResources deserializer in the binary.
    serde_json::to_vec(&base)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| u.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_filter() {
        let t = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sh\n";
        assert_eq!(
            filter_ps(t, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sh\n"
        );
        assert!(filter_ps("USER CMD\n", &[1]).is_err());
    }

    #[test]
    fn merge_overlays_fields() {
        let stored: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":100,"swap":200},"pids":{"limit":5}}"#)
                .unwrap();
        let upd: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":150},"cpu":{"shares":10}}"#).unwrap();
        let m = serde_json::to_value(merge(stored, &upd)).unwrap();
        assert_eq!(m["memory"]["limit"], 150);
        assert_eq!(m["memory"]["swap"], 200);
        assert_eq!(m["pids"]["limit"], 5);
        assert_eq!(m["cpu"]["shares"], 10);
    }
}
