//! `berth`: the command line, compatible with runc's. Parses flags, sets up logging, calls the
//! library and turns its errors into `berth: error: <message>` on stderr with exit status 1.
// The doc comments on the clap types are the --help text, written as users read it
// (`oci:DIR[:REF]`, `--user UID[:GID]`), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

use anyhow::{Context, Result};
use berth_runtime::{CreateOptions, Runtime};
use clap::{Args, Parser, Subcommand, ValueEnum};
use runc_log::{LogFormat, RuncLog};
use std::io::Write;
use std::path::PathBuf;

mod cli_cgroups;
#[path = "../shared/error_chain.rs"]
mod error_chain;
mod exec_args;
mod foreground;
mod runc_log;
mod update_flags;

#[derive(Parser, Debug)]
#[command(name = "berth", version = version_text(), about = "berth: an OCI container runtime", disable_version_flag = true)]
struct Cli {
    /// Print the version.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// Root directory for the containers' state.
    #[arg(long, global = true, default_value = "/run/berth")]
    root: PathBuf,
    /// Whether `--root` was on the command line (not the default): `list` then fails on a
    /// root that does not exist, as runc's does.
    #[arg(skip)]
    root_given: bool,
    /// Log file for the runtime's own messages (stderr when absent).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of the log: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: LogFormatArg,
    /// Enable debug logging.
    #[arg(long, global = true)]
    debug: bool,
    /// Manage cgroups through systemd (needs a running systemd).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    #[arg(long, global = true, default_value = "auto", num_args = 0..=1, default_missing_value = "true")]
    rootless: String,
    #[command(subcommand)]
    command: Command,
}

/// `exec`'s security-module flags (boxed: they would make every `Command` as large as `Exec`).
#[derive(clap::Args, Debug)]
struct ExecLsmArgs {
    /// The AppArmor profile of the process.
    #[arg(long = "apparmor")]
    apparmor: Option<String>,
    /// The SELinux label of the process.
    #[arg(long = "process-label")]
    process_label: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container (its process waits for `start`).
    Create {
        id: String,
        #[command(flatten)]
        opts: CreateArgs,
    },
    /// Start the process of a created container.
    Start { id: String },
    /// Create and start a container.
    Run {
        id: String,
        #[command(flatten)]
        opts: CreateArgs,
        /// Detach from the container's process.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
        /// Do not make berth a child subreaper (by default, as with runc, processes the
        /// container orphans outside a pid namespace of its own are reparented to berth,
        /// which reaps them).
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// Run a process inside a created or running container.
    Exec {
        id: String,
        /// The command and its arguments (unless --process is given).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
        /// A JSON file with the runtime-spec process to run.
        #[arg(short = 'p', long)]
        process: Option<PathBuf>,
        /// Do not wait for the process.
        #[arg(short = 'd', long)]
        detach: bool,
        /// File to write the process's pid to.
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        /// AF_UNIX socket that receives the pty master.
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        /// AF_UNIX socket that receives a pidfd of the process.
        #[arg(long = "pidfd-socket")]
        pidfd_socket: Option<PathBuf>,
        /// Allocate a terminal.
        #[arg(short = 't', long)]
        tty: bool,
        /// Working directory in the container.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Extra environment, NAME=VALUE (repeatable).
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        /// uid[:gid] to run as.
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// Supplementary group (repeatable).
        #[arg(short = 'g', long = "additional-gids")]
        additional_gids: Vec<u32>,
        /// Capability to add (repeatable).
        #[arg(short = 'c', long = "cap")]
        caps: Vec<String>,
        /// Set no_new_privs for the process.
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        #[command(flatten)]
        lsm: Box<ExecLsmArgs>,
        /// Pass N extra fds (3..3+N) to the process.
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
        /// Exec even if the container is paused (the process starts when it is resumed).
        #[arg(long = "ignore-paused")]
        ignore_paused: bool,
        /// Put the process in a sub-cgroup: `path`, or `controller[,controller]:path`
        /// (repeatable), relative to the container's cgroup.
        #[arg(long = "cgroup")]
        cgroup: Vec<String>,
    },
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM).
    Kill {
        id: String,
        signal: Option<String>,
        /// Send the signal to every process of the container.
        #[arg(short = 'a', long)]
        all: bool,
    },
    /// Delete a container and everything it holds.
    Delete {
        id: String,
        /// Kill the container first if it is still running.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(short = 'f', long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Print only the ids.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Write a default config.json into the bundle.
    Spec {
        /// Where to write config.json (`--rootless` writes a config for an unprivileged user).
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports, as the runtime-spec features document.
    Features,
    #[command(flatten)]
    Cgroup(cli_cgroups::CgroupCommand),
}

#[derive(Args, Debug, Clone)]
struct CreateArgs {
    /// The bundle directory (holds config.json).
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// AF_UNIX socket that receives the pty master of a terminal.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container's process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// AF_UNIX socket that receives a pidfd of the container's init.
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

/// runc's layout (`runc version X` / `commit:` / `spec:`), which engines log and parse. The
/// spec line is the newest runtime-spec version berth takes, `features`' ociVersionMax, as
/// runc prints the version of the spec it is built with in both places.
fn version_text() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{}\ncommit: {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            env!("BERTH_COMMIT"),
            berth_spec::OCI_VERSION_MAX
        )
    });
    TEXT.as_str()
}

