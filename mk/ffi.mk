# mk/ffi.mk — the C ABI (libtcap), its header, C/C++ clients, packaging, firmware and kernel-adjacent
# builds. Included from the top-level Makefile (`include mk/ffi.mk`); also usable alone with
# `make -f mk/ffi.mk TARGET`. Every target installs what it needs on a fresh Debian machine.
#
#   header         regenerate ffi/include/tcap.h with the pinned cbindgen (commit the result)
#   header-check   fail if the committed header differs from the generator's output, or its version
#                  macros differ from Cargo.toml, or docs/C-API.md's example is not tests/c/example.c
#   ffi-test       C11 and C++17 clients, -Wall -Wextra -Wpedantic -Werror, static and dynamic
#   ffi-asan       the C and C++ clients under AddressSanitizer + UndefinedBehaviorSanitizer
#   ffi-valgrind   the C and C++ clients (static and dynamic) under valgrind, errors and leaks fatal
#   install        PREFIX=/usr/local [DESTDIR=] [LIBDIR=] [INCLUDEDIR=]: libtcap.a, libtcap.so.X.Y.Z
#                  (+ .so.MAJOR, .so links), tcap.h, pkgconfig/tcap.pc
#   install-test   install into a temporary prefix; build tests/c/example.c with pkg-config only; run it
#   firmware       no_std firmware for thumbv7em-none-eabihf (mps2-an386) running the gate on the full
#                  built-in registry + size report, <= 48 KiB flash; and the bare gate's floor
#                  (examples/gate_floor.rs)
#   firmware-test  run both in qemu-system-arm with semihosting; check exit status and output
#   kernel-check   tcap-core + no_std libtcap.a for x86_64-unknown-none; undefined symbols only mem*,
#                  no floating point, no TLS
#   ffi-all        everything above that `make test` should run

SHELL := /bin/bash
CARGO ?= cargo
CC ?= cc
CXX ?= g++

FFI_ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST))/..)))
FFI_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(FFI_ROOT)/target)
FFI_REL := $(FFI_TARGET_DIR)/release
FFI_OUT := $(FFI_TARGET_DIR)/ffi
FFI_STAGE := $(FFI_OUT)/lib
TCAP_VERSION := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' $(FFI_ROOT)/Cargo.toml)
TCAP_MAJOR := $(firstword $(subst ., ,$(TCAP_VERSION)))
# What `cargo rustc -p tcap-ffi --crate-type staticlib -- --print native-static-libs` reports for the
# std build on Linux/glibc; a static client links these after libtcap.a.
FFI_NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

FFI_WARN := -Wall -Wextra -Wpedantic -Werror
FFI_CFLAGS := -std=c11 $(FFI_WARN) -O1 -g -I$(FFI_ROOT)/ffi/include
FFI_CXXFLAGS := -std=c++17 $(FFI_WARN) -O1 -g -I$(FFI_ROOT)/ffi/include
FFI_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FFI_C_SRC := $(FFI_ROOT)/tests/c/test_tcap.c
FFI_CXX_SRC := $(FFI_ROOT)/tests/c/test_tcap.cpp
FFI_EXAMPLE := $(FFI_ROOT)/tests/c/example.c

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

FW_DIR := $(FFI_ROOT)/firmware
FW_TARGET := thumbv7em-none-eabihf
FW_ELF := $(FW_DIR)/target/$(FW_TARGET)/release/tcap-firmware
FW_FLOOR_ELF := $(FW_DIR)/target/$(FW_TARGET)/release/examples/gate_floor
FW_FLASH_MAX := 49152
KERNEL_TARGET := x86_64-unknown-none

.PHONY: header header-check ffi-lib ffi-test ffi-asan ffi-valgrind install install-test \
	firmware firmware-test kernel-check ffi-all ffi-tools-c ffi-tools-arm

# ---- tools (installed only when missing) ---------------------------------------------------------------
ffi-tools-c:
	@command -v $(CC) >/dev/null && command -v $(CXX) >/dev/null && command -v pkg-config >/dev/null \
	  && command -v valgrind >/dev/null && command -v readelf >/dev/null \
	  || (apt-get update && apt-get install -y --no-install-recommends gcc g++ pkg-config valgrind binutils)

ffi-tools-arm:
	@command -v qemu-system-arm >/dev/null \
	  || (apt-get update && apt-get install -y --no-install-recommends qemu-system-arm)
	@command -v arm-none-eabi-size >/dev/null \
	  || (apt-get update && apt-get install -y --no-install-recommends binutils-arm-none-eabi gcc-arm-none-eabi)

