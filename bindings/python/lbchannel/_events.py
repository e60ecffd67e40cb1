"""Completion queues and the sync channel's event thread.

:class:`CompletionQueue` owns an ``lbc_cq*`` and dispatches its events to the
calls (tags) registered on it; :class:`EventPump` is the event thread of a
sync :class:`lbchannel.Channel`.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _native
from ._call import _logger
from ._errors import _check
from ._grpc import Connectivity, connectivity


class CompletionQueue:
    """An ``lbc_cq*`` and the calls (tags) whose events it delivers."""

    BATCH = 128

    def __init__(self) -> None:
        cq = _native.lbc_cq_p()
        _check(_native.lbc_cq_new(ctypes.byref(cq)), "lbc_cq_new")
        self.handle: Any = cq
        self._events = (_native.lbc_event * self.BATCH)()
        # Reentrant: a call collected by the garbage collector while this
        # thread holds the lock unregisters itself from its __del__.
        self._lock = threading.RLock()
        self._targets: Dict[int, Any] = {}
        self._ids = itertools.count(1)

    def register(self, target: Any) -> int:
        """Give ``target`` a tag (an int, never 0) whose events this queue dispatches to it."""
        tag = next(self._ids)
        with self._lock:
            self._targets[tag] = target
        return tag

    def unregister(self, tag: int) -> Any:
        with self._lock:
            return self._targets.pop(tag, None)

    def lookup(self, tag: int) -> Any:
        with self._lock:
            return self._targets.get(tag)

    def targets(self) -> List[Tuple[int, Any]]:
        with self._lock:
            return list(self._targets.items())

    def poll(self, timeout_ms_value: int) -> List[Tuple[int, int, int, Any, int]]:
        """``lbc_cq_poll``: a list of ``(tag, kind, flags, response_ptr_or_None, state)``.

        The caller owns every response pointer (``lbc_response_free``).
        """
        handle = self.handle
        if handle is None:
            return []
        n: int = _native.lbc_cq_poll(handle, self._events, _native.LBC_EVENT_SIZE, self.BATCH, timeout_ms_value)
        if n < 0:
            _check(n, "lbc_cq_poll")
        out = []
        for i in range(n):
            ev = self._events[i]
            resp = ev.response if ev.response else None
            out.append((ev.tag or 0, ev.kind, ev.flags, resp, ev.state))
        return out

    def dispatch(self, tag: int, kind: int, flags: int, resp: Any) -> None:
        """Hand one call event to its target: a unary call's response to ``complete(resp)``,
        a streaming call's flags to ``on_event(flags)`` (its last: LBC_CALL_DONE). What a
        target raises is logged: it must not stop the thread dispatching."""
        try:
            if kind == _native.LBC_EVENT_UNARY:
                target = self.unregister(tag)
                if target is None:
                    _native.lbc_response_free(resp)
                else:
                    target.complete(resp)
            elif kind == _native.LBC_EVENT_CALL:
                target = self.unregister(tag) if flags & _native.LBC_CALL_DONE else self.lookup(tag)
                if target is not None:
                    target.on_event(flags)
        except Exception:
            _logger.exception("lbchannel: dispatching a call event failed")

    def free(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            _native.lbc_cq_free(handle)



class EventPump:
    """One daemon thread per sync channel polling its completion queue.

    It delivers what the library posts there: the results of ``future()``
    unary calls (LBC_EVENT_UNARY), the end of streaming calls (LBC_CALL_DONE:
    their status and ``add_callback`` callbacks) and the channel's
    connectivity changes (a watch on the channel: ``subscribe()``). The
    thread waits in ``lbc_cq_poll`` without a timeout: the watch's last event,
    posted while ``lbc_channel_close`` runs, wakes it at once; it then ends the
    futures still waiting, frees the queue and returns.

    Callbacks run on this thread: keep them short, and never wait there for
    another call's result.
    """

    def __init__(self, channel_handle: Any) -> None:
        self.queue = CompletionQueue()
        self._lock = threading.Lock()
        self._subscribers: Dict[Callable[[Connectivity], None], Optional[int]] = {}
        rc = _native.lbc_channel_watch_connectivity(channel_handle, self.queue.handle, None, 0, None)
        if rc != 0:
            self.queue.free()
            _check(rc, "lbc_channel_watch_connectivity")
        self._channel_handle = channel_handle
        self._thread = threading.Thread(target=self._run, name="lbchannel-events", daemon=True)
        self._thread.start()

    # -- connectivity ---------------------------------------------------------------

    def subscribe(self, callback: Callable[[Connectivity], None]) -> None:
        """Call ``callback(state)`` with the current state, then on every change (on this thread)."""
        with self._lock:
            self._subscribers[callback] = None
        # Wake the thread with the current state: a watch ended at once posts
        # one (last) event carrying the channel's state.
        kick = _native.lbc_connectivity_watch_p()
        tag = self.queue.register(_KICK)
        if _native.lbc_channel_watch_connectivity(self._channel_handle, self.queue.handle,
                                                  ctypes.c_void_p(tag), 0, ctypes.byref(kick)) == 0:
            _native.lbc_connectivity_watch_free(kick)
        else:  # closed meanwhile: the SHUTDOWN event reaches the new subscriber
            self.queue.unregister(tag)

    def unsubscribe(self, callback: Callable[[Connectivity], None]) -> None:
        with self._lock:
            self._subscribers.pop(callback, None)

    def _notify(self, state: int) -> None:
        with self._lock:
            due = [cb for cb, last in self._subscribers.items() if last != state]
            for cb in due:
                self._subscribers[cb] = state
        public = connectivity(_native.CONNECTIVITY_NAMES[state])
        for cb in due:
            try:
                cb(public)
            except Exception:  # a subscriber's bug must not stop the others: log it
                _logger.exception("lbchannel: exception in connectivity subscriber %r", cb)

    # -- the thread -----------------------------------------------------------------

    def _run(self) -> None:
        queue = self.queue
        running = True
        while running:
            try:
                events = queue.poll(-1)
            except Exception:  # pragma: no cover - a library bug: stop rather than spin
                _logger.exception("lbchannel: lbc_cq_poll failed")
                break
            for event in events:
                running = self._handle(*event) and running
            # No reference to a call may outlive its dispatch here: the thread
            # then waits in lbc_cq_poll, and a call kept alive would never be
            # collected (nor freed) while the channel is idle.
            events = event = None  # type: ignore[assignment]
        # The channel is closed: take what is left, end what still waits, free the queue.
        for event in queue.poll(0):
            self._handle(*event)
        for _tag, target in queue.targets():
            abort = getattr(target, "abort", None)
            if abort is not None:
                abort()
        queue.free()

    def _handle(self, tag: int, kind: int, flags: int, resp: Any, state: int = 0) -> bool:
        """Dispatch one event; False once the channel's watch has ended (the channel closed)."""
        if kind != _native.LBC_EVENT_CONNECTIVITY:
            self.queue.dispatch(tag, kind, flags, resp)
            return True
        if tag:
            self.queue.unregister(tag)  # a subscribe() kick
        self._notify(state)
        return not (tag == 0 and flags & _native.LBC_CONNECTIVITY_LAST)

    def close(self) -> None:
        """Wait for the thread to finish (the channel must be closed: that ends it)."""
        if self._thread is not threading.current_thread():
            self._thread.join(5)


#: The target of a subscribe() kick's tag.
_KICK = object()
