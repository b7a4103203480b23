#!/usr/bin/env bash
# Runs berth-runtime's lifecycle example on a busybox bundle (built as demo.sh builds it) whose
# process is `sh -c 'exit 3'`: the example must print exit status 3, exit 0, and leave nothing
# under its state root. Usage: example-runtime.sh LIFECYCLE_EXAMPLE BERTH (BERTH writes the
# default config.json).
set -euo pipefail
example=$(realpath "$1")
berth=$(realpath "$2")
work=$(mktemp -d /tmp/berth-example.XXXXXX)
root="$work/state"
id="example-$$"
trap '"$berth" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

bundle="$work/bundle"
# shellcheck source=integration/lib/busybox-bundle.sh
. "$(dirname "$0")/lib/busybox-bundle.sh"
make_busybox_bundle "$bundle" "$berth"
set_config "$bundle" '.process.args = ["sh", "-c", "exit 3"]'

nothing_left() {
  local left
  left=$(find "$root" -mindepth 1 2>/dev/null || true)
  if [ -n "$left" ]; then
    echo "FAIL: left under the state root:" >&2
    echo "$left" >&2
    exit 1
  fi
}

out=$("$example" "$bundle" "$root" "$id" 3)
echo "$out"
grep -qx 'exit status: 3' <<<"$out" || { echo "FAIL: the example did not report exit status 3" >&2; exit 1; }
nothing_left
# The wrong expectation must fail: the example really checks the status.
if "$example" "$bundle" "$root" "$id-2" 4 >/dev/null 2>&1; then
  echo "FAIL: the example accepted exit status 3 as 4" >&2
  exit 1
fi
nothing_left
echo "ok: lifecycle example reported exit status 3 and left nothing behind"
