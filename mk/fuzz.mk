# Fuzzing (fuzz/): AFL++ through cargo-afl on the stable toolchain, four targets (config.json
# loading and validation, the layer applier, registry JSON documents, registry/reference text),
# each run for FUZZ_SECONDS from the committed corpus in fuzz/corpus/. See fuzz/run.sh.
FUZZ_SECONDS ?= 60
.PHONY: fuzz fuzz-ci
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(FUZZ_TARGETS)

# The CI-sized run: 20 s per target.
fuzz-ci:
	FUZZ_SECONDS=20 bash fuzz/run.sh

# CI runs it (issue 15: fuzzing for a bounded time in CI). Cold, on 2 cores: cargo-afl install
# ~2 min, instrumented build ~7 min, runs 4 x 20 s.
EXTRA_TESTS += fuzz-ci
