"""The streaming shapes of ``lbchannel call``: server, client and bidirectional streaming.

Calls go through the binding's grpc.Channel multi-callables
(``unary_stream``, ``stream_unary``, ``stream_stream``) with the message
classes of the method's schema. Requests are all built before the call
starts; the binding sends a request stream from its own helper thread while
the main thread prints each response, as one indented JSON document, as
soon as it arrives. Ctrl-C cancels the call (the server sees RST_STREAM)
and leaves as ``KeyboardInterrupt`` (exit 130).
"""

from __future__ import annotations

from typing import Any, Sequence, TextIO

from ._channel import ChannelLike, Metadata, ResponsesLike, error_status, rpc_error_types, status_name
from ._errors import CliError, RpcFailure
from ._schema import MethodSchema

__all__ = ["call_streaming"]


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _print(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def call_streaming(channel: ChannelLike, schema: MethodSchema, requests: "Sequence[Any]", timeout: "float | None",
                   metadata: Metadata, out: TextIO) -> "tuple[ResponsesLike, int]":
    """Run a streaming method of ``schema`` with ``requests`` (exactly one unless the client streams).

    Prints every response to ``out``; returns the finished call (for its peer
    and metadata) and the number of responses. Raises :class:`RpcFailure`
    when the call ends with a status other than OK (the responses before it
    are printed) and :class:`CliError` when it could not start.
    """
    rpc_error, local_error = rpc_error_types()
    deserialize = schema.response_class.FromString
    call: "ResponsesLike | None" = None
    count = 0
    try:
        try:
            if not schema.client_streaming:
                call = channel.unary_stream(schema.path, _serialize, deserialize)(
                    requests[0], timeout=timeout, metadata=metadata)
            elif not schema.server_streaming:
                response, call = channel.stream_unary(schema.path, _serialize, deserialize).with_call(
                    iter(requests), timeout=timeout, metadata=metadata)
                _print(out, schema.to_json(response))
                return call, 1
            else:
                call = channel.stream_stream(schema.path, _serialize, deserialize)(
                    iter(requests), timeout=timeout, metadata=metadata)
            for response in call:
                _print(out, schema.to_json(response))
                count += 1
            return call, count
        except (KeyboardInterrupt, BrokenPipeError):
            if call is not None:
                call.cancel()  # the binding cancels a wait it was in; this covers the time between
            raise
    except rpc_error as exc:
        code, details, peer = error_status(exc)
        after = " (after %d response%s)" % (count, "" if count == 1 else "s") if schema.server_streaming else ""
        raise RpcFailure(code, "%s: %s%s" % (status_name(code), details, after), peer) from None
    except local_error as exc:
        raise CliError("the call could not start: %s" % exc) from None
