//! The filters libseccomp builds from runtime-spec profiles, run by the kernel: each probe forks
//! a child that loads the exported BPF program (raw prctl/seccomp calls only: the test harness
//! is multi-threaded, so the child must not allocate), makes one system call and reports how it
//! ended in its exit status.

use super::*;
use serde_json::json;

fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("seccomp json")
}

/// `profile` with exit and exit_group allowed (the probe must be able to report).
fn with_exit(mut v: serde_json::Value) -> LinuxSeccomp {
    let calls = v["syscalls"].as_array().cloned().unwrap_or_default();
    let mut all = vec![json!({"names":["exit","exit_group"],"action":"SCMP_ACT_ALLOW"})];
    all.extend(calls);
    v["syscalls"] = json!(all);
    seccomp(v)
}

/// The classic BPF program berth loads for `s` (the ENOSYS stub, libseccomp's program).
fn program_of(s: &LinuxSeccomp) -> Vec<libc::sock_filter> {
    program(s, &compile(s).expect("compile")).expect("program")
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The call returned without error.
    Ok,
    /// The call failed with this errno.
    Errno(i32),
    /// The child was killed by this signal.
    Signal(i32),
}

const LOAD_FAILED: i32 = 250;

/// How a system call ends in a process under `s`'s filter. `call` runs in the forked child
/// and must only make raw system calls; it returns the call's raw result.
fn probe_with(s: &LinuxSeccomp, call: fn() -> i64) -> Outcome {
    let prog = program_of(s);
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).expect("program length"),
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the child only makes raw system calls (no allocation, no locks) and leaves
    // through _exit; `fprog` points to `prog`, alive in the child's copy of the memory.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: see above; setrlimit, prctl and seccomp only read their arguments.
        unsafe {
            // No core files from the calls the filter kills.
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(LOAD_FAILED);
            }
            let loaded = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            );
            if loaded != 0 {
                libc::_exit(LOAD_FAILED);
            }
            let r = call();
            let code = if r < 0 { *libc::__errno_location() } else { 0 };
            libc::_exit(code.min(249));
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid");
    if libc::WIFSIGNALED(status) {
        return Outcome::Signal(libc::WTERMSIG(status));
    }
    match libc::WEXITSTATUS(status) {
        LOAD_FAILED => panic!("the child could not load the filter"),
        0 => Outcome::Ok,
        e => Outcome::Errno(e),
    }
}

/// lseek(-1, ARG, SEEK_SET): EBADF when the filter lets it through.
static ARG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn lseek_arg() -> i64 {
    let off = ARG.load(std::sync::atomic::Ordering::Relaxed);
    // SAFETY: lseek on an invalid fd only fails.
    unsafe { libc::syscall(libc::SYS_lseek, -1i64, off, 0i64) }
}

/// Under `s`, does lseek(-1, off, 0) get past the filter (EBADF) or not?
fn lseek_under(s: &LinuxSeccomp, off: u64) -> Outcome {
    // Set before the fork (the child reads its copy), one probe at a time: tests run in threads.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    ARG.store(off, std::sync::atomic::Ordering::Relaxed);
    probe_with(s, lseek_arg)
}

fn getppid() -> i64 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::syscall(libc::SYS_getppid) }
}

fn mkdir_null() -> i64 {
    // SAFETY: a NULL path only fails (EFAULT) when the call gets through.
    unsafe { libc::syscall(libc::SYS_mkdir, std::ptr::null::<libc::c_char>(), 0o755) }
}

fn uname_null() -> i64 {
    // SAFETY: a NULL buffer only fails (EFAULT) when the call gets through.
    unsafe { libc::syscall(libc::SYS_uname, std::ptr::null::<libc::c_void>()) }
}

fn kill_zero() -> i64 {
    // SAFETY: signal 0 to our own pid only checks it exists.
    unsafe { libc::syscall(libc::SYS_kill, libc::getpid(), 0) }
}

