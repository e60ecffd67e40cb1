"""lbchannel.aio unary calls (lbc_unary_async on the channel's completion queue)."""

import asyncio
import ctypes
import time
from typing import Any

from .. import _metadata, _native
from .._call import call_from_response, run_callback, timeout_ms
from .._channel import _text
from .._errors import ErrorCode, _check, _decode
from .._status import StatusCode, public_code
from ._common import (
    _UnaryUnaryCallBase,
    _md,
    _LOCALLY_CANCELLED,
    _REQUEST_SERIALIZATION_FAILED,
    _RESPONSE_DESERIALIZATION_FAILED,
    _error,
    _serialize,
)


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
        tag = cq.register(self)
        self._cq, self._tag = cq, tag
        #: The call's ``lbc_unary_call*`` (cancel by handle); freed when the call ends.
        self._call = _native.lbc_unary_call_p()
        try:
            rc = _native.lbc_unary_async(handle, method_b, payload, len(payload), md, timeout_ms(timeout),
                                         cq.handle, ctypes.c_void_p(tag), ctypes.byref(self._call))
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

    def _complete(self, resp: Any) -> None:
        """The LBC_EVENT_UNARY of this call: copy the response out and free it."""
        call = call_from_response(resp)
        self._attempt_peers = call._attempt_peers
        if not self._fut.done():
            self._fut.set_result((call._status, call._details, call._response, call._initial, call._trailing, call._peer))

    def _abort(self, status, details):
        """The channel closed before the event came."""
        if not self._fut.done():
            self._fut.set_result((status, details, None, (), (), ""))

    def _on_fut_done(self, fut):
        if fut.cancelled():
            # End the RPC itself, not only the wait; its late event is dropped.
            if self._call:
                _native.lbc_unary_call_cancel(self._call)
        self._free_handle()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            run_callback(fn, self)

    def _free_handle(self):
        """Release the ``lbc_unary_call*`` (the handle only; the event still comes)."""
        call, self._call = getattr(self, "_call", None), None
        if call:
            _native.lbc_unary_call_free(call)

    def __del__(self):
        try:
            self._free_handle()
        except Exception:  # interpreter shutdown: the module may be gone
            pass

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

    async def attempt_peers(self):
        """The endpoint of every attempt, in order (the last is :meth:`peer`); more
        than one when a retry policy retried the call or hedging sent copies."""
        await self._wait()
        return getattr(self, "_attempt_peers", ())

    async def wait_for_connection(self):
        await self._wait()

    def __repr__(self):
        state = "done" if self._fut.done() else "active"
        return "<lbchannel.aio.UnaryUnaryCall %s>" % state
