"""Keepalive PINGs (gRFC A8) against real grpcio backends: a frozen backend is
declared dead, a strict server's GOAWAY too_many_pings doubles the interval,
idle connections send no PING unless permitted."""

import os
import signal
import threading
import time

import grpc
import pytest

from lbtest_support import HOSTS, BackendSet, Traffic, wait_all_ready, wait_until

WHOAMI = "/lbtest.Test/Whoami"
SLEEP = "/lbtest.Test/Sleep"

# Backends that accept a PING every 100 ms, with or without calls, and never
# count strikes: only a frozen process leaves a PING unanswered.
PERMISSIVE = {
    "LBTEST_GRPC_OPTIONS": "grpc.keepalive_permit_without_calls=1,"
    "grpc.http2.min_ping_interval_without_data_ms=100,grpc.http2.max_ping_strikes=0"
}
# gRPC's enforcement made strict: no PING without calls (2 hours apart), at most
# one per 5 minutes otherwise, GOAWAY too_many_pings after the second strike.
STRICT = {
    "LBTEST_GRPC_OPTIONS": "grpc.keepalive_permit_without_calls=0,"
    "grpc.http2.min_ping_interval_without_data_ms=300000,grpc.http2.max_ping_strikes=1"
}


class LogLines:
    """A log callback keeping every line (called from the channel's I/O thread)."""

    def __init__(self):
        self.lines = []
        self._lock = threading.Lock()

    def __call__(self, level, message):
        with self._lock:
            self.lines.append((level, message))

    def matching(self, text):
        with self._lock:
            return [m for _, m in self.lines if text in m]


def _endpoint(channel, address):
    return next(e for e in channel.endpoints() if e["address"] == address)


@pytest.fixture
def permissive_backends(gen_dir):
    bs = BackendSet(gen_dir, env=PERMISSIVE).start()
    yield bs
    for b in bs:
        if b.running:
            os.kill(b.proc.pid, signal.SIGCONT)  # a failed test may leave one stopped
    bs.stop()


def test_frozen_backend_is_declared_dead_and_comes_back(lbchannel, permissive_backends):
    bs = permissive_backends
    victim = bs[1]
    others = {bs[0].name, bs[2].name}
    time_ms, timeout_ms = 500, 500
    log = LogLines()
    lookups = []

    def lookup(target):
        # Discovery runs only at open and early, after a connection was lost or
        # failed: the interval is a minute.
        lookups.append(time.monotonic())
        return [b.address for b in bs]

    with lbchannel.Channel("keepalive-test", lookup=lookup, discovery_interval_ms=60000,
                           keepalive_time_ms=time_ms, keepalive_timeout_ms=timeout_ms,
                           connect_timeout_ms=2000, log_callback=log) as ch:
        assert wait_all_ready(ch, 3, timeout=5), ch.endpoints()
        load = Traffic(ch, threads=8, timeout=20.0, method=SLEEP, request=b"100").start()  # Sleep(100 ms)
        try:
            assert wait_until(lambda: {r[2] for r in load.records()} >= set(bs.names), 5), load.records()[-10:]

            t_stop = time.monotonic()
            os.kill(victim.proc.pid, signal.SIGSTOP)
            try:
                dead = wait_until(lambda: _endpoint(ch, victim.address)["keepalive"]["dead_connections"] >= 1, 10, 0.01)
                t_seen = time.monotonic()
                assert dead, _endpoint(ch, victim.address)
                time.sleep(1.5)  # new calls after the detection
                records = load.records()
                frozen = _endpoint(ch, victim.address)  # still frozen: not reconnected
                lookups_when_frozen = list(lookups)
            finally:
                os.kill(victim.proc.pid, signal.SIGCONT)
            t_cont = time.monotonic()

            # The calls in flight on the frozen backend ended UNAVAILABLE with the keepalive message.
            failures = [r for r in records if r[2] is None]
            keepalive_failures = [r for r in failures if "keepalive: no PING ACK" in r[4]]
            assert keepalive_failures, failures[:5]
            assert all(r[3] == grpc.StatusCode.UNAVAILABLE for r in failures), failures[:5]
            assert all(victim.address in r[4] and "within %d ms" % timeout_ms in r[4] for r in keepalive_failures)
            assert len(failures) == len(keepalive_failures), [r for r in failures if r not in keepalive_failures][:5]
            detection = min(r[1] for r in keepalive_failures) - t_stop
            print("\nkeepalive dead-peer detection: %.0f ms after SIGSTOP (time %d ms + timeout %d ms; "
                  "stats showed it after %.0f ms)" % (detection * 1000, time_ms, timeout_ms, (t_seen - t_stop) * 1000))
            assert 0 < detection <= (time_ms + timeout_ms + time_ms) / 1000.0, detection
            # Every call started after the detection went to the others and succeeded.
            after = [r for r in records if r[0] > t_stop + detection]
            assert len(after) >= 20, len(after)
            assert all(r[2] in others for r in after), [r for r in after if r[2] not in others][:5]

            assert frozen["keepalive"]["dead_connections"] == 1, frozen
            assert frozen["state"] in ("TRANSIENT_FAILURE", "CONNECTING"), frozen
            assert "keepalive: no PING ACK" in (frozen["last_error"] or ""), frozen
            assert log.matching("keepalive: no PING ACK from %s" % victim.address), log.lines[-10:]
            # Discovery re-resolved early (the reconnection attempt has not failed yet).
            assert len(lookups_when_frozen) >= 2 and lookups_when_frozen[1] > t_stop, (lookups_when_frozen, t_stop)
            for b in bs:
                if b is not victim:
                    assert _endpoint(ch, b.address)["keepalive"]["dead_connections"] == 0

            # Thawed, the backend is connected again and takes calls.
            back = wait_until(lambda: any(r[2] == victim.name and r[0] > t_cont for r in load.records()), 15, 0.05)
            records = load.stop()
            assert back, _endpoint(ch, victim.address)
            late = [r for r in records if r[0] > t_cont]
            assert all(r[3] is None for r in late), [r for r in late if r[3] is not None][:5]
        finally:
            load.stop()
        assert ch.stats()["keepalive"]["time_ms"] == time_ms


