"""Per-method metrics in the stats snapshot (``stats()["metrics"]``) after known traffic
against real grpcio backends (Tests/python/backend.py): call and attempt counts by
status, latency histogram totals, retries as extra attempts, and the bound on
distinct methods ("other").
"""

import time

import h2.errors
import pytest

from lbtest_support import wait_all_ready
from rawh2_server import RESPONSE_HEADERS, RawH2Server, grpc_frame

ECHO = "/lbtest.Test/Echo"
FAIL = "/lbtest.Test/Fail"
SLEEP = "/lbtest.Test/Sleep"
WHOAMI = "/lbtest.Test/Whoami"


def _target(backends):
    return "ipv4:" + ",".join(b.address for b in backends)


def _methods(ch):
    """``{method: entry}`` of the channel's metrics."""
    return {m["method"]: m for m in ch.stats()["metrics"]["methods"]}


def _ended_calls(ch, method, timeout=5.0):
    """The metrics entry of ``method`` once a call of it has ended (bounded wait: the
    end is counted on the channel's I/O thread)."""
    deadline = time.monotonic() + timeout
    while True:
        entry = _methods(ch).get(method)
        if (entry and entry["calls"]) or time.monotonic() > deadline:
            return entry
        time.sleep(0.02)


def _check_histogram(h, bounds):
    """The invariants of one histogram object; returns it."""
    assert len(h["buckets"]) == len(bounds) + 1
    assert sum(h["buckets"]) == h["count"]
    assert h["sum_us"] >= 0
    return h


def _bucket_of(us, bounds):
    """The bucket index of a duration of ``us`` µs (upper bounds inclusive)."""
    for k, bound in enumerate(bounds):
        if us <= bound:
            return k
    return len(bounds)


def test_counts_by_status_and_histogram_totals(lbchannel, backends, open_channel):
    ch = open_channel(_target(backends.backends), lb_policy="round_robin")
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    n_ok, n_fail, n_late = 30, 7, 3
    t0 = time.monotonic()
    for i in range(n_ok):
        assert ch.unary(ECHO, b"m%d" % i, timeout=5) == b"m%d" % i
    echo_elapsed_us = (time.monotonic() - t0) * 1e6
    for _ in range(n_fail):
        with pytest.raises(lbchannel.RpcError) as info:
            ch.unary(FAIL, b"5:not here", timeout=5)
        assert info.value.status_code.name == "NOT_FOUND"
    for _ in range(n_late):
        with pytest.raises(lbchannel.RpcError) as info:
            ch.unary(SLEEP, b"2000", timeout=0.1)  # the client's deadline ends it
        assert info.value.status_code.name == "DEADLINE_EXCEEDED"

    stats = ch.stats()
    metrics = stats["metrics"]
    bounds = metrics["latency_bounds_us"]
    assert bounds == [1 << k for k in range(31)]
    assert metrics["max_methods"] == 1000
    methods = {m["method"]: m for m in metrics["methods"]}
    assert set(methods) == {ECHO, FAIL, SLEEP}

    echo = methods[ECHO]
    assert echo["attempts_started"] == n_ok
    assert set(echo["calls"]) == {"OK"} and set(echo["attempts"]) == {"OK"}
    calls = _check_histogram(echo["calls"]["OK"], bounds)
    attempts = _check_histogram(echo["attempts"]["OK"], bounds)
    assert calls["count"] == attempts["count"] == n_ok
    # Each call's time in the library lies within the time the caller spent on it.
    assert 0 < attempts["sum_us"] <= calls["sum_us"] <= echo_elapsed_us, (calls, echo_elapsed_us)

    fail = methods[FAIL]
    assert fail["attempts_started"] == n_fail
    assert set(fail["calls"]) == {"NOT_FOUND"} and set(fail["attempts"]) == {"NOT_FOUND"}
    assert _check_histogram(fail["calls"]["NOT_FOUND"], bounds)["count"] == n_fail

    late = methods[SLEEP]
    assert late["attempts_started"] == n_late
    h = _check_histogram(late["calls"]["DEADLINE_EXCEEDED"], bounds)
    assert h["count"] == n_late
    assert h["sum_us"] >= n_late * 90_000, h  # each waited for its 100 ms deadline (less the time to enter the loop)
    # None of them lies below the bucket of 90 ms.
    assert sum(h["buckets"][:_bucket_of(90_000, bounds)]) == 0, h["buckets"]
    assert _check_histogram(late["attempts"]["DEADLINE_EXCEEDED"], bounds)["count"] == n_late

    # Per endpoint: the attempts are spread over the three backends.
    started = sum(e["calls_started"] for e in stats["endpoints"])
    assert started == n_ok + n_fail + n_late
    assert sum(e["calls_failed"] for e in stats["endpoints"]) == n_fail + n_late


