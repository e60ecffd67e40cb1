#!/usr/bin/env bash
# lbchannel benchmark harness: everything `make bench` does.
#
#   benchmarks/run.sh                       BENCH_RUNS=5 BENCH_SECONDS=3 by default
#   BENCH_RUNS=7 BENCH_SECONDS=5 benchmarks/run.sh
#   LBCHANNEL_LIB=/path/liblbchannel.so benchmarks/run.sh   (skip the library build)
#   BENCH_SKIP_INSTALL=1                    do not apt-get / pip install missing tools
#   BENCH_CALLGRIND=0                       skip the instruction counts
#   BENCH_TLS=0                             skip the TLS rows (four more echo backends
#                                           serving TLS with certificates made by openssl)
#   BENCH_ONLY=tls,s1                       measure only the cases whose id starts so
#   BENCH_ONLY=scale,mem,stats,sys          only the many-endpoint rows (benchmarks/scale.py):
#                                           instructions per call at 1,000 vs 10 endpoints,
#                                           memory per idle connection after a 1 MiB call,
#                                           the stats snapshot's I/O-thread time, system
#                                           calls and context switches per call
#
# Installs missing tools (Debian: libgrpc++-dev protobuf-compiler-grpc protobuf-compiler
# nghttp2-client valgrind util-linux; PyPI: grpcio), builds the release library and
# the benchmark programs into .build-bench/, starts four C++ echo backends pinned
# to CPU 0, runs every client pinned to CPU 1 (benchmarks/runner.py), and writes
# benchmarks/RESULTS.md (benchmarks/report.py). The backends are stopped on any exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SCRATCH="$ROOT/.build-bench"
OUT="$SCRATCH/bench"
PYTHON="${PYTHON:-python3}"
export BENCH_RUNS="${BENCH_RUNS:-5}"
export BENCH_SECONDS="${BENCH_SECONDS:-3}"
BENCH_CALLGRIND="${BENCH_CALLGRIND:-1}"
NSERVERS=4
START_TS=$(date +%s)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- dependencies
install_deps() {
  local need=()
  command -v g++ >/dev/null || need+=(g++)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  pkg-config --exists grpc++ protobuf 2>/dev/null || need+=(libgrpc++-dev libprotobuf-dev)
  command -v protoc >/dev/null || need+=(protobuf-compiler)
  command -v grpc_cpp_plugin >/dev/null || need+=(protobuf-compiler-grpc)
  command -v h2load >/dev/null || need+=(nghttp2-client)
  command -v valgrind >/dev/null || need+=(valgrind)
  command -v taskset >/dev/null || need+=(util-linux)
  command -v strace >/dev/null || need+=(strace)
  if [ -z "${LBCHANNEL_LIB:-}" ]; then
    pkg-config --exists libnghttp2 2>/dev/null || need+=(libnghttp2-dev)
    pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev)
    pkg-config --exists libcares 2>/dev/null || need+=(libc-ares-dev)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    if [ "${BENCH_SKIP_INSTALL:-0}" = 1 ]; then
      log "missing: ${need[*]} (BENCH_SKIP_INSTALL=1)"; exit 1
    fi
    log "apt-get install ${need[*]}"
    local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! "$PYTHON" -c 'import grpc' 2>/dev/null; then
    [ "${BENCH_SKIP_INSTALL:-0}" = 1 ] && { log "missing: grpcio"; exit 1; }
    log "pip install grpcio"
    "$PYTHON" -m pip install -q grpcio
  fi
}

# ---------------------------------------------------------------------- builds
build_library() {
  if [ -n "${LBCHANNEL_LIB:-}" ]; then
    LIB="$(readlink -f "$LBCHANNEL_LIB")"
    [ -f "$LIB" ] || { log "LBCHANNEL_LIB=$LBCHANNEL_LIB does not exist"; exit 1; }
    LIBDIR="$OUT/lib"
    mkdir -p "$LIBDIR"
    ln -sf "$LIB" "$LIBDIR/liblbchannel.so"
    ln -sf "$LIB" "$LIBDIR/liblbchannel.so.0"
    # the drivers record the library's SONAME (liblbchannel.so.1 from 1.0 on)
    ln -sf "$LIB" "$LIBDIR/$(objdump -p "$LIB" | awk '$1 == "SONAME" {print $2}')"
  else
    log "building liblbchannel (release, static Swift runtime) into .build-bench/"
    (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release \
        -Xswiftc -static-stdlib -Xswiftc -use-ld=lld \
        -Xlinker --version-script="$ROOT/Sources/LBChannel/lbchannel.map" \
        -Xlinker -soname=liblbchannel.so.0 >"$OUT/swift-build.log" 2>&1) || {
      tail -40 "$OUT/swift-build.log" >&2; log "library build failed"; exit 1; }
    LIBDIR="$SCRATCH/release"
    ln -sf liblbchannel.so "$LIBDIR/liblbchannel.so.0"
  fi
  LIB="$LIBDIR/liblbchannel.so.0"
}