# rustup target add, only when missing (the toolchain itself is pinned by rust-toolchain.toml).
define ffi_rust_target
	@rustup target list --installed | grep -qx '$(1)' || rustup target add $(1)
endef

# ---- header --------------------------------------------------------------------------------------------
header: ## Regenerate ffi/include/tcap.h with the pinned cbindgen
	TCAP_BLESS=1 $(CARGO) test -q -p tcap-ffi --test header header_is_up_to_date

header-check: ## Fail if tcap.h is stale or its version macros differ from Cargo.toml
	$(CARGO) test -q -p tcap-ffi --test header

# ---- libraries, staged with their SONAME links ------------------------------------------------------------
ffi-lib: ffi-tools-c
	@# tcap-ffi is an rlib in Cargo.toml (so the firmware can depend on it); the C archives come from here.
	TCAP_CDYLIB=1 $(CARGO) rustc -q -p tcap-ffi --release --lib --crate-type staticlib,cdylib
	@mkdir -p $(FFI_STAGE)
	cp -f $(FFI_REL)/libtcap.a $(FFI_STAGE)/libtcap.a
	cp -f $(FFI_REL)/libtcap.so $(FFI_STAGE)/libtcap.so.$(TCAP_VERSION)
	ln -sfn libtcap.so.$(TCAP_VERSION) $(FFI_STAGE)/libtcap.so.$(TCAP_MAJOR)
	ln -sfn libtcap.so.$(TCAP_MAJOR) $(FFI_STAGE)/libtcap.so
	@readelf -d $(FFI_STAGE)/libtcap.so.$(TCAP_VERSION) | grep -q 'SONAME.*\[libtcap.so.$(TCAP_MAJOR)\]' \
	  || { echo "libtcap.so has no SONAME libtcap.so.$(TCAP_MAJOR)"; exit 1; }
	@undef=$$(nm -D --defined-only $(FFI_STAGE)/libtcap.so.$(TCAP_VERSION) | awk '$$2=="T"{print $$3}' \
	  | grep -v '^tcap_' | grep -v '^_' || true); \
	  [ -z "$$undef" ] || { echo "libtcap.so exports non-tcap_ symbols: $$undef"; exit 1; }

# ---- clients ---------------------------------------------------------------------------------------------
FFI_BINS := c-static c-dynamic cpp-static cpp-dynamic example-static example-dynamic

ffi-test: ffi-lib ## C11 and C++17 clients, warnings as errors, static and dynamic
	$(CC) $(FFI_CFLAGS) $(FFI_C_SRC) $(FFI_STAGE)/libtcap.a $(FFI_NATIVE_LIBS) -o $(FFI_OUT)/c-static
	$(CC) $(FFI_CFLAGS) $(FFI_C_SRC) -L$(FFI_STAGE) -ltcap -Wl,-rpath,$(FFI_STAGE) -o $(FFI_OUT)/c-dynamic
	$(CXX) $(FFI_CXXFLAGS) $(FFI_CXX_SRC) $(FFI_STAGE)/libtcap.a $(FFI_NATIVE_LIBS) -o $(FFI_OUT)/cpp-static
	$(CXX) $(FFI_CXXFLAGS) $(FFI_CXX_SRC) -L$(FFI_STAGE) -ltcap -Wl,-rpath,$(FFI_STAGE) -o $(FFI_OUT)/cpp-dynamic
	$(CC) $(FFI_CFLAGS) $(FFI_EXAMPLE) $(FFI_STAGE)/libtcap.a $(FFI_NATIVE_LIBS) -o $(FFI_OUT)/example-static
	$(CC) $(FFI_CFLAGS) $(FFI_EXAMPLE) -L$(FFI_STAGE) -ltcap -Wl,-rpath,$(FFI_STAGE) -o $(FFI_OUT)/example-dynamic
	@# The header is also valid C++ with the C compiler's strictest C11 settings, and vice versa.
	$(CXX) -x c++ $(FFI_CXXFLAGS) -fsyntax-only $(FFI_ROOT)/ffi/include/tcap.h
	$(CC) -x c $(FFI_CFLAGS) -fsyntax-only $(FFI_ROOT)/ffi/include/tcap.h
	@# The dynamic clients really load libtcap.so.$(TCAP_MAJOR) (by SONAME) from the staged directory.
	@ldd $(FFI_OUT)/c-dynamic | grep -q 'libtcap.so.$(TCAP_MAJOR) => $(FFI_STAGE)/' \
	  || { ldd $(FFI_OUT)/c-dynamic; echo "c-dynamic does not load the staged libtcap.so.$(TCAP_MAJOR)"; exit 1; }
	@! nm $(FFI_OUT)/c-static | grep -q ' U tcap_' || { echo "c-static is not statically linked"; exit 1; }
	@set -e; for b in $(FFI_BINS); do echo "== $$b"; $(FFI_OUT)/$$b; done

