//! Cost of a container's cgroups alone: `open_for_container` + `apply` + `set` (create side)
//! and `destroy` of the emptied cgroup (delete side), on whatever hierarchy the host has.
//! The process that is placed is spawned and reaped outside the timed sections.
//! Usage: cgroup_bench [ITERATIONS]; prints one JSON line.

use berth_cgroups::{self as cgroups, CgroupManager};
use oci_spec::runtime::LinuxResources;
use std::process::Command;
use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let mean = v.iter().map(|d| d.as_secs_f64()).sum::<f64>() / v.len().max(1) as f64;
    let p50 = v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64());
    (mean * 1e6, p50 * 1e6)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    // What `berth spec` plus typical engine limits give a container.
    let res: LinuxResources = serde_json::from_str(
        r#"{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":268435456},"cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":100}}"#,
    )?;
    let (mut create, mut delete) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut layout = String::new();
    let mut phases = [Duration::ZERO; 3];
    for i in 0..n {
        let mut child = Command::new("sleep").arg("100").spawn()?;
        // runc's default placement (no cgroupsPath): ID under the caller's cgroup.
        let id = format!("berth-bench-{}-{i}", std::process::id());
        let t = Instant::now();
        let m: Box<dyn CgroupManager> = cgroups::open_for_container(None, &id, false)?;
        let t_open = t.elapsed();
        m.apply(child.id() as i32)?;
        let t_apply = t.elapsed();
        m.set(&res)?;
        create.push(t.elapsed());
        phases[0] += t_open;
        phases[1] += t_apply - t_open;
        phases[2] += t.elapsed() - t_apply;
        if layout.is_empty() {
            layout = format!(
                "{:?} with {} hierarchies",
                m.placement().version,
                m.placement().dirs.len()
            );
        }
        child.kill()?;
        child.wait()?;
        let t = Instant::now();
        m.destroy()?;
        delete.push(t.elapsed());
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    eprintln!(
        "phases (mean us): open {:.1}, apply {:.1}, set {:.1}",
        per(phases[0]),
        per(phases[1]),
        per(phases[2])
    );
    let (cm, c50) = stats(create);
    let (dm, d50) = stats(delete);
    println!(
        "{{\"iterations\":{n},\"layout\":\"{layout}\",\"create_mean_us\":{cm:.1},\"create_p50_us\":{c50:.1},\"delete_mean_us\":{dm:.1},\"delete_p50_us\":{d50:.1}}}"
    );
    Ok(())
}
