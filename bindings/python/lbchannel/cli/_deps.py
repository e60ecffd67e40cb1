"""The optional dependencies of the command (the ``cli`` extra) and the message when one is missing."""

from __future__ import annotations

import importlib.util

from ._errors import CliError

__all__ = ["INSTALL_HINT", "require"]

#: How to get every dependency of the command.
INSTALL_HINT = "pip install 'lbchannel[cli]'"

#: module imported -> PyPI package that provides it.
_PACKAGES = {
    "rich": "rich",
    "google.protobuf": "protobuf",
    "grpc_reflection": "grpcio-reflection",
    "grpc_tools": "grpcio-tools",
}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def require(*modules: str) -> None:
    """Raise :class:`CliError` naming the PyPI packages of ``modules`` that are not installed.

    >>> require("rich", "google.protobuf")  # doctest: +SKIP
    """
    missing = [_PACKAGES.get(m, m) for m in modules if not _present(m)]
    if missing:
        raise CliError(
            "lbchannel: the command needs %s, which %s not installed: %s"
            % (", ".join(missing), "is" if len(missing) == 1 else "are", INSTALL_HINT)
        )
