"""gRPC's interop client cases (doc/interop-test-descriptions.md) through lbchannel.

Each case runs with grpcio-generated stubs (grpc.testing.TestService) on
* the sync grpc.Channel interface of ``lbchannel.Channel``, and
* ``lbchannel.aio.Channel`` (grpc.aio-style stubs: ``await``, ``async for``),
against three Tests/interop/server.py backends behind one balanced channel.
"""

import asyncio
import queue
import threading

import grpc
import pytest

from lbtest_support import wait_all_ready

ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
REQUEST_SIZES = (27182, 8, 1828, 45904)
RESPONSE_SIZES = (31415, 9, 2653, 58979)
TIMEOUT = 10


def _payload(pb, n):
    return pb.Payload(body=bytes(n))


def _stream_request(pb, resp_size, req_size=0, status=None):
    kw = {}
    if status is not None:
        kw["response_status"] = pb.EchoStatus(code=status[0], message=status[1])
    return pb.StreamingOutputCallRequest(
        response_parameters=[pb.ResponseParameters(size=resp_size)], payload=_payload(pb, req_size), **kw
    )


class Pinger:
    """A request iterator fed one request at a time (for ping-pong with sync stubs)."""

    def __init__(self):
        self._q = queue.Queue()

    def put(self, item):
        self._q.put(item)

    def close(self):
        self._q.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get(timeout=TIMEOUT)
        if item is None:
            raise StopIteration
        return item


# ---------------------------------------------------------------------------
# sync cases: case(stub, empty_pb2, pb, test_pb2_grpc, channel)
# ---------------------------------------------------------------------------


def sync_empty_unary(stub, empty, pb, pbg, ch):
    resp = stub.EmptyCall(empty.Empty(), timeout=TIMEOUT)
    assert isinstance(resp, empty.Empty)


def sync_large_unary(stub, empty, pb, pbg, ch):
    resp = stub.UnaryCall(pb.SimpleRequest(response_size=314159, payload=_payload(pb, 271828)), timeout=TIMEOUT)
    assert resp.payload.body == bytes(314159)


def sync_client_streaming(stub, empty, pb, pbg, ch):
    requests = (pb.StreamingInputCallRequest(payload=_payload(pb, n)) for n in REQUEST_SIZES)
    resp = stub.StreamingInputCall(requests, timeout=TIMEOUT)
    assert resp.aggregated_payload_size == 74922
    # with_call and future too
    resp, call = stub.StreamingInputCall.with_call(iter([pb.StreamingInputCallRequest(payload=_payload(pb, 5))]), timeout=TIMEOUT)
    assert resp.aggregated_payload_size == 5 and call.code() == grpc.StatusCode.OK
    fut = stub.StreamingInputCall.future(iter([pb.StreamingInputCallRequest(payload=_payload(pb, 7))] * 3), timeout=TIMEOUT)
    assert isinstance(fut, grpc.Future) and isinstance(fut, grpc.Call)
    assert fut.result(timeout=TIMEOUT).aggregated_payload_size == 21
    assert fut.done() and fut.exception() is None


def sync_server_streaming(stub, empty, pb, pbg, ch):
    req = pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=n) for n in RESPONSE_SIZES])
    call = stub.StreamingOutputCall(req, timeout=TIMEOUT)
    assert isinstance(call, grpc.Call)
    sizes = [len(r.payload.body) for r in call]
    assert sizes == list(RESPONSE_SIZES)
    assert call.code() == grpc.StatusCode.OK


def sync_ping_pong(stub, empty, pb, pbg, ch):
    pinger = Pinger()
    call = stub.FullDuplexCall(pinger, timeout=TIMEOUT)
    for req_size, resp_size in zip(REQUEST_SIZES, RESPONSE_SIZES):
        pinger.put(_stream_request(pb, resp_size, req_size))
        resp = next(call)
        assert len(resp.payload.body) == resp_size
    pinger.close()
    with pytest.raises(StopIteration):
        next(call)
    assert call.code() == grpc.StatusCode.OK


