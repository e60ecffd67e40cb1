"""Periodic service discovery under churn: replicas joining and leaving DNS, a
backend killed and replaced, the DNS server going silent, empty answers, slow or
failing lookup callbacks, pushed endpoint sets, eager resolution, and early
re-resolution on a lost connection.

Real components only: grpcio backends on 127.0.0.2..9 (one port per group, since
DNS A records carry no port) and dnsmasq on 127.0.0.1:<free port> serving a hosts
file that the tests rewrite and reload with SIGHUP.

Measured times (DNS change -> first request on a new backend, -> even share, ...)
are printed (``pytest -s``) and, when ``$LBC_DISCOVERY_TIMES`` names a file,
appended to it as JSON lines.
"""

import collections
import json
import os
import signal
import threading
import time

import grpc
import pytest

import lbtest_support
from lbtest_support import (Backend, BackendError, Dnsmasq, count_names, free_port, wait_all_ready, wait_only,
                            wait_until)

WHOAMI = "/lbtest.Test/Whoami"
SLEEP = "/lbtest.Test/Sleep"
NAME = "svc.test"

#: Backends never killed by a test of this module (module-scoped), 127.0.0.2..6.
POOL_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
POOL_NAMES = ("n1", "n2", "n3", "n4", "n5")
#: Backends private to one test (killed), 127.0.0.7..9.
TRIO_HOSTS = ("127.0.0.7", "127.0.0.8", "127.0.0.9")
TRIO_NAMES = ("A", "B", "C")


# -- measurements ----------------------------------------------------------------------


def _report(test, metric, seconds, **extra):
    """Print a measured time and append it to $LBC_DISCOVERY_TIMES as one JSON line."""
    row = {"test": test, "metric": metric, "seconds": None if seconds is None else round(seconds, 4)}
    row.update(extra)
    print("[timing] %s %s = %s %s" % (test, metric, "n/a" if seconds is None else "%.3fs" % seconds,
                                      " ".join("%s=%s" % kv for kv in sorted(extra.items()))))
    path = os.environ.get("LBC_DISCOVERY_TIMES")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")


# -- backends and DNS ---------------------------------------------------------------------


def _start_group(gen_dir, hosts, names, attempts=3):
    """Start one backend per host, all on one port, in parallel; return them."""
    last = None
    for _ in range(attempts):
        port = free_port(hosts)
        group = [Backend("%s:%d" % (h, port), n, gen_dir) for h, n in zip(hosts, names)]
        errors = []

        def start(b):
            try:
                b.start(timeout=20)
            except BackendError as exc:  # port taken in between: try another
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(b,), daemon=True) for b in group]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if not errors and all(b.running for b in group):
            return group
        last = errors[0] if errors else BackendError("a backend did not start in time")
        for b in group:
            b.stop()
    raise last


class Group:
    """Backends by name, sharing one port."""

    def __init__(self, backends):
        self.backends = backends
        self.by = {b.name: b for b in backends}
        self.port = int(backends[0].address.rsplit(":", 1)[1])

    def __getitem__(self, name):
        return self.by[name]

    def host(self, name):
        return self.by[name].address.rsplit(":", 1)[0]

    def hosts(self, *names):
        """Hosts-file entries putting ``names`` behind ``svc.test``."""
        return [(self.host(n), NAME) for n in names]

    def target(self, dns, name=NAME):
        return "dns://127.0.0.1:%d/%s:%d" % (dns.port, name, self.port)

    def stop(self):
        for b in self.backends:
            b.stop()


@pytest.fixture(scope="module")
def pool(gen_dir):
    """n1..n5 on 127.0.0.2..6 (one port), shared by this module; never stopped by a test."""
    group = Group(_start_group(gen_dir, POOL_HOSTS, POOL_NAMES))
    yield group
    group.stop()


@pytest.fixture
def trio(gen_dir):
    """A, B, C on 127.0.0.7..9 (one port), private to one test (may be killed)."""
    group = Group(_start_group(gen_dir, TRIO_HOSTS, TRIO_NAMES))
    yield group
    group.stop()


