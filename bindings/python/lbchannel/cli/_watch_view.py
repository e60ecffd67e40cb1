"""The screen of ``lbchannel watch``: a table of endpoints and a scrolling log of discovery events."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

__all__ = ["render"]

_STATE_STYLE = {"READY": "green", "CONNECTING": "yellow", "IDLE": "dim", "TRANSIENT_FAILURE": "red"}


def render(stats: "Mapping[str, Any]", sent: "Mapping[str, int]", peers: "Counter[str]",
           log: "Sequence[str]", elapsed: float, method: str, rate: float) -> Any:
    """A rich renderable of one snapshot.

    ``sent``: status name -> calls the watch sent; ``peers``: endpoint -> calls
    it answered; ``log``: the newest event lines last.
    """
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    endpoints = list(stats.get("endpoints") or ())
    total_started = sum(int(e.get("calls_started") or 0) for e in endpoints) or 1
    title = "lbchannel watch  %s  policy %s  %.0f s  %s at %g/s" % (
        stats.get("target"), stats.get("policy"), elapsed, method, rate)
    table = Table(expand=False)
    for name in ("endpoint", "state", "health"):
        table.add_column(name)
    for name in ("calls", "share", "out", "ewma ms", "errors", "ejected", "answered"):
        table.add_column(name, justify="right")
    for e in endpoints:
        address = str(e.get("address"))
        state = str(e.get("state"))
        started = int(e.get("calls_started") or 0)
        ejected = "yes (%d)" % int(e.get("ejections") or 0) if e.get("ejected") else str(int(e.get("ejections") or 0))
        table.add_row(
            address,
            Text(state, style=_STATE_STYLE.get(state, "")),
            str(e.get("health") or "-"),
            str(started),
            "%.1f %%" % (100.0 * started / total_started),
            str(int(e.get("in_flight") or 0)),
            "%.2f" % (float(e.get("latency_ewma_us") or 0) / 1000.0),
            str(int(e.get("calls_failed") or 0) + int(e.get("connect_failures") or 0)),
            ejected,
            str(peers.get(address, 0)),
        )
    if not endpoints:
        table.add_row("(no endpoint yet)", "", "", "", "", "", "", "", "", "")
    discovery = stats.get("discovery") or {}
    summary = Text("sent: %s   discovery: %s, %s resolutions, %s errors, last %s, waiting calls %s" % (
        "  ".join("%s %d" % kv for kv in sorted(sent.items())) or "none",
        discovery.get("kind"), discovery.get("resolutions"), discovery.get("errors"),
        discovery.get("last_result"), stats.get("waiting_calls")))
    events = Text("\n".join(log) if log else "(none yet)")
    return Group(Text(title, style="bold"), table, summary,
                 Panel(events, title="discovery events", title_align="left"))
