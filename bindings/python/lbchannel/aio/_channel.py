"""lbchannel.aio multi-callables and the Channel."""

from __future__ import annotations

import asyncio
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Type, TypeVar,
                    Union)

from .. import _native
from .._call import NativeCall, _logger, request_bytes
from .._events import CompletionQueue
from .._callbacks import LogFn, LookupFn
from .._channel import Channel as _SyncChannel
from .._errors import ClosedError, ErrorCode
from .._grpc import (AioChannelBase, AioStreamStreamBase, AioStreamUnaryBase, AioUnaryStreamBase, AioUnaryUnaryBase,
                     CallCredentials, ClientInterceptor, Compression, Connectivity, MetadataArg, Req, Resp,
                     connectivity)
from .._grpc_interface import CallFuture, MultiCallable, no_credentials
from .._options import ChannelOptions
from .._status import StatusCode
from . import _interceptor
from ._stream import RequestIterator, StreamStreamCall, StreamUnaryCall, UnaryStreamCall, _CallCore, _StreamCallBase
from ._unary import AioRpcError, UnaryUnaryCall

if TYPE_CHECKING:
    from typing_extensions import Unpack

_C = TypeVar("_C", bound=_StreamCallBase[Any, Any])
Serializer = Optional[Callable[[Req], bytes]]
Deserializer = Optional[Callable[[bytes], Resp]]

#: Longest run of lbc_cq_poll batches per readable callback before yielding to the loop.
_MAX_BATCHES = 16

# ---------------------------------------------------------------------------
# Multi-callables
# ---------------------------------------------------------------------------


class _MultiCallable(MultiCallable[Req, Resp]):
    _error = AioRpcError
    _channel: Channel

    def _stream(self, cls: Type[_C], request_iterator: Optional[RequestIterator[Req]], timeout: Optional[float],
                metadata: MetadataArg, credentials: Optional[CallCredentials]) -> _C:
        """A ``cls`` call, consuming ``request_iterator`` (if any) in a task."""
        no_credentials(credentials)
        call = cls(self._channel._start_call(self._method, metadata, timeout), self._serialize, self._deserialize)
        if request_iterator is not None:
            call._start_consumer(request_iterator)
        return call