/// Syscall `nr` through the i386 entry (int 0x80), without arguments.
fn i386_call(nr: i64) -> i64 {
    let ret: i64;
    // SAFETY: the callers pass syscalls that take no arguments or fail without touching memory
    // (getpid, an unknown number).
    unsafe {
        std::arch::asm!("int 0x80", inlateout("rax") nr => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    // The i386 entry returns a 32-bit value.
    let ret = i64::from(ret as i32);
    if ret < 0 {
        // SAFETY: errno of this thread, as libc's wrappers set it.
        unsafe { *libc::__errno_location() = -ret as i32 };
        return -1;
    }
    ret
}

fn getpid_i386() -> i64 {
    i386_call(20)
}

fn unknown_i386() -> i64 {
    i386_call(1000)
}

fn unknown_x86_64() -> i64 {
    // SAFETY: no syscall has this number: it only fails.
    unsafe { libc::syscall(1000) }
}

fn clone3_null() -> i64 {
    // SAFETY: a NULL clone_args with size 0 only fails (EINVAL) when the call gets through.
    unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<libc::c_void>(), 0) }
}

#[test]
fn actions_and_errno_values() {
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid","nonexistent_call"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
        {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["uname"],"action":"SCMP_ACT_LOG"}]}));
    assert_eq!(probe_with(&s, getppid), Outcome::Errno(38));
    // ERRNO without errnoRet: EPERM, as runc.
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Errno(libc::EPERM));
    assert_eq!(probe_with(&s, kill_zero), Outcome::Signal(libc::SIGSYS));
    // LOG lets the call through.
    assert_eq!(probe_with(&s, uname_null), Outcome::Errno(libc::EFAULT));
    assert_eq!(lseek_under(&s, 0), Outcome::Errno(libc::EBADF));

    let s = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_TRAP"},
        {"names":["mkdir"],"action":"SCMP_ACT_KILL"},
        {"names":["uname"],"action":"SCMP_ACT_KILL_THREAD"},
        {"names":["lseek"],"action":"SCMP_ACT_TRACE"}]}));
    assert_eq!(probe_with(&s, getppid), Outcome::Signal(libc::SIGSYS));
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Signal(libc::SIGSYS));
    assert_eq!(probe_with(&s, uname_null), Outcome::Signal(libc::SIGSYS));
    // TRACE with no tracer attached: the kernel fails the call with ENOSYS.
    assert_eq!(lseek_under(&s, 0), Outcome::Errno(libc::ENOSYS));
}

#[test]
fn default_action_and_default_errno() {
    let s = with_exit(
        json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":50,
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}),
    );
    assert_eq!(probe_with(&s, getppid), Outcome::Ok);
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Errno(50));
    // A rule with the default action is left out, as runc does (libseccomp refuses it).
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_ERRNO",
        "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
                    {"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}));
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Errno(libc::EPERM));
    assert_eq!(probe_with(&s, getppid), Outcome::Ok);
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_KILL_PROCESS",
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}));
    assert_eq!(probe_with(&s, getppid), Outcome::Ok);
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Signal(libc::SIGSYS));
}

/// A filter that answers lseek with errno 77 when argument 1 satisfies `op value [two]`.
fn one_arg(op: &str, value: u64, two: Option<u64>) -> LinuxSeccomp {
    let mut arg = json!({"index":1,"value":value,"op":op});
    if let Some(t) = two {
        arg["valueTwo"] = json!(t);
    }
    with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":77,"args":[arg]}]}))
}

fn blocked(s: &LinuxSeccomp, arg1: u64) -> bool {
    match lseek_under(s, arg1) {
        Outcome::Errno(77) => true,
        Outcome::Errno(libc::EBADF) => false,
        other => panic!("lseek ended with {other:?}"),
    }
}

