"""gRPC status codes, finished-call information and :class:`RpcError`.

When ``grpcio`` is importable, :meth:`Call.code` returns ``grpc.StatusCode``
members, :class:`Call` is a ``grpc.Call`` and :class:`RpcError` is both a
``grpc.RpcError`` and a ``grpc.Call`` — so ``except grpc.RpcError as e:
e.code()`` works exactly as with a grpcio channel. Without grpcio, the same
methods return :class:`StatusCode` members.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Optional, Tuple, Type, TypeVar

from ._grpc import HAVE_GRPC, CallBase, MetadataTuple, PublicCode, RpcErrorBase, status_code


# Status messages the binding itself gives (grpcio's words where it has them).
LOCALLY_CANCELLED = "Locally cancelled by application!"
REQUEST_ITERATION_FAILED = "Exception iterating requests!"
REQUEST_SERIALIZATION_FAILED = "Exception serializing request!"
RESPONSE_DESERIALIZATION_FAILED = "Exception deserializing response!"
NO_RESPONSE = "the server ended the call without a response message"


class StatusCode(enum.IntEnum):
    """gRPC status codes (the C ``lbc_status_code`` enum)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    def to_grpc(self) -> PublicCode:
        """The matching ``grpc.StatusCode`` (requires grpcio)."""
        if not HAVE_GRPC:
            raise RuntimeError("grpcio is not installed")
        return status_code(self)


def lbc_code(status: int) -> StatusCode:
    """``status`` as a :class:`StatusCode` (UNKNOWN for a code gRPC does not define)."""
    try:
        return StatusCode(status)
    except ValueError:
        return StatusCode.UNKNOWN


def public_code(status: int) -> PublicCode:
    """Map an int status to ``grpc.StatusCode`` if grpcio is present, else :class:`StatusCode`."""
    return status_code(lbc_code(status))


def describe(status: int, details: str, peer: str = "") -> str:
    """``"UNAVAILABLE: details (peer ADDRESS)"``: the text of an RPC's error."""
    return lbc_code(status).name + (": %s" % details if details else "") + (" (peer %s)" % peer if peer else "")


_E = TypeVar("_E", bound="RpcError")


