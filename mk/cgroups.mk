# cgroups (issue 10): container tests on a pure cgroup v2 kernel in a throwaway QEMU VM
# (vm/README in docs/cgroups.md). The v1 side runs in the ordinary `cargo test`.
.PHONY: test-cgroup-v2-vm test-all-v2-vm vm-image vm-shell bench-cgroups

vm-image:
	sh vm/build.sh

# All tests/cgroups_*.rs inside the VM; prints its own pass/fail/skip counts.
test-cgroup-v2-vm:
	CARGO="$(CARGO)" sh vm/test.sh

# Every integration test inside the VM (≈ 2 min; not part of `make test`).
test-all-v2-vm:
	VM_TESTS='*' CARGO="$(CARGO)" sh vm/test.sh

# An interactive shell in the VM (Ctrl-A X quits QEMU).
vm-shell:
	sh vm/run.sh 'exec /bin/sh -i </dev/console >/dev/console 2>&1'

bench-cgroups:
	sh bench/cgroups/run.sh

EXTRA_TESTS += test-cgroup-v2-vm
