#!/bin/sh
# Runs as PID 1 inside the VM after switch_root: a pure cgroup v2 host with every controller
# enabled, then the command the host asked for (berth.run=DIR on the kernel command line: DIR/cmd
# is run, its exit status goes to DIR/rc).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
RUN=$(arg berth.run)
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "VM: cannot enable $c"
done
# securityfs: where AppArmor (on in Debian's kernel) is seen enabled and takes its profiles.
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || echo "VM: cannot mount securityfs"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
hostname berth-vm
cd "$(arg berth.wt)" || true
if [ -n "$RUN" ] && [ -f "$RUN/cmd" ]; then
  /bin/sh "$RUN/cmd"
  echo $? > "$RUN/rc"
else
  echo "VM: no command (berth.run)"; /bin/sh
fi
sync
poweroff -f
