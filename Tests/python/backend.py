#!/usr/bin/env python3
"""A real grpcio test backend for lbchannel's integration tests and ``make demo``.

Usage::

    python3 Tests/python/backend.py --listen 127.0.0.2:50051 --name b1 [--gen-dir DIR]
    python3 Tests/python/backend.py --listen unix:/tmp/x.sock --name b1

TLS: with the environment variables ``LBTEST_TLS_CERT`` and ``LBTEST_TLS_KEY``
(PEM files) the backend serves TLS (grpcio ``ssl_server_credentials``); with
``LBTEST_TLS_CLIENT_CA`` as well it requires client certificates signed by that CA.

Prints exactly ``READY <listen>`` on stdout (flushed) once serving (with
port 0, the port actually bound replaces the 0). SIGTERM or SIGINT: graceful
``server.stop(grace=5)`` — GOAWAY, in-flight RPCs finish — then exit 0.

Service ``lbtest.Test`` (bytes in, bytes out; no generated code needed):

* ``Whoami``: responds with the backend's name (UTF-8).
* ``Echo``: responds with the request; every request metadata pair whose key
  starts with ``x-`` comes back as initial metadata (same key and value) and
  as trailing metadata ``trailer-<key>``; plus trailing ``x-backend: <name>``.
* ``Sleep``: request is ASCII milliseconds; sleeps (stops early if the RPC is
  cancelled or its deadline passes); responds with the name.
* ``Fail``: request is ``CODE:message``; aborts with that status code and
  UTF-8 message (code 0 answers with the name). A request header
  ``x-pushback-ms: V`` is sent back as the ``grpc-retry-pushback-ms`` trailer.
* ``Size``: request is ASCII N; responds with N bytes ``b"x" * N``.
* ``EchoStream`` (bidirectional streaming): answers every request message with
  ``<name>:<message>`` once the client has sent them all (so no response comes
  before the request is complete).

When a unary call carries the ``grpc-previous-rpc-attempts`` request header
(a retried attempt), its value comes back as the trailer
``x-previous-rpc-attempts``, so retry tests can check what the server received.

Environment (for balancing tests): ``LBTEST_SLEEP_FACTOR=F`` makes ``Sleep``
sleep F times the requested time (a slow backend); ``LBTEST_FAIL_ALL=CODE``
makes every ``lbtest.Test`` call end with that status code (a failing backend);
``LBTEST_MAX_STREAMS=N`` sets ``grpc.max_concurrent_streams`` (the server's
SETTINGS_MAX_CONCURRENT_STREAMS). ``LBTEST_GRPC_OPTIONS=KEY=INT[,KEY=INT...]``
adds grpcio server options (e.g. the keepalive enforcement settings
``grpc.http2.min_ping_interval_without_data_ms``, ``grpc.http2.max_ping_strikes``,
``grpc.keepalive_permit_without_calls``).
SETTINGS_MAX_CONCURRENT_STREAMS). ``LBTEST_DELAY_MS=N`` makes every
``lbtest.Test`` call wait N ms before it runs (a slow backend for hedging tests;
the wait ends early when the RPC is cancelled).

Health (``grpcio-health-checking``): with ``LBTEST_HEALTH=STATUS`` (``SERVING``,
``NOT_SERVING``, ...) the backend serves ``grpc.health.v1.Health`` with the overall
health ("") and ``lbtest.Test`` set to STATUS, and the control RPC
``lbtest.Test/SetHealth`` (request ``SERVICE=STATUS``, e.g. ``lbtest.Test=NOT_SERVING``
or ``=SERVING`` for the overall health; responds with the name) changes them, and
``lbtest.Test/EndWatches`` ends every open ``Health/Watch`` stream with OK (the
connection stays up). ``LBTEST_HEALTH_FAIL_WATCHES=N``: the first N ``Watch`` calls
end UNAVAILABLE before any answer. Without ``LBTEST_HEALTH``, ``Health/Watch`` is
UNIMPLEMENTED and the control RPCs fail FAILED_PRECONDITION.

Service ``lbtest.Greeter`` (``Tests/python/protos/lbtest.proto``):
``SayHello`` answers ``"Hello, <name> from <backend name>"`` (``SayHelloStream``,
``SayHelloToAll`` and ``Chat`` are its streaming shapes, see the proto); a name of the form
``"!CODE:message"`` aborts with that status instead. Served when the
grpcio-tools generated modules ``lbtest_pb2``/``lbtest_pb2_grpc`` are importable
(from ``--gen-dir`` or PYTHONPATH).
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

MAX_MESSAGE = 64 * 1024 * 1024
STATUS_BY_INT = {sc.value[0]: sc for sc in grpc.StatusCode}


def _log_line(text):
    """One stderr line in one write(2), so lines of concurrent handlers never interleave."""
    os.write(2, (text + "\n").encode("utf-8", "replace"))


class _Health:
    """grpc.health.v1.Health (grpcio-health-checking's servicer, in blocking mode so
    that its watch streams can be ended and its first watches failed on purpose)."""

    def __init__(self, initial):
        from grpc_health.v1 import health, health_pb2

        self.pb = health_pb2
        self.servicer = health.HealthServicer(experimental_non_blocking=False)
        status = health_pb2.HealthCheckResponse.ServingStatus.Value(initial)
        for service in ("", "lbtest.Test"):
            self.servicer.set(service, status)
        self.fail_watches = int(os.environ.get("LBTEST_HEALTH_FAIL_WATCHES", "0"))
        self.watchers = set()
        self.lock = threading.Lock()

    def watch(self, request, context):
        with self.lock:
            fail = self.fail_watches > 0
            if fail:
                self.fail_watches -= 1
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "watch failed on purpose (LBTEST_HEALTH_FAIL_WATCHES)")
        watcher = self.servicer.Watch(request, context)
        with self.lock:
            self.watchers.add(watcher)
        try:
            for response in watcher:
                yield response
        finally:
            with self.lock:
                self.watchers.discard(watcher)

    def end_watches(self):
        with self.lock:
            watchers = list(self.watchers)
        for w in watchers:
            w.close()
        return len(watchers)

    def handler(self):
        pb = self.pb
        return grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health",
            {
                "Check": grpc.unary_unary_rpc_method_handler(
                    self.servicer.Check, pb.HealthCheckRequest.FromString, pb.HealthCheckResponse.SerializeToString
                ),
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self.watch, pb.HealthCheckRequest.FromString, pb.HealthCheckResponse.SerializeToString
                ),
            },
        )


def _health_service(server):
    """Serve grpc.health.v1.Health when LBTEST_HEALTH is set; return the _Health or None."""
    initial = os.environ.get("LBTEST_HEALTH")
    if not initial:
        return None
    health = _Health(initial)
    server.add_generic_rpc_handlers((health.handler(),))
    return health


def _health_control_handlers(name_bytes, health):
    def check(context):
        if health is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no health service (LBTEST_HEALTH is not set)")

    def set_health(request, context):
        check(context)
        service, _, status_name = request.decode("utf-8").partition("=")
        try:
            status = health.pb.HealthCheckResponse.ServingStatus.Value(status_name)
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown serving status %r" % status_name)
        health.servicer.set(service, status)
        return name_bytes

    def end_watches(request, context):
        check(context)
        return str(health.end_watches()).encode()

    return {"SetHealth": set_health, "EndWatches": end_watches}


def _test_handlers(name, health=None):
    name_bytes = name.encode("utf-8")
    sleep_factor = float(os.environ.get("LBTEST_SLEEP_FACTOR", "1"))

    def whoami(request, context):
        return name_bytes

    def echo(request, context):
        echoed = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]
        if echoed:
            context.send_initial_metadata(tuple(echoed))
        trailing = [("trailer-" + k, v) for k, v in echoed]
        trailing.append(("x-backend", name))
        context.set_trailing_metadata(tuple(trailing))
        return request

    def sleep(request, context):
        try:
            ms = int(request.decode("ascii").strip() or "0")
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Sleep wants ASCII milliseconds")
        end = time.monotonic() + ms * sleep_factor / 1000.0
        while context.is_active():
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))
        return name_bytes

    def fail(request, context):
        pushback = dict(context.invocation_metadata()).get("x-pushback-ms")
        if pushback is not None:
            context.set_trailing_metadata((("grpc-retry-pushback-ms", pushback),))
        text = request.decode("utf-8")
        code_text, _, message = text.partition(":")
        try:
            code = STATUS_BY_INT[int(code_text)]
        except (KeyError, ValueError):
            code = grpc.StatusCode.UNKNOWN
            message = text
        if code is grpc.StatusCode.OK:
            return name_bytes
        context.abort(code, message)

    def size(request, context):
        try:
            n = int(request.decode("ascii").strip() or "0")
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Size wants an ASCII integer")
        return b"x" * n

    def echo_stream(requests, context):
        messages = list(requests)
        for message in messages:
            yield name_bytes + b":" + message

    def with_attempts_trailer(fn):
        # The grpc-previous-rpc-attempts header the server saw, as a trailer.
        def handler(request, context):
            seen = dict(context.invocation_metadata()).get("grpc-previous-rpc-attempts")
            if seen is None:
                return fn(request, context)
            try:
                return fn(request, context)
            finally:
                context.set_trailing_metadata(
                    tuple(context.trailing_metadata() or ()) + (("x-previous-rpc-attempts", seen),))

        return handler

    whoami, echo, sleep, fail, size = (with_attempts_trailer(f) for f in (whoami, echo, sleep, fail, size))

    delay_ms = int(os.environ.get("LBTEST_DELAY_MS", "0"))
    if delay_ms > 0:

        def delayed(fn):
            def handler(request, context):
                end = time.monotonic() + delay_ms / 1000.0
                while context.is_active():
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    time.sleep(min(left, 0.01))
                return fn(request, context)

            return handler

        whoami, echo, sleep, fail, size = (delayed(f) for f in (whoami, echo, sleep, fail, size))

    if os.environ.get("LBTEST_LOG_RPCS"):
        # With LBTEST_LOG_RPCS=1, one stderr line per handled RPC of lbtest.Test:
        #   RPC <method> id=<x-request-id or -> peer=<peer> start=<t> end=<t> ok|raised
        # (CLOCK_MONOTONIC times, comparable with the test process's), so a
        # test can tell whether the server ever ran the handler of a call.
        def logged(method, fn):
            def handler(request, context):
                t0 = time.monotonic()
                ok = False
                try:
                    result = fn(request, context)
                    ok = True
                    return result
                finally:
                    rid = dict(context.invocation_metadata()).get("x-request-id", "-")
                    _log_line(
                        "RPC %s id=%s peer=%s start=%.6f end=%.6f %s"
                        % (method, rid, context.peer(), t0, time.monotonic(), "ok" if ok else "raised")
                    )

            return handler

        whoami, echo, sleep, fail, size = (
            logged(n, f) for n, f in (("Whoami", whoami), ("Echo", echo), ("Sleep", sleep), ("Fail", fail), ("Size", size))
        )

    fail_all = os.environ.get("LBTEST_FAIL_ALL")
    if fail_all:
        code = STATUS_BY_INT[int(fail_all)]

        def failing(fn):
            def handler(request, context):
                context.abort(code, "%s fails every call (LBTEST_FAIL_ALL)" % name)

            return handler

        whoami, echo, sleep, fail, size = (failing(f) for f in (whoami, echo, sleep, fail, size))

        def echo_stream(requests, context):
            context.abort(code, "%s fails every call (LBTEST_FAIL_ALL)" % name)
            yield b""  # a generator, as the handler type wants

    handlers = {
        "Whoami": whoami,
        "Echo": echo,
        "Sleep": sleep,
        "Fail": fail,
        "Size": size,
        **_health_control_handlers(name_bytes, health),
    }
    rpc_handlers = {k: grpc.unary_unary_rpc_method_handler(v) for k, v in handlers.items()}
    rpc_handlers["EchoStream"] = grpc.stream_stream_rpc_method_handler(echo_stream)
    return grpc.method_handlers_generic_handler("lbtest.Test", rpc_handlers)


class _CallLogger(grpc.ServerInterceptor):
    """With LBTEST_LOG_RPCS=1: ``CALL <method> id=<x-request-id> at=<t>`` on stderr
    when the server has matched an incoming call (its headers arrived),
    before the request message is read."""

    def intercept_service(self, continuation, handler_call_details):
        rid = dict(handler_call_details.invocation_metadata).get("x-request-id", "-")
        _log_line("CALL %s id=%s at=%.6f" % (handler_call_details.method, rid, time.monotonic()))
        return continuation(handler_call_details)


def _add_greeter(server, name, gen_dir):
    """Serve lbtest.Greeter if the generated code can be imported; return whether it is."""
    if gen_dir:
        sys.path.insert(0, os.path.abspath(gen_dir))
    try:
        import lbtest_pb2
        import lbtest_pb2_grpc
    except ImportError as exc:
        if gen_dir:  # asked for it explicitly: that is an error
            raise SystemExit("backend: cannot import generated code from %s: %s" % (gen_dir, exc))
        return False

    class Greeter(lbtest_pb2_grpc.GreeterServicer):
        def SayHello(self, request, context):
            if request.name.startswith("!"):
                code_text, _, message = request.name[1:].partition(":")
                context.abort(STATUS_BY_INT.get(int(code_text), grpc.StatusCode.UNKNOWN), message)
            return lbtest_pb2.HelloReply(message="Hello, %s from %s" % (request.name, name))

        def SayHelloStream(self, request, context):
            for i in (1, 2, 3):
                yield lbtest_pb2.HelloReply(message="Hello, %s (%d/3) from %s" % (request.name, i, name))

        def SayHelloToAll(self, request_iterator, context):
            names = ", ".join(r.name for r in request_iterator)
            return lbtest_pb2.HelloReply(message="Hello, %s from %s" % (names, name))

        def Chat(self, request_iterator, context):
            for r in request_iterator:
                yield lbtest_pb2.HelloReply(message="Hello, %s from %s" % (r.name, name))

    lbtest_pb2_grpc.add_GreeterServicer_to_server(Greeter(), server)
    return True


def _add_port(server, listen):
    """Listen with TLS when LBTEST_TLS_CERT/LBTEST_TLS_KEY name PEM files (and require
    client certificates signed by LBTEST_TLS_CLIENT_CA when that is set), else plaintext."""
    cert = os.environ.get("LBTEST_TLS_CERT")
    if not cert:
        return server.add_insecure_port(listen)
    with open(cert, "rb") as f:
        chain = f.read()
    with open(os.environ["LBTEST_TLS_KEY"], "rb") as f:
        key = f.read()
    client_ca = os.environ.get("LBTEST_TLS_CLIENT_CA")
    roots = None
    if client_ca:
        with open(client_ca, "rb") as f:
            roots = f.read()
    credentials = grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=roots is not None
    )
    return server.add_secure_port(listen, credentials)


def _extra_options(text):
    """``KEY=INT,KEY=INT`` as grpcio server options."""
    options = []
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        options.append((key.strip(), int(value)))
    return options


def _watch_parent():
    """Exit at once if the test run that started us dies (never leak backends).

    Only when the environment variable LBTEST_PARENT_PID is set (the test
    fixtures set it); ``make demo`` and manual runs are unaffected.
    """
    parent = os.environ.get("LBTEST_PARENT_PID")
    if not parent:
        return
    parent = int(parent)

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT, [V6]:PORT or unix:PATH")
    parser.add_argument("--name", required=True, help="identity returned by Whoami")
    parser.add_argument("--gen-dir", default=None, help="directory holding lbtest_pb2*.py")
    parser.add_argument("--workers", type=int, default=16, help="handler thread pool size")
    args = parser.parse_args(argv)

    # Block SIGTERM/SIGINT in every thread (grpc's threads inherit the mask)
    # and take them with sigwait() below: the graceful stop starts the moment
    # the signal arrives.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    _watch_parent()

    interceptors = []
    if os.environ.get("LBTEST_LOG_RPCS"):
        interceptors.append(_CallLogger())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        interceptors=interceptors,
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            # A port must be owned by one backend only: tests kill a backend
            # and restart it on the same address.
            ("grpc.so_reuseport", 0),
        ]
        # LBTEST_MAX_CONNECTION_AGE_MS: GOAWAY every connection after that long
        # (clients reconnect to the same process, e.g. to resume TLS sessions).
        + ([("grpc.max_connection_age_ms", int(os.environ["LBTEST_MAX_CONNECTION_AGE_MS"])),
            ("grpc.max_connection_age_grace_ms", 5000)]
           if os.environ.get("LBTEST_MAX_CONNECTION_AGE_MS") else [])
        + ([("grpc.max_concurrent_streams", int(os.environ["LBTEST_MAX_STREAMS"]))]
           if os.environ.get("LBTEST_MAX_STREAMS") else [])
        + _extra_options(os.environ.get("LBTEST_GRPC_OPTIONS", "")),
    )
    health = _health_service(server)
    server.add_generic_rpc_handlers((_test_handlers(args.name, health),))
    _add_greeter(server, args.name, args.gen_dir)
    try:
        port = _add_port(server, args.listen)
    except RuntimeError as exc:
        print("backend: cannot listen on %s: %s" % (args.listen, exc), file=sys.stderr, flush=True)
        return 2
    if not args.listen.startswith("unix:") and port == 0:
        print("backend: cannot listen on %s" % args.listen, file=sys.stderr, flush=True)
        return 2
    server.start()

    listen = args.listen
    if not listen.startswith("unix:") and listen.endswith(":0"):
        listen = "%s:%d" % (listen[:-2], port)
    print("READY %s" % listen, flush=True)

    signal.sigwait(stop_signals)
    server.stop(grace=5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