#[test]
fn argument_operators_on_64_bit_values() {
    let big = 0x1_0000_0005u64;
    let eq = one_arg("SCMP_CMP_EQ", big, None);
    assert!(blocked(&eq, big));
    assert!(!blocked(&eq, 5));
    assert!(!blocked(&eq, 0x2_0000_0005));

    let ne = one_arg("SCMP_CMP_NE", big, None);
    assert!(!blocked(&ne, big));
    assert!(blocked(&ne, 5));

    let gt = one_arg("SCMP_CMP_GT", big, None);
    assert!(blocked(&gt, big + 1));
    assert!(blocked(&gt, 0x2_0000_0000));
    assert!(!blocked(&gt, big));
    assert!(!blocked(&gt, 0xffff_ffff));

    let ge = one_arg("SCMP_CMP_GE", big, None);
    assert!(blocked(&ge, big));
    assert!(!blocked(&ge, big - 1));

    let lt = one_arg("SCMP_CMP_LT", big, None);
    assert!(blocked(&lt, big - 1));
    assert!(blocked(&lt, 0xffff_ffff));
    assert!(!blocked(&lt, big));

    let le = one_arg("SCMP_CMP_LE", big, None);
    assert!(blocked(&le, big));
    assert!(!blocked(&le, big + 1));

    // value is the mask, valueTwo what the masked argument must equal.
    let masked = one_arg(
        "SCMP_CMP_MASKED_EQ",
        0xff00_0000_00ff,
        Some(0x1200_0000_0034),
    );
    assert!(blocked(&masked, 0x12ff_ffff_ff34));
    assert!(!blocked(&masked, 0x1300_0000_0034));
    assert!(!blocked(&masked, 0x1200_0000_0035));
}

#[test]
fn conditions_on_distinct_args_and_repeated_args_or() {
    // Distinct arguments: AND (fd -1 and offset 10).
    let and = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":77,"args":[
            {"index":0,"value":u64::MAX,"op":"SCMP_CMP_EQ"},
            {"index":1,"value":10,"op":"SCMP_CMP_EQ"}]}]}));
    assert!(blocked(&and, 10));
    assert!(!blocked(&and, 11));
    let and_miss = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":77,"args":[
            {"index":0,"value":3,"op":"SCMP_CMP_EQ"},
            {"index":1,"value":10,"op":"SCMP_CMP_EQ"}]}]}));
    assert!(!blocked(&and_miss, 10));
    // The same argument twice: either condition (runc's reading).
    let or = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["lseek"],"action":"SCMP_ACT_ERRNO","errnoRet":77,"args":[
            {"index":1,"value":10,"op":"SCMP_CMP_EQ"},
            {"index":1,"value":20,"op":"SCMP_CMP_EQ"}]}]}));
    assert!(blocked(&or, 10));
    assert!(blocked(&or, 20));
    assert!(!blocked(&or, 15));
}

#[test]
fn architectures_and_compat_abis() {
    let arches = |list: serde_json::Value| {
        compile(&seccomp(
            json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":list}),
        ))
        .expect("compile")
    };
    let ctx = arches(json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM"
    ]));
    for a in [
        ScmpArch::X8664,
        ScmpArch::X86,
        ScmpArch::X32,
        ScmpArch::Aarch64,
        ScmpArch::Arm,
    ] {
        assert!(ctx.is_arch_present(a).expect("arch query"), "{a:?}");
    }
    // The native architecture is always in the filter.
    let ctx = arches(json!(["SCMP_ARCH_AARCH64"]));
    assert!(ctx.is_arch_present(ScmpArch::native()).expect("arch query"));
    assert!(!ctx.is_arch_present(ScmpArch::Ppc64Le).expect("arch query"));
    // One filter, one byte order: a big-endian architecture on a little-endian host is refused.
    if cfg!(target_endian = "little") {
        let e = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW",
            "architectures":["SCMP_ARCH_X86","SCMP_ARCH_S390X"]})))
        .unwrap_err();
        assert!(e.to_string().starts_with(
            "linux.seccomp.architectures[1]: cannot add architecture SCMP_ARCH_S390X: its byte order"
        ), "{e}");
    }

    if !cfg!(target_arch = "x86_64") {
        return;
    }
    // The i386 ABI for real (int 0x80): filtered by name, getpid being 20 there, not 39.
    let with_x86 = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]}));
    let allow_all = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}));
    match probe_with(&allow_all, getpid_i386) {
        Outcome::Ok => {}
        other => {
            eprintln!("SKIP i386 part: this kernel runs no i386 syscalls ({other:?})");
            return;
        }
    }
    assert_eq!(probe_with(&with_x86, getpid_i386), Outcome::Errno(77));
    // An ABI left out of the filter kills the process (libseccomp's bad-arch action).
    let native_only = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW"}));
    assert_eq!(
        probe_with(&native_only, getpid_i386),
        Outcome::Signal(libc::SIGSYS)
    );
}