def sync_empty_stream(stub, empty, pb, pbg, ch):
    call = stub.FullDuplexCall(iter([]), timeout=TIMEOUT)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def sync_cancel_after_begin(stub, empty, pb, pbg, ch):
    gate = threading.Event()

    def requests():  # never yields before the cancel
        gate.wait(TIMEOUT)
        return
        yield

    fut = stub.StreamingInputCall.future(requests(), timeout=TIMEOUT)
    assert fut.cancel()
    gate.set()
    assert fut.code() == grpc.StatusCode.CANCELLED
    assert fut.cancelled()
    with pytest.raises(grpc.RpcError) as info:
        fut.result(timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.CANCELLED


def sync_cancel_after_first_response(stub, empty, pb, pbg, ch):
    pinger = Pinger()
    call = stub.FullDuplexCall(pinger, timeout=TIMEOUT)
    pinger.put(_stream_request(pb, 31415, 27182))
    assert len(next(call).payload.body) == 31415
    assert call.cancel()
    with pytest.raises(grpc.RpcError) as info:
        next(call)
    assert info.value.code() == grpc.StatusCode.CANCELLED
    assert call.code() == grpc.StatusCode.CANCELLED
    pinger.close()


def sync_timeout_on_sleeping_server(stub, empty, pb, pbg, ch):
    pinger = Pinger()
    call = stub.FullDuplexCall(pinger, timeout=0.001)
    pinger.put(pb.StreamingOutputCallRequest(payload=_payload(pb, 27182)))
    with pytest.raises(grpc.RpcError) as info:
        next(call)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    pinger.close()


def sync_custom_metadata(stub, empty, pb, pbg, ch):
    md = (ECHO_INITIAL, ECHO_TRAILING)
    resp, call = stub.UnaryCall.with_call(
        pb.SimpleRequest(response_size=314159, payload=_payload(pb, 271828)), metadata=md, timeout=TIMEOUT
    )
    assert len(resp.payload.body) == 314159
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()

    pinger = Pinger()
    call = stub.FullDuplexCall(pinger, metadata=md, timeout=TIMEOUT)
    pinger.put(_stream_request(pb, 314159, 271828))
    pinger.close()
    assert [len(r.payload.body) for r in call] == [314159]
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()


def sync_status_code_and_message(stub, empty, pb, pbg, ch):
    status = (2, "test status message")
    with pytest.raises(grpc.RpcError) as info:
        stub.UnaryCall(pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=status[1])), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == status[1]

    call = stub.FullDuplexCall(iter([_stream_request(pb, 1, 0, status)]), timeout=TIMEOUT)
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == status[1]
    assert call.code() == grpc.StatusCode.UNKNOWN and call.details() == status[1]


def sync_special_status_message(stub, empty, pb, pbg, ch):
    with pytest.raises(grpc.RpcError) as info:
        stub.UnaryCall(pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=SPECIAL_MESSAGE)), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == SPECIAL_MESSAGE


def sync_unimplemented_method(stub, empty, pb, pbg, ch):
    with pytest.raises(grpc.RpcError) as info:
        stub.UnimplementedCall(empty.Empty(), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def sync_unimplemented_service(stub, empty, pb, pbg, ch):
    other = pbg.UnimplementedServiceStub(ch)
    with pytest.raises(grpc.RpcError) as info:
        other.UnimplementedCall(empty.Empty(), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


SYNC_CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("sync_")}


# ---------------------------------------------------------------------------
# asyncio cases
# ---------------------------------------------------------------------------


async def aio_empty_unary(stub, empty, pb, pbg, ch):
    resp = await stub.EmptyCall(empty.Empty(), timeout=TIMEOUT)
    assert isinstance(resp, empty.Empty)


async def aio_large_unary(stub, empty, pb, pbg, ch):
    resp = await stub.UnaryCall(pb.SimpleRequest(response_size=314159, payload=_payload(pb, 271828)), timeout=TIMEOUT)
    assert resp.payload.body == bytes(314159)


async def aio_client_streaming(stub, empty, pb, pbg, ch):
    # writer style
    call = stub.StreamingInputCall(timeout=TIMEOUT)
    for n in REQUEST_SIZES:
        await call.write(pb.StreamingInputCallRequest(payload=_payload(pb, n)))
    await call.done_writing()
    resp = await call
    assert resp.aggregated_payload_size == 74922
    assert await call.code() == grpc.StatusCode.OK

    # async iterator of requests
    async def requests():
        for n in REQUEST_SIZES:
            yield pb.StreamingInputCallRequest(payload=_payload(pb, n))

    assert (await stub.StreamingInputCall(requests(), timeout=TIMEOUT)).aggregated_payload_size == 74922
    # plain iterator of requests
    sync_requests = [pb.StreamingInputCallRequest(payload=_payload(pb, n)) for n in REQUEST_SIZES]
    assert (await stub.StreamingInputCall(iter(sync_requests), timeout=TIMEOUT)).aggregated_payload_size == 74922


async def aio_server_streaming(stub, empty, pb, pbg, ch):
    req = pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=n) for n in RESPONSE_SIZES])
    call = stub.StreamingOutputCall(req, timeout=TIMEOUT)
    sizes = [len(r.payload.body) async for r in call]
    assert sizes == list(RESPONSE_SIZES)
    assert await call.code() == grpc.StatusCode.OK
    # read() style
    call = stub.StreamingOutputCall(req, timeout=TIMEOUT)
    sizes = []
    while True:
        r = await call.read()
        if r is grpc.aio.EOF:
            break
        sizes.append(len(r.payload.body))
    assert sizes == list(RESPONSE_SIZES)


