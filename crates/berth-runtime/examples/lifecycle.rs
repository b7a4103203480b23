//! A container's whole life through berth-runtime's public API: create, start, wait for its
//! process, delete; prints the process's exit status.
//!
//! ```text
//! lifecycle BUNDLE STATE_ROOT ID [EXPECTED_STATUS]
//! ```
//! Exits 0 when every step succeeded (and the status is EXPECTED_STATUS, when given), 1
//! otherwise, 2 on bad usage. Run it as root, from a single-threaded process (as here: the
//! runtime refuses to clone a container's init from a process with threads).

use berth_runtime::{CreateOptions, Runtime};
use std::error::Error;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The container's processes are started by this program executed again from a sealed copy
    // of itself (CVE-2019-5736): that copy takes its job here.
    berth_runtime::launcher_entry();
    let args: Vec<String> = std::env::args().collect();
    let (bundle, root, id, expected) = match args.as_slice() {
        [_, bundle, root, id] => (bundle, root, id, None),
        [_, bundle, root, id, expected] => match expected.parse::<i32>() {
            Ok(n) => (bundle, root, id, Some(n)),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let status = match lifecycle(bundle, root, id) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("lifecycle: {}", chain(e.as_ref()));
            return ExitCode::FAILURE;
        }
    };
    println!("exit status: {status}");
    match expected {
        Some(want) if want != status => {
            eprintln!("lifecycle: expected exit status {want}, got {status}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: lifecycle BUNDLE STATE_ROOT ID [EXPECTED_STATUS]");
    ExitCode::from(2)
}

/// create → start → wait → delete; the container's exit status (128+N for signal N).
fn lifecycle(bundle: &str, root: &str, id: &str) -> Result<i32, Box<dyn Error>> {
    let runtime = Runtime::new(root, false);
    // The init is our child, blocked until start.
    let pid = runtime.create(id, &CreateOptions::new(bundle))?;
    let status = start_and_wait(&runtime, id, pid);
    // Deleted whatever happened: stopped, or killed first (force) if a step failed.
    let deleted = runtime.delete(id, status.is_err());
    let status = status?;
    deleted?;
    println!("deleted {id}");
    Ok(status)
}

fn start_and_wait(runtime: &Runtime, id: &str, pid: i32) -> Result<i32, Box<dyn Error>> {
    let status = runtime.state(id)?.status;
    println!("created {id}: init pid {pid}, {status}");
    runtime.start(id)?;
    println!("started {id}");
    Ok(berth_runtime::wait_for_exit(pid)?)
}

/// An error and its causes, `: `-separated (each library error names what failed and keeps the
/// cause as its source).
fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