ffi-asan: ffi-lib ## The C and C++ clients under ASan + UBSan
	$(CC) $(FFI_CFLAGS) $(FFI_SAN) $(FFI_C_SRC) $(FFI_STAGE)/libtcap.a $(FFI_NATIVE_LIBS) -o $(FFI_OUT)/c-asan
	$(CXX) $(FFI_CXXFLAGS) $(FFI_SAN) $(FFI_CXX_SRC) $(FFI_STAGE)/libtcap.a $(FFI_NATIVE_LIBS) -o $(FFI_OUT)/cpp-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(FFI_OUT)/c-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(FFI_OUT)/cpp-asan

ffi-valgrind: ffi-test ## The C and C++ clients under valgrind, any error or leak fatal
	@set -e; for b in c-static c-dynamic cpp-static cpp-dynamic; do echo "== valgrind $$b"; \
	  valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible $(FFI_OUT)/$$b; done

# ---- install ---------------------------------------------------------------------------------------------
# $(1) prefix, $(2) libdir, $(3) includedir, $(4) pkgconfigdir, $(5) destdir
define ffi_install
	install -d $(5)$(2) $(5)$(3) $(5)$(4)
	install -m 644 $(FFI_STAGE)/libtcap.a $(5)$(2)/libtcap.a
	install -m 755 $(FFI_STAGE)/libtcap.so.$(TCAP_VERSION) $(5)$(2)/libtcap.so.$(TCAP_VERSION)
	ln -sfn libtcap.so.$(TCAP_VERSION) $(5)$(2)/libtcap.so.$(TCAP_MAJOR)
	ln -sfn libtcap.so.$(TCAP_MAJOR) $(5)$(2)/libtcap.so
	install -m 644 $(FFI_ROOT)/ffi/include/tcap.h $(5)$(3)/tcap.h
	sed -e 's|@PREFIX@|$(1)|g' -e 's|@LIBDIR@|$(2)|g' -e 's|@INCLUDEDIR@|$(3)|g' \
	  -e 's|@VERSION@|$(TCAP_VERSION)|g' -e 's|@LIBS_PRIVATE@|$(FFI_NATIVE_LIBS)|g' \
	  $(FFI_ROOT)/ffi/tcap.pc.in > $(5)$(4)/tcap.pc
	chmod 644 $(5)$(4)/tcap.pc
endef

install: ffi-lib ## Install libtcap, tcap.h and tcap.pc (PREFIX=/usr/local, DESTDIR=)
	$(call ffi_install,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$(PKGCONFIGDIR),$(DESTDIR))

install-test: ffi-lib ## Install to a temporary prefix and build a client with pkg-config only
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "== DESTDIR staging: PREFIX=/opt/tcap DESTDIR=$$tmp/stage"; \
	$(MAKE) --no-print-directory -f $(FFI_ROOT)/mk/ffi.mk install PREFIX=/opt/tcap DESTDIR=$$tmp/stage \
	  LIBDIR=/opt/tcap/lib INCLUDEDIR=/opt/tcap/include PKGCONFIGDIR=/opt/tcap/lib/pkgconfig >/dev/null; \
	for f in lib/libtcap.a lib/libtcap.so.$(TCAP_VERSION) lib/libtcap.so.$(TCAP_MAJOR) lib/libtcap.so \
	  include/tcap.h lib/pkgconfig/tcap.pc; do test -e "$$tmp/stage/opt/tcap/$$f" || { echo "missing $$f"; exit 1; }; done; \
	grep -qx 'prefix=/opt/tcap' $$tmp/stage/opt/tcap/lib/pkgconfig/tcap.pc; \
	echo "== install: PREFIX=$$tmp/usr"; \
	$(MAKE) --no-print-directory -f $(FFI_ROOT)/mk/ffi.mk install PREFIX=$$tmp/usr \
	  LIBDIR=$$tmp/usr/lib INCLUDEDIR=$$tmp/usr/include PKGCONFIGDIR=$$tmp/usr/lib/pkgconfig >/dev/null; \
	export PKG_CONFIG_PATH=$$tmp/usr/lib/pkgconfig; \
	test "$$(pkg-config --modversion tcap)" = "$(TCAP_VERSION)"; \
	echo "pkg-config --cflags --libs tcap: $$(pkg-config --cflags --libs tcap)"; \
	cd $$tmp && $(CC) -std=c11 $(FFI_WARN) $(FFI_EXAMPLE) -o example $$(pkg-config --cflags --libs tcap); \
	LD_LIBRARY_PATH=$$tmp/usr/lib ldd ./example | grep "libtcap.so.$(TCAP_MAJOR) => $$tmp/usr/lib/" >/dev/null; \
	LD_LIBRARY_PATH=$$tmp/usr/lib ./example; \
	echo "== static, from pkg-config's libdir and Libs.private"; \
	$(CC) -std=c11 $(FFI_WARN) $(FFI_EXAMPLE) -o example-static $$(pkg-config --cflags tcap) \
	  "$$(pkg-config --variable=libdir tcap)/libtcap.a" $$(pkg-config --static --libs-only-l tcap | sed 's/-ltcap\b//'); \
	! readelf -d example-static | grep 'libtcap' >/dev/null; \
	./example-static >/dev/null; \
	echo "install-test: 2 passed, 0 failed"

