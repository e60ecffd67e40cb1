"""asyncio API of lbchannel, modelled on ``grpc.aio``.

::

    import lbchannel.aio

    async with lbchannel.aio.Channel("ipv4:127.0.0.2:50051,127.0.0.3:50051") as ch:
        reply = await ch.unary("/pkg.Svc/Method", b"request", timeout=2.0)
        stub = my_pb2_grpc.MyServiceStub(ch)          # grpcio-generated stubs work
        response = await stub.UnaryMethod(request)
        async for r in stub.ServerStreamingMethod(request):
            ...
        call = stub.BidiMethod()
        await call.write(request); await call.done_writing()
        async for r in call: ...

How it works: one completion queue (``lbc_cq``) per channel, created on first
use; its file descriptor is watched with ``loop.add_reader``. When it is
readable, the events are drained with ``lbc_cq_poll(..., 0)`` and dispatched
by tag: a unary call's event carries its ``lbc_response``; a streaming call's
readiness flags make the waiting coroutines retry the non-blocking
``lbc_call_recv``/``lbc_call_send`` with timeout 0. Nothing blocks the event
loop and no thread is started per call. A channel is bound to the event loop
that first uses it.
"""

import asyncio
import ctypes
import logging
import time

from . import _metadata, _native
from ._call import END, MSG, CompletionQueue, NativeCall, run_callback, timeout_ms
from ._channel import Channel as _SyncChannel
from ._channel import _text
from ._errors import CallFinishedError, ClosedError, ErrorCode, MessageTooLargeError, SendClosedError, _check, _decode
from ._status import HAVE_GRPC, RpcError, StatusCode, public_code
from ._streaming import request_bytes

if HAVE_GRPC:
    import grpc as _grpc
    import grpc.aio as _grpc_aio

    _ChannelBase = _grpc_aio.Channel
    _AioRpcErrorBases = (RpcError, _grpc_aio.AioRpcError)
    _UnaryUnaryCallBase = (_grpc_aio.UnaryUnaryCall,)
    _UnaryStreamCallBase = (_grpc_aio.UnaryStreamCall,)
    _StreamUnaryCallBase = (_grpc_aio.StreamUnaryCall,)
    _StreamStreamCallBase = (_grpc_aio.StreamStreamCall,)
    _UUBase = _grpc_aio.UnaryUnaryMultiCallable
    _USBase = _grpc_aio.UnaryStreamMultiCallable
    _SUBase = _grpc_aio.StreamUnaryMultiCallable
    _SSBase = _grpc_aio.StreamStreamMultiCallable
    #: The end-of-stream value of ``read()`` (``grpc.aio.EOF`` with grpcio).
    EOF = _grpc_aio.EOF

    def _md(pairs):
        return _grpc_aio.Metadata(*pairs)

else:  # pragma: no cover
    _ChannelBase = object
    _AioRpcErrorBases = (RpcError,)
    _UnaryUnaryCallBase = _UnaryStreamCallBase = _StreamUnaryCallBase = _StreamStreamCallBase = ()
    _UUBase = _USBase = _SUBase = _SSBase = object

    class _EOFType:
        def __repr__(self):
            return "<lbchannel.aio.EOF>"

        def __bool__(self):
            return False

    EOF = _EOFType()

    def _md(pairs):
        return tuple(pairs)


__all__ = [
    "Channel",
    "AioRpcError",
    "EOF",
    "UnaryUnaryCall",
    "UnaryStreamCall",
    "StreamUnaryCall",
    "StreamStreamCall",
]

_logger = logging.getLogger("lbchannel")

_LOCALLY_CANCELLED = "Locally cancelled by application!"
_REQUEST_ITERATION_FAILED = "Exception iterating requests!"
_REQUEST_SERIALIZATION_FAILED = "Exception serializing request!"
_RESPONSE_DESERIALIZATION_FAILED = "Exception deserializing response!"
_NO_RESPONSE = "the server ended the call without a response message"
_RPC_ALREADY_FINISHED = "RPC already finished."
_RPC_HALF_CLOSED = "RPC is half closed after calling done_writing."

#: Longest run of lbc_cq_poll batches per readable callback before yielding to the loop.
_MAX_BATCHES = 16