build_programs() {
  log "building echo_server, grpc_load, grpc_stream, lbc_load, lbc_stream, lbc_scale"
  local gen="$OUT/gen"
  mkdir -p "$gen"
  protoc -I "$HERE" --cpp_out="$gen" --grpc_out="$gen" \
    --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" "$HERE/bench.proto"
  local cxxflags="-O2 -std=c++17 -pthread -I$gen -I$HERE $(pkg-config --cflags grpc++ protobuf)"
  local cxxlibs="$(pkg-config --libs grpc++ protobuf)"
  g++ $cxxflags -c "$gen/bench.pb.cc" -o "$OUT/bench.pb.o"
  g++ $cxxflags -c "$gen/bench.grpc.pb.cc" -o "$OUT/bench.grpc.pb.o"
  g++ $cxxflags "$HERE/echo_server.cc" "$OUT/bench.pb.o" "$OUT/bench.grpc.pb.o" \
    -o "$OUT/echo_server" $cxxlibs &
  local p1=$!
  g++ $cxxflags "$HERE/grpc_load.cc" "$OUT/bench.pb.o" "$OUT/bench.grpc.pb.o" \
    -o "$OUT/grpc_load" $cxxlibs &
  local p2=$!
  g++ $cxxflags "$HERE/grpc_stream.cc" "$OUT/bench.pb.o" "$OUT/bench.grpc.pb.o" \
    -o "$OUT/grpc_stream" $cxxlibs &
  local p3=$!
  local c
  for c in lbc_load lbc_stream lbc_scale; do
    gcc -O2 -std=gnu11 -Wall -Wextra -pthread -I"$ROOT/include" -I"$HERE" "$HERE/$c.c" \
      -o "$OUT/$c" -L"$LIBDIR" -l:liblbchannel.so.0 -Wl,-rpath,"$LIBDIR"
  done
  wait $p1
  wait $p2
  wait $p3
}

# --------------------------------------------------------------------- servers
SERVER_PIDS=()
RUNNER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$RUNNER_PID" ] && kill "$RUNNER_PID" 2>/dev/null || true
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_servers() {  # start_servers [PREFIX]; with BENCH_TLS_CERT/KEY set the servers use TLS
  local prefix="${1:-}"
  PORTS=()
  for i in $(seq 1 $NSERVERS); do
    local logf="$OUT/${prefix}server$i.log"
    : >"$logf"
    taskset -c 0 "$OUT/echo_server" --port 0 >"$logf" 2>&1 &
    SERVER_PIDS+=($!)
    local port=""
    for _ in $(seq 100); do
      port="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$logf")"
      [ -n "$port" ] && break
      kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || break
      sleep 0.05
    done
    [ -n "$port" ] || { cat "$logf" >&2; log "echo_server $i did not start"; exit 1; }
    PORTS+=("$port")
  done
  log "${prefix:+$prefix }backends on 127.0.0.1: ${PORTS[*]} (pids ${SERVER_PIDS[*]}, CPU 0)"
}

# TLS backends: certificates for "svc.test" from a test CA, made with openssl.
start_tls_servers() {
  TLS_PORTS=()
  [ "${BENCH_TLS:-1}" = 1 ] || return 0
  "$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import tls_certs; tls_certs.make_pki(sys.argv[2])' \
    "$ROOT/Tests/python" "$OUT/pki"
  local plain=("${PORTS[@]}")
  BENCH_TLS_CERT="$OUT/pki/server.pem" BENCH_TLS_KEY="$OUT/pki/server.key" start_servers tls
  TLS_PORTS=("${PORTS[@]}")
  PORTS=("${plain[@]}")
}

# ------------------------------------------------------------------------ main
mkdir -p "$OUT"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; pinning servers to 0 and clients to 1 will fail"
install_deps
build_library
build_programs
# The many-endpoint rows (benchmarks/scale.py) selected by BENCH_ONLY (all by default;
# "scale" needs callgrind); the runner's cases are skipped when BENCH_ONLY names only these.
SCALE_IDS=()
RUNNER=1
if [ -n "${BENCH_ONLY:-}" ]; then
  RUNNER=0
  IFS=, read -ra only_ids <<<"$BENCH_ONLY"
  for x in "${only_ids[@]}"; do
    case "$x" in scale|mem|stats|sys) ;; *) RUNNER=1 ;; esac
  done
