"""Ownership of native streaming calls (``lbc_call*``) and completion queues (``lbc_cq*``).

:class:`NativeCall` is the one place that touches an ``lbc_call*``. It

* guards the handle: every operation holds a use count, and :meth:`free`
  cancels the call (so operations blocked on other threads return), waits
  for the count to drop to zero and only then calls ``lbc_call_free`` — a
  call is never freed under another thread's feet;
* never runs the same C function concurrently on one call (the header
  forbids two senders, two receivers, ...): one lock per function;
* splits blocking waits into slices of at most :data:`SLICE_MS`, so Ctrl-C
  and :meth:`free` interrupt a blocked thread quickly (CDLL releases the GIL
  during every slice);
* caches what the header says lives only as long as the call (headers,
  status, trailers, peer), so the Python objects stay usable after the
  native call is freed.

The completion queue and the sync channel's event thread are in :mod:`._events`.
"""

from __future__ import annotations

import ctypes
import enum
import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Type, TypeVar, Union

from . import _metadata, _native
from ._grpc import MetadataTuple
from ._status import (LOCALLY_CANCELLED, NO_RESPONSE, REQUEST_SERIALIZATION_FAILED, RESPONSE_DESERIALIZATION_FAILED,
                      Call, RpcError, StatusCode)
from ._errors import (CallFinishedError, ErrorCode, MessageTooLargeError, SendClosedError, WouldBlockError, _check,
                      _decode, error_for)

if TYPE_CHECKING:
    from ._events import CompletionQueue


_T = TypeVar("_T")
E = TypeVar("E", bound=RpcError)
#: A message to send: bytes-like.
Buffer = Union[bytes, bytearray, memoryview]
#: A status: ``(code, details, trailers)``.
Status = Tuple[int, str, MetadataTuple]

_logger = logging.getLogger("lbchannel")

#: Longest single blocking wait inside the library, in milliseconds.
SLICE_MS = 100

class NotYet(enum.Enum):
    """"Not yet": what an attempt of :func:`_in_slices` (or of lbchannel.aio's
    ``_CallCore.until``) returns to be tried again."""

    NOT_YET = 0


NOT_YET = NotYet.NOT_YET


def _in_slices(attempt: Callable[[int], Union[_T, NotYet]], timeout: Optional[float], what: str, function: str) -> _T:
    """Call ``attempt(step_ms)`` in slices of at most SLICE_MS (so Ctrl-C gets through)
    until it returns something other than ``NOT_YET``; WouldBlockError(``what``) once
    ``timeout`` seconds (None: no limit) have passed."""
    end_at = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        step = SLICE_MS if end_at is None else max(0, min(SLICE_MS, int((end_at - time.monotonic()) * 1000)))
        result = attempt(step)
        if result is not NOT_YET:
            return result
        if end_at is not None and time.monotonic() >= end_at:
            raise WouldBlockError(ErrorCode.WOULD_BLOCK, what, function)

#: recv() outcomes.
MSG, END, AGAIN = "msg", "end", "again"

_INT64_MAX = (1 << 63) - 1


def request_bytes(request: Optional[Buffer]) -> bytes:
    """A bytes-level message (None: empty) as the bytes object the C API is given."""
    if request is None:
        return b""
    if isinstance(request, bytes):
        return request
    if isinstance(request, (bytearray, memoryview)):
        return bytes(request)
    raise TypeError("a message must be bytes-like, not %s" % type(request).__name__)


def remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left before ``deadline`` (a ``time.monotonic()`` time): ``time_remaining()``
    of every call object."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (None = no deadline) → milliseconds for the C API (< 0 = none)."""
    if timeout is None:
        return -1
    timeout = float(timeout)
    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds, not NaN")
    if math.isinf(timeout):
        return -1 if timeout > 0 else 0
    if timeout <= 0:
        return 0
    return min(_INT64_MAX, int(math.ceil(timeout * 1000.0)))


def run_callback(fn: Callable[..., Any], *args: Any) -> None:
    """Run a user callback; log (never propagate) what it raises."""
    try:
        fn(*args)
    except Exception:  # a user's bug must not break the call or the other callbacks
        _logger.exception("lbchannel: exception in call callback %r", fn)


