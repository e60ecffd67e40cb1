"""grpc.health.v1 health checking (option ``health_check_service``) against real
grpcio servers with ``grpcio-health-checking`` (backend.py with ``LBTEST_HEALTH``):
a backend switched to NOT_SERVING stops getting calls within one health update and
gets them again once SERVING; a backend without the health service is used; a
watch broken by a server restart is re-opened; calls wait for the first answer."""

import threading
import time

import grpc
import pytest

from lbtest_support import HOSTS, Backend, BackendError, count_names, free_port, wait_until
from test_failover import CallLoop

SERVICE = "lbtest.Test"
SET_HEALTH = "/lbtest.Test/SetHealth"


def start_backends(gen_dir, specs):
    """Start backends ``[(name, health or None), ...]`` on HOSTS with one free port."""
    for _ in range(3):
        port = free_port(HOSTS[: len(specs)])
        started = []
        try:
            for host, (name, health) in zip(HOSTS, specs):
                env = {"LBTEST_HEALTH": health} if health else {}
                started.append(Backend("%s:%d" % (host, port), name, gen_dir, env).start())
            return started
        except BackendError:
            for b in started:
                b.stop()
    raise RuntimeError("no free port for the health backends")


@pytest.fixture
def health_backends(gen_dir, request):
    specs = getattr(request, "param", [("b1", "SERVING"), ("b2", "SERVING"), ("b3", "SERVING")])
    bs = start_backends(gen_dir, specs)
    yield bs
    for b in bs:
        b.stop()


def target(bs):
    return "ipv4:" + ",".join(b.address for b in bs)


def set_health(backend, status, service=SERVICE):
    """Change the backend's health through a direct grpcio channel (not the balanced one)."""
    with grpc.insecure_channel(backend.address) as ch:
        ch.unary_unary(SET_HEALTH)(("%s=%s" % (service, status)).encode(), timeout=5)


def health_of(channel):
    return {e["address"]: e.get("health") for e in channel.endpoints()}


def wait_health(channel, address, value, timeout=5.0):
    return wait_until(lambda: health_of(channel).get(address) == value, timeout, interval=0.002)


class Log:
    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def __call__(self, level, message):
        with self.lock:
            self.lines.append(message)

    def matching(self, text):
        with self.lock:
            return [line for line in self.lines if text in line]


def test_not_serving_backend_stops_getting_calls_and_comes_back(lbchannel, health_backends):
    b1, b2, b3 = health_backends
    with lbchannel.Channel(target(health_backends), lb_policy="round_robin", health_check_service=SERVICE) as ch:
        for b in health_backends:
            assert wait_health(ch, b.address, "SERVING"), health_of(ch)
        loop = CallLoop(ch, threads=4).start()
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            set_health(b2, "NOT_SERVING")
            t_set = time.monotonic()
            assert wait_health(ch, b2.address, "NOT_SERVING"), health_of(ch)
            t_flip = time.monotonic()
            time.sleep(0.5)
            t1 = time.monotonic()
            set_health(b2, "SERVING")
            assert wait_health(ch, b2.address, "SERVING"), health_of(ch)
            t_back = time.monotonic()
            time.sleep(0.5)
        finally:
            records = loop.stop()
    failed = [r for r in records if r[3] is not None]
    assert not failed, failed[:5]
    # Calls that started after the client saw NOT_SERVING never reached b2, until SERVING.
    on_b2_while_down = [r for r in records if r[2] == "b2" and t_flip < r[0] and r[1] < t1]
    assert not on_b2_while_down, on_b2_while_down[:5]
    # The switch-over: from the server's change to the last call b2 took.
    last_b2_start = max(r[0] for r in records if r[2] == "b2" and r[0] < t1)
    switch_ms = max(0.0, last_b2_start - t0) * 1000
    print("\nhealth switch-over: NOT_SERVING seen by the client %.1f ms after SetHealth returned"
          " (%.1f ms after it was sent); last call on b2 started %.1f ms after it was sent;"
          " SERVING seen again %.1f ms after it was sent"
          % ((t_flip - t_set) * 1000, (t_flip - t0) * 1000, switch_ms, (t_back - t1) * 1000))
    assert t_flip - t0 < 1.0
    # Other backends took the share meanwhile, and b2 is used again afterwards.
    names_down = {r[2] for r in records if t_flip < r[0] and r[1] < t1}
    assert names_down == {"b1", "b3"}, names_down
    assert any(r[2] == "b2" and r[0] > t_back for r in records)


