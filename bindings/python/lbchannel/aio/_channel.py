"""lbchannel.aio multi-callables and the Channel."""

import asyncio

from .. import _metadata, _native
from .._call import CompletionQueue, NativeCall, timeout_ms
from .._channel import Channel as _SyncChannel
from .._channel import _text
from .._errors import CallFinishedError, ClosedError, ErrorCode, MessageTooLargeError, SendClosedError
from .._status import HAVE_GRPC, StatusCode
from ._common import (
    _ChannelBase,
    _UUBase,
    _USBase,
    _SUBase,
    _SSBase,
    _logger,
    _REQUEST_SERIALIZATION_FAILED,
    _MAX_BATCHES,
    _error,
    _serialize,
)
from . import _interceptor
from ._unary import UnaryUnaryCall
from ._stream import _CallCore, UnaryStreamCall, StreamUnaryCall, StreamStreamCall

if HAVE_GRPC:
    import grpc as _grpc


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


_MULTICALLABLES = {
    "unary_unary": UnaryUnaryMultiCallable,
    "unary_stream": UnaryStreamMultiCallable,
    "stream_unary": StreamUnaryMultiCallable,
    "stream_stream": StreamStreamMultiCallable,
}


# ---------------------------------------------------------------------------
# Channel
# ---------------------------------------------------------------------------


class Channel(_ChannelBase):
    """An asyncio load-balanced channel (``grpc.aio.Channel`` interface).

    Arguments as for :class:`lbchannel.Channel` (target, ``lookup``,
    ``log_callback``, ``**options``), plus ``interceptors``: grpc.aio client
    interceptors (``grpc.aio.UnaryUnaryClientInterceptor`` and the three other
    kinds), run as ``grpc.aio.insecure_channel(..., interceptors=)`` runs them
    (see :mod:`lbchannel.aio._interceptor`; anything else raises ValueError).
    Use ``async with`` or ``await channel.close()``. Bound to the event loop
    that first uses it.
    """

    def __init__(self, target, lookup=None, log_callback=None, interceptors=None, **options):
        self._sync = None
        self._interceptors = _interceptor.split(interceptors)
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
            for tag, kind, flags, resp, _state in events:
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
        tag = cq.register(core)
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

    def _multicallable(self, shape, method, request_serializer, response_deserializer, intercept=True):
        """The multi-callable of ``shape``: through the channel's interceptors of that
        shape when there are any (and ``intercept``), else a plain lbchannel one."""
        interceptors = getattr(self._interceptors, shape) if intercept else None
        if interceptors:
            return _interceptor.intercepted(shape, interceptors, self, method,
                                            request_serializer, response_deserializer)
        return _MULTICALLABLES[shape](self, method, request_serializer, response_deserializer)

    def unary_unary(self, method, request_serializer=None, response_deserializer=None,
                    _registered_method=False, **kwargs):
        return self._multicallable("unary_unary", method, request_serializer, response_deserializer)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        return self._multicallable("unary_stream", method, request_serializer, response_deserializer)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        return self._multicallable("stream_unary", method, request_serializer, response_deserializer)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None,
                      _registered_method=False, **kwargs):
        return self._multicallable("stream_stream", method, request_serializer, response_deserializer)

    def get_state(self, try_to_connect=False):
        """The aggregate connectivity state (``grpc.ChannelConnectivity``)."""
        state = "SHUTDOWN" if self._closed else self._sync.connectivity()
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

    def reload_tls(self) -> None:
        """Re-read the TLS files for new connections (see :meth:`lbchannel.Channel.reload_tls`)."""
        self._sync.reload_tls()

    def __repr__(self):
        return "<lbchannel.aio.Channel %r%s>" % (self.target, " closed" if self._closed else "")
