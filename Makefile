# lbchannel — build, install and test the C library (GNU make).
#
#   make                 release liblbchannel.so (static Swift runtime, only lbc_* exported)
#   make test            everything: Swift unit tests, library checks, C tests, Python tests
#   make demo            local backends, one balanced channel, per-backend tables; DNS discovery
#   make install         PREFIX=/usr/local DESTDIR=  (lib, header, pkg-config file)
#   make uninstall       remove what install put there
#   make deps            install missing Debian/PyPI packages (used by test and demo)
#   make fuzz            libFuzzer + ASan over the decoders of server bytes (FUZZ_SECONDS=20)
#   make bench           lbchannel vs gRPC C++, h2load, grpcio -> benchmarks/RESULTS.md
#   make sanitize        the C tests under ThreadSanitizer (SAN=thread) or ASan (SAN=address)
#   make clean           remove build products
#
# SCRATCH selects SwiftPM's build directory (default .build), e.g. to keep a
# second build next to the default one: make test SCRATCH=.build-ci

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.NOTPARALLEL:

SWIFT   ?= swift
PYTHON  ?= python3
CC      ?= cc
SCRATCH ?= .build

PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Run after a root install without DESTDIR to refresh the loader cache.
LDCONFIG   ?= ldconfig

# The version lives in one place: LBC_VERSION in the header.
HEADER  := include/lbchannel.h
VERSION := $(shell sed -n 's/^[#]define LBC_VERSION "\([0-9.]*\)".*/\1/p' $(HEADER))
ifeq ($(VERSION),)
$(error could not read LBC_VERSION from $(HEADER))
endif
MAJOR   := $(word 1,$(subst ., ,$(VERSION)))
SONAME  := liblbchannel.so.$(MAJOR)
REALNAME := liblbchannel.so.$(VERSION)

SWIFT_FLAGS   := --scratch-path $(SCRATCH)
RELEASE_FLAGS := -c release -Xswiftc -static-stdlib -Xswiftc -use-ld=lld \
                 -Xlinker --version-script=$(CURDIR)/Sources/LBChannel/lbchannel.map \
                 -Xlinker -soname=$(SONAME)
LIB := $(SCRATCH)/release/liblbchannel.so

# make test: a private install prefix, C test binaries, and the C compiler flags.
TEST_PREFIX := $(abspath $(SCRATCH))/test-prefix
C_TEST_DIR  := $(SCRATCH)/c-tests
C_WARN      := -Wall -Wextra -Werror -pthread
TEST_PKG    := PKG_CONFIG_PATH=$(TEST_PREFIX)/lib/pkgconfig pkg-config
TEST_LIB    := $(TEST_PREFIX)/lib/$(REALNAME)

# The pkg-config file stays relocatable when the default layout is used.
PC_LIBDIR     := $(if $(filter $(PREFIX)/lib,$(LIBDIR)),$${exec_prefix}/lib,$(LIBDIR))
PC_INCLUDEDIR := $(if $(filter $(PREFIX)/include,$(INCLUDEDIR)),$${prefix}/include,$(INCLUDEDIR))

.PHONY: all build deps install uninstall test swift-test check-lib test-install \
        test-c test-python demo bench fuzz sanitize clean distclean version

all: build

build:
	$(SWIFT) build $(SWIFT_FLAGS) $(RELEASE_FLAGS) --product lbchannel
	@test -f $(LIB) || { echo "error: $(LIB) was not produced" >&2; exit 1; }
	@echo "built $(LIB) ($(VERSION), SONAME $(SONAME))"

$(LIB):
	$(MAKE) --no-print-directory build

deps:
	PYTHON=$(PYTHON) bash .ci/deps.sh

version:
	@echo $(VERSION)

# --- install -----------------------------------------------------------------

