"""Blocking streaming calls: the bytes-level API (Channel.stream & helpers) and
the grpc.Channel streaming multi-callables, against Tests/interop/server.py."""

import gc
import threading
import time
import weakref

import grpc
import pytest

from lbtest_support import wait_all_ready
from test_interop import Pinger, _stream_request

FDX = "/grpc.testing.TestService/FullDuplexCall"
SOC = "/grpc.testing.TestService/StreamingOutputCall"
SIC = "/grpc.testing.TestService/StreamingInputCall"
SLEEP_BEFORE_READ = "x-lbtest-sleep-before-read-ms"


@pytest.fixture(scope="module")
def ch(lbchannel, interop_servers):
    channel = lbchannel.Channel(interop_servers.target, lb_policy="round_robin")
    yield channel
    channel.close()


@pytest.fixture
def pb(interop_pb):
    return interop_pb[1]


def _fdx_req(pb, size, payload=0):
    return _stream_request(pb, size, payload).SerializeToString()


def _size_of(pb, raw):
    return len(pb.StreamingOutputCallResponse.FromString(raw).payload.body)


def _in_flight(channel):
    return sum(e["in_flight"] for e in channel.endpoints())


# -- bytes-level API -------------------------------------------------------------------


def test_stream_bidi_raw_bytes(lbchannel, ch, pb, interop_servers):
    with ch.stream(FDX, metadata=[("x-grpc-test-echo-initial", "hi")], timeout=10) as call:
        assert isinstance(call, lbchannel.StreamingCall) and isinstance(call, grpc.Call)
        assert call.is_active()
        assert 9 < call.time_remaining() <= 10
        for size in (10, 0, 70000):
            call.send(_fdx_req(pb, size))
            assert _size_of(pb, call.recv(timeout=10)) == size
        assert call.initial_metadata() == (("x-grpc-test-echo-initial", "hi"),)
        peer = call.peer()
        call.close_send()
        assert call.recv(timeout=10) is None
        assert call.code() == grpc.StatusCode.OK and call.details() == ""
        assert not call.is_active()
        server = dict(call.trailing_metadata())["x-lbtest-server"]
        assert interop_servers.name_of(peer) == server  # the stream stayed on the backend it started on
        native = call._native
        assert native.alive
    assert not native.alive  # freed on leaving the with block
    assert call.code() == grpc.StatusCode.OK and call.peer() == peer  # cached after free


def test_stream_iteration_and_end_flag(ch, pb):
    with ch.stream(FDX, timeout=10) as call:
        call.send(_fdx_req(pb, 3))
        call.send(_fdx_req(pb, 4), end=True)
        with pytest.raises(Exception) as info:
            call.send(_fdx_req(pb, 5))
        assert type(info.value).__name__ == "SendClosedError"
        assert [_size_of(pb, m) for m in call] == [3, 4]
        assert call.code() == grpc.StatusCode.OK


def test_server_client_bidi_helpers(ch, pb):
    req = pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=n) for n in (5, 6, 7)])
    with ch.server_stream(SOC, req.SerializeToString(), timeout=10) as call:
        assert [_size_of(pb, m) for m in call] == [5, 6, 7]
    reqs = [pb.StreamingInputCallRequest(payload=pb.Payload(body=bytes(n))).SerializeToString() for n in (1, 2, 3)]
    raw = ch.client_stream(SIC, reqs, timeout=10)
    assert pb.StreamingInputCallResponse.FromString(raw).aggregated_payload_size == 6
    raw, call = ch.client_stream_with_call(SIC, iter(reqs), timeout=10)
    assert call.code() == grpc.StatusCode.OK and call.trailing_metadata()
    with ch.bidi_stream(FDX, (_fdx_req(pb, n) for n in (8, 9)), timeout=10) as call:
        assert [_size_of(pb, m) for m in call] == [8, 9]


