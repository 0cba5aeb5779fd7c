# tcap — top-level entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.DEFAULT_GOAL := help
include mk/ffi.mk
include mk/harden.mk
include mk/insn.mk
include mk/ct.mk

.PHONY: help all build demo test lint fmt bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n",$$1,$$2}'

all: build ## Build everything (release)

build: ## Build the workspace in release mode
	$(CARGO) build --release --workspace

demo: ## Run the main job on the built-in registry and workload
	$(CARGO) run --release -q -p tcap-driver --bin tcapd -- demo

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint ## Run the whole test suite (what CI runs)
	$(CARGO) nextest run --workspace --lib --bins --tests --examples --no-fail-fast
	$(CARGO) test --workspace --doc
	$(MAKE) --no-print-directory ffi-all
	$(MAKE) --no-print-directory insn-check
	$(MAKE) --no-print-directory fuzz-smoke

bench: ## Criterion benchmarks (each against a peer in the same run)
	$(CARGO) bench -p tcap-benches

fmt: ## Format the code
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
