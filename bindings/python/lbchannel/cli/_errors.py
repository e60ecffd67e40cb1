"""The command's exceptions and exit statuses.

An RPC that ends with a status other than OK exits with that status code
(1..16); everything found wrong before an RPC could run — bad arguments,
request JSON that does not fit the message, a ``.proto`` that does not
compile, a missing optional dependency — exits with :data:`EXIT_USAGE`.
"""

from __future__ import annotations

__all__ = ["EXIT_USAGE", "CliError", "RpcFailure"]

#: Exit status of errors found before any RPC ran (sysexits.h's EX_USAGE).
EXIT_USAGE = 64


class CliError(Exception):
    """A problem to report on stderr; the command exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class RpcFailure(CliError):
    """An RPC (the user's, or a reflection request) ended with gRPC status ``code``."""

    def __init__(self, code: int, message: str, peer: str = "") -> None:
        super().__init__(message, code)
        self.code = code
        self.peer = peer
