"""Client interceptors on :class:`lbchannel.aio.Channel`, as ``grpc.aio`` runs them.

``lbchannel.aio.Channel(target, interceptors=[...])`` (and ``insecure_channel`` /
``secure_channel``) takes ``grpc.aio.UnaryUnaryClientInterceptor``,
``UnaryStreamClientInterceptor``, ``StreamUnaryClientInterceptor`` and
``StreamStreamClientInterceptor`` objects, exactly as ``grpc.aio.insecure_channel``
does: each call of a multi-callable of the matching shape runs through them in
order, every interceptor receiving ``(continuation, client_call_details,
request)``. The call objects are grpc.aio's own ``Intercepted*Call`` classes; only
the innermost step differs: it starts an lbchannel call (with the method,
timeout, metadata and wait_for_ready the interceptors left in the call details)
instead of a grpcio core call. Needs grpcio.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

from .._grpc import (HAVE_GRPC, INTERCEPTED_CALLS, INTERCEPTOR_KINDS, AioStreamStreamBase, AioStreamUnaryBase,
                     AioUnaryStreamBase, AioUnaryUnaryBase, ClientInterceptor, Metadata)

if TYPE_CHECKING:
    from ._channel import Channel


def split(interceptors: Optional[Sequence[ClientInterceptor]]) -> Dict[str, List[Any]]:
    """``interceptors`` by the call shapes they intercept (``"unary_unary"``, ...; one
    object may do several), in the order given.

    Raises:
        ValueError: an object that is none of grpc.aio's four client interceptor
            kinds (grpc.aio's own message); RuntimeError without grpcio.
    """
    if not interceptors:
        return {}
    if not HAVE_GRPC:  # pragma: no cover
        raise RuntimeError("interceptors need grpcio (pip install grpcio)")
    invalid = [i for i in interceptors if not isinstance(i, INTERCEPTOR_KINDS)]
    if invalid:
        raise ValueError(
            "Interceptor must be UnaryUnaryClientInterceptors or UnaryStreamClientInterceptors or "
            "StreamUnaryClientInterceptors or StreamStreamClientInterceptors. "
            "The following are invalid: %r" % (invalid,))
    return {shape: [i for i in interceptors if isinstance(i, kind)]
            for shape, kind in zip(INTERCEPTED_CALLS, INTERCEPTOR_KINDS)}


class _Leaf:
    """Mixed into grpc.aio's intercepted call classes: ``_run_interceptor`` ends the chain
    with an lbchannel call (``_shape``: its multi-callable; ``_stream_response``)."""

    _shape = ""
    _stream_response = False
    _channel: Channel

    async def _run_interceptor(self, interceptors: List[Any], method: Any, request_serializer: Any,
                               response_deserializer: Any, client_call_details: Any, request: Any) -> Any:
        if interceptors:  # grpc.aio's step; its continuation comes back here
            return await super()._run_interceptor(  # type: ignore[misc]
                interceptors, method, request_serializer, response_deserializer, client_call_details, request)
        details = client_call_details
        multicallable = self._channel._multicallable(
            self._shape, details.method, request_serializer, response_deserializer, intercept=False)
        call = multicallable(request, timeout=details.timeout, metadata=details.metadata,
                             credentials=details.credentials, wait_for_ready=details.wait_for_ready)
        if self._stream_response:
            self._last_returned_call_from_interceptors = call
        return call


#: grpc.aio's intercepted call class of each shape, ending in an lbchannel call.
_CALLS: Dict[str, Any] = {
    shape: type("_Intercepted" + shape, (_Leaf, base), {"_shape": shape, "_stream_response": shape.endswith("stream")})
    for shape, base in INTERCEPTED_CALLS.items()
}


class InterceptedMultiCallable:
    """A multi-callable whose calls run through the channel's interceptors (a
    ``grpc.aio.*MultiCallable`` of its shape: see :data:`MULTICALLABLES`)."""

    def __init__(self, shape: str, interceptors: List[Any], channel: Channel, method: Any,
                 request_serializer: Optional[Callable[[Any], bytes]],
                 response_deserializer: Optional[Callable[[bytes], Any]]) -> None:
        self._call_class = _CALLS[shape]
        self._interceptors = interceptors
        self._channel = channel
        self._method = method.encode("utf-8") if isinstance(method, str) else method
        self._serialize = request_serializer
        self._deserialize = response_deserializer

    def __call__(self, request: Any = None, *, timeout: Optional[float] = None,
                 metadata: Any = None, credentials: Any = None,
                 wait_for_ready: Optional[bool] = None, compression: Any = None) -> Any:
        if compression is not None:
            raise NotImplementedError("per-call compression is not supported by lbchannel")
        if not isinstance(metadata, Metadata):
            metadata = Metadata.from_tuple(tuple(metadata)) if metadata else Metadata()
        return self._call_class(
            self._interceptors, request, timeout, metadata, credentials, wait_for_ready,
            self._channel, self._method, self._serialize, self._deserialize,
            asyncio.get_running_loop())


#: The intercepted multi-callable class of each shape, also grpc.aio's multi-callable class of that shape.
MULTICALLABLES: Dict[str, Any] = {
    shape: type("Intercepted" + base.__name__, (InterceptedMultiCallable, base), {})
    for shape, base in (("unary_unary", AioUnaryUnaryBase), ("unary_stream", AioUnaryStreamBase),
                        ("stream_unary", AioStreamUnaryBase), ("stream_stream", AioStreamStreamBase))
}
