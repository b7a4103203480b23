//! Thin file-system layer over cgroupfs: reads, writes with rollback, directory creation that
//! remembers what it created, removal with EBUSY retries, killing what is left.

use super::plan::Write;
use super::CgroupError;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let p = dir.join(file);
    std::fs::read_to_string(&p).map_err(|e| CgroupError::io(&p, e))
}

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let p = dir.join(file);
    // cgroupfs wants the whole value in one write(2); std's write does that for short strings.
    std::fs::write(&p, value.as_bytes()).map_err(|e| CgroupError::io(&p, e))
}

/// Applies `writes` in order. When one fails, the files already written get their previous
/// content back (best effort, newest first) so a failed update leaves the cgroup as it was.
/// `dir_of` maps a write's controller to its directory. `keep_undo` is off for a cgroup created
/// by this command: a failure there destroys it anyway, and skipping the snapshot reads keeps
/// create cheap.
pub(crate) fn apply_writes(
    writes: &[Write],
    dir_of: &dyn Fn(&str) -> Option<PathBuf>,
    keep_undo: bool,
) -> Result<(), CgroupError> {
    let mut undo: Vec<(PathBuf, String, String)> = Vec::new();
    for w in writes {
        let Some(dir) = dir_of(&w.ctrl) else {
            rollback(&undo);
            return Err(CgroupError::field(
                &w.field,
                format!("no {} hierarchy for this cgroup", w.ctrl),
            ));
        };
        let old = if keep_undo {
            read(&dir, &w.file).unwrap_or_default()
        } else {
            String::new()
        };
        let path = dir.join(&w.file);
        // cgroupfs wants the whole value in one write(2); std's write does that for short strings.
        if let Err(source) = std::fs::write(&path, w.value.as_bytes()) {
            rollback(&undo);
            return Err(CgroupError::Write {
                field: w.field.clone(),
                value: w.value.clone(),
                path,
                source,
            });
        }
        if keep_undo {
            undo.push((dir, w.file.clone(), old));
        }
    }
    Ok(())
}

fn rollback(undo: &[(PathBuf, String, String)]) {
    for (dir, file, old) in undo.iter().rev() {
        restore(dir, file, old);
    }
}

/// Writes back a value as read. Multi-line files (io.max, throttles) take one line per write;
/// values read in a form the kernel does not accept back are left alone (ignored errors).
fn restore(dir: &Path, file: &str, old: &str) {
    let old = old.trim();
    if file.ends_with("_device")
        || file == "io.max"
        || file == "io.weight"
        || file == "rdma.max"
        || file.ends_with("ifpriomap")
    {
        for line in old.lines() {
            let line = line.trim_start_matches("default ");
            let _ = write(dir, file, line);
        }
        return;
    }
    let _ = write(dir, file, old);
}

/// Creates `dir` and its missing parents below `stop` (the hierarchy's mount point). Returns the
/// directories it created, outermost first, so a failure can remove exactly those.
pub(crate) fn mkdir_tracked(
    dir: &Path,
    stop: &Path,
    created: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(c) = cur {
        if c == stop || c.exists() {
            break;
        }
        missing.push(c.to_path_buf());
        cur = c.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CgroupError::io(&d, e)),
        }
    }
    Ok(())
}

/// Pids in `dir` and every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let text = read(dir, "cgroup.procs")?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let rd = std::fs::read_dir(dir).map_err(|e| CgroupError::io(dir, e))?;
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(procs_recursive(&e.path())?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// SIGKILLs every pid given (ESRCH ignored: it is already gone).
pub(crate) fn kill_all(pids: &[i32]) {
    for &p in pids {
        if p > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Removes `dir` and the cgroups below it, deepest first. Absent is fine; EBUSY (processes
/// still exiting) is retried for up to about a second. The common case, a leaf whose processes
/// are gone, costs a single rmdir: children are only looked for when that fails.
pub(crate) fn rmdir_tree(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_micros(200);
    let mut waited = Duration::ZERO;
    let mut children_done = false;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && !children_done => {
                // Child cgroups (the container made some) also read as EBUSY: remove them first.
                children_done = true;
                if let Ok(rd) = std::fs::read_dir(dir) {
                    for e in rd.flatten() {
                        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                            rmdir_tree(&e.path())?;
                        }
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && waited < Duration::from_secs(1) => {
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(Duration::from_millis(50));
                // A process may have been forked in the meantime: kill again.
                if let Ok(p) = procs_recursive(dir) {
                    kill_all(&p);
                }
            }
            Err(e) => return Err(CgroupError::io(dir, e)),
        }
    }
}

/// Removes directories this process created (innermost first), ignoring the ones that are not
/// empty or are gone: other containers may share a parent.
pub(crate) fn remove_created(created: &[PathBuf]) {
    for d in created.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// Polls `cond` until true or about `limit`.
pub(crate) fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let mut waited = Duration::ZERO;
    let mut delay = Duration::from_micros(100);
    while !cond() {
        if waited >= limit {
            return false;
        }
        std::thread::sleep(delay);
        waited += delay;
        delay = (delay * 2).min(Duration::from_millis(20));
    }
    true
}
