"""Backends dying, draining, coming back; no backend at all."""

import collections
import itertools
import threading
import time

import grpc

from lbtest_support import BackendSet, run_with_timeout, wait_all_ready, wait_until

WHOAMI = "/lbtest.Test/Whoami"
SLEEP = "/lbtest.Test/Sleep"


class CallLoop:
    """Threads calling the channel in a loop, recording every outcome with its times."""

    _ids = itertools.count()

    def __init__(self, channel, threads=4, method=WHOAMI, request=b"", timeout=3.0):
        self.channel = channel
        self.method = method
        self.request = request
        self.timeout = timeout
        self.records = []  # (start, end, name or None, status code or exception, peer, request id)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while not self._stop.is_set():
            rid = "r%d" % next(self._ids)
            md = [("x-request-id", rid)]
            t0 = time.monotonic()
            try:
                resp, call = self.channel.unary_with_call(self.method, self.request, timeout=self.timeout, metadata=md)
                rec = (t0, time.monotonic(), resp.decode(), None, call.peer(), rid)
            except grpc.RpcError as e:
                rec = (t0, time.monotonic(), None, e.code(), e.peer(), rid)
            except Exception as e:  # pragma: no cover - reported by the test
                rec = (t0, time.monotonic(), None, e, None, rid)
            with self._lock:
                self.records.append(rec)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        assert not any(t.is_alive() for t in self._threads), "a call did not return"
        return self.records


def test_backend_killed_mid_run(lbchannel, fresh_backends):
    bs = fresh_backends
    victim = bs[1]
    survivors = {bs[0].name, bs[2].name}
    with lbchannel.Channel(bs.target, lb_policy="round_robin") as ch:
        assert wait_all_ready(ch, 3, timeout=5), ch.endpoints()
        loop = CallLoop(ch).start()
        time.sleep(0.6)
        t_signal = time.monotonic()
        victim.kill()
        t_kill = time.monotonic()  # SIGKILL sent and the process reaped
        time.sleep(1.5)
        records = loop.stop()

        before = [r for r in records if r[1] < t_signal]
        after = [r for r in records if r[0] > t_kill]
        failures = [r for r in records if r[2] is None]
        assert {r[2] for r in before} == set(bs.names), "not all three served before the kill"
        assert len(after) >= 20, "too few calls after the kill: %d" % len(after)
        # At most a few calls fail, and only with UNAVAILABLE, around the kill.
        assert len(failures) <= 4, collections.Counter(str(r[3]) for r in failures)
        for r in failures:
            assert r[3] == grpc.StatusCode.UNAVAILABLE, r
            assert r[1] >= t_signal and r[0] <= t_kill + 0.5, ("failure far from the kill", r, t_signal)
        # Calls after the kill go only to the two survivors, both of them.
        served_after = collections.Counter(r[2] for r in after if r[2] is not None)
        assert set(served_after) == survivors, served_after
        settled = [r for r in after if r[0] > t_kill + 0.5]
        assert settled and all(r[2] in survivors for r in settled), collections.Counter(
            r[2] or str(r[3]) for r in settled
        )
        states = {e["address"]: e["state"] for e in ch.endpoints()}
        assert states[victim.address] in ("TRANSIENT_FAILURE", "CONNECTING", "IDLE"), states

        # Restart on the same address: within ~10 s it serves again.
        victim.start()
        t_restart = time.monotonic()

        def victim_serves():
            try:
                return any(ch.unary(WHOAMI, b"", timeout=2).decode() == victim.name for _ in range(6))
            except grpc.RpcError:
                return False

        assert wait_until(victim_serves, 10.5, interval=0.1), (
            "restarted backend not used within 10 s; endpoints: %s" % ch.endpoints()
        )
        assert time.monotonic() - t_restart <= 11
        assert wait_all_ready(ch, 3, timeout=2), ch.endpoints()
        counts = collections.Counter(ch.unary(WHOAMI, b"", timeout=5).decode() for _ in range(60))
        assert set(counts) == set(bs.names), counts


