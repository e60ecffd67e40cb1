"""Blocking streaming calls: the raw :class:`StreamingCall` and the grpc.Channel
streaming multi-callables (``unary_stream``, ``stream_unary``, ``stream_stream``).

Every blocking wait happens inside the library in slices of at most
``_call.SLICE_MS`` with the GIL released, so other Python threads run, Ctrl-C
is seen within a slice and :meth:`cancel` from another thread ends a blocked
receive at once. A native call is freed as soon as it is over (last message
taken and status known), by ``close()``/``with``, or by ``__del__`` as a
fallback.
"""

import threading
import time
from typing import Any

from ._call import run_callback
from ._errors import CallFinishedError, MessageTooLargeError, SendClosedError
from ._status import (
    FutureBases,
    FutureTimeoutError as _FutureTimeoutError,
    RpcError,
    StatusCode,
    StreamStreamBase,
    StreamUnaryBase,
    UnaryStreamBase,
    _CallBase,
    public_code,
)

__all__ = [
    "StreamingCall",
    "StreamCall",
    "UnaryStreamMultiCallable",
    "StreamUnaryMultiCallable",
    "StreamStreamMultiCallable",
    "consume_requests",
    "request_bytes",
]

_REQUEST_ITERATION_FAILED = "Exception iterating requests!"
_REQUEST_SERIALIZATION_FAILED = "Exception serializing request!"
_RESPONSE_DESERIALIZATION_FAILED = "Exception deserializing response!"
_NO_RESPONSE = "the server ended the call without a response message"


def request_bytes(request):
    if request is None:
        return b""
    if isinstance(request, bytes):
        return request
    if isinstance(request, (bytearray, memoryview)):
        return bytes(request)
    raise TypeError("a message must be bytes-like, not %s" % type(request).__name__)


def _serialize(serializer, request):
    return serializer(request) if serializer is not None else request_bytes(request)


def consume_requests(native, iterator, serializer):
    """Send every request of ``iterator`` on ``native``, then half-close.

    Runs on a helper thread (one per client-streaming call, as in grpcio).
    Back-pressure: each send waits for room in the call's send buffer. Stops
    quietly when the call ends; a raising iterator (or serializer) ends the
    call with UNKNOWN "Exception iterating requests!" (INTERNAL "Exception
    serializing request!") and cancels it on the wire.
    """
    try:
        for request in iterator:
            if native.done or not native.alive:
                return
            try:
                data = _serialize(serializer, request)
            except Exception as exc:
                native.fail_locally(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED, exc)
                return
            try:
                native.send_blocking(data)
            except (CallFinishedError, SendClosedError):
                return
            except MessageTooLargeError as exc:
                native.fail_locally(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)
                return
        native.close_send()
    except Exception as exc:
        native.fail_locally(StatusCode.UNKNOWN, _REQUEST_ITERATION_FAILED, exc)


def start_consumer(native, iterator, serializer):
    thread = threading.Thread(
        target=consume_requests, args=(native, iterator, serializer), name="lbchannel-requests", daemon=True
    )
    thread.start()
    return thread


def _rpc_error_from(native, peer=None):
    code, details, trailing = native.status()
    err = RpcError(code, details, native.initial or (), trailing, native.peer() if peer is None else peer)
    if native.local_error is not None:
        err.__cause__ = native.local_error
    return err


