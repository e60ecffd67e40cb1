"""``lbchannel bench``: a load test in the manner of ghz.

``-c`` calls in flight, for ``-n`` calls or ``-z`` seconds, with a progress
bar on a terminal; then latency percentiles and histogram, calls/s, status
codes and the per-backend split (each call's peer). ``--format json`` prints
the same report as JSON. Exits 0 when the run completed (whatever the
calls' statuses: they are in the report).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from ._bench_report import render, summarize
from ._bench_run import LoadRun
from ._channel import open_channel
from ._errors import CliError
from ._lookup import method_schema
from ._parse import channel_options, duration, metadata, method_path, request_text

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``bench`` subcommand."""
    p = sub.add_parser("bench", parents=[common], help="load-test a unary method (like ghz)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("method", help="/package.Service/Method")
    p.add_argument("-c", "--concurrency", type=int, default=50, help="calls in flight (default 50)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("-n", "--total", type=int, help="number of calls (default 200 without -z)")
    group.add_argument("-z", "--duration", metavar="DURATION", help="run this long, e.g. 30s")
    p.add_argument("--engine", choices=("threads", "futures"), default="threads",
                   help="how calls are kept in flight: a thread per concurrent call making blocking calls "
                        "(default: the most calls/s from CPython), or async futures with no thread per call")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``bench``; return 0 once the report is printed."""
    path = method_path(args.method)
    md = metadata(args.header)
    timeout = duration(args.deadline) if args.deadline else 20.0
    seconds = duration(args.duration) if args.duration else None
    total = None if seconds is not None else (args.total if args.total is not None else 200)
    if args.concurrency < 1 or (total is not None and total < 1) or (seconds is not None and seconds <= 0):
        raise CliError("-c, -n and -z must be positive")
    channel = open_channel(args.target, channel_options(args.option))
    try:
        schema = method_schema(channel, path, args.proto, args.import_path, timeout, md)
        schema.require_unary("bench")
        payload = schema.encode(request_text(args.data))
        load = LoadRun(channel, path, payload, md, timeout, args.concurrency, total=total, seconds=seconds)
        show = args.format == "text" and not args.no_progress and out.isatty()
        _drive(load, total, seconds, show, args.engine)
        elapsed = (load.ended_at or time.monotonic()) - load.started_at
        report = summarize(load.samples(), elapsed, target=args.target, method=path,
                           concurrency=args.concurrency)
    finally:
        channel.close()
    if args.format == "json":
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console(file=out, highlight=False, width=None if out.isatty() else 132)
        for part in render(report):
            console.print(part)
    out.flush()
    return 0


def _drive(load: LoadRun, total: "int | None", seconds: "float | None", show: bool, engine: str) -> None:
    """Run ``load`` to its end, with a progress bar when ``show``; Ctrl-C stops it early."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]bench"), BarColumn(), TextColumn("{task.fields[calls]} calls"),
                        TimeElapsedColumn(), disable=not show, transient=True)
    with progress:
        # The bar measures calls with -n and time with -z.
        task = progress.add_task("bench", total=float(total) if total is not None else seconds, calls=0)
        load.start(engine)
        try:
            while not load.wait(0.1):
                done = load.finished()
                elapsed = time.monotonic() - load.started_at
                progress.update(task, calls=done,
                                completed=done if total is not None else min(seconds or 0.0, elapsed))
        except KeyboardInterrupt:
            load.stop()
            load.wait(30.0)
