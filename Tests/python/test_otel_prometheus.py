"""lbchannel.metrics: the OpenTelemetry producer and the Prometheus collector, read back
after known traffic against real grpcio backends (Tests/python/backend.py).

The traffic: round_robin over three backends, one of which fails every call with
UNAVAILABLE, under a retry policy that retries UNAVAILABLE — N Echo calls that end OK,
M Fail calls that end NOT_FOUND, and 2 Sleep calls that the client's 100 ms deadline
ends — so some calls are retried (each RPC's ``attempts`` says how often). The exported
values must match both that knowledge and the library's own snapshot, in seconds.
"""

import os
import subprocess
import sys
import time

import pytest

from lbtest_support import REPO_ROOT, run_with_timeout, wait_all_ready

# Both libraries are dependencies of the test suite (.ci/deps.sh installs them).
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

ECHO = "/lbtest.Test/Echo"
FAIL = "/lbtest.Test/Fail"
SLEEP = "/lbtest.Test/Sleep"
BOUNDS_S = tuple((1 << k) / 1e6 for k in range(31))
N_OK, N_FAIL, N_LATE = 20, 6, 2


class Traffic:
    """What the test knows about the traffic it sent."""

    def __init__(self):
        self.attempts = {ECHO: 0, FAIL: 0, SLEEP: 0}
        self.calls = {(ECHO, "OK"): 0, (FAIL, "NOT_FOUND"): 0, (SLEEP, "DEADLINE_EXCEEDED"): 0}
        self.elapsed_s = {ECHO: 0.0, FAIL: 0.0, SLEEP: 0.0}


@pytest.fixture
def channel(lbchannel, make_backends):
    backends = make_backends([{"LBTEST_FAIL_ALL": "14"}, {}, {}])
    target = "ipv4:" + ",".join(b.address for b in backends)
    ch = lbchannel.Channel(target, lb_policy="round_robin", retry_max_attempts=3, retry_initial_backoff_ms=5,
                           retry_max_backoff_ms=20, retry_status_codes="UNAVAILABLE")
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    ch.failing_address = backends[0].address
    yield ch
    run_with_timeout(ch.close, 10)


