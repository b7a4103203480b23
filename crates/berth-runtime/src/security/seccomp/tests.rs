use super::*;
use serde_json::json;

const X86_64: u32 = AUDIT_ARCH_X86_64;
const I386: u32 = AUDIT_ARCH_I386;

fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("seccomp json")
}

/// `struct seccomp_data` as the kernel lays it out.
fn data(arch: u32, nr: u32, args: [u64; 6]) -> Vec<u8> {
    let mut d = Vec::with_capacity(64);
    d.extend_from_slice(&nr.to_ne_bytes());
    d.extend_from_slice(&arch.to_ne_bytes());
    d.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        d.extend_from_slice(&a.to_ne_bytes());
    }
    d
}

fn run(f: &Filter, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    bpf::interpret(&f.program, &data(arch, nr, args)).expect("program returns")
}

fn nr(name: &str) -> u32 {
    Abi::X86_64.number(name).expect("known syscall")
}

#[test]
fn per_syscall_errno_and_default() {
    let f = compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getpid","nonexistent_call"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
        {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["uname"],"action":"SCMP_ACT_LOG"}]}),
    ))
    .unwrap();
    assert_eq!(run(&f, X86_64, nr("getpid"), [0; 6]), RET_ERRNO | 38);
    assert_eq!(run(&f, X86_64, nr("mkdir"), [0; 6]), RET_ERRNO | 1);
    assert_eq!(run(&f, X86_64, nr("kill"), [0; 6]), RET_KILL_PROCESS);
    assert_eq!(run(&f, X86_64, nr("uname"), [0; 6]), RET_LOG);
    assert_eq!(run(&f, X86_64, nr("read"), [0; 6]), RET_ALLOW);
}

#[test]
fn architectures() {
    let only_native = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]})))
    .unwrap();
    // i386 and x32 are not in the filter: their syscalls kill the process.
    assert_eq!(run(&only_native, I386, 20, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(
        run(&only_native, X86_64, 39 | X32_SYSCALL_BIT, [0; 6]),
        RET_KILL_PROCESS
    );
    assert_eq!(run(&only_native, 0xc00000b7, 172, [0; 6]), RET_KILL_PROCESS);

    let all = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]})))
    .unwrap();
    // getpid is 39 on x86_64 and x32, 20 on i386.
    assert_eq!(run(&all, X86_64, 39, [0; 6]), RET_ERRNO | 1);
    assert_eq!(
        run(&all, X86_64, 39 | X32_SYSCALL_BIT, [0; 6]),
        RET_ERRNO | 1
    );
    assert_eq!(run(&all, I386, 20, [0; 6]), RET_ERRNO | 1);
    assert_eq!(run(&all, I386, 39, [0; 6]), RET_ALLOW);
}

fn one_arg(op: &str, value: u64, two: Option<u64>) -> Filter {
    let mut arg = json!({"index":1,"value":value,"op":op});
    if let Some(t) = two {
        arg["valueTwo"] = json!(t);
    }
    compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
        "syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[arg]}]}),
    ))
    .unwrap()
}

fn blocked(f: &Filter, arg1: u64) -> bool {
    run(f, X86_64, nr("chmod"), [0, arg1, 0, 0, 0, 0]) == RET_ERRNO | 13
}

#[test]
fn argument_operators_on_64_bit_values() {
    let big = 0x1_0000_0005u64;
    let cases: [(&str, u64, &[u64], &[u64]); 6] = [
        (
            "SCMP_CMP_EQ",
            big,
            &[big],
            &[5, big + 1, big - 1, 0x2_0000_0005],
        ),
        ("SCMP_CMP_NE", big, &[5, 0x2_0000_0005, 0], &[big]),
        (
            "SCMP_CMP_GT",
            big,
            &[big + 1, 0x2_0000_0000],
            &[big, 5, 0xffff_ffff],
        ),
        (
            "SCMP_CMP_GE",
            big,
            &[big, big + 1, 0x2_0000_0000],
            &[big - 1, 5],
        ),
        (
            "SCMP_CMP_LT",
            big,
            &[big - 1, 5, 0xffff_ffff],
            &[big, big + 1, 0x2_0000_0000],
        ),
        ("SCMP_CMP_LE", big, &[big, 5], &[big + 1, 0x2_0000_0000]),
    ];
    for (op, value, hit, miss) in cases {
        let f = one_arg(op, value, None);
        for v in hit {
            assert!(blocked(&f, *v), "{op} {value:#x} should match {v:#x}");
        }
        for v in miss {
            assert!(!blocked(&f, *v), "{op} {value:#x} should not match {v:#x}");
        }
    }
    // MASKED_EQ: (arg & value) == valueTwo.
    let f = one_arg(
        "SCMP_CMP_MASKED_EQ",
        0xff00_0000_00f0,
        Some(0x1200_0000_0030),
    );
    assert!(blocked(&f, 0x1234_0000_0031));
    assert!(!blocked(&f, 0x1234_0000_0041));
    assert!(!blocked(&f, 0x1334_0000_0031));
}

