"""lbchannel.aio unary calls (lbc_unary_async on the channel's completion queue)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, List, Optional, Tuple

from .. import _native
from .._call import call_from_response, remaining, run_callback, serialize
from .._errors import MessageTooLargeError
from .._grpc import AioUnaryUnaryCallBase, Metadata, MetadataArg, PublicCode, Req, Resp, aio_metadata
from .._status import LOCALLY_CANCELLED, REQUEST_SERIALIZATION_FAILED, RESPONSE_DESERIALIZATION_FAILED, Call, StatusCode
from ._common import AioRpcError, _error

if TYPE_CHECKING:
    from ._channel import Channel

class UnaryUnaryCall(AioUnaryUnaryCallBase[Req, Resp]):
    """A unary RPC started with ``lbc_unary_async``: await it for the response.

    ``code()``, ``details()``, ``initial_metadata()``, ``trailing_metadata()``
    are coroutines (they wait for the end of the call); ``cancel()`` (or
    cancelling the awaiting task) ends the RPC on the wire
    (``lbc_unary_cancel``: the server sees RST_STREAM) and the awaiting
    coroutine gets ``asyncio.CancelledError``.
    """

    def __init__(self, channel: Channel, method: str, request: Req, metadata: MetadataArg,
                 timeout: Optional[float], serializer: Optional[Callable[[Req], bytes]],
                 deserializer: Optional[Callable[[bytes], Resp]]) -> None:
        self._deserialize = deserializer
        self._deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        try:
            payload = serialize(serializer, request)
        except Exception as exc:
            raise _error(StatusCode.INTERNAL, REQUEST_SERIALIZATION_FAILED, cause=exc) from exc
        cq, loop = channel._bind()
        self._loop = loop
        self._fut: asyncio.Future[Call] = loop.create_future()
        self._response: Optional[Resp] = None
        self._deserialized = False
        self._callbacks: List[Callable[[Any], None]] = []
        self._attempt_peers: Tuple[str, ...] = ()
        #: The call's ``lbc_unary_call*`` (cancel by handle); freed when the call ends.
        self._call: Any = None
        try:
            self._call = channel._sync._start_unary(method, payload, timeout, metadata, self, cq)
        except MessageTooLargeError as exc:  # an RPC outcome in grpc
            raise _error(StatusCode.RESOURCE_EXHAUSTED, exc.message or "message too large") from None
        self._fut.add_done_callback(self._on_fut_done)

    # -- completion (event loop thread) ---------------------------------------------

    def _complete(self, resp: Any) -> None:
        """The LBC_EVENT_UNARY of this call: copy the response out and free it."""
        call = call_from_response(resp)
        self._attempt_peers = call._attempt_peers or ()
        if not self._fut.done():
            self._fut.set_result(call)

    def _abort(self, status: int, details: str) -> None:
        """The channel closed before the event came."""
        if not self._fut.done():
            self._fut.set_result(Call(status, details, (), (), ""))

    def _on_fut_done(self, fut: asyncio.Future[Call]) -> None:
        if fut.cancelled():
            # End the RPC itself, not only the wait; its late event is dropped.
            if self._call:
                _native.lbc_unary_call_cancel(self._call)
        self._free_handle()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            run_callback(fn, self)

    def _free_handle(self) -> None:
        """Release the ``lbc_unary_call*`` (the handle only; the event still comes)."""
        call, self._call = getattr(self, "_call", None), None
        if call:
            _native.lbc_unary_call_free(call)

    def __del__(self) -> None:
        try:
            self._free_handle()
        except Exception:  # interpreter shutdown: the module may be gone
            pass

    async def _wait(self) -> Call:
        """The finished call (a CANCELLED one once cancelled)."""
        if not self._fut.done():
            await asyncio.wait([self._fut])
        if self._fut.cancelled():
            return Call(StatusCode.CANCELLED, LOCALLY_CANCELLED, (), (), "")
        return self._fut.result()

    # -- awaiting -------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Resp]:
        if not self._fut.done():
            yield from self._fut.__await__()  # cancelling the awaiting task cancels the call
        if self._fut.cancelled():
            raise asyncio.CancelledError()
        call = self._fut.result()
        if call._status != 0:
            raise AioRpcError.from_call(call)
        if not self._deserialized:
            if self._deserialize is not None:
                try:
                    self._response = self._deserialize(call._response)
                except Exception as exc:
                    raise _error(StatusCode.INTERNAL, RESPONSE_DESERIALIZATION_FAILED, call._initial,
                                 call._trailing, call._peer, exc) from exc
            else:
                self._response = call._response  # type: ignore[assignment]  # bytes: no deserializer
            self._deserialized = True
        return self._response  # type: ignore[return-value]  # set just above

    # -- grpc.aio.Call ----------------------------------------------------------------

    def cancel(self) -> bool:
        """Stop waiting: True if the call had not finished."""
        return self._fut.cancel()

    def cancelled(self) -> bool:
        return self._fut.cancelled()

    def done(self) -> bool:
        return self._fut.done()

    def time_remaining(self) -> Optional[float]:
        return remaining(self._deadline)

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(call)`` on the event loop when the call ends."""
        if self._fut.done():
            self._loop.call_soon(run_callback, callback, self)
        else:
            self._callbacks.append(callback)

    async def initial_metadata(self) -> Metadata:
        return aio_metadata((await self._wait())._initial)

    async def trailing_metadata(self) -> Metadata:
        return aio_metadata((await self._wait())._trailing)

    async def code(self) -> PublicCode:
        return (await self._wait()).code()

    async def details(self) -> str:
        return (await self._wait()).details()

    async def peer(self) -> str:
        return (await self._wait()).peer()

    async def attempt_peers(self) -> Tuple[str, ...]:
        """The endpoint of every attempt, in order (the last is :meth:`peer`); more
        than one when a retry policy retried the call or hedging sent copies."""
        await self._wait()
        return self._attempt_peers

    async def wait_for_connection(self) -> None:
        await self._wait()

    def __repr__(self) -> str:
        state = "done" if self._fut.done() else "active"
        return "<lbchannel.aio.UnaryUnaryCall %s>" % state
