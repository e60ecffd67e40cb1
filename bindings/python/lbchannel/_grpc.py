"""grpcio, lbchannel's optional dependency, in this one module: every grpcio / grpc.aio
class an lbchannel class derives from, and every grpcio value the binding hands out
(``grpc.StatusCode``, ``grpc.ChannelConnectivity``, ``grpc.aio.Metadata``, ``grpc.aio.EOF``),
comes from here. mypy sees grpcio through the ``types-grpcio`` stubs (pinned in
.ci/deps.sh), so an :class:`lbchannel.Channel` is a ``grpc.Channel`` for the type checker
as at run time. The stubs' classes are generic (``UnaryUnaryMultiCallable[Req, Resp]``)
but grpcio's are not subscriptable, so at run time each base is a generic subclass of
grpcio's class (an empty generic class without grpcio). The private
``grpc.aio._interceptor`` classes have no stubs: they are the one ``Any`` boundary
(:data:`INTERCEPTED_CALLS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Generic, Iterable, Tuple, Union

_SHAPES = ("UnaryUnary", "UnaryStream", "StreamUnary", "StreamStream")  # grpcio's class name prefixes

if TYPE_CHECKING:
    import grpc
    from grpc import aio
    from typing_extensions import TypeVar  # TypeVar defaults: type checking only

    #: The request and response types of a method: bytes without (de)serializers.
    Req = TypeVar("Req", default=bytes)
    Resp = TypeVar("Resp", default=bytes)
    T = TypeVar("T")

    HAVE_GRPC: bool
    ChannelBase = grpc.Channel
    CallBase = grpc.Call
    RpcErrorBase = grpc.RpcError
    FutureBase = grpc.Future
    #: A call object that is also a future / an iterator of responses (grpcio's shapes).
    CallFutureBase = grpc._CallFuture
    CallIteratorBase = grpc._CallIterator
    FutureTimeoutError = grpc.FutureTimeoutError
    FutureCancelledError = grpc.FutureCancelledError
    UnaryUnaryBase = grpc.UnaryUnaryMultiCallable
    UnaryStreamBase = grpc.UnaryStreamMultiCallable
    StreamUnaryBase = grpc.StreamUnaryMultiCallable
    StreamStreamBase = grpc.StreamStreamMultiCallable
    AioChannelBase = aio.Channel
    AioRpcErrorBase = aio.AioRpcError
    AioUnaryUnaryCallBase = aio.UnaryUnaryCall
    AioUnaryStreamCallBase = aio.UnaryStreamCall
    AioStreamUnaryCallBase = aio.StreamUnaryCall
    AioStreamStreamCallBase = aio.StreamStreamCall
    AioUnaryUnaryBase = aio.UnaryUnaryMultiCallable
    AioUnaryStreamBase = aio.UnaryStreamMultiCallable
    AioStreamUnaryBase = aio.StreamUnaryMultiCallable
    AioStreamStreamBase = aio.StreamStreamMultiCallable
    Metadata = aio.Metadata
    # For annotations: what the multi-callables accept (and lbchannel does not support).
    CallCredentials = grpc.CallCredentials
    Compression = grpc.Compression
    ClientInterceptor = aio.ClientInterceptor
    #: What ``code()`` returns: a ``grpc.StatusCode`` (lbchannel.StatusCode without grpcio).
    PublicCode = grpc.StatusCode
    #: A connectivity state: ``grpc.ChannelConnectivity`` (its name without grpcio).
    Connectivity = grpc.ChannelConnectivity
    EOF: object
else:
    import types
    from typing import TypeVar

    Req, Resp, T = TypeVar("Req"), TypeVar("Resp"), TypeVar("T")
    try:
        import grpc
        from grpc import aio
    except ImportError:  # pragma: no cover - exercised only without grpcio
        grpc = aio = None
    HAVE_GRPC = grpc is not None
    # Names for annotations only.
    CallCredentials = Compression = ClientInterceptor = PublicCode = Connectivity = object

    def _generic(name: str, bases: Tuple[Any, ...], *params: Any) -> Any:
        """A class deriving from ``bases`` (grpcio's, if any) subscriptable with ``params``."""
        return types.new_class(name, tuple(b for b in bases if b) + (Generic[params],), None,
                               lambda ns: ns.update(__module__=__name__))

    def _g(module: Any, name: str, *params: Any) -> Any:
        return _generic(name, (getattr(module, name) if module else None,), *(params or (Req, Resp)))

    FutureBase = _g(grpc, "Future", T)
    CallFutureBase = _generic("CallFuture", (grpc and grpc.Call, grpc and grpc.Future), T)
    CallIteratorBase = _generic("CallIterator", (grpc and grpc.Call,), T)
    UnaryUnaryBase, UnaryStreamBase, StreamUnaryBase, StreamStreamBase = (
        _g(grpc, s + "MultiCallable") for s in _SHAPES)
    AioUnaryUnaryCallBase, AioUnaryStreamCallBase, AioStreamUnaryCallBase, AioStreamStreamCallBase = (
        _g(aio, s + "Call") for s in _SHAPES)
    AioUnaryUnaryBase, AioUnaryStreamBase, AioStreamUnaryBase, AioStreamStreamBase = (
        _g(aio, s + "MultiCallable") for s in _SHAPES)
    if grpc is not None:
        ChannelBase, CallBase, RpcErrorBase = grpc.Channel, grpc.Call, grpc.RpcError
        FutureTimeoutError, FutureCancelledError = grpc.FutureTimeoutError, grpc.FutureCancelledError
        AioChannelBase, AioRpcErrorBase, Metadata, EOF = aio.Channel, aio.AioRpcError, aio.Metadata, aio.EOF
    else:  # pragma: no cover
        import concurrent.futures

        class ChannelBase: pass
        class CallBase: pass
        class AioChannelBase: pass
        RpcErrorBase = AioRpcErrorBase = Exception
        FutureTimeoutError = concurrent.futures.TimeoutError
        FutureCancelledError = concurrent.futures.CancelledError
        Metadata = None

        class _EOFType:
            def __repr__(self) -> str:
                return "<lbchannel.aio.EOF>"

            def __bool__(self) -> bool:
                return False

        EOF = _EOFType()


#: A metadata argument: ``(key, value)`` pairs, values str (bytes for ``-bin`` keys),
#: or a ``grpc.aio.Metadata``.
MetadataArg = Union[Iterable[Tuple[str, Union[str, bytes]]], None]
#: Response metadata: a tuple of ``(key, value)`` pairs.
MetadataTuple = Tuple[Tuple[str, Union[str, bytes]], ...]

_STATUS_BY_INT: Dict[int, Any] = {sc.value[0]: sc for sc in grpc.StatusCode} if HAVE_GRPC else {}


def status_code(code: Any) -> PublicCode:
    """``code`` (an lbchannel.StatusCode) as a ``grpc.StatusCode`` (unchanged without grpcio)."""
    return _STATUS_BY_INT[int(code)] if HAVE_GRPC else code  # type: ignore[no-any-return]


def connectivity(name: str) -> Connectivity:
    """The ``grpc.ChannelConnectivity`` member named ``name`` (the name without grpcio)."""
    return getattr(grpc.ChannelConnectivity, name) if HAVE_GRPC else name  # type: ignore[return-value]


def aio_metadata(pairs: Iterable[Tuple[str, Union[str, bytes]]]) -> Metadata:
    """``pairs`` as a ``grpc.aio.Metadata`` (a tuple without grpcio)."""
    return aio.Metadata(*pairs) if HAVE_GRPC else tuple(pairs)  # type: ignore[return-value]


#: grpc.aio's four client interceptor classes (empty without grpcio).
INTERCEPTOR_KINDS: Tuple[type, ...] = tuple(getattr(aio, s + "ClientInterceptor") for s in _SHAPES) if HAVE_GRPC else ()
#: grpc.aio's intercepted call classes by shape (private, untyped: the ``Any`` boundary).
INTERCEPTED_CALLS: Dict[str, Any] = {}
if HAVE_GRPC:
    from grpc.aio import _interceptor

    INTERCEPTED_CALLS = {"unary_unary": _interceptor.InterceptedUnaryUnaryCall,
                         "unary_stream": _interceptor.InterceptedUnaryStreamCall,
                         "stream_unary": _interceptor.InterceptedStreamUnaryCall,
                         "stream_stream": _interceptor.InterceptedStreamStreamCall}
