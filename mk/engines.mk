# Engines (issue 14): docker.io, podman and containerd (ctr), each started privately by its script
# under a temp dir, driving the runtime as their users do. `make integration` runs them with berth
# and fails only on a regression against integration/engines/berth-passes.txt;
# `make integration RUNTIME=runc` runs the same checks with runc as the control (any failure fails).
# TAP and counts: target/engines/<runtime>/. Results and berth's failures: integration/engines/RESULTS.md.
.PHONY: integration

integration: $(if $(RUNTIME),,release)
	RUNTIME="$(if $(RUNTIME),$(RUNTIME),target/release/berth)" bash integration/engines/run.sh

# The run with berth takes about 3-4 minutes here (images are built once into /var/cache/berth-engines).
EXTRA_TESTS += integration