async def aio_ping_pong(stub, empty, pb, pbg, ch):
    call = stub.FullDuplexCall(timeout=TIMEOUT)
    for req_size, resp_size in zip(REQUEST_SIZES, RESPONSE_SIZES):
        await call.write(_stream_request(pb, resp_size, req_size))
        resp = await call.read()
        assert len(resp.payload.body) == resp_size
    await call.done_writing()
    assert await call.read() is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def aio_empty_stream(stub, empty, pb, pbg, ch):
    call = stub.FullDuplexCall(timeout=TIMEOUT)
    await call.done_writing()
    assert await call.read() is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def aio_cancel_after_begin(stub, empty, pb, pbg, ch):
    call = stub.StreamingInputCall(timeout=TIMEOUT)
    assert call.cancel()
    assert call.cancelled()
    assert await call.code() == grpc.StatusCode.CANCELLED
    with pytest.raises(asyncio.CancelledError):
        await call


async def aio_cancel_after_first_response(stub, empty, pb, pbg, ch):
    call = stub.FullDuplexCall(timeout=TIMEOUT)
    await call.write(_stream_request(pb, 31415, 27182))
    assert len((await call.read()).payload.body) == 31415
    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.read()
    assert await call.code() == grpc.StatusCode.CANCELLED


async def aio_timeout_on_sleeping_server(stub, empty, pb, pbg, ch):
    call = stub.FullDuplexCall(timeout=0.001)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.write(pb.StreamingOutputCallRequest(payload=_payload(pb, 27182)))
        await call.read()
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await call.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def aio_custom_metadata(stub, empty, pb, pbg, ch):
    md = (ECHO_INITIAL, ECHO_TRAILING)
    call = stub.UnaryCall(pb.SimpleRequest(response_size=314159, payload=_payload(pb, 271828)), metadata=md, timeout=TIMEOUT)
    assert len((await call).payload.body) == 314159
    assert (await call.initial_metadata())[ECHO_INITIAL[0]] == ECHO_INITIAL[1]
    assert (await call.trailing_metadata())[ECHO_TRAILING[0]] == ECHO_TRAILING[1]

    call = stub.FullDuplexCall(metadata=md, timeout=TIMEOUT)
    await call.write(_stream_request(pb, 314159, 271828))
    await call.done_writing()
    assert [len(r.payload.body) async for r in call] == [314159]
    assert (await call.initial_metadata())[ECHO_INITIAL[0]] == ECHO_INITIAL[1]
    assert (await call.trailing_metadata())[ECHO_TRAILING[0]] == ECHO_TRAILING[1]


async def aio_status_code_and_message(stub, empty, pb, pbg, ch):
    message = "test status message"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.UnaryCall(pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=message)), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == message

    call = stub.FullDuplexCall(timeout=TIMEOUT)
    await call.write(_stream_request(pb, 1, 0, (2, message)))
    await call.done_writing()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == message
    assert await call.code() == grpc.StatusCode.UNKNOWN
    assert await call.details() == message


async def aio_special_status_message(stub, empty, pb, pbg, ch):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.UnaryCall(pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=SPECIAL_MESSAGE)), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == SPECIAL_MESSAGE


async def aio_unimplemented_method(stub, empty, pb, pbg, ch):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.UnimplementedCall(empty.Empty(), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def aio_unimplemented_service(stub, empty, pb, pbg, ch):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pbg.UnimplementedServiceStub(ch).UnimplementedCall(empty.Empty(), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


AIO_CASES = {name[4:]: fn for name, fn in list(globals().items()) if name.startswith("aio_")}

CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
]


def test_every_case_is_defined():
    assert sorted(SYNC_CASES) == sorted(CASES)
    assert sorted(AIO_CASES) == sorted(CASES)


@pytest.fixture(scope="module")
def sync_channel(lbchannel, interop_servers):
    ch = lbchannel.Channel(interop_servers.target, lb_policy="round_robin")
    yield ch
    ch.close()


@pytest.mark.parametrize("case", CASES)
def test_sync(case, sync_channel, interop_pb, lbchannel):
    empty, pb, pbg = interop_pb
    stub = pbg.TestServiceStub(sync_channel)
    SYNC_CASES[case](stub, empty, pb, pbg, sync_channel)


@pytest.mark.parametrize("case", CASES)
def test_aio(case, interop_servers, interop_pb, lbchannel):
    import lbchannel.aio

    empty, pb, pbg = interop_pb

    async def main():
        async with lbchannel.aio.Channel(interop_servers.target, lb_policy="round_robin") as ch:
            assert isinstance(ch, grpc.aio.Channel)
            await asyncio.wait_for(AIO_CASES[case](pbg.TestServiceStub(ch), empty, pb, pbg, ch), 30)

    asyncio.run(main())


def test_sync_cases_spread_over_the_servers(sync_channel, interop_pb, interop_servers):
    """The interop calls above are balanced: 30 streams reach every server."""
    empty, pb, pbg = interop_pb
    assert wait_all_ready(sync_channel, 3, timeout=10), sync_channel.endpoints()
    stub = pbg.TestServiceStub(sync_channel)
    seen = set()
    for _ in range(30):
        call = stub.StreamingOutputCall(pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=1)]), timeout=TIMEOUT)
        assert len(list(call)) == 1
        seen.add(dict(call.trailing_metadata())["x-lbtest-server"])
    assert seen == set(interop_servers.names)
