"""OpenTelemetry metrics of a channel with gRPC's standard client names (gRFC A66).

Example::

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    import lbchannel
    from lbchannel.metrics import OpenTelemetryProducer

    channel = lbchannel.Channel("dns:///greeter.internal:50051")
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    provider = MeterProvider(metric_readers=[reader])
    OpenTelemetryProducer(channel).attach(reader)

The library counts every call itself (cumulative counters and fixed-bucket
histograms, see ``lbc_channel_stats_json``); the producer reads
``channel.stats()`` once per collection and turns it into OpenTelemetry metric
data, so calls do no Python work for metrics. It is an OpenTelemetry
*MetricProducer* (``produce()``); opentelemetry-sdk for Python has no
``metric_producers`` argument yet, so :meth:`OpenTelemetryProducer.attach` adds
the producer's metrics to every collection of one reader (any reader: periodic
exporting, in-memory, Prometheus).

Metrics (scope ``lbchannel``; cumulative; attributes ``grpc.method`` — the path
without its leading "/", or "other" beyond the library's 1000 methods —
``grpc.target`` and, on the durations, ``grpc.status``):

* ``grpc.client.attempt.started`` (sum, monotonic, ``{attempt}``)
* ``grpc.client.attempt.duration`` (histogram, ``s``)
* ``grpc.client.call.duration`` (histogram, ``s``)

A66's ``grpc.client.attempt.sent_total_compressed_message_size`` and
``rcvd_total_compressed_message_size`` are not produced: the library does not
count message sizes per method. The histograms' bounds are the library's (1 µs,
2 µs, 4 µs, ... 2^30 µs, in seconds), not A66's suggested list, and they carry
no min/max (``min = inf``, ``max = -inf``, as the SDK reports histograms with
``record_min_max=False``).

Per endpoint (attributes ``grpc.target``, ``lbchannel.endpoint.address``):
``lbchannel.endpoint.in_flight`` (gauge, ``{call}``),
``lbchannel.endpoint.latency_ewma`` (gauge, ``s``),
``lbchannel.endpoint.ejected`` (gauge, 0 or 1),
``lbchannel.endpoint.state`` (gauge, one point per state with attribute
``lbchannel.endpoint.state``: 1 for the current state, 0 for the others),
``lbchannel.endpoint.calls.started``, ``lbchannel.endpoint.calls.failed``
(sums, ``{call}``), ``lbchannel.endpoint.connect.failures`` (sum,
``{connection}``), ``lbchannel.endpoint.ejections`` (sum, ``{ejection}``).

Needs opentelemetry-sdk (``pip install 'lbchannel[otel]'``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence

from ._snapshot import ENDPOINT_STATES, DurationHistogram, Snapshot, StatsSource, read

try:
    from opentelemetry.sdk.metrics.export import (AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
                                                  Metric, MetricReader, MetricsData, NumberDataPoint,
                                                  ResourceMetrics, ScopeMetrics, Sum)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
except ImportError as exc:  # pragma: no cover - exercised by test_otel_prometheus in a subprocess
    raise ImportError("lbchannel.metrics.otel needs opentelemetry-sdk: "
                      "pip install 'lbchannel[otel]' (%s)" % exc) from exc

__all__ = ["OpenTelemetryProducer"]

_log = logging.getLogger("lbchannel")
_CUMULATIVE = AggregationTemporality.CUMULATIVE
_Collect = Callable[..., Optional[MetricsData]]


class OpenTelemetryProducer:
    """An OpenTelemetry MetricProducer of one channel's metrics (names in
    :mod:`lbchannel.metrics.otel`), read from ``channel.stats()`` when collected.

    Args:
        channel: an :class:`lbchannel.Channel` (or :class:`lbchannel.aio.Channel`).
            Once it is closed the producer produces nothing.
        target: the ``grpc.target`` attribute; default: the channel's target in A66's
            canonical form (``stats()["target"]``, with ``dns:///`` before a bare
            ``host:port``).
        endpoints: also produce the per-endpoint metrics (default True).
        resource: the resource of :meth:`produce`'s data, and of an attached
            reader's collection when the SDK itself has nothing to report (when it
            has, the producer's metrics join the MeterProvider's resource);
            default ``Resource.create()``.

    The channel-wide series start (``start_time_unix_nano``) when the producer
    is made — make it right after opening the channel — and an endpoint's when
    the producer first sees the endpoint.

    THREAD SAFETY: any thread, concurrently.
    """

    def __init__(self, channel: StatsSource, *, target: Optional[str] = None, endpoints: bool = True,
                 resource: Optional[Resource] = None) -> None:
        from .. import __version__

        self._channel = channel
        self._target = target
        self._endpoints = endpoints
        self._resource = resource if resource is not None else Resource.create()
        self._scope = InstrumentationScope("lbchannel", __version__)
        self._start_ns = time.time_ns()
        self._lock = threading.Lock()
        self._endpoint_start_ns: Dict[str, int] = {}
        self._readers: "weakref.WeakSet[MetricReader]" = weakref.WeakSet()

    # -- the MetricProducer interface --------------------------------------------------------

    def produce(self, timeout_millis: float = 10_000) -> MetricsData:
        """The channel's metrics now, as OpenTelemetry metric data (one resource, one
        scope, ``lbchannel``); empty once the channel is closed."""
        metrics = self.metrics()
        scopes = [ScopeMetrics(self._scope, metrics, "")] if metrics else []
        return MetricsData([ResourceMetrics(self._resource, scopes, self._resource.schema_url)])

    def metrics(self) -> List[Metric]:
        """The channel's metrics now (no resource or scope around them); [] once closed."""
        snap = read(self._channel, self._target)
        if snap is None:
            return []
        now = time.time_ns()
        out = [_sum("grpc.client.attempt.started", "Number of client call attempts started.", "{attempt}",
                    [NumberDataPoint({"grpc.method": m, "grpc.target": snap.target}, self._start_ns, now, n)
                     for m, n in snap.attempts_started]),
               self._histogram("grpc.client.attempt.duration",
                               "End-to-end time taken to complete a client call attempt.",
                               snap, snap.attempt_durations, now),
               self._histogram("grpc.client.call.duration",
                               "Time taken by the channel to complete a call, retries included.",
                               snap, snap.call_durations, now)]
        if self._endpoints:
            out += self._endpoint_metrics(snap, now)
        return [m for m in out if m.data.data_points]  # no empty metric before the first call

    # -- hooking a reader --------------------------------------------------------------------

    def attach(self, reader: MetricReader) -> None:
        """Add this producer's metrics to every collection of ``reader`` (its exports,
        ``get_metrics_data()``, scrapes), as ``metric_producers=[producer]`` would.

        ``reader`` must already belong to a MeterProvider (``MeterProvider(
        metric_readers=[reader])``). Several producers may be attached to one reader.
        A failing ``stats()`` (other than a closed channel) is logged on the
        "lbchannel" logger and leaves the rest of the collection intact.

        Raises:
            ValueError: ``reader`` is not registered with a MeterProvider yet, or this
                producer is already attached to it.
        """
        # opentelemetry-sdk calls reader._collect(reader, timeout_millis=...) for each
        # collection (set by the MeterProvider); it returns None when no SDK instrument
        # has data. This is the one place this module touches the SDK's internals.
        original: Optional[_Collect] = getattr(reader, "_collect", None)
        if original is None:
            raise ValueError("attach: register the reader with a MeterProvider first "
                             "(MeterProvider(metric_readers=[reader]))")
        with self._lock:
            if reader in self._readers:
                raise ValueError("attach: this producer is already attached to the reader")
            self._readers.add(reader)

        def collect(*args: Any, **kwargs: Any) -> Optional[MetricsData]:
            data = original(*args, **kwargs)
            try:
                ours = self.metrics()
            except Exception:  # a bug or a library error must not cost the other metrics
                _log.exception("lbchannel.metrics: reading the channel's stats failed")
                return data
            if not ours:
                return data
            scope = ScopeMetrics(self._scope, ours, "")
            if data is None or not data.resource_metrics:
                return MetricsData([ResourceMetrics(self._resource, [scope], self._resource.schema_url)])
            first = data.resource_metrics[0]
            merged = ResourceMetrics(first.resource, list(first.scope_metrics) + [scope], first.schema_url)
            return MetricsData([merged] + list(data.resource_metrics[1:]))

        setattr(reader, "_collect", collect)

    # -- shaping -----------------------------------------------------------------------------

    def _histogram(self, name: str, description: str, snap: Snapshot,
                   histograms: Sequence[DurationHistogram], now: int) -> Metric:
        points = [HistogramDataPoint(
            attributes={"grpc.method": h.method, "grpc.target": snap.target, "grpc.status": h.status},
            start_time_unix_nano=self._start_ns, time_unix_nano=now, count=h.count, sum=h.sum_seconds,
            bucket_counts=h.bucket_counts, explicit_bounds=snap.bounds_seconds, min=math.inf, max=-math.inf)
            for h in histograms]
        return Metric(name, description, "s", Histogram(points, _CUMULATIVE))

    def _endpoint_metrics(self, snap: Snapshot, now: int) -> List[Metric]:
        with self._lock:
            seen = {e.address: self._endpoint_start_ns.get(e.address, now) for e in snap.endpoints}
            self._endpoint_start_ns = seen  # forget removed endpoints: their counters restart if re-added
        in_flight, latency, ejected, state = [], [], [], []
        started, failed, connect, ejections = [], [], [], []
        for e in snap.endpoints:
            attrs = {"grpc.target": snap.target, "lbchannel.endpoint.address": e.address}
            start = seen[e.address]
            in_flight.append(NumberDataPoint(attrs, start, now, e.in_flight))
            latency.append(NumberDataPoint(attrs, start, now, e.latency_ewma_seconds))
            ejected.append(NumberDataPoint(attrs, start, now, 1 if e.ejected else 0))
            for s in ENDPOINT_STATES:
                state.append(NumberDataPoint({**attrs, "lbchannel.endpoint.state": s}, start, now,
                                             1 if e.state == s else 0))
            started.append(NumberDataPoint(attrs, start, now, e.calls_started))
            failed.append(NumberDataPoint(attrs, start, now, e.calls_failed))
            connect.append(NumberDataPoint(attrs, start, now, e.connect_failures))
            ejections.append(NumberDataPoint(attrs, start, now, e.ejections))
        return [
            Metric("lbchannel.endpoint.in_flight", "Calls on the endpoint now.", "{call}", Gauge(in_flight)),
            Metric("lbchannel.endpoint.latency_ewma",
                   "Moving average of the endpoint's call latency (0 before its first call).", "s", Gauge(latency)),
            Metric("lbchannel.endpoint.ejected", "1 while outlier detection ejects the endpoint, else 0.", "1",
                   Gauge(ejected)),
            Metric("lbchannel.endpoint.state", "1 for the endpoint's connection state, 0 for the others.", "1",
                   Gauge(state)),
            _sum("lbchannel.endpoint.calls.started", "Call attempts put on the endpoint.", "{call}", started),
            _sum("lbchannel.endpoint.calls.failed",
                 "Call attempts on the endpoint that ended with a status other than OK.", "{call}", failed),
            _sum("lbchannel.endpoint.connect.failures", "Failed connection attempts to the endpoint.",
                 "{connection}", connect),
            _sum("lbchannel.endpoint.ejections", "Times outlier detection ejected the endpoint.", "{ejection}",
                 ejections),
        ]


def _sum(name: str, description: str, unit: str, points: List[NumberDataPoint]) -> Metric:
    return Metric(name, description, unit, Sum(points, _CUMULATIVE, True))
