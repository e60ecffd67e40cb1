#!/usr/bin/env python3
"""gRPC interop test server (grpc.testing.TestService) for lbchannel's C tests.

Usage::

    python3 Tests/interop/server.py --listen 127.0.0.2:0 [--name s1] [--gen-dir DIR]

Generates the ``*_pb2`` modules from ``Tests/interop/proto/grpc/testing`` with
grpc_tools.protoc at start (into ``--gen-dir``, or a temporary directory that
is removed at exit), serves ``grpc.testing.TestService`` with grpc.aio (no
thread per RPC, so thousands of concurrent streams are fine), and prints
exactly ``READY HOST:PORT`` on stdout (flushed) once serving; with port 0 the
port actually bound replaces the 0. SIGTERM or SIGINT: graceful stop, exit 0.

What it implements (gRPC's doc/interop-test-descriptions.md, "Server"):

* EmptyCall, UnaryCall (response_size, response_status), StreamingOutputCall
  (response_parameters: size, interval_us; response_status),
  StreamingInputCall (sum of the payload sizes), FullDuplexCall,
  HalfDuplexCall.
* Echo Status: a request's ``response_status`` with a non-zero code ends the
  RPC with that code and message (any UTF-8 text).
* Echo Metadata: request metadata ``x-grpc-test-echo-initial`` comes back in
  the initial metadata, ``x-grpc-test-echo-trailing-bin`` in the trailers.
* UnimplementedCall and grpc.testing.UnimplementedService are not registered,
  so they answer UNIMPLEMENTED like any unknown method.

lbchannel test extensions (request metadata, ignored by other clients):

* ``x-lbtest-sleep-before-read-ms: N`` on StreamingInputCall, FullDuplexCall
  and HalfDuplexCall: the handler waits N ms before reading the first request
  (the client's sends then pile up against flow control).
* Every response carries the trailer ``x-lbtest-server: <name>``.

The HTTP/2 receive window of the server is kept at gRPC's default (64 KiB per
stream; BDP probing off) so that flow-control tests see a known window.
"""

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import grpc
from grpc import aio

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto", "grpc", "testing")
PROTOS = ("empty.proto", "messages.proto", "test.proto")
MAX_MESSAGE = 64 * 1024 * 1024
STATUS_BY_INT = {sc.value[0]: sc for sc in grpc.StatusCode}
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
SLEEP_BEFORE_READ = "x-lbtest-sleep-before-read-ms"


def generate(gen_dir):
    """Compile the protos into gen_dir (empty_pb2, messages_pb2, test_pb2[_grpc])."""
    from grpc_tools import protoc

    os.makedirs(gen_dir, exist_ok=True)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["grpc_tools.protoc", "-I" + PROTO_DIR, "-I" + include,
            "--python_out=" + gen_dir, "--grpc_python_out=" + gen_dir]
    args += [os.path.join(PROTO_DIR, p) for p in PROTOS]
    rc = protoc.main(args)
    if rc != 0:
        raise SystemExit("server: protoc failed (%d) on %s" % (rc, PROTO_DIR))
    sys.path.insert(0, gen_dir)


_ZEROS = {}


def zeros(n):
    """n zero bytes, cached (the streaming tests ask for the same sizes often)."""
    if n <= 0:
        return b""
    z = _ZEROS.get(n)
    if z is None:
        z = bytes(n)
        if len(_ZEROS) < 256:
            _ZEROS[n] = z
    return z


