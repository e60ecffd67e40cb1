"""Runtime behaviour of the sync binding (issue 12, items 1-4 and 8):

* ``future()`` on unary methods is a real call (``lbc_unary_async``): cancel()
  reaches the server, and returns False once the call has ended;
* ``cancel()`` takes effect at once for every call shape: ``cancelled()``,
  ``done()`` and ``code() == CANCELLED`` right after a True ``cancel()``;
* ``subscribe()`` / ``grpc.channel_ready_future`` ride the library's
  connectivity watch (no polling thread); a subscriber's exception is logged;
* ``close()`` returns at once after streaming calls;
* received messages arrive as bytes (read into them by ``lbc_call_recv_into``).

Servers: grpcio servers started by the tests (Tests/interop/server.py via the
``interop_servers`` fixture, Tests/python/backend.py, and an in-process grpcio
server whose handler records the cancellation it sees).
"""

import logging
import threading
import time
from concurrent import futures

import grpc
import pytest

SIC = "/grpc.testing.TestService/StreamingInputCall"
SOC = "/grpc.testing.TestService/StreamingOutputCall"
FDX = "/grpc.testing.TestService/FullDuplexCall"
TIMEOUT = 10
TRIES = 50


@pytest.fixture(scope="module")
def ch(lbchannel, interop_servers):
    channel = lbchannel.Channel(interop_servers.target, lb_policy="round_robin")
    yield channel
    channel.close()


def _never_yields(gate):
    """A request iterator that never yields (until ``gate`` is set, then ends)."""
    gate.wait(TIMEOUT)
    return
    yield


def _assert_cancelled_now(call):
    assert call.cancelled()
    assert call.done()
    assert call.code() == grpc.StatusCode.CANCELLED
    assert not call.is_active()


# -- cancel() takes effect at once, every call shape ----------------------------------


def test_cancel_is_immediate_unary_future(lbchannel, backends):
    with lbchannel.Channel(backends.target) as channel:
        mc = channel.unary_unary("/lbtest.Test/Sleep")
        for _ in range(TRIES):
            fut = mc.future(b"5000", timeout=TIMEOUT)
            assert fut.cancel()
            _assert_cancelled_now(fut)
            with pytest.raises(grpc.FutureCancelledError):
                fut.result(timeout=TIMEOUT)
            assert not fut.cancel()  # already ended


def test_cancel_is_immediate_stream_unary_future_with_a_silent_iterator(ch):
    mc = ch.stream_unary(SIC)
    for _ in range(TRIES):
        gate = threading.Event()
        fut = mc.future(_never_yields(gate), timeout=TIMEOUT)
        assert fut.cancel()
        _assert_cancelled_now(fut)
        gate.set()
        with pytest.raises(grpc.RpcError) as info:
            fut.result(timeout=TIMEOUT)
        assert info.value.code() == grpc.StatusCode.CANCELLED


def test_cancel_is_immediate_unary_stream(ch, interop_pb):
    _, pb, _ = interop_pb
    request = pb.StreamingOutputCallRequest(
        response_parameters=[pb.ResponseParameters(size=10, interval_us=1_000_000)] * 5
    ).SerializeToString()
    mc = ch.unary_stream(SOC)
    for _ in range(TRIES):
        call = mc(request, timeout=TIMEOUT)
        assert call.cancel()
        _assert_cancelled_now(call)
        with pytest.raises(grpc.RpcError) as info:
            next(call)
        assert info.value.code() == grpc.StatusCode.CANCELLED


def test_cancel_is_immediate_stream_stream_with_a_silent_iterator(ch):
    mc = ch.stream_stream(FDX)
    for _ in range(TRIES):
        gate = threading.Event()
        call = mc(_never_yields(gate), timeout=TIMEOUT)
        assert call.cancel()
        _assert_cancelled_now(call)
        gate.set()
        with pytest.raises(grpc.RpcError) as info:
            next(call)
        assert info.value.code() == grpc.StatusCode.CANCELLED


