#!/usr/bin/env bash
# Cost of loading Docker's default seccomp profile at `create`: berth beside runc and crun, on
# the busybox bundle of bench/runtime.sh, once without linux.seccomp and once with the profile
# dockerd would send for a default container on this host.
#
# Usage: bench/seccomp.sh            (normally through `make bench`, after bench/runtime.sh)
#
# Environment:
#   BERTH, RUNC, CRUN   runtime binaries (default target/release/berth, runc, crun from PATH)
#   MOBY_PROFILE        moby's profiles/seccomp/default.json (default: taken from Debian's
#                       golang-github-docker-docker-dev, fetched with `apt-get download` into
#                       target/bench-cache/ the first time)
#   BENCH_DIR           scratch dir (default /tmp/berth-bench-seccomp)
#   BENCH_PHASE_RUNS    create+delete rounds per runtime and bundle (default 50)
#   BENCH_UPDATE        when 1 (the default), rewrite the seccomp section of BENCHMARKS.md
#
# Measurements only: nothing here asserts on timings.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# shellcheck source=bench/lib/private-cgroup-view.sh
. "$here/lib/private-cgroup-view.sh"

BERTH=${BERTH:-$repo/target/release/berth}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
BENCH_DIR=${BENCH_DIR:-/tmp/berth-bench-seccomp}
BENCH_PHASE_RUNS=${BENCH_PHASE_RUNS:-50}
BENCH_UPDATE=${BENCH_UPDATE:-1}

die() {
	echo "bench/seccomp.sh: $*" >&2
	exit 1
}

for tool in jq /bin/busybox; do
	command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
done
[ -x "$BERTH" ] || die "$BERTH is missing: run 'make release'"
[ -x "$RUNC" ] || die "runc is missing (apt-get install runc)"
[ -x "$CRUN" ] || die "crun is missing (apt-get install crun)"

# --- Docker's default profile ---------------------------------------------------
profile_path=profiles/seccomp/default.json
if [ -z "${MOBY_PROFILE:-}" ]; then
	cache=$repo/target/bench-cache
	MOBY_PROFILE=$cache/moby-default.json
	if [ ! -s "$MOBY_PROFILE" ]; then
		mkdir -p "$cache/deb"
		(cd "$cache/deb" && apt-get download golang-github-docker-docker-dev >/dev/null 2>&1) ||
			die "cannot download golang-github-docker-docker-dev (set MOBY_PROFILE to moby's $profile_path)"
		deb=$(echo "$cache"/deb/golang-github-docker-docker-dev_*.deb)
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards "*/github.com/docker/docker/$profile_path" >"$MOBY_PROFILE"
		dpkg-deb -f "$deb" Version >"$MOBY_PROFILE.version"
		rm -rf "$cache/deb"
	fi
fi
[ -s "$MOBY_PROFILE" ] || die "$MOBY_PROFILE is empty"
moby_version=$(cat "$MOBY_PROFILE.version" 2>/dev/null || echo "version unknown")