def build_handlers(name):
    import empty_pb2
    import messages_pb2 as pb

    def metadata_dict(context):
        return {md.key: md.value for md in (context.invocation_metadata() or ())}

    class Rpc:
        """Per-RPC echo bookkeeping: initial metadata once, trailers at the end."""

        def __init__(self, context):
            self.context = context
            self.md = metadata_dict(context)
            self.initial_sent = False
            trailing = [("x-lbtest-server", name)]
            if ECHO_TRAILING in self.md:
                trailing.append((ECHO_TRAILING, self.md[ECHO_TRAILING]))
            self.trailing = tuple(trailing)
            context.set_trailing_metadata(self.trailing)

        async def send_initial(self):
            if not self.initial_sent:
                self.initial_sent = True
                if ECHO_INITIAL in self.md:
                    await self.context.send_initial_metadata(((ECHO_INITIAL, self.md[ECHO_INITIAL]),))

        async def maybe_abort(self, status):
            """Echo Status: end the RPC with the requested code and message."""
            if status.code != 0:
                await self.send_initial()
                code = STATUS_BY_INT.get(status.code, grpc.StatusCode.UNKNOWN)
                await self.context.abort(code, status.message, trailing_metadata=self.trailing)

        async def sleep_before_read(self):
            try:
                ms = int(self.md.get(SLEEP_BEFORE_READ, "0"))
            except ValueError:
                ms = 0
            if ms > 0:
                await asyncio.sleep(ms / 1000.0)

        async def respond(self, params):
            """One StreamingOutputCallResponse per ResponseParameters (interval_us first)."""
            for p in params:
                if p.interval_us > 0:
                    await asyncio.sleep(p.interval_us / 1e6)
                await self.context.write(pb.StreamingOutputCallResponse(payload=pb.Payload(body=zeros(p.size))))

    async def empty_call(request, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        return empty_pb2.Empty()

    async def unary_call(request, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        await rpc.maybe_abort(request.response_status)
        return pb.SimpleResponse(payload=pb.Payload(body=zeros(request.response_size)))

    async def streaming_output_call(request, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        await rpc.maybe_abort(request.response_status)
        await rpc.respond(request.response_parameters)

    async def streaming_input_call(request_iterator, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        await rpc.sleep_before_read()
        total = 0
        async for request in request_iterator:
            total += len(request.payload.body)
        return pb.StreamingInputCallResponse(aggregated_payload_size=total)

    async def full_duplex_call(request_iterator, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        await rpc.sleep_before_read()
        async for request in request_iterator:
            await rpc.maybe_abort(request.response_status)
            await rpc.respond(request.response_parameters)

    async def half_duplex_call(request_iterator, context):
        rpc = Rpc(context)
        await rpc.send_initial()
        await rpc.sleep_before_read()
        requests = [r async for r in request_iterator]
        for request in requests:
            await rpc.maybe_abort(request.response_status)
            await rpc.respond(request.response_parameters)

    ser = lambda m: m.SerializeToString()  # noqa: E731
    handlers = {
        "EmptyCall": grpc.unary_unary_rpc_method_handler(
            empty_call, empty_pb2.Empty.FromString, ser),
        "UnaryCall": grpc.unary_unary_rpc_method_handler(
            unary_call, pb.SimpleRequest.FromString, ser),
        "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(
            streaming_output_call, pb.StreamingOutputCallRequest.FromString, ser),
        "StreamingInputCall": grpc.stream_unary_rpc_method_handler(
            streaming_input_call, pb.StreamingInputCallRequest.FromString, ser),
        "FullDuplexCall": grpc.stream_stream_rpc_method_handler(
            full_duplex_call, pb.StreamingOutputCallRequest.FromString, ser),
        "HalfDuplexCall": grpc.stream_stream_rpc_method_handler(
            half_duplex_call, pb.StreamingOutputCallRequest.FromString, ser),
        # UnimplementedCall: deliberately absent -> UNIMPLEMENTED.
    }
    return grpc.method_handlers_generic_handler("grpc.testing.TestService", handlers)


def _watch_parent():
    """With LBTEST_PARENT_PID set: exit at once when that parent dies (never leak servers)."""
    parent = os.environ.get("LBTEST_PARENT_PID")
    if not parent:
        return
    parent = int(parent)

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def serve(args):
    server = aio.server(options=[
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.so_reuseport", 0),
        # A known receive window for the flow-control tests.
        ("grpc.http2.bdp_probe", 0),
    ])
    server.add_generic_rpc_handlers((build_handlers(args.name),))
    try:
        cert = os.environ.get("LBTEST_TLS_CERT")  # TLS when set (with LBTEST_TLS_KEY)
        if cert:
            with open(cert, "rb") as f:
                chain = f.read()
            with open(os.environ["LBTEST_TLS_KEY"], "rb") as f:
                key = f.read()
            port = server.add_secure_port(args.listen, grpc.ssl_server_credentials([(key, chain)]))
        else:
            port = server.add_insecure_port(args.listen)
    except RuntimeError as exc:
        print("server: cannot listen on %s: %s" % (args.listen, exc), file=sys.stderr, flush=True)
        return 2
    if port == 0:
        print("server: cannot listen on %s" % args.listen, file=sys.stderr, flush=True)
        return 2
    await server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    listen = args.listen
    if listen.endswith(":0"):
        listen = "%s:%d" % (listen[:-2], port)
    print("READY %s" % listen, flush=True)
    await stop.wait()
    await server.stop(grace=2)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT or [V6]:PORT (port 0: pick a free one)")
    parser.add_argument("--name", default="interop", help="reported in the x-lbtest-server trailer")
    parser.add_argument("--gen-dir", default=None, help="where to generate the *_pb2 modules")
    args = parser.parse_args(argv)

    _watch_parent()
    tmp = None
    gen_dir = args.gen_dir
    if gen_dir is None:
        tmp = gen_dir = tempfile.mkdtemp(prefix="lbc-interop-gen.")
    try:
        generate(gen_dir)
        return asyncio.run(serve(args))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
