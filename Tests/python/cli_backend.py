#!/usr/bin/env python3
"""A grpcio backend with server reflection for the ``lbchannel`` command's tests.

Usage::

    python3 Tests/python/cli_backend.py --listen 127.0.0.2:50051 --name b1 --gen-dir DIR [--reflection both]

Serves ``lbcli.Echo`` (``Tests/python/protos/lbcli.proto``: unary ``Say``, server-streaming
``Repeat``, client-streaming ``Join``, bidirectional ``Chat``; the streaming methods log what
they receive, and cancellations, on stderr; the generated
``lbcli_pb2``/``lbcli_pb2_grpc`` are imported from ``--gen-dir``),
``grpc.health.v1.Health`` (SERVING) and server reflection: ``v1alpha``
(grpcio-reflection's own service), ``v1`` (the same servicer under the
``grpc.reflection.v1`` name: the messages are identical), ``both`` or ``none``.
Prints ``READY <listen>`` once serving; SIGTERM/SIGINT stop it gracefully.
"""

import argparse
import os
import signal
import sys
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

STATUS_BY_INT = {sc.value[0]: sc for sc in grpc.StatusCode}


def _v1_reflection_handler(servicer):
    """The v1alpha servicer under the grpc.reflection.v1 service name."""
    return grpc.method_handlers_generic_handler(
        "grpc.reflection.v1.ServerReflection",
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )


def log(line):
    """One line on stderr (the tests read it: what a streaming method received, cancellations)."""
    print(line, file=sys.stderr, flush=True)


def _pause(context, seconds):
    """Sleep ``seconds`` while the call lasts; False once the client cancelled it."""
    end = time.monotonic() + seconds
    while context.is_active() and time.monotonic() < end:
        time.sleep(min(0.01, end - time.monotonic()))
    return context.is_active()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--gen-dir", required=True)
    parser.add_argument("--reflection", choices=("v1alpha", "v1", "both", "none"), default="v1alpha")
    args = parser.parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.path.insert(0, os.path.abspath(args.gen_dir))
    import lbcli_pb2
    import lbcli_pb2_grpc

    name = args.name

    class Echo(lbcli_pb2_grpc.EchoServicer):
        def Say(self, request, context):
            wait = request.sleep.ToTimedelta().total_seconds()
            if wait > 0:
                end = time.monotonic() + wait
                while context.is_active() and time.monotonic() < end:
                    time.sleep(min(0.01, end - time.monotonic()))
            if request.fail_code:
                context.abort(STATUS_BY_INT.get(request.fail_code, grpc.StatusCode.UNKNOWN), request.text)
            md = {k: v for k, v in context.invocation_metadata() if k.startswith("x-") and isinstance(v, str)}
            return lbcli_pb2.SayReply(text=request.text, backend=name, metadata=md)

        def Repeat(self, request, context):
            wait = request.sleep.ToTimedelta().total_seconds()
            for i in range(1, request.count + 1):
                if i > 1 and not _pause(context, wait):
                    break
                try:
                    yield lbcli_pb2.SayReply(text="%s %d/%d" % (request.text, i, request.count), backend=name)
                except GeneratorExit:  # grpcio closes the generator of a cancelled call
                    log("Repeat %s cancelled" % request.text)
                    raise
            if not _pause(context, 0.0):
                log("Repeat %s cancelled" % request.text)
                return
            if request.fail_code:
                context.abort(STATUS_BY_INT.get(request.fail_code, grpc.StatusCode.UNKNOWN), request.text)

        def Join(self, request_iterator, context):
            texts = []
            for r in request_iterator:
                log("Join got %s" % r.text)
                if r.fail_code:
                    context.abort(STATUS_BY_INT.get(r.fail_code, grpc.StatusCode.UNKNOWN), r.text)
                texts.append(r.text)
            return lbcli_pb2.SayReply(text=" ".join(texts), backend=name)

        def Chat(self, request_iterator, context):
            for r in request_iterator:
                log("Chat got %s" % r.text)
                if not _pause(context, r.sleep.ToTimedelta().total_seconds()):
                    log("Chat %s cancelled" % r.text)
                    return
                if r.fail_code:
                    context.abort(STATUS_BY_INT.get(r.fail_code, grpc.StatusCode.UNKNOWN), r.text)
                yield lbcli_pb2.SayReply(text=r.text, backend=name)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)])
    lbcli_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services = (lbcli_pb2.DESCRIPTOR.services_by_name["Echo"].full_name, health.SERVICE_NAME)
    if args.reflection in ("v1alpha", "both"):
        reflection.enable_server_reflection(services + (reflection.SERVICE_NAME,), server)
    if args.reflection in ("v1", "both"):
        server.add_generic_rpc_handlers((_v1_reflection_handler(reflection.ReflectionServicer(services)),))
    port = server.add_insecure_port(args.listen)
    if port == 0:
        print("cli_backend: cannot listen on %s" % args.listen, file=sys.stderr, flush=True)
        return 2
    server.start()
    listen = args.listen if not args.listen.endswith(":0") else "%s:%d" % (args.listen[:-2], port)
    print("READY %s" % listen, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