def test_too_many_pings_doubles_the_interval_and_calls_still_work(lbchannel, gen_dir):
    bs = BackendSet(gen_dir, names=("k1",), hosts=HOSTS[:1], env=STRICT).start()
    try:
        log = LogLines()
        # PINGs every 200 ms on an idle connection: the server allows none.
        with lbchannel.Channel(bs.target, keepalive_time_ms=200, keepalive_timeout_ms=5000,
                               keepalive_permit_without_calls=True, wait_for_ready=True,
                               log_callback=log) as ch:
            doubled = wait_until(lambda: ch.stats()["keepalive"]["time_ms"] >= 800, 20, 0.05)
            stats = ch.stats()
            assert doubled, (stats, log.lines[-10:])
            assert stats["keepalive"]["configured_time_ms"] == 200
            assert stats["keepalive"]["too_many_pings"] >= 2, stats
            assert stats["endpoints"][0]["keepalive"]["too_many_pings"] >= 2, stats
            # Each GOAWAY doubled the time of the connection that got it, logged as a warning.
            assert log.matching("too_many_pings: keepalive time doubled from 200 ms to 400 ms"), log.lines
            assert log.matching("too_many_pings: keepalive time doubled from 400 ms to 800 ms"), log.lines
            warnings = [(lvl, m) for lvl, m in log.lines if "too_many_pings" in m]
            assert all(lvl == lbchannel.LogLevel.WARNING for lvl, _ in warnings), warnings

            # Nothing broke: calls succeed.
            for _ in range(30):
                assert ch.unary(WHOAMI, b"", timeout=10) == b"k1"
            assert stats["endpoints"][0]["keepalive"]["dead_connections"] == 0
    finally:
        bs.stop()


