"""Blocking streaming calls: the raw :class:`StreamingCall` and the grpc.Channel
streaming multi-callables (``unary_stream``, ``stream_unary``, ``stream_stream``).

Every blocking wait happens inside the library in slices of at most
``_call.SLICE_MS`` with the GIL released, so other Python threads run, Ctrl-C
is seen within a slice and :meth:`cancel` from another thread ends a blocked
receive at once. A native call is freed as soon as it is over (last message
taken and status known), by ``close()``/``with``, or by ``__del__`` as a
fallback.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Optional, Tuple

from ._call import Buffer, NativeCall, Status, remaining, request_bytes, run_callback
from ._grpc import (CallCredentials, CallFutureBase, CallIteratorBase, Compression, FutureTimeoutError, MetadataArg,
                    MetadataTuple, PublicCode, Req, Resp, StreamStreamBase, StreamUnaryBase, UnaryStreamBase)
from ._grpc_interface import MultiCallable, no_credentials
from ._status import REQUEST_ITERATION_FAILED, RpcError, StatusCode, describe, lbc_code, public_code


def consume_requests(native: NativeCall, iterator: Iterator[Any], serializer: Optional[Callable[[Any], bytes]]) -> None:
    """Send every request of ``iterator`` on ``native``, then half-close.

    Runs on a helper thread (one per client-streaming call, as in grpcio).
    Back-pressure: each send waits for room in the call's send buffer. Stops
    quietly when the call ends; a raising iterator (or serializer) ends the
    call with UNKNOWN "Exception iterating requests!" (INTERNAL "Exception
    serializing request!") and cancels it on the wire.
    """
    try:
        for request in iterator:
            if native.done or not native.send_request(native.encode(serializer, request)):
                return
        native.close_send()
    except Exception as exc:
        native.fail_locally(StatusCode.UNKNOWN, REQUEST_ITERATION_FAILED, exc)


def start_consumer(native: NativeCall, iterator: Iterator[Any], serializer: Optional[Callable[[Any], bytes]]) -> None:
    threading.Thread(target=consume_requests, args=(native, iterator, serializer), name="lbchannel-requests",
                     daemon=True).start()


class _CallControl:
    """The ``grpc.Call`` controls both kinds of call object share (over ``self._native``)."""

    _native: NativeCall

    def peer(self) -> str:
        """Address of the endpoint the call was put on ("" until it was)."""
        return self._native.peer()

    def attempt_peers(self) -> Tuple[str, ...]:
        """The endpoint of every attempt so far, in order (the last is :meth:`peer`):
        more than one when a retry policy resent the call (transparent retries
        of streams the server never processed do not count)."""
        return self._native.attempt_peers()

    @property
    def attempts(self) -> int:
        """How many attempts the call has made (``lbc_call_attempts``)."""
        return len(self.attempt_peers())

    def cancel(self) -> bool:
        """Cancel the call (the server sees RST_STREAM); True if it was still running.

        After True the call is over at once: ``done()`` (and for futures
        ``cancelled()``) is True and ``code()`` is CANCELLED."""
        return self._native.cancel()

    def is_active(self) -> bool:
        """True while the call has not ended."""
        return not self._native.done

    def time_remaining(self) -> Optional[float]:
        """Seconds left before the deadline, or None without one."""
        return self._native.time_remaining()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Call ``callback()`` when the call ends (from a library helper thread);
        False (and never called) if it already has."""
        return self._native.add_callback(callback)

    def done(self) -> bool:
        """True once the call has ended."""
        return self._native.done

    def _final(self) -> Status:
        self._native.wait()
        return self._native.status()  # type: ignore[return-value]  # known once wait() returned

    def code(self) -> PublicCode:
        """The status code (``grpc.StatusCode`` with grpcio); waits for the end of the call."""
        return public_code(self._final()[0])

    def details(self) -> str:
        """The status message; waits for the end of the call."""
        return self._final()[1]

    def trailing_metadata(self) -> MetadataTuple:
        """Trailers as a tuple of ``(key, value)``; waits for the end of the call."""
        return self._final()[2]

    def initial_metadata(self, timeout: Optional[float] = None) -> MetadataTuple:
        """Response headers as a tuple of ``(key, value)`` (waits for them, up to ``timeout`` s)."""
        return self._native.headers_blocking(timeout)

    def __del__(self) -> None:
        try:
            self._native.free()
        except Exception:
            pass


class StreamingCall(_CallControl, CallIteratorBase[bytes]):  # type: ignore[misc]  # see _status.py
    """A bytes-level streaming call (any shape) from :meth:`lbchannel.Channel.stream`.

    Send with :meth:`send` / :meth:`close_send`, receive with :meth:`recv` or
    by iterating (iteration raises :class:`lbchannel.RpcError` at the end if
    the call failed). A ``grpc.Call`` when grpcio is installed. Use it as a
    context manager (or call :meth:`close`): leaving it cancels the call if it
    is still running and frees the native call.

    Thread safety: one thread may send while another receives; :meth:`cancel`
    works from any thread.
    """

    def __init__(self, native: NativeCall, method: str) -> None:
        self._native = native
        self._method = method

    # -- sending --------------------------------------------------------------------

    def send(self, message: Buffer, end: bool = False, timeout: Optional[float] = None) -> None:
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

    def close_send(self) -> None:
        """Half-close: no more messages will be sent (the queued ones still are)."""
        self._native.close_send()

    # -- receiving ------------------------------------------------------------------

    def recv(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next message (bytes), or None once the call has ended and every
        message was taken. Raises lbchannel.WouldBlockError (a TimeoutError)
        when nothing arrives within ``timeout`` seconds."""
        data = self._native.recv_blocking(timeout)
        if data is None:
            self._native.wait()
        return data

    def __iter__(self) -> StreamingCall:
        return self

    def __next__(self) -> bytes:
        data = self.recv()
        if data is None:
            code = self._final()[0]
            if code != 0:
                raise self._native.error(RpcError)
            raise StopIteration
        return data

    # -- grpc.Call / RpcContext -------------------------------------------------------

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the call has ended; True if it has (False after ``timeout`` seconds)."""
        return self._native.wait(timeout)

    def close(self) -> None:
        """Cancel the call if still running and free the native call. Idempotent."""
        self._native.free()

    def __enter__(self) -> StreamingCall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        status = self._native.status()
        state = "active" if status is None else "ended %s" % public_code(status[0])
        return "<lbchannel.StreamingCall %s %s peer=%r>" % (self._method, state, self._native._peer)


class _Rendezvous(_CallControl, RpcError, CallIteratorBase[Resp], CallFutureBase[Resp]):  # type: ignore[misc]
    """A running streaming RPC of the grpc.Channel interface, like grpcio's
    ``_MultiThreadedRendezvous``: a ``grpc.Call``, a ``grpc.Future``, an
    iterator of responses (server streaming) and — once it failed — the
    ``grpc.RpcError`` it raises.
    """

    def __init__(self, native: NativeCall, deserializer: Optional[Callable[[bytes], Resp]],
                 streaming_response: bool) -> None:
        Exception.__init__(self)
        self._native = native
        self._deserialize = deserializer
        self._streaming = streaming_response
        self._response_taken = False
        self._response: Optional[Resp] = None
        self._lock = threading.Lock()

    # -- outcome --------------------------------------------------------------------

    def _failure(self) -> _Rendezvous[Resp]:
        """This object, ready to be raised (caused by the request iterator's error, if any)."""
        if self._native.local_error is not None and self.__cause__ is None:
            self.__cause__ = self._native.local_error
        return self

    def _release(self) -> None:
        """Free the native call once nothing more can be read from it."""
        if self._native.done and (self._native.drained or not self._streaming and self._response_taken):
            self._native.free()

    def _deserialized(self, data: bytes) -> Resp:
        response: Resp = self._native.decode(self._deserialize, data, self._failure)
        return response

    # -- iterator (server streaming) ------------------------------------------------------

    def __iter__(self) -> _Rendezvous[Resp]:
        if not self._streaming:
            raise TypeError("a call with a single response is not iterable")
        return self

    def __next__(self) -> Resp:
        if not self._streaming:
            raise TypeError("a call with a single response is not iterable")
        data = self._native.recv_blocking()
        if data is None:
            code = self._final()[0]
            self._release()
            if code != 0:
                raise self._failure()
            raise StopIteration
        return self._deserialized(data)

    def next(self) -> Resp:
        return self.__next__()

    # -- single response ---------------------------------------------------------------

    def _take_response(self, timeout: Optional[float]) -> Resp:
        """Read the one response message and the status; raise self on failure."""
        end_at = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if not self._response_taken:
                left = remaining(end_at)
                try:
                    data = self._native.recv_blocking(left)
                except TimeoutError:
                    raise FutureTimeoutError() from None
                left = remaining(end_at)
                if not self._native.wait(left):
                    raise FutureTimeoutError()
                code = self._final()[0]
                if code == 0:
                    if data is None:
                        self._native.missing_response()
                    else:
                        self._response = self._deserialized(data)
                self._response_taken = True
                self._release()
        if self._final()[0] != 0:
            raise self._failure()
        return self._response  # type: ignore[return-value]  # set: the call succeeded

    # -- grpc.Future ------------------------------------------------------------------

    def result(self, timeout: Optional[float] = None) -> Resp:
        """The response (single-response calls); raises this object (an RpcError) on failure.

        For server-streaming calls: waits for the end of the call and returns
        None, or raises on failure (read the responses by iterating).
        """
        if not self._streaming:
            return self._take_response(timeout)
        if not self._native.wait(timeout):
            raise FutureTimeoutError()
        if self._final()[0] != 0:
            raise self._failure()
        return None  # type: ignore[return-value]  # a server-streaming call has no single response

    def exception(self, timeout: Optional[float] = None) -> Optional[Exception]:
        """None if the RPC succeeded, else this object (an RpcError)."""
        try:
            self.result(timeout)
        except FutureTimeoutError:
            raise
        except RpcError:
            return self
        return None

    def traceback(self, timeout: Optional[float] = None) -> Any:
        exc = self.exception(timeout)
        return None if exc is None else exc.__traceback__

    def cancelled(self) -> bool:
        """True if the call was cancelled by :meth:`cancel`."""
        return self._native.cancelled and self._native.done

    def running(self) -> bool:
        return not self._native.done

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(self)`` when the call ends (at once if it has)."""
        if not self._native.add_callback(lambda: fn(self)):
            run_callback(fn, self)

    # -- grpc.Call --------------------------------------------------------------------

    @property
    def status_code(self) -> StatusCode:
        return lbc_code(self._final()[0])

    def _format(self) -> str:
        status = self._native.status()
        return "<RPC in progress>" if status is None else describe(status[0], status[1])

    def __repr__(self) -> str:
        return "<lbchannel._Rendezvous %s peer=%r>" % (self._format(), self._native._peer)

    def __reduce__(self) -> Tuple[Any, ...]:
        raise TypeError("a running call cannot be pickled")


class _StreamingMultiCallable(MultiCallable[Req, Resp]):
    def _with_requests(self, request_iterator: Iterator[Req], timeout: Optional[float], metadata: MetadataArg,
                       credentials: Optional[CallCredentials], streaming_response: bool) -> _Rendezvous[Resp]:
        no_credentials(credentials)
        native = self._channel._start_native_call(self._method, metadata, timeout)
        start_consumer(native, request_iterator, self._serialize)
        return _Rendezvous(native, self._deserialize, streaming_response)


class UnaryStreamMultiCallable(_StreamingMultiCallable[Req, Resp], UnaryStreamBase[Req, Resp]):
    """A server-streaming method (``grpc.UnaryStreamMultiCallable``)."""

    def __call__(self, request: Req, timeout: Optional[float] = None, metadata: MetadataArg = None,
                 credentials: Optional[CallCredentials] = None, wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> _Rendezvous[Resp]:
        """Start the RPC; return a call object that is an iterator of responses,
        a ``grpc.Call`` and a ``grpc.Future`` (iteration raises it, as a
        ``grpc.RpcError``, if the RPC fails)."""
        data = self._payload(request, credentials)
        native = self._channel._start_native_call(self._method, metadata, timeout)
        try:
            native.send_request(data, end=True)  # False: the call already ended; its status tells why
        except BaseException:
            native.free()
            raise
        return _Rendezvous(native, self._deserialize, True)


class StreamUnaryMultiCallable(_StreamingMultiCallable[Req, Resp], StreamUnaryBase[Req, Resp]):
    """A client-streaming method (``grpc.StreamUnaryMultiCallable``).

    The request iterator is consumed on a helper thread with back-pressure
    (each request waits for room in the call's send buffer).
    """

    def _blocking(self, request_iterator: Iterator[Req], timeout: Optional[float], metadata: MetadataArg,
                  credentials: Optional[CallCredentials]) -> Tuple[Resp, _Rendezvous[Resp]]:
        call = self._with_requests(request_iterator, timeout, metadata, credentials, False)
        try:
            return call._take_response(None), call
        except KeyboardInterrupt:
            call.cancel()
            raise

    def __call__(self, request_iterator: Iterator[Req], timeout: Optional[float] = None,
                 metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
                 wait_for_ready: Optional[bool] = None, compression: Optional[Compression] = None) -> Resp:
        """Run the RPC; return the response or raise ``grpc.RpcError``."""
        return self._blocking(request_iterator, timeout, metadata, credentials)[0]

    def with_call(self, request_iterator: Iterator[Req], timeout: Optional[float] = None,
                  metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
                  wait_for_ready: Optional[bool] = None,
                  compression: Optional[Compression] = None) -> Tuple[Resp, _Rendezvous[Resp]]:
        """Run the RPC; return ``(response, call)``."""
        return self._blocking(request_iterator, timeout, metadata, credentials)

    def future(self, request_iterator: Iterator[Req], timeout: Optional[float] = None,
               metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
               wait_for_ready: Optional[bool] = None,
               compression: Optional[Compression] = None) -> _Rendezvous[Resp]:
        """Start the RPC; return a ``grpc.Future`` that is also a ``grpc.Call``."""
        return self._with_requests(request_iterator, timeout, metadata, credentials, False)


class StreamStreamMultiCallable(_StreamingMultiCallable[Req, Resp], StreamStreamBase[Req, Resp]):
    """A bidirectional-streaming method (``grpc.StreamStreamMultiCallable``)."""

    def __call__(self, request_iterator: Iterator[Req], timeout: Optional[float] = None,
                 metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
                 wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> _Rendezvous[Resp]:
        """Start the RPC; requests are consumed on a helper thread; return an
        iterator of responses that is also a ``grpc.Call`` and ``grpc.Future``."""
        return self._with_requests(request_iterator, timeout, metadata, credentials, True)
