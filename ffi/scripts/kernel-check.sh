#!/usr/bin/env bash
# kernel-check.sh LIBTCAP_A — checks the no_std libtcap.a built for x86_64-unknown-none is fit for
# kernel-adjacent code. It links what a consumer would link: a partial link (`ld -r`) of the archive
# members that the exported tcap_* functions need, exactly as the final link would pull them. Then:
#   1. the only undefined symbols left are memcpy/memmove/memset/memcmp/bcmp (the kernel provides them);
#   2. no floating point: no soft-float or libm routine is referenced or pulled in, and the machine code
#      touches no x87/SSE/AVX register;
#   3. no thread-local storage: no .tdata/.tbss section and no TLS symbol.
# Symbols are read with readelf, never nm: GNU nm hands objects that carry an .llvmbc section (some
# compiler_builtins members do) to the LLVM gold plugin, which can abort, and an empty list would pass.
set -euo pipefail
#
# `kernel-check.sh --self-test LIBTCAP_A` proves the checker can fail: it adds an object that uses TLS,
# double arithmetic and an unknown external to the link and expects all three to be caught.
if [ "${1:-}" = "--self-test" ]; then
  lib=${2:?usage: kernel-check.sh --self-test path/to/libtcap.a}
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  cat >"$t/bad.c" <<'C'
_Thread_local int tcap_bad_counter;
extern int tcap_bad_external(void);
double tcap_bad(double x) { tcap_bad_counter++; return x * 1.5 + tcap_bad_external(); }
C
  cc -O1 -fno-pic -c "$t/bad.c" -o "$t/bad.o"
  if "$0" "$lib" "$t/bad.o" >"$t/out" 2>&1; then cat "$t/out"; echo "kernel-check self-test: the checker passed a bad archive"; exit 1; fi
  for want in 'undefined symbol tcap_bad_external' 'floating-point/SIMD instructions' 'TLS'; do
    grep -q "$want" "$t/out" || { cat "$t/out"; echo "kernel-check self-test: '$want' not reported"; exit 1; }
  done
  echo "kernel-check self-test: a bad archive is refused (1 passed, 0 failed)"
  exit 0
fi
lib=${1:?usage: kernel-check.sh path/to/libtcap.a [extra.o ...]}
shift
extra=("$@") # objects linked beside the archive (the self-test's bad object)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "kernel-check: FAIL: $*"; fail=1; }

# readelf -sW columns: Num Value Size Type Bind Vis Ndx Name.
syms() { readelf -sW "$1" | awk 'NF>=8 && $1 ~ /^[0-9]+:$/ {print $4, $5, $7, $8}'; }
for f in "$lib" "${extra[@]}"; do syms "$f"; done >"$tmp/lib.syms"
mapfile -t exports < <(awk '$1=="FUNC" && $2=="GLOBAL" && $3!="UND" && $4 ~ /^tcap_/ {print $4}' "$tmp/lib.syms" | sort -u)
[ "${#exports[@]}" -gt 0 ] || { echo "kernel-check: no tcap_ symbols in $lib"; exit 1; }
echo "kernel-check: ${#exports[@]} exported functions: ${exports[*]}"

undef_args=()
for s in "${exports[@]}"; do undef_args+=(-u "$s"); done
ld -r -o "$tmp/closure.o" "${undef_args[@]}" "${extra[@]}" "$lib"

# 1. Undefined symbols.
allowed='^(memcpy|memmove|memset|memcmp|bcmp)$'
syms "$tmp/closure.o" >"$tmp/closure.syms"
[ -s "$tmp/closure.syms" ] || { echo "kernel-check: could not read the symbols of the linked closure"; exit 1; }
mapfile -t undef < <(awk '$3=="UND" && $4!="" && ($2=="GLOBAL" || $2=="WEAK") {print $4}' "$tmp/closure.syms" | sort -u)
echo "kernel-check: undefined symbols: ${undef[*]:-(none)}"
for s in "${undef[@]}"; do
  [[ $s =~ $allowed ]] || bad "undefined symbol $s (only memcpy/memmove/memset/memcmp/bcmp are allowed)"
done

# 2. Floating point: soft-float helpers (__addsf3, __muldf3, __fixdfsi, __floatsidf, __extendsfdf2, ...),
#    libm, and FP/SIMD registers in the code.
fp_sym='^__([a-z]+(sf|df|tf|xf|hf)[0-9]*|fix[a-z]*|float[a-z]*|powi[sdtx]f2)$|^(sqrt|sqrtf|floor|floorf|ceil|ceilf|fmod|fmodf|pow|powf|exp|expf|log|logf|fabs|fabsf)$'
while read -r sym; do
  if [[ $sym =~ $fp_sym ]]; then bad "floating-point symbol $sym"; fi
done < <(awk '{print $4}' "$tmp/closure.syms" | sort -u)
fp_insns=$(objdump -d --no-show-raw-insn "$tmp/closure.o" | grep -cE '%(xmm|ymm|zmm|st)[0-9(]|\bf(ld|st|add|mul|div|sub)[a-z]*\b' || true)
echo "kernel-check: instructions using x87/SSE/AVX registers: $fp_insns"
[ "$fp_insns" -eq 0 ] || bad "$fp_insns floating-point/SIMD instructions in the code"

# 3. Thread-local storage.
if readelf -SW "$tmp/closure.o" | grep -E '\.(tdata|tbss)\b' >/dev/null; then bad "TLS section (.tdata/.tbss)"; fi
tls_syms=$(awk '$1=="TLS"' "$tmp/closure.syms" | wc -l)
echo "kernel-check: TLS symbols: $tls_syms"
[ "$tls_syms" -eq 0 ] || bad "$tls_syms TLS symbols"

size=$(size -B -d "$tmp/closure.o" | awk 'NR==2 {print "text=" $1 " data=" $2 " bss=" $3}')
echo "kernel-check: linked closure $size"
if [ "$fail" -ne 0 ]; then
  echo "kernel-check: 0 passed, 1 failed"
  exit 1
fi
echo "kernel-check: 1 passed, 0 failed"
