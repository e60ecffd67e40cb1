#!/usr/bin/env bash
# Run a C TLS test program: make the test certificates (Tests/python/tls_certs.py,
# with the openssl command), start three TLS backends with them (Tests/c/run.sh,
# LBTEST_TLS_CERT/LBTEST_TLS_KEY) and run
#   PROGRAM PKI_DIR ipv4:127.0.0.2:P1,127.0.0.3:P2,127.0.0.4:P3
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PROGRAM" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
pki=$(mktemp -d "${TMPDIR:-/tmp}/lbc-pki.XXXXXX")
trap 'rm -rf "$pki"' EXIT
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import tls_certs; tls_certs.make_pki(sys.argv[2])' \
    "$here/../python" "$pki"
LBTEST_TLS_CERT=$pki/server.pem LBTEST_TLS_KEY=$pki/server.key bash "$here/run.sh" "$1" "$pki"
