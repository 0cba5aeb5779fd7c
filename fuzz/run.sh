#!/usr/bin/env bash
# Runs one fuzz target for a bounded time/number of runs and prints one summary line.
#   run.sh TARGET SECONDS [RUNS] [SANITIZER]
# The writable corpus is fuzz/corpus-work/TARGET (ignored by git), seeded read-only from fuzz/corpus/TARGET.
# Exits non-zero on any finding; the reproducer is in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
t=$1 secs=$2 runs=${3:--1} san=${4:-none}
mkdir -p "corpus-work/$t" "corpus/$t" logs
log="logs/$t.log"
start=$(date +%s)
status=0
nice -n 10 cargo +nightly fuzz run -O -a -s "$san" "$t" "corpus-work/$t" "corpus/$t" -- \
  -max_total_time="$secs" -runs="$runs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
  >"$log" 2>&1 || status=$?
execs=$(grep -o 'number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
cov=$(grep -oE '#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' || true)
printf '%-11s %12s execs %5ss  %-10s sanitizer=%s %s\n' "$t" "$execs" "$(( $(date +%s) - start ))" \
  "${cov:-}" "$san" "$([ $status = 0 ] && echo ok || echo "FAILED (see fuzz/$log)")"
exit $status