/// Long options runc also accepts with a single dash (urfave/cli does); rewritten to `--name`.
const LONG_OPTIONS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "debug",
    "systemd-cgroup",
    "rootless",
    "bundle",
    "console-socket",
    "pidfd-socket",
    "pid-file",
    "no-pivot",
    "no-new-keyring",
    "preserve-fds",
    "detach",
    "keep",
    "no-subreaper",
    "all",
    "force",
    "format",
    "quiet",
    "ignore-paused",
];

fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| {
        let Some(rest) = a.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
            return a;
        };
        let name = rest.split('=').next().unwrap_or(rest);
        if name.len() > 1 && LONG_OPTIONS.contains(&name) {
            format!("-{a}")
        } else {
            a
        }
    })
    .collect()
}

fn main() {
    // A launcher (this program executed again from a sealed copy, CVE-2019-5736) takes its job
    // here and never returns.
    berth_runtime::launcher_entry();
    let args = normalize_args(std::env::args());
    // The launcher of a create, run or exec starts now: its start overlaps parsing the
    // arguments and the rest. A failure here is left to the command, which starts its own.
    let launcher = starts_containers(&args)
        .then(berth_runtime::Launcher::start)
        .and_then(Result::ok);
    let parsed = <Cli as clap::CommandFactory>::command()
        .try_get_matches_from(args)
        .and_then(|m| {
            let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&m)?;
            cli.root_given = m.value_source("root") == Some(clap::parser::ValueSource::CommandLine);
            Ok(cli)
        });
    let cli = match parsed {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            println!("berth version {}", version_text());
            std::process::exit(0);
        }
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let format = match cli.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    let logger = RuncLog::install(cli.log.clone(), format, cli.debug);
    match dispatch(cli, launcher) {
        Ok(code) => std::process::exit(code),
        // The reader of our stdout went away (`berth state ID | head -1`): end as a program
        // killed by SIGPIPE would (runc's Go runtime dies of the signal), without a message.
        Err(e) if is_broken_stdout(&e) => std::process::exit(128 + libc::SIGPIPE),
        Err(e) => {
            let msg = error_text(&e);
            logger.write(log::Level::Error, &msg);
            // "error" in the line, as in runc's `level=error msg=...`: youki's contest (and
            // scripts like it) tell a failed command by that word on stderr, not the status.
            let _ = writeln!(std::io::stderr(), "berth: error: {msg}");
            // runc's convention: exec exits 255 when the process could not be started.
            let code = if e.downcast_ref::<ExecFailed>().is_some() {
                255
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}

/// Output written to stdout by the commands below; a [`BrokenStdout`] error when the reader
/// has gone (Rust's `println!` would panic instead).
fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => anyhow::Error::new(BrokenStdout),
            _ => anyhow::Error::new(e).context("writing to stdout"),
        })
}