def test_cancel_is_immediate_raw_streaming_call(ch):
    for _ in range(TRIES):
        with ch.stream(FDX, timeout=TIMEOUT) as call:
            assert call.cancel()
            assert call.done() and not call.is_active()
            assert call.code() == grpc.StatusCode.CANCELLED
            assert not call.cancel()


def test_upstream_interop_cancel_after_begin_50_of_50(ch, interop_pb):
    """grpc/grpc tests/interop/methods.py ``_cancel_after_begin``, in its order:
    cancel(), then cancelled() before code()."""
    _, _, pbg = interop_pb
    stub = pbg.TestServiceStub(ch)
    passed = 0
    for _ in range(TRIES):
        gate = threading.Event()
        response_future = stub.StreamingInputCall.future(_never_yields(gate), timeout=TIMEOUT)
        response_future.cancel()
        ok = response_future.cancelled() and response_future.code() is grpc.StatusCode.CANCELLED
        gate.set()
        passed += ok
    assert passed == TRIES


def test_add_done_callback_runs_at_cancel(ch):
    gate = threading.Event()
    fut = ch.stream_unary(SIC).future(_never_yields(gate), timeout=TIMEOUT)
    seen = []
    fut.add_done_callback(seen.append)
    assert fut.cancel()
    assert seen == [fut]  # run by cancel() itself, before it returned
    gate.set()


# -- future() is a real call: the server sees the cancellation ------------------------


