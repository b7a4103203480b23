//! Finding the program to exec the way a shell (and runc) would: names with a '/' are used as
//! they are, bare names are looked up in the PATH of the container's environment.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
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

/// A bare program name that no directory of the PATH holds (as an executable file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exec: \"{program}\": executable file not found in $PATH")]
pub struct NotInPath {
    /// The name looked up.
    pub program: String,
}

/// Resolves `program` against `path_var` using `is_executable` to test candidates.
pub fn resolve(
    program: &str,
    path_var: Option<&str>,
    is_executable: impl Fn(&Path) -> bool,
) -> Result<PathBuf, NotInPath> {
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
    Err(NotInPath {
        program: program.to_string(),
    })
}

/// A regular file with an execute bit that the calling process may execute.
pub fn is_executable_file(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads the NUL-terminated path, valid for the call.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
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
    fn env_lookup_takes_last() {
        let env = vec!["PATH=/a".to_string(), "PATHX=/x".into(), "PATH=/b".into()];
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "HOME"), None);
    }
}