def _resume(server):
    """SIGCONT a possibly stopped dnsmasq (a stopped process ignores SIGTERM until then)."""
    if server.proc is not None and server.proc.poll() is None:
        try:
            server.proc.send_signal(signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.fixture
def dns(tmp_path):
    """A dnsmasq for one test (start it with the first hosts entries)."""
    servers = [Dnsmasq(tmp_path / "dns0")]
    servers[0].dir.mkdir()
    yield servers[0]
    for s in servers:
        _resume(s)
        s.stop()


# -- traffic ------------------------------------------------------------------------------

Rec, Traffic = lbtest_support.Rec, lbtest_support.Traffic


def _first_even_window(records, names, after, window, lo, hi):
    """End time of the first run of ``window`` calls (started after ``after``) served only by
    ``names`` with each name's count in [lo, hi]; None if there is none."""
    recs = sorted((r for r in records if r.start >= after), key=lambda r: r.end)
    counts = collections.Counter()
    for i, r in enumerate(recs):
        counts[r.name] += 1
        if i >= window:
            counts[recs[i - window].name] -= 1
        if i >= window - 1 and sum(counts[n] for n in names) == window and all(
            lo <= counts[n] <= hi for n in names
        ):
            return r.end
    return None


def _burst(ch, n=100):
    return count_names(ch, n, timeout=3)


def _wait_only(ch, names, timeout=5.0, n=60):
    return wait_only(ch, names, timeout=timeout, n=n, interval=0.05)


def _disc(ch):
    return ch.stats()["discovery"]


def _failures(records):
    return [r for r in records if r.name is None]


# -- 1. scale-up --------------------------------------------------------------------------


def test_scale_up_new_replicas_get_their_share(lbchannel, pool, dns):
    interval_ms = 400
    dns.start(pool.hosts("n1", "n2"))
    with lbchannel.Channel(pool.target(dns), lb_policy="round_robin", discovery_interval_ms=interval_ms) as ch:
        assert set(_wait_only(ch, {"n1", "n2"})) == {"n1", "n2"}
        traffic = Traffic(ch).start()
        try:
            time.sleep(0.2)
            t0 = time.monotonic()  # the hosts file is replaced and SIGHUP sent right now
            dns.set_hosts(pool.hosts("n1", "n2", "n3", "n4"))
            names = {"n1", "n2", "n3", "n4"}
            even = lambda: _first_even_window(traffic.records(), names, t0, 100, 20, 30)  # noqa: E731
            wait_until(even, interval_ms / 1000.0 + 4.0)
            time.sleep(0.3)  # keep going: the share must stay even
        finally:
            records = traffic.stop()
        stats = ch.stats()

    before = [r for r in records if r.end < t0]
    assert before and {r.name for r in before} <= {"n1", "n2"}, collections.Counter(r.name for r in before)
    assert not _failures(records), _failures(records)[:5]
    budget = interval_ms / 1000.0 + 1.0
    first = {}
    for name in ("n3", "n4"):
        ends = [r.end for r in records if r.start >= t0 and r.name == name]
        first[name] = (min(ends) - t0) if ends else None
        _report("scale_up", "dns_change_to_first_request_" + name, first[name], interval_ms=interval_ms)
    t_even = _first_even_window(records, names, t0, 100, 20, 30)
    _report("scale_up", "dns_change_to_even_share", None if t_even is None else t_even - t0, interval_ms=interval_ms)
    for name in ("n3", "n4"):
        assert first[name] is not None, "%s never got a request; stats=%s" % (name, stats)
        assert first[name] <= budget, "%s got its first request %.2fs after the DNS change (budget %.1fs)" % (
            name, first[name], budget)
    assert t_even is not None, "no even share over 4 backends; stats=%s" % stats
    assert t_even - t0 <= budget, "even share only %.2fs after the DNS change (budget %.1fs)" % (t_even - t0, budget)
    last = collections.Counter(r.name for r in sorted(records, key=lambda r: r.end)[-100:])
    assert set(last) == names and all(20 <= last[n] <= 30 for n in names), last


# -- 2. scale-down ------------------------------------------------------------------------


def test_scale_down_removed_replica_takes_no_new_rpcs_and_finishes_in_flight(lbchannel, pool, dns):
    interval_ms = 300
    dns.start(pool.hosts("n1", "n2", "n3"))
    leaving = pool["n3"].address
    with lbchannel.Channel(pool.target(dns), lb_policy="round_robin", discovery_interval_ms=interval_ms) as ch:
        assert set(_wait_only(ch, {"n1", "n2", "n3"})) == {"n1", "n2", "n3"}
        assert wait_all_ready(ch, 3)

        results = [None] * 6

        def sleeper(i):
            t = time.monotonic()
            try:
                name = ch.unary(SLEEP, b"1500", timeout=6).decode()
                results[i] = ("ok", name, time.monotonic() - t)
            except grpc.RpcError as e:
                results[i] = (e.code(), e.details(), time.monotonic() - t)

        t_sleeps = time.monotonic()
        threads = [threading.Thread(target=sleeper, args=(i,), daemon=True) for i in range(len(results))]
        for t in threads:
            t.start()
        on_leaving = lambda: [e for e in ch.endpoints() if e["address"] == leaving and e["in_flight"] >= 1]  # noqa: E731
        assert wait_until(on_leaving, 1.0), "no Sleep in flight on %s: %s" % (leaving, ch.endpoints())

        t0 = time.monotonic()
        dns.set_hosts(pool.hosts("n1", "n2"))
        gone = wait_until(lambda: leaving not in [e["address"] for e in ch.endpoints()], interval_ms / 1000.0 + 2.0)
        t_gone = time.monotonic() - t0
        _report("scale_down", "dns_change_to_endpoint_removed", t_gone if gone else None, interval_ms=interval_ms)
        assert gone, "n3 still in the endpoint set: %s" % ch.stats()
        # The removal happened while the Sleeps were still running on it.
        assert time.monotonic() - t_sleeps < 1.4, "too slow to remove n3 before the Sleeps ended"
        stats = ch.stats()
        assert stats["retired_endpoints"] >= 1, "n3 holds RPCs in flight but is not draining: %s" % stats
        counts = _burst(ch, 100)
        assert "n3" not in counts, "a removed backend still receives new RPCs: %s" % counts
        assert set(counts) == {"n1", "n2"} and all(40 <= counts[n] <= 60 for n in ("n1", "n2")), counts

        for t in threads:
            t.join(8)
        assert not any(t.is_alive() for t in threads), "a Sleep call did not return"
        assert all(r is not None and r[0] == "ok" for r in results), results
        served = collections.Counter(r[1] for r in results)
        assert served["n3"] >= 1, "no Sleep ran on the removed backend: %s" % served
        assert all(r[2] >= 1.4 for r in results), results
        # Its connection closes once its last RPC has ended.
        assert wait_until(lambda: ch.stats()["retired_endpoints"] == 0, 3.0), ch.stats()
        assert "n3" not in _burst(ch, 100)


# -- 3. the motivating scenario: A dies, C replaces it --------------------------------------


def test_killed_backend_replaced_in_dns_gets_even_traffic(lbchannel, trio, dns):
    interval_ms = 400
    dns.start(trio.hosts("A", "B"))
    with lbchannel.Channel(trio.target(dns), lb_policy="round_robin", discovery_interval_ms=interval_ms) as ch:
        assert set(_wait_only(ch, {"A", "B"})) == {"A", "B"}
        traffic = Traffic(ch, threads=2).start()
        try:
            time.sleep(0.3)
            t_kill = time.monotonic()
            trio["A"].kill()
            t0 = time.monotonic()
            dns.set_hosts(trio.hosts("B", "C"))
            even = lambda: _first_even_window(traffic.records(), {"B", "C"}, t0, 100, 40, 60)  # noqa: E731
            wait_until(even, interval_ms / 1000.0 + 4.0)
            time.sleep(0.5)
        finally:
            records = traffic.stop()
        stats = ch.stats()

    first_c = [r.end for r in records if r.start >= t0 and r.name == "C"]
    t_first = (min(first_c) - t0) if first_c else None
    t_even = _first_even_window(records, {"B", "C"}, t0, 100, 40, 60)
    _report("replace_killed", "dns_change_to_first_request_C", t_first, interval_ms=interval_ms)
    _report("replace_killed", "dns_change_to_even_share", None if t_even is None else t_even - t0,
            interval_ms=interval_ms)
    failures = _failures(records)
    _report("replace_killed", "failed_calls", None, count=len(failures))

    late = [r for r in failures if r.start > t_kill + 0.3]
    assert not late, "calls failed after the kill: %s" % late[:5]
    assert all(r.code == grpc.StatusCode.UNAVAILABLE for r in failures), failures
    assert len(failures) <= 4, failures
    assert t_first is not None, "C never got traffic; stats=%s" % stats
    assert t_first <= interval_ms / 1000.0 + 1.0, "C got its first request %.2fs after the DNS change" % t_first
    assert t_even is not None, "no even B/C share; stats=%s" % stats
    last = collections.Counter(r.name for r in sorted(records, key=lambda r: r.end)[-100:])
    assert set(last) == {"B", "C"} and all(40 <= last[n] <= 60 for n in ("B", "C")), last


# -- 4. the DNS server stops answering ---------------------------------------------------------


@pytest.mark.parametrize("outage", ["sigstop", "killed_and_restarted"])
def test_dns_server_outage_keeps_last_set_then_follows(lbchannel, pool, dns, tmp_path, monkeypatch, outage):
    interval_ms = 300
    dns.start(pool.hosts("n1", "n2"))
    port = dns.port
    restarted = None
    with lbchannel.Channel(
        pool.target(dns), lb_policy="round_robin", discovery_interval_ms=interval_ms, dns_timeout_ms=200
    ) as ch:
        try:
            assert set(_wait_only(ch, {"n1", "n2"})) == {"n1", "n2"}
            errors0 = _disc(ch)["errors"]
            assert errors0 == 0, _disc(ch)
            traffic = Traffic(ch).start()
            try:
                t_out = time.monotonic()
                if outage == "sigstop":
                    dns.proc.send_signal(signal.SIGSTOP)
                else:
                    dns.stop()
                assert wait_until(lambda: _disc(ch)["errors"] >= errors0 + 2, 6.0, interval=0.01), _disc(ch)
                t_err = time.monotonic() - t_out
                # Several discovery intervals without DNS.
                rest = 5 * interval_ms / 1000.0 - (time.monotonic() - t_out)
                if rest > 0:
                    time.sleep(rest)
                disc = _disc(ch)
                endpoints = ch.endpoints()
            finally:
                records = traffic.stop()
            _report("dns_outage_" + outage, "outage_to_second_error", t_err, errors=disc["errors"],
                    calls_during_outage=len([r for r in records if r.start >= t_out]))
            assert disc["errors"] >= 2 and disc["last_result"] == "error", disc
            assert isinstance(disc["last_error"], str) and disc["last_error"], disc
            assert sorted(e["address"] for e in endpoints) == sorted(pool[n].address for n in ("n1", "n2")), endpoints
            assert not _failures(records), _failures(records)[:5]
            during = [r for r in records if r.start >= t_out]
            counts = collections.Counter(r.name for r in during)
            assert len(during) >= 100 and set(counts) == {"n1", "n2"}, counts

            # The server answers again, with a different set.
            if outage == "sigstop":
                dns.set_hosts(pool.hosts("n3", "n4"))  # SIGHUP stays pending while stopped
                t0 = time.monotonic()
                dns.proc.send_signal(signal.SIGCONT)
            else:
                monkeypatch.setattr(lbtest_support, "free_udp_tcp_port", lambda host="127.0.0.1": port)
                (tmp_path / "dns1").mkdir()
                restarted = Dnsmasq(tmp_path / "dns1")
                t0 = time.monotonic()
                restarted.start(pool.hosts("n3", "n4"))
                assert restarted.port == port
            counts = _wait_only(ch, {"n3", "n4"}, timeout=5.0)
            t_follow = time.monotonic() - t0
            _report("dns_outage_" + outage, "dns_back_to_new_set_only", t_follow, interval_ms=interval_ms)
            assert set(counts) == {"n3", "n4"}, (counts, ch.stats())
            disc = _disc(ch)
            assert disc["last_result"] == "ok" and disc["last_error"] is None, disc
        finally:
            if restarted is not None:
                restarted.stop()


# -- 5. empty answers: keep / apply, then the records come back ------------------------------------


@pytest.mark.parametrize("policy", ["keep", "apply"])
def test_empty_answer_policy_and_recovery(lbchannel, pool, dns, policy):
    interval_ms = 300
    dns.start(pool.hosts("n1"))
    with lbchannel.Channel(
        pool.target(dns), lb_policy="round_robin", discovery_interval_ms=interval_ms, empty_answer=policy
    ) as ch:
        assert _wait_only(ch, {"n1"}) == {"n1": 60}
        dns.set_hosts([])
        if policy == "keep":
            traffic = Traffic(ch).start()
            try:
                ok = wait_until(lambda: _disc(ch)["empty_answers"] >= 3, 4.0)
            finally:
                records = traffic.stop()
            disc = _disc(ch)
            assert ok and disc["last_result"] == "empty", disc
            assert [e["address"] for e in ch.endpoints()] == [pool["n1"].address]
            assert not _failures(records), _failures(records)[:5]
            assert {r.name for r in records} == {"n1"}
        else:
            assert wait_until(lambda: ch.endpoints() == [], interval_ms / 1000.0 + 2.0), ch.stats()
            assert _disc(ch)["empty_answers"] >= 1
            for _ in range(3):
                t = time.monotonic()
                with pytest.raises(grpc.RpcError) as info:
                    ch.unary(WHOAMI, b"", timeout=5)
                elapsed = time.monotonic() - t
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value
                assert elapsed < 0.5, "no endpoint: the call waited %.2fs instead of failing fast" % elapsed
        # The records come back (another replica): traffic resumes there.
        t0 = time.monotonic()
        dns.set_hosts(pool.hosts("n2", "n3"))
        counts = _wait_only(ch, {"n2", "n3"}, timeout=interval_ms / 1000.0 + 3.0)
        t_back = time.monotonic() - t0
        _report("empty_answer_" + policy, "records_back_to_traffic", t_back, interval_ms=interval_ms)
        assert set(counts) == {"n2", "n3"}, (counts, ch.stats())
        assert t_back <= interval_ms / 1000.0 + 1.5, t_back
        assert _disc(ch)["last_result"] == "ok"


# -- 6. lookup callbacks: slow, and failing every second call ------------------------------------------


def test_slow_lookup_callback_does_not_stall_rpcs(lbchannel, pool):
    lock = threading.Lock()
    state = {"calls": 0, "active": 0, "max_active": 0, "current": None, "started": 0.0, "threads": set()}
    answer = [pool["n1"].address, pool["n2"].address]

    def lookup(target):
        with lock:
            state["calls"] += 1
            state["active"] += 1
            state["max_active"] = max(state["max_active"], state["active"])
            state["current"] = state["calls"]
            state["started"] = time.monotonic()
            state["threads"].add(threading.get_ident())
        try:
            time.sleep(2.0)
            return list(answer)
        finally:
            with lock:
                state["active"] -= 1
                state["current"] = None

    with lbchannel.Channel("registry/slow", lookup=lookup, discovery_interval_ms=300, lb_policy="round_robin") as ch:
        assert wait_all_ready(ch, 2, timeout=6.0), ch.stats()

        def fresh_lookup_running():
            with lock:
                return state["current"] is not None and time.monotonic() - state["started"] < 0.3

        assert wait_until(fresh_lookup_running, 4.0, interval=0.01), state
        with lock:
            running = state["current"]
        t = time.monotonic()
        for _ in range(200):
            ch.unary(WHOAMI, b"", timeout=2)
        elapsed = time.monotonic() - t
        with lock:
            still = state["current"]
        _report("slow_lookup", "200_calls_during_2s_lookup", elapsed)
        assert still == running, "the lookup ended during the burst: the burst proves nothing (%r)" % state
        assert elapsed < 1.0, "200 calls took %.2fs while a 2 s lookup ran" % elapsed
    assert state["max_active"] == 1, "lookup ran %d times at once" % state["max_active"]
    assert threading.get_ident() not in state["threads"]


def test_lookup_raising_every_second_call_keeps_the_set(lbchannel, pool):
    lock = threading.Lock()
    state = {"calls": 0, "raised": 0}
    answer = [pool["n1"].address, pool["n2"].address]

    def lookup(target):
        with lock:
            state["calls"] += 1
            n = state["calls"]
        if n % 2 == 0:
            with lock:
                state["raised"] += 1
            raise RuntimeError("registry hiccup #%d" % n)
        return list(answer)

    with lbchannel.Channel("registry/flaky", lookup=lookup, discovery_interval_ms=200, lb_policy="round_robin") as ch:
        assert set(_wait_only(ch, {"n1", "n2"})) == {"n1", "n2"}
        sets = []
        traffic = Traffic(ch).start()
        try:
            seen_error = None
            deadline = time.monotonic() + 6.0
            while time.monotonic() < deadline:
                sets.append(sorted(e["address"] for e in ch.endpoints()))
                d = _disc(ch)
                if d["last_result"] == "error" and seen_error is None:
                    seen_error = d["last_error"]
                if d["errors"] >= 3 and seen_error is not None:
                    break
                time.sleep(0.02)
        finally:
            records = traffic.stop()
        disc = _disc(ch)
        with lock:
            raised = state["raised"]
        assert disc["errors"] >= 3, disc
        # Every raised exception is one lookup error (one may still be on its way to the loop).
        assert raised - 1 <= disc["errors"] <= raised, (disc, state)
        assert seen_error and "registry hiccup" in seen_error, seen_error
        assert disc["resolutions"] >= 2 * disc["errors"] - 1, disc
        assert all(s == sorted(answer) for s in sets), [s for s in sets if s != sorted(answer)][:3]
        assert not _failures(records), _failures(records)[:5]
        counts = collections.Counter(r.name for r in records)
        assert set(counts) == {"n1", "n2"}, counts


# -- 7. pushed endpoint sets on a manual: channel ---------------------------------------------------------


def test_pushed_sets_are_followed_by_the_next_calls(lbchannel, pool):
    a, b = pool["n1"], pool["n2"]
    with lbchannel.Channel("manual:", lb_policy="round_robin") as ch:
        ch.set_endpoints([a.address])
        assert _burst(ch, 50) == {"n1": 50}

        t0 = time.monotonic()
        ch.set_endpoints([a.address, b.address])
        assert wait_until(lambda: ch.unary(WHOAMI, b"", timeout=3) == b"n2", 1.0, interval=0.001)
        _report("push", "push_to_first_request_on_added", time.monotonic() - t0)
        counts = _burst(ch, 100)
        assert counts == {"n1": 50, "n2": 50}, counts

        results = []

        def sleeper():
            try:
                results.append(("ok", ch.unary(SLEEP, b"600", timeout=5).decode()))
            except grpc.RpcError as e:
                results.append((e.code(), e.details()))

        threads = [threading.Thread(target=sleeper, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        assert wait_until(
            lambda: any(e["address"] == a.address and e["in_flight"] >= 1 for e in ch.endpoints()), 1.0
        ), ch.endpoints()
        ch.set_endpoints([b.address])
        # The very next calls see the new set.
        counts = _burst(ch, 100)
        assert counts == {"n2": 100}, counts
        assert [e["address"] for e in ch.endpoints()] == [b.address]
        for t in threads:
            t.join(6)
        assert not any(t.is_alive() for t in threads)
        assert sorted(r[0] for r in results) == ["ok"] * 4 and ("ok", "n1") in results, results
        assert ch.stats()["discovery"]["pushes"] == 3, ch.stats()["discovery"]


# -- 8. eager resolution ------------------------------------------------------------------------------------


def test_eager_resolution_times_out_with_a_clear_error(lbchannel, pool, dns):
    dns.start(pool.hosts("n1", "n2", "n3"))
    unknown = pool.target(dns, name="nobody.test")
    t = time.monotonic()
    with pytest.raises(lbchannel.Error) as info:
        lbchannel.Channel(unknown, resolution="eager", eager_timeout_ms=500)
    elapsed = time.monotonic() - t
    _report("eager", "unknown_name_open_failed_after", elapsed, eager_timeout_ms=500)
    err = info.value
    assert isinstance(err, lbchannel.ResolutionError) and err.code == lbchannel.ErrorCode.RESOLUTION, repr(err)
    assert 0.45 <= elapsed < 1.5, elapsed
    assert unknown in str(err), str(err)
    assert "500 ms" in str(err), str(err)

    # Known name: open returns with every endpoint already there.
    t = time.monotonic()
    with lbchannel.Channel(pool.target(dns), resolution="eager", eager_timeout_ms=3000, lb_policy="round_robin") as ch:
        elapsed = time.monotonic() - t
        endpoints = ch.endpoints()
        _report("eager", "known_name_open", elapsed)
        assert sorted(e["address"] for e in endpoints) == sorted(pool[n].address for n in ("n1", "n2", "n3"))
        assert elapsed < 1.0, elapsed
        assert set(_wait_only(ch, {"n1", "n2", "n3"})) == {"n1", "n2", "n3"}


def test_eager_resolution_times_out_when_dns_is_silent(lbchannel, pool, dns):
    dns.start(pool.hosts("n1"))
    dns.proc.send_signal(signal.SIGSTOP)
    try:
        t = time.monotonic()
        with pytest.raises(lbchannel.ResolutionError) as info:
            lbchannel.Channel(pool.target(dns), resolution="eager", eager_timeout_ms=500, dns_timeout_ms=2000)
        elapsed = time.monotonic() - t
    finally:
        dns.proc.send_signal(signal.SIGCONT)
    _report("eager", "silent_dns_open_failed_after", elapsed, eager_timeout_ms=500)
    assert 0.45 <= elapsed < 1.5, elapsed
    assert pool.target(dns) in str(info.value) and "500 ms" in str(info.value), str(info.value)


# -- 9. early re-resolution on a lost connection ------------------------------------------------------------


def test_lost_connection_triggers_early_reresolution(lbchannel, trio, dns):
    dns.start(trio.hosts("A", "B"))
    with lbchannel.Channel(
        trio.target(dns), lb_policy="round_robin", discovery_interval_ms=60000, min_reresolution_interval_ms=200
    ) as ch:
        assert set(_wait_only(ch, {"A", "B"})) == {"A", "B"}
        resolutions0 = _disc(ch)["resolutions"]
        traffic = Traffic(ch).start()
        try:
            time.sleep(0.2)
            dns.set_hosts(trio.hosts("B", "C"))  # nobody asks for 60 s ...
            time.sleep(0.2)
            t0 = time.monotonic()
            trio["A"].kill()  # ... unless a connection is lost
            wait_until(lambda: traffic.first_served("C", t0) is not None, 4.0)
            time.sleep(0.2)
        finally:
            records = traffic.stop()
        disc = _disc(ch)
    c_ends = [r.end for r in records if r.name == "C"]
    t_first = (min(c_ends) - t0) if c_ends else None
    _report("reresolve_on_loss", "kill_to_first_request_C", t_first, discovery_interval_ms=60000)
    assert c_ends, "C never got traffic after the connection loss: %s" % disc
    assert min(c_ends) > t0, "C served before the connection loss: %s" % disc
    assert t_first <= 3.0, "C got traffic only %.2fs after the loss" % t_first
    assert disc["resolutions"] > resolutions0, disc
    failures = _failures(records)
    assert all(r.code == grpc.StatusCode.UNAVAILABLE and r.start <= t0 + 0.3 for r in failures), failures[:5]
    assert len(failures) <= 2, failures
    last = collections.Counter(r.name for r in sorted(records, key=lambda r: r.end)[-100:])
    assert set(last) <= {"B", "C"}, last
