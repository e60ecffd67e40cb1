"""A ``prometheus_client`` collector of a channel's metrics, read at scrape time.

Example::

    import prometheus_client
    import lbchannel
    from lbchannel.metrics import PrometheusCollector

    channel = lbchannel.Channel("dns:///greeter.internal:50051")
    prometheus_client.REGISTRY.register(PrometheusCollector(channel))
    prometheus_client.start_http_server(9464)

Each scrape calls ``channel.stats()`` once; calls themselves do no Python work
for metrics. Names (gRFC A66's, as OpenTelemetry's Prometheus exporter spells
them; labels ``grpc_method``, ``grpc_target``, ``grpc_status``):

* ``grpc_client_attempt_started_total`` (counter; grpc_method, grpc_target)
* ``grpc_client_attempt_duration_seconds`` (histogram; + grpc_status)
* ``grpc_client_call_duration_seconds`` (histogram; + grpc_status)

and per endpoint (labels ``grpc_target``, ``lbchannel_endpoint_address``):
``lbchannel_endpoint_in_flight``, ``lbchannel_endpoint_latency_ewma_seconds``,
``lbchannel_endpoint_ejected`` (0 or 1), ``lbchannel_endpoint_state`` (one series
per state, label ``lbchannel_endpoint_state``, 1 for the current one),
``lbchannel_endpoint_calls_started_total``, ``lbchannel_endpoint_calls_failed_total``,
``lbchannel_endpoint_connect_failures_total``, ``lbchannel_endpoint_ejections_total``.
Histogram buckets are the library's (``le`` = 1 µs, 2 µs, 4 µs, ... 2^30 µs, +Inf).

Needs ``prometheus_client`` (``pip install 'lbchannel[prometheus]'``).
"""

from __future__ import annotations

from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from ._snapshot import ENDPOINT_STATES, DurationHistogram, Snapshot, StatsSource, read

try:
    from prometheus_client.metrics_core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                                Metric)
    from prometheus_client.utils import floatToGoString as _untyped_float_to_go_string
except ImportError as exc:  # pragma: no cover - exercised by test_otel_prometheus in a subprocess
    raise ImportError("lbchannel.metrics.prometheus needs prometheus_client: "
                      "pip install 'lbchannel[prometheus]' (%s)" % exc) from exc

__all__ = ["PrometheusCollector"]

#: ``le`` texts as prometheus_client writes them (its helper is not annotated).
_float_to_go_string: Callable[[float], str] = _untyped_float_to_go_string

_METHOD_LABELS = ["grpc_method", "grpc_target"]
_STATUS_LABELS = ["grpc_method", "grpc_target", "grpc_status"]
_ENDPOINT_LABELS = ["grpc_target", "lbchannel_endpoint_address"]


class PrometheusCollector:
    """A ``prometheus_client`` collector (``registry.register(collector)``) that reads
    ``channel.stats()`` at each scrape and yields the families listed in
    :mod:`lbchannel.metrics.prometheus`.

    Args:
        channel: an :class:`lbchannel.Channel` (or :class:`lbchannel.aio.Channel`).
            Once it is closed the collector yields nothing.
        target: the ``grpc_target`` label; default: the channel's target in A66's
            canonical form (``stats()["target"]``, with ``dns:///`` before a bare
            ``host:port``).
        endpoints: also yield the per-endpoint families (default True).

    THREAD SAFETY: any thread, concurrently (``stats()`` is).
    """

    def __init__(self, channel: StatsSource, *, target: Optional[str] = None, endpoints: bool = True) -> None:
        self._channel = channel
        self._target = target
        self._endpoints = endpoints

    def collect(self) -> Iterator[Metric]:
        """The metric families of one ``stats()`` snapshot (called by the registry)."""
        snap = read(self._channel, self._target)
        if snap is None:
            return
        started = CounterMetricFamily("grpc_client_attempt_started",
                                      "Number of client call attempts started (gRFC A66).", labels=_METHOD_LABELS)
        for method, count in snap.attempts_started:
            started.add_metric([method, snap.target], count)
        yield started
        yield _histogram_family("grpc_client_attempt_duration",
                                "End-to-end time taken to complete a client call attempt (gRFC A66).",
                                snap, snap.attempt_durations)
        yield _histogram_family("grpc_client_call_duration",
                                "Time taken by the channel to complete a call, retries included (gRFC A66).",
                                snap, snap.call_durations)
        if self._endpoints:
            yield from _endpoint_families(snap)

    def describe(self) -> List[Metric]:
        """Nothing: registering does not call ``stats()`` (the families are read at
        scrape time only)."""
        return []


def _histogram_family(name: str, doc: str, snap: Snapshot,
                      histograms: Sequence[DurationHistogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=_STATUS_LABELS, unit="seconds")
    les = [_float_to_go_string(b) for b in snap.bounds_seconds] + ["+Inf"]
    for h in histograms:
        cumulated: List[Tuple[str, float]] = []
        total = 0
        for le, count in zip(les, h.bucket_counts):
            total += count
            cumulated.append((le, total))
        family.add_metric([h.method, snap.target, h.status], cumulated, h.sum_seconds)
    return family


def _endpoint_families(snap: Snapshot) -> Iterator[Metric]:
    gauges = {
        "in_flight": GaugeMetricFamily("lbchannel_endpoint_in_flight",
                                       "Calls on the endpoint now.", labels=_ENDPOINT_LABELS),
        "latency": GaugeMetricFamily("lbchannel_endpoint_latency_ewma",
                                     "Moving average of the endpoint's call latency (0 before its first call).",
                                     labels=_ENDPOINT_LABELS, unit="seconds"),
        "ejected": GaugeMetricFamily("lbchannel_endpoint_ejected",
                                     "1 while outlier detection ejects the endpoint, else 0.",
                                     labels=_ENDPOINT_LABELS),
    }
    state = GaugeMetricFamily("lbchannel_endpoint_state",
                              "1 for the endpoint's connection state, 0 for the others.",
                              labels=_ENDPOINT_LABELS + ["lbchannel_endpoint_state"])
    counters = {
        "started": CounterMetricFamily("lbchannel_endpoint_calls_started",
                                       "Call attempts put on the endpoint.", labels=_ENDPOINT_LABELS),
        "failed": CounterMetricFamily("lbchannel_endpoint_calls_failed",
                                      "Call attempts on the endpoint that ended with a status other than OK.",
                                      labels=_ENDPOINT_LABELS),
        "connect": CounterMetricFamily("lbchannel_endpoint_connect_failures",
                                       "Failed connection attempts to the endpoint.", labels=_ENDPOINT_LABELS),
        "ejections": CounterMetricFamily("lbchannel_endpoint_ejections",
                                         "Times outlier detection ejected the endpoint.", labels=_ENDPOINT_LABELS),
    }
    for e in snap.endpoints:
        labels = [snap.target, e.address]
        gauges["in_flight"].add_metric(labels, e.in_flight)
        gauges["latency"].add_metric(labels, e.latency_ewma_seconds)
        gauges["ejected"].add_metric(labels, 1 if e.ejected else 0)
        for s in ENDPOINT_STATES:
            state.add_metric(labels + [s], 1 if e.state == s else 0)
        counters["started"].add_metric(labels, e.calls_started)
        counters["failed"].add_metric(labels, e.calls_failed)
        counters["connect"].add_metric(labels, e.connect_failures)
        counters["ejections"].add_metric(labels, e.ejections)
    yield from gauges.values()
    yield state
    yield from counters.values()
