//! berth-cgroups through its public API, end to end: open a container's cgroup, create it with
//! a child process in it, apply a memory and a pids limit, read them back, remove it.
//! Checks what it reads and exits non-zero when something is off. Needs root; works on cgroup
//! v1, hybrid and pure v2 hosts.
//!
//! Run: `cargo run -p berth-cgroups --example limit_a_process`

use berth_cgroups::{open_for_container, CgroupManager, CgroupVersion};
use oci_spec::runtime::LinuxResources;
use std::error::Error;
use std::process::{Child, Command};

const MEMORY_LIMIT: u64 = 64 << 20;
const PIDS_LIMIT: u64 = 32;

fn check(what: &str, ok: bool, detail: String) -> Result<(), Box<dyn Error>> {
    if ok {
        println!("ok   {what}: {detail}");
        Ok(())
    } else {
        Err(format!("{what}: {detail}").into())
    }
}

/// Everything between creating the cgroup and removing it.
fn exercise(cg: &dyn CgroupManager, child: &Child) -> Result<(), Box<dyn Error>> {
    let pid = i32::try_from(child.id())?;
    // Creates the cgroup (in every hierarchy on v1) and moves the child in.
    cg.apply(pid)?;
    let placement = cg.placement();
    println!(
        "cgroup {} ({:?}, {} director{})",
        placement.path.display(),
        placement.version,
        placement.dirs.len(),
        if placement.dirs.len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    // A `linux.resources` block as it appears in config.json. Everything is validated against
    // the host before the first write.
    let resources: LinuxResources = serde_json::from_str(&format!(
        r#"{{"memory":{{"limit":{MEMORY_LIMIT}}},"pids":{{"limit":{PIDS_LIMIT}}}}}"#
    ))?;
    cg.set(&resources)?;

    let pids = cg.pids()?;
    check(
        "the child is in the cgroup",
        pids.contains(&pid),
        format!("pids {pids:?}, child {pid}"),
    )?;
    let stats = cg.stats()?;
    check(
        "memory limit reads back",
        stats.memory.usage.limit == MEMORY_LIMIT,
        format!("{} bytes", stats.memory.usage.limit),
    )?;
    check(
        "pids limit reads back",
        stats.pids.limit == PIDS_LIMIT,
        format!("{}", stats.pids.limit),
    )?;
    check(
        "pids.current counts the child",
        stats.pids.current >= 1,
        format!("{}", stats.pids.current),
    )?;

    // An impossible value is refused before anything is written, naming the field.
    let bad: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":-2}}"#)?;
    let refused = cg.set(&bad).map_err(|e| e.to_string());
    check(
        "an impossible value is refused naming the field",
        matches!(&refused, Err(m) if m.contains("pids.limit")),
        format!("{refused:?}"),
    )?;
    check(
        "the refused update changed nothing",
        cg.stats()?.pids.limit == PIDS_LIMIT,
        format!("{}", cg.stats()?.pids.limit),
    )?;
    if placement.version == CgroupVersion::V2 {
        println!("(pure cgroup v2 host)");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let id = format!("berth-example-{}", std::process::id());
    // No cgroupsPath: runc's default, a cgroup named after the container id.
    let cg = open_for_container(None, &id, false)?;
    let mut child = Command::new("sleep").arg("60").spawn()?;
    let result = exercise(cg.as_ref(), &child);
    // Always clean up: the child first (an occupied cgroup cannot be removed), then the cgroup.
    let _ = child.kill();
    let _ = child.wait();
    cg.destroy()?;
    result?;
    check("the cgroup is gone", !cg.exists(), id)?;
    println!("all checks passed");
    Ok(())
}