class AioRpcError(*_AioRpcErrorBases):
    """An RPC of :mod:`lbchannel.aio` that ended with a non-OK status.

    Both an :class:`lbchannel.RpcError` and a ``grpc.aio.AioRpcError`` (so a
    ``grpc.RpcError``): ``code()``, ``details()``, ``initial_metadata()``,
    ``trailing_metadata()`` (``grpc.aio.Metadata`` objects), ``peer()``.
    """

    def __init__(self, status, details="", initial=(), trailing=(), peer=""):
        self._status = int(status)
        self._details = details
        self._initial = tuple(initial)
        self._trailing = tuple(trailing)
        self._peer = peer
        # Not grpc.aio.AioRpcError.__init__: it would overwrite the fields above.
        Exception.__init__(self, self._format())
        self._code = self.code()
        self._debug_error_string = self._format()

    def initial_metadata(self):
        return _md(self._initial)

    def trailing_metadata(self):
        return _md(self._trailing)


def _error(code, details, initial=(), trailing=(), peer="", cause=None):
    err = AioRpcError(code, details, initial or (), trailing or (), peer)
    if cause is not None:
        err.__cause__ = cause
    return err


def _serialize(serializer, request):
    return serializer(request) if serializer is not None else request_bytes(request)


# ---------------------------------------------------------------------------
# Unary calls (lbc_unary_async)
# ---------------------------------------------------------------------------


class UnaryUnaryCall(*_UnaryUnaryCallBase):
    """A unary RPC started with ``lbc_unary_async``: await it for the response.

    ``code()``, ``details()``, ``initial_metadata()``, ``trailing_metadata()``
    are coroutines (they wait for the end of the call); ``cancel()`` (or
    cancelling the awaiting task) ends the RPC on the wire
    (``lbc_unary_cancel``: the server sees RST_STREAM) and the awaiting
    coroutine gets ``asyncio.CancelledError``.
    """

    def __init__(self, channel, method, request, metadata, timeout, serializer, deserializer):
        self._deserialize = deserializer
        self._deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        try:
            payload = _serialize(serializer, request)
        except Exception as exc:
            raise _error(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED, cause=exc) from exc
        cq, loop = channel._bind()
        self._loop = loop
        self._fut = loop.create_future()
        self._result = None  # (status, details, data, initial, trailing, peer)
        self._response = None
        self._deserialized = False
        self._callbacks = []
        handle = channel._sync._live_handle()
        method_b = _text(method, "method")
        md = _metadata.build(metadata)
        tag = cq.register_future(self)
        self._cq, self._tag = cq, tag
        try:
            rc = _native.lbc_unary_async(handle, method_b, payload, len(payload), md, timeout_ms(timeout), cq.handle, ctypes.c_void_p(tag))
            if rc != 0:
                cq.unregister(tag)
                if rc == ErrorCode.MESSAGE_TOO_LARGE:  # an RPC outcome in grpc
                    raise _error(StatusCode.RESOURCE_EXHAUSTED, _decode(_native.lbc_last_errmsg()) or "message too large")
                _check(rc, "lbc_unary_async")
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)
        self._fut.add_done_callback(self._on_fut_done)

    # -- completion (event loop thread) ---------------------------------------------

    def _complete(self, resp):
        """The LBC_EVENT_UNARY of this call: copy the response out and free it."""
        try:
            status = _native.lbc_response_status(resp)
            details = _decode(_native.lbc_response_message(resp))
            length = ctypes.c_size_t(0)
            data_p = _native.lbc_response_data(resp, ctypes.byref(length))
            data = ctypes.string_at(data_p, length.value) if data_p and length.value else (b"" if data_p else None)
            initial = _metadata.read(_native.lbc_response_headers(resp))
            trailing = _metadata.read(_native.lbc_response_trailers(resp))
            peer = _decode(_native.lbc_response_peer(resp))
        finally:
            _native.lbc_response_free(resp)
        if not self._fut.done():
            self._fut.set_result((status, details, data, initial, trailing, peer))

    def _abort(self, status, details):
        """The channel closed before the event came."""
        if not self._fut.done():
            self._fut.set_result((status, details, None, (), (), ""))

    def _on_fut_done(self, fut):
        if fut.cancelled():
            # End the RPC itself, not only the wait; its late event is dropped.
            _native.lbc_unary_cancel(self._cq.handle, ctypes.c_void_p(self._tag))
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            run_callback(fn, self)

    def _outcome(self):
        if self._fut.cancelled():
            return (StatusCode.CANCELLED, _LOCALLY_CANCELLED, None, (), (), "")
        return self._fut.result()

    async def _wait(self):
        if not self._fut.done():
            await asyncio.wait([self._fut])
        return self._outcome()

    # -- awaiting -------------------------------------------------------------------

    def __await__(self):
        if not self._fut.done():
            yield from self._fut.__await__()  # cancelling the awaiting task cancels the call
        if self._fut.cancelled():
            raise asyncio.CancelledError()
        status, details, data, initial, trailing, peer = self._fut.result()
        if status != 0:
            raise _error(status, details, initial, trailing, peer)
        if not self._deserialized:
            if data is None:
                data = b""
            if self._deserialize is not None:
                try:
                    self._response = self._deserialize(data)
                except Exception as exc:
                    raise _error(StatusCode.INTERNAL, _RESPONSE_DESERIALIZATION_FAILED, initial, trailing, peer, exc) from exc
            else:
                self._response = data
            self._deserialized = True
        return self._response

    # -- grpc.aio.Call ----------------------------------------------------------------

    def cancel(self):
        """Stop waiting: True if the call had not finished."""
        return self._fut.cancel()

    def cancelled(self):
        return self._fut.cancelled()

    def done(self):
        return self._fut.done()

    def time_remaining(self):
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def add_done_callback(self, callback):
        """Call ``callback(call)`` on the event loop when the call ends."""
        if self._fut.done():
            self._loop.call_soon(run_callback, callback, self)
        else:
            self._callbacks.append(callback)

    async def initial_metadata(self):
        return _md((await self._wait())[3])

    async def trailing_metadata(self):
        return _md((await self._wait())[4])

    async def code(self):
        return public_code((await self._wait())[0])

    async def details(self):
        return (await self._wait())[1]

    async def peer(self):
        return (await self._wait())[5]

    async def wait_for_connection(self):
        await self._wait()

    def __repr__(self):
        state = "done" if self._fut.done() else "active"
        return "<lbchannel.aio.UnaryUnaryCall %s>" % state


