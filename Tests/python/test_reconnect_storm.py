"""No reconnect storms against servers that shed connections right after the handshake.

A server that completes the HTTP/2 handshake (SETTINGS) and then sends GOAWAY, a
burst of GOAWAYs, or closes the TCP connection must not be hammered: a connection
resets the backoff only once it has stayed READY ``backoff_reset_after_ms``
(issue 15 §2). Each scenario runs lbchannel and grpcio's client side by side, each
on its own ``rawh2_server.RawH2Server`` (so the accepted connections can be
counted per client), for the same 6 seconds after asking to connect — idle, and
busy (a call every 100 ms with a 200 ms deadline); lbchannel may make at most
grpcio's count + 5.

The other tests check that the rule does not slow the recoveries that matter: an
endpoint that sent GOAWAY early reconnects at once when calls are waiting for it,
and a connection that proved healthy is replaced at once after GOAWAY.
"""

import threading
import time

import grpc
import pytest

from lbtest_support import run_with_timeout, wait_until
from rawh2_server import (
    RawH2Server,
    close_after_settings,
    goaway_after_settings,
    goaway_storm_after_settings,
)

METHOD = "/x.Y/Z"
#: How long both clients stay idle after asking to connect.
IDLE_SECONDS = 6.0
#: lbchannel may open at most this many more connections than grpcio.
MARGIN = 5

SCENARIOS = {
    "goaway_after_settings": goaway_after_settings,
    "goaway_storm": goaway_storm_after_settings,
    "close_after_settings": close_after_settings,
}


def _call_loop(call, stop):
    """A call every 100 ms (200 ms deadline) until ``stop``; any outcome is fine."""
    while not stop.is_set():
        try:
            call()
        except Exception:  # noqa: BLE001  (UNAVAILABLE / DEADLINE_EXCEEDED expected)
            pass
        stop.wait(0.1)


@pytest.fixture(scope="module")
def storm_counts(lbchannel):
    """Every scenario, idle and busy, at once:
    {(name, load): (lbchannel connections, grpcio connections)} over IDLE_SECONDS."""
    servers = {}
    clients = []
    stop = threading.Event()
    threads = []
    try:
        for name, behaviour in SCENARIOS.items():
            for load in ("idle", "busy"):
                servers[name, load] = (RawH2Server(on_connect=behaviour), RawH2Server(on_connect=behaviour))
        for (name, load), (lb_server, grpc_server) in servers.items():
            lch = lbchannel.Channel(lb_server.target)  # connects at once
            gch = grpc.insecure_channel(grpc_server.address)
            gch.subscribe(lambda state: None, try_to_connect=True)
            clients += [lch, gch]
            if load == "busy":
                gcall = gch.unary_unary(METHOD)
                for call in (lambda ch=lch: ch.unary(METHOD, b"", timeout=0.2),
                             lambda f=gcall: f(b"", timeout=0.2)):
                    threads.append(threading.Thread(target=_call_loop, args=(call, stop), daemon=True))
        for t in threads:
            t.start()
        time.sleep(IDLE_SECONDS)
        counts = {key: (lb.connections, g.connections) for key, (lb, g) in servers.items()}
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        for c in clients:
            c.close()
        for pair in servers.values():
            for s in pair:
                s.stop()
    return counts


@pytest.mark.parametrize("load", ["idle", "busy"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_channel_does_not_storm_a_server_that_sheds_connections(storm_counts, scenario, load):
    lb, reference = storm_counts[scenario, load]
    print("%s, %s: lbchannel %d connections, grpcio %d, in %.0f s" % (scenario, load, lb, reference, IDLE_SECONDS))
    assert lb >= 1, "lbchannel never connected"
    assert reference >= 1, "grpcio never connected: the comparison means nothing"
    assert lb <= reference + MARGIN, (
        "%s, %s: lbchannel made %d connections in %.0f s, grpcio %d" % (scenario, load, lb, IDLE_SECONDS, reference)
    )


def test_early_goaway_endpoint_reconnects_at_once_for_a_waiting_call(lbchannel):
    """GOAWAY right after SETTINGS on the first connection only: a call made next
    must not wait for the (long) backoff — waiting calls reconnect an IDLE endpoint."""

    def first_connection_only(conn):
        if conn.index == 0:
            goaway_after_settings(conn)

    with RawH2Server(on_connect=first_connection_only) as server:
        with lbchannel.Channel(server.target, backoff_initial_ms=4000, backoff_max_ms=4000) as ch:
            assert wait_until(lambda: server.connections >= 1, 5)
            time.sleep(0.3)  # the GOAWAY has arrived: the endpoint is IDLE, its retry 3.2-4.8 s away
            assert server.connections == 1
            t0 = time.monotonic()
            reply = run_with_timeout(ch.unary, 10, METHOD, b"hi", timeout=8)
            elapsed = time.monotonic() - t0
            assert reply == b"ok:hi"
            assert elapsed < 2.0, "the call waited %.2f s: the GOAWAY'd endpoint waited for its backoff" % elapsed
            assert server.connections == 2


def test_healthy_connection_is_replaced_at_once_after_goaway(lbchannel):
    """A connection READY longer than backoff_reset_after_ms is replaced at once
    after GOAWAY (no backoff), even with no call waiting."""
    goaway_sent = threading.Event()

    def goaway_later(conn):
        if conn.index == 0:
            def later():
                time.sleep(0.6)
                goaway_after_settings(conn)
                goaway_sent.set()
            threading.Thread(target=later, daemon=True).start()

    with RawH2Server(on_connect=goaway_later) as server:
        with lbchannel.Channel(server.target, backoff_initial_ms=4000, backoff_max_ms=4000,
                               backoff_reset_after_ms=300):
            assert goaway_sent.wait(5)
            t0 = time.monotonic()
            assert wait_until(lambda: server.connections >= 2, 2.5), "no new connection after GOAWAY"
            assert time.monotonic() - t0 < 2.5


def test_early_goaway_without_calls_waits_for_the_backoff(lbchannel):
    """The same GOAWAY before backoff_reset_after_ms: no call waits, so the endpoint
    reconnects only when its backoff expires."""
    goaway_sent = threading.Event()

    def goaway_later(conn):
        if conn.index == 0:
            def later():
                time.sleep(0.3)
                goaway_after_settings(conn)
                goaway_sent.set()
            threading.Thread(target=later, daemon=True).start()

    with RawH2Server(on_connect=goaway_later) as server:
        with lbchannel.Channel(server.target, backoff_initial_ms=2000, backoff_max_ms=2000, backoff_jitter=0,
                               backoff_reset_after_ms=5000):
            assert goaway_sent.wait(5)
            t0 = time.monotonic()
            time.sleep(1.2)
            assert server.connections == 1, "reconnected before the backoff expired"
            assert wait_until(lambda: server.connections >= 2, 5), "never reconnected"
            assert time.monotonic() - t0 >= 1.5
