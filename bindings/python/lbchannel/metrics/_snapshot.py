"""The figures both exporters publish, read from one ``Channel.stats()`` snapshot.

Pure Python, no dependency: :func:`read` turns the ``"metrics"`` and
``"endpoints"`` parts of the stats JSON (see ``lbc_channel_stats_json`` in
``include/lbchannel.h``) into the A66 vocabulary — method names without the
leading ``/``, durations in seconds — that :mod:`lbchannel.metrics.otel` and
:mod:`lbchannel.metrics.prometheus` then shape for their libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

from .._errors import ClosedError

#: The connection states an endpoint can be in (``endpoints[].state``).
ENDPOINT_STATES: Tuple[str, ...] = ("IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE")


class StatsSource(Protocol):
    """Anything with the channel's ``stats()``: :class:`lbchannel.Channel` or
    :class:`lbchannel.aio.Channel`."""

    def stats(self) -> Dict[str, Any]: ...


@dataclass(frozen=True)
class DurationHistogram:
    """One cumulative latency histogram of a (method, status) pair."""

    method: str  #: A66's grpc.method: the path without its leading "/", or "other"
    status: str  #: grpc.status: "OK", "UNAVAILABLE", ...
    count: int
    sum_seconds: float
    bucket_counts: Tuple[int, ...]  #: per bucket, not cumulated; one more than the bounds (+Inf)


@dataclass(frozen=True)
class EndpointFigures:
    """The per-endpoint figures of the snapshot (``stats()["endpoints"][i]``)."""

    address: str
    state: str  #: one of :data:`ENDPOINT_STATES`
    in_flight: int
    calls_started: int
    calls_failed: int
    connect_failures: int
    latency_ewma_seconds: float
    ejected: bool
    ejections: int


@dataclass(frozen=True)
class Snapshot:
    """Everything exported, from one stats snapshot."""

    target: str  #: grpc.target
    bounds_seconds: Tuple[float, ...]  #: the histograms' inclusive upper bounds (without +Inf)
    attempts_started: Tuple[Tuple[str, int], ...]  #: (grpc.method, count)
    attempt_durations: Tuple[DurationHistogram, ...]
    call_durations: Tuple[DurationHistogram, ...]
    endpoints: Tuple[EndpointFigures, ...]


def a66_method(path: str) -> str:
    """A66's grpc.method for a method as called: ``"/pkg.Svc/M"`` -> ``"pkg.Svc/M"``;
    ``"other"`` (the library's bucket beyond ``max_methods``) stays as it is."""
    return path[1:] if path.startswith("/") else path


def a66_target(stats: Mapping[str, Any]) -> str:
    """A66's grpc.target: the channel's target with its scheme, as gRPC canonicalizes it
    (``"svc.internal:50051"``, resolved by DNS, is ``"dns:///svc.internal:50051"``)."""
    target = str(stats.get("target", ""))
    kind = (stats.get("discovery") or {}).get("kind")
    if kind == "dns" and not target.startswith("dns:"):
        return "dns:///" + target
    return target


def _histograms(method: str, by_status: Mapping[str, Any], width: int) -> List[DurationHistogram]:
    out: List[DurationHistogram] = []
    for status, h in by_status.items():
        buckets = tuple(int(c) for c in h["buckets"])
        if len(buckets) != width:
            raise ValueError("stats: %s %s has %d buckets, expected %d" % (method, status, len(buckets), width))
        out.append(DurationHistogram(method, status, int(h["count"]), int(h["sum_us"]) / 1e6, buckets))
    return out


def parse(stats: Mapping[str, Any], target: Optional[str] = None) -> Snapshot:
    """The :class:`Snapshot` of a ``stats()`` dict; ``target``, when given, is grpc.target
    instead of :func:`a66_target`."""
    metrics = stats.get("metrics") or {}
    bounds = tuple(int(b) / 1e6 for b in metrics.get("latency_bounds_us", ()))
    started: List[Tuple[str, int]] = []
    attempts: List[DurationHistogram] = []
    calls: List[DurationHistogram] = []
    for entry in metrics.get("methods", ()):
        method = a66_method(str(entry["method"]))
        started.append((method, int(entry["attempts_started"])))
        attempts += _histograms(method, entry.get("attempts") or {}, len(bounds) + 1)
        calls += _histograms(method, entry.get("calls") or {}, len(bounds) + 1)
    endpoints = tuple(
        EndpointFigures(
            address=str(e["address"]), state=str(e["state"]), in_flight=int(e["in_flight"]),
            calls_started=int(e["calls_started"]), calls_failed=int(e["calls_failed"]),
            connect_failures=int(e.get("connect_failures", 0)),
            latency_ewma_seconds=int(e.get("latency_ewma_us", 0)) / 1e6,
            ejected=bool(e.get("ejected", False)), ejections=int(e.get("ejections", 0)))
        for e in stats.get("endpoints", ()))
    return Snapshot(target if target is not None else a66_target(stats), bounds, tuple(started),
                    tuple(attempts), tuple(calls), endpoints)


def read(channel: StatsSource, target: Optional[str] = None) -> Optional[Snapshot]:
    """The :class:`Snapshot` of ``channel`` now, or None once it is closed (a closed
    channel's series end; they are not an error of the collection)."""
    try:
        stats = channel.stats()
    except ClosedError:
        return None
    return parse(stats, target)
