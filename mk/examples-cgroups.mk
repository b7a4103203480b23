# berth-cgroups' runnable example (issue 13): a cgroup with a memory and a pids limit, made,
# checked and removed through the library's public API. Needs root; exits non-zero on a wrong
# read-back.
.PHONY: test-example-cgroups

test-example-cgroups:
	$(CARGO) run -p berth-cgroups --example limit_a_process

EXTRA_TESTS += test-example-cgroups