# ---------------------------------------------------------------------------
# Streaming calls (lbc_call_*)
# ---------------------------------------------------------------------------


class _CallCore:
    """What the channel's queue dispatches to: a NativeCall and its waiters."""

    def __init__(self, channel, native, loop):
        self.channel = channel
        self.native = native
        self.loop = loop
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.headers_ev = asyncio.Event()
        self.done_ev = asyncio.Event()
        self.user_cancelled = False
        self.done_writing = False
        self.callbacks = []
        self.consumer = None
        self.tag = None

    def on_event(self, flags):
        if flags & _native.LBC_CALL_READABLE:
            self.readable.set()
        if flags & _native.LBC_CALL_WRITABLE:
            self.writable.set()
        if flags & _native.LBC_CALL_HEADERS:
            self.headers_ev.set()
        if flags & _native.LBC_CALL_DONE:
            self.on_done()

    def on_done(self):
        native = self.native
        if not native.done:
            try:
                native.finish(0)
            except Exception:
                _logger.exception("lbchannel: lbc_call_finish after LBC_CALL_DONE failed")
            if not native.done:
                _logger.error("lbchannel: LBC_CALL_DONE arrived but lbc_call_finish(0) would block")
                native.fail_locally(StatusCode.INTERNAL, "lbchannel: call ended without a status")
        self.wake_all()

    def wake_all(self):
        for ev in (self.readable, self.writable, self.headers_ev, self.done_ev):
            ev.set()
        callbacks, self.callbacks = self.callbacks, []
        for fn in callbacks:
            self.loop.call_soon(run_callback, fn)

    def local_fail(self, code, details, exc=None):
        if self.native.fail_locally(code, details, exc):
            self.wake_all()

    async def wait_done(self):
        while not self.native.done:
            if not self.native.alive:
                break
            if self.native.finish(0):
                break
            await self.done_ev.wait()

    def release(self):
        """Free the native call (cancels it if still running)."""
        self.channel._forget(self)
        self.native.free()
        self.wake_all()