@pytest.fixture
def recording_server():
    """An in-process grpcio server: ``/t.T/Block`` waits until the RPC ends and
    records how it ended (``cancelled`` is set when the server saw a cancel)."""
    started = threading.Event()
    cancelled = threading.Event()
    finished_ok = threading.Event()

    def block(request, context):
        context.add_callback(lambda: None if context.is_active() else None)
        started.set()
        end = time.monotonic() + TIMEOUT
        while context.is_active() and time.monotonic() < end:
            time.sleep(0.01)
        if not context.is_active():
            cancelled.set()
        return request

    def quick(request, context):
        finished_ok.set()
        return request

    handler = grpc.method_handlers_generic_handler(
        "t.T",
        {
            "Block": grpc.unary_unary_rpc_method_handler(block),
            "Quick": grpc.unary_unary_rpc_method_handler(quick),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield "ipv4:127.0.0.1:%d" % port, started, cancelled
    finally:
        server.stop(None)


def test_future_cancel_reaches_the_server(lbchannel, recording_server):
    target, started, cancelled = recording_server
    with lbchannel.Channel(target) as channel:
        fut = channel.unary_unary("/t.T/Block").future(b"x", timeout=TIMEOUT)
        assert started.wait(TIMEOUT), "the server never got the call"
        assert fut.cancel()
        _assert_cancelled_now(fut)
        assert cancelled.wait(5), "the server did not see the cancellation"


def test_future_cancel_after_the_end_is_false(lbchannel, recording_server):
    target, _, _ = recording_server
    with lbchannel.Channel(target) as channel:
        fut = channel.unary_unary("/t.T/Quick").future(b"abc", timeout=TIMEOUT)
        assert fut.result(timeout=TIMEOUT) == b"abc"
        assert not fut.cancel()
        assert not fut.cancelled() and fut.done()
        assert fut.code() == grpc.StatusCode.OK


def test_future_uses_no_thread_pool(lbchannel, backends):
    with lbchannel.Channel(backends.target) as channel:
        mc = channel.unary_unary("/lbtest.Test/Sleep")
        before = {t.name for t in threading.enumerate()}
        futs = [mc.future(b"200", timeout=TIMEOUT) for _ in range(50)]
        names = {t.name for t in threading.enumerate()} - before
        assert all(f.result(timeout=TIMEOUT) for f in futs)
        # 50 concurrent futures: one event thread, no worker per call.
        assert names <= {"lbchannel-events"}, names


# -- connectivity through the library's watch --------------------------------------------


def test_subscribe_uses_watch_events_and_logs_subscriber_errors(lbchannel, backends, caplog):
    channel = lbchannel.Channel(backends.target)
    states = []
    got_shutdown = threading.Event()

    def record(state):
        states.append(state)
        if state == grpc.ChannelConnectivity.SHUTDOWN:
            got_shutdown.set()

    def broken(state):
        raise RuntimeError("subscriber bug %s" % state)

    with caplog.at_level(logging.ERROR, logger="lbchannel"):
        channel.subscribe(broken)
        channel.subscribe(record, try_to_connect=True)
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        assert not any(t.name == "lbchannel-connectivity" for t in threading.enumerate())
        deadline = time.monotonic() + TIMEOUT
        while grpc.ChannelConnectivity.READY not in states and time.monotonic() < deadline:
            time.sleep(0.01)
        assert grpc.ChannelConnectivity.READY in states
        channel.close()
        assert got_shutdown.wait(TIMEOUT)
    assert states[-1] == grpc.ChannelConnectivity.SHUTDOWN
    # Consecutive reports differ (a subscriber hears changes, not repeats).
    assert all(a != b for a, b in zip(states, states[1:]))
    errors = [r for r in caplog.records if r.name == "lbchannel" and "subscriber" in r.getMessage()]
    assert errors and errors[0].exc_info and "subscriber bug" in str(errors[0].exc_info[1])


def test_unsubscribe_stops_reports(lbchannel, backends):
    channel = lbchannel.Channel(backends.target)
    first, second = [], []
    channel.subscribe(first.append)
    channel.subscribe(second.append)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while not (first and second) and time.monotonic() < deadline:
        time.sleep(0.01)
    channel.unsubscribe(first.append)
    channel.close()
    assert grpc.ChannelConnectivity.SHUTDOWN not in first
    assert second[-1] == grpc.ChannelConnectivity.SHUTDOWN


def test_channel_ready_future_waits_for_a_backend(lbchannel, gen_dir, dead_target):
    with lbchannel.Channel(dead_target) as channel:
        fut = grpc.channel_ready_future(channel)
        with pytest.raises(grpc.FutureTimeoutError):
            fut.result(timeout=0.5)
        fut.cancel()


# -- close() is immediate --------------------------------------------------------------------


def test_close_after_streaming_calls_is_immediate(lbchannel, interop_servers, interop_pb):
    _, pb, _ = interop_pb
    request = pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=10)] * 3)
    times = []
    for _ in range(5):
        channel = lbchannel.Channel(interop_servers.target)
        for _ in range(3):
            assert len(list(channel.unary_stream(SOC)(request.SerializeToString(), timeout=TIMEOUT))) == 3
        fut = channel.unary_unary("/grpc.testing.TestService/EmptyCall").future(b"", timeout=TIMEOUT)
        fut.result(timeout=TIMEOUT)
        t0 = time.perf_counter()
        channel.close()
        times.append(time.perf_counter() - t0)
    # The event thread waits without a timeout and is woken by the close itself
    # (it used to poll in 200 ms slices). The best of 5 keeps a loaded machine's
    # scheduling hiccups out of the figure.
    assert min(times) < 0.05, times


# -- one copy per received message ---------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65536, 1 << 20])
def test_received_messages_are_bytes(ch, interop_pb, size):
    _, pb, _ = interop_pb
    with ch.stream(SOC, timeout=TIMEOUT) as call:
        request = pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=size)] * 2)
        call.send(request.SerializeToString(), end=True)
        messages = list(call)
    assert len(messages) == 2
    for raw in messages:
        assert type(raw) is bytes
        assert pb.StreamingOutputCallResponse.FromString(raw).payload.body == bytes(size)
