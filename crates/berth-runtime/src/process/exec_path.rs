//! Finding the program to exec the way a shell (and runc) would: names with a '/' are used as
//! they are, bare names are looked up in the PATH of the container's environment.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The value of `name` in a NAME=VALUE environment list.
pub fn env_value<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
}

/// The environment as the program sees it: a name set twice (the config's `MY_VAR=a`, then
/// `exec -e MY_VAR=b`) keeps its first position and its last value, as runc's setenv-per-entry
/// gives; getenv(3) would otherwise find the first. Entries without `=` are kept as they are.
pub fn dedup_env(env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in env {
        match e.split_once('=') {
            Some((name, _)) => match at.get(name) {
                Some(&i) => out[i] = e.clone(),
                None => {
                    at.insert(name, out.len());
                    out.push(e.clone());
                }
            },
            None => out.push(e.clone()),
        }
    }
    out
}

/// The environment the program gets: [`dedup_env`]'s, with `HOME` from `home` (the user's
/// home in the container's /etc/passwd) when the list has none or only an empty one, as runc
/// 1.5 does (an empty `HOME=` would make shells and programs treat `""` as the home).
pub fn program_env(env: &[String], home: impl FnOnce() -> String) -> Vec<String> {
    let mut env = dedup_env(env);
    env.retain(|e| e != "HOME=");
    if env_value(&env, "HOME").is_none() {
        env.push(format!("HOME={}", home()));
    }
    env
}

/// Why the program to exec cannot be run, found before the exec (at `create` for the init), in
/// runc's words, which engines read: docker and podman answer 127 to "executable file not found"
/// and "no such file or directory", 126 to "permission denied".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// A bare name that no directory of the PATH holds (as an executable file).
    #[error("exec: \"{program}\": executable file not found in $PATH")]
    NotInPath {
        /// The name looked up.
        program: String,
    },
    /// A path (a name with a '/') that cannot be stat'ed; the cause is stat's error.
    #[error("exec: \"{program}\": stat {program}")]
    Stat {
        /// The path as given.
        program: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A path that is a directory or has no execute bit; the cause is EACCES.
    #[error("exec: \"{program}\"")]
    NotExecutable {
        /// The path as given.
        program: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A path the process may not execute (access(X_OK), e.g. on a noexec mount).
    #[error("exec {program}")]
    Access {
        /// The path as given.
        program: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
}

/// Resolves `program` against `path_var` using `is_executable` to test candidates; a name with
/// a '/' is used as it is (see [`check_path`]).
pub fn resolve(
    program: &str,
    path_var: Option<&str>,
    is_executable: impl Fn(&Path) -> bool,
) -> Result<PathBuf, ProgramError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path_var =
        path_var.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(ProgramError::NotInPath {
        program: program.to_string(),
    })
}

/// Checks a program given as a path, as runc does before it waits for `start`: it exists
/// (stat, following symlinks), is not a directory, has an execute bit, and the process may
/// execute it.
pub fn check_path(program: &str) -> Result<(), ProgramError> {
    let meta = std::fs::metadata(program).map_err(|source| ProgramError::Stat {
        program: program.to_string(),
        source,
    })?;
    if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
        return Err(ProgramError::NotExecutable {
            program: program.to_string(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        });
    }
    let path = std::ffi::OsStr::new(program);
    let err = match berth_sys::path::may_execute_effective(path) {
        Ok(()) => return Ok(()),
        // AT_EACCESS needs faccessat2, which seccomp profiles older than it (Docker's before
        // 20.10, runtime-tools') answer with EPERM, or ENOSYS through the stub: ask the plain
        // faccessat instead, as Go's (runc's) Faccessat does.
        Err(e) if refused_by_a_filter(&e) => match berth_sys::path::may_execute_real(path) {
            Ok(()) => return Ok(()),
            // No way to ask: execve itself will say whether it may run.
            Err(e) if refused_by_a_filter(&e) => return Ok(()),
            Err(e) => e,
        },
        Err(e) => e,
    };
    Err(ProgramError::Access {
        program: program.to_string(),
        source: err,
    })
}

/// An access check a seccomp filter may have refused rather than answered.
fn refused_by_a_filter(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS))
}

/// A regular file with an execute bit that the calling process may execute.
pub fn is_executable_file(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    berth_sys::path::may_execute_real(p.as_os_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_entry_overrides_an_earlier_one_in_place() {
        let env: Vec<String> = [
            "PATH=/bin",
            "MY_VAR=from_spec",
            "X",
            "A=1",
            "MY_VAR=from_cli",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            dedup_env(&env),
            ["PATH=/bin", "MY_VAR=from_cli", "X", "A=1"]
        );
        assert_eq!(dedup_env(&[]), Vec::<String>::new());
    }

    #[test]
    fn an_empty_or_missing_home_comes_from_passwd() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let home = || "/root".to_string();
        assert_eq!(
            program_env(&v(&["HOME=", "PATH=/bin"]), home),
            ["PATH=/bin", "HOME=/root"]
        );
        assert_eq!(
            program_env(&v(&["HOME=/override", "HOME="]), home),
            ["HOME=/root"]
        );
        assert_eq!(
            program_env(&v(&["HOME=", "HOME=/override"]), home),
            ["HOME=/override"]
        );
        assert_eq!(program_env(&v(&["A=1"]), home), ["A=1", "HOME=/root"]);
        assert_eq!(
            program_env(&v(&["ONE=two", "ONE=", "PATH=/bin"]), home),
            ["ONE=", "PATH=/bin", "HOME=/root"]
        );
    }

    #[test]
    fn looks_up_in_path_order() {
        let exec = |p: &Path| p == Path::new("/bin/sh") || p == Path::new("/usr/bin/sh");
        assert_eq!(
            resolve("sh", Some("/usr/bin:/bin"), exec).unwrap(),
            PathBuf::from("/usr/bin/sh")
        );
        assert_eq!(
            resolve("sh", Some("/nope:/bin"), exec).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert_eq!(resolve("./x", None, exec).unwrap(), PathBuf::from("./x"));
        let e = resolve("nope", Some("/bin"), exec).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
    }

    #[test]
    fn paths_are_checked_as_runc_does() {
        let chain = |e: ProgramError| {
            let src = std::error::Error::source(&e).map(|s| s.to_string());
            (e.to_string(), src)
        };
        let (msg, src) = chain(check_path("/no/such/binary").unwrap_err());
        assert_eq!(msg, "exec: \"/no/such/binary\": stat /no/such/binary");
        assert_eq!(
            src,
            Some(std::io::Error::from_raw_os_error(libc::ENOENT).to_string())
        );
        let e = check_path("/").unwrap_err();
        assert!(
            matches!(&e, ProgramError::NotExecutable { source, .. } if source.raw_os_error() == Some(libc::EACCES))
        );
        assert_eq!(e.to_string(), "exec: \"/\"");
        let f = std::env::temp_dir().join(format!("berth-noexec-{}", std::process::id()));
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let p = f.to_str().unwrap();
        assert!(matches!(
            check_path(p),
            Err(ProgramError::NotExecutable { .. })
        ));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_path(p).is_ok());
        std::fs::remove_file(&f).unwrap();
    }

    #[test]
    fn env_lookup_takes_last() {
        let env = vec!["PATH=/a".to_string(), "PATHX=/x".into(), "PATH=/b".into()];
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "HOME"), None);
    }
}