def test_recv_timeout_is_would_block(lbchannel, ch, pb):
    with ch.stream(FDX, timeout=10) as call:
        t0 = time.monotonic()
        with pytest.raises(lbchannel.WouldBlockError) as info:
            call.recv(timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert 0.15 < time.monotonic() - t0 < 2
        assert call.is_active()
        call.send(_fdx_req(pb, 1))
        assert _size_of(pb, call.recv(timeout=10)) == 1


def test_send_back_pressure(lbchannel, interop_servers, pb):
    # The server reads nothing for 1.5 s: the send buffer (64 KiB) and the
    # server's HTTP/2 window (64 KiB) fill up and send(timeout=0) refuses.
    with lbchannel.Channel(interop_servers.target, stream_send_buffer_bytes=65536) as channel:
        with channel.stream(FDX, metadata=[(SLEEP_BEFORE_READ, "1500")], timeout=15) as call:
            msg = pb.StreamingOutputCallRequest(payload=pb.Payload(body=bytes(32768))).SerializeToString()
            accepted = 0
            with pytest.raises(lbchannel.WouldBlockError):
                for _ in range(200):
                    call.send(msg, timeout=0)
                    accepted += 1
                    time.sleep(0.005)
            assert 2 <= accepted < 20, accepted  # bounded by the buffer + window, not by our loop
            t0 = time.monotonic()
            call.send(msg, timeout=10)  # room appears once the server reads
            assert time.monotonic() - t0 > 0.2
            call.close_send()
            assert list(call) == []
            assert call.code() == grpc.StatusCode.OK


def test_options_exist(lbchannel, interop_servers):
    with lbchannel.Channel(interop_servers.target, stream_window_bytes=1 << 20, stream_send_buffer_bytes=1 << 16):
        pass
    with pytest.raises(lbchannel.InvalidArgumentError):
        lbchannel.Channel(interop_servers.target, stream_window_bytes="lots")


# -- cancellation -----------------------------------------------------------------------


def test_cancel_from_another_thread_raw(ch, pb):
    call = ch.stream(FDX, timeout=30)
    got = {}

    def reader():
        t0 = time.monotonic()
        try:
            for _ in call:
                pass
        except grpc.RpcError as e:
            got["code"] = e.code()
        got["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)
    assert call.cancel()
    t.join(5)
    assert not t.is_alive()
    assert got["code"] == grpc.StatusCode.CANCELLED
    assert got["elapsed"] < 2
    assert call.code() == grpc.StatusCode.CANCELLED
    assert not call.cancel()  # already ended
    call.close()


def test_cancel_from_another_thread_stub(ch, interop_pb):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)
    pinger = Pinger()
    call = stub.FullDuplexCall(pinger, timeout=30)
    callbacks = []
    assert call.add_callback(lambda: callbacks.append("cb"))
    errors = []

    def reader():
        try:
            next(call)
        except grpc.RpcError as e:
            errors.append(e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)
    threading.Thread(target=call.cancel, daemon=True).start()
    t.join(5)
    assert not t.is_alive()
    assert errors and errors[0] is call and errors[0].code() == grpc.StatusCode.CANCELLED
    assert call.cancelled() and call.done() and not call.is_active()
    deadline = time.monotonic() + 5
    while not callbacks and time.monotonic() < deadline:
        time.sleep(0.02)
    assert callbacks == ["cb"]
    assert not call.add_callback(lambda: None)
    pinger.close()


# -- callbacks ----------------------------------------------------------------------------


def test_callbacks_run_and_a_raising_callback_is_isolated(ch, interop_pb):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)
    done = threading.Event()
    order = []

    def bad():
        order.append("bad")
        raise RuntimeError("callback bug")

    def good():
        order.append("good")
        done.set()

    gate = threading.Event()

    def requests():
        gate.wait(10)
        yield pb.StreamingInputCallRequest(payload=pb.Payload(body=b"abc"))

    fut = stub.StreamingInputCall.future(requests(), timeout=10)
    assert fut.add_callback(bad)
    assert fut.add_callback(good)
    seen = []
    fut.add_done_callback(lambda f: seen.append(f))
    gate.set()
    assert fut.result(timeout=10).aggregated_payload_size == 3
    assert done.wait(5)
    assert order == ["bad", "good"]
    assert seen == [fut]
    assert fut.code() == grpc.StatusCode.OK
    late = []
    fut.add_done_callback(lambda f: late.append(f))  # already done: runs at once
    assert late == [fut]
    assert not fut.add_callback(lambda: None)


# -- request iterators -------------------------------------------------------------------


def _raising_requests(pb):
    yield pb.StreamingInputCallRequest(payload=pb.Payload(body=b"x"))
    raise ValueError("iterator broke")