@pytest.mark.parametrize("window_ms", [3000, 0], ids=["slow_start", "no_slow_start"])
def test_slow_start_ramps_an_endpoint_back_from_not_serving(lbchannel, health_backends, window_ms):
    # An endpoint that recovers (NOT_SERVING -> SERVING) ramps its share over the slow
    # start window, as after a reconnect, instead of taking a full share at once.
    b1, b2, b3 = health_backends
    with lbchannel.Channel(target(health_backends), lb_policy="round_robin", health_check_service=SERVICE,
                           slow_start_window_ms=window_ms, slow_start_min_weight_percent=10) as ch:
        for b in health_backends:  # the channel's first endpoints: no ramp at their first READY
            assert wait_health(ch, b.address, "SERVING"), health_of(ch)
        set_health(b2, "NOT_SERVING")
        assert wait_health(ch, b2.address, "NOT_SERVING"), health_of(ch)
        set_health(b2, "SERVING")
        assert wait_health(ch, b2.address, "SERVING"), health_of(ch)
        t_back = time.monotonic()
        loop = CallLoop(ch, threads=4).start()
        try:
            time.sleep(0.6)
        finally:
            records = loop.stop()
    early = [r[2] for r in records if r[0] - t_back < 0.6]
    share = early.count("b2") / len(early)
    print("\nb2's share in the 0.6 s after it was SERVING again (slow start %d ms): %.3f of %d calls"
          % (window_ms, share, len(early)))
    assert len(early) >= 30, len(early)
    if window_ms:
        assert share <= 0.2, share  # weight 10 % to about 27 % over these 0.6 s: about 6 % of the calls
    else:
        assert share >= 0.25, share  # round_robin: a third at once


@pytest.mark.parametrize("health_backends", [[("b1", "SERVING"), ("b2", "SERVING"), ("b3", None)]], indirect=True)
def test_backend_without_health_service_is_used(lbchannel, health_backends):
    log = Log()
    b3 = health_backends[2]
    with lbchannel.Channel(target(health_backends), lb_policy="round_robin", health_check_service=SERVICE,
                           log_callback=log) as ch:
        assert wait_health(ch, b3.address, "UNIMPLEMENTED"), health_of(ch)
        assert wait_until(lambda: set(count_names(ch, 30)) == {"b1", "b2", "b3"}, 5.0)
        health = health_of(ch)
        assert health[health_backends[0].address] == "SERVING"
        assert health[b3.address] == "UNIMPLEMENTED"
        # Logged once for the endpoint, even across reconnections.
        b3.restart()
        assert wait_until(lambda: set(count_names(ch, 30)) == {"b1", "b2", "b3"}, 10.0)
        assert health_of(ch)[b3.address] == "UNIMPLEMENTED"
    lines = log.matching("has no grpc.health.v1 health service")
    assert len(lines) == 1 and b3.address in lines[0], log.lines


def test_watch_reopened_after_server_restart(lbchannel, health_backends):
    b1 = health_backends[0]
    with lbchannel.Channel(target(health_backends), lb_policy="round_robin", health_check_service=SERVICE,
                           backoff_initial_ms=100, backoff_max_ms=500) as ch:
        for b in health_backends:
            assert wait_health(ch, b.address, "SERVING"), health_of(ch)
        b1.kill()
        assert wait_until(lambda: health_of(ch)[b1.address] != "SERVING", 5.0), health_of(ch)
        assert set(count_names(ch, 30)) == {"b2", "b3"}
        b1.restart()
        assert wait_health(ch, b1.address, "SERVING", timeout=10.0), health_of(ch)
        assert wait_until(lambda: "b1" in count_names(ch, 30), 5.0)
        # The re-opened watch is live: a change on the restarted server arrives.
        set_health(b1, "NOT_SERVING")
        assert wait_health(ch, b1.address, "NOT_SERVING"), health_of(ch)
        assert set(count_names(ch, 30)) == {"b2", "b3"}


@pytest.mark.parametrize("health_backends", [[("b1", "SERVING"), ("b2", "SERVING")]], indirect=True)
def test_calls_wait_for_the_first_health_answer(lbchannel, health_backends):
    # Before any answer the endpoints are not pickable, but calls must wait for
    # them (as for connecting endpoints), not fail fast.
    for _ in range(5):
        with lbchannel.Channel(target(health_backends), health_check_service="") as ch:
            assert ch.unary("/lbtest.Test/Whoami", b"", timeout=5.0).decode() in {"b1", "b2"}


