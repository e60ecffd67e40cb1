"""Discovery from Python: lookup callbacks (pull), set_endpoints (push), DNS, logging."""

import threading
import time

import grpc
import pytest

from lbtest_support import Dnsmasq, count_names, wait_only, wait_until

WHOAMI = "/lbtest.Test/Whoami"


def _names(ch, n=30):
    return count_names(ch, n)


def _only(ch, names, timeout=5.0, n=30):
    return wait_only(ch, names, timeout=timeout, n=n)


# -- lookup callback (pull) ------------------------------------------------------------


def test_lookup_callback_supplies_and_updates_endpoints(lbchannel, backends):
    answer = [b.address for b in backends]
    targets = []

    def lookup(target):
        targets.append(target)
        return list(answer)

    with lbchannel.Channel(
        "my-registry/svc", lookup=lookup, discovery_interval_ms=200, lb_policy="round_robin"
    ) as ch:
        counts = _only(ch, backends.names)
        assert set(counts) == set(backends.names), counts
        assert targets and targets[0] == "my-registry/svc"
        assert ch.stats()["discovery"]["kind"] == "lookup"
        # The registry drops b1: within a few intervals no call goes there.
        answer[:] = [backends[1].address, backends[2].address]
        counts = _only(ch, {backends[1].name, backends[2].name})
        assert set(counts) == {backends[1].name, backends[2].name}, counts
        assert ch.lookup_error is None
    calls_so_far = len(targets)  # close has returned: no lookup runs or starts any more
    time.sleep(0.5)
    assert len(targets) == calls_so_far, "lookup still called after close"


def test_lookup_runs_off_the_calling_thread(lbchannel, backends):
    threads = set()

    def lookup(target):
        threads.add(threading.get_ident())
        return [backends[0].address]

    with lbchannel.Channel("svc", lookup=lookup, discovery_interval_ms=200) as ch:
        assert ch.unary(WHOAMI, b"", timeout=5) == backends[0].name.encode()
    assert threads and threading.get_ident() not in threads


def test_failing_lookup_keeps_last_known_endpoints(lbchannel, backends):
    state = {"fail": False}

    def lookup(target):
        if state["fail"]:
            raise ConnectionError("registry is down")
        return [backends[0].address, backends[1].address]

    with lbchannel.Channel("svc", lookup=lookup, discovery_interval_ms=200) as ch:
        assert set(_only(ch, {backends[0].name, backends[1].name})) == {backends[0].name, backends[1].name}
        state["fail"] = True
        assert wait_until(lambda: ch.stats()["discovery"]["errors"] >= 1, 5), ch.stats()["discovery"]
        assert isinstance(ch.lookup_error, ConnectionError)
        disc = ch.stats()["discovery"]
        assert disc["last_result"] == "error", disc
        assert "registry is down" in (disc["last_error"] or ""), disc
        # Still served by the last good answer.
        assert set(_names(ch)) <= {backends[0].name, backends[1].name}
        state["fail"] = False
        assert wait_until(lambda: ch.stats()["discovery"]["last_result"] == "ok", 5)
        assert ch.lookup_error is None


def test_lookup_returning_a_bad_address_is_a_failed_lookup(lbchannel, backends):
    with lbchannel.Channel("svc", lookup=lambda t: ["not an address"], discovery_interval_ms=200) as ch:
        assert wait_until(lambda: ch.lookup_error is not None, 5)
        assert isinstance(ch.lookup_error, ValueError)
        with pytest.raises(grpc.RpcError) as info:
            ch.unary(WHOAMI, b"", timeout=1)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_closing_own_channel_from_lookup_is_refused(lbchannel, backends):
    box = {}

    def lookup(target):
        ch = box.get("ch")
        if ch is not None and "tried" not in box:
            box["tried"] = True
            try:
                ch.close()
            except RuntimeError as e:
                box["error"] = e
        return [backends[0].address]

    with lbchannel.Channel("svc", lookup=lookup, discovery_interval_ms=200) as ch:
        box["ch"] = ch
        assert wait_until(lambda: "tried" in box, 5)
        assert isinstance(box.get("error"), RuntimeError)
        assert not ch.closed
        assert ch.unary(WHOAMI, b"", timeout=5) == backends[0].name.encode()


