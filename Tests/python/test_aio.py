"""lbchannel.aio: the asyncio API (one completion queue per channel, its fd on the loop)."""

import asyncio
import os
import threading
import time

import grpc
import pytest

from test_interop import _stream_request

FDX = "/grpc.testing.TestService/FullDuplexCall"
EMPTY = "/grpc.testing.TestService/EmptyCall"
SLEEP_BEFORE_READ = "x-lbtest-sleep-before-read-ms"


@pytest.fixture(scope="module")
def aio(lbchannel):
    import lbchannel.aio as module

    return module


def run(coro, limit=45):
    async def bounded():
        return await asyncio.wait_for(coro, limit)

    return asyncio.run(bounded())


def _threads():
    return {t.ident for t in threading.enumerate()}


async def _all_ready(ch, count=3, timeout=10):
    """Wait until ``count`` endpoints are READY (a cold channel balances over the READY ones only)."""
    deadline = time.monotonic() + timeout
    while sum(1 for e in ch.endpoints() if e["state"] == "READY") < count:
        assert time.monotonic() < deadline, ch.endpoints()
        await asyncio.sleep(0.02)


def _os_threads():
    """Threads of the process, the library's included (Linux)."""
    return len(os.listdir("/proc/self/task"))


def test_1000_concurrent_unary_calls_on_one_loop_thread(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        before = _threads()
        async with aio.Channel(interop_servers.target) as ch:
            stub = pbg.TestServiceStub(ch)
            await asyncio.gather(*[ch.unary(EMPTY, b"", timeout=10) for _ in range(10)])  # connect first
            os_before = _os_threads()
            sizes = [1 + (i * 7919) % 2000 for i in range(1000)]
            calls = [stub.UnaryCall(pb.SimpleRequest(response_size=n), timeout=30) for n in sizes]
            during = _threads()
            os_during = _os_threads()
            responses = await asyncio.gather(*calls)
            after = _threads()
            assert os_during - os_before < 5, (os_before, os_during)  # not a thread per call, not even in the library
            codes = [await c.code() for c in calls]
            peers = {await c.peer() for c in calls}
            raw = await asyncio.gather(*[ch.unary(EMPTY, b"", timeout=30) for _ in range(200)])
        return before, during, after, sizes, responses, codes, peers, raw

    before, during, after, sizes, responses, codes, peers, raw = run(main())
    assert [len(r.payload.body) for r in responses] == sizes  # each result reached its own call
    assert all(c == grpc.StatusCode.OK for c in codes)
    assert len(peers) == 3  # balanced over the three servers
    assert raw == [b""] * 200
    assert during <= before and after <= before  # no thread was started for the calls


def test_1000_concurrent_streams_on_one_channel(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        before = _threads()
        async with aio.Channel(interop_servers.target, lb_policy="round_robin") as ch:
            await _all_ready(ch)
            stub = pbg.TestServiceStub(ch)
            calls = [stub.FullDuplexCall(timeout=40) for _ in range(1000)]
            await asyncio.gather(*[c.write(_stream_request(pb, 1 + i % 50)) for i, c in enumerate(calls)])
            first = await asyncio.gather(*[c.read() for c in calls])
            open_at_once = sum(1 for c in calls if not c.done())  # none has been half-closed yet
            in_flight = sum(e["in_flight"] for e in ch.endpoints())
            await asyncio.gather(*[c.done_writing() for c in calls])
            ends = await asyncio.gather(*[c.read() for c in calls])
            codes = await asyncio.gather(*[c.code() for c in calls])
            servers = [dict(await c.trailing_metadata())["x-lbtest-server"] for c in calls]
            threads = _threads()
        return before, threads, first, open_at_once, in_flight, ends, codes, servers

    before, threads, first, open_at_once, in_flight, ends, codes, servers = run(main(), 50)
    assert [len(r.payload.body) for r in first] == [1 + i % 50 for i in range(1000)]
    assert open_at_once == 1000
    assert in_flight == 1000
    assert all(e is grpc.aio.EOF for e in ends)
    assert all(c == grpc.StatusCode.OK for c in codes)
    counts = {s: servers.count(s) for s in set(servers)}
    assert set(counts) == {"s1", "s2", "s3"} and min(counts.values()) >= 300, counts  # round_robin
    assert threads <= before  # no Python thread started (threads of earlier tests may have ended)


def test_streams_pinned_and_spread(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        async with aio.Channel(interop_servers.target, lb_policy="round_robin") as ch:
            await _all_ready(ch)
            calls = [ch.stream(FDX, timeout=20) for _ in range(30)]
            for round_ in range(3):
                for c in calls:
                    await c.write(_stream_request(pb, round_ + 1).SerializeToString())
                for c in calls:
                    raw = await c.read()
                    assert len(pb.StreamingOutputCallResponse.FromString(raw).payload.body) == round_ + 1
            peers = [await c.peer() for c in calls]
            for c in calls:
                await c.done_writing()
                assert await c.read() is grpc.aio.EOF
            return [(p, dict(await c.trailing_metadata())["x-lbtest-server"]) for p, c in zip(peers, calls)]

    pairs = run(main())
    for peer, server in pairs:
        assert interop_servers.name_of(peer) == server
    counts = {s: sum(1 for _, x in pairs if x == s) for s in interop_servers.names}
    assert min(counts.values()) >= 5, counts


def test_reading_does_not_block_the_loop_and_deadline(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.01)

        async with aio.Channel(interop_servers.target) as ch:
            t = asyncio.ensure_future(ticker())
            call = pbg.TestServiceStub(ch).FullDuplexCall(timeout=0.5)
            await call.write(_stream_request(pb, 1))
            await call.read()
            t0 = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call.read()  # nothing more comes: the deadline ends it
            elapsed = time.monotonic() - t0
            stop = True
            await t
            return info.value, elapsed, ticks, await call.code()

    err, elapsed, ticks, code = run(main())
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED and code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 3
    assert ticks >= 10  # the loop kept running while the read waited


def test_write_back_pressure_without_blocking_the_loop(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        async with aio.Channel(interop_servers.target) as ch:
            call = ch.stream(FDX, metadata=[(SLEEP_BEFORE_READ, "1000")], timeout=15)
            msg = pb.StreamingOutputCallRequest(payload=pb.Payload(body=bytes(32768))).SerializeToString()
            written = 0

            async def writer():
                nonlocal written
                for _ in range(40):  # 1.25 MiB: far more than buffer + window
                    await call.write(msg)
                    written += 1
                await call.done_writing()

            t0 = time.monotonic()
            task = asyncio.ensure_future(writer())
            await asyncio.sleep(0.5)
            early = written
            await task
            assert await call.read() is grpc.aio.EOF
            return early, written, time.monotonic() - t0, await call.code()

    early, written, elapsed, code = run(main())
    assert 2 <= early < 20, early  # writes waited for room while the server slept
    assert written == 40 and elapsed >= 0.9
    assert code == grpc.StatusCode.OK


def test_task_cancellation_cancels_the_call(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        async with aio.Channel(interop_servers.target) as ch:
            call = pbg.TestServiceStub(ch).FullDuplexCall(timeout=20)
            await call.write(pb.StreamingOutputCallRequest(response_parameters=[pb.ResponseParameters(size=1, interval_us=5_000_000)]))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(call.read(), 0.2)
            code = await asyncio.wait_for(call.code(), 5)
            in_flight = sum(e["in_flight"] for e in ch.endpoints())
            return code, call.cancelled(), in_flight

    code, cancelled, in_flight = run(main())
    assert code == grpc.StatusCode.CANCELLED and cancelled
    assert in_flight == 0


def test_unary_cancel_and_timeout(aio, backends):
    async def main():
        async with aio.Channel(backends.target) as ch:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ch.unary("/lbtest.Test/Sleep", b"3000", timeout=10), 0.2)
            call = ch.unary_unary("/lbtest.Test/Sleep")(b"3000", timeout=10)
            assert call.cancel() and call.cancelled() and call.done()
            with pytest.raises(asyncio.CancelledError):
                await call
            code = await call.code()
            # Both cancelled RPCs end on the wire too (lbc_unary_cancel), long before
            # the server's 3 s sleep would have ended them.
            for _ in range(100):
                in_flight = sum(e["in_flight"] for e in ch.endpoints())
                if in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert in_flight == 0, "cancelled unary calls still in flight after 1 s"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary("/lbtest.Test/Sleep", b"2000", timeout=0.2)
            echoed, c = await ch.unary_with_call("/lbtest.Test/Echo", b"abc", metadata=[("x-k", "v")], timeout=5)
            return code, info.value, echoed, await c.initial_metadata(), await c.code()

    code, err, echoed, initial, ok = run(main())
    assert code == grpc.StatusCode.CANCELLED
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(err, grpc.RpcError)
    assert echoed == b"abc" and initial["x-k"] == "v" and ok == grpc.StatusCode.OK


def test_request_iterator_that_raises(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def requests():
        yield pb.StreamingInputCallRequest(payload=pb.Payload(body=b"x"))
        await asyncio.sleep(0.05)
        raise ValueError("iterator broke")

    async def main():
        async with aio.Channel(interop_servers.target) as ch:
            stub = pbg.TestServiceStub(ch)
            call = stub.StreamingInputCall(requests(), timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            bidi = stub.FullDuplexCall(iter([_stream_request(pb, 1), None]), timeout=10)  # None cannot be serialized
            with pytest.raises(grpc.aio.AioRpcError) as info2:
                async for _ in bidi:
                    pass
            return info.value, await call.code(), info2.value

    err, code, err2 = run(main())
    assert err.code() == grpc.StatusCode.UNKNOWN and code == grpc.StatusCode.UNKNOWN
    assert err.details() == "Exception iterating requests!"
    assert isinstance(err.__cause__, ValueError)
    assert err2.code() == grpc.StatusCode.INTERNAL
    assert err2.details() == "Exception serializing request!"


def test_done_callbacks_and_a_raising_callback(aio, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        seen = []

        def bad(call):
            seen.append("bad")
            raise RuntimeError("callback bug")

        async with aio.Channel(interop_servers.target) as ch:
            stub = pbg.TestServiceStub(ch)
            unary = stub.EmptyCall(empty.Empty(), timeout=10)
            unary.add_done_callback(bad)
            unary.add_done_callback(lambda c: seen.append(("unary", c is unary)))
            stream = stub.FullDuplexCall(timeout=10)
            stream.add_done_callback(bad)
            stream.add_done_callback(lambda c: seen.append(("stream", c is stream)))
            await unary
            await stream.done_writing()
            assert await stream.read() is grpc.aio.EOF
            await asyncio.sleep(0.05)
            stream.add_done_callback(lambda c: seen.append("late"))
            await asyncio.sleep(0.05)
            return seen, await unary.code(), await stream.code()

    seen, c1, c2 = run(main())
    assert seen.count("bad") == 2
    assert ("unary", True) in seen and ("stream", True) in seen and "late" in seen
    assert c1 == c2 == grpc.StatusCode.OK


def test_errors(aio, lbchannel, interop_servers, interop_pb):
    empty, pb, pbg = interop_pb

    async def main():
        ch = aio.Channel(interop_servers.target)
        stub = pbg.TestServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in ch.unary_stream("/grpc.testing.TestService/Nope")(b"", timeout=10):
                pass
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.stream("no-slash")
        call = stub.FullDuplexCall(timeout=10)
        await call.done_writing()
        with pytest.raises(asyncio.InvalidStateError):
            await call.write(_stream_request(pb, 1))
        assert await call.read() is grpc.aio.EOF
        # calls running when the channel closes end with CANCELLED
        running = stub.FullDuplexCall(timeout=10)
        await running.write(_stream_request(pb, 1))
        await running.read()
        await ch.close()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await running.read()
        assert info.value.code() == grpc.StatusCode.CANCELLED
        with pytest.raises(ValueError):
            stub.EmptyCall(empty.Empty())
        with pytest.raises(ValueError):
            await ch.unary(EMPTY, b"")
        await ch.close()  # idempotent

    run(main())


def test_channel_is_bound_to_one_loop(aio, interop_servers):
    ch = aio.Channel(interop_servers.target)
    try:
        assert run(ch.unary(EMPTY, b"", timeout=10)) == b""
        with pytest.raises(RuntimeError):
            run(ch.unary(EMPTY, b"", timeout=10))
    finally:
        asyncio.run(ch.close())
    assert ch.closed


def test_grpc_aio_channel_interface(aio, interop_servers):
    async def main():
        async with aio.Channel(interop_servers.target) as ch:
            await asyncio.wait_for(ch.channel_ready(), 10)
            return ch.get_state()

    assert run(main()) == grpc.ChannelConnectivity.READY


def test_wait_for_state_change_is_woken_by_the_watch(aio, interop_servers):
    # No polling: a state change (pushed endpoints) and close() each wake a waiter at once.
    async def main():
        ch = aio.Channel("manual:")
        idle = ch.get_state()
        assert idle == grpc.ChannelConnectivity.IDLE
        looks = []
        get_state = ch.get_state
        ch.get_state = lambda *a: looks.append(1) or get_state(*a)
        waiter = asyncio.ensure_future(ch.wait_for_state_change(idle))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        # One look, and one more when subscribe() hands over the current state.
        assert len(looks) <= 2, "the waiter polled the state %d times in 0.3 s" % len(looks)
        t0 = time.monotonic()
        ch.set_endpoints([interop_servers.servers[0].address])
        await asyncio.wait_for(waiter, 5)
        changed_after = time.monotonic() - t0
        await asyncio.wait_for(ch.channel_ready(), 10)
        waiter = asyncio.ensure_future(ch.wait_for_state_change(grpc.ChannelConnectivity.READY))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await ch.close()
        await asyncio.wait_for(waiter, 5)
        return changed_after, ch.get_state()

    changed_after, final = run(main())
    assert changed_after < 1.0
    assert final == grpc.ChannelConnectivity.SHUTDOWN
