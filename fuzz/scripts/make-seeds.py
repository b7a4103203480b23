#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/ (committed; rerun only to change the seeds).

Seeds are small on purpose: AFL++ mutates them byte by byte, and a few hundred bytes to a
few KiB each keeps every execution cheap. Inputs that once failed go under
corpus/TARGET/regressions/ by hand, with the fix, and are never regenerated.
"""
import io, json, os, tarfile

tarfile.RECORDSIZE = 512  # no padding to 10 KiB: small seeds

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
ROOT = os.path.join(HERE, "..", "..")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(v):
    return json.dumps(v, separators=(",", ":"))


# config: config.json
default = open(os.path.join(ROOT, "crates/berth-spec/src/default_config.json")).read()
put("config", "default.json", compact(json.loads(default)))
put("config", "minimal.json", compact({
    "ociVersion": "1.0.2", "root": {"path": "rootfs"},
    "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}}))
put("config", "full.json", compact({
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "c1", "domainname": "example",
    "process": {
        "terminal": False, "cwd": "/work", "args": ["/bin/sh", "-c", "true"],
        "env": ["PATH=/bin", "A=b"],
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [10, 20]},
        "capabilities": {"bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
                         "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"],
                         "inheritable": [], "ambient": ["CAP_CHOWN"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512},
                    {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}],
        "noNewPrivileges": True, "oomScoreAdj": 100,
        "scheduler": {"policy": "SCHED_OTHER", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "0", "final": "0-1"}},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/data", "type": "bind", "source": "rootfs",
         "options": ["rbind", "ro", "rprivate", "nosymfollow"]},
        {"destination": "/etc/hosts", "source": "/etc/hosts", "options": ["bind", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
                       {"type": "network"}, {"type": "user"}, {"type": "cgroup"}],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                     "fileMode": 438, "uid": 0, "gid": 0}],
        "resources": {"devices": [{"allow": False, "access": "rwm"},
                                  {"allow": True, "type": "c", "major": 10, "minor": 229,
                                   "access": "rw"}],
                      "memory": {"limit": 67108864}, "cpu": {"shares": 512, "cpus": "0"},
                      "pids": {"limit": 32}},
        "cgroupsPath": "/berth/fuzz",
        "rootfsPropagation": "rslave",
        "maskedPaths": ["/proc/kcore", "/sys/firmware"],
        "readonlyPaths": ["/proc/sys", "proc/bus"],
        "personality": {"domain": "LINUX32"},
        "mountLabel": "", "intelRdt": None}}))
put("config", "seccomp.json", compact({
    "ociVersion": "1.0.2", "root": {"path": "rootfs"},
    "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
    "linux": {"seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [
            {"names": ["read", "write", "exit_group", "not_a_syscall"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE"},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}]}}}))
put("config", "rootless.json", compact({
    "ociVersion": "1.0.0", "root": {"path": "/nonexistent/rootfs"},
    "process": {"cwd": "/", "args": ["id"], "user": {"uid": 0, "gid": 0},
                "apparmorProfile": "", "selinuxLabel": ""},
    "linux": {"namespaces": [{"type": "user"}, {"type": "mount"},
                             {"type": "network", "path": "/proc/1/ns/net"}],
              "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
              "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
              "timeOffsets": {"monotonic": {"secs": 1, "nanosecs": 0}}},
    "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 1}]},
    "annotations": {"a": "b"}}))

# layer: uncompressed layer tars


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            name, kind = e[0], e[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = e[3] if len(e) > 3 else (0o755 if kind == "d" else 0o644)
            data = b""
            if kind == "d":
                ti.type = tarfile.DIRTYPE
            elif kind == "f":
                data = e[2] if len(e) > 2 else b""
                ti.size = len(data)
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
            elif kind == "c":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "p":
                ti.type = tarfile.FIFOTYPE
            elif kind == "x":  # a file with PAX records (xattrs, ids)
                data = e[2]
                ti.size = len(data)
                ti.pax_headers = {"SCHILY.xattr.user.fuzz": "v",
                                  "SCHILY.xattr.security.capability": "\x01",
                                  "uid": "1000", "gid": "1000", "mtime": "1700000000.5"}
            t.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


put("layer", "basic.tar", tar([
    ("etc", "d"), ("etc/hostname", "f", b"fuzz\n"), ("usr", "d"), ("usr/bin", "d"),
    ("usr/bin/sh", "f", b"#!x\n", 0o4755), ("bin", "l", "usr/bin"),
    ("etc/hn", "h", "etc/hostname"), ("dev", "d"), ("dev/null", "c"), ("run", "d"),
    ("run/fifo", "p")]))
put("layer", "whiteouts.tar", tar([
    ("a", "d"), ("a/x", "f", b"x"), ("a/.wh.x", "f"), ("b", "d"), ("b/.wh..wh..opq", "f"),
    ("b/y", "f", b"y"), (".wh.c", "f"), ("a/.wh.", "f")]))
put("layer", "escapes.tar", tar([
    ("up", "l", ".."), ("up/canary", "f", b"pwned"), ("abs", "l", "/"),
    ("abs/canary", "f", b"pwned"), ("../canary", "f", b"pwned"), ("hl", "h", "../canary"),
    ("d", "d"), ("d/s", "l", "../../.."), ("d/s/x", "f", b"pwned"), ("up/.wh.canary", "f"),
    ("abs/.wh..wh..opq", "f"), ("/rootfs-abs", "f", b"ok")]))
put("layer", "pax.tar", tar([
    ("long/" + "n" * 120 + "/file", "x", b"data"), ("z", "x", b""),
    ("m", "d", None, 0o000), ("m/f", "f", b"m")]))

# registry_json: manifests, indexes, image configs
H = "sha256:" + "a" * 64
put("registry_json", "oci-index.json", compact({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": H, "size": 500,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha512:" + "b" * 128,
         "size": 501, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
put("registry_json", "docker-list.json", compact({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "digest": H, "size": 1,
                   "platform": {"architecture": "amd64", "os": "linux"}}]}))
put("registry_json", "oci-manifest.json", compact({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": H, "size": 3},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": H,
                "size": 100},
               {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": H,
                "size": 100, "urls": ["https://example.com/x"]}],
    "annotations": {"a": "b"}}))
put("registry_json", "docker-manifest.json", compact({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": H,
               "size": 3},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": H,
                "size": 9}]}))
put("registry_json", "image-config.json", compact({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "author": "me",
    "config": {"User": "alice:wheel", "Env": ["PATH=/usr/bin", "NOEQ"],
               "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "WorkingDir": "/srv",
               "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
               "Labels": {"k": "v"}, "StopSignal": "SIGTERM"},
    "rootfs": {"type": "layers", "diff_ids": [H]},
    "history": [{"created_by": "x"}]}))
put("registry_json", "image-config-uid.json", compact({
    "architecture": "arm64", "os": "linux", "variant": "v8",
    "config": {"User": "1000:1000", "Cmd": ["true"]}, "rootfs": {"type": "layers", "diff_ids": []}}))

# registry_text: WWW-Authenticate headers, references, users
for i, s in enumerate([
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
        'Basic realm="Registry Realm"',
        'bearer realm=https://ghcr.io/token, service=ghcr.io ,scope="repository:a/b:pull,push"',
        "alpine", "library/alpine:3.19", "localhost:5000/a/b:tag@" + H,
        "ghcr.io/owner/img@" + H, "[::1]:5000/foo_bar/baz--qux:v1.0", "Docker.IO/x",
        "oci:/var/lib/images/busybox:latest", "oci-archive:img.tar", "docker-archive:/x.tar:repo:tag",
        "docker://quay.io/a/b", "linux/arm64/v8", "alice", "1000:wheel", "daemon:1", "root"]):
    put("registry_text", f"seed-{i:02}", s)