def test_request_iterator_that_raises_client_streaming(ch, interop_pb):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)
    with pytest.raises(grpc.RpcError) as info:
        stub.StreamingInputCall(_raising_requests(pb), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == "Exception iterating requests!"
    assert isinstance(info.value.__cause__, ValueError)


def test_request_iterator_that_raises_bidi(ch, interop_pb):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)

    def requests():
        yield _stream_request(pb, 1)
        time.sleep(0.2)
        raise ValueError("iterator broke")

    call = stub.FullDuplexCall(requests(), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        for _ in call:
            pass
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert call.code() == grpc.StatusCode.UNKNOWN
    assert not call.cancelled()  # cancelled by the binding, not the application


def test_serializer_failure_in_request_iterator(ch):
    # The first request must be a message the server can parse (b"" is an empty
    # StreamingInputCallRequest): b"ok" is not, and the server's own INTERNAL
    # ("Exception deserializing request!") could then race the client's failure.
    mc = ch.stream_unary(SIC, request_serializer=lambda r: r.encode("ascii"))
    with pytest.raises(grpc.RpcError) as info:
        mc(iter(["", "not ascii \u00e9"]), timeout=10)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "Exception serializing request!"


# -- errors ------------------------------------------------------------------------------


def test_closed_channel(lbchannel, interop_servers, interop_pb, pb):
    empty, _, pbg = interop_pb
    channel = lbchannel.Channel(interop_servers.target)
    stub = pbg.TestServiceStub(channel)
    running = channel.stream(FDX, timeout=10)
    running.send(_fdx_req(pb, 1))
    assert _size_of(pb, running.recv(timeout=10)) == 1
    channel.close()
    with pytest.raises(grpc.RpcError) as info:
        list(running)
    assert info.value.code() == grpc.StatusCode.CANCELLED
    running.close()
    with pytest.raises(lbchannel.ClosedError):
        channel.stream(FDX)
    with pytest.raises(ValueError):
        stub.StreamingOutputCall(pb.StreamingOutputCallRequest(), timeout=1)
    with pytest.raises(ValueError):
        stub.StreamingInputCall(iter([]), timeout=1)
    with pytest.raises(ValueError):
        stub.FullDuplexCall(iter([]), timeout=1)


def test_bad_method_and_metadata(lbchannel, ch, pb):
    with pytest.raises(lbchannel.InvalidArgumentError):
        ch.stream("no-leading-slash")
    with pytest.raises(lbchannel.InvalidMetadataError):
        ch.stream(FDX, metadata=[("Bad Key", "v")])
    with ch.stream("/grpc.testing.NoSuchService/Nope", timeout=10) as call:
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(lbchannel.CallFinishedError):
            call.send(b"late")
    assert _in_flight(ch) == 0


def test_deadline_exceeded_stream(ch, pb):
    with ch.stream(FDX, timeout=0.3) as call:
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 3


# -- resources -----------------------------------------------------------------------------


def test_native_calls_are_freed(ch, interop_pb):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)
    call = stub.StreamingOutputCall(pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=1)] * 3), timeout=10)
    assert len(list(call)) == 3
    assert not call._native.alive  # freed once the last message and the status were taken

    # An abandoned running call is cancelled and freed by the garbage collector.
    call = ch.stream(FDX, timeout=30)
    native_ref = weakref.ref(call._native)
    assert call._native.alive
    del call
    gc.collect()
    deadline = time.monotonic() + 5
    while (native_ref() is not None or _in_flight(ch)) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert native_ref() is None
    assert _in_flight(ch) == 0


# -- balancing -------------------------------------------------------------------------------


def test_streams_pinned_and_spread_over_backends(ch, pb, interop_servers):
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    calls = [ch.stream(FDX, timeout=20) for _ in range(30)]  # all open at once
    try:
        for round_ in range(3):
            for call in calls:
                call.send(_fdx_req(pb, round_ + 1))
            for call in calls:
                assert _size_of(pb, call.recv(timeout=10)) == round_ + 1
        peers = [call.peer() for call in calls]
        for call in calls:
            call.close_send()
            assert call.recv(timeout=10) is None
        counts = {}
        for call, peer in zip(calls, peers):
            assert call.code() == grpc.StatusCode.OK
            served_by = dict(call.trailing_metadata())["x-lbtest-server"]
            assert interop_servers.name_of(peer) == served_by  # every message of the stream on one backend
            assert call.peer() == peer
            counts[served_by] = counts.get(served_by, 0) + 1
        assert set(counts) == set(interop_servers.names), counts
        assert min(counts.values()) >= 5, counts  # round_robin over three
    finally:
        for call in calls:
            call.close()
    assert _in_flight(ch) == 0