#[test]
fn names_of_other_architectures_are_skipped_or_mapped() {
    // socketcall exists on i386 only, _llseek on 32-bit ABIs, no_such_call nowhere.
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
        "syscalls":[{"names":["no_such_call","socketcall","_llseek","getppid"],
                     "action":"SCMP_ACT_ERRNO","errnoRet":77}]}));
    assert_eq!(probe_with(&s, getppid), Outcome::Errno(77));
    assert_eq!(lseek_under(&s, 0), Outcome::Errno(libc::EBADF));
}

#[test]
fn unsupported_requests_are_refused_naming_the_field() {
    let err = |v: serde_json::Value| compile(&seccomp(v)).unwrap_err().to_string();
    assert!(err(json!({"defaultAction":"SCMP_ACT_NOTIFY"}))
        .starts_with("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"));
    assert!(err(
        json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]})
    )
    .starts_with("linux.seccomp.listenerPath: must name"));
    assert!(
        err(json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"",
        "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}))
        .starts_with("linux.seccomp.listenerPath")
    );
    if !at_least(version(), 2, 6) {
        assert!(err(
            json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_LOONGARCH64"]})
        )
        .starts_with("linux.seccomp.architectures[1]: cannot add architecture SCMP_ARCH_LOONGARCH64: not known to libseccomp"));
    }
    assert!(err(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO",
        "args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}))
    .starts_with("linux.seccomp.syscalls[0].args: index 6"));
    assert!(
        err(json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}))
            .starts_with("linux.seccomp.defaultAction: errnoRet 70000")
    );
    assert!(err(
        json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]})
    )
    .starts_with("linux.seccomp.syscalls[0].names"));
}

