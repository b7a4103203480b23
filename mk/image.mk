# berth-image: unpack benchmark (Debian minbase-like image, vs umoci and the tar floor).
.PHONY: bench-image
bench-image:
	$(CARGO) build --release --bin berth-image
	bash bench/image/run.sh target/release/berth-image
