"""``lbchannel call``: one unary RPC, request and response as JSON.

The response JSON goes to stdout; a line naming the backend that answered
(the call's peer), the status and the time goes to stderr (``-q`` drops
it; ``-v`` adds the response headers and trailers). The exit status is the
RPC's gRPC status code.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from ._channel import error_status, open_channel, rpc_error_types, status_name
from ._errors import CliError, RpcFailure
from ._lookup import method_schema
from ._parse import channel_options, duration, metadata, method_path, request_text

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``call`` subcommand."""
    p = sub.add_parser("call", parents=[common], help="call a unary method with a JSON request",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("method", help="/package.Service/Method")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the response")
    p.add_argument("-v", "--verbose", action="store_true", help="also print response headers and trailers (stderr)")
    p.set_defaults(run=run)


def _format_metadata(pairs: Any) -> str:
    return "".join("  %s: %s\n" % (k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in pairs or ())


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``call``; return the gRPC status code."""
    path = method_path(args.method)
    md = metadata(args.header)
    timeout = duration(args.deadline) if args.deadline else None
    channel = open_channel(args.target, channel_options(args.option))
    rpc_error, local_error = rpc_error_types()
    try:
        schema = method_schema(channel, path, args.proto, args.import_path, timeout, md)
        payload = schema.encode(request_text(args.data))
        started = time.monotonic()
        try:
            response, call = channel.unary_with_call(path, payload, timeout=timeout, metadata=md)
        except rpc_error as exc:
            code, details, peer = error_status(exc)
            raise RpcFailure(code, "%s: %s" % (status_name(code), details), peer) from None
        except local_error as exc:
            raise CliError("the call could not start: %s" % exc) from None
        elapsed = time.monotonic() - started
        text = schema.decode(response)
        if not args.quiet:
            err.write("peer %s  OK  %.1f ms\n" % (call.peer() or "-", elapsed * 1000))
            if args.verbose:
                err.write("headers:\n%strailers:\n%s" % (_format_metadata(call.initial_metadata()),
                                                        _format_metadata(call.trailing_metadata())))
        out.write(text + "\n")
        out.flush()
        return 0
    finally:
        channel.close()
