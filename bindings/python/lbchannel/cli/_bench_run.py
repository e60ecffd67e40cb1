"""The load generator of ``lbchannel bench``: ``concurrency`` unary calls in flight until a count or a time is reached.

Two engines: ``threads`` (the default: one thread per concurrent call,
each making blocking ``lbc_unary`` calls, which release the GIL) and
``futures`` (``lbc_unary_async``: no thread per call; each completion, on
the channel's event thread, records the sample and starts the next call).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ._channel import ChannelLike, Metadata, error_status, rpc_error_types

__all__ = ["Sample", "LoadRun"]


@dataclass(frozen=True)
class Sample:
    """One finished call: its latency in seconds, gRPC status code, serving endpoint and error text."""

    latency: float
    code: int
    peer: str
    details: str = ""


@dataclass
class _Counters:
    started: int = 0
    in_flight: int = 0
    samples: "list[Sample]" = field(default_factory=list)


class LoadRun:
    """Closed-loop load: ``concurrency`` calls of ``path`` in flight, ``total`` calls or for ``seconds``.

    Two engines (see :meth:`start`); threads make more calls per second from
    CPython than futures on this machine (measured in bindings' README).

    Example::

        run = LoadRun(channel, "/pkg.Svc/M", payload, [], 5.0, concurrency=64, total=10000)
        run.start()
        while not run.wait(0.1):
            print(run.finished())
        samples = run.samples()
    """

    def __init__(self, channel: ChannelLike, path: str, payload: bytes, metadata: Metadata,
                 timeout: "float | None", concurrency: int, total: "int | None" = None,
                 seconds: "float | None" = None) -> None:
        if (total is None) == (seconds is None):
            raise ValueError("give either total or seconds")
        self._channel = channel
        self._path = path
        self._unary = channel.unary_unary(path)
        self._payload = payload
        self._metadata = list(metadata) or None
        self._timeout = timeout
        self._concurrency = max(1, concurrency)
        self._total = total
        self._seconds = seconds
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._done = threading.Event()
        self._stopping = False
        self._local = threading.local()
        self._deadline = 0.0
        self.started_at = 0.0
        self.ended_at = 0.0
        self._rpc_error, _ = rpc_error_types()

    # -- control -----------------------------------------------------------------

    def start(self, engine: str = "threads") -> None:
        """Start the load: ``"threads"``, ``concurrency`` threads each making blocking
        calls (they release the GIL while the library works), or ``"futures"``,
        ``concurrency`` calls kept in flight by completion callbacks on the
        channel's event thread (no thread per call)."""
        self.started_at = time.monotonic()
        self._deadline = self.started_at + (self._seconds or 0.0)
        if engine == "futures":
            self._refill()
        else:
            for i in range(self._concurrency):
                threading.Thread(target=self._worker, name="lbchannel-bench-%d" % i, daemon=True).start()
        self._check_done()

    def _worker(self) -> None:
        """One thread of the ``threads`` engine: claim a call, make it, record it, until the budget is spent."""
        while self._claim():
            t0 = time.monotonic()
            try:
                _, call = self._channel.unary_with_call(self._path, self._payload, timeout=self._timeout,
                                                        metadata=self._metadata)
                sample = Sample(time.monotonic() - t0, 0, str(call.peer() or ""))
            except self._rpc_error as exc:
                code, details, peer = error_status(exc)
                sample = Sample(time.monotonic() - t0, code, peer, details)
            except Exception as exc:  # e.g. the channel closed under us
                sample = Sample(time.monotonic() - t0, 2, "", str(exc))
            self._record(sample)
        self._check_done()

    def stop(self) -> None:
        """Start no more calls (the ones in flight still finish)."""
        with self._lock:
            self._stopping = True
        self._check_done()

    def wait(self, timeout: float) -> bool:
        """True once every call has finished (waits up to ``timeout`` s)."""
        self._check_done()
        return self._done.wait(timeout)

    def finished(self) -> int:
        """Calls finished so far."""
        with self._lock:
            return len(self._counters.samples)

    def samples(self) -> "list[Sample]":
        """A copy of the samples so far."""
        with self._lock:
            return list(self._counters.samples)

    # -- machinery -------------------------------------------------------------------

    def _claim(self) -> bool:
        """Reserve a slot for one more call, if the budget and the concurrency allow."""
        with self._lock:
            c = self._counters
            if self._stopping or c.in_flight >= self._concurrency:
                return False
            if self._total is not None and c.started >= self._total:
                return False
            if self._seconds is not None and time.monotonic() >= self._deadline:
                return False
            c.started += 1
            c.in_flight += 1
            return True

    def _refill(self) -> None:
        # A completion delivered at once (on this thread, inside _start) must
        # not recurse: the loop below sees the slot it freed.
        if getattr(self._local, "active", False):
            return
        self._local.active = True
        try:
            while self._claim():
                self._start()
        finally:
            self._local.active = False

    def _start(self) -> None:
        t0 = time.monotonic()
        try:
            future = self._unary.future(self._payload, timeout=self._timeout, metadata=self._metadata)
        except Exception as exc:  # e.g. the channel closed under us
            self._record(Sample(time.monotonic() - t0, 2, "", str(exc)))
            return
        def done(f: Any) -> None:
            self._finished(f, t0)

        future.add_done_callback(done)

    def _finished(self, future: Any, t0: float) -> None:
        latency = time.monotonic() - t0
        exc = future.exception(0)
        if exc is None:
            sample = Sample(latency, 0, str(future.peer() or ""))
        else:
            code, details, peer = error_status(exc)
            sample = Sample(latency, code, peer, details)
        self._record(sample)
        self._refill()
        self._check_done()

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self._counters.samples.append(sample)
            self._counters.in_flight -= 1
            self.ended_at = time.monotonic()

    def _check_done(self) -> None:
        with self._lock:
            c = self._counters
            exhausted = (self._stopping
                         or (self._total is not None and c.started >= self._total)
                         or (self._seconds is not None and time.monotonic() >= self._deadline))
            if c.in_flight == 0 and exhausted:
                self._done.set()