/// Writing to stdout failed with EPIPE.
#[derive(Debug, thiserror::Error)]
#[error("stdout is closed")]
struct BrokenStdout;

fn is_broken_stdout(e: &anyhow::Error) -> bool {
    e.downcast_ref::<BrokenStdout>().is_some()
}

/// The global options (`Cli`) that take a value, which [`starts_containers`] must skip over
/// without clap's help; a unit test keeps the list equal to clap's.
const GLOBAL_OPTIONS_WITH_VALUES: [&str; 4] = ["root", "log", "log-format", "rootless"];

/// Whether the command line's subcommand is one that starts a container's process (create,
/// run, exec), read before clap parses it: the first argument that is not a global option or
/// its value. A wrong guess costs a launcher started for nothing (killed and reaped unused).
fn starts_containers(args: &[String]) -> bool {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(flag) = a.strip_prefix("--") else {
            return matches!(a.as_str(), "create" | "run" | "exec");
        };
        if !flag.contains('=') && GLOBAL_OPTIONS_WITH_VALUES.contains(&flag) {
            it.next();
        }
    }
    false
}

fn dispatch(cli: Cli, launcher: Option<berth_runtime::Launcher>) -> Result<i32> {
    let runtime = Runtime::new(cli.root.clone(), cli.systemd_cgroup);
    if !matches!(cli.rootless.as_str(), "true" | "false" | "auto") {
        anyhow::bail!(
            "--rootless: invalid value {:?} (true, false or auto)",
            cli.rootless
        );
    }
    drop_inherited_fds(&cli.command)?;
    match cli.command {
        Command::Create { id, opts } => {
            runtime.create_with(&id, &create_options(&opts), launcher)?;
            Ok(0)
        }
        Command::Start { id } => {
            runtime.start(&id)?;
            Ok(0)
        }
        Command::Run {
            id,
            opts,
            detach,
            keep,
            no_subreaper,
        } => {
            if !detach {
                foreground::block_all().context("blocking signals")?;
                if !no_subreaper {
                    berth_sys::process::set_child_subreaper()
                        .context("prctl(PR_SET_CHILD_SUBREAPER)")?;
                }
            }
            let launched = runtime.run_with(&id, &create_options(&opts), detach, launcher)?;
            if detach {
                return Ok(0);
            }
            let code = foreground::forward_until_exit(launched.pid, launched.console);
            if !keep {
                runtime.delete(&id, true)?;
            }
            Ok(code)
        }
        Command::Exec {
            id,
            command,
            process,
            detach,
            pid_file,
            console_socket,
            pidfd_socket,
            tty,
            cwd,
            env,
            user,
            additional_gids,
            caps,
            no_new_privs,
            lsm,
            preserve_fds,
            ignore_paused,
            cgroup,
        } => {
            let failed = |e: anyhow::Error| anyhow::Error::new(ExecFailed(e));
            let process = match process {
                Some(path) => exec_args::process_from_file(&path).map_err(failed)?,
                None => {
                    if command.is_empty() {
                        anyhow::bail!("exec: a command is required (or --process FILE)");
                    }
                    let o = exec_args::ExecOverrides {
                        args: command,
                        env,
                        cwd,
                        user,
                        additional_gids,
                        caps,
                        tty,
                        no_new_privs,
                        apparmor: lsm.apparmor,
                        process_label: lsm.process_label,
                    };
                    let base = runtime.process_of(&id).map_err(|e| failed(e.into()))?;
                    exec_args::process_from_args(&base, &o).map_err(failed)?
                }
            };
            let mut opts = berth_runtime::ExecOptions::new(process);
            opts.detach = detach;
            opts.pid_file = pid_file;
            opts.console_socket = console_socket;
            opts.pidfd_socket = pidfd_socket;
            opts.preserve_fds = preserve_fds;
            opts.ignore_paused = ignore_paused;
            opts.sub_cgroups = exec_args::sub_cgroups(&cgroup).map_err(failed)?;
            if !detach {
                foreground::block_all()
                    .context("blocking signals")
                    .map_err(failed)?;
            }
            let launched = runtime
                .exec_with(&id, &opts, launcher)
                .map_err(|e| failed(e.into()))?;
            if detach {
                return Ok(0);
            }
            Ok(foreground::forward_until_exit(
                launched.pid,
                launched.console,
            ))
        }
        Command::State { id } => {
            let state = runtime.state(&id)?;
            print_stdout(&serde_json::to_string_pretty(&state)?)?;
            Ok(0)
        }
        Command::Kill { id, signal, all } => {
            let sig = foreground::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            runtime.kill(&id, sig, all)?;
            Ok(0)
        }
        Command::Delete { id, force } => {
            runtime.delete(&id, force)?;
            Ok(0)
        }
        Command::List { format, quiet } => {
            // A missing default root only means no container was made yet; a missing root
            // the caller named is an error (runc: "open DIR: no such file or directory").
            if cli.root_given && !cli.root.exists() {
                anyhow::bail!("open {}: no such file or directory", cli.root.display());
            }
            let list = runtime.list()?;
            let text = if quiet {
                list.iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                match format {
                    ListFormat::Json => serde_json::to_string(&list)?,
                    ListFormat::Table => berth_runtime::list_table(&list),
                }
            };
            let text = text.trim_end_matches('\n');
            if !text.is_empty() {
                print_stdout(text)?;
            }
            Ok(0)
        }
        Command::Spec { bundle } => {
            let rootless = cli.rootless == "true";
            let path = bundle.join("config.json");
            if path.exists() {
                anyhow::bail!("File {} exists. Remove it first", path.display());
            }
            let uid = nix::unistd::getuid().as_raw();
            let gid = nix::unistd::getgid().as_raw();
            let mut cfg = berth_spec::default_config(rootless, uid, gid);
            if !berth_cgroups::is_pure_v2_host() {
                berth_spec::drop_cgroup_namespace(&mut cfg);
            }
            let text = serde_json::to_string_pretty(&cfg)?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(0)
        }
        Command::Cgroup(c) => cli_cgroups::dispatch(&runtime, c),
        Command::Features => {
            print_stdout(&serde_json::to_string_pretty(&berth_runtime::features())?)?;
            Ok(0)
        }
    }
}

