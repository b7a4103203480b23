//! A container's status, computed from the live process rather than stored, so it is never stale.

use std::fmt;

/// A container's status, as the runtime-spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Being set up by `create`.
    Creating,
    /// Set up, its init waiting for `start`.
    Created,
    /// Its process has started and is alive.
    Running,
    /// Its processes are frozen (`pause`).
    Paused,
    /// Its init has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None if the
/// process does not exist (or is a zombie: it has exited, only its exit status is left).
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).and_then(|(state, start)| (state != 'Z' && state != 'X').then_some(start))
}

/// (state, starttime) from a /proc/PID/stat line. The command name (field 2) may contain spaces
/// and parentheses, so fields are counted from the last ')'.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3; starttime is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

/// The status of a container whose init was `pid`, started at `start_time`.
pub fn compute(pid: i32, start_time: u64, fifo_exists: bool, frozen: bool) -> Status {
    match process_start_time(pid) {
        Some(t) if t == start_time => {
            if frozen {
                Status::Paused
            } else if fifo_exists {
                Status::Created
            } else {
                Status::Running
            }
        }
        _ => Status::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let t = process_start_time(me).unwrap();
        assert_eq!(compute(me, t, false, false), Status::Running);
        assert_eq!(compute(me, t, true, false), Status::Created);
        assert_eq!(
            compute(me, t + 1, false, false),
            Status::Stopped,
            "recycled pid"
        );
        assert_eq!(compute(-1, 0, false, false), Status::Stopped);
    }
}
