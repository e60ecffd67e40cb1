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

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Union

from .._callbacks import LogFn, LookupFn
from .._grpc import EOF, ClientInterceptor
from .._options import ChannelOptions, Options, channel_options
from .._tls import ChannelCredentials, ssl_channel_credentials, tls_options
from ._channel import Channel
from ._unary import AioRpcError
from ._stream import StreamStreamCall, StreamUnaryCall, UnaryStreamCall
from ._unary import UnaryUnaryCall

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Channel", "secure_channel", "insecure_channel", "ssl_channel_credentials", "ChannelCredentials", "AioRpcError",
    "EOF", "UnaryUnaryCall", "UnaryStreamCall", "StreamUnaryCall", "StreamStreamCall",
]


def secure_channel(target: str, credentials: ChannelCredentials, options: Options = None,
                   interceptors: Optional[Sequence[ClientInterceptor]] = None, *,
                   lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                   **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A TLS :class:`lbchannel.aio.Channel`, as ``grpc.aio.secure_channel``.

    ``options``, ``lookup``, ``log_callback`` and ``**lbchannel_options`` as for
    :func:`lbchannel.secure_channel` (an unsupported ``grpc.*`` key raises
    :class:`lbchannel.UnknownOptionError`); ``interceptors`` as for
    ``grpc.aio.secure_channel`` (grpc.aio client interceptors).
    """
    merged = tls_options(credentials, options, lbchannel_options)
    return Channel(target, lookup, log_callback, interceptors, **merged)


def insecure_channel(target: str, options: Options = None,
                     interceptors: Optional[Sequence[ClientInterceptor]] = None, *,
                     lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                     **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A plaintext :class:`lbchannel.aio.Channel`, as ``grpc.aio.insecure_channel``;
    arguments as for :func:`secure_channel`."""
    return Channel(target, lookup, log_callback, interceptors, **channel_options(options, lbchannel_options))
