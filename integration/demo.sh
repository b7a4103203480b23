#!/usr/bin/env bash
# Builds a busybox-static bundle and runs a real container with the release berth binary:
# create → state → start → the container's output → delete, then a one-shot `run`.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/target/release/berth}
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root="$work/state"
trap '"$BERTH" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

bundle="$work/bundle"
mkdir -p "$bundle/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$bundle/rootfs/etc/group"

"$BERTH" spec --bundle "$bundle"
# Non-interactive demo: no terminal; show what the container sees of itself.
jq '.process.terminal = false
    | .hostname = "berth-demo"
    | .process.args = ["sh", "-c", "echo \"hello from $(hostname), pid $$ in my pid namespace\"; echo uid=$(id -u); grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status; mount | grep -E \" / | /proc \" | head -n 2"]' \
  "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "== berth create"
"$BERTH" --root "$root" create --bundle "$bundle" demo
"$BERTH" --root "$root" state demo
echo "== berth start (the container's output follows)"
"$BERTH" --root "$root" start demo
sleep 0.3
"$BERTH" --root "$root" list
echo "== berth delete"
"$BERTH" --root "$root" delete demo 2>/dev/null || "$BERTH" --root "$root" delete --force demo
echo "== berth run (exit status of the container is berth's)"
jq '.process.args = ["sh", "-c", "echo running; exit 7"]' "$bundle/config.json" > "$bundle/c" && mv "$bundle/c" "$bundle/config.json"
set +e
"$BERTH" --root "$root" run --bundle "$bundle" demo
echo "exit status: $?"
