"""Per-RPC balancing across three backends, and the stats the channel reports."""

import collections
import threading

from lbtest_support import wait_all_ready, wait_until

WHOAMI = "/lbtest.Test/Whoami"


def _whoami_counts(ch, n):
    return collections.Counter(ch.unary(WHOAMI, b"", timeout=5).decode() for _ in range(n))


def test_connects_to_every_endpoint_in_the_background(lbchannel, backends):
    # lbc_channel_open "starts connecting to every endpoint in the background".
    with lbchannel.Channel(backends.target) as ch:
        assert wait_all_ready(ch, 3, timeout=5), ch.endpoints()


def test_round_robin_is_even(lbchannel, backends):
    with lbchannel.Channel(backends.target, lb_policy="round_robin") as ch:
        wait_all_ready(ch, 3, timeout=5)
        counts = _whoami_counts(ch, 300)
    assert set(counts) == set(backends.names), counts
    for name in backends.names:
        assert 98 <= counts[name] <= 102, counts


def test_round_robin_visits_each_endpoint_in_turn(lbchannel, backends):
    with lbchannel.Channel(backends.target, lb_policy="round_robin") as ch:
        wait_all_ready(ch, 3, timeout=5)
        seq = [ch.unary(WHOAMI, b"", timeout=5).decode() for _ in range(30)]
    # Every window of three consecutive calls covers all three backends.
    for i in range(len(seq) - 2):
        assert len(set(seq[i : i + 3])) == 3, seq


def test_least_request_default_spreads_sequential_calls(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        assert ch.stats()["policy"] == "least_request"
        wait_all_ready(ch, 3, timeout=5)
        counts = _whoami_counts(ch, 300)
    assert set(counts) == set(backends.names), counts
    for name in backends.names:
        assert 60 <= counts[name] <= 140, counts


def test_least_request_spreads_concurrent_calls(lbchannel, backends):
    # 30 slow RPCs in flight at once. Power of two choices on outstanding
    # RPCs keeps the busiest backend at <= 13 (P(> 13) ~ 0.04 % per round,
    # even when the two choices may coincide); uniform random picks exceed 13
    # in ~27 % of rounds, and a policy ignoring load piles them up.
    with lbchannel.Channel(backends.target, lb_policy="least_request") as ch:
        wait_all_ready(ch, 3, timeout=5)
        for _ in range(2):
            names = []
            lock = threading.Lock()

            def call():
                n = ch.unary("/lbtest.Test/Sleep", b"500", timeout=10).decode()
                with lock:
                    names.append(n)

            threads = [threading.Thread(target=call) for _ in range(30)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(15)
            assert len(names) == 30
            counts = collections.Counter(names)
            assert set(counts) == set(backends.names), counts
            assert max(counts.values()) <= 13, counts


def test_pick_first_uses_the_first_endpoint(lbchannel, backends):
    with lbchannel.Channel(backends.target, lb_policy="pick_first") as ch:
        ch.unary(WHOAMI, b"", timeout=5)
        assert wait_until(
            lambda: ch.endpoints() and ch.endpoints()[0]["state"] == "READY", 5
        ), ch.endpoints()
        counts = _whoami_counts(ch, 30)
    assert counts == {backends[0].name: 30}, counts


def test_stats_after_calls(lbchannel, backends):
    with lbchannel.Channel(backends.target, lb_policy="round_robin") as ch:
        wait_all_ready(ch, 3, timeout=5)
        before = sum(e["calls_started"] for e in ch.endpoints())
        assert before == 0, ch.endpoints()
        _whoami_counts(ch, 90)
        failures = 0
        for _ in range(6):
            try:
                ch.unary("/lbtest.Test/Fail", b"5:nope", timeout=5)
            except lbchannel.RpcError:
                failures += 1
        assert failures == 6
        stats = ch.stats()
        endpoints = ch.endpoints()
    assert stats["target"] == backends.target
    assert stats["policy"] == "round_robin"
    assert endpoints == stats["endpoints"]
    assert sorted(e["address"] for e in endpoints) == sorted(b.address for b in backends)
    for e in endpoints:
        assert e["state"] == "READY", e
        assert e["in_flight"] == 0, e
        assert e["connect_failures"] == 0, e
        assert 30 <= e["calls_started"] <= 34, endpoints
        for key in ("address", "state", "in_flight", "calls_started", "calls_failed", "connect_failures"):
            assert key in e, (key, e)
    assert sum(e["calls_started"] for e in endpoints) == 96, endpoints
    # A non-OK status is an RPC that failed; whether the channel counts server
    # statuses as failures is the library's choice, but it cannot exceed 6.
    assert sum(e["calls_failed"] for e in endpoints) <= 6, endpoints


def test_stats_in_flight_counts_running_calls(lbchannel, backends):
    with lbchannel.Channel(backends.target, lb_policy="round_robin") as ch:
        wait_all_ready(ch, 3, timeout=5)
        threads = [
            threading.Thread(target=ch.unary, args=("/lbtest.Test/Sleep", b"1000"), kwargs={"timeout": 5})
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        try:
            assert wait_until(lambda: sum(e["in_flight"] for e in ch.endpoints()) == 3, 3), ch.endpoints()
        finally:
            for t in threads:
                t.join(10)
        assert sum(e["in_flight"] for e in ch.endpoints()) == 0


def test_stats_json_is_a_fresh_snapshot(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        a = ch.stats()
        ch.unary(WHOAMI, b"", timeout=5)
        b = ch.stats()
        assert a is not b
        assert sum(e["calls_started"] for e in b["endpoints"]) == sum(e["calls_started"] for e in a["endpoints"]) + 1
