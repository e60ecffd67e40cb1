"""Shared pieces of lbchannel.aio: its error and grpc.aio's messages."""

from __future__ import annotations

import logging
from typing import Optional

from .._grpc import AioRpcErrorBase, Metadata, MetadataTuple, aio_metadata
from .._status import RpcError

_logger = logging.getLogger("lbchannel")

_RPC_ALREADY_FINISHED = "RPC already finished."
_RPC_HALF_CLOSED = "RPC is half closed after calling done_writing."

#: Longest run of lbc_cq_poll batches per readable callback before yielding to the loop.
_MAX_BATCHES = 16


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


def _error(code: int, details: str, initial: Optional[MetadataTuple] = (), trailing: Optional[MetadataTuple] = (),
           peer: str = "", cause: Optional[BaseException] = None) -> AioRpcError:
    err = AioRpcError(code, details, initial or (), trailing or (), peer)
    if cause is not None:
        err.__cause__ = cause
    return err