def test_lookup_must_be_callable(lbchannel):
    with pytest.raises(TypeError):
        lbchannel.Channel("svc", lookup="not callable")


# -- set_endpoints (push) --------------------------------------------------------------------


def test_push_endpoints_on_manual_channel(lbchannel, backends):
    with lbchannel.Channel("manual:", lb_policy="round_robin") as ch:
        assert ch.endpoints() == []
        with pytest.raises(grpc.RpcError) as info:
            ch.unary(WHOAMI, b"", timeout=1)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

        ch.set_endpoints([b.address for b in backends])
        assert set(_only(ch, backends.names)) == set(backends.names)
        assert sorted(e["address"] for e in ch.endpoints()) == sorted(b.address for b in backends)

        ch.set_endpoints([backends[2].address])
        # RPCs started after set_endpoints returns see the new set.
        assert _names(ch) == {backends[2].name: 30}
        assert ch.stats()["discovery"]["pushes"] >= 2

        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.set_endpoints([backends[0].address, "bad address"])
        assert _names(ch) == {backends[2].name: 30}, "a rejected push changed the set"

        ch.set_endpoints([])
        with pytest.raises(grpc.RpcError):
            ch.unary(WHOAMI, b"", timeout=1)


def test_set_endpoints_argument_checks(lbchannel):
    with lbchannel.Channel("manual:") as ch:
        with pytest.raises(TypeError):
            ch.set_endpoints("127.0.0.1:1")
        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.set_endpoints([None])
    with pytest.raises(lbchannel.ClosedError):
        ch.set_endpoints(["127.0.0.1:1"])


def test_push_unix_and_ipv6_addresses(lbchannel, gen_dir, tmp_path):
    from lbtest_support import Backend

    b = Backend("unix:%s" % (tmp_path / "p.sock"), "pushed", gen_dir).start()
    try:
        with lbchannel.Channel("manual:") as ch:
            ch.set_endpoints([b.listen])
            assert ch.unary(WHOAMI, b"", timeout=5) == b"pushed"
            ch.set_endpoints(["[::1]:1", b.listen])  # syntax check only
    finally:
        b.stop()


# -- log callback ------------------------------------------------------------------------------


def test_log_callback_receives_lines(lbchannel, backends):
    lines = []
    with lbchannel.Channel("manual:", log_callback=lambda level, msg: lines.append((level, msg))) as ch:
        ch.set_endpoints([b.address for b in backends])
        ch.unary(WHOAMI, b"", timeout=5)
        ch.set_endpoints([backends[0].address])
        ch.unary(WHOAMI, b"", timeout=5)
        assert wait_until(lambda: len(lines) > 0, 3), "no log line for two endpoint set changes"
    for level, msg in lines:
        assert isinstance(level, lbchannel.LogLevel)
        assert isinstance(msg, str) and msg


def test_log_callback_exceptions_do_not_reach_c(lbchannel, backends):
    def bad(level, msg):
        raise RuntimeError("oops")

    with lbchannel.Channel("manual:", log_callback=bad) as ch:
        ch.set_endpoints([b.address for b in backends])
        assert ch.unary(WHOAMI, b"", timeout=5).decode() in backends.names
        ch.set_endpoints([backends[1].address])
        assert ch.unary(WHOAMI, b"", timeout=5) == backends[1].name.encode()


def test_log_to_logging(lbchannel, backends, caplog):
    import logging

    with caplog.at_level(logging.DEBUG, logger="lbchannel"):
        with lbchannel.Channel("manual:", log_callback=True) as ch:
            ch.set_endpoints([backends[0].address])
            ch.unary(WHOAMI, b"", timeout=5)
            assert wait_until(lambda: any(r.name == "lbchannel" for r in caplog.records), 3)


