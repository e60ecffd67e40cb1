#!/usr/bin/env bash
# Fuzz the I/O-free decoders of LBCCore with libFuzzer + AddressSanitizer.
#
#   Tests/Fuzz/run.sh [SECONDS]      (default 20; make test runs it)
#
# Compiles Sources/LBCCore with Tests/Fuzz/FuzzCore.swift into one binary in
# .build-fuzz/ and runs it for SECONDS from the seed corpus below. Exits non-zero
# on a crash or a failed round-trip property; the offending input is written to
# .build-fuzz/crash-*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-20}
out="$root/.build-fuzz"
mkdir -p "$out/corpus"
swiftc -sanitize=fuzzer,address -use-ld=lld -parse-as-library -O -package-name lbchannel -module-name LBCCoreFuzz \
    "$root"/Sources/LBCCore/*/*.swift "$here/FuzzCore.swift" -o "$out/fuzz-core"
# Seeds: one well-formed input per decoder (selector byte first).
printf '\x00\x00\x00\x00\x00\x03abc'        > "$out/corpus/deframe"
printf '\x01h%%C3%%A9llo %%zz'               > "$out/corpus/percent"
printf '\x02aGVsbG8gd29ybGQ='               > "$out/corpus/base64"
printf '\x031000000u'                        > "$out/corpus/timeout"
printf '\x04dns://127.0.0.1:53/svc.test:443' > "$out/corpus/target"
printf '\x05x-key-bin\x00value'              > "$out/corpus/metadata"
# call state machine: headers(200, grpc), DATA (one message), trailers(grpc-status 0)
printf '\x06\x00\x00\x02\x00\x04\x01\x08\x00\x00\x00\x00\x03abc\x00\x01\x01\x06' > "$out/corpus/call"
cd "$out"
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-*
# Swift's own crash reporter would wait on the dying process; libFuzzer reports.
SWIFT_BACKTRACE=enable=no ./fuzz-core -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" corpus 2>&1 \
    | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY|.*ERROR|.*Fatal|.*failed)' || true
# libFuzzer exits non-zero on a finding; re-run the verdict from the artifacts.
if compgen -G "$out/crash-*" >/dev/null || compgen -G "$out/leak-*" >/dev/null \
    || compgen -G "$out/timeout-*" >/dev/null; then
    echo "fuzz: FAILED, inputs in $out" >&2
    exit 1
fi
echo "fuzz: no crash in ${seconds} s"
