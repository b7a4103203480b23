#!/bin/sh
# Builds what the cgroup-v2 VM boots, into vm/cache (gitignored): Debian's own kernel package
# (apt-get download, so the kernel matches what Debian users run) and a busybox initramfs with
# the 9p modules. Idempotent: reuses what is there.
set -eu
VM=$(cd "$(dirname "$0")" && pwd)
C="$VM/cache"
mkdir -p "$C"
cd "$C"
if [ ! -f vmlinuz ] || [ ! -d modules ]; then
  deb=$(ls linux-image-*-amd64_*.deb 2>/dev/null | grep -v -- '-dbg' | head -n1 || true)
  if [ -z "$deb" ]; then
    pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
    [ -n "$pkg" ] || { echo "vm/build.sh: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 1; }
    # apt's sandbox user cannot write here; download as-is.
    apt-get download -o APT::Sandbox::User=root "$pkg"
    deb=$(ls linux-image-*-amd64_*.deb | head -n1)
  fi
  rm -rf kx modules && mkdir kx modules
  dpkg-deb -x "$deb" kx
  cp kx/boot/vmlinuz-* vmlinuz
  for ko in $(find kx/lib/modules -name virtio.ko -o -name virtio_ring.ko -o -name 'virtio_pci*.ko' \
      -o -name fscache.ko -o -name netfs.ko -o -name 9pnet.ko -o -name 9pnet_virtio.ko -o -name 9p.ko); do
    cp "$ko" modules/
  done
  rm -rf kx
fi
if [ ! -f initramfs.cpio.gz ] || [ "$VM/init" -nt initramfs.cpio.gz ]; then
  BB=$(command -v busybox || true)
  [ -n "$BB" ] && file -L "$BB" 2>/dev/null | grep -q static || BB=/bin/busybox
  rm -rf ir && mkdir -p ir/bin ir/lib/modules ir/proc ir/sys ir/dev ir/newroot
  cp "$BB" ir/bin/busybox
  cp modules/*.ko ir/lib/modules/
  cp "$VM/init" ir/init
  chmod +x ir/init
  (cd ir && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.cpio.gz
  rm -rf ir
fi
