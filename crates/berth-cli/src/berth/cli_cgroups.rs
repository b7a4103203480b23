//! Command-line wiring of the cgroup commands (`pause`, `resume`, `update`, `events`, `ps`),
//! flattened into main's `Command` enum. Flags and behaviour follow runc's.

use crate::update_flags::{parse_resources_json, UpdateFlags};
use anyhow::{Context, Result};
use berth_runtime::{EventsOptions, PsFormat, Runtime};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Read;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum CgroupCommand {
    /// Suspend every process of a container (cgroup freezer).
    Pause { id: String },
    /// Resume a paused container.
    Resume { id: String },
    /// Change a running container's resource limits.
    Update(Box<UpdateArgs>),
    /// Resource statistics and OOM notices of a container, as JSON lines.
    Events {
        id: String,
        /// Print one statistics event and exit.
        #[arg(long)]
        stats: bool,
        /// Period of the statistics events (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
    },
    /// List the processes of a container; options after the id go to ps(1).
    Ps {
        id: String,
        #[arg(short = 'f', long, value_enum, default_value = "table")]
        format: PsFormatArg,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PsFormatArg {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    id: String,
    /// JSON LinuxResources file, `-` for stdin; the flags below override its fields.
    #[arg(short = 'r', long)]
    resources: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Obsolete (runc 1.5 takes it, checks the size and ignores it, with a warning).
    #[arg(long = "kernel-memory", allow_hyphen_values = true, hide = true)]
    kernel_memory: Option<String>,
    /// Obsolete, like --kernel-memory.
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true, hide = true)]
    kernel_memory_tcp: Option<String>,
    /// Intel RDT/CAT L3 cache schema (runc's flag; needs the host's resctrl).
    #[arg(long = "l3-cache-schema")]
    l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (runc's flag; needs the host's resctrl).
    #[arg(long = "mem-bw-schema")]
    mem_bw_schema: Option<String>,
    #[arg(
        long = "cpu-shares",
        visible_alias = "cpu-share",
        allow_hyphen_values = true
    )]
    cpu_shares: Option<String>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    cpu_period: Option<String>,
    #[arg(long = "cpu-burst", allow_hyphen_values = true)]
    cpu_burst: Option<String>,
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    cpu_rt_period: Option<String>,
    #[arg(long = "cpuset-cpus", allow_hyphen_values = true)]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems", allow_hyphen_values = true)]
    cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    blkio_weight: Option<String>,
}

/// `5s`, `500ms`, `1m`, or plain seconds.
fn parse_interval(s: &str) -> Result<Duration> {
    let t = s.trim();
    let (n, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((t, "s"), |i| t.split_at(i));
    let n: f64 = n
        .parse()
        .with_context(|| format!("--interval: invalid value {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => anyhow::bail!("--interval: invalid unit in {s:?} (ms, s, m)"),
    };
    if !(secs > 0.0 && secs < 1e9) {
        anyhow::bail!("--interval: must be positive: {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `update --l3-cache-schema/--mem-bw-schema`: on a host whose resctrl has no L3 (MB)
/// resource, runc refuses them in these words; where it has, berth refuses them too, as it
/// does not manage Intel RDT groups (`linux.intelRdt`). Empty values are ignored, as in runc.
fn check_rdt_schemas(l3: Option<&str>, mb: Option<&str>, cat: bool, mba: bool) -> Result<()> {
    let l3 = l3.filter(|s| !s.is_empty());
    let mb = mb.filter(|s| !s.is_empty());
    if l3.is_some() && !cat {
        anyhow::bail!("Intel RDT/CAT: l3 cache schema is not enabled");
    }
    if mb.is_some() && !mba {
        anyhow::bail!("Intel RDT/MBA: memory bandwidth schema is not enabled");
    }
    if l3.is_some() || mb.is_some() {
        anyhow::bail!(
            "--l3-cache-schema/--mem-bw-schema: berth does not manage Intel RDT (linux.intelRdt)"
        );
    }
    Ok(())
}

pub fn dispatch(runtime: &Runtime, cmd: CgroupCommand) -> Result<i32> {
    match cmd {
        CgroupCommand::Pause { id } => runtime.pause(&id)?,
        CgroupCommand::Resume { id } => runtime.resume(&id)?,
        CgroupCommand::Update(a) => {
            let base = match a.resources.as_deref() {
                None => Default::default(),
                Some(src) => {
                    let mut text = String::new();
                    if src == "-" {
                        std::io::stdin()
                            .read_to_string(&mut text)
                            .context("--resources: reading stdin")?;
                    } else {
                        text = std::fs::read_to_string(src)
                            .with_context(|| format!("--resources: reading {src}"))?;
                    }
                    parse_resources_json(&text)?
                }
            };
            let flags = UpdateFlags {
                memory: a.memory,
                memory_swap: a.memory_swap,
                memory_reservation: a.memory_reservation,
                kernel_memory: a.kernel_memory,
                kernel_memory_tcp: a.kernel_memory_tcp,
                cpu_shares: a.cpu_shares,
                cpu_quota: a.cpu_quota,
                cpu_period: a.cpu_period,
                cpu_burst: a.cpu_burst,
                cpu_idle: a.cpu_idle,
                cpu_rt_runtime: a.cpu_rt_runtime,
                cpu_rt_period: a.cpu_rt_period,
                cpuset_cpus: a.cpuset_cpus,
                cpuset_mems: a.cpuset_mems,
                pids_limit: a.pids_limit,
                blkio_weight: a.blkio_weight,
            };
            let resources = flags.apply_to(base)?;
            check_rdt_schemas(
                a.l3_cache_schema.as_deref(),
                a.mem_bw_schema.as_deref(),
                std::path::Path::new("/sys/fs/resctrl/info/L3").exists(),
                std::path::Path::new("/sys/fs/resctrl/info/MB").exists(),
            )?;
            if flags.sets_kernel_memory() {
                log::warn!("Kernel memory settings are ignored and will be removed");
            }
            runtime.update(&a.id, &resources)?;
        }
        CgroupCommand::Events {
            id,
            stats,
            interval,
        } => {
            let o = EventsOptions::new(stats, parse_interval(&interval)?);
            runtime.events(&id, &o, &mut std::io::stdout().lock())?;
        }
        CgroupCommand::Ps {
            id,
            format,
            ps_args,
        } => {
            let f = match format {
                PsFormatArg::Table => PsFormat::Table,
                PsFormatArg::Json => PsFormat::Json,
            };
            runtime.ps(&id, f, &ps_args, &mut std::io::stdout().lock())?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5h").is_err());
        assert!(parse_interval("x").is_err());
    }

    #[test]
    fn rdt_schemas_are_refused_as_runc_refuses_them() {
        let e = |l3, mb, cat, mba| {
            check_rdt_schemas(l3, mb, cat, mba)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(e(None, None, false, false), None);
        assert_eq!(e(Some(""), Some(""), false, false), None);
        assert_eq!(
            e(Some("L3:0=f"), None, false, false).as_deref(),
            Some("Intel RDT/CAT: l3 cache schema is not enabled")
        );
        assert_eq!(
            e(None, Some("MB:0=70"), true, false).as_deref(),
            Some("Intel RDT/MBA: memory bandwidth schema is not enabled")
        );
        assert!(e(Some("L3:0=f"), None, true, true)
            .is_some_and(|m| m.contains("does not manage Intel RDT")));
    }
}
