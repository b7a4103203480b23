# Benchmarks (bench/*.sh).
# `make bench` builds the release binary, then runs every benchmark script that exists:
# bench/runtime.sh (berth vs runc vs crun lifecycle) and, when other areas add them,
# bench/image* and bench/cgroups* (convention: bench/NAME.sh or bench/NAME/run.sh). Results go to BENCHMARKS.md; nothing asserts on timings.
.PHONY: bench

bench: release
	@set -e; for s in bench/runtime.sh $(filter-out bench/runtime.sh,$(wildcard bench/*.sh bench/*/run.sh)); do \
		echo "== $$s"; bash "$$s"; \
	done
