#!/bin/sh
# vm/run.sh CMD...: boots the throwaway pure-cgroup-v2 VM (QEMU, software emulation), runs CMD
# there (cwd = the work tree, which is shared read-write; the host's root is the guest's root,
# read-only) and exits with CMD's status. VM_MEM / VM_CPUS override the size; VM_TIMEOUT (s)
# bounds the whole boot, so a hung guest fails instead of eating the CI budget.
set -eu
VM=$(cd "$(dirname "$0")" && pwd)
WT=$(cd "$VM/.." && pwd)
"$VM/build.sh"
RUN=$(mktemp -d "$VM/cache/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
printf '%s\n' "$*" > "$RUN/cmd"
# KVM is not usable on these machines (nested software hypervisor): TCG only, multi-threaded.
timeout "${VM_TIMEOUT:-1200}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "${VM_MEM:-2048}" -smp "${VM_CPUS:-2}" \
  -kernel "$VM/cache/vmlinuz" -initrd "$VM/cache/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 berth.wt=$WT berth.run=$RUN" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$WT,mount_tag=work,security_model=none,multidevs=remap" \
  -nographic -no-reboot -nodefaults -serial stdio -monitor none
if [ -f "$RUN/rc" ]; then
  exit "$(cat "$RUN/rc")"
fi
echo "vm/run.sh: the VM stopped without reporting a status" >&2
exit 125
