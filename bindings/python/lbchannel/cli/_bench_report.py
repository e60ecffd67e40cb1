"""The summary of a ``lbchannel bench`` run: percentiles, histogram, status codes, per-backend split.

:func:`summarize` makes a plain dict (what ``--format json`` prints);
:func:`render` turns it into rich renderables for the terminal.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

from ._bench_run import Sample
from ._channel import status_name

__all__ = ["summarize", "render"]

_PERCENTILES = (50, 90, 95, 99)
_BUCKETS = 10


def _percentile(sorted_values: "Sequence[float]", p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _histogram(sorted_ms: "Sequence[float]") -> "list[dict[str, float]]":
    """``_BUCKETS`` equal-width buckets from the fastest to the slowest call (ghz's layout)."""
    if not sorted_ms:
        return []
    low, high = sorted_ms[0], sorted_ms[-1]
    width = (high - low) / _BUCKETS or 1.0
    counts = [0] * _BUCKETS
    for v in sorted_ms:
        counts[min(_BUCKETS - 1, int((v - low) / width))] += 1
    return [{"le_ms": round(low + width * (i + 1), 3), "count": n} for i, n in enumerate(counts)]


def summarize(samples: "Sequence[Sample]", elapsed: float, *, target: str, method: str,
              concurrency: int) -> "dict[str, Any]":
    """The report of a run as a JSON-ready dict.

    Keys: ``target``, ``method``, ``concurrency``, ``calls``, ``duration_s``,
    ``calls_per_s``, ``latency_ms`` (``min``, ``mean``, ``p50``, ``p90``,
    ``p95``, ``p99``, ``max``), ``histogram`` (``le_ms``, ``count``),
    ``status`` (name -> count), ``backends`` (peer -> calls; ``"-"`` for
    calls no endpoint took) and ``errors`` (``"CODE: details"`` -> count).
    """
    ms = sorted(s.latency * 1000.0 for s in samples)
    latency: "dict[str, float]" = {
        "min": round(ms[0], 3) if ms else 0.0,
        "mean": round(sum(ms) / len(ms), 3) if ms else 0.0,
    }
    for p in _PERCENTILES:
        latency["p%d" % p] = round(_percentile(ms, p), 3)
    latency["max"] = round(ms[-1], 3) if ms else 0.0
    status = Counter(status_name(s.code) for s in samples)
    backends = Counter(s.peer or "-" for s in samples)
    errors = Counter("%s: %s" % (status_name(s.code), s.details) for s in samples if s.code != 0)
    return {
        "target": target,
        "method": method,
        "concurrency": concurrency,
        "calls": len(samples),
        "duration_s": round(elapsed, 3),
        "calls_per_s": round(len(samples) / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": latency,
        "histogram": _histogram(ms),
        "status": dict(status.most_common()),
        "backends": dict(sorted(backends.items())),
        "errors": dict(errors.most_common(10)),
    }


def render(report: "dict[str, Any]") -> "list[Any]":
    """Rich renderables of ``report``: summary, latency histogram, status codes, backends."""
    from rich.table import Table
    from rich.text import Text

    calls = report["calls"] or 1
    head = Text.assemble(
        ("Summary\n", "bold"),
        "  target       %s\n  method       %s\n" % (report["target"], report["method"]),
        "  calls        %d in %.2f s, concurrency %d\n" % (report["calls"], report["duration_s"],
                                                            report["concurrency"]),
        "  calls/s      %.1f\n" % report["calls_per_s"],
    )
    lat = report["latency_ms"]
    head.append("  latency ms   " + "  ".join("%s %.2f" % (k, lat[k]) for k in ("min", "mean", "max")) + "\n")
    head.append("  percentiles  " + "  ".join("p%d %.2f" % (p, lat["p%d" % p]) for p in _PERCENTILES) + "\n")

    hist = Table(title="Latency histogram (ms)", title_justify="left", box=None, pad_edge=False)
    hist.add_column("<= ms", justify="right")
    hist.add_column("calls", justify="right")
    hist.add_column("")
    top = max((b["count"] for b in report["histogram"]), default=1) or 1
    for b in report["histogram"]:
        hist.add_row("%.3f" % b["le_ms"], str(b["count"]), "■" * int(round(40 * b["count"] / top)))

    status = Table(title="Status codes", title_justify="left", box=None, pad_edge=False)
    status.add_column("code")
    status.add_column("calls", justify="right")
    status.add_column("share", justify="right")
    for name, n in report["status"].items():
        status.add_row(name, str(n), "%.1f %%" % (100.0 * n / calls))

    backends = Table(title="Backends", title_justify="left", box=None, pad_edge=False)
    backends.add_column("peer")
    backends.add_column("calls", justify="right")
    backends.add_column("share", justify="right")
    for peer, n in report["backends"].items():
        backends.add_row(peer, str(n), "%.1f %%" % (100.0 * n / calls))

    out: "list[Any]" = [head, hist, Text(""), status, Text(""), backends]
    if report["errors"]:
        errors = Table(title="Errors", title_justify="left", box=None, pad_edge=False)
        errors.add_column("error")
        errors.add_column("calls", justify="right")
        for text, n in report["errors"].items():
            errors.add_row(text, str(n))
        out += [Text(""), errors]
    return out
