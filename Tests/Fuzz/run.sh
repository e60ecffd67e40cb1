#!/usr/bin/env bash
# Fuzz the I/O-free code of LBCCore with libFuzzer + AddressSanitizer, one target
# at a time.
#
#   Tests/Fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#       default 5 s per target (make test), every target; e.g.
#       Tests/Fuzz/run.sh 600 deframe options     (make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="deframe options")
#
# Compiles Sources/LBCCore with Tests/Fuzz/FuzzCore.swift into one binary in
# .build-fuzz/, then runs each target (LBC_FUZZ_TARGET) from its own corpus
# (.build-fuzz/corpus/TARGET, seeded below and kept between runs) and prints the
# executions per target. Exits non-zero on a crash, a leak, a timeout or a broken
# property; the offending input is written to .build-fuzz/TARGET-crash-*. Inputs
# that once crashed live in Tests/Fuzz/regressions/TARGET/ and are re-run first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-5}
shift || true
all_targets=(deframe percent base64 timeout target metadata method options health call serviceconfig)
targets=("${@:-${all_targets[@]}}")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
out="$root/.build-fuzz"
mkdir -p "$out"
swiftc -sanitize=fuzzer,address -use-ld=lld -parse-as-library -O -package-name lbchannel -module-name LBCCoreFuzz \
    "$root"/Sources/LBCCore/*/*.swift "$here/FuzzCore.swift" -o "$out/fuzz-core"

# One well-formed seed per target.
# (A corpus that is a plain file is from the single-binary layout of 0.1: replaced.)
seed() { [ -f "$out/corpus/$1" ] && rm -f "$out/corpus/$1"; mkdir -p "$out/corpus/$1"; printf "$2" > "$out/corpus/$1/seed"; }
seed deframe  '\x07\x00\x00\x00\x00\x03abc\x00\x00\x00\x00\x00'
seed percent  'h%%C3%%A9llo %%zz'
seed base64   'aGVsbG8gd29ybGQ='
seed timeout  '1000000u'
seed target   'dns://127.0.0.1:53/svc.test:443'
seed health   '\x08\x01\x10\x05\x22\x01x'
seed metadata 'x-key-bin\x00value'
seed method   '/grpc.testing.TestService/UnaryCall'
seed options  'backoff_max_ms\x00120000'
seed serviceconfig '{"methodConfig":[{"name":[{"service":"a.B"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE",8]}}],"retryThrottling":{"maxTokens":10,"tokenRatio":0.1}}'
# call (streaming): headers(200, grpc), DATA (one message), trailers(grpc-status 0)
seed call     '\x00\x00\x00\x02\x00\x04\x01\x08\x00\x00\x00\x00\x03abc\x00\x01\x01\x06'

rm -f "$out"/*-crash-* "$out"/*-leak-* "$out"/*-timeout-*
cd "$out"
total=0
failed=()
printf '%-10s %12s %10s\n' target executions exec/s
for t in "${targets[@]}"; do
    regressions=()
    [ -d "$here/regressions/$t" ] && regressions=("$here/regressions/$t")
    # Swift's own crash reporter would wait on the dying process; libFuzzer reports.
    log="$out/$t.log"
    SWIFT_BACKTRACE=enable=no LBC_FUZZ_TARGET=$t ./fuzz-core -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$out/$t-" "$out/corpus/$t" "${regressions[@]}" >"$log" 2>&1 || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf '%-10s %12s %10s\n' "$t" "${runs:-?}" "${rate:-?}"
    total=$((total + ${runs:-0}))
    if compgen -G "$out/$t-crash-*" >/dev/null || compgen -G "$out/$t-leak-*" >/dev/null \
        || compgen -G "$out/$t-timeout-*" >/dev/null || [ -z "$runs" ]; then
        grep -E '^(==|SUMMARY|.*ERROR|.*Fatal|.*failed)' "$log" | head -20 >&2 || true
        failed+=("$t")
    fi
done
printf '%-10s %12s\n' total "$total"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $out, logs $out/TARGET.log)" >&2
    exit 1
fi
echo "fuzz: no crash in ${seconds} s per target"