class _CallControl:
    """The ``grpc.Call`` controls both kinds of call object share (over ``self._native``)."""

    def peer(self):
        """Address of the endpoint the call was put on ("" until it was)."""
        return self._native.peer()

    def attempt_peers(self):
        """The endpoint of every attempt so far, in order (the last is :meth:`peer`):
        more than one when a retry policy resent the call (transparent retries
        of streams the server never processed do not count)."""
        return self._native.attempt_peers()

    @property
    def attempts(self):
        """How many attempts the call has made (``lbc_call_attempts``)."""
        return len(self.attempt_peers())

    def cancel(self) -> bool:
        """Cancel the call (the server sees RST_STREAM); True if it was still running.

        After True the call is over at once: ``done()`` (and for futures
        ``cancelled()``) is True and ``code()`` is CANCELLED."""
        return self._native.cancel()

    def is_active(self):
        """True while the call has not ended."""
        return not self._native.done

    def time_remaining(self):
        """Seconds left before the deadline, or None without one."""
        return self._native.time_remaining()

    def add_callback(self, callback):
        """Call ``callback()`` when the call ends (from a library helper thread);
        False (and never called) if it already has."""
        return self._native.add_callback(callback)

    def done(self) -> bool:
        """True once the call has ended."""
        return self._native.done

    def _final(self) -> "tuple[int, str, tuple]":
        self._native.wait()
        return self._native.status()

    def code(self) -> Any:
        """The status code (``grpc.StatusCode`` with grpcio); waits for the end of the call."""
        return public_code(self._final()[0])

    def details(self) -> str:
        """The status message; waits for the end of the call."""
        return self._final()[1]

    def trailing_metadata(self) -> tuple:
        """Trailers as a tuple of ``(key, value)``; waits for the end of the call."""
        return self._final()[2]

    def initial_metadata(self, timeout: "float | None" = None) -> tuple:
        """Response headers as a tuple of ``(key, value)`` (waits for them, up to ``timeout`` s)."""
        return self._native.headers_blocking(timeout)

    def __del__(self) -> None:
        try:
            self._native.free()
        except Exception:
            pass


class StreamingCall(_CallControl, _CallBase):
    """A bytes-level streaming call (any shape) from :meth:`lbchannel.Channel.stream`.

    Send with :meth:`send` / :meth:`close_send`, receive with :meth:`recv` or
    by iterating (iteration raises :class:`lbchannel.RpcError` at the end if
    the call failed). A ``grpc.Call`` when grpcio is installed. Use it as a
    context manager (or call :meth:`close`): leaving it cancels the call if it
    is still running and frees the native call.

    Thread safety: one thread may send while another receives; :meth:`cancel`
    works from any thread.
    """

    def __init__(self, native, method):
        self._native = native
        self._method = method

    # -- sending --------------------------------------------------------------------

    def send(self, message, end=False, timeout=None):
        """Queue one message (bytes-like); ``end=True`` closes the send side after it.

        Waits for room in the send buffer up to ``timeout`` seconds (None:
        as long as the call lasts; 0: not at all).

        Raises:
            lbchannel.WouldBlockError: no room in time (a TimeoutError; nothing was sent).
            lbchannel.CallFinishedError: the call has ended (see :meth:`code`).
            lbchannel.SendClosedError: the send side was already closed.
            lbchannel.MessageTooLargeError: above ``max_send_message_size``.
        """
        self._native.send_blocking(request_bytes(message), end, timeout)

    def close_send(self):
        """Half-close: no more messages will be sent (the queued ones still are)."""
        self._native.close_send()

    # -- receiving ------------------------------------------------------------------

    def recv(self, timeout=None):
        """The next message (bytes), or None once the call has ended and every
        message was taken. Raises lbchannel.WouldBlockError (a TimeoutError)
        when nothing arrives within ``timeout`` seconds."""
        try:
            data = self._native.recv_blocking(timeout)
        except KeyboardInterrupt:
            self._native.cancel()
            raise
        if data is None:
            self._native.wait()
        return data

    def __iter__(self):
        return self

    def __next__(self):
        data = self.recv()
        if data is None:
            code = self._native.status()[0]
            if code != 0:
                raise _rpc_error_from(self._native)
            raise StopIteration
        return data

    # -- grpc.Call / RpcContext -------------------------------------------------------

    def wait(self, timeout=None):
        """Wait until the call has ended; True if it has (False after ``timeout`` seconds)."""
        return self._native.wait(timeout)

    def close(self):
        """Cancel the call if still running and free the native call. Idempotent."""
        self._native.free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        status = self._native.status()
        state = "active" if status is None else "ended %s" % public_code(status[0])
        return "<lbchannel.StreamingCall %s %s peer=%r>" % (self._method, state, self._native._peer)


#: Short alias.
StreamCall = StreamingCall


