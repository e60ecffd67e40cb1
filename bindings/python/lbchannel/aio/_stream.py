"""lbchannel.aio streaming calls (lbc_call_* driven by queue readiness events)."""

from __future__ import annotations

import asyncio
from typing import (TYPE_CHECKING, Any, AsyncIterator, Callable, Generator, Generic, Iterator, Optional, Tuple, TypeVar,
                    Union)

from .. import _native
from .._call import END, MSG, NOT_YET, NativeCall, NotYet, run_callback
from .._errors import CallFinishedError, MessageTooLargeError, SendClosedError
from .._grpc import (EOF, AioStreamStreamCallBase, AioStreamUnaryCallBase, AioUnaryStreamCallBase, Metadata,
                     MetadataTuple, PublicCode, Req, Resp, aio_metadata)
from .._status import REQUEST_ITERATION_FAILED, RpcError, StatusCode, public_code
from ._unary import AioRpcError

if TYPE_CHECKING:
    from ._channel import Channel

_T = TypeVar("_T")
#: A request iterator of a client-streaming call: sync or async.
RequestIterator = Union[Iterator[Req], AsyncIterator[Req]]

# grpc.aio's messages.
_RPC_ALREADY_FINISHED = "RPC already finished."
_RPC_HALF_CLOSED = "RPC is half closed after calling done_writing."


class _CallCore:
    """What the channel's queue dispatches to: a NativeCall and the events its waiters wait on.

    Everything runs on the event loop's thread; the native call's end (its status,
    a cancellation, a local failure, its release) wakes every waiter.
    """

    def __init__(self, channel: Channel, native: NativeCall, loop: asyncio.AbstractEventLoop) -> None:
        self.channel = channel
        self.native = native
        self.loop = loop
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.headers_ev = asyncio.Event()
        self.done_ev = asyncio.Event()
        self.done_writing = False
        self.consumer: Optional[asyncio.Task[None]] = None
        native.add_callback(self.wake_all)

    def on_event(self, flags: int) -> None:
        if flags & _native.LBC_CALL_READABLE:
            self.readable.set()
        if flags & _native.LBC_CALL_WRITABLE:
            self.writable.set()
        if flags & _native.LBC_CALL_HEADERS:
            self.headers_ev.set()
        if flags & _native.LBC_CALL_DONE:
            self.native.on_event(flags)
            if not self.native.done:  # pragma: no cover - a library bug: do not wait forever
                self.native.fail_locally(StatusCode.INTERNAL, "lbchannel: call ended without a status")

    def wake_all(self) -> None:
        for ev in (self.readable, self.writable, self.headers_ev, self.done_ev):
            ev.set()

    async def wait_done(self) -> None:
        native = self.native
        await self.until(self.done_ev, lambda: True if native.done or not native.alive or native.finish(0) else NOT_YET)

    async def until(self, event: asyncio.Event, attempt: Callable[[], Union[_T, NotYet]]) -> _T:
        """``attempt()`` (non-blocking), again each time ``event`` is set, until it returns
        something other than NOT_YET: the event-loop counterpart of ``_call._in_slices``."""
        while True:
            event.clear()
            result = attempt()
            if result is not NOT_YET:
                return result
            await event.wait()

    def release(self) -> None:
        """Free the native call (cancels it if still running)."""
        self.channel._forget(self)
        self.native.free()
        self.wake_all()


