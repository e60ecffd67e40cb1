"""lbchannel.Channel as a grpc.Channel: generated stubs, multi-callables, futures."""

import threading
import time

import grpc
import pytest


@pytest.fixture
def channel(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    yield ch
    ch.close()


def test_is_a_grpc_channel(lbchannel, channel):
    assert isinstance(channel, grpc.Channel)
    assert issubclass(lbchannel.RpcError, grpc.RpcError)


def test_generated_stub_works_unchanged(pb, backends, channel):
    pb2, pb2_grpc = pb
    stub = pb2_grpc.GreeterStub(channel)
    reply = stub.SayHello(pb2.HelloRequest(name="x"))
    assert isinstance(reply, pb2.HelloReply)
    names = ["Hello, x from %s" % n for n in backends.names]
    assert reply.message in names
    reply = stub.SayHello(pb2.HelloRequest(name="x"), timeout=5, metadata=[("x-request-id", "42")])
    assert reply.message in names


def test_generated_stub_with_call_and_future(pb, backends, channel):
    pb2, pb2_grpc = pb
    stub = pb2_grpc.GreeterStub(channel)
    reply, call = stub.SayHello.with_call(pb2.HelloRequest(name="wc"), timeout=5)
    assert reply.message.startswith("Hello, wc from ")
    assert call.code() == grpc.StatusCode.OK
    assert call.details() == ""
    assert isinstance(call, grpc.Call)
    assert call.peer() in [b.address for b in backends]

    future = stub.SayHello.future(pb2.HelloRequest(name="fut"), timeout=5)
    assert isinstance(future, grpc.Future)
    assert future.result(timeout=10).message.startswith("Hello, fut from ")
    assert future.done() and not future.cancelled() and not future.running()
    assert future.exception() is None
    assert future.code() == grpc.StatusCode.OK


def test_generated_stub_error_is_a_grpc_rpc_error(pb, channel):
    pb2, pb2_grpc = pb
    stub = pb2_grpc.GreeterStub(channel)
    try:
        stub.SayHello(pb2.HelloRequest(name="!5:nobody here"), timeout=5)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND
        assert e.details() == "nobody here"
    else:
        pytest.fail("no grpc.RpcError raised")

    future = stub.SayHello.future(pb2.HelloRequest(name="!7:denied"), timeout=5)
    err = future.exception(timeout=10)
    assert isinstance(err, grpc.RpcError)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert future.code() == grpc.StatusCode.PERMISSION_DENIED
    assert future.details() == "denied"
    with pytest.raises(grpc.RpcError):
        future.result(timeout=10)


def test_generated_stub_deadline(pb, channel, backends):
    # Greeter has no slow method: use the bytes-level Sleep through unary_unary.
    sleep = channel.unary_unary("/lbtest.Test/Sleep")
    with pytest.raises(grpc.RpcError) as info:
        sleep(b"2000", timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert sleep(b"10", timeout=5).decode() in backends.names


def test_unary_unary_without_serializers_is_bytes(channel, backends):
    echo = channel.unary_unary("/lbtest.Test/Echo", _registered_method=True)
    resp, call = echo.with_call(b"\x00raw\xff", timeout=5, metadata=(("x-k", "v"),))
    assert resp == b"\x00raw\xff"
    assert call.initial_metadata() == (("x-k", "v"),)
    assert ("x-backend", call.trailing_metadata()[-1][1]) == call.trailing_metadata()[-1]


def test_unary_unary_with_custom_serializers(channel):
    echo = channel.unary_unary(
        "/lbtest.Test/Echo",
        request_serializer=lambda s: s.encode("utf-8"),
        response_deserializer=lambda b: b.decode("utf-8").upper(),
    )
    assert echo("héllo", timeout=5) == "HÉLLO"


def test_serializer_failure_is_an_rpc_error(channel):
    def bad(_):
        raise ValueError("cannot")

    with pytest.raises(grpc.RpcError) as info:
        channel.unary_unary("/lbtest.Test/Echo", request_serializer=bad)(object(), timeout=5)
    assert info.value.code() == grpc.StatusCode.INTERNAL


def test_oversized_request_is_resource_exhausted(lbchannel, backends):
    with lbchannel.Channel(backends.target, max_send_message_size=10) as ch:
        with pytest.raises(grpc.RpcError) as info:
            ch.unary_unary("/lbtest.Test/Echo")(b"x" * 11, timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_future_done_callback(channel):
    fut = channel.unary_unary("/lbtest.Test/Sleep").future(b"100", timeout=5)
    seen = threading.Event()
    got = []

    def cb(f):
        got.append(f)
        seen.set()

    fut.add_done_callback(cb)
    assert seen.wait(5)
    assert got == [fut]
    assert fut.time_remaining() is not None


def test_streaming_kinds_are_invocable(channel):
    # Streaming is implemented (see test_streaming.py / test_interop.py); the
    # lbtest backend has no streaming method, so each kind reports UNIMPLEMENTED.
    method = "/lbtest.Test/Stream"
    calls = [
        lambda: list(channel.unary_stream(method, _registered_method=True)(b"", timeout=5)),
        lambda: channel.stream_unary(method, _registered_method=True)(iter([b""]), timeout=5),
        lambda: list(channel.stream_stream(method, _registered_method=True)(iter([b""]), timeout=5)),
    ]
    for invoke in calls:
        with pytest.raises(grpc.RpcError) as info:
            invoke()
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_subscribe_and_channel_ready_future(channel):
    states = []
    channel.subscribe(states.append, try_to_connect=True)
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
        assert grpc.ChannelConnectivity.READY in states
    finally:
        channel.unsubscribe(states.append)


def test_closed_channel_raises_value_error(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    mc = ch.unary_unary("/lbtest.Test/Whoami")
    ch.close()
    with pytest.raises(ValueError):
        mc(b"", timeout=5)
    with pytest.raises(ValueError):
        mc.future(b"", timeout=5)


def test_future_outlives_nothing_after_close(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    fut = ch.unary_unary("/lbtest.Test/Sleep").future(b"3000", timeout=10)
    time.sleep(0.3)
    ch.close()
    err = fut.exception(timeout=5)
    assert err is not None and err.code() == grpc.StatusCode.CANCELLED