fi
for id in scale mem stats sys; do
  [ "$id" = scale ] && [ "$BENCH_CALLGRIND" != 1 ] && continue
  if [ -z "${BENCH_ONLY:-}" ]; then SCALE_IDS+=("$id"); continue; fi
  for x in "${only_ids[@]}"; do
    [ -n "$x" ] && [ "${id#"$x"}" != "$id" ] && { SCALE_IDS+=("$id"); break; }
  done
done

if [ "$RUNNER" = 1 ]; then
start_servers
start_tls_servers

log "measuring: BENCH_RUNS=$BENCH_RUNS BENCH_SECONDS=$BENCH_SECONDS"
"$PYTHON" "$HERE/runner.py" \
  --bin "$OUT" --lib "$LIB" --pyroot "$ROOT/bindings/python" \
  --ports "$(IFS=,; echo "${PORTS[*]}")" \
  --runs "$BENCH_RUNS" --seconds "$BENCH_SECONDS" --callgrind "$BENCH_CALLGRIND" \
  --tls-ports "$(IFS=,; echo "${TLS_PORTS[*]}")" --tls-ca "$OUT/pki/ca.pem" --tls-name svc.test \
  --out "$OUT/results.json" &
RUNNER_PID=$!
wait "$RUNNER_PID"
RUNNER_PID=""
fi

SCALE_ARGS=()
if [ ${#SCALE_IDS[@]} -gt 0 ]; then
  log "many-endpoint rows: ${SCALE_IDS[*]}"
  "$PYTHON" "$HERE/scale.py" --lib "$LIB" --bin "$OUT" --only "$(IFS=,; echo "${SCALE_IDS[*]}")" \
    --out "$OUT/scale.json" &
  RUNNER_PID=$!
  wait "$RUNNER_PID"
  RUNNER_PID=""
  SCALE_ARGS=(--scale "$OUT/scale.json")
fi

HS_ARGS=()
if [ "$RUNNER" = 1 ] && [ ${#TLS_PORTS[@]} -gt 0 ]; then
  log "TLS handshake times (full vs resumed)"
  LBCHANNEL_LIBRARY="$LIB" PYTHONPATH="$ROOT/bindings/python" \
    "$PYTHON" "$HERE/tls_handshake.py" >"$OUT/tls_handshake.json" 2>"$OUT/tls_handshake.log" \
    && HS_ARGS=(--tls-handshake "$OUT/tls_handshake.json") || log "tls_handshake.py failed (see $OUT/tls_handshake.log)"
fi

: >"$OUT/pingpong.md"
if [ "$RUNNER" = 1 ]; then
  log "large-message ping-pong on one stream (Python binding vs grpcio)"
  LBCHANNEL_LIBRARY="$LIB" PYTHONPATH="$ROOT/bindings/python" \
    "$PYTHON" "$HERE/py_pingpong.py" --server "$OUT/echo_server" --runs "$BENCH_RUNS" \
    --seconds "$BENCH_SECONDS" >"$OUT/pingpong.md" 2>"$OUT/pingpong.log" \
    || { log "py_pingpong.py failed (see $OUT/pingpong.log)"; : >"$OUT/pingpong.md"; }
fi

REPORT="$HERE/RESULTS.md"
# A partial run (BENCH_ONLY) must not replace the full results.
[ -n "${BENCH_ONLY:-}" ] && REPORT="$OUT/RESULTS-partial.md"
RESULTS_ARGS=()
[ "$RUNNER" = 1 ] && RESULTS_ARGS=(--results "$OUT/results.json")
"$PYTHON" "$HERE/report.py" ${RESULTS_ARGS[@]+"${RESULTS_ARGS[@]}"} --out "$REPORT" \
  ${HS_ARGS[@]+"${HS_ARGS[@]}"} ${SCALE_ARGS[@]+"${SCALE_ARGS[@]}"}
if [ -s "$OUT/pingpong.md" ]; then
  printf '\n## Large messages: ping-pong on one stream (Python)\n\n' >>"$REPORT"
  cat "$OUT/pingpong.md" >>"$REPORT"
fi
log "wrote ${REPORT#$ROOT/} ($(( $(date +%s) - START_TS )) s in all)"