def _send_known_traffic(lbchannel, ch):
    t = Traffic()
    for i in range(N_OK):
        start = time.monotonic()
        reply, call = ch.unary_with_call(ECHO, b"m%d" % i, timeout=5)
        t.elapsed_s[ECHO] += time.monotonic() - start
        assert reply == b"m%d" % i
        t.attempts[ECHO] += call.attempts
        t.calls[(ECHO, "OK")] += 1
    for method, request, timeout, status, count in ((FAIL, b"5:not here", 5, "NOT_FOUND", N_FAIL),
                                                    (SLEEP, b"2000", 0.1, "DEADLINE_EXCEEDED", N_LATE)):
        for _ in range(count):
            start = time.monotonic()
            with pytest.raises(lbchannel.RpcError) as info:
                ch.unary(method, request, timeout=timeout)
            t.elapsed_s[method] += time.monotonic() - start
            assert info.value.status_code.name == status
            t.attempts[method] += max(info.value.attempts, 1)
            t.calls[(method, status)] += 1
    assert t.attempts[ECHO] + t.attempts[FAIL] > N_OK + N_FAIL, "round_robin over a failing backend retries some"
    # The ends are counted on the channel's I/O thread: wait (bounded) until all are in.
    deadline = time.monotonic() + 5
    while True:
        stats = ch.stats()
        methods = {m["method"]: m for m in stats["metrics"]["methods"]}
        ended = sum(h["count"] for m in methods.values() for h in m["attempts"].values())
        if ended == sum(t.attempts.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return t, stats


def _stats_histograms(stats, kind):
    """``{(grpc.method, grpc.status): histogram dict}`` of the snapshot's ``kind``."""
    return {(m["method"][1:], status): h for m in stats["metrics"]["methods"] for status, h in m[kind].items()}


# -- OpenTelemetry ---------------------------------------------------------------------------


def _otel_metrics(reader):
    """``{name: (metric, scope name, resource)}`` of one collection of ``reader``."""
    out = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = (metric, sm.scope.name, rm.resource)
    return out


def test_opentelemetry_export_after_known_traffic(lbchannel, channel):
    from lbchannel.metrics import OpenTelemetryProducer

    reader = InMemoryMetricReader()
    resource = Resource.create({"service.name": "otel-test"})
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    OpenTelemetryProducer(channel).attach(reader)
    # An instrument of the application's own: both end up in one collection.
    provider.get_meter("app").create_counter("app.requests").add(3)

    traffic, stats = _send_known_traffic(lbchannel, channel)
    got = _otel_metrics(reader)
    target = channel.target

    assert got["app.requests"][0].data.data_points[0].value == 3
    assert got["grpc.client.attempt.started"][1] == "lbchannel"
    assert got["grpc.client.attempt.started"][2].attributes["service.name"] == "otel-test"

    started, _, _ = got["grpc.client.attempt.started"]
    assert started.unit == "{attempt}" and started.data.is_monotonic
    assert started.data.aggregation_temporality.name == "CUMULATIVE"
    assert {p.attributes["grpc.method"]: p.value for p in started.data.data_points} == {
        m[1:]: n for m, n in traffic.attempts.items()}
    assert all(dict(p.attributes) == {"grpc.method": p.attributes["grpc.method"], "grpc.target": target}
               for p in started.data.data_points)

    for name, kind in (("grpc.client.attempt.duration", "attempts"), ("grpc.client.call.duration", "calls")):
        metric, _, _ = got[name]
        assert metric.unit == "s" and metric.data.aggregation_temporality.name == "CUMULATIVE"
        points = {(p.attributes["grpc.method"], p.attributes["grpc.status"]): p for p in metric.data.data_points}
        for p in points.values():
            assert p.attributes["grpc.target"] == target
            assert tuple(p.explicit_bounds) == BOUNDS_S
            assert len(p.bucket_counts) == 32 and sum(p.bucket_counts) == p.count
        # The same figures as the library's snapshot, in seconds.
        expected = _stats_histograms(stats, kind)
        assert set(points) == set(expected)
        for key, h in expected.items():
            assert points[key].count == h["count"]
            assert list(points[key].bucket_counts) == h["buckets"]
            assert points[key].sum == pytest.approx(h["sum_us"] / 1e6)
        if kind == "calls":  # ... and as the test knows them
            assert {k: p.count for k, p in points.items()} == {(m[1:], s): n for (m, s), n in traffic.calls.items()}
        else:
            for method, n in traffic.attempts.items():
                assert sum(p.count for (m, _), p in points.items() if m == method[1:]) == n
            retried = points.get(("lbtest.Test/Echo", "UNAVAILABLE"))
            assert (retried.count if retried else 0) == traffic.attempts[ECHO] - N_OK

    calls = {(p.attributes["grpc.method"], p.attributes["grpc.status"]): p
             for p in got["grpc.client.call.duration"][0].data.data_points}
    echo = calls[("lbtest.Test/Echo", "OK")]
    assert 0 < echo.sum <= traffic.elapsed_s[ECHO]  # seconds, not µs
    late = calls[("lbtest.Test/Sleep", "DEADLINE_EXCEEDED")]
    assert late.sum >= N_LATE * 0.09, late  # each waited for its 100 ms deadline
    first = next(k for k, b in enumerate(BOUNDS_S) if b >= 0.09)
    assert sum(late.bucket_counts[:first]) == 0 and sum(late.bucket_counts) == N_LATE

    # Per endpoint.
    def by_address(name):
        return {p.attributes["lbchannel.endpoint.address"]: p.value for p in got[name][0].data.data_points}

    addresses = {e["address"] for e in stats["endpoints"]}
    endpoint_started = by_address("lbchannel.endpoint.calls.started")
    assert set(endpoint_started) == addresses
    assert sum(endpoint_started.values()) == sum(traffic.attempts.values())
    failed = by_address("lbchannel.endpoint.calls.failed")
    assert failed[channel.failing_address] == endpoint_started[channel.failing_address] > 0
    assert sum(failed.values()) == sum(traffic.attempts.values()) - N_OK
    assert set(by_address("lbchannel.endpoint.in_flight").values()) == {0}
    assert all(v > 0 for v in by_address("lbchannel.endpoint.latency_ewma").values())
    assert all(v < 5 for v in by_address("lbchannel.endpoint.latency_ewma").values())  # seconds
    states = {(p.attributes["lbchannel.endpoint.address"], p.attributes["lbchannel.endpoint.state"]): p.value
              for p in got["lbchannel.endpoint.state"][0].data.data_points}
    assert states == {(a, s): int(s == "READY") for a in addresses
                      for s in ("IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE")}
    assert set(by_address("lbchannel.endpoint.ejected").values()) == {0}
    assert got["lbchannel.endpoint.calls.started"][0].data.is_monotonic


def test_opentelemetry_producer_alone_and_after_close(lbchannel, channel):
    from lbchannel.metrics import OpenTelemetryProducer

    reader = InMemoryMetricReader()
    with pytest.raises(ValueError, match="MeterProvider"):
        OpenTelemetryProducer(channel).attach(reader)  # not registered yet
    MeterProvider(metric_readers=[reader])
    producer = OpenTelemetryProducer(channel, target="dns:///svc.test:50051", endpoints=False,
                                     resource=Resource.create({"service.name": "alone"}))
    producer.attach(reader)
    with pytest.raises(ValueError, match="already attached"):
        producer.attach(reader)  # its metrics would be reported twice
    channel.unary(ECHO, b"x", timeout=5)

    # No instrument of the SDK's own: the collection is the producer's, under its resource.
    data = reader.get_metrics_data()
    assert len(data.resource_metrics) == 1
    assert data.resource_metrics[0].resource.attributes["service.name"] == "alone"
    names = {m.name for sm in data.resource_metrics[0].scope_metrics for m in sm.metrics}
    assert names == {"grpc.client.attempt.started", "grpc.client.attempt.duration", "grpc.client.call.duration"}
    produced = producer.produce()
    point = produced.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]
    assert dict(point.attributes) == {"grpc.method": "lbtest.Test/Echo", "grpc.target": "dns:///svc.test:50051"}

    channel.close()
    assert producer.metrics() == []
    assert producer.produce().resource_metrics[0].scope_metrics == []
    assert reader.get_metrics_data() is None  # nothing left to report, and no error