class _StreamCallBase:
    """Shared by the grpc.aio-style streaming call objects."""

    _responses_single = False

    def __init__(self, core, serializer, deserializer):
        self._core = core
        self._serialize = serializer
        self._deserialize = deserializer
        self._aiter = None
        self._single = None  # (done, value) for single-response calls

    # -- status ---------------------------------------------------------------------

    def _raise_if_cancelled(self):
        if self._core.user_cancelled:
            raise asyncio.CancelledError()

    def _status_error(self):
        """The AioRpcError for a finished, non-OK call (None when OK)."""
        native = self._core.native
        code, details, trailing = native.status()
        if code == 0:
            return None
        return _error(code, details, native.initial or (), trailing, native.peer(), native.local_error)

    async def _raise_for_status(self):
        await self._core.wait_done()
        self._raise_if_cancelled()
        err = self._status_error()
        if err is not None:
            raise err

    def _maybe_release(self):
        native = self._core.native
        if native.done and native.drained:
            self._core.release()

    # -- reading ----------------------------------------------------------------------

    async def _read_raw(self):
        """Next message bytes, or EOF once the call ended and all messages were taken."""
        core = self._core
        native = core.native
        try:
            while True:
                core.readable.clear()
                kind, data = native.recv(0)
                if kind == MSG:
                    return data
                if kind == END:
                    await core.wait_done()
                    self._maybe_release()
                    return EOF
                await core.readable.wait()
        except asyncio.CancelledError:
            # The coroutine reading was cancelled: so is the RPC (as in grpc.aio).
            self.cancel()
            raise

    async def _read(self):
        self._raise_if_cancelled()
        data = await self._read_raw()
        if data is EOF:
            await self._raise_for_status()
            return EOF
        if self._deserialize is None:
            return data
        try:
            return self._deserialize(data)
        except Exception as exc:
            self._core.local_fail(StatusCode.INTERNAL, _RESPONSE_DESERIALIZATION_FAILED, exc)
            raise self._status_error() from exc

    async def read(self):
        """The next response, or ``EOF`` (``grpc.aio.EOF``) after the last one.

        Raises AioRpcError if the call failed, asyncio.CancelledError if it was cancelled.
        """
        return await self._read()

    async def _messages(self):
        while True:
            message = await self._read()
            if message is EOF:
                return
            yield message

    def __aiter__(self):
        if self._aiter is None:
            self._aiter = self._messages()
        return self._aiter

    # -- writing ----------------------------------------------------------------------

    async def _write_bytes(self, data):
        core = self._core
        native = core.native
        while True:
            core.writable.clear()
            try:
                if native.send(data, False, 0):
                    return
            except (CallFinishedError, SendClosedError) as exc:
                if isinstance(exc, SendClosedError) or core.done_writing:
                    raise asyncio.InvalidStateError(_RPC_HALF_CLOSED) from None
                await self._raise_for_status()
                raise asyncio.InvalidStateError(_RPC_ALREADY_FINISHED) from None
            await core.writable.wait()

    async def write(self, request):
        """Send one request, waiting (without blocking the loop) for room in the send buffer.

        Raises asyncio.InvalidStateError after done_writing() or once the call
        ended OK, AioRpcError if it ended with an error.
        """
        core = self._core
        self._raise_if_cancelled()
        if core.done_writing:
            raise asyncio.InvalidStateError(_RPC_HALF_CLOSED)
        if core.native.done:
            await self._raise_for_status()
            raise asyncio.InvalidStateError(_RPC_ALREADY_FINISHED)
        try:
            data = _serialize(self._serialize, request)
        except Exception as exc:
            core.local_fail(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED, exc)
            raise self._status_error() from exc
        try:
            await self._write_bytes(data)
        except MessageTooLargeError as exc:
            core.local_fail(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)
            raise self._status_error() from exc
        except asyncio.CancelledError:
            self.cancel()
            raise

    async def done_writing(self):
        """Half-close: no more requests."""
        core = self._core
        if not core.done_writing:
            core.done_writing = True
            core.native.close_send()

    async def _consume(self, request_iterator):
        """Send the requests of a (sync or async) iterator, then half-close (a task per call)."""
        core = self._core
        try:
            if hasattr(request_iterator, "__aiter__"):
                async for request in request_iterator:
                    if not await self._consume_one(request):
                        return
            else:
                for request in request_iterator:
                    if not await self._consume_one(request):
                        return
            await self.done_writing()
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            core.local_fail(StatusCode.UNKNOWN, _REQUEST_ITERATION_FAILED, exc)

    async def _consume_one(self, request):
        core = self._core
        if core.native.done or not core.native.alive:
            return False
        try:
            data = _serialize(self._serialize, request)
        except Exception as exc:
            core.local_fail(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED, exc)
            return False
        try:
            await self._write_bytes(data)
        except (asyncio.InvalidStateError, RpcError):
            return False
        except MessageTooLargeError as exc:
            core.local_fail(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)
            return False
        return True

    def _start_consumer(self, request_iterator):
        self._core.consumer = self._core.loop.create_task(self._consume(request_iterator))

    # -- single response (stream_unary) ---------------------------------------------------

    async def _single_response(self):
        if self._single is None:
            self._raise_if_cancelled()
            data = await self._read_raw()
            await self._raise_for_status()
            if data is EOF:
                self._core.local_fail(StatusCode.INTERNAL, _NO_RESPONSE)
                await self._raise_for_status()
            if self._deserialize is not None:
                try:
                    data = self._deserialize(data)
                except Exception as exc:
                    self._core.local_fail(StatusCode.INTERNAL, _RESPONSE_DESERIALIZATION_FAILED, exc)
                    raise self._status_error() from exc
            self._single = (True, data)
            self._core.release()
        return self._single[1]

    # -- grpc.aio.Call ----------------------------------------------------------------

    def cancel(self):
        """Cancel the RPC (the server sees RST_STREAM); True if it was still running."""
        core = self._core
        if core.native.done:
            return False
        core.user_cancelled = True
        core.native.cancel()
        if core.consumer is not None and not core.consumer.done():
            core.consumer.cancel()
        core.wake_all()
        return True

    def cancelled(self):
        return self._core.user_cancelled

    def done(self):
        return self._core.native.done

    def time_remaining(self):
        return self._core.native.time_remaining()

    def add_done_callback(self, callback):
        """Call ``callback(call)`` on the event loop when the call ends."""
        core = self._core
        if core.native.done:
            core.loop.call_soon(run_callback, callback, self)
        else:
            core.callbacks.append(lambda: callback(self))

    async def initial_metadata(self):
        core = self._core
        native = core.native
        while True:
            core.headers_ev.clear()
            md = native.headers(0)
            if md is not None:
                return _md(md)
            if native.done and not native.alive:
                return _md(native.initial or ())
            await core.headers_ev.wait()

    async def trailing_metadata(self):
        await self._core.wait_done()
        return _md(self._core.native.status()[2])

    async def code(self):
        await self._core.wait_done()
        if self._core.user_cancelled:
            return public_code(StatusCode.CANCELLED)
        return public_code(self._core.native.status()[0])

    async def details(self):
        await self._core.wait_done()
        return self._core.native.status()[1]

    async def peer(self):
        return self._core.native.peer()

    async def wait_for_connection(self):
        await self.initial_metadata()

    def __del__(self):
        try:
            core = self._core
            if core.native.alive:
                core.channel._forget(core)
                core.native.free()
        except Exception:
            pass

    def __repr__(self):
        status = self._core.native.status()
        state = "active" if status is None else "ended %s" % public_code(status[0])
        return "<lbchannel.aio.%s %s>" % (type(self).__name__, state)


