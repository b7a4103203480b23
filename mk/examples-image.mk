# berth-image's example (crates/berth-image/examples/unpack.rs): unpack a locally built OCI
# layout (busybox-static, made with umoci: no network) through the library's public API and
# check the bundle (config.json, rootfs/bin/busybox).
.PHONY: test-example-image

test-example-image:
	$(CARGO) build -p berth-image --example unpack
	bash integration/example-image.sh target/debug/examples/unpack

EXTRA_TESTS += test-example-image
