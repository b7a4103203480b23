# berth — build, demo, tests and benchmarks. Feature areas add their own targets in mk/*.mk.
CARGO ?= cargo
PREFIX ?= /usr/local
RELEASE_BIN := target/release/berth
# Extra test targets appended by mk/*.mk; `make test` runs them after the cargo tests.
EXTRA_TESTS :=

.PHONY: all build release deps demo test test-cargo lint bench install clean

all: release

build:
	$(CARGO) build

# Static and not position-independent: a static-pie binary relocates ~0.4 MiB of pointers at every
# start (dirty pages in every berth process); without PIE those pages stay clean and shared. berth
# runs for milliseconds and no container code ever runs in its address space, so fixed load
# addresses cost little. opt-level "s" (Cargo.toml) saves another ~0.3 MiB of touched text.
release:
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" $(CARGO) build --release --target x86_64-unknown-linux-gnu
	mkdir -p target/release && cp target/x86_64-unknown-linux-gnu/release/berth target/x86_64-unknown-linux-gnu/release/berth-image target/release/

# Debian packages the tests and the demo need (lists in .ci/apt-packages.d/).
deps:
	apt-get update
	apt-get install -y --no-install-recommends $$(cat .ci/apt-packages.d/*.txt | grep -v '^#')

-include mk/*.mk

demo: deps release
	bash integration/demo.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace

test-cargo:
	$(CARGO) test --all-targets -- --test-threads=2

test: deps lint test-cargo $(EXTRA_TESTS)

install: release
	install -m 0755 target/release/berth target/release/berth-image $(PREFIX)/bin/

clean:
	$(CARGO) clean