#[test]
fn a_listener_path_must_be_a_socket() {
    let spec = |path: &str| -> Spec {
        serde_json::from_value(json!({"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":path,
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}}}))
        .expect("spec")
    };
    let e = validate(&spec("/nonexistent/berth-listener.sock")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.listenerPath: failed to connect with seccomp agent: stat /nonexistent/berth-listener.sock failed"
    );
    let e = validate(&spec("/dev/null")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.listenerPath: /dev/null is not a unix socket"
    );
    let dir = std::env::temp_dir().join(format!("berth-listener-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("l.sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    assert!(validate(&spec(&sock.to_string_lossy())).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_reach_the_load() {
    let flags = |v: serde_json::Value| load_flags(&seccomp(v));
    let f = flags(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}))
    .expect("flags");
    assert_eq!(f, 1 | 2 | 4);
    // A notify filter gets its listener; TSYNC with a listener needs TSYNC_ESRCH.
    let f = flags(
        json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock",
        "flags":["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}),
    )
    .expect("flags");
    assert_eq!(f, TSYNC | NEW_LISTENER | TSYNC_ESRCH);
    if kernel_has_flag(WAIT_KILLABLE_RECV) {
        let f = flags(
            json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock",
            "flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}),
        )
        .expect("flags");
        assert_eq!(f, NEW_LISTENER | WAIT_KILLABLE_RECV);
        // Without a listener the kernel would refuse it: left out.
        let f = flags(json!({"defaultAction":"SCMP_ACT_ALLOW",
            "flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}))
        .expect("flags");
        assert_eq!(f, 0);
    }
    // The probe: flags this kernel has (Linux 5.19 and later has them all), one it does not.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (5, 19) {
        for f in [TSYNC, NEW_LISTENER, WAIT_KILLABLE_RECV] {
            assert!(kernel_has_flag(f), "{f:#x}");
        }
    }
    assert!(!kernel_has_flag(1 << 30));
    // libseccomp's no_new_privs attribute stays off.
    let ctx = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW"}))).expect("compile");
    assert!(!ctx.get_ctl_nnp().expect("nnp"));
}

#[test]
fn a_docker_sized_profile_loads() {
    // Every syscall libseccomp knows on x86_64 allowed by name, a few with argument rules,
    // on three architectures: what Docker's default profile amounts to.
    let names: Vec<String> = (0..600)
        .filter_map(|nr| ScmpSyscall::from(nr).get_name().ok())
        .collect();
    assert!(names.len() > 300, "{}", names.len());
    let s = seccomp(json!({"defaultAction":"SCMP_ACT_ERRNO",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":names,"action":"SCMP_ACT_ALLOW"},
            {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288u64,"op":"SCMP_CMP_MASKED_EQ","valueTwo":0}]},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}));
    assert_eq!(probe_with(&s, getppid), Outcome::Ok);
    assert_eq!(lseek_under(&s, 0), Outcome::Errno(libc::EBADF));
}

#[test]
fn features_list_only_what_compiles() {
    let f = features();
    for action in f["actions"].as_array().expect("actions") {
        if action == "SCMP_ACT_NOTIFY" {
            // Refused as a default action; a rule's action with a listener.
            let sc = seccomp(
                json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock",
                "syscalls":[{"names":["mkdir"],"action":action}]}),
            );
            assert!(compile(&sc).is_ok(), "{action}");
            continue;
        }
        let sc = seccomp(json!({"defaultAction": action}));
        assert!(compile(&sc).is_ok(), "{action}");
    }
    for op in f["operators"].as_array().expect("operators") {
        let sc = seccomp(
            json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":op}]}]}),
        );
        assert!(compile(&sc).is_ok(), "{op}");
    }
    // Every listed architecture is known to libseccomp; those of the other byte order than
    // the host's cannot join its filter.
    for arch in f["archs"].as_array().expect("archs") {
        let sc = seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":[arch]}));
        if let Err(e) = compile(&sc) {
            assert!(e.to_string().contains("byte order"), "{arch}: {e}");
        }
    }
    for flag in f["supportedFlags"].as_array().expect("flags") {
        let sc = seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW","flags":[flag]}));
        assert!(compile(&sc).is_ok(), "{flag}");
    }
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":["read","write","getppid","getpid"],"action":"SCMP_ACT_ALLOW"}]}));
    // Above the largest the profile names (exit_group): ENOSYS, known to libseccomp or not.
    assert_eq!(probe_with(&s, unknown_x86_64), Outcome::Errno(libc::ENOSYS));
    assert_eq!(probe_with(&s, clone3_null), Outcome::Errno(libc::ENOSYS));
    // Below it, the default errno.
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Errno(1));
    assert_eq!(probe_with(&s, getppid), Outcome::Ok);
    if cfg!(target_arch = "x86_64") && probe_with(&s, getpid_i386) == Outcome::Ok {
        assert_eq!(probe_with(&s, unknown_i386), Outcome::Errno(libc::ENOSYS));
    }
    // A kill default too (as runc): new syscalls get ENOSYS, older unnamed ones are killed.
    let s = with_exit(json!({"defaultAction":"SCMP_ACT_KILL_PROCESS",
        "syscalls":[{"names":["read","getppid"],"action":"SCMP_ACT_ALLOW"}]}));
    assert_eq!(probe_with(&s, unknown_x86_64), Outcome::Errno(libc::ENOSYS));
    assert_eq!(probe_with(&s, mkdir_null), Outcome::Signal(libc::SIGSYS));
    // An allowing default refuses nothing new: no stub.
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"] {
        let s = with_exit(json!({"defaultAction":default,
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}));
        assert!(enosys::stub(&s).is_none());
    }
}

#[test]
fn notify_on_write_is_refused() {
    let e = compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock",
        "syscalls":[{"names":["mkdir","write"],"action":"SCMP_ACT_NOTIFY"}]}),
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot be used for the write syscall"
    );
    let e = compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock",
        "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"},
                    {"names":["sendmsg"],"action":"SCMP_ACT_NOTIFY"}]}),
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[1].names: SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall"
    );
    // Other actions on them are fine.
    assert!(compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "syscalls":[{"names":["write","sendmsg"],"action":"SCMP_ACT_LOG"}]})))
    .is_ok());
}