@pytest.mark.parametrize("health_backends", [[("b1", "NOT_SERVING"), ("b2", "NOT_SERVING")]], indirect=True)
def test_no_serving_endpoint_fails_fast_and_wait_for_ready_waits(lbchannel, health_backends):
    b1 = health_backends[0]
    with lbchannel.Channel(target(health_backends), health_check_service=SERVICE) as ch:
        for b in health_backends:
            assert wait_health(ch, b.address, "NOT_SERVING"), health_of(ch)
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            ch.unary("/lbtest.Test/Whoami", b"", timeout=5.0)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "NOT_SERVING" in info.value.details()
        assert time.monotonic() - t0 < 1.0
    with lbchannel.Channel(target(health_backends), health_check_service=SERVICE, wait_for_ready=True) as ch:
        threading.Timer(0.5, set_health, (b1, "SERVING")).start()
        assert ch.unary("/lbtest.Test/Whoami", b"", timeout=5.0).decode() == "b1"


@pytest.mark.parametrize("health_backends", [[("b1", "SERVING")]], indirect=True)
def test_unknown_service_is_not_serving_and_overall_health_is_served(lbchannel, health_backends):
    b1 = health_backends[0]
    with lbchannel.Channel(target(health_backends), health_check_service="no.such.Service") as ch:
        assert wait_health(ch, b1.address, "NOT_SERVING"), health_of(ch)  # SERVICE_UNKNOWN
        with pytest.raises(grpc.RpcError) as info:
            ch.unary("/lbtest.Test/Whoami", b"", timeout=2.0)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with lbchannel.Channel(target(health_backends), health_check_service="") as ch:
        assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        stats = ch.stats()
        assert stats["endpoints"][0]["health"] == "SERVING"
    with lbchannel.Channel(target(health_backends)) as ch:  # off: no health field value
        assert ch.unary("/lbtest.Test/Whoami", b"", timeout=2.0) == b"b1"
        assert ch.endpoints()[0]["health"] is None


def test_invalid_health_check_service_is_refused(lbchannel):
    for value in ("a\nb", "x" * 1025):
        with pytest.raises(lbchannel.InvalidArgumentError):
            lbchannel.Channel("ipv4:127.0.0.2:1", health_check_service=value)


def test_watch_ended_by_the_server_is_reopened(lbchannel, health_backends):
    # The server ends the watch (OK, after its answers) while the connection stays:
    # the client opens a new one at once and still follows the server's changes.
    b1 = health_backends[0]
    log = Log()
    with lbchannel.Channel(target(health_backends), health_check_service=SERVICE, log_callback=log) as ch:
        assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        with grpc.insecure_channel(b1.address) as direct:
            ended = int(direct.unary_unary("/lbtest.Test/EndWatches")(b"", timeout=5))
        assert ended >= 1
        assert wait_until(lambda: log.matching("%s health watch ended" % b1.address), 5.0), log.lines
        assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        set_health(b1, "NOT_SERVING")
        assert wait_health(ch, b1.address, "NOT_SERVING"), health_of(ch)
        assert ch.endpoints()[0]["state"] == "READY"  # the same connection all along
        assert all(e["connect_failures"] == 0 for e in ch.endpoints())


@pytest.mark.parametrize("health_backends", [[("b1", "SERVING")]], indirect=True)
def test_failing_watch_is_retried_with_backoff(lbchannel, health_backends, monkeypatch):
    b1 = health_backends[0]
    b1.stop()
    b1.env["LBTEST_HEALTH_FAIL_WATCHES"] = "3"
    b1.start()
    log = Log()
    t0 = time.monotonic()
    with lbchannel.Channel(target(health_backends), health_check_service=SERVICE, log_callback=log,
                           backoff_initial_ms=200, backoff_multiplier=2, backoff_jitter=0) as ch:
        assert wait_until(lambda: health_of(ch)[b1.address] == "FAILED", 5.0, interval=0.002), health_of(ch)
        # Without wait_for_ready, the only endpoint failing its health check fails calls fast.
        with pytest.raises(grpc.RpcError) as info:
            ch.unary("/lbtest.Test/Whoami", b"", timeout=5.0)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert wait_health(ch, b1.address, "SERVING", timeout=10.0), health_of(ch)
        elapsed = time.monotonic() - t0
        assert ch.unary("/lbtest.Test/Whoami", b"", timeout=5.0) == b"b1"
    retries = log.matching("health watch ended")
    assert [line.rsplit("re-opening in ", 1)[1] for line in retries] == ["200 ms", "400 ms", "800 ms"], retries
    assert elapsed >= 1.4  # 200 + 400 + 800 ms of backoff


