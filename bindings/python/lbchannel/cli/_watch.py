"""``lbchannel watch``: a live view of the channel while it sends calls at a steady rate.

Every endpoint with its state, share of calls, outstanding calls, latency
EWMA, errors and ejections (from ``Channel.stats()``), and a scrolling log of
discovery events (endpoints added and removed, state changes, failed
lookups: differences between consecutive snapshots). Calls go to
``grpc.health.v1.Health/Check`` unless ``--method`` says otherwise; without
``-d`` the request is the empty message, which needs no message types.
On a terminal the view updates in place; otherwise (or with ``--once``) it
is printed once at the end. ``--duration`` ends it after that long.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter, deque
from typing import Any, TextIO

from ._channel import ChannelLike, Metadata, error_status, open_channel, status_name
from ._errors import CliError
from ._events import diff
from ._lookup import method_schema
from ._parse import channel_options, duration, metadata, method_path, request_text
from ._watch_view import render

__all__ = ["add_parser", "run"]

DEFAULT_METHOD = "/grpc.health.v1.Health/Check"
_LOG_LINES = 12


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``watch`` subcommand."""
    p = sub.add_parser("watch", parents=[common], help="live view of the channel's endpoints and discovery",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--method", default=DEFAULT_METHOD, help="method to call (default %(default)s)")
    p.add_argument("--rate", type=float, default=10.0, help="calls per second (default 10; 0: none)")
    p.add_argument("--refresh", type=float, default=0.25, help="seconds between snapshots (default 0.25)")
    p.add_argument("--duration", metavar="DURATION", help="stop after this long (e.g. 30s); default: until Ctrl-C")
    p.add_argument("--once", action="store_true", help="print one snapshot (after --duration, default 1s) and exit")
    p.set_defaults(run=run)


class _Sender:
    """Starts one call every ``1/rate`` s on its own thread; tallies statuses and peers."""

    def __init__(self, channel: ChannelLike, path: str, payload: bytes, md: Metadata,
                 timeout: float, rate: float) -> None:
        self._unary = channel.unary_unary(path)
        self._payload, self._md, self._timeout, self._rate = payload, list(md) or None, timeout, rate
        self._lock = threading.Lock()
        self.sent: "Counter[str]" = Counter()
        self.peers: "Counter[str]" = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lbchannel-watch-sender", daemon=True)

    def start(self) -> None:
        if self._rate > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def snapshot(self) -> "tuple[dict[str, int], Counter[str]]":
        with self._lock:
            return dict(self.sent), Counter(self.peers)

    def _run(self) -> None:
        interval = 1.0 / self._rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                future = self._unary.future(self._payload, timeout=self._timeout, metadata=self._md)
            except Exception:  # the channel closed: the watch is ending
                return
            future.add_done_callback(self._done)
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _done(self, future: Any) -> None:
        exc = future.exception(0)
        if exc is None:
            code, peer = 0, str(future.peer() or "")
        else:
            code, _, peer = error_status(exc)
        with self._lock:
            self.sent[status_name(code)] += 1
            if peer and code == 0:
                self.peers[peer] += 1


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``watch``; return 0 when it ends (time up, or Ctrl-C)."""
    from rich.console import Console
    from rich.live import Live

    path = method_path(args.method)
    md = metadata(args.header)
    timeout = duration(args.deadline) if args.deadline else 2.0
    limit = duration(args.duration) if args.duration else (1.0 if args.once else None)
    if args.rate < 0 or args.refresh <= 0:
        raise CliError("--rate must be >= 0 and --refresh > 0")
    channel = open_channel(args.target, channel_options(args.option))
    try:
        if args.data is None and not args.proto:
            payload = b""  # the empty message: every field at its default
        else:
            schema = method_schema(channel, path, args.proto, args.import_path, timeout, md)
            schema.require_unary("watch")
            payload = schema.encode(request_text(args.data))
        sender = _Sender(channel, path, payload, md, timeout, args.rate)
        log: "deque[str]" = deque(maxlen=_LOG_LINES)
        live_view = out.isatty() and not args.once
        console = Console(file=out, highlight=False, width=None if out.isatty() else 132)
        started = time.monotonic()
        previous: "dict[str, Any] | None" = None

        def snapshot() -> Any:
            nonlocal previous
            stats = channel.stats()
            stamp = time.strftime("%H:%M:%S")
            for line in diff(previous, stats):
                log.append("%s  %s" % (stamp, line))
            previous = stats
            sent, peers = sender.snapshot()
            return render(stats, sent, peers, list(log), time.monotonic() - started, path, args.rate)

        sender.start()
        try:
            if live_view:
                with Live(snapshot(), console=console, refresh_per_second=max(1.0, 1.0 / args.refresh),
                          transient=False) as live:
                    while limit is None or time.monotonic() - started < limit:
                        time.sleep(args.refresh)
                        live.update(snapshot())
            else:
                while limit is None or time.monotonic() - started < limit:
                    time.sleep(args.refresh)
                    snapshot()
                console.print(snapshot())
        except KeyboardInterrupt:
            if not live_view:
                console.print(snapshot())
        finally:
            sender.stop()
    finally:
        channel.close()
    out.flush()
    return 0
