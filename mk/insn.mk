# Performance regression guard: instruction counts of the gate's hot operations under callgrind,
# compared with the committed baseline. Included by the top Makefile. docs/RELIABILITY.md explains it.
#
#   make insn-check     fail when an operation costs > 10% more instructions than benches/insn-baseline.txt
#   make insn-bless     rewrite the baseline (deliberately; give the reason in the commit message)
#   TCAP_INSN_INFLATE=lookup-name make insn-check   test hook: doubles one op, so the check must fail

INSN_BASELINE ?= benches/insn-baseline.txt
INSN_PROBE    := target/release/examples/insn_probe

.PHONY: insn-tools insn-probe insn-check insn-bless

insn-tools: ## valgrind (installed with apt-get if missing)
	@command -v valgrind >/dev/null \
	  || (apt-get update && apt-get install -y --no-install-recommends valgrind)

insn-probe: insn-tools
	$(CARGO) build --release -q -p tcap-benches --example insn_probe

insn-check: insn-probe ## Instruction counts of the hot paths vs benches/insn-baseline.txt (fails at +10%)
	$(INSN_PROBE) check $(INSN_BASELINE)

insn-bless: insn-probe ## Rewrite benches/insn-baseline.txt from this build (commit it with the reason)
	$(INSN_PROBE) check $(INSN_BASELINE) --bless