def _attempt_peers(count: Callable[[Any], int], peer: Callable[[Any, int], Optional[bytes]],
                   handle: Any) -> Tuple[str, ...]:
    """The endpoint of every attempt of a call, in order (the last served the result):
    ``lbc_response_attempts``/``lbc_response_attempt_peer`` or the ``lbc_call_*`` pair."""
    return tuple(_decode(peer(handle, i)) for i in range(count(handle)))


def call_from_response(resp: Any) -> Call:
    """The finished :class:`Call` of an ``lbc_response*`` (freed here)."""
    try:
        status = _native.lbc_response_status(resp)
        details = _decode(_native.lbc_response_message(resp))
        length = ctypes.c_size_t(0)
        data_p = _native.lbc_response_data(resp, ctypes.byref(length))
        data = ctypes.string_at(data_p, length.value) if data_p and length.value else b""
        initial = _metadata.read(_native.lbc_response_headers(resp))
        trailing = _metadata.read(_native.lbc_response_trailers(resp))
        peer = _decode(_native.lbc_response_peer(resp))
        attempt_peers = _attempt_peers(_native.lbc_response_attempts, _native.lbc_response_attempt_peer, resp)
    finally:
        _native.lbc_response_free(resp)
    call = Call(status, details, initial, trailing, peer, data)
    call._attempt_peers = attempt_peers
    return call