def test_retried_calls_count_every_attempt(lbchannel, make_backends, open_channel):
    backends = make_backends([{"LBTEST_FAIL_ALL": "14"}, {}, {}])
    ch = open_channel(_target(backends), lb_policy="round_robin", retry_max_attempts=3,
                      retry_initial_backoff_ms=5, retry_max_backoff_ms=20, retry_status_codes="UNAVAILABLE")
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    n = 60
    attempts = 0
    for _ in range(n):
        _, call = ch.unary_with_call(WHOAMI, b"", timeout=5)
        attempts += call.attempts
    assert attempts > n, "round_robin over a failing backend: some calls were retried"
    m = _methods(ch)[WHOAMI]
    assert m["attempts_started"] == attempts
    assert set(m["calls"]) == {"OK"}
    assert m["calls"]["OK"]["count"] == n
    assert m["attempts"]["OK"]["count"] == n
    assert m["attempts"]["UNAVAILABLE"]["count"] == attempts - n
    # A call lasts at least as long as its attempts together.
    assert m["calls"]["OK"]["sum_us"] >= m["attempts"]["OK"]["sum_us"] + m["attempts"]["UNAVAILABLE"]["sum_us"]


def test_methods_beyond_the_bound_are_counted_as_other(lbchannel, backends, open_channel):
    ch = open_channel(_target(backends.backends), lb_policy="round_robin")
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    extra = 5
    for i in range(1000 + extra):  # unknown methods: the server answers UNIMPLEMENTED
        with pytest.raises(lbchannel.RpcError) as info:
            ch.unary("/lbtest.Nope/M%d" % i, b"", timeout=5)
        assert info.value.status_code.name == "UNIMPLEMENTED"
    ch.unary(ECHO, b"x", timeout=5)  # a new method after the bound: "other" as well
    methods = ch.stats()["metrics"]["methods"]
    assert len(methods) == 1001
    assert [m["method"] for m in methods[:3]] == ["/lbtest.Nope/M0", "/lbtest.Nope/M1", "/lbtest.Nope/M2"]
    other = methods[-1]
    assert other["method"] == "other"
    assert other["attempts_started"] == extra + 1
    assert other["calls"]["UNIMPLEMENTED"]["count"] == extra
    assert other["calls"]["OK"]["count"] == 1
    assert all(m["calls"]["UNIMPLEMENTED"]["count"] == 1 for m in methods[:-1])


def test_hedged_copies_are_attempts_of_one_call(lbchannel, make_backends, open_channel):
    backends = make_backends([{"LBTEST_DELAY_MS": "500"}, {}, {}])
    ch = open_channel(_target(backends), lb_policy="round_robin", hedging_max_attempts=3, hedging_delay_ms=50)
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    n = 30
    attempts = 0
    for _ in range(n):
        _, call = ch.unary_with_call(WHOAMI, b"", timeout=5)
        attempts += call.attempts
    assert attempts > n, "round_robin over a slow backend: some calls were hedged"
    m = _methods(ch)[WHOAMI]
    assert m["attempts_started"] == attempts
    assert set(m["calls"]) == {"OK"} and m["calls"]["OK"]["count"] == n
    # One copy of each call wins; the others are cancelled when it does.
    assert m["attempts"]["OK"]["count"] == n
    assert set(m["attempts"]) == {"OK", "CANCELLED"}
    assert m["attempts"]["CANCELLED"]["count"] == attempts - n
    # A streaming call is one call of one attempt, whatever its length.
    echo_stream = "/lbtest.Test/EchoStream"
    with ch.stream(echo_stream, timeout=5) as call:
        call.send(b"a")
        time.sleep(0.2)
        call.send(b"b", end=True)
        assert len(list(call)) == 2
    s = _ended_calls(ch, echo_stream)
    assert s["attempts_started"] == 1
    assert s["calls"]["OK"]["count"] == 1
    assert s["calls"]["OK"]["sum_us"] >= 200_000, s  # it lasted as long as the stream was open


def test_a_transparent_retry_is_an_attempt(lbchannel, open_channel):
    # A raw HTTP/2 server refuses the first stream (REFUSED_STREAM: never processed),
    # then answers: one call, two attempts (UNAVAILABLE, then OK).
    seen = []

    def handler(stream):
        seen.append(stream.stream_id)
        if len(seen) == 1:
            stream.reset(h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        stream.send_headers(RESPONSE_HEADERS)
        stream.send_data(grpc_frame(b"ok"))
        stream.send_trailers([("grpc-status", "0")])

    server = RawH2Server(handler=handler)
    try:
        ch = open_channel(server.target)  # no retry policy: transparent retries only
        reply, call = ch.unary_with_call("/x.Y/Z", b"m", timeout=5)
        assert reply == b"ok" and call.attempts == 1 and len(seen) == 2
        m = _methods(ch)["/x.Y/Z"]
        assert m["attempts_started"] == 2
        assert {k: v["count"] for k, v in m["attempts"].items()} == {"OK": 1, "UNAVAILABLE": 1}
        assert {k: v["count"] for k, v in m["calls"].items()} == {"OK": 1}
    finally:
        server.stop()
