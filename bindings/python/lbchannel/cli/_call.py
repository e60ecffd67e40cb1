"""``lbchannel call``: one RPC of any shape, requests and responses as JSON.

``-d`` holds the request as JSON; for a client-streaming or bidirectional
method, the requests as a stream of JSON objects (concatenated or separated
by whitespace, as grpcurl reads them; none without ``-d``). Every request is
checked before the call starts. Each response goes to stdout as an indented
JSON document as soon as it arrives; a line naming the backend that answered
(the call's peer), the status, the time and, for a response stream, the
number of responses goes to stderr at the end (``-q`` drops it; ``-v`` adds
the response headers and trailers). The exit status is the RPC's gRPC status
code; Ctrl-C cancels the call and exits 130.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from ._call_streams import call_streaming
from ._channel import error_status, open_channel, rpc_error_types, status_name
from ._errors import CliError, RpcFailure
from ._lookup import method_schema
from ._parse import channel_options, duration, json_documents, metadata, method_path, request_text

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``call`` subcommand."""
    p = sub.add_parser("call", parents=[common], help="call a method (unary or streaming) with JSON requests",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("method", help="/package.Service/Method")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the responses")
    p.add_argument("-v", "--verbose", action="store_true", help="also print response headers and trailers (stderr)")
    p.set_defaults(run=run)


def _format_metadata(pairs: Any) -> str:
    return "".join("  %s: %s\n" % (k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in pairs or ())


def _unary(channel: Any, path: str, payload: bytes, timeout: "float | None", md: Any) -> "tuple[bytes, Any]":
    rpc_error, local_error = rpc_error_types()
    try:
        response, call = channel.unary_with_call(path, payload, timeout=timeout, metadata=md)
        return response, call
    except rpc_error as exc:
        code, details, peer = error_status(exc)
        raise RpcFailure(code, "%s: %s" % (status_name(code), details), peer) from None
    except local_error as exc:
        raise CliError("the call could not start: %s" % exc) from None


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``call``; return the gRPC status code."""
    path = method_path(args.method)
    md = metadata(args.header)
    timeout = duration(args.deadline) if args.deadline else None
    documents = json_documents("" if args.data is None else request_text(args.data))
    channel = open_channel(args.target, channel_options(args.option))
    try:
        schema = method_schema(channel, path, args.proto, args.import_path, timeout, md)
        if not schema.client_streaming:
            if len(documents) > 1:
                raise CliError("%s is a %s method: it takes one request, -d holds %d"
                               % (path, schema.kind, len(documents)))
            documents = documents or ["{}"]
        requests = schema.messages(documents)
        started = time.monotonic()
        count = 1  # responses
        if schema.kind == "unary":
            response, call = _unary(channel, path, bytes(requests[0].SerializeToString()), timeout, md)
            text = schema.decode(response)
            out.write(text + "\n")
            out.flush()
        else:
            call, count = call_streaming(channel, schema, requests, timeout, md, out)
        elapsed = time.monotonic() - started
        if not args.quiet:
            responses = "  %d response%s" % (count, "" if count == 1 else "s") if schema.server_streaming else ""
            err.write("peer %s  OK  %.1f ms%s\n" % (call.peer() or "-", elapsed * 1000, responses))
            if args.verbose:
                err.write("headers:\n%strailers:\n%s" % (_format_metadata(call.initial_metadata()),
                                                        _format_metadata(call.trailing_metadata())))
        return 0
    finally:
        channel.close()
