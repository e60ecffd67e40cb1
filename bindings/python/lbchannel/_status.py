"""gRPC status codes, finished-call information and :class:`RpcError`.

When ``grpcio`` is importable, :meth:`Call.code` returns ``grpc.StatusCode``
members, :class:`Call` is a ``grpc.Call`` and :class:`RpcError` is both a
``grpc.RpcError`` and a ``grpc.Call`` — so ``except grpc.RpcError as e:
e.code()`` works exactly as with a grpcio channel. Without grpcio, the same
methods return :class:`StatusCode` members.
"""

import enum

try:  # grpcio is optional
    import grpc as _grpc
except ImportError:  # pragma: no cover - exercised only without grpcio
    _grpc = None

__all__ = ["StatusCode", "Call", "RpcError", "HAVE_GRPC"]

#: True when grpcio could be imported.
HAVE_GRPC = _grpc is not None


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

    def to_grpc(self):
        """The matching ``grpc.StatusCode`` (requires grpcio)."""
        if _grpc is None:
            raise RuntimeError("grpcio is not installed")
        return _GRPC_BY_INT[int(self)]


# The grpcio base classes of the sync API, in this one place (plain objects without grpcio).
if _grpc is not None:
    _GRPC_BY_INT = {sc.value[0]: sc for sc in _grpc.StatusCode}
    _CallBase = _grpc.Call
    _RpcErrorBases = (_grpc.RpcError, _grpc.Call)
    ChannelBase = _grpc.Channel
    FutureBases = (_grpc.Future,)
    UnaryUnaryBase, UnaryStreamBase = _grpc.UnaryUnaryMultiCallable, _grpc.UnaryStreamMultiCallable
    StreamUnaryBase, StreamStreamBase = _grpc.StreamUnaryMultiCallable, _grpc.StreamStreamMultiCallable
    FutureTimeoutError, FutureCancelledError = _grpc.FutureTimeoutError, _grpc.FutureCancelledError
else:  # pragma: no cover
    import concurrent.futures

    _GRPC_BY_INT = {}
    _CallBase = object
    _RpcErrorBases = (Exception,)
    ChannelBase = UnaryUnaryBase = UnaryStreamBase = StreamUnaryBase = StreamStreamBase = object
    FutureBases = ()
    FutureTimeoutError = concurrent.futures.TimeoutError
    FutureCancelledError = concurrent.futures.CancelledError


def public_code(status):
    """Map an int status to ``grpc.StatusCode`` if grpcio is present, else :class:`StatusCode`."""
    try:
        code = StatusCode(status)
    except ValueError:
        code = StatusCode.UNKNOWN
    if _grpc is not None:
        return _GRPC_BY_INT[int(code)]
    return code


class _CallInfoMixin:
    """Accessors shared by :class:`Call` and :class:`RpcError`.

    Subclasses set ``_status``, ``_details``, ``_initial``, ``_trailing``,
    ``_peer`` and ``_response``.
    """

    def code(self):
        """The status code: a ``grpc.StatusCode`` with grpcio, else a :class:`StatusCode`."""
        return public_code(self._status)

    @property
    def status_code(self):
        """The status code as an :class:`StatusCode` (independent of grpcio)."""
        try:
            return StatusCode(self._status)
        except ValueError:
            return StatusCode.UNKNOWN

    def details(self):
        """The status message (str, may be empty)."""
        return self._details

    def initial_metadata(self):
        """Response headers: a tuple of ``(key, value)``; ``-bin`` values are bytes, others str."""
        return self._initial

    def trailing_metadata(self):
        """Response trailers: a tuple of ``(key, value)``; ``-bin`` values are bytes, others str."""
        return self._trailing

    def peer(self):
        """Address of the endpoint that served the RPC ("" if none was picked)."""
        return self._peer

    def attempt_peers(self):
        """The endpoint of every attempt, in order; the last is :meth:`peer`.
        More than one when a retry policy retried the RPC or hedging sent
        copies (for a hedged call the copies that did not win come first)."""
        peers = self.__dict__.get("_attempt_peers")
        if peers is None:
            return (self._peer,) if self._peer else ()
        return peers

    @property
    def attempts(self):
        """How many attempts the RPC made (1 normally; 0 when no endpoint was picked)."""
        return len(self.attempt_peers())

    # grpc.RpcContext: the call is over by the time anyone holds this object.
    def is_active(self):
        """Always False: the RPC has finished."""
        return False

    def time_remaining(self):
        """Always None: the RPC has finished."""
        return None

    def cancel(self):
        """No-op returning False: a finished RPC cannot be cancelled."""
        return False

    def add_callback(self, callback):
        """Returns False (the RPC has already terminated), as grpc does."""
        return False


class Call(_CallInfoMixin, _CallBase):
    """Information about a finished RPC, returned with the response by
    :meth:`lbchannel.Channel.unary_with_call` and by ``with_call`` of the
    grpc.Channel interface. A ``grpc.Call`` when grpcio is installed.
    """

    def __init__(self, status, details, initial, trailing, peer, response=None):
        self._status = int(status)
        self._details = details
        self._initial = initial
        self._trailing = trailing
        self._peer = peer
        self._response = response

    def __repr__(self):
        return "<lbchannel.Call %s peer=%r details=%r>" % (
            self.status_code.name,
            self._peer,
            self._details,
        )


class RpcError(_CallInfoMixin, *_RpcErrorBases):
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

    def __init__(self, status, details="", initial=(), trailing=(), peer=""):
        self._status = int(status)
        self._details = details
        self._initial = tuple(initial)
        self._trailing = tuple(trailing)
        self._peer = peer
        super().__init__(self._format())

    @classmethod
    def from_call(cls, call):
        """Build the error for a finished, non-OK :class:`Call`."""
        error = cls(call._status, call._details, call._initial, call._trailing, call._peer)
        error._attempt_peers = call.__dict__.get("_attempt_peers")
        return error

    def _format(self):
        text = "%s" % self.status_code.name
        if self._details:
            text += ": %s" % self._details
        if self._peer:
            text += " (peer %s)" % self._peer
        return text

    def __str__(self):
        return self._format()

    def __repr__(self):
        return "<lbchannel.RpcError %s details=%r peer=%r>" % (
            self.status_code.name,
            self._details,
            self._peer,
        )

    def __reduce__(self):
        return (
            type(self),
            (self._status, self._details, self._initial, self._trailing, self._peer),
        )

    def debug_error_string(self):
        """A one-line description, like grpcio's ``debug_error_string()``."""
        return self._format()

    # -- the finished-future face of grpcio's errors ----------------------------------
    # grpcio's RpcError of a blocking call is also a finished grpc.Future, and
    # grpc.intercept_channel relies on it: an interceptor's continuation returns the
    # error, and the interceptor chain calls result() on it.

    def result(self, timeout=None):
        """Raise this error (the outcome of a failed RPC), as grpcio's does."""
        raise self

    def exception(self, timeout=None):
        """This error."""
        return self

    def traceback(self, timeout=None):
        """The traceback this error was raised with, or None."""
        return self.__traceback__

    def done(self):
        """True: the RPC has ended."""
        return True

    def running(self):
        """False: the RPC has ended."""
        return False

    def cancelled(self):
        """Whether the RPC ended by cancellation."""
        return self._status == 1

    def add_done_callback(self, fn):
        """Call ``fn(self)`` at once (the RPC has ended)."""
        fn(self)