class _StreamCallBase(Generic[Req, Resp]):
    """Shared by the grpc.aio-style streaming call objects."""

    def __init__(self, core: _CallCore, serializer: Optional[Callable[[Req], bytes]],
                 deserializer: Optional[Callable[[bytes], Resp]]) -> None:
        self._core = core
        self._serialize = serializer
        self._deserialize = deserializer
        self._aiter: Optional[AsyncIterator[Resp]] = None
        self._single: Optional[Tuple[Resp]] = None  # the response of a single-response call

    # -- status ---------------------------------------------------------------------

    def _raise_if_cancelled(self) -> None:
        if self._core.native.cancelled:
            raise asyncio.CancelledError()

    def _status_error(self) -> AioRpcError:
        """The AioRpcError of the finished call (call it only when its status is not OK)."""
        return self._core.native.error(AioRpcError)

    async def _raise_for_status(self) -> None:
        await self._core.wait_done()
        self._raise_if_cancelled()
        status = self._core.native.status()
        if status is not None and status[0] != 0:
            raise self._status_error()

    def _maybe_release(self) -> None:
        native = self._core.native
        if native.done and native.drained:
            self._core.release()

    # -- reading ----------------------------------------------------------------------

    async def _read_raw(self) -> Union[bytes, object]:
        """Next message bytes, or EOF once the call ended and all messages were taken."""
        core = self._core
        native = core.native
        try:
            while True:  # inline, not core.until(): this runs per message
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

    async def _read(self) -> Union[Resp, object]:
        self._raise_if_cancelled()
        data = await self._read_raw()
        if data is EOF:
            await self._raise_for_status()
            return EOF
        return self._deserialized(data)  # type: ignore[arg-type]  # not EOF: bytes

    def _deserialized(self, data: bytes) -> Resp:
        response: Resp = self._core.native.decode(self._deserialize, data, self._status_error)
        return response

    async def read(self) -> Union[Resp, object]:
        """The next response, or ``EOF`` (``grpc.aio.EOF``) after the last one.

        Raises AioRpcError if the call failed, asyncio.CancelledError if it was cancelled.
        """
        return await self._read()

    async def _messages(self) -> AsyncIterator[Resp]:
        while True:
            message = await self._read()
            if message is EOF:
                return
            yield message  # type: ignore[misc]  # not EOF: a response

    def __aiter__(self) -> AsyncIterator[Resp]:
        if self._aiter is None:
            self._aiter = self._messages()
        return self._aiter

    # -- writing ----------------------------------------------------------------------

    async def write(self, request: Req) -> None:
        """Send one request, waiting (without blocking the loop) for room in the send buffer.

        Raises asyncio.InvalidStateError after done_writing() or once the call
        ended OK, AioRpcError if it ended with an error.
        """
        core = self._core
        native = core.native
        self._raise_if_cancelled()
        if not core.done_writing and not native.done:
            data = native.encode(self._serialize, request)
            try:
                while data is not None:  # inline, not core.until(): this runs per message
                    core.writable.clear()
                    if native.send(data, False, 0):
                        return
                    await core.writable.wait()
            except MessageTooLargeError as exc:
                native.too_large(exc)
            except (CallFinishedError, SendClosedError) as exc:
                if isinstance(exc, SendClosedError):
                    core.done_writing = True
            except asyncio.CancelledError:
                self.cancel()
                raise
        if core.done_writing:
            raise asyncio.InvalidStateError(_RPC_HALF_CLOSED)
        await self._raise_for_status()
        raise asyncio.InvalidStateError(_RPC_ALREADY_FINISHED)

    @property
    def _done_writing_flag(self) -> bool:
        """Whether the call is half-closed (read by grpc.aio's intercepted calls)."""
        return self._core.done_writing

    async def done_writing(self) -> None:
        """Half-close: no more requests."""
        core = self._core
        if not core.done_writing:
            core.done_writing = True
            core.native.close_send()

    async def _consume(self, request_iterator: RequestIterator[Req]) -> None:
        """Send the requests of a (sync or async) iterator, then half-close (a task per call)."""
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
            self._core.native.fail_locally(StatusCode.UNKNOWN, REQUEST_ITERATION_FAILED, exc)

    async def _consume_one(self, request: Req) -> bool:
        try:
            await self.write(request)
            return True
        except (asyncio.InvalidStateError, RpcError):
            return False

    def _start_consumer(self, request_iterator: RequestIterator[Req]) -> None:
        self._core.consumer = self._core.loop.create_task(self._consume(request_iterator))

    # -- single response (stream_unary) ---------------------------------------------------

    async def _single_response(self) -> Resp:
        if self._single is None:
            self._raise_if_cancelled()
            data = await self._read_raw()
            await self._raise_for_status()
            if data is EOF:
                self._core.native.missing_response()
                await self._raise_for_status()
            self._single = (self._deserialized(data),)  # type: ignore[arg-type]  # not EOF: bytes
            self._core.release()
        return self._single[0]

    # -- grpc.aio.Call ----------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the RPC (the server sees RST_STREAM); True if it was still running."""
        core = self._core
        if not core.native.cancel():
            return False
        if core.consumer is not None and not core.consumer.done():
            core.consumer.cancel()
        return True

    def cancelled(self) -> bool:
        return self._core.native.cancelled

    def done(self) -> bool:
        return self._core.native.done

    def time_remaining(self) -> Optional[float]:
        return self._core.native.time_remaining()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(call)`` on the event loop when the call ends."""
        if not self._core.native.add_callback(lambda: callback(self)):
            self._core.loop.call_soon(run_callback, callback, self)

    async def initial_metadata(self) -> Metadata:
        native = self._core.native

        def attempt() -> Union[MetadataTuple, NotYet]:
            md = native.headers(0)
            if md is None and native.done and not native.alive:
                md = native.initial or ()
            return NOT_YET if md is None else md
        return aio_metadata(await self._core.until(self._core.headers_ev, attempt))

    async def _status(self) -> Tuple[int, str, Any]:
        await self._core.wait_done()
        return self._core.native.status() or (StatusCode.UNKNOWN, "", ())

    async def trailing_metadata(self) -> Metadata:
        return aio_metadata((await self._status())[2])

    async def code(self) -> PublicCode:
        code = (await self._status())[0]
        return public_code(code)

    async def details(self) -> str:
        return (await self._status())[1]

    async def peer(self) -> str:
        return self._core.native.peer()

    async def wait_for_connection(self) -> None:
        await self.initial_metadata()

    def __del__(self) -> None:
        try:
            core = self._core
            if core.native.alive:
                core.channel._forget(core)
                core.native.free()
        except Exception:
            pass

    def __repr__(self) -> str:
        status = self._core.native.status()
        state = "active" if status is None else "ended %s" % public_code(status[0])
        return "<lbchannel.aio.%s %s>" % (type(self).__name__, state)


class UnaryStreamCall(_StreamCallBase[Req, Resp], AioUnaryStreamCallBase[Req, Resp]):
    """A server-streaming call: ``async for response in call`` or ``await call.read()``."""


class StreamUnaryCall(_StreamCallBase[Req, Resp], AioStreamUnaryCallBase[Req, Resp]):
    """A client-streaming call: ``await call.write(req)``, ``await call.done_writing()``,
    then ``await call`` for the response (or pass a request iterator)."""

    def __await__(self) -> Generator[Any, None, Resp]:
        return self._single_response().__await__()


class StreamStreamCall(_StreamCallBase[Req, Resp], AioStreamStreamCallBase[Req, Resp]):
    """A bidirectional call: ``write()``/``done_writing()`` and ``read()``/``async for``."""