class _Rendezvous(_CallControl, RpcError, *FutureBases):
    """A running streaming RPC of the grpc.Channel interface, like grpcio's
    ``_MultiThreadedRendezvous``: a ``grpc.Call``, a ``grpc.Future``, an
    iterator of responses (server streaming) and — once it failed — the
    ``grpc.RpcError`` it raises.
    """

    def __init__(self, native, deserializer, streaming_response):
        Exception.__init__(self)
        self._native = native
        self._deserialize = deserializer
        self._streaming = streaming_response
        self._response_taken = False
        self._response = None
        self._lock = threading.Lock()

    # -- outcome --------------------------------------------------------------------

    def _failure(self):
        """This object, ready to be raised (caused by the request iterator's error, if any)."""
        if self._native.local_error is not None and self.__cause__ is None:
            self.__cause__ = self._native.local_error
        return self

    def _fail(self, code, details, exc):
        self._native.fail_locally(code, details, exc)

    def _release(self):
        """Free the native call once nothing more can be read from it."""
        if self._native.done and (self._native.drained or not self._streaming and self._response_taken):
            self._native.free()

    def _deserialized(self, data):
        if self._deserialize is None:
            return data
        try:
            return self._deserialize(data)
        except Exception as exc:
            self._fail(StatusCode.INTERNAL, _RESPONSE_DESERIALIZATION_FAILED, exc)
            raise self from exc

    # -- iterator (server streaming) ------------------------------------------------------

    def __iter__(self):
        if not self._streaming:
            raise TypeError("a call with a single response is not iterable")
        return self

    def __next__(self):
        if not self._streaming:
            raise TypeError("a call with a single response is not iterable")
        try:
            data = self._native.recv_blocking()
        except KeyboardInterrupt:
            self._native.cancel()
            raise
        if data is None:
            code = self._final()[0]
            self._release()
            if code != 0:
                raise self._failure()
            raise StopIteration
        return self._deserialized(data)

    def next(self):
        return self.__next__()

    # -- single response ---------------------------------------------------------------

    def _take_response(self, timeout):
        """Read the one response message and the status; raise self on failure."""
        end_at = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if not self._response_taken:
                left = None if end_at is None else max(0.0, end_at - time.monotonic())
                try:
                    data = self._native.recv_blocking(left)
                except TimeoutError:
                    raise _FutureTimeoutError() from None
                except KeyboardInterrupt:
                    self._native.cancel()
                    raise
                left = None if end_at is None else max(0.0, end_at - time.monotonic())
                if not self._native.wait(left):
                    raise _FutureTimeoutError()
                code = self._native.status()[0]
                if code == 0:
                    if data is None:
                        self._fail(StatusCode.INTERNAL, _NO_RESPONSE, None)
                    else:
                        self._response = self._deserialized(data)
                self._response_taken = True
                self._release()
        if self._native.status()[0] != 0:
            raise self._failure()
        return self._response

    # -- grpc.Future ------------------------------------------------------------------

    def result(self, timeout=None):
        """The response (single-response calls); raises this object (an RpcError) on failure.

        For server-streaming calls: waits for the end of the call and returns
        None, or raises on failure (read the responses by iterating).
        """
        if not self._streaming:
            return self._take_response(timeout)
        if not self._native.wait(timeout):
            raise _FutureTimeoutError()
        if self._native.status()[0] != 0:
            raise self._failure()
        return None

    def exception(self, timeout=None):
        """None if the RPC succeeded, else this object (an RpcError)."""
        try:
            self.result(timeout)
        except _FutureTimeoutError:
            raise
        except RpcError:
            return self
        return None

    def traceback(self, timeout=None):
        exc = self.exception(timeout)
        return None if exc is None else exc.__traceback__

    def cancelled(self):
        """True if the call was cancelled by :meth:`cancel`."""
        return self._native.cancelled and self._native.done

    def running(self):
        return not self._native.done

    def add_done_callback(self, fn):
        """Call ``fn(self)`` when the call ends (at once if it has)."""
        if not self._native.add_callback(lambda: fn(self)):
            run_callback(fn, self)

    # -- grpc.Call --------------------------------------------------------------------

    @property
    def status_code(self):
        try:
            return StatusCode(self._final()[0])
        except ValueError:
            return StatusCode.UNKNOWN

    def debug_error_string(self):
        return self._format()

    def _format(self):
        status = self._native.status()
        if status is None:
            return "<RPC in progress>"
        text = StatusCode(status[0]).name if 0 <= status[0] <= 16 else str(status[0])
        if status[1]:
            text += ": %s" % status[1]
        return text

    def __str__(self):
        return self._format()

    def __repr__(self):
        return "<lbchannel._Rendezvous %s peer=%r>" % (self._format(), self._native._peer)

    def __reduce__(self):
        raise TypeError("a running call cannot be pickled")


