#!/usr/bin/env bash
# Runs the firmware image in QEMU (mps2-an386, Cortex-M4F) with semihosting, and checks both its exit
# status (semihosting SYS_EXIT) and its output. Usage: run-qemu.sh path/to/tcap-firmware
set -euo pipefail
elf=${1:?usage: run-qemu.sh ELF}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
timeout 60 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$elf" >"$out" 2>&1 || status=$?
cat "$out"
if [ "$status" -eq 124 ]; then
  echo "firmware-test: timed out (no semihosting exit)"; exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "firmware-test: firmware exited with status $status"; exit 1
fi
# The scripted sequence must have run to the end and reported its verdicts.
grep -q '^tcap firmware ' "$out" || { echo "firmware-test: no banner"; exit 1; }
grep -Eq '^registry: built-in, [0-9]+ commands, ' "$out" || { echo "firmware-test: no built-in registry"; exit 1; }
grep -q '^rm .*risk=CRITICAL' "$out" || { echo "firmware-test: no verdict for rm"; exit 1; }
# The gate ran: an unknown command was not allowed, and the hostile agent ended quarantined.
grep -Eq '^gate  agent=2 frobnicate +risk=UNKNOWN +decision=(require_approval|deny|quarantine) ' "$out" \
  || { echo "firmware-test: no refusal of the unknown command"; exit 1; }
grep -Eq '^gate  agent=3 ls +risk=SAFE +decision=quarantine +agent=quarantined ' "$out" \
  || { echo "firmware-test: the hostile agent was not quarantined"; exit 1; }
grep -Eq '^firmware: [1-9][0-9]* passed, 0 failed$' "$out" || { echo "firmware-test: missing summary"; exit 1; }
echo "firmware-test: QEMU exit status 0, output checked"
