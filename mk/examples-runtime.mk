# berth-runtime's example (crates/berth-runtime/examples/lifecycle.rs) against a real container:
# a busybox bundle whose process exits 3; create, start, wait and delete through the library's
# public API must report status 3 and leave nothing under the state root. Needs root, a static
# busybox and jq (.ci/apt-packages.d).
.PHONY: test-example-runtime
EXTRA_TESTS += test-example-runtime

test-example-runtime:
	$(CARGO) build -p berth-runtime --example lifecycle
	$(CARGO) build -p berth-cli --bin berth
	bash integration/example-runtime.sh target/debug/examples/lifecycle target/debug/berth