class _StreamingMultiCallable:
    def __init__(self, channel, method, request_serializer, response_deserializer):
        self._channel = channel
        self._method = method
        self._serialize = request_serializer
        self._deserialize = response_deserializer

    def _start(self, timeout, metadata, credentials):
        if credentials is not None:
            raise NotImplementedError("per-call credentials are not supported by lbchannel")
        return self._channel._start_native_call(self._method, metadata, timeout)

    def _with_requests(self, request_iterator, timeout, metadata, credentials, streaming_response):
        native = self._start(timeout, metadata, credentials)
        call = _Rendezvous(native, self._deserialize, streaming_response)
        start_consumer(native, request_iterator, self._serialize)
        return call


class UnaryStreamMultiCallable(_StreamingMultiCallable, UnaryStreamBase):
    """A server-streaming method (``grpc.UnaryStreamMultiCallable``)."""

    def __call__(self, request, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        """Start the RPC; return a call object that is an iterator of responses,
        a ``grpc.Call`` and a ``grpc.Future`` (iteration raises it, as a
        ``grpc.RpcError``, if the RPC fails)."""
        try:
            data = _serialize(self._serialize, request)
        except Exception as exc:
            raise RpcError(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED) from exc
        native = self._start(timeout, metadata, credentials)
        call = _Rendezvous(native, self._deserialize, True)
        try:
            native.send_blocking(data, end=True)
        except (CallFinishedError, SendClosedError):
            pass  # the call already ended: its status tells why
        except MessageTooLargeError as exc:
            native.fail_locally(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)
        except BaseException:
            native.free()
            raise
        return call


class StreamUnaryMultiCallable(_StreamingMultiCallable, StreamUnaryBase):
    """A client-streaming method (``grpc.StreamUnaryMultiCallable``).

    The request iterator is consumed on a helper thread with back-pressure
    (each request waits for room in the call's send buffer).
    """

    def _blocking(self, request_iterator, timeout, metadata, credentials):
        call = self._with_requests(request_iterator, timeout, metadata, credentials, False)
        try:
            return call._take_response(None), call
        except KeyboardInterrupt:
            call.cancel()
            raise

    def __call__(self, request_iterator, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        """Run the RPC; return the response or raise ``grpc.RpcError``."""
        return self._blocking(request_iterator, timeout, metadata, credentials)[0]

    def with_call(self, request_iterator, timeout=None, metadata=None, credentials=None,
                  wait_for_ready=None, compression=None):
        """Run the RPC; return ``(response, call)``."""
        return self._blocking(request_iterator, timeout, metadata, credentials)

    def future(self, request_iterator, timeout=None, metadata=None, credentials=None,
               wait_for_ready=None, compression=None):
        """Start the RPC; return a ``grpc.Future`` that is also a ``grpc.Call``."""
        return self._with_requests(request_iterator, timeout, metadata, credentials, False)


class StreamStreamMultiCallable(_StreamingMultiCallable, StreamStreamBase):
    """A bidirectional-streaming method (``grpc.StreamStreamMultiCallable``)."""

    def __call__(self, request_iterator, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        """Start the RPC; requests are consumed on a helper thread; return an
        iterator of responses that is also a ``grpc.Call`` and ``grpc.Future``."""
        return self._with_requests(request_iterator, timeout, metadata, credentials, True)
