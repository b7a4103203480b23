# The long reliability soak (crates/berth-cli/tests/soak.rs): the same tests `cargo test` runs in
# CI with bounded counts, here with 1000 create/start/delete cycles, 50 containers created at
# once and 1000 `create`s killed with SIGKILL at random points, each checked to leave no
# process, cgroup, state directory, host mount or descriptor on the state directory behind. Needs root. BERTH_SOAK_SEED
# replays the kill points of a failed run (the test prints its seed).
.PHONY: soak
soak:
	BERTH_SOAK_CYCLES=$${BERTH_SOAK_CYCLES:-1000} BERTH_SOAK_PARALLEL=$${BERTH_SOAK_PARALLEL:-50} \
	BERTH_SOAK_KILLS=$${BERTH_SOAK_KILLS:-1000} \
		$(CARGO) test -p berth-cli --test soak -- --test-threads 1 --nocapture