# -- DNS (dnsmasq) --------------------------------------------------------------------------------


@pytest.fixture
def dns(tmp_path):
    server = Dnsmasq(tmp_path)
    yield server
    server.stop()


def test_dns_discovery_follows_the_records(lbchannel, backends, dns):
    port = backends[0].address.rsplit(":", 1)[1]  # the three backends share one port
    dns.start([("127.0.0.2", "svc.test"), ("127.0.0.3", "svc.test")])
    target = "dns://127.0.0.1:%d/svc.test:%s" % (dns.port, port)
    with lbchannel.Channel(target, lb_policy="round_robin", discovery_interval_ms=200) as ch:
        b1, b2, b3 = backends.names
        assert set(_only(ch, {b1, b2})) == {b1, b2}
        # A new replica appears in DNS: it joins without reconnecting anything.
        dns.set_hosts([("127.0.0.2", "svc.test"), ("127.0.0.3", "svc.test"), ("127.0.0.4", "svc.test")])
        assert set(_only(ch, {b1, b2, b3})) == {b1, b2, b3}, ch.stats()
        # One vanishes: its endpoint drains and takes no new calls.
        dns.set_hosts([("127.0.0.3", "svc.test"), ("127.0.0.4", "svc.test")])
        assert set(_only(ch, {b2, b3})) == {b2, b3}, ch.stats()
        disc = ch.stats()["discovery"]
        assert disc["kind"] == "dns" and disc["resolutions"] >= 3 and disc["updates"] >= 3, disc


def test_dns_eager_resolution(lbchannel, backends, dns):
    port = backends[0].address.rsplit(":", 1)[1]
    dns.start([("127.0.0.4", "svc.test")])
    target = "dns://127.0.0.1:%d/svc.test:%s" % (dns.port, port)
    with lbchannel.Channel(target, resolution="eager", eager_timeout_ms=3000) as ch:
        # Resolved before open returned.
        assert [e["address"] for e in ch.endpoints()] == ["127.0.0.4:%s" % port]
        assert ch.unary(WHOAMI, b"", timeout=5) == backends[2].name.encode()
    with pytest.raises(lbchannel.ResolutionError):
        lbchannel.Channel(
            "dns://127.0.0.1:%d/nothing.test:%s" % (dns.port, port), resolution="eager", eager_timeout_ms=300
        )


def test_dns_empty_answer_keeps_last_known_endpoints(lbchannel, backends, dns):
    port = backends[0].address.rsplit(":", 1)[1]
    dns.start([("127.0.0.2", "svc.test")])
    target = "dns://127.0.0.1:%d/svc.test:%s" % (dns.port, port)
    with lbchannel.Channel(target, discovery_interval_ms=200) as ch:
        assert _only(ch, {backends[0].name}) == {backends[0].name: 30}
        dns.set_hosts([])
        assert wait_until(lambda: ch.stats()["discovery"]["empty_answers"] >= 1, 5), ch.stats()
        assert _names(ch) == {backends[0].name: 30}


def test_dns_empty_answer_applied_when_asked(lbchannel, backends, dns):
    port = backends[0].address.rsplit(":", 1)[1]
    dns.start([("127.0.0.2", "svc.test")])
    target = "dns://127.0.0.1:%d/svc.test:%s" % (dns.port, port)
    with lbchannel.Channel(target, discovery_interval_ms=200, empty_answer="apply") as ch:
        assert _only(ch, {backends[0].name}) == {backends[0].name: 30}
        dns.set_hosts([])
        assert wait_until(lambda: ch.endpoints() == [], 5), ch.stats()
        with pytest.raises(grpc.RpcError) as info:
            ch.unary(WHOAMI, b"", timeout=1)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