def _server_shutdown_race(record, victim, t_term, t_exit, matched_ids):
    """True for a failure grpcio's server itself causes when it shuts down.

    grpc-core cancels the calls that have reached the server but that the
    application has not picked up yet when shutdown starts (grpc/grpc#41785,
    "Pending calls are CANCELLED on server shut-down"): they end with
    RST_STREAM(CANCEL), i.e. CANCELLED — even a call that was queued in the
    busy Python server for a while before SIGTERM. A call arriving in the
    same instant has also been seen to stay unanswered until the client's
    deadline, holding the server's exit back that long. Either way the server
    accepted the stream (it is below GOAWAY's last stream id), so no client
    may retry it; grpcio's own client hits the CANCELLED case in this
    scenario too.

    Evidence required: the failure is on the victim, ends after SIGTERM, and
    the server application never received the call (its x-request-id has no
    CALL line in the backend's log); a DEADLINE_EXCEEDED one must also have
    kept the backend alive until it expired.
    """
    start, end, code, peer, rid = record
    if peer != victim.address or rid in matched_ids or end < t_term:
        return False
    if code == grpc.StatusCode.CANCELLED:
        return True
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return t_exit >= end - 0.2
    return False


def test_graceful_shutdown_fails_no_call(lbchannel, gen_dir):
    bs = BackendSet(gen_dir, env={"LBTEST_LOG_RPCS": "1"}).start()
    try:
        _graceful_shutdown(lbchannel, bs)
    finally:
        bs.stop()


def _graceful_shutdown(lbchannel, bs):
    victim = bs[2]
    with lbchannel.Channel(bs.target, lb_policy="round_robin") as ch:
        assert wait_all_ready(ch, 3, timeout=5), ch.endpoints()
        quick = CallLoop(ch, threads=3).start()
        # Slow calls keep RPCs in flight on the victim when GOAWAY arrives.
        slow = CallLoop(ch, threads=3, method=SLEEP, request=b"150").start()
        time.sleep(0.6)
        # And a batch of longer RPCs, some of which round_robin puts on the victim.
        in_flight = []

        def long_call(rid):
            t0 = time.monotonic()
            try:
                resp, call = ch.unary_with_call(SLEEP, b"500", timeout=5, metadata=[("x-request-id", rid)])
                in_flight.append((t0, time.monotonic(), resp.decode(), None, call.peer(), rid))
            except grpc.RpcError as e:
                in_flight.append((t0, time.monotonic(), None, e.code(), e.peer(), rid))

        longs = [threading.Thread(target=long_call, args=("long%d" % i,), daemon=True) for i in range(9)]
        for t in longs:
            t.start()
        # Two RPCs surely on the victim (own channel) and surely taken by its
        # application (logged CALL lines) when SIGTERM arrives: they must finish.
        drain = []
        victim_ch = lbchannel.Channel("ipv4:" + victim.address)

        def drain_call(rid):
            try:
                resp = victim_ch.unary(SLEEP, b"800", timeout=5, metadata=[("x-request-id", rid)])
                drain.append((rid, resp.decode()))
            except grpc.RpcError as e:
                drain.append((rid, e.code(), e.details()))

        drains = [threading.Thread(target=drain_call, args=("drain%d" % i,), daemon=True) for i in range(2)]
        for t in drains:
            t.start()
        assert wait_until(lambda: {"drain0", "drain1"} <= victim.matched_request_ids(), 3), victim.stderr()[-2000:]
        t_term = time.monotonic()
        code = victim.terminate(timeout=10)
        t_exit = time.monotonic()
        for t in longs + drains:
            t.join(6)
        victim_ch.close()
        time.sleep(max(0.0, t_exit + 1.0 - time.monotonic()))
        records = quick.stop() + slow.stop()

    assert code == 0, "backend did not exit 0 on SIGTERM: %r\n%s" % (code, victim.stderr())
    assert len(in_flight) == 9, in_flight
    records = records + in_flight  # (start, end, backend name or None, code, peer, request id)
    handled = victim.handled_request_ids()
    matched = victim.matched_request_ids()
    # The log must be there; its last lines may still be in flight when it is read.
    assert len(handled) > 50 and len(matched) > 50, "the backend's RPC log is missing (LBTEST_LOG_RPCS)"
    failures = [r for r in records if r[2] is None]
    real = [r for r in failures if not _server_shutdown_race(r[:2] + r[3:], victim, t_term, t_exit, matched)]
    assert not real, (
        "calls failed during a graceful shutdown (t_term=%.3f, t_exit=%.3f): %s\n"
        "server log of those calls (CALL = accepted, RPC = handler ran): %s"
        % (
            t_term,
            t_exit,
            real,
            [l for l in victim.stderr().splitlines() if any(" id=%s " % r[5] in l for r in real)],
        )
    )
    # Each looping thread has at most one call in the server's race window,
    # plus the long calls the busy server had not picked up yet.
    assert len(failures) <= 6 + 3, "more than the server's own shutdown race can explain: %s" % failures
    assert len(records) >= 100
    # RPCs in flight on the draining backend completed; the exit waited for them.
    assert sorted(drain) == [("drain0", victim.name), ("drain1", victim.name)], drain
    assert t_exit - t_term >= 0.3, "the backend exited before its in-flight RPCs could finish"
    after = [r for r in records if r[0] > t_exit]
    assert len(after) >= 10, len(after)
    assert {r[2] for r in after} == {bs[0].name, bs[1].name}, collections.Counter(r[2] for r in after)