/// Descriptors a caller leaked to `create`, `run` or `exec` (anything above stdio but the
/// `--preserve-fds` and systemd's `LISTEN_FDS`) are marked close-on-exec, so no hook or
/// container process inherits them (CVE-2024-21626; the library also makes sure none is
/// reachable from inside the container before its program runs).
fn drop_inherited_fds(command: &Command) -> Result<()> {
    let preserve = match command {
        Command::Create { opts, .. } | Command::Run { opts, .. } => opts.preserve_fds,
        Command::Exec { preserve_fds, .. } => *preserve_fds,
        _ => return Ok(()),
    };
    berth_sys::fd::cloexec_from(berth_runtime::first_unpassed_fd(preserve))
        .context("marking inherited fds close-on-exec")
}

/// An `exec` that failed before its process started, marked for the exit status (its message
/// and sources are the wrapped error's own).
#[derive(Debug)]
struct ExecFailed(anyhow::Error);

impl std::fmt::Display for ExecFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for ExecFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// runc's words for the library errors that are about its flags: what containerd, podman and
/// the tests read.
fn runc_wording(link: &(dyn std::error::Error + 'static)) -> Option<String> {
    use berth_runtime::ContainerError as E;
    let link = match link.downcast_ref::<ExecFailed>() {
        Some(ExecFailed(inner)) => inner.as_ref(),
        None => link,
    };
    if let Some(berth_cgroups::CgroupError::Systemd(why)) = link.downcast_ref() {
        return Some(format!("--systemd-cgroup: {why}"));
    }
    Some(match link.downcast_ref::<E>()? {
        E::TerminalNeedsConsoleSocket => {
            "cannot allocate tty if berth will detach without setting console socket".into()
        }
        E::ConsoleSocketUnused => {
            "cannot use console socket if berth will not detach or allocate tty".into()
        }
        E::ConsoleSocket { path, .. } => format!("--console-socket {}", path.display()),
        E::PidFile { path, .. } => format!("--pid-file {}", path.display()),
        E::PidfdSocket { path, .. } => format!("--pidfd-socket {}", path.display()),
        E::SystemdNotRunning => {
            "systemd cgroup flag passed, but systemd support for managing cgroups is not available"
                .into()
        }
        _ => return None,
    })
}

fn error_text(e: &anyhow::Error) -> String {
    error_chain::chain_text(e, |link| {
        runc_wording(link).or_else(|| {
            link.downcast_ref::<std::io::Error>()
                .and_then(berth_sys::ret::errno_text)
        })
    })
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    let mut o = CreateOptions::new(a.bundle.clone());
    o.console_socket = a.console_socket.clone();
    o.pid_file = a.pid_file.clone();
    o.no_pivot = a.no_pivot;
    o.no_new_keyring = a.no_new_keyring;
    o.preserve_fds = a.preserve_fds;
    o.pidfd_socket = a.pidfd_socket.clone();
    o
}

#[cfg(test)]
mod tests {

    #[test]
    fn container_commands_are_recognised_before_parsing() {
        let args = |a: &str| normalize_args(a.split(' ').map(String::from));
        for yes in [
            "berth run x",
            "berth --root /r run -d x",
            "berth -root /r --debug create --bundle b x",
            "berth --log=/l --log-format json exec x true",
            "berth --rootless false run x",
        ] {
            assert!(starts_containers(&args(yes)), "{yes}");
        }
        for no in [
            "berth delete run",
            "berth --root run state x",
            "berth state exec",
            "berth -v",
            "berth",
        ] {
            assert!(!starts_containers(&args(no)), "{no}");
        }
    }

    /// The scan before parsing skips exactly the values clap would take for a global option.
    #[test]
    fn the_scan_knows_every_global_option_that_takes_a_value() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let mut with_values: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| a.is_global_set() && a.get_action().takes_values())
            .filter_map(|a| a.get_long())
            .collect();
        with_values.sort_unstable();
        let mut listed = GLOBAL_OPTIONS_WITH_VALUES.to_vec();
        listed.sort_unstable();
        assert_eq!(with_values, listed);
    }
    use super::*;

    #[test]
    fn error_chain_told_once() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let e =
            anyhow::Error::new(std::io::Error::new(io.kind(), io.to_string())).context("opening x");
        assert_eq!(error_text(&e), format!("opening x: {io}"));
        #[derive(Debug)]
        struct Repeats(std::io::Error);
        impl std::fmt::Display for Repeats {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "reading y: {}", self.0)
            }
        }
        impl std::error::Error for Repeats {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Repeats(std::io::Error::from_raw_os_error(libc::ENOENT)));
        assert_eq!(error_text(&e), format!("reading y: {io}"));
        // A system call's error reads as runc words it.
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context("adding pid 7 to /c/cgroup.procs");
        assert_eq!(
            error_text(&e),
            "adding pid 7 to /c/cgroup.procs: no such file or directory"
        );
    }

    #[test]
    fn single_dash_long_options() {
        let a = normalize_args(
            ["berth", "-root", "/x", "run", "-bundle=/b", "-d", "id"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(
            a,
            ["berth", "--root", "/x", "run", "--bundle=/b", "-d", "id"]
        );
    }

    #[test]
    fn options_after_the_id() {
        let cli = Cli::try_parse_from([
            "berth",
            "create",
            "myid",
            "--bundle",
            "/b",
            "--pid-file",
            "p",
        ])
        .unwrap();
        match cli.command {
            Command::Create { id, opts } => {
                assert_eq!(id, "myid");
                assert_eq!(opts.bundle, PathBuf::from("/b"));
            }
            other => panic!("{other:?}"),
        }
    }
}