class UnaryUnaryMultiCallable(_MultiCallable[Req, Resp], AioUnaryUnaryBase[Req, Resp]):
    def __call__(self, request: Req, *, timeout: Optional[float] = None, metadata: MetadataArg = None,
                 credentials: Optional[CallCredentials] = None, wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> UnaryUnaryCall[Req, Resp]:
        return UnaryUnaryCall(self._channel, self._method, self._payload(request, credentials), metadata, timeout,
                              self._deserialize)


class UnaryStreamMultiCallable(_MultiCallable[Req, Resp], AioUnaryStreamBase[Req, Resp]):
    def __call__(self, request: Req, *, timeout: Optional[float] = None, metadata: MetadataArg = None,
                 credentials: Optional[CallCredentials] = None, wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> UnaryStreamCall[Req, Resp]:
        data = self._payload(request, credentials)
        call: UnaryStreamCall[Req, Resp] = self._stream(UnaryStreamCall, None, timeout, metadata, None)
        call._core.native.send_request(data, end=True)  # at once: an empty buffer takes any message
        call._core.done_writing = True
        return call


class StreamUnaryMultiCallable(_MultiCallable[Req, Resp], AioStreamUnaryBase[Req, Resp]):
    def __call__(self, request_iterator: Optional[RequestIterator[Req]] = None, timeout: Optional[float] = None,
                 metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
                 wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> StreamUnaryCall[Req, Resp]:
        return self._stream(StreamUnaryCall, request_iterator, timeout, metadata, credentials)


class StreamStreamMultiCallable(_MultiCallable[Req, Resp], AioStreamStreamBase[Req, Resp]):
    def __call__(self, request_iterator: Optional[RequestIterator[Req]] = None, timeout: Optional[float] = None,
                 metadata: MetadataArg = None, credentials: Optional[CallCredentials] = None,
                 wait_for_ready: Optional[bool] = None,
                 compression: Optional[Compression] = None) -> StreamStreamCall[Req, Resp]:
        return self._stream(StreamStreamCall, request_iterator, timeout, metadata, credentials)


_MULTICALLABLES: Dict[str, Any] = {
    "unary_unary": UnaryUnaryMultiCallable,
    "unary_stream": UnaryStreamMultiCallable,
    "stream_unary": StreamUnaryMultiCallable,
    "stream_stream": StreamStreamMultiCallable,
}


# ---------------------------------------------------------------------------
# Channel
# ---------------------------------------------------------------------------


class Channel(AioChannelBase):
    """An asyncio load-balanced channel (``grpc.aio.Channel`` interface).

    Arguments as for :class:`lbchannel.Channel` (target, ``lookup``,
    ``log_callback``, ``**options``), plus ``interceptors``: grpc.aio client
    interceptors (``grpc.aio.UnaryUnaryClientInterceptor`` and the three other
    kinds), run as ``grpc.aio.insecure_channel(..., interceptors=)`` runs them
    (see :mod:`lbchannel.aio._interceptor`; anything else raises ValueError).
    Use ``async with`` or ``await channel.close()``. Bound to the event loop
    that first uses it.
    """

    def __init__(self, target: str, lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                 interceptors: Optional[Sequence[ClientInterceptor]] = None,
                 **options: Unpack[ChannelOptions]) -> None:
        self._interceptors = _interceptor.split(interceptors)
        self._sync = _SyncChannel(target, lookup, log_callback, **options)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._cq: Optional[CompletionQueue] = None
        self._fd = -1
        self._calls: Set[_CallCore] = set()  # live _CallCore objects (for close)
        self._closed = False

    # -- event loop plumbing ---------------------------------------------------------------

    def _bind(self) -> Tuple[CompletionQueue, asyncio.AbstractEventLoop]:
        """The channel's queue and loop, creating the queue on first use."""
        if self._closed:
            raise ClosedError(ErrorCode.CLOSED, "the channel is closed")
        loop = asyncio.get_running_loop()
        if self._cq is None:
            cq = CompletionQueue()
            fd = _native.lbc_cq_fd(cq.handle)
            try:
                loop.add_reader(fd, self._on_readable)
            except BaseException:
                cq.free()
                raise
            self._cq, self._fd, self._loop = cq, fd, loop
        elif self._loop is not loop:
            raise RuntimeError("this lbchannel.aio.Channel is bound to another event loop")
        return self._cq, loop

    def _on_readable(self) -> None:
        cq = self._cq
        if cq is None:
            return
        for _ in range(_MAX_BATCHES):
            events = cq.poll(0)
            if not events:
                return
            for tag, kind, flags, resp, _state in events:
                cq.dispatch(tag, kind, flags, resp)

    def _start_call(self, method: str, metadata: MetadataArg, timeout: Optional[float]) -> _CallCore:
        cq, loop = self._bind()
        native = NativeCall(timeout)
        core = _CallCore(self, native, loop)
        self._sync._start_call(native, method, metadata, timeout, cq, core)
        self._calls.add(core)
        return core

    def _forget(self, core: _CallCore) -> None:
        self._calls.discard(core)

    # -- lifetime -------------------------------------------------------------------------

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self, grace: Optional[float] = None) -> None:
        """Close the channel: running calls end with CANCELLED. Idempotent."""
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sync.close()  # in-flight RPCs end with CANCELLED; their events are queued
        cq = self._cq
        if cq is not None:
            try:
                self._on_readable()  # deliver the final events
            except Exception:
                _logger.exception("lbchannel.aio: draining the queue at close failed")
            for tag, target in cq.targets():
                cq.unregister(tag)
                if isinstance(target, CallFuture):
                    target.abort()
            for core in list(self._calls):
                core.native.finish(0)
                core.native.fail_locally(StatusCode.CANCELLED, "channel closed")
                core.release()
            self._calls.clear()
            try:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(self._fd)
            finally:
                self._cq = None
                cq.free()

    def __del__(self) -> None:
        try:
            if not self.__dict__.get("_closed", True):
                self._close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    # -- bytes-level API ------------------------------------------------------------------

    async def unary(self, method: str, request: bytes, timeout: Optional[float] = None,
                    metadata: MetadataArg = None) -> bytes:
        """Run a unary RPC on raw bytes; return the response bytes (raises AioRpcError)."""
        return await UnaryUnaryCall(self, method, request_bytes(request), metadata, timeout, None)

    async def unary_with_call(self, method: str, request: bytes, timeout: Optional[float] = None,
                              metadata: MetadataArg = None) -> Tuple[bytes, UnaryUnaryCall]:
        """As :meth:`unary`; return ``(response_bytes, call)``."""
        call: UnaryUnaryCall = UnaryUnaryCall(self, method, request_bytes(request), metadata, timeout, None)
        return await call, call

    def stream(self, method: str, metadata: MetadataArg = None, timeout: Optional[float] = None) -> StreamStreamCall:
        """Start a bytes-level streaming call (any shape): a :class:`StreamStreamCall`
        with ``write()``/``done_writing()``/``read()``/``async for``."""
        return StreamStreamCall(self._start_call(method, metadata, timeout), None, None)

    # -- grpc.aio.Channel -------------------------------------------------------------------

    def _multicallable(self, shape: str, method: str, request_serializer: Serializer[Any],
                       response_deserializer: Deserializer[Any], intercept: bool = True) -> Any:
        """The multi-callable of ``shape``: through the channel's interceptors of that
        shape when there are any (and ``intercept``), else a plain lbchannel one."""
        interceptors = self._interceptors.get(shape) if intercept else None
        if interceptors:
            return _interceptor.MULTICALLABLES[shape](shape, interceptors, self, method, request_serializer,
                                                      response_deserializer)
        return _MULTICALLABLES[shape](self, method, request_serializer, response_deserializer)

    def unary_unary(self, method: str, request_serializer: Serializer[Req] = None,
                    response_deserializer: Deserializer[Resp] = None,
                    _registered_method: bool = False) -> AioUnaryUnaryBase[Req, Resp]:
        mc: AioUnaryUnaryBase[Req, Resp] = self._multicallable("unary_unary", method, request_serializer,
                                                               response_deserializer)
        return mc

    def unary_stream(self, method: str, request_serializer: Serializer[Req] = None,
                     response_deserializer: Deserializer[Resp] = None,
                     _registered_method: bool = False) -> AioUnaryStreamBase[Req, Resp]:
        mc: AioUnaryStreamBase[Req, Resp] = self._multicallable("unary_stream", method, request_serializer,
                                                                response_deserializer)
        return mc

    def stream_unary(self, method: str, request_serializer: Serializer[Req] = None,
                     response_deserializer: Deserializer[Resp] = None,
                     _registered_method: bool = False) -> AioStreamUnaryBase[Req, Resp]:
        mc: AioStreamUnaryBase[Req, Resp] = self._multicallable("stream_unary", method, request_serializer,
                                                                response_deserializer)
        return mc

    def stream_stream(self, method: str, request_serializer: Serializer[Req] = None,
                      response_deserializer: Deserializer[Resp] = None,
                      _registered_method: bool = False) -> AioStreamStreamBase[Req, Resp]:
        mc: AioStreamStreamBase[Req, Resp] = self._multicallable("stream_stream", method, request_serializer,
                                                                 response_deserializer)
        return mc

    def get_state(self, try_to_connect: bool = False) -> Connectivity:
        """The aggregate connectivity state (``grpc.ChannelConnectivity``)."""
        return connectivity("SHUTDOWN" if self._closed else self._sync.connectivity())

    async def wait_for_state_change(self, last_observed_state: Connectivity) -> None:
        """Return once :meth:`get_state` differs from ``last_observed_state``: woken by the
        channel's connectivity watch (the sync channel's event thread), no polling."""
        loop, changed = asyncio.get_running_loop(), asyncio.Event()

        def on_change(_state: Connectivity) -> None:
            loop.call_soon_threadsafe(changed.set)
        if self._closed:
            return
        self._sync.subscribe(on_change)
        try:
            while self.get_state() == last_observed_state:
                await changed.wait()
                changed.clear()
        finally:
            self._sync.unsubscribe(on_change)

    async def channel_ready(self) -> None:
        ready = connectivity("READY")
        state = self.get_state(True)
        while state != ready:
            await self.wait_for_state_change(state)
            state = self.get_state(True)

    # -- introspection ----------------------------------------------------------------------

    @property
    def target(self) -> str:
        return self._sync.target

    def stats(self) -> Dict[str, Any]:
        """See :meth:`lbchannel.Channel.stats` (``metrics``: per-method counts and latency
        histograms, exported by :mod:`lbchannel.metrics`)."""
        return self._sync.stats()

    def endpoints(self) -> List[Dict[str, Any]]:
        """See :meth:`lbchannel.Channel.endpoints`."""
        return self._sync.endpoints()

    def set_endpoints(self, addresses: Iterable[str]) -> None:
        """See :meth:`lbchannel.Channel.set_endpoints`."""
        self._sync.set_endpoints(addresses)

    def reload_tls(self) -> None:
        """Re-read the TLS files for new connections (see :meth:`lbchannel.Channel.reload_tls`)."""
        self._sync.reload_tls()

    def __repr__(self) -> str:
        return "<lbchannel.aio.Channel %r%s>" % (self.target, " closed" if self._closed else "")