class _CallInfoMixin:
    """Accessors shared by :class:`Call` and :class:`RpcError` over the outcome of a
    finished RPC (``_status``, ``_details``, ``_initial``, ``_trailing``, ``_peer``)."""

    _status: int
    _details: str
    _initial: MetadataTuple
    _trailing: MetadataTuple
    _peer: str
    #: Every attempt's endpoint when known (see :meth:`attempt_peers`).
    _attempt_peers: Optional[Tuple[str, ...]] = None

    def code(self) -> PublicCode:
        """The status code: a ``grpc.StatusCode`` with grpcio, else a :class:`StatusCode`."""
        return public_code(self._status)

    @property
    def status_code(self) -> StatusCode:
        """The status code as an :class:`StatusCode` (independent of grpcio)."""
        return lbc_code(self._status)

    def details(self) -> str:
        """The status message (str, may be empty)."""
        return self._details

    def initial_metadata(self) -> MetadataTuple:
        """Response headers: a tuple of ``(key, value)``; ``-bin`` values are bytes, others str."""
        return self._initial

    def trailing_metadata(self) -> MetadataTuple:
        """Response trailers: a tuple of ``(key, value)``; ``-bin`` values are bytes, others str."""
        return self._trailing

    def peer(self) -> str:
        """Address of the endpoint that served the RPC ("" if none was picked)."""
        return self._peer

    def attempt_peers(self) -> Tuple[str, ...]:
        """The endpoint of every attempt, in order; the last is :meth:`peer`.
        More than one when a retry policy retried the RPC or hedging sent
        copies (for a hedged call the copies that did not win come first)."""
        if self._attempt_peers is None:
            return (self._peer,) if self._peer else ()
        return self._attempt_peers

    @property
    def attempts(self) -> int:
        """How many attempts the RPC made (1 normally; 0 when no endpoint was picked)."""
        return len(self.attempt_peers())

    # grpc.RpcContext: the call is over by the time anyone holds this object. (Its stub
    # types time_remaining() as float, but grpcio returns None without a deadline: the
    # classes below ignore that [misc] conflict, as lbchannel's call objects do.)
    def is_active(self) -> bool:
        """Always False: the RPC has finished."""
        return False

    def time_remaining(self) -> Optional[float]:
        """Always None: the RPC has finished."""
        return None

    def cancel(self) -> bool:
        """No-op returning False: a finished RPC cannot be cancelled."""
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Returns False (the RPC has already terminated), as grpc does."""
        return False


class Call(_CallInfoMixin, CallBase):  # type: ignore[misc]
    """Information about a finished RPC, returned with the response by
    :meth:`lbchannel.Channel.unary_with_call` and by ``with_call`` of the
    grpc.Channel interface. A ``grpc.Call`` when grpcio is installed.
    """

    def __init__(self, status: int, details: str, initial: MetadataTuple, trailing: MetadataTuple,
                 peer: str, response: bytes = b"") -> None:
        self._status, self._details, self._initial, self._trailing = int(status), details, initial, trailing
        self._peer, self._response = peer, response

    def __repr__(self) -> str:
        return "<lbchannel.Call %s peer=%r details=%r>" % (self.status_code.name, self._peer, self._details)


# grpc.RpcError's stub types trailing_metadata() as grpc._Metadatum objects; grpcio
# returns (key, value) tuples, as grpc.Call's does.
class RpcError(_CallInfoMixin, RpcErrorBase, CallBase):  # type: ignore[misc]
    """An RPC that ended with a status other than OK.

    Mirrors grpcio's ``grpc.RpcError`` (and is a subclass of it when grpcio is
    installed): :meth:`code`, :meth:`details`, :meth:`initial_metadata`,
    :meth:`trailing_metadata`, plus :meth:`peer` and :attr:`status_code`.

    Example::

        try:
            channel.unary("/pkg.Svc/Method", b"")
        except lbchannel.RpcError as e:
            print(e.code(), e.details())
    """

    def __init__(self, status: int, details: str = "", initial: MetadataTuple = (),
                 trailing: MetadataTuple = (), peer: str = "") -> None:
        self._status, self._details, self._peer = int(status), details, peer
        self._initial, self._trailing = tuple(initial), tuple(trailing)
        Exception.__init__(self, self._format())

    @classmethod
    def from_call(cls: Type[_E], call: Call) -> _E:
        """Build the error for a finished, non-OK :class:`Call`."""
        error = cls(call._status, call._details, call._initial, call._trailing, call._peer)
        error._attempt_peers = call._attempt_peers
        return error

    def _format(self) -> str:
        return describe(self._status, self._details, self._peer)

    def debug_error_string(self) -> str:
        """A one-line description, like grpcio's ``debug_error_string()``."""
        return self._format()

    __str__ = debug_error_string

    def __repr__(self) -> str:
        return "<lbchannel.RpcError %s details=%r peer=%r>" % (self.status_code.name, self._details, self._peer)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self._status, self._details, self._initial, self._trailing, self._peer))

    # -- the finished-future face of grpcio's errors ----------------------------------
    # grpcio's RpcError of a blocking call is also a finished grpc.Future, and
    # grpc.intercept_channel relies on it: an interceptor's continuation returns the
    # error, and the interceptor chain calls result() on it.

    def result(self, timeout: Optional[float] = None) -> Any:
        """Raise this error (the outcome of a failed RPC), as grpcio's does."""
        raise self

    def exception(self, timeout: Optional[float] = None) -> Optional[Exception]:
        """This error."""
        return self

    def traceback(self, timeout: Optional[float] = None) -> Any:
        """The traceback this error was raised with, or None."""
        return self.__traceback__

    def done(self) -> bool:
        """True: the RPC has ended."""
        return True

    def running(self) -> bool:
        """False: the RPC has ended."""
        return False

    def cancelled(self) -> bool:
        """Whether the RPC ended by cancellation."""
        return self._status == StatusCode.CANCELLED

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(self)`` at once (the RPC has ended)."""
        fn(self)
