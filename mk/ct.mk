# Constant-time check of the gate (dudect-style Welch t test). Included by the top Makefile; not part of
# `make test` (a statistical measurement on a shared, noisy machine). docs/RELIABILITY.md has the method.

CT_MEASUREMENTS ?= 1000000
CT_CPU          ?= 1

.PHONY: ct-bench

ct-bench: ## dudect timing-leak test of Gate::check_ct vs check (Welch |t| < 4.5; ~10 s, pinned to one core)
	$(CARGO) build --release -q -p tcap-benches --example dudect
	taskset -c $(CT_CPU) nice -n 10 target/release/examples/dudect $(CT_MEASUREMENTS)
