"""A user's script touching every public call shape of lbchannel and lbchannel.aio.

It is type-checked with ``mypy --strict`` by test_typing.py (and ``make test-typing``);
it must pass with no error and no ``# type: ignore``. Not executed.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Iterator, List, Optional, Tuple

import grpc
import grpc.aio

import lbchannel
import lbchannel.aio

TARGET = "ipv4:127.0.0.2:50051,127.0.0.3:50051"
MD: List[Tuple[str, str | bytes]] = [("x-trace", "abc"), ("x-blob-bin", b"\x00\xff")]


def text_requests() -> Iterator[str]:
    yield "ann"
    yield "bob"


def byte_requests() -> Iterator[bytes]:
    yield b"a"
    yield b"b"


class Tracing(grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(self, continuation: Any, client_call_details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return continuation(client_call_details, request)


class AioTracing(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
                                    request: Any) -> Any:
        return await continuation(client_call_details, request)


def sync_calls(ch: lbchannel.Channel) -> None:
    # bytes level
    reply: bytes = ch.unary("/pkg.Svc/Echo", b"ping", timeout=1.0, metadata=MD)
    reply, call = ch.unary_with_call("/pkg.Svc/Echo", bytearray(b"ping"))
    code: grpc.StatusCode = call.code()
    details: str = call.details()
    peers: Tuple[str, ...] = call.attempt_peers()
    print(reply, code, details, peers, call.initial_metadata(), call.trailing_metadata(), call.peer(), call.attempts)
    with ch.stream("/pkg.Svc/Chat", timeout=10) as stream:
        stream.send(b"hello")
        stream.send(memoryview(b"bye"), end=True, timeout=1.0)
        first: Optional[bytes] = stream.recv(timeout=1.0)
        for message in stream:
            print(first, message.hex())
        stream.wait(1.0)
        print(stream.code(), stream.trailing_metadata(), stream.time_remaining(), stream.is_active())
    for message in ch.server_stream("/pkg.Svc/Range", b"3", timeout=5):
        print(len(message))
    total: bytes = ch.client_stream("/pkg.Svc/Sum", [b"1", b"2"], timeout=5)
    total, sum_call = ch.client_stream_with_call("/pkg.Svc/Sum", iter([b"1"]))
    for message in ch.bidi_stream("/pkg.Svc/Chat", byte_requests()):
        print(total, sum_call.code(), message)

    # grpc.Channel interface: bytes in, bytes out without (de)serializers
    echo = ch.unary_unary("/pkg.Svc/Echo")
    raw: bytes = echo(b"x", timeout=1.0, metadata=MD)
    raw, raw_call = echo.with_call(b"x", wait_for_ready=True)
    future = echo.future(b"x", timeout=2.0)
    future.add_done_callback(lambda f: print(f.done()))
    if not future.cancel():
        raw = future.result(timeout=1.0)
        error: Optional[Exception] = future.exception()
        print(raw, raw_call, error, future.cancelled(), future.running(), future.code(), future.details(),
              future.initial_metadata(), future.trailing_metadata(), future.time_remaining())

    # typed (de)serializers, as generated stubs give them
    greet = ch.unary_unary("/pkg.Svc/Greet", request_serializer=str.encode, response_deserializer=bytes.decode,
                           _registered_method=True)
    greeting: str = greet("ann", timeout=1.0)
    greeting = greet.future("bob").result()
    words = ch.unary_stream("/pkg.Svc/Words", request_serializer=str.encode, response_deserializer=bytes.decode)
    word_call = words("ann", timeout=10, metadata=MD)
    for word in word_call:
        greeting = word
    print(greeting, word_call.code(), word_call.cancel())
    joined = ch.stream_unary("/pkg.Svc/Join", request_serializer=str.encode, response_deserializer=bytes.decode)
    greeting = joined(text_requests(), timeout=10)
    greeting, join_call = joined.with_call(text_requests())
    join_future = joined.future(text_requests())
    join_future.cancel()
    print(join_call.code(), join_future.cancelled(), join_future.done())
    chat = ch.stream_stream("/pkg.Svc/Chat")
    chat_call = chat(byte_requests(), timeout=10)
    for message in chat_call:
        print(message.decode())

    # errors
    try:
        echo(b"")
    except lbchannel.RpcError as e:
        print(e.code(), e.details(), e.status_code, e.trailing_metadata(), e.peer())
    except grpc.RpcError as e:
        print(e.code())
    except lbchannel.Error as e:
        print(e.code, e.message, e.function)

    # connectivity, stats, discovery
    state: str = ch.connectivity()
    subscriber: Callable[[grpc.ChannelConnectivity], None] = print
    ch.subscribe(subscriber, try_to_connect=True)
    ch.unsubscribe(subscriber)
    grpc.channel_ready_future(ch).result(timeout=5)
    stats: dict[str, Any] = ch.stats()
    ch.set_endpoints(["127.0.0.2:50051", "127.0.0.3:50051;weight=2"])
    print(state, stats["policy"], ch.endpoints(), ch.target, ch.closed, ch.lookup_error)

    # interceptors
    intercepted = grpc.intercept_channel(ch, Tracing())
    print(intercepted.unary_unary("/pkg.Svc/Greet", str.encode, bytes.decode)("ann").upper())


def sync_channels() -> None:
    with lbchannel.Channel(TARGET, lb_policy="round_robin", connect_timeout_ms=500, wait_for_ready=True,
                           lookup=lambda target: ["127.0.0.2:50051"],
                           log_callback=lambda level, message: print(level.name, message)) as ch:
        sync_calls(ch)
    insecure = lbchannel.insecure_channel(
        TARGET, options=[("grpc.lb_policy_name", "pick_first"), ("grpc.max_receive_message_length", -1)],
        discovery_interval_ms=5000, service_config={"methodConfig": []})
    insecure.close()
    creds = lbchannel.ssl_channel_credentials(root_certificates=b"PEM", private_key=b"KEY",
                                              certificate_chain=b"CHAIN")
    secure = lbchannel.secure_channel("dns:///api.internal:443", creds, options=[("grpc.default_authority", "a")],
                                      tls_server_name="api.internal", log_callback=True)
    secure.reload_tls()
    secure.close()
    print(lbchannel.version(), lbchannel.version_num(), lbchannel.library_path, lbchannel.HAVE_GRPC,
          lbchannel.StatusCode.UNAVAILABLE.to_grpc(), lbchannel.LogLevel.ERROR.to_logging())


async def aio_requests() -> AsyncIterator[bytes]:
    yield b"a"


async def aio_calls(ch: lbchannel.aio.Channel) -> None:
    reply: bytes = await ch.unary("/pkg.Svc/Echo", b"ping", timeout=1.0, metadata=MD)
    reply, call = await ch.unary_with_call("/pkg.Svc/Echo", b"ping")
    print(reply, await call.code(), await call.details(), await call.trailing_metadata(), await call.peer())
    stream = ch.stream("/pkg.Svc/Chat", metadata=MD, timeout=5)
    await stream.write(b"x")
    await stream.done_writing()
    message = await stream.read()
    if message is not lbchannel.aio.EOF:
        print(message)
    async for item in stream:
        print(item)

    echo = ch.unary_unary("/pkg.Svc/Echo")
    unary_call = echo(b"x", timeout=1.0, metadata=MD)
    raw: bytes = await unary_call
    print(raw, await unary_call.initial_metadata(), unary_call.done(), unary_call.cancelled(),
          unary_call.time_remaining())
    unary_call.add_done_callback(print)
    greet = ch.unary_unary("/pkg.Svc/Greet", request_serializer=str.encode, response_deserializer=bytes.decode)
    greeting: str = await greet("ann")
    words = ch.unary_stream("/pkg.Svc/Words", request_serializer=str.encode, response_deserializer=bytes.decode)
    async for word in words("ann", timeout=10):
        greeting = word
    joined = ch.stream_unary("/pkg.Svc/Join")
    join_call = joined(aio_requests(), timeout=10)
    raw = await join_call
    writer = joined()
    await writer.write(b"x")
    await writer.done_writing()
    raw = await writer
    chat = ch.stream_stream("/pkg.Svc/Chat")
    chat_call = chat(byte_requests())
    async for message_bytes in chat_call:
        print(greeting, raw, message_bytes)
    print(chat_call.cancel(), await chat_call.code())
    try:
        await echo(b"")
    except lbchannel.aio.AioRpcError as e:
        print(e.code(), e.details(), e.trailing_metadata())
    state: grpc.ChannelConnectivity = ch.get_state(try_to_connect=True)
    await ch.channel_ready()
    print(state, ch.stats(), ch.endpoints(), ch.target, ch.closed)


async def aio_channels() -> None:
    async with lbchannel.aio.Channel(TARGET, interceptors=[AioTracing()], lb_policy="round_robin") as ch:
        await aio_calls(ch)
    insecure = lbchannel.aio.insecure_channel(TARGET, options=[("grpc.enable_retries", 0)],
                                              interceptors=[AioTracing()], retry_max_attempts=3)
    await insecure.close()
    creds = lbchannel.aio.ssl_channel_credentials()
    secure = lbchannel.aio.secure_channel(TARGET, creds, tls_server_name="api.internal")
    await secure.close(grace=None)


def metrics_exports(ch: lbchannel.Channel, aio_ch: lbchannel.aio.Channel) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric, MetricsData
    from prometheus_client import CollectorRegistry

    from lbchannel.metrics import OpenTelemetryProducer, PrometheusCollector

    reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[reader])
    producer = OpenTelemetryProducer(ch, target="dns:///svc:50051", endpoints=False)
    producer.attach(reader)
    data: MetricsData = producer.produce(timeout_millis=1000)
    metrics: List[Metric] = producer.metrics()
    registry = CollectorRegistry()
    registry.register(PrometheusCollector(ch))
    registry.register(PrometheusCollector(aio_ch, endpoints=False))
    print(data, metrics, OpenTelemetryProducer(aio_ch))


if __name__ == "__main__":
    sync_channels()
    asyncio.run(aio_channels())