# What dockerd sends for a default container on amd64 (its setupSeccomp, restated): the
# architectures of the archMap entry of x86_64 with its sub-architectures; the syscall groups
# that need no capability beyond Docker's default set and apply to amd64; no comments.
default_caps='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'
oci_seccomp() {
	jq --argjson caps "$default_caps" '
		def has_all($need): ($need // []) - $caps == [];
		def has_any($some): (($some // []) - ($some // [] | . - $caps)) != [];
		{
			defaultAction,
			defaultErrnoRet,
			architectures: (.archMap[] | select(.architecture == "SCMP_ARCH_X86_64")
				| [.architecture] + .subArchitectures),
			syscalls: [.syscalls[]
				| select(has_all(.includes.caps))
				| select((.includes.arches // []) == [] or (.includes.arches | index("amd64")))
				| select(((.excludes.arches // []) | index("amd64")) | not)
				| select(has_any(.excludes.caps) | not)
				| {names, action, args} + (if .errnoRet then {errnoRet} else {} end)]
		} | with_entries(select(.value != null))' "$MOBY_PROFILE"
}

# --- bundles -------------------------------------------------------------------
rm -rf "$BENCH_DIR"
plain=$BENCH_DIR/plain
mkdir -p "$plain/rootfs/bin" "$plain/rootfs"/{dev,proc,sys,tmp,etc}
cp /bin/busybox "$plain/rootfs/bin/busybox"
for applet in sh true sleep; do ln -s busybox "$plain/rootfs/bin/$applet"; done
(cd "$plain" && "$RUNC" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"] | del(.linux.seccomp)' \
	"$plain/config.json" >"$plain/config.json.new"
mv "$plain/config.json.new" "$plain/config.json"
docker=$BENCH_DIR/docker
mkdir -p "$docker"
oci_seccomp >"$BENCH_DIR/seccomp.json"
jq --arg root "$plain/rootfs" --slurpfile sc "$BENCH_DIR/seccomp.json" \
	'.root.path = $root | .linux.seccomp = $sc[0]' "$plain/config.json" >"$docker/config.json"
rules=$(jq '[.syscalls[].names | length] | add' "$BENCH_DIR/seccomp.json")

names=(berth runc crun)
declare -A bin=([berth]=$BERTH [runc]=$RUNC [crun]=$CRUN)
rt() { # rt NAME ARGS...: the runtime with its own --root
	"${bin[$1]}" --root "$BENCH_DIR/root-$1" "${@:2}"
}

# Sanity: every runtime runs the bundle under the profile (busybox true passes Docker's
# profile) and its filter is in force (Seccomp: 2 in the container's status).
for n in "${names[@]}"; do
	rt "$n" run -b "$docker" "sanity-$n" </dev/null >/dev/null || die "$n cannot run under Docker's profile"
	jq '.process.args = ["/bin/sh", "-c", "grep ^Seccomp: /proc/self/status"]' "$docker/config.json" >"$BENCH_DIR/check.json"
	mkdir -p "$BENCH_DIR/check-$n" && cp "$BENCH_DIR/check.json" "$BENCH_DIR/check-$n/config.json"
	got=$(rt "$n" run -b "$BENCH_DIR/check-$n" "check-$n" </dev/null)
	[ "$(echo "$got" | awk '{print $2}')" = 2 ] || die "$n: no filter in the container ($got)"
done

stats() { # stdin: microseconds, one a line -> "mean median" in ms
	sort -n | awk '{v[NR]=$1/1000; s+=$1/1000} END {
		if (NR == 0) { print "nan nan"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.2f %.2f\n", s/NR, m }'
}

# --- create, with and without the profile ----------------------------------------
# Rounds interleaved between runtimes and bundles, as bench/runtime.sh does; each create gets a
# fresh id and is deleted (untimed) before the next round.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${names[@]}"; do : >"$BENCH_DIR/plain-$n"; : >"$BENCH_DIR/docker-$n"; done
for ((i = -3; i < BENCH_PHASE_RUNS; i++)); do # 3 warmup rounds
	for b in plain docker; do
		for n in "${names[@]}"; do
			id="$b-$n-$i"
			t0=${EPOCHREALTIME/./}
			rt "$n" create -b "$BENCH_DIR/$b" "$id" </dev/null >/dev/null 2>&1 || die "$n: create $b failed"
			t1=${EPOCHREALTIME/./}
			rt "$n" delete -f "$id" >/dev/null 2>&1
			((i >= 0)) && echo $((t1 - t0)) >>"$BENCH_DIR/$b-$n"
		done
	done
done

declare -A res
for n in "${names[@]}"; do
	for b in plain docker; do
		read -r mean median < <(stats <"$BENCH_DIR/$b-$n")
		res[${b}_mean_$n]=$mean
		res[${b}_median_$n]=$median
	done
	res[cost_median_$n]=$(awk -v a="${res[docker_median_$n]}" -v b="${res[plain_median_$n]}" 'BEGIN {printf "%.2f", a - b}')
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { # row LABEL KEY
	local b=${res[$2_berth]} r=${res[$2_runc]} c=${res[$2_crun]}
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$b" "$r" "$c" "$(ratio "$b" "$r")" "$(ratio "$b" "$c")"
}
out=$BENCH_DIR/seccomp.md
{
	echo "<!-- seccomp:begin (generated by bench/seccomp.sh; do not edit by hand) -->"
	echo "## Loading Docker's default seccomp profile at create: berth vs runc vs crun"
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, kernel $(uname -r); load average at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- $("$BERTH" --version 2>/dev/null | head -1) ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')), libseccomp linked statically; $("$RUNC" --version | head -1); $("$CRUN" --version | head -1)"
	echo "- Profile: moby's $profile_path (Debian golang-github-docker-docker-dev $moby_version) as dockerd sends it for a default container on amd64: $(jq -c .architectures "$BENCH_DIR/seccomp.json"), $(jq '.syscalls | length' "$BENCH_DIR/seccomp.json") rules naming $rules syscalls, default $(jq -r .defaultAction "$BENCH_DIR/seccomp.json")"
	echo "- Bundle: bench/runtime.sh's (busybox, runc's default spec, /bin/true) without linux.seccomp and with the profile; $BENCH_PHASE_RUNS interleaved rounds of \`create\` (timed) + \`delete -f\` (not timed)"
	echo "- Reproduce: \`make bench\` (or \`bench/seccomp.sh\` after \`make release\`)"
	echo
	echo "| create | berth | runc | crun | berth/runc | berth/crun |"
	echo "|---|---|---|---|---|---|"
	row "without seccomp, median ms" plain_median
	row "with Docker's profile, median ms" docker_median
	row "with Docker's profile, mean ms" docker_mean
	row "cost of the profile (median difference), ms" cost_median
	echo "<!-- seccomp:end -->"
} >"$out"
cat "$out"

if [ "$BENCH_UPDATE" = 1 ]; then
	md=$repo/BENCHMARKS.md
	if [ -f "$md" ] && grep -q '<!-- seccomp:begin' "$md"; then
		awk -v f="$out" '
			/<!-- seccomp:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
			/<!-- seccomp:end -->/ { skip = 0; next }
			!skip { print }' "$md" >"$md.new"
		mv "$md.new" "$md"
	else
		{
			[ -f "$md" ] && cat "$md" && echo
			cat "$out"
		} >"$md.new"
		mv "$md.new" "$md"
	fi
	echo "updated $md"
fi
