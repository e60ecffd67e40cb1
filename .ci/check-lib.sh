#!/usr/bin/env bash
# Check a built liblbchannel shared object against the packaging contract:
#   - it exports only lbc_* symbols (the version script worked),
#   - it needs no Swift runtime library at run time (-static-stdlib worked),
#   - its SONAME is liblbchannel.so.MAJOR.
#   - (given the header) every function the header declares is exported.
#   - the fork handler's reference to the runtime's thread-id cache resolved.
#   - (given a symbols file) the exported names and their symbol versions are
#     exactly those committed in it (include/lbchannel.symbols).
# Usage: .ci/check-lib.sh PATH/TO/liblbchannel.so [EXPECTED_SONAME [HEADER [SYMBOLS]]]
set -euo pipefail

lib=${1:?usage: check-lib.sh LIBRARY [SONAME]}
want_soname=${2:-liblbchannel.so.0}
header=${3:-}
symbols=${4:-}
failed=0
fail() { printf 'check-lib: FAIL: %s\n' "$*" >&2; failed=1; }
ok() { printf 'check-lib: ok: %s\n' "$*"; }

[ -f "$lib" ] || { fail "$lib does not exist"; exit 1; }

# 1. Dynamic symbols: every defined entry of .dynsym must be lbc_* — not only the
# global ones: the GNU linkers also leave LOCAL Swift metadata entries there,
# which is why the Makefile links with lld.
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
nlocal=$(nm -D --defined-only "$lib" | awk 'NF >= 3 && $2 !~ /^([A-Z]|u)$/' | wc -l)
count=$(printf '%s\n' "$exported" | grep -c . || true)
bad=$(printf '%s\n' "$exported" | grep -v '^lbc_' | grep . || true)
if [ "$count" -eq 0 ]; then
    fail "no exported symbols at all"
elif [ -n "$bad" ]; then
    fail "exports symbols other than lbc_* ($(printf '%s\n' "$bad" | wc -l) of $count), e.g.:"
    printf '%s\n' "$bad" | head -20 | sed 's/^/    /' >&2
else
    ok "exports $count symbols, all lbc_* ($nlocal local .dynsym entries not exported)"
fi

# 1b. Everything the header declares is there.
if [ -n "$header" ]; then
    # Declarations only: comment lines (" * ...", "/* ...", "// ...") may name functions too.
    declared=$(grep -vE '^[[:space:]]*(\*|/\*|//)' "$header" | grep -oE '\blbc_[a-z0-9_]+[[:space:]]*\(' \
        | tr -d '( \t' | sort -u)
    missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
    if [ -n "$missing" ]; then
        fail "functions declared in $header but not exported: $(echo $missing)"
    else
        ok "all $(printf '%s\n' "$declared" | wc -l) functions of $header are exported"
    fi
fi

# 1c. The exported ABI, name@version, against the committed list.
if [ -n "$symbols" ]; then
    built=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u)
    want=$(grep -v '^#' "$symbols" | grep . | sort -u)
    added=$(comm -13 <(printf '%s\n' "$want") <(printf '%s\n' "$built"))
    removed=$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$built"))
    if [ -n "$added$removed" ]; then
        fail "exported symbols differ from $symbols (an ABI change; if intended: make update-symbols)"
        [ -z "$added" ] || printf '%s\n' "$added" | sed 's/^/    + /' >&2
        [ -z "$removed" ] || printf '%s\n' "$removed" | sed 's/^/    - /' >&2
    else
        ok "exported symbols and versions match $symbols ($(printf '%s\n' "$want" | wc -l))"
    fi
fi

# 2. Run-time dependencies.
deps=$(ldd "$lib")
if printf '%s\n' "$deps" | grep -q 'not found'; then
    fail "unresolved dependencies:"
    printf '%s\n' "$deps" | grep 'not found' | sed 's/^/    /' >&2
fi
swiftdeps=$(printf '%s\n' "$deps" | grep -Ei 'libswift|libFoundation|libdispatch|libBlocksRuntime|libXCTest' || true)
if [ -n "$swiftdeps" ]; then
    fail "links the Swift runtime dynamically:"
    printf '%s\n' "$swiftdeps" | sed 's/^/    /' >&2
else
    ok "no Swift runtime libraries in ldd: $(printf '%s\n' "$deps" | awk '{print $1}' | tr '\n' ' ')"
fi

# 3. SONAME.
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "$want_soname" ]; then
    fail "SONAME is '${soname:-<none>}', expected '$want_soname'"
else
    ok "SONAME $soname"
fi

# 4. Fork safety: the fork handler (Sources/CLBCShim/fork.c) resets the static Swift
# runtime's thread-id cache; that reference must have resolved inside the library
# (a runtime that renamed it would leave it undefined, or fail to load).
tid_sym=_ZZN5swift14threading_impl5linux13ulock_get_tidEvE3tid
if nm -u "$lib" | grep "$tid_sym" >/dev/null; then
    fail "the Swift runtime's thread-id cache ($tid_sym) is not defined in the library"
elif [ "$(readelf -sW "$lib" | awk -v s="$tid_sym" '$8 == s && $4 == "TLS" && $7 != "UND"' | wc -l)" -ne 1 ]; then
    fail "the Swift runtime's thread-id cache ($tid_sym) is not a single TLS symbol of the library (fork handler)"
else
    ok "fork handler reaches the Swift runtime's thread-id cache"
fi

exit "$failed"