def test_all_backends_down_fails_fast_with_unavailable(lbchannel, dead_target):
    with lbchannel.Channel(dead_target, connect_timeout_ms=1000) as ch:
        t0 = time.monotonic()
        try:
            run_with_timeout(ch.unary, 12, WHOAMI, b"", timeout=10)
            raise AssertionError("a call to a dead target succeeded")
        except grpc.RpcError as e:
            code = e.code()
        elapsed = time.monotonic() - t0
        assert code == grpc.StatusCode.UNAVAILABLE
        assert elapsed < 2.0, elapsed
        # Later calls fail fast too, also without a deadline.
        for _ in range(3):
            t0 = time.monotonic()
            try:
                run_with_timeout(ch.unary, 12, WHOAMI, b"", timeout=None)
                raise AssertionError("a call to a dead target succeeded")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - t0 < 2.0
        endpoints = ch.endpoints()
        assert len(endpoints) == 3
        for e in endpoints:
            assert e["state"] in ("TRANSIENT_FAILURE", "CONNECTING"), endpoints
        assert wait_until(lambda: all(e["connect_failures"] >= 1 for e in ch.endpoints()), 2), ch.endpoints()


def test_all_backends_down_with_wait_for_ready_waits_for_the_deadline(lbchannel, dead_target):
    with lbchannel.Channel(dead_target, wait_for_ready=True) as ch:
        t0 = time.monotonic()
        try:
            run_with_timeout(ch.unary, 10, WHOAMI, b"", timeout=0.8)
            raise AssertionError("a call to a dead target succeeded")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.7 <= time.monotonic() - t0 < 2.0


def test_wait_for_ready_call_succeeds_when_backend_appears(lbchannel, gen_dir):
    from lbtest_support import Backend, free_port

    port = free_port()
    b = Backend("127.0.0.2:%d" % port, "late", gen_dir)
    try:
        with lbchannel.Channel(
            "ipv4:127.0.0.2:%d" % port, wait_for_ready=True, backoff_initial_ms=100, backoff_max_ms=300
        ) as ch:
            result = {}

            def call():
                try:
                    result["name"] = ch.unary(WHOAMI, b"", timeout=8).decode()
                except Exception as e:
                    result["error"] = e

            t = threading.Thread(target=call, daemon=True)
            t.start()
            time.sleep(0.5)
            b.start()
            t.join(10)
            assert not t.is_alive()
            assert result == {"name": "late"}, result
    finally:
        b.stop()


def test_backoff_options_speed_up_reconnection(lbchannel, gen_dir):
    from lbtest_support import Backend, free_port

    port = free_port()
    b = Backend("127.0.0.3:%d" % port, "flappy", gen_dir).start()
    try:
        with lbchannel.Channel(
            "ipv4:127.0.0.3:%d" % port, backoff_initial_ms=100, backoff_multiplier=1.0, backoff_max_ms=100
        ) as ch:
            assert ch.unary(WHOAMI, b"", timeout=5) == b"flappy"
            b.kill()
            time.sleep(1.0)  # several failed reconnects at 100 ms
            b.start()
            t0 = time.monotonic()

            def serves():
                try:
                    return ch.unary(WHOAMI, b"", timeout=1) == b"flappy"
                except grpc.RpcError:
                    return False

            assert wait_until(serves, 3, interval=0.05), ch.endpoints()
            assert time.monotonic() - t0 < 1.5
    finally:
        b.stop()
