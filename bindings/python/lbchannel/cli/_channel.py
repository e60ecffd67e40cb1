"""Opening an :class:`lbchannel.Channel` for the command, and the parts of it the command uses.

The command sees the channel through :class:`ChannelLike`, a Protocol of
the few methods it calls, so it type-checks on its own.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, cast

from ._errors import CliError

__all__ = ["ChannelLike", "StreamLike", "ResponsesLike", "open_channel", "status_int", "status_name", "rpc_error_types"]

Metadata = Sequence["tuple[str, str | bytes]"]


class StreamLike(Protocol):
    """A bytes-level streaming call (:class:`lbchannel.StreamingCall`)."""

    def send(self, message: bytes, end: bool = False, timeout: "float | None" = None) -> None: ...
    def close_send(self) -> None: ...
    def recv(self, timeout: "float | None" = None) -> "bytes | None": ...
    def code(self) -> Any: ...
    def details(self) -> str: ...
    def peer(self) -> str: ...
    def close(self) -> None: ...


class FutureLike(Protocol):
    """A unary call started with ``future()`` (:class:`lbchannel.CallFuture`)."""

    def add_done_callback(self, fn: "Callable[[Any], None]") -> None: ...
    def exception(self, timeout: "float | None" = None) -> "BaseException | None": ...
    def peer(self) -> str: ...


class UnaryLike(Protocol):
    """A unary multi-callable on bytes (``channel.unary_unary(method)``)."""

    def future(self, request: bytes, timeout: "float | None" = None, metadata: Any = None) -> FutureLike: ...


class ResponsesLike(Protocol):
    """A streaming call of the grpc.Channel interface (the binding's ``_Rendezvous``): an
    iterator of responses (server streaming) that is also a ``grpc.Call``."""

    def __iter__(self) -> Iterator[Any]: ...
    def cancel(self) -> bool: ...
    def peer(self) -> str: ...
    def initial_metadata(self) -> Any: ...
    def trailing_metadata(self) -> Any: ...


class UnaryStreamLike(Protocol):
    """``channel.unary_stream(method, serializer, deserializer)``."""

    def __call__(self, request: Any, timeout: "float | None" = None, metadata: Any = None) -> ResponsesLike: ...


class StreamUnaryLike(Protocol):
    """``channel.stream_unary(method, serializer, deserializer)``."""

    def with_call(self, request_iterator: Iterator[Any], timeout: "float | None" = None,
                  metadata: Any = None) -> "tuple[Any, ResponsesLike]": ...


class StreamStreamLike(Protocol):
    """``channel.stream_stream(method, serializer, deserializer)``."""

    def __call__(self, request_iterator: Iterator[Any], timeout: "float | None" = None,
                 metadata: Any = None) -> ResponsesLike: ...


class ChannelLike(Protocol):
    """What the command uses of :class:`lbchannel.Channel`."""

    def unary_with_call(self, method: str, request: bytes, timeout: "float | None" = None,
                        metadata: Any = None) -> "tuple[bytes, Any]": ...
    def unary_unary(self, method: str) -> UnaryLike: ...
    def stream(self, method: str, metadata: Any = None, timeout: "float | None" = None) -> StreamLike: ...
    def unary_stream(self, method: str, request_serializer: "Callable[[Any], bytes]",
                     response_deserializer: "Callable[[bytes], Any]") -> UnaryStreamLike: ...
    def stream_unary(self, method: str, request_serializer: "Callable[[Any], bytes]",
                     response_deserializer: "Callable[[bytes], Any]") -> StreamUnaryLike: ...
    def stream_stream(self, method: str, request_serializer: "Callable[[Any], bytes]",
                      response_deserializer: "Callable[[bytes], Any]") -> StreamStreamLike: ...
    def stats(self) -> "dict[str, Any]": ...
    def close(self) -> None: ...


def open_channel(target: str, options: "Mapping[str, str]") -> ChannelLike:
    """``lbchannel.Channel(target, **options)``; a bad target or option becomes a :class:`CliError`."""
    import lbchannel

    factory: "Callable[..., Any]" = lbchannel.Channel
    try:
        return cast(ChannelLike, factory(target, **dict(options)))
    except (lbchannel.Error, ValueError, TypeError) as exc:
        raise CliError("cannot open a channel to %s: %s" % (target, exc)) from None


def rpc_error_types() -> "tuple[type[BaseException], type[BaseException]]":
    """``(lbchannel.RpcError, lbchannel.Error)``: an RPC's failure and a local API error."""
    import lbchannel

    return cast("type[BaseException]", lbchannel.RpcError), cast("type[BaseException]", lbchannel.Error)


_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
)


def status_int(code: Any) -> int:
    """A status code as int: from an int, an :class:`lbchannel.StatusCode` or a ``grpc.StatusCode``."""
    if isinstance(code, int):
        return int(code)
    value = getattr(code, "value", None)
    if isinstance(value, tuple) and value and isinstance(value[0], int):
        return int(value[0])  # grpc.StatusCode: (int, "name")
    return 2  # UNKNOWN


def status_name(code: int) -> str:
    """``4`` -> ``"DEADLINE_EXCEEDED"`` (``"CODE_<n>"`` outside 0..16)."""
    return _NAMES[code] if 0 <= code < len(_NAMES) else "CODE_%d" % code


def error_status(exc: BaseException) -> "tuple[int, str, str]":
    """``(code, details, peer)`` of an :class:`lbchannel.RpcError`."""
    status: Any = getattr(exc, "status_code", 2)
    details: Any = getattr(exc, "details", lambda: str(exc))()
    peer: Any = getattr(exc, "peer", lambda: "")()
    return status_int(status), str(details or ""), str(peer or "")