def test_idle_connection_pings_only_when_permitted(lbchannel, permissive_backends):
    bs = permissive_backends
    with lbchannel.Channel(bs.target, keepalive_time_ms=200, keepalive_timeout_ms=1000) as quiet, \
            lbchannel.Channel(bs.target, keepalive_time_ms=200, keepalive_timeout_ms=1000,
                              keepalive_permit_without_calls=True) as chatty:
        assert wait_all_ready(quiet, 3, timeout=5) and wait_all_ready(chatty, 3, timeout=5)
        time.sleep(1.2)
        assert all(e["keepalive"]["pings_sent"] == 0 for e in quiet.endpoints()), quiet.endpoints()
        assert wait_until(lambda: all(e["keepalive"]["pings_acked"] >= 3 for e in chatty.endpoints()), 5), \
            chatty.endpoints()
        for e in chatty.endpoints():
            assert e["keepalive"]["last_rtt_us"] is not None and e["keepalive"]["last_rtt_us"] >= 0, e
            assert e["keepalive"]["time_ms"] == 200 and e["keepalive"]["dead_connections"] == 0, e
        # A call on the idle connection after more than the keepalive time sends a PING first.
        before = sum(e["keepalive"]["pings_sent"] for e in quiet.endpoints())
        for _ in range(3):
            quiet.unary(WHOAMI, b"", timeout=5)
        after = quiet.endpoints()
        assert sum(e["keepalive"]["pings_sent"] for e in after) >= before + 1, after
        assert all(e["state"] == "READY" for e in after), after


def test_keepalive_off_by_default(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        assert ch.unary(WHOAMI, b"", timeout=5)
        stats = ch.stats()
        assert stats["keepalive"] is None
        assert all(e["keepalive"] is None for e in stats["endpoints"])


def test_keepalive_options_are_checked(lbchannel, backends):
    for key, value in [("keepalive_time_ms", 50), ("keepalive_time_ms", -1), ("keepalive_timeout_ms", 0),
                       ("keepalive_permit_without_calls", "yes")]:
        with pytest.raises(lbchannel.InvalidArgumentError) as info:
            lbchannel.Channel(backends.target, **{key: value})
        assert key in str(info.value)
    # grpcio's channel-argument names are accepted too.
    with lbchannel.insecure_channel(backends.target, options=[("grpc.keepalive_time_ms", 10000),
                                                              ("grpc.keepalive_timeout_ms", 3000),
                                                              ("grpc.keepalive_permit_without_calls", 1)]) as ch:
        k = ch.stats()["keepalive"]
        assert k == {"time_ms": 10000, "configured_time_ms": 10000, "timeout_ms": 3000,
                     "permit_without_calls": True, "too_many_pings": 0}


def _settings_then_silence(sock, index):
    """A raw server that sends its SETTINGS, then reads and never answers (no
    SETTINGS ACK, no PING ACK, no response)."""
    sock.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")


def test_call_on_a_server_that_never_acks_pings_ends_unavailable(lbchannel):
    from rawh2_server import RawH2Server

    with RawH2Server(raw=_settings_then_silence) as server:
        log = LogLines()
        with lbchannel.Channel(server.target, keepalive_time_ms=300, keepalive_timeout_ms=300,
                               log_callback=log) as ch:
            assert wait_all_ready(ch, 1, timeout=5), ch.endpoints()
            t0 = time.monotonic()
            with pytest.raises(grpc.RpcError) as info:
                ch.unary(WHOAMI, b"", timeout=10)
            elapsed = time.monotonic() - t0
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert info.value.details() == "keepalive: no PING ACK from %s within 300 ms" % server.address
            # Idle since its SETTINGS: the PING is due 300 ms after them, then 300 ms to answer.
            assert elapsed < 0.6 + 0.3, elapsed
            e = ch.endpoints()[0]
            assert e["keepalive"]["dead_connections"] == 1 and e["keepalive"]["pings_sent"] == 1, e
            assert e["keepalive"]["pings_acked"] == 0 and e["keepalive"]["last_rtt_us"] is None, e
            assert e["state"] in ("TRANSIENT_FAILURE", "CONNECTING"), e
            assert [lvl for lvl, m in log.lines if "keepalive: no PING ACK" in m] == [lbchannel.LogLevel.WARNING]
            # It reconnects after the backoff (1 s ± 20 %), not at once.
            assert server.connections == 1
            assert wait_until(lambda: server.connections >= 2, 5), server.connections