@pytest.mark.parametrize("policy", ["pick_first", "least_request", "peak_ewma", "weighted_round_robin"])
def test_every_policy_skips_a_not_serving_endpoint(lbchannel, health_backends, policy):
    b1 = health_backends[0]
    set_health(b1, "NOT_SERVING")
    # peak_ewma prices an endpoint without latency history at the channel's average,
    # which may stay above the others' estimates for about the decay time: a short
    # decay lets b1's return show within the wait below.
    extra = {"peak_ewma_decay_ms": 200} if policy == "peak_ewma" else {}
    with lbchannel.Channel(target(health_backends), lb_policy=policy, health_check_service=SERVICE, **extra) as ch:
        assert wait_health(ch, b1.address, "NOT_SERVING"), health_of(ch)
        assert "b1" not in count_names(ch, 60)
        set_health(b1, "SERVING")
        assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        if policy == "pick_first":
            return  # stays on the endpoint it picked while b1 was out
        assert wait_until(lambda: "b1" in count_names(ch, 60), 5.0)


@pytest.mark.parametrize("health_backends", [[("b1", "SERVING"), ("b2", "SERVING")]], indirect=True)
def test_goaway_drains_without_waiting_for_the_watch(lbchannel, gen_dir, health_backends):
    # A server that sends GOAWAY (max connection age) closes the connection once its
    # streams are done (grace 5 s): the client cancels the watch stream on the
    # draining connection, so it closes at once, and watches again on the new one.
    b1 = health_backends[0]
    b1.stop()
    b1.env["LBTEST_MAX_CONNECTION_AGE_MS"] = "700"
    b1.start()
    log = Log()
    with lbchannel.Channel(target(health_backends), lb_policy="round_robin", health_check_service=SERVICE,
                           log_callback=log) as ch:
        assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        loop = CallLoop(ch, threads=2).start()
        try:
            assert wait_until(lambda: len(log.matching("%s sent GOAWAY" % b1.address)) >= 2, 10.0), log.lines
            # A draining connection lingers only as long as a call on it.
            drained = wait_until(lambda: all(e["draining_connections"] == 0 for e in ch.endpoints()), 1.0,
                                 interval=0.005)
            assert drained, ch.endpoints()
            assert wait_health(ch, b1.address, "SERVING"), health_of(ch)
        finally:
            records = loop.stop()
    failed = [r for r in records if r[3] is not None]
    assert not failed, failed[:5]
    assert {"b1", "b2"} <= {r[2] for r in records}


def test_malformed_health_answer_fails_the_watch_and_it_is_reopened(lbchannel):
    # A raw HTTP/2 server: the first Watch answers bytes that are no HealthCheckResponse
    # (field 1 length-delimited), the second answers SERVING.
    from rawh2_server import RESPONSE_HEADERS, RawH2Server, grpc_frame, ok_handler

    watches = []

    def handler(stream):
        if stream.headers.get(":path") != "/grpc.health.v1.Health/Watch":
            return ok_handler(stream)
        watches.append((time.monotonic(), stream.request_message()))
        stream.send_headers(RESPONSE_HEADERS)
        stream.send_data(grpc_frame(b"\x0a\x01x" if len(watches) == 1 else b"\x08\x01"))  # stays open

    log = Log()
    with RawH2Server(handler=handler) as server:
        with lbchannel.Channel(server.target, health_check_service=SERVICE, log_callback=log,
                               backoff_initial_ms=300, backoff_jitter=0) as ch:
            seen = set()

            def health():
                h = ch.endpoints()[0]["health"]
                seen.add(h)
                return h

            assert wait_until(lambda: health() == "SERVING", 5.0, interval=0.002), ch.endpoints()
            assert "FAILED" in seen, seen
            assert ch.unary("/lbtest.Test/Whoami", b"hi", timeout=5.0) == b"ok:hi"
    assert len(watches) == 2, watches
    assert watches[1][0] - watches[0][0] >= 0.29
    # HealthCheckRequest{service = "lbtest.Test"} as the server received it.
    assert watches[0][1] == b"\x0a\x0blbtest.Test"
    assert log.matching("is not a HealthCheckResponse"), log.lines