# Installs what `make` built (building it first only if there is none), so that
# `make && sudo make install` needs no Swift toolchain on root's PATH.
install: $(LIB)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/liblbchannel.so
	install -m 0644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/lbchannel.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(PC_LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/lbchannel.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/lbchannel.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/lbchannel.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v $(LDCONFIG) >/dev/null; then \
	    $(LDCONFIG) || true; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/liblbchannel.so \
	      $(DESTDIR)$(INCLUDEDIR)/lbchannel.h $(DESTDIR)$(PKGCONFIGDIR)/lbchannel.pc

# --- test --------------------------------------------------------------------
# Each step fails the whole run; the order matters, hence the sequential recipe.

test:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory swift-test
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory test-install
	$(MAKE) --no-print-directory check-lib
	$(MAKE) --no-print-directory test-c
	$(MAKE) --no-print-directory test-python
	@echo "make test: all steps passed"

# Unit tests of the Swift modules, debug build (never with -static-stdlib).
swift-test:
	$(SWIFT) test $(SWIFT_FLAGS)

# Install the release library into a private prefix; the C and Python tests use
# that installed copy, exactly as a user would.
test-install:
	rm -rf $(TEST_PREFIX)
	$(MAKE) --no-print-directory install PREFIX=$(TEST_PREFIX) DESTDIR= LDCONFIG=true
	test -L $(TEST_PREFIX)/lib/$(SONAME) && test -L $(TEST_PREFIX)/lib/liblbchannel.so
	test "$$(readlink $(TEST_PREFIX)/lib/liblbchannel.so)" = $(SONAME)
	test "$$(readlink $(TEST_PREFIX)/lib/$(SONAME))" = $(REALNAME)
	test "$$($(TEST_PKG) --modversion lbchannel)" = $(VERSION)

check-lib:
	bash .ci/check-lib.sh $(TEST_LIB) $(SONAME) $(HEADER)

test-c:
	mkdir -p $(C_TEST_DIR)
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/test_unary Tests/c/test_unary.c \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/unary examples/unary.c \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/test_interop Tests/c/test_interop.c \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/test_streams Tests/c/test_streams.c \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/test_tls Tests/c/test_tls.c \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	ldd $(C_TEST_DIR)/test_unary | grep -q '$(TEST_PREFIX)/lib/$(SONAME)' \
	    || { echo "test_unary does not load the installed copy:" >&2; ldd $(C_TEST_DIR)/test_unary >&2; exit 1; }
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/unary
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/test_unary
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/test_interop
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/test_streams
	PYTHON=$(PYTHON) bash Tests/c/run-tls.sh $(C_TEST_DIR)/test_tls

test-python:
	LBCHANNEL_LIBRARY=$(TEST_LIB) \
	PYTHONPATH=$(CURDIR)/bindings/python$${PYTHONPATH:+:$$PYTHONPATH} \
	    $(PYTHON) -m pytest -q Tests/python

# --- demo --------------------------------------------------------------------

demo:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory build
	LBCHANNEL_LIBRARY=$(abspath $(LIB)) $(PYTHON) examples/demo.py

# libFuzzer + ASan over the I/O-free decoders (FUZZ_SECONDS, default 20).
FUZZ_SECONDS ?= 20
fuzz:
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# The C tests against a ThreadSanitizer (SAN=thread) or AddressSanitizer
# (SAN=address) debug build of the library; any report fails the run.
SAN ?= thread
SAN_SCRATCH := .build-san-$(SAN)
SAN_CLANG := $(dir $(shell command -v $(SWIFT)))clang
SAN_RT := $(dir $(shell command -v $(SWIFT)))../lib/swift/clang/lib/linux
SAN_ENV := TSAN_OPTIONS="halt_on_error=1 exitcode=66" ASAN_OPTIONS="detect_leaks=1 exitcode=66"
sanitize:
	$(SWIFT) build --scratch-path $(SAN_SCRATCH) --sanitize=$(SAN) --product lbchannel
	for t in test_unary test_interop test_streams test_tls; do \
	    $(SAN_CLANG) -g -O1 -fsanitize=$(SAN) -shared-libsan -pthread -Iinclude Tests/c/$$t.c \
	        -L$(SAN_SCRATCH)/debug -llbchannel -Wl,-rpath,$(abspath $(SAN_SCRATCH))/debug \
	        -Wl,-rpath,$(abspath $(SAN_RT)) -o $(SAN_SCRATCH)/$$t || exit 1; \
	done
	$(SAN_ENV) Tests/c/run.sh $(SAN_SCRATCH)/test_unary
	$(SAN_ENV) Tests/c/run-interop.sh $(SAN_SCRATCH)/test_interop
	$(SAN_ENV) Tests/c/run-interop.sh $(SAN_SCRATCH)/test_streams
	$(SAN_ENV) Tests/c/run-tls.sh $(SAN_SCRATCH)/test_tls

# --- bench -------------------------------------------------------------------
# lbchannel against gRPC C++, h2load and grpcio on the same backends, same run;
# writes benchmarks/RESULTS.md (BENCH_RUNS, BENCH_SECONDS tune it).

bench:
	benchmarks/run.sh

# --- clean -------------------------------------------------------------------

clean:
	-$(SWIFT) package $(SWIFT_FLAGS) clean
	rm -rf $(TEST_PREFIX) $(C_TEST_DIR) .pytest_cache Tests/python/.pytest_cache

distclean: clean
	rm -rf $(SCRATCH)
