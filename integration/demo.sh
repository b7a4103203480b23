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
# shellcheck source=integration/lib/busybox-bundle.sh
. integration/lib/busybox-bundle.sh
make_busybox_bundle "$bundle" "$BERTH"
# Non-interactive demo; show what the container sees of itself.
# shellcheck disable=SC2016 # the $(...) are for the container's shell
set_config "$bundle" '.hostname = "berth-demo"
    | .process.args = ["sh", "-c", "echo \"hello from $(hostname), pid $$ in my pid namespace\"; echo uid=$(id -u); grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status; mount | grep -E \" / | /proc \" | head -n 2"]'

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