class UnaryStreamCall(_StreamCallBase, *_UnaryStreamCallBase):
    """A server-streaming call: ``async for response in call`` or ``await call.read()``."""


class StreamUnaryCall(_StreamCallBase, *_StreamUnaryCallBase):
    """A client-streaming call: ``await call.write(req)``, ``await call.done_writing()``,
    then ``await call`` for the response (or pass a request iterator)."""

    def __await__(self):
        return self._single_response().__await__()


class StreamStreamCall(_StreamCallBase, *_StreamStreamCallBase):
    """A bidirectional call: ``write()``/``done_writing()`` and ``read()``/``async for``."""


# ---------------------------------------------------------------------------
# Multi-callables
# ---------------------------------------------------------------------------


class _MultiCallable:
    def __init__(self, channel, method, request_serializer, response_deserializer):
        self._channel = channel
        self._method = method
        self._serialize = request_serializer
        self._deserialize = response_deserializer

    @staticmethod
    def _check_credentials(credentials):
        if credentials is not None:
            raise NotImplementedError("per-call credentials are not supported by lbchannel")


class UnaryUnaryMultiCallable(_MultiCallable, _UUBase):
    def __call__(self, request, *, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        self._check_credentials(credentials)
        return UnaryUnaryCall(self._channel, self._method, request, metadata, timeout, self._serialize, self._deserialize)


class UnaryStreamMultiCallable(_MultiCallable, _USBase):
    def __call__(self, request, *, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        self._check_credentials(credentials)
        try:
            data = _serialize(self._serialize, request)
        except Exception as exc:
            raise _error(StatusCode.INTERNAL, _REQUEST_SERIALIZATION_FAILED, cause=exc) from exc
        core = self._channel._start_call(self._method, metadata, timeout)
        call = UnaryStreamCall(core, self._serialize, self._deserialize)
        try:
            core.native.send(data, True, 0)  # the buffer is empty: always accepted
        except (CallFinishedError, SendClosedError):
            pass  # ended already: reading reports the status
        except MessageTooLargeError as exc:
            core.local_fail(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc), exc)
        core.done_writing = True
        return call


class StreamUnaryMultiCallable(_MultiCallable, _SUBase):
    def __call__(self, request_iterator=None, *, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        self._check_credentials(credentials)
        core = self._channel._start_call(self._method, metadata, timeout)
        call = StreamUnaryCall(core, self._serialize, self._deserialize)
        if request_iterator is not None:
            call._start_consumer(request_iterator)
        return call


class StreamStreamMultiCallable(_MultiCallable, _SSBase):
    def __call__(self, request_iterator=None, *, timeout=None, metadata=None, credentials=None,
                 wait_for_ready=None, compression=None):
        self._check_credentials(credentials)
        core = self._channel._start_call(self._method, metadata, timeout)
        call = StreamStreamCall(core, self._serialize, self._deserialize)
        if request_iterator is not None:
            call._start_consumer(request_iterator)
        return call


# ---------------------------------------------------------------------------
# Channel
# ---------------------------------------------------------------------------


class Channel(_ChannelBase):
    """An asyncio load-balanced channel (``grpc.aio.Channel`` interface).

    Arguments as for :class:`lbchannel.Channel` (target, ``lookup``,
    ``log_callback``, ``**options``). Use ``async with`` or ``await
    channel.close()``. Bound to the event loop that first uses it.
    """

    def __init__(self, target, lookup=None, log_callback=None, **options):
        self._sync = None
        self._sync = _SyncChannel(target, lookup=lookup, log_callback=log_callback, **options)
        self._loop = None
        self._cq = None
        self._fd = -1
        self._calls = set()  # live _CallCore objects (for close)
        self._closed = False

    # -- event loop plumbing ---------------------------------------------------------------

    def _bind(self):
        """The channel's queue and loop, creating the queue on first use."""
        if self._closed:
            raise ClosedError(ErrorCode.CLOSED, "the channel is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            cq = CompletionQueue()
            fd = cq.fd()
            try:
                loop.add_reader(fd, self._on_readable)
            except BaseException:
                cq.free()
                raise
            self._cq, self._fd, self._loop = cq, fd, loop
        elif self._loop is not loop:
            raise RuntimeError("this lbchannel.aio.Channel is bound to another event loop")
        return self._cq, loop

    def _on_readable(self):
        cq = self._cq
        if cq is None:
            return
        for _ in range(_MAX_BATCHES):
            events = cq.poll(0)
            if not events:
                return
            for tag, kind, flags, resp in events:
                try:
                    self._dispatch(cq, tag, kind, flags, resp)
                except Exception:
                    _logger.exception("lbchannel.aio: dispatching an event failed")

    def _dispatch(self, cq, tag, kind, flags, resp):
        if kind == _native.LBC_EVENT_UNARY:
            target = cq.unregister(tag)
            if target is None:
                if resp is not None:
                    _native.lbc_response_free(resp)
                return
            target._complete(resp)
            return
        if resp is not None:  # pragma: no cover - not expected for call events
            _native.lbc_response_free(resp)
        target = cq.lookup(tag)
        if target is None:
            return
        if flags & _native.LBC_CALL_DONE:
            cq.unregister(tag)
        target.on_event(flags)

    def _start_call(self, method, metadata, timeout):
        cq, loop = self._bind()
        handle = self._sync._live_handle()
        method_b = _text(method, "method")
        native = NativeCall(timeout)
        core = _CallCore(self, native, loop)
        tag = cq.register_future(core)
        core.tag = tag
        native.tag = tag
        md = _metadata.build(metadata)
        try:
            native.start(handle, method_b, md, timeout_ms(timeout), cq.handle)
        except BaseException:
            cq.unregister(tag)
            raise
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)
        self._calls.add(core)
        return core

    def _forget(self, core):
        self._calls.discard(core)
        if self._cq is not None and core.tag is not None:
            self._cq.unregister(core.tag)

    # -- lifetime -------------------------------------------------------------------------

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc_val, exc_tb):
        await self.close()

    async def close(self, grace=None):
        """Close the channel: running calls end with CANCELLED. Idempotent."""
        self._close()

    def _close(self):
        if self._closed:
            return
        self._closed = True
        if self._sync is not None:
            self._sync.close()  # in-flight RPCs end with CANCELLED; their events are queued
        cq = self._cq
        if cq is not None:
            try:
                self._on_readable()  # deliver the final events
            except Exception:
                _logger.exception("lbchannel.aio: draining the queue at close failed")
            for tag, target in cq.targets():
                cq.unregister(tag)
                if isinstance(target, UnaryUnaryCall):
                    target._abort(StatusCode.CANCELLED, "channel closed")
            for core in list(self._calls):
                try:
                    core.native.finish(0)
                    if not core.native.done:
                        core.native.fail_locally(StatusCode.CANCELLED, "channel closed")
                    core.native.free()
                finally:
                    core.wake_all()
            self._calls.clear()
            try:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(self._fd)
            finally:
                self._cq = None
                cq.free()

    def __del__(self):
        try:
            if not self.__dict__.get("_closed", True):
                self._close()
        except Exception:
            pass

    @property
    def closed(self):
        return self._closed

    # -- bytes-level API ------------------------------------------------------------------

    async def unary(self, method, request, timeout=None, metadata=None):
        """Run a unary RPC on raw bytes; return the response bytes (raises AioRpcError)."""
        return await UnaryUnaryCall(self, method, request, metadata, timeout, None, None)

    async def unary_with_call(self, method, request, timeout=None, metadata=None):
        """As :meth:`unary`; return ``(response_bytes, call)``."""
        call = UnaryUnaryCall(self, method, request, metadata, timeout, None, None)
        return await call, call

    def stream(self, method, metadata=None, timeout=None):
        """Start a bytes-level streaming call (any shape): a :class:`StreamStreamCall`
        with ``write()``/``done_writing()``/``read()``/``async for``."""
        core = self._start_call(method, metadata, timeout)
        return StreamStreamCall(core, None, None)

    # -- grpc.aio.Channel -------------------------------------------------------------------

    def unary_unary(self, method, request_serializer=None, response_deserializer=None,
                    _registered_method=False, **kwargs):
        return UnaryUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        return UnaryStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        return StreamUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None,
                      _registered_method=False, **kwargs):
        return StreamStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def get_state(self, try_to_connect=False):
        """The aggregate connectivity state (``grpc.ChannelConnectivity``)."""
        state = "SHUTDOWN" if self._closed else self._sync._connectivity()
        return getattr(_grpc.ChannelConnectivity, state) if HAVE_GRPC else state

    async def wait_for_state_change(self, last_observed_state):
        while self.get_state() == last_observed_state:
            await asyncio.sleep(0.05)

    async def channel_ready(self):
        ready = _grpc.ChannelConnectivity.READY if HAVE_GRPC else "READY"
        state = self.get_state(True)
        while state != ready:
            await self.wait_for_state_change(state)
            state = self.get_state(True)

    # -- introspection ----------------------------------------------------------------------

    @property
    def target(self):
        return self._sync.target

    def stats(self):
        return self._sync.stats()

    def endpoints(self):
        return self._sync.endpoints()

    def set_endpoints(self, addresses):
        self._sync.set_endpoints(addresses)

    def __repr__(self):
        return "<lbchannel.aio.Channel %r%s>" % (self.target, " closed" if self._closed else "")