def test_a_failing_stats_leaves_the_rest_of_the_collection(lbchannel, caplog):
    from lbchannel.metrics import OpenTelemetryProducer

    class Broken:
        def stats(self):
            raise lbchannel.ForkedError(lbchannel.ErrorCode.FORKED, "used after fork")

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    OpenTelemetryProducer(Broken()).attach(reader)
    provider.get_meter("app").create_counter("app.requests").add(1)
    with caplog.at_level("ERROR", logger="lbchannel"):
        names = {m.name for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics}
    assert names == {"app.requests"}
    assert "reading the channel's stats failed" in caplog.text


def test_grpc_target_is_the_canonical_target(lbchannel, backends):
    from lbchannel.metrics import OpenTelemetryProducer, PrometheusCollector

    address = backends.backends[0].address
    for opened, canonical in ((address, "dns:///" + address), ("dns:///" + address, "dns:///" + address),
                              ("ipv4:" + address, "ipv4:" + address)):
        ch = lbchannel.Channel(opened)
        try:
            ch.unary(ECHO, b"x", timeout=5)
            point = OpenTelemetryProducer(ch, endpoints=False).metrics()[0].data.data_points[0]
            assert point.attributes["grpc.target"] == canonical
            registry = CollectorRegistry()
            registry.register(PrometheusCollector(ch))
            labels = {"grpc_method": "lbtest.Test/Echo", "grpc_target": canonical}
            assert registry.get_sample_value("grpc_client_attempt_started_total", labels) == 1
            registry.register(PrometheusCollector(ch, target="orders"))  # the caller's name instead
            assert registry.get_sample_value("grpc_client_attempt_started_total", dict(labels, grpc_target="orders")) == 1
        finally:
            run_with_timeout(ch.close, 10)


# -- Prometheus ------------------------------------------------------------------------------


