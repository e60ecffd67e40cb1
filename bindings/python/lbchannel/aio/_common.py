"""Shared pieces of lbchannel.aio: grpc.aio base classes, errors, messages."""

import logging

from .._status import HAVE_GRPC, RpcError
from .._streaming import request_bytes

if HAVE_GRPC:
    import grpc.aio as _grpc_aio

    _ChannelBase = _grpc_aio.Channel
    _AioRpcErrorBases = (RpcError, _grpc_aio.AioRpcError)
    _UnaryUnaryCallBase = (_grpc_aio.UnaryUnaryCall,)
    _UnaryStreamCallBase = (_grpc_aio.UnaryStreamCall,)
    _StreamUnaryCallBase = (_grpc_aio.StreamUnaryCall,)
    _StreamStreamCallBase = (_grpc_aio.StreamStreamCall,)
    _UUBase = _grpc_aio.UnaryUnaryMultiCallable
    _USBase = _grpc_aio.UnaryStreamMultiCallable
    _SUBase = _grpc_aio.StreamUnaryMultiCallable
    _SSBase = _grpc_aio.StreamStreamMultiCallable
    #: The end-of-stream value of ``read()`` (``grpc.aio.EOF`` with grpcio).
    EOF = _grpc_aio.EOF

    def _md(pairs):
        return _grpc_aio.Metadata(*pairs)

else:  # pragma: no cover
    _ChannelBase = object
    _AioRpcErrorBases = (RpcError,)
    _UnaryUnaryCallBase = _UnaryStreamCallBase = _StreamUnaryCallBase = _StreamStreamCallBase = ()
    _UUBase = _USBase = _SUBase = _SSBase = object

    class _EOFType:
        def __repr__(self):
            return "<lbchannel.aio.EOF>"

        def __bool__(self):
            return False

    EOF = _EOFType()

    def _md(pairs):
        return tuple(pairs)


_logger = logging.getLogger("lbchannel")

_LOCALLY_CANCELLED = "Locally cancelled by application!"
_REQUEST_ITERATION_FAILED = "Exception iterating requests!"
_REQUEST_SERIALIZATION_FAILED = "Exception serializing request!"
_RESPONSE_DESERIALIZATION_FAILED = "Exception deserializing response!"
_NO_RESPONSE = "the server ended the call without a response message"
_RPC_ALREADY_FINISHED = "RPC already finished."
_RPC_HALF_CLOSED = "RPC is half closed after calling done_writing."

#: Longest run of lbc_cq_poll batches per readable callback before yielding to the loop.
_MAX_BATCHES = 16


class AioRpcError(*_AioRpcErrorBases):
    """An RPC of :mod:`lbchannel.aio` that ended with a non-OK status.

    Both an :class:`lbchannel.RpcError` and a ``grpc.aio.AioRpcError`` (so a
    ``grpc.RpcError``): ``code()``, ``details()``, ``initial_metadata()``,
    ``trailing_metadata()`` (``grpc.aio.Metadata`` objects), ``peer()``.
    """

    def __init__(self, status, details="", initial=(), trailing=(), peer=""):
        self._status = int(status)
        self._details = details
        self._initial = tuple(initial)
        self._trailing = tuple(trailing)
        self._peer = peer
        # Not grpc.aio.AioRpcError.__init__: it would overwrite the fields above.
        Exception.__init__(self, self._format())
        self._code = self.code()
        self._debug_error_string = self._format()

    def initial_metadata(self):
        return _md(self._initial)

    def trailing_metadata(self):
        return _md(self._trailing)


def _error(code, details, initial=(), trailing=(), peer="", cause=None):
    err = AioRpcError(code, details, initial or (), trailing or (), peer)
    if cause is not None:
        err.__cause__ = cause
    return err


def _serialize(serializer, request):
    return serializer(request) if serializer is not None else request_bytes(request)
