"""lbchannel.aio streaming calls (lbc_call_* driven by queue readiness events)."""

import asyncio

from .. import _native
from .._call import END, MSG, run_callback
from .._errors import CallFinishedError, MessageTooLargeError, SendClosedError
from .._status import RpcError, StatusCode, public_code
from ._common import (
    _UnaryStreamCallBase,
    _StreamUnaryCallBase,
    _StreamStreamCallBase,
    EOF,
    _md,
    _logger,
    _REQUEST_ITERATION_FAILED,
    _REQUEST_SERIALIZATION_FAILED,
    _RESPONSE_DESERIALIZATION_FAILED,
    _NO_RESPONSE,
    _RPC_ALREADY_FINISHED,
    _RPC_HALF_CLOSED,
    _error,
    _serialize,
)


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

    @property
    def _done_writing_flag(self):
        """Whether the call is half-closed (read by grpc.aio's intercepted calls)."""
        return self._core.done_writing

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
