#!/usr/bin/env bash
# Run a C test program against gRPC interop servers (grpc.testing.TestService).
#
#   Tests/c/run-interop.sh PROGRAM [ARGS...]
#
# Tests/c/run.sh with Tests/interop/server.py as the server: INTEROP_SERVERS
# copies (default 3; 1 to 3) named s1, s2, s3 on 127.0.0.2..4, each generating
# its protobuf code into a directory of its own. See run.sh for the rest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SERVER=${SERVER:-$here/../interop/server.py} SERVERS=${INTEROP_SERVERS:-3} NAME_PREFIX=s SERVER_GEN_DIR=1 \
    exec bash "$here/run.sh" "$@"
