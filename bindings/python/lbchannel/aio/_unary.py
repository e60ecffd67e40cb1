"""lbchannel.aio's error and unary calls: a :class:`lbchannel.CallFuture`
(``lbc_unary_async`` on the channel's completion queue) awaited on the event loop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Tuple, Union

from .._call import run_callback
from .._errors import MessageTooLargeError
from .._grpc import (AioRpcErrorBase, AioUnaryUnaryCallBase, Metadata, MetadataArg, MetadataTuple, PublicCode, Req, Resp,
                     aio_metadata)
from .._grpc_interface import CallFuture, unary_outcome
from .._status import Call, RpcError, StatusCode

if TYPE_CHECKING:
    from ._channel import Channel


class AioRpcError(RpcError, AioRpcErrorBase):  # type: ignore[misc]  # see _status.py
    """An RPC of :mod:`lbchannel.aio` that ended with a non-OK status.

    Both an :class:`lbchannel.RpcError` and a ``grpc.aio.AioRpcError`` (so a
    ``grpc.RpcError``): ``code()``, ``details()``, ``initial_metadata()``,
    ``trailing_metadata()`` (``grpc.aio.Metadata`` objects), ``peer()``.
    """

    def __init__(self, status: int, details: str = "", initial: MetadataTuple = (),
                 trailing: MetadataTuple = (), peer: str = "") -> None:
        # Not grpc.aio.AioRpcError.__init__: it would overwrite the fields RpcError sets.
        RpcError.__init__(self, status, details, initial, trailing, peer)
        self._code = self.code()
        self._debug_error_string = self._format()

    # grpc.aio returns Metadata objects where grpc (and lbchannel.RpcError) return tuples.
    def initial_metadata(self) -> Metadata:  # type: ignore[override]
        return aio_metadata(self._initial)

    def trailing_metadata(self) -> Metadata:  # type: ignore[override]
        return aio_metadata(self._trailing)


class UnaryUnaryCall(AioUnaryUnaryCallBase[Req, Resp]):
    """A unary RPC started with ``lbc_unary_async``: await it for the response.

    ``code()``, ``details()``, ``initial_metadata()``, ``trailing_metadata()``
    are coroutines (they wait for the end of the call); ``cancel()`` (or
    cancelling the awaiting task) ends the RPC on the wire (the server sees
    RST_STREAM) and the awaiting coroutine gets ``asyncio.CancelledError``.
    """

    def __init__(self, channel: Channel, method: str, payload: bytes, metadata: MetadataArg,
                 timeout: Optional[float], deserializer: Optional[Callable[[bytes], Resp]]) -> None:
        cq, self._loop = channel._bind()
        self._future: CallFuture[Resp] = CallFuture(timeout, unary_outcome(deserializer, AioRpcError))
        # Set when the call ends; cancelling the task awaiting it cancels the RPC.
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._ended.add_done_callback(lambda ended: ended.cancelled() and self._future.cancel())
        self._future.add_callback(self._end)
        try:
            self._future.started(channel._sync._start_unary(method, payload, timeout, metadata, self._future, cq))
        except MessageTooLargeError as exc:  # an RPC outcome in grpc
            raise AioRpcError(StatusCode.RESOURCE_EXHAUSTED, exc.message or str(exc)) from None

    def _end(self) -> None:
        if not self._ended.done():
            self._ended.set_result(None)

    async def _final(self) -> Union[Call, RpcError]:
        """The finished call or its error (a CANCELLED call once cancelled)."""
        if not self._future.done():
            await asyncio.wait([self._ended])
        return self._future._final()

    def __await__(self) -> Generator[Any, None, Resp]:
        if not self._future.done():
            yield from self._ended.__await__()
        if self._future.cancelled():
            raise asyncio.CancelledError()
        return self._future.result(0)

    # -- grpc.aio.Call ----------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the RPC on the wire: True if it had not finished."""
        return self._future.cancel()

    def cancelled(self) -> bool:
        return self._future.cancelled()

    def done(self) -> bool:
        return self._future.done()

    def time_remaining(self) -> Optional[float]:
        return self._future.time_remaining()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(call)`` on the event loop when the call ends."""
        if not self._future.add_callback(lambda: callback(self)):
            self._loop.call_soon(run_callback, callback, self)

    async def initial_metadata(self) -> Metadata:
        return aio_metadata((await self._final())._initial)

    async def trailing_metadata(self) -> Metadata:
        return aio_metadata((await self._final())._trailing)

    async def code(self) -> PublicCode:
        return (await self._final()).code()

    async def details(self) -> str:
        return (await self._final()).details()

    async def peer(self) -> str:
        return (await self._final()).peer()

    async def attempt_peers(self) -> Tuple[str, ...]:
        """The endpoint of every attempt, in order (the last is :meth:`peer`); more
        than one when a retry policy retried the call or hedging sent copies."""
        return (await self._final()).attempt_peers()

    async def wait_for_connection(self) -> None:
        await self._final()

    def __repr__(self) -> str:
        return "<lbchannel.aio.UnaryUnaryCall %s>" % ("done" if self._future.done() else "active")
