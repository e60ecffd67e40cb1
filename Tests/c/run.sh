#!/usr/bin/env bash
# Run a C test program against real gRPC servers started for it.
#
#   Tests/c/run.sh PROGRAM [ARGS...]
#
# Starts SERVERS (default 3; 1 to 3) copies of SERVER (default
# Tests/python/backend.py; Tests/c/run-interop.sh uses Tests/interop/server.py)
# named NAME_PREFIX1.. (default b1, b2, b3) on 127.0.0.2, 127.0.0.3 and 127.0.0.4,
# each on a free port it picks itself, waits for their READY lines, then runs
#   PROGRAM [ARGS...] ipv4:127.0.0.2:P1[,127.0.0.3:P2,127.0.0.4:P3]
# and stops the servers when it exits, whatever happens. With SERVER_GEN_DIR=1
# each server gets its own --gen-dir for the code it generates. Exits with
# PROGRAM's status (124 if it ran longer than RUN_TIMEOUT seconds, default 300).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 PROGRAM [ARGS...]" >&2; exit 2; }
me=$(basename "$0")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PYTHON=${PYTHON:-python3}
SERVER=${SERVER:-${BACKEND:-$root/Tests/python/backend.py}}
SERVERS=${SERVERS:-3}
NAME_PREFIX=${NAME_PREFIX:-b}
SERVER_GEN_DIR=${SERVER_GEN_DIR:-0}
READY_TIMEOUT=${READY_TIMEOUT:-30}
# A hanging library call must not hang CI: PROGRAM gets this long in all.
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

[ -f "$SERVER" ] || { echo "$me: server $SERVER not found" >&2; exit 2; }
case $SERVERS in
    1|2|3) ;;
    *) echo "$me: SERVERS must be 1, 2 or 3" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lbc-ctest.XXXXXX")
pids=()
names=()
prog_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$prog_pid" ] && kill -0 "$prog_pid" 2>/dev/null; then
        kill -TERM "$prog_pid" 2>/dev/null || true
        wait "$prog_pid" 2>/dev/null || true
    fi
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 50); do
            local alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [ $alive = 0 ] && break
            sleep 0.1
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_server() {  # start_server ADDR NAME -> writes ADDR:PORT to $tmp/addr once READY
    # Port 0: the server binds a free port and reports it in its READY line.
    local addr=$1 name=$2 pid out err line
    local extra=()
    out=$tmp/$name.out err=$tmp/$name.err
    [ "$SERVER_GEN_DIR" = 1 ] && extra=(--gen-dir "$tmp/gen-$name")
    # LBTEST_PARENT_PID: the server exits by itself if this shell dies.
    # LBTEST_HEALTH: backend.py serves grpc.health.v1 (lbtest.Test SERVING) for
    # test_health_checking; other servers ignore it.
    LBTEST_HEALTH=${LBTEST_HEALTH-SERVING} \
    LBTEST_PARENT_PID=$$ "$PYTHON" -u "$SERVER" --listen "$addr:0" --name "$name" \
        ${extra[@]+"${extra[@]}"} >"$out" 2>"$err" &
    pid=$!
    pids+=("$pid")
    local deadline=$((SECONDS + READY_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        line=$(grep -m1 "^READY $addr:[0-9]" "$out" 2>/dev/null || true)
        if [ -n "$line" ]; then
            echo "${line#READY }" >"$tmp/addr"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$me: server $name on $addr did not become ready within ${READY_TIMEOUT}s:" >&2
    sed 's/^/    /' "$err" >&2 || true
    return 1
}

# Not in a $(...) subshell: pids must be recorded in this shell.
addrs=()
ips=(127.0.0.2 127.0.0.3 127.0.0.4)
for ((i = 1; i <= SERVERS; i++)); do
    names+=("$NAME_PREFIX$i")
    start_server "${ips[$((i - 1))]}" "$NAME_PREFIX$i"
    addrs+=("$(cat "$tmp/addr")")
done
target="ipv4:$(IFS=,; echo "${addrs[*]}")"
echo "$me: servers ${names[*]} at $target" >&2

# In the background + wait, so that INT/TERM reach the traps at once.
set +e
timeout -k 10 "$RUN_TIMEOUT" "$@" "$target" &
prog_pid=$!
wait "$prog_pid"
rc=$?
prog_pid=
set -e
if [ $rc -eq 124 ]; then
    echo "$me: $1 did not finish within ${RUN_TIMEOUT}s" >&2
fi
if [ $rc -ne 0 ]; then
    for n in "${names[@]}"; do
        if [ -s "$tmp/$n.err" ]; then
            echo "--- server $n stderr (last 20 lines) ---" >&2
            tail -n 20 "$tmp/$n.err" >&2
        fi
    done
fi
exit $rc
