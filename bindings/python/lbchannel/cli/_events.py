"""Discovery events from two consecutive stats snapshots (``Channel.stats()``).

A pure function of two snapshots, so it is tested without a channel: an
endpoint added or removed, a state, health or ejection change, and the
discovery counters (a failed lookup, an empty answer).
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["diff"]


def _by_address(stats: "Mapping[str, Any] | None") -> "dict[str, Mapping[str, Any]]":
    if not stats:
        return {}
    return {str(e.get("address")): e for e in stats.get("endpoints") or ()}


def _counter(stats: "Mapping[str, Any] | None", key: str) -> int:
    discovery = (stats or {}).get("discovery") or {}
    value = discovery.get(key) or 0
    return int(value)


def diff(before: "Mapping[str, Any] | None", after: "Mapping[str, Any]") -> "list[str]":
    """The events between snapshot ``before`` (None at the start) and ``after``, as log lines.

    >>> diff(None, {"endpoints": [{"address": "10.0.0.1:50051", "state": "CONNECTING"}]})
    ['endpoint added 10.0.0.1:50051 (CONNECTING)']
    """
    events: "list[str]" = []
    old, new = _by_address(before), _by_address(after)
    for address, e in new.items():
        o = old.get(address)
        if o is None:
            events.append("endpoint added %s (%s)" % (address, e.get("state")))
            continue
        if o.get("state") != e.get("state"):
            error = e.get("last_error")
            events.append("%s %s -> %s%s" % (address, o.get("state"), e.get("state"),
                                              ": %s" % error if error and e.get("state") == "TRANSIENT_FAILURE" else ""))
        if o.get("health") != e.get("health") and e.get("health") is not None:
            events.append("%s health %s" % (address, e.get("health")))
        if bool(o.get("ejected")) != bool(e.get("ejected")):
            events.append("%s %s" % (address, "ejected (outlier)" if e.get("ejected") else "back from ejection"))
    for address in old:
        if address not in new:
            events.append("endpoint removed %s" % address)
    if before is not None:
        discovery = after.get("discovery") or {}
        if _counter(after, "errors") > _counter(before, "errors"):
            events.append("lookup failed: %s (keeping the last endpoints)" % (discovery.get("last_error") or "error"))
        if _counter(after, "empty_answers") > _counter(before, "empty_answers"):
            events.append("lookup answered no address (empty_answer policy applies)")
    return events