def test_prometheus_collector_after_known_traffic(lbchannel, channel):
    from lbchannel.metrics import PrometheusCollector

    registry = CollectorRegistry()
    registry.register(PrometheusCollector(channel))
    traffic, stats = _send_known_traffic(lbchannel, channel)
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    target = channel.target

    started = {s.labels["grpc_method"]: s.value for s in families["grpc_client_attempt_started"].samples
               if s.name == "grpc_client_attempt_started_total"}
    assert started == {m[1:]: n for m, n in traffic.attempts.items()}
    assert families["grpc_client_attempt_started"].type == "counter"

    for family, kind in (("grpc_client_attempt_duration_seconds", "attempts"),
                         ("grpc_client_call_duration_seconds", "calls")):
        assert families[family].type == "histogram"
        for (method, status), h in _stats_histograms(stats, kind).items():
            labels = {"grpc_method": method, "grpc_target": target, "grpc_status": status}
            assert registry.get_sample_value(family + "_count", labels) == h["count"]
            assert registry.get_sample_value(family + "_sum", labels) == pytest.approx(h["sum_us"] / 1e6)
            buckets = [(float(s.labels["le"]), s.value) for s in families[family].samples
                       if s.name == family + "_bucket" and all(s.labels[k] == v for k, v in labels.items())]
            assert [le for le, _ in buckets] == list(BOUNDS_S) + [float("inf")]
            cumulated = [sum(h["buckets"][:k + 1]) for k in range(32)]
            assert [v for _, v in buckets] == cumulated
    for (method, status), n in traffic.calls.items():
        labels = {"grpc_method": method[1:], "grpc_target": target, "grpc_status": status}
        assert registry.get_sample_value("grpc_client_call_duration_seconds_bucket", dict(labels, le="+Inf")) == n
    late = {"grpc_method": "lbtest.Test/Sleep", "grpc_target": target, "grpc_status": "DEADLINE_EXCEEDED"}
    assert registry.get_sample_value("grpc_client_call_duration_seconds_sum", late) >= N_LATE * 0.09
    assert registry.get_sample_value("grpc_client_call_duration_seconds_bucket", dict(late, le="0.065536")) == 0

    def per_endpoint(name):
        return {s.labels["lbchannel_endpoint_address"]: s.value for s in families[name].samples
                if s.labels["grpc_target"] == target and not s.name.endswith("_created")}

    endpoint_started = per_endpoint("lbchannel_endpoint_calls_started")
    assert sum(endpoint_started.values()) == sum(traffic.attempts.values())
    failed = per_endpoint("lbchannel_endpoint_calls_failed")
    assert failed[channel.failing_address] == endpoint_started[channel.failing_address] > 0
    assert set(per_endpoint("lbchannel_endpoint_in_flight").values()) == {0.0}
    assert all(0 < v < 5 for v in per_endpoint("lbchannel_endpoint_latency_ewma_seconds").values())
    for e in stats["endpoints"]:
        labels = {"grpc_target": target, "lbchannel_endpoint_address": e["address"]}
        assert registry.get_sample_value("lbchannel_endpoint_state", dict(labels, lbchannel_endpoint_state="READY")) == 1
        assert registry.get_sample_value("lbchannel_endpoint_state",
                                         dict(labels, lbchannel_endpoint_state="TRANSIENT_FAILURE")) == 0
        assert registry.get_sample_value("lbchannel_endpoint_ejected", labels) == 0

    channel.close()
    assert generate_latest(registry) == b""  # a closed channel's series end


# -- optional dependencies -------------------------------------------------------------------


def _python(code, library_path):
    env = dict(os.environ, LBCHANNEL_LIBRARY=library_path, PYTHONPATH=str(REPO_ROOT / "bindings" / "python"))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_importing_lbchannel_does_not_import_the_exporters_libraries(library_path):
    result = _python("import sys, lbchannel, lbchannel.metrics\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('opentelemetry', 'prometheus_client')))",
                     library_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("blocked, name, extra", [("opentelemetry", "OpenTelemetryProducer", "otel"),
                                                  ("prometheus_client", "PrometheusCollector", "prometheus")])
def test_a_missing_library_names_the_extra_to_install(library_path, blocked, name, extra):
    result = _python("import sys; sys.modules[%r] = None\n"  # as if it were not installed
                     "from lbchannel.metrics import %s" % (blocked, name), library_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "pip install 'lbchannel[%s]'" % extra in result.stderr, result.stderr