#[test]
fn i386_compares_the_low_word_only() {
    let f = one_arg("SCMP_CMP_EQ", 0o777, None);
    let chmod_i386 = Abi::X86.number("chmod").unwrap();
    assert_eq!(
        run(&f, I386, chmod_i386, [0, 0o777, 0, 0, 0, 0]),
        RET_ERRNO | 13
    );
    assert_eq!(run(&f, I386, chmod_i386, [0, 0o755, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn conditions_on_distinct_args_and_repeated_args_or() {
    let f = compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
            {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[
            {"index":0,"value":2,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}),
    ))
    .unwrap();
    let p = nr("personality");
    assert_eq!(run(&f, X86_64, p, [0; 6]), RET_ALLOW);
    assert_eq!(run(&f, X86_64, p, [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, X86_64, p, [4, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    let s = nr("socket");
    assert_eq!(run(&f, X86_64, s, [2, 1, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, X86_64, s, [2, 2, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(run(&f, X86_64, s, [10, 1, 0, 0, 0, 0]), RET_ERRNO | 1);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let f = compile(&seccomp(
        json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
        "syscalls":[{"names":["read","write","getpid"],"action":"SCMP_ACT_ALLOW"}]}),
    ))
    .unwrap();
    assert_eq!(
        run(&f, X86_64, nr("clone3"), [0; 6]),
        RET_ERRNO | libc::ENOSYS as u32
    );
    assert_eq!(run(&f, X86_64, nr("open"), [0; 6]), RET_ERRNO | 1);
    assert_eq!(run(&f, X86_64, nr("getpid"), [0; 6]), RET_ALLOW);
    // With a kill default there is no such leniency.
    let f = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_KILL",
        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]})))
    .unwrap();
    assert_eq!(run(&f, X86_64, nr("clone3"), [0; 6]), RET_KILL_THREAD);
}

#[test]
fn unsupported_requests_are_refused() {
    let err = |v: serde_json::Value| compile(&seccomp(v)).unwrap_err().to_string();
    assert!(err(json!({"defaultAction":"SCMP_ACT_NOTIFY"}))
        .contains("SCMP_ACT_NOTIFY is not supported"));
    assert!(err(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}))
        .starts_with("linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY"));
    assert!(
        err(json!({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock"}))
            .contains("listenerPath")
    );
    assert!(err(
        json!({"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]})
    )
    .starts_with("linux.seccomp.flags"));
    assert!(err(json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
        "args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}))
    .contains("index 6"));
    assert!(
        err(json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}))
            .contains("errnoRet 70000")
    );
}

#[test]
fn flags_are_passed_through() {
    let f = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ALLOW",
        "flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]})))
    .unwrap();
    assert_eq!(f.flags, 7);
}

#[test]
fn a_docker_sized_profile_fits() {
    // Every x86_64 syscall allowed, with argument rules on a few, on three architectures.
    let names: Vec<&str> = tables::X86_64.iter().map(|(n, _)| *n).collect();
    let f = compile(&seccomp(json!({"defaultAction":"SCMP_ACT_ERRNO",
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":names,"action":"SCMP_ACT_ALLOW"},
            {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288u64,"op":"SCMP_CMP_MASKED_EQ","valueTwo":0}]},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]})))
    .unwrap();
    eprintln!("docker-sized filter: {} instructions", f.program.len());
    assert!(f.program.len() <= bpf::MAX_INSNS, "{}", f.program.len());
    assert_eq!(run(&f, X86_64, nr("openat"), [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&f, I386, Abi::X86.number("openat").unwrap(), [0; 6]),
        RET_ALLOW
    );
}

#[test]
fn features_list_only_what_compiles() {
    let f = features();
    for action in f["actions"].as_array().unwrap() {
        let sc = seccomp(json!({"defaultAction": action}));
        assert!(compile(&sc).is_ok(), "{action}");
    }
    for op in f["operators"].as_array().unwrap() {
        let sc = seccomp(
            json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":op}]}]}),
        );
        assert!(compile(&sc).is_ok(), "{op}");
    }
    for flag in f["supportedFlags"].as_array().unwrap() {
        assert!(
            compile(&seccomp(
                json!({"defaultAction":"SCMP_ACT_ALLOW","flags":[flag]})
            ))
            .is_ok(),
            "{flag}"
        );
    }
}
