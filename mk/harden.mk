# Hardening: fuzzing (cargo-fuzz, nightly), Miri, driver fault injection. Included by the top Makefile.
# docs/RELIABILITY.md says what each target runs, what it costs and what it found.

FUZZ_TARGETS   := descriptor tcpdb records stream snapshot network sketch registry gate
# Sanitizer for the fuzz builds: `none` by default (every target is safe Rust end to end; see
# docs/RELIABILITY.md), `address` for an ASan run: `make fuzz FUZZ_SANITIZER=address`.
FUZZ_SANITIZER ?= none
FUZZ_SMOKE_SECS ?= 20
FUZZ_SECS      ?= 1800
FUZZ_RUNS      ?= 10000000
# At most two fuzzers at once (shared 2-core machines).
FUZZ_JOBS      ?= 2
NIGHTLY        ?= +nightly
MIRI_PROPTEST_CASES ?= 4
# Isolation off: proptest's failure persistence asks for the current directory. The skipped tests are
# long simulations or exhaustive loops over safe code (hours under Miri); docs/RELIABILITY.md argues each.
MIRIFLAGS      ?= -Zmiri-disable-isolation
MIRI_SKIP      := extreme_inputs_saturate_without_panic burst_scores_above_background \
                  ongoing_attack_stays_anomalous_with_filtering \
                  kb_table_matches_to_canonical

.PHONY: fuzz-tools fuzz-build fuzz-seeds fuzz-smoke fuzz fuzz-lint miri fault-test

fuzz-tools: ## Nightly toolchain and cargo-fuzz (installed if missing: ~1.5 min)
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@$(CARGO) $(NIGHTLY) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz-build: fuzz-tools ## Build every fuzz target
	cd fuzz && nice $(CARGO) $(NIGHTLY) fuzz build -O -a -s $(FUZZ_SANITIZER)

fuzz-seeds: ## Seed corpora from ../shared/data and `tcapd gen` (not committed; adds to fuzz/corpus/*/data-*)
	$(CARGO) build -q -p tcap-driver --bin tcapd
	python3 fuzz/make_seeds.py --tcapd target/debug/tcapd

fuzz-smoke: fuzz-build ## Each fuzz target for FUZZ_SMOKE_SECS (20 s), two at a time; fails on any finding
	@python3 fuzz/make_seeds.py --synthetic-only
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P 2 -I{} fuzz/run.sh {} $(FUZZ_SMOKE_SECS) -1 $(FUZZ_SANITIZER)

fuzz: fuzz-seeds fuzz-build ## Long runs: each target to FUZZ_RUNS (10 M) execs or FUZZ_SECS, two at a time
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} fuzz/run.sh {} $(FUZZ_SECS) $(FUZZ_RUNS) $(FUZZ_SANITIZER)

fuzz-lint: ## rustfmt and clippy for the fuzz crate (its own workspace)
	cd fuzz && $(CARGO) fmt -- --check
	cd fuzz && $(CARGO) $(NIGHTLY) clippy --all-targets -- -D warnings

miri: ## Miri on tcap-core's unit tests (proptest cases reduced) and tcap-ffi's
	@rustup $(NIGHTLY) component list --installed | grep -q '^miri' || rustup $(NIGHTLY) component add miri rust-src
	PROPTEST_CASES=$(MIRI_PROPTEST_CASES) MIRIFLAGS="$(MIRIFLAGS)" $(CARGO) $(NIGHTLY) miri test -p tcap-core --lib \
	  -- $(addprefix --skip ,$(MIRI_SKIP))
	PROPTEST_CASES=$(MIRI_PROPTEST_CASES) MIRIFLAGS="$(MIRIFLAGS)" $(CARGO) $(NIGHTLY) miri test -p tcap-ffi --lib

fault-test: ## The driver's fault-injection and load tests alone (they also run in `make test`)
	$(CARGO) test -p tcap-driver --test fault_io --test fault_disk --test fault_serve
