"""The ``lbchannel`` command line: subcommands, shared options, errors and exit statuses."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn, Sequence

from ._deps import require
from ._errors import EXIT_USAGE, CliError, RpcFailure

__all__ = ["main", "build_parser"]

_EPILOG = """\
exit status: the RPC's gRPC status code (0 OK, 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE, ...);
64 for errors found before any RPC (bad arguments, JSON or .proto; missing dependency);
130 after Ctrl-C (the call is cancelled); 141 when stdout closed before the end.
Message types come from server reflection (grpc.reflection.v1, then v1alpha) unless
--proto is given. Needs: pip install 'lbchannel[cli]'."""


class _Parser(argparse.ArgumentParser):
    """argparse exiting with EXIT_USAGE (2 would read as the gRPC code UNKNOWN)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, "%s: error: %s\n" % (self.prog, message))


def _common() -> argparse.ArgumentParser:
    p = _Parser(add_help=False)
    p.add_argument("target", help="lbchannel target: dns:///host:port, dns://DNS_IP:PORT/host:port, "
                                  "ipv4:a:p,b:p, ipv6:[a]:p, unix:/path, host:port")
    p.add_argument("-d", "--data", help="request as JSON; for client-streaming and bidirectional methods, "
                                        "JSON objects one after another (@FILE reads a file, @- stdin); "
                                        "default {} (no message for a client stream)")
    p.add_argument("-H", "--header", action="append", metavar="KEY:VALUE",
                   help="request metadata (repeatable; -bin values in base64)")
    p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE",
                   help="channel option, any of lbc_options_set's (repeatable), e.g. -o lb_policy=round_robin")
    p.add_argument("--deadline", metavar="DURATION", help="deadline of each call and of reflection, e.g. 5s, 300ms")
    p.add_argument("--proto", action="append", default=[], metavar="FILE",
                   help=".proto file with the method (repeatable); default: server reflection")
    p.add_argument("-I", "--import-path", action="append", default=[], metavar="DIR",
                   help="include directory for --proto (repeatable; default: each file's directory)")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command."""
    from . import _bench, _call, _watch

    parser = _Parser(prog="lbchannel", description="Call, load and watch gRPC services through a "
                     "client-side load-balanced lbchannel channel.", epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the binding and library versions")
    sub = parser.add_subparsers(dest="command", metavar="{call,bench,watch}")
    common = _common()
    _call.add_parser(sub, common)
    _bench.add_parser(sub, common)
    _watch.add_parser(sub, common)
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        require("rich", "google.protobuf", "grpc_reflection")
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.version:
            import lbchannel

            version: Callable[[], str] = lbchannel.version
            print("lbchannel %s (library %s, %s)" % (lbchannel.__version__, version(), lbchannel.library_path))
            return 0
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except RpcFailure as exc:
        peer = " (peer %s)" % exc.peer if exc.peer else ""
        sys.stderr.write("lbchannel: %s%s\n" % (exc.message, peer))
        return exc.exit_code
    except CliError as exc:
        sys.stderr.write("lbchannel: %s\n" % exc.message)
        return exc.exit_code
    except ImportError as exc:  # the library itself could not be loaded
        sys.stderr.write("lbchannel: %s\n" % exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed early (| head): the call was cancelled; exit as SIGPIPE would
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error again at exit's flush
        except (OSError, ValueError):
            pass
        return 141