# ---- firmware --------------------------------------------------------------------------------------------
# $(1) ELF, $(2) FLASH limit: section sizes, the registry image's share, and the limit enforced.
define fw_size_report
	arm-none-eabi-size -A -d $(1) | sed -n '1,9p'
	@arm-none-eabi-size -B -d $(1)
	@flash=$$(arm-none-eabi-size -B -d $(1) | awk 'NR==2{print $$1+$$2}'); \
	  image=$$(arm-none-eabi-nm -S $(1) | awk '/REGISTRY_IMAGE|BUILTIN_IMAGE|BUILTIN_COMPACT/{print $$2; exit}'); \
	  image=$$((16#$${image:-0})); \
	  echo "flash (vectors+text+rodata+data): $$flash bytes of $(2)" \
	    "(registry image $$image incl. alignment, code and other data $$((flash - image)))"; \
	  [ "$$flash" -le $(2) ] || { echo "firmware exceeds $(2) bytes of flash by $$((flash - $(2)))"; exit 1; }
endef

firmware: ffi-tools-arm ## Build the Cortex-M4 firmware (full built-in registry) and print its size (<= 48 KiB flash)
	$(call ffi_rust_target,$(FW_TARGET))
	cd $(FW_DIR) && $(CARGO) build -q --release --target-dir $(FW_DIR)/target --bin tcap-firmware --example gate_floor
	$(call fw_size_report,$(FW_ELF),$(FW_FLASH_MAX))
	@flash=$$(arm-none-eabi-size -B -d $(FW_FLOOR_ELF) | awk 'NR==2{print $$1+$$2}'); \
	  echo "gate_floor (open, init, one check/observe/check_name; no output): $$flash bytes of flash"

firmware-test: firmware ## Run the firmware (and the gate floor) in qemu-system-arm (mps2-an386) with semihosting
	$(FW_DIR)/run-qemu.sh $(FW_ELF)
	@# The floor prints nothing: its exit status says whether its calls succeeded.
	timeout 60 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
	  -semihosting-config enable=on,target=native -kernel $(FW_FLOOR_ELF)
	@echo "gate_floor: QEMU exit status 0"

# ---- kernel-adjacent -------------------------------------------------------------------------------------
kernel-check: ffi-tools-c ## no_std tcap-core + libtcap.a for x86_64-unknown-none: only mem* undefined, no FP, no TLS
	$(call ffi_rust_target,$(KERNEL_TARGET))
	$(CARGO) build -q -p tcap-core --release --target $(KERNEL_TARGET)
	CARGO_PROFILE_RELEASE_LTO=fat $(CARGO) rustc -q -p tcap-ffi --release --target $(KERNEL_TARGET) \
	  --no-default-features --features panic-handler --crate-type staticlib
	$(FFI_ROOT)/ffi/scripts/kernel-check.sh $(FFI_TARGET_DIR)/$(KERNEL_TARGET)/release/libtcap.a
	$(FFI_ROOT)/ffi/scripts/kernel-check.sh --self-test $(FFI_TARGET_DIR)/$(KERNEL_TARGET)/release/libtcap.a

ffi-all: header-check ffi-test ffi-asan ffi-valgrind install-test firmware-test kernel-check