class NativeCall:
    """One ``lbc_call*`` with guarded access and a cached outcome.

    Create it unstarted, register it with a queue (so its tag is known
    before the call can produce events), then start it (``Channel._start_call``).
    """

    def __init__(self, timeout: Optional[float] = None) -> None:
        self._handle: Any = None
        self._cond = threading.Condition(threading.Lock())
        self._busy = 0
        self._freeing = False
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self._headers_lock = threading.Lock()
        self._finish_lock = threading.Lock()
        self.deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        #: Final status: None until known, then ``(code, details, trailers)``.
        self.outcome: Optional[Status] = None
        #: A status set by the binding itself (request iterator failed, ...),
        #: reported instead of the library's: ``(code, details)`` or None.
        self.local_status: Optional[Tuple[int, str]] = None
        #: The exception behind ``local_status`` (request iterator's, serializer's).
        self.local_error: Optional[BaseException] = None
        self.initial: Optional[MetadataTuple] = None
        self._peer = ""
        self._attempt_peers: Tuple[str, ...] = ()
        #: recv() returned LBC_END: every message has been taken.
        self.drained = False
        self.cancelled = False
        self._callbacks: List[Callable[[], None]] = []
        self._callbacks_fired = False
        #: Set by the queue that delivers this call's events (tag), if any.
        self.tag: Optional[int] = None
        self.queue: Optional[CompletionQueue] = None
        self._done_event_pending = False

    # -- lifetime -----------------------------------------------------------------

    def started(self, handle: Any) -> None:
        """``lbc_call_start`` gave ``handle`` (the call's events may have come already)."""
        with self._cond:
            self._handle = handle
            pending, self._done_event_pending = self._done_event_pending, False
        if pending:
            self.on_event()

    @property
    def alive(self) -> bool:
        """True while the native call has not been freed."""
        return self._handle is not None

    def _enter(self) -> Any:
        with self._cond:
            if self._handle is None or self._freeing:
                return None
            self._busy += 1
            return self._handle

    def _leave(self) -> None:
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    def _using(self, fn: Callable[[Any], _T], default: _T) -> _T:
        """``fn(handle)`` holding a use of the native call; ``default`` once it is freed.
        (The per-message send and recv inline this.)"""
        handle = self._enter()
        if handle is None:
            return default
        try:
            return fn(handle)
        finally:
            self._leave()

    def free(self) -> None:
        """Cancel (if still running) and release the native call. Idempotent, any thread."""
        with self._cond:
            handle = self._handle
            if handle is None or self._freeing:
                return
            self._freeing = True
        try:
            if self.outcome is None:
                _native.lbc_call_cancel(handle)
                # Take the final status (CANCELLED, or what it ended with) before it is gone.
                with self._finish_lock:
                    if self.outcome is None:
                        self._finish_raw(handle, 0)
            peer = _native.lbc_call_peer(handle)
            if peer:
                self._peer = _decode(peer)
            self._attempt_peers = _attempt_peers(_native.lbc_call_attempts, _native.lbc_call_attempt_peer, handle)
            if self.initial is None and self._headers_lock.acquire(blocking=False):
                try:  # keep the headers if they arrived; never wait for them here
                    out = _native.lbc_metadata_p()
                    if self.initial is None and _native.lbc_call_headers(handle, 0, ctypes.byref(out)) == 0:
                        self.initial = _metadata.read(out)
                finally:
                    self._headers_lock.release()
        finally:
            with self._cond:
                while self._busy:
                    self._cond.wait()
                self._handle = None
            if self.queue is not None and self.tag is not None:
                self.queue.unregister(self.tag)
            _native.lbc_call_free(handle)
        if self.outcome is None:
            self.outcome = (StatusCode.CANCELLED, LOCALLY_CANCELLED, ())
        self.fire_callbacks()

    # -- outcome ------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the final status is known (or set locally)."""
        return self.outcome is not None or self.local_status is not None

    def status(self) -> Optional[Status]:
        """``(code, details, trailers)`` once known (local status wins), else None."""
        if self.local_status is not None:
            code, details = self.local_status
            trailers = self.outcome[2] if self.outcome is not None else ()
            return code, details, trailers
        return self.outcome

    def fail_locally(self, code: int, details: str, error: Optional[BaseException] = None) -> bool:
        """End the call with a status of the binding's own (e.g. the request
        iterator raised): the server sees a cancellation. No effect on a call
        whose status is already known."""
        if self.outcome is not None or self.local_status is not None:
            return False
        self.local_error = error
        self.local_status = (int(code), details)
        self.cancel(by_user=False)
        self.fire_callbacks()
        return True

    def missing_response(self) -> None:
        """A single-response call ended OK without its response: INTERNAL, as grpcio reports
        it (the status is known, so :meth:`fail_locally` would not change it)."""
        self.local_status = (StatusCode.INTERNAL, NO_RESPONSE)

    def _finish_raw(self, handle: Any, timeout_ms_value: int) -> bool:
        status = ctypes.c_int(0)
        message = ctypes.c_char_p()
        trailers = _native.lbc_metadata_p()
        rc = _native.lbc_call_finish(handle, timeout_ms_value, ctypes.byref(status), ctypes.byref(message), ctypes.byref(trailers))
        if rc == ErrorCode.WOULD_BLOCK:
            return False
        _check(rc, "lbc_call_finish")
        self.outcome = (status.value, _decode(message.value), _metadata.read(trailers))
        return True

    def finish(self, timeout_ms_value: int, wait_turn: bool = True) -> bool:
        """Wait up to ``timeout_ms_value`` (one C call; use :meth:`wait` for
        long waits) for the end of the call. True once the status is known.
        ``wait_turn=False``: return at once if another thread is inside
        ``lbc_call_finish`` (it takes the status and runs the callbacks itself)."""
        if self.outcome is not None:
            return True
        handle = self._enter()
        if handle is None:
            return self.outcome is not None
        try:
            if self._finish_lock.acquire(blocking=wait_turn):
                try:
                    if self.outcome is None:
                        self._finish_raw(handle, timeout_ms_value)
                finally:
                    self._finish_lock.release()
        finally:
            self._leave()
        if self.outcome is not None:
            self.fire_callbacks()
            return True
        return False

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block (in slices) until the status is known or ``timeout`` seconds pass."""
        def attempt(step: int) -> Union[bool, NotYet]:
            if self.done or not self.alive or self.finish(max(1, step)):
                return self.done
            return NOT_YET
        try:
            return _in_slices(attempt, timeout, "", "lbc_call_finish")
        except WouldBlockError:
            return False

    # -- callbacks ------------------------------------------------------------------

    def add_callback(self, fn: Callable[[], None]) -> bool:
        """Call ``fn()`` when the call ends; False (and no call) if it already has."""
        with self._cond:
            if not self._callbacks_fired:
                self._callbacks.append(fn)
                return True
        return False

    def fire_callbacks(self) -> None:
        with self._cond:
            if self._callbacks_fired:
                return
            self._callbacks_fired = True
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            run_callback(fn)

    def on_event(self, flags: int = _native.LBC_CALL_DONE) -> None:
        """An event of this call on its queue: once LBC_CALL_DONE arrives, take the
        status and run the callbacks (readiness flags need nothing here)."""
        if not flags & _native.LBC_CALL_DONE:
            return
        with self._cond:
            if self._handle is None and not self._freeing:
                self._done_event_pending = True  # start() has not returned yet
                return
        try:
            self.finish(0, wait_turn=False)
        except Exception:
            _logger.exception("lbchannel: lbc_call_finish after LBC_CALL_DONE failed")

    # -- operations -------------------------------------------------------------------

    def cancel(self, by_user: bool = True) -> bool:
        """``lbc_call_cancel``. True if the call had not ended yet.

        ``by_user``: a cancellation by the application: from the moment this
        returns True the call is done with CANCELLED (:attr:`cancelled`, the
        callbacks have run), as in grpcio. The binding's own cancellations (a
        failing request iterator) pass False and set their status themselves.
        """
        def cancel(handle: Any) -> bool:
            with self._cond:
                was_active = self.outcome is None and self.local_status is None
                if was_active and by_user:
                    self.cancelled = True
                    self.local_status = (StatusCode.CANCELLED, LOCALLY_CANCELLED)
            _check(_native.lbc_call_cancel(handle), "lbc_call_cancel")
            return was_active
        was_active = self._using(cancel, False)
        if was_active and by_user:
            self.fire_callbacks()
        return was_active

    def send(self, data: bytes, end: bool, timeout_ms_value: int) -> bool:
        """One ``lbc_call_send``: True if queued, False if no room in time.

        Raises CallFinishedError (also once freed), SendClosedError,
        MessageTooLargeError, ...
        """
        handle = self._enter()
        if handle is None:
            raise CallFinishedError(ErrorCode.CALL_FINISHED, "the call has ended", "lbc_call_send")
        try:
            with self._send_lock:
                rc = _native.lbc_call_send(handle, data, len(data), _native.LBC_SEND_END if end else 0, timeout_ms_value)
                if rc == ErrorCode.WOULD_BLOCK:
                    return False
                _check(rc, "lbc_call_send")
                return True
        finally:
            self._leave()

    def send_blocking(self, data: bytes, end: bool = False, timeout: Optional[float] = None) -> None:
        """Send, waiting (in slices) for room up to ``timeout`` seconds (None: as long as the call lasts).

        Raises WouldBlockError when the timeout passes first.
        """
        _in_slices(lambda step: True if self.send(data, end, step) else NOT_YET, timeout,
                   "no room to send before the timeout", "lbc_call_send")

    def encode(self, serializer: Optional[Callable[[Any], bytes]], request: Any) -> Optional[bytes]:
        """``request`` serialized; None once the serializer raised (the call then ends
        INTERNAL "Exception serializing request!", as in grpcio)."""
        try:
            return serializer(request) if serializer is not None else request_bytes(request)
        except Exception as exc:
            self.fail_locally(StatusCode.INTERNAL, REQUEST_SERIALIZATION_FAILED, exc)
            return None

    def decode(self, deserializer: Optional[Callable[[bytes], Any]], data: bytes,
               error: Callable[[], BaseException]) -> Any:
        """``data`` through the method's deserializer; when that raises, the call ends INTERNAL
        "Exception deserializing response!" and ``error()`` (the call's error) is raised."""
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except Exception as exc:
            self.fail_locally(StatusCode.INTERNAL, RESPONSE_DESERIALIZATION_FAILED, exc)
            raise error() from exc

    def too_large(self, exc: MessageTooLargeError) -> None:
        """A request above ``max_send_message_size``: the call ends RESOURCE_EXHAUSTED (an RPC
        outcome in grpcio)."""
        self.fail_locally(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)

    def send_request(self, data: Optional[bytes], end: bool = False) -> bool:
        """Send a request of the grpc.Channel interface (waiting for room); False, with
        nothing sent, when ``data`` is None or the call has ended (:meth:`too_large` included)."""
        try:
            if data is not None:
                self.send_blocking(data, end)
                return True
        except (CallFinishedError, SendClosedError):
            pass
        except MessageTooLargeError as exc:
            self.too_large(exc)
        return False

    def close_send(self) -> None:
        self._using(lambda handle: _check(_native.lbc_call_close_send(handle), "lbc_call_close_send"), None)

    def recv(self, timeout_ms_value: int) -> Tuple[str, Optional[bytes]]:
        """One receive: ``(MSG, bytes)``, ``(END, None)`` or ``(AGAIN, None)``.

        One copy per message: ``lbc_call_recv_into`` first tells the size of
        the next message (waiting up to ``timeout_ms_value``), then copies it
        straight into a new bytes object.
        """
        if self.drained:
            return END, None
        handle = self._enter()
        if handle is None:
            return END, None
        try:
            with self._recv_lock:
                length = ctypes.c_size_t(0)
                rc = _native.lbc_call_recv_into(handle, timeout_ms_value, None, 0, ctypes.byref(length))
                if rc == ErrorCode.OUT_OF_RANGE:  # the usual case: a non-empty message of `length` bytes
                    data: bytes = _native.new_bytes(None, length.value)
                    rc = _native.lbc_call_recv_into(handle, 0, _native.bytes_address(data), length.value,
                                                    ctypes.byref(length))
                    if rc == 0:
                        return MSG, data
                elif rc == 0:
                    return MSG, b""
                if rc == _native.LBC_END:
                    self.drained = True
                    return END, None
                if rc == ErrorCode.WOULD_BLOCK:
                    return AGAIN, None
                _check(rc, "lbc_call_recv_into")
                raise error_for(rc, "unexpected return value", "lbc_call_recv_into")  # pragma: no cover
        finally:
            self._leave()

    def recv_blocking(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """Next message (bytes) or None at the end; WouldBlockError after ``timeout`` seconds.
        Ctrl-C (KeyboardInterrupt) while waiting cancels the call."""
        def attempt(step: int) -> Union[Optional[bytes], NotYet]:
            kind, data = self.recv(step)
            return data if kind == MSG else None if kind == END else NOT_YET
        try:
            return _in_slices(attempt, timeout, "no message before the timeout", "lbc_call_recv")
        except KeyboardInterrupt:  # Ctrl-C while waiting for a message ends the call
            self.cancel()
            raise

    def headers(self, timeout_ms_value: int) -> Optional[MetadataTuple]:
        """Response headers (a tuple) once they arrived, else None (``()`` once freed without them)."""
        def headers(handle: Any) -> Optional[MetadataTuple]:
            with self._headers_lock:
                if self.initial is None:
                    out = _native.lbc_metadata_p()
                    rc = _native.lbc_call_headers(handle, timeout_ms_value, ctypes.byref(out))
                    if rc == ErrorCode.WOULD_BLOCK:
                        return None
                    _check(rc, "lbc_call_headers")
                    self.initial = _metadata.read(out)
                return self.initial
        if self.initial is not None:
            return self.initial
        freed: Optional[MetadataTuple] = ()  # freed before the headers came
        return self._using(headers, freed)

    def headers_blocking(self, timeout: Optional[float] = None) -> MetadataTuple:
        return _in_slices(lambda step: NOT_YET if (md := self.headers(step)) is None else md, timeout,
                          "no response headers before the timeout", "lbc_call_headers")

    def attempt_peers(self) -> Tuple[str, ...]:
        """Every attempt's endpoint so far (kept once the call is freed)."""
        self._attempt_peers = self._using(
            lambda handle: _attempt_peers(_native.lbc_call_attempts, _native.lbc_call_attempt_peer, handle),
            self._attempt_peers)
        return self._attempt_peers

    def peer(self) -> str:
        if not self._peer:
            self._peer = self._using(lambda handle: _decode(_native.lbc_call_peer(handle)), "")
        return self._peer

    def time_remaining(self) -> Optional[float]:
        return remaining(self.deadline)

    def error(self, cls: Type[E]) -> E:
        """The ``cls`` (an RpcError class) of the finished call, caused by the binding's own
        failure (request iterator, serializer) if there was one."""
        code, details, trailing = self.status() or (StatusCode.UNKNOWN, "", ())
        err = cls(code, details, self.initial or (), trailing, self.peer())
        if self.local_error is not None:
            err.__cause__ = self.local_error
        return err

    def __del__(self) -> None:
        try:
            if self.__dict__.get("_handle") is not None:
                self.free()
        except Exception:
            pass
