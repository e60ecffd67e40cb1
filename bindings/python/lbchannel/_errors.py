"""Library error codes (``lbc_error``) and the exceptions that carry them: *API* errors
(bad arguments, a closed channel, an unparsable target), never the outcome of an RPC (a
gRPC status, raised as :class:`lbchannel.RpcError`; see ``_status.py``). Every return
code of the C library goes through :func:`_check`.
"""

from __future__ import annotations

import enum
import re
from typing import Dict, Optional, Type, Union

from . import _native


class ErrorCode(enum.IntEnum):
    """The C ``lbc_error`` enum: 0 is success, negative values are errors."""

    OK = 0
    INVALID_ARGUMENT = -1  #: A required pointer was NULL or a value was out of range.
    INVALID_TARGET = -2  #: The target string could not be parsed.
    UNSUPPORTED = -3  #: Valid, but not supported by this version of the library.
    UNKNOWN_OPTION = -4  #: ``lbc_options_set()`` was given a key it does not know.
    CLOSED = -5  #: The handle was closed.
    RESOURCE = -6  #: Out of memory, threads or file descriptors.
    MESSAGE_TOO_LARGE = -7  #: A message is larger than the configured maximum send size.
    INVALID_METADATA = -8  #: Metadata key or value not allowed by gRPC.
    OUT_OF_RANGE = -9  #: Index out of range.
    INTERNAL = -10  #: A bug in lbchannel.
    RESOLUTION = -11  #: Eager resolution found no endpoint in time (option ``resolution="eager"``).
    RECURSIVE_CALL = -12  #: A blocking call from the channel's own log callback (its I/O thread).
    WOULD_BLOCK = -13  #: Nothing ready before the timeout (a streaming send/receive): try again.
    CALL_FINISHED = -14  #: The call has already ended: nothing more can be sent.
    SEND_CLOSED = -15  #: The send side of the call was closed (``close_send()`` or ``end=True``).
    FORKED = -16  #: The handle was opened before ``fork()``; this process is the child.


class Error(Exception):
    """An error returned by the lbchannel C library (not an RPC outcome).

    Attributes:
        code: the :class:`ErrorCode` (a plain ``int`` if the library returned
            a code this binding does not know).
        message: the library's detailed message (``lbc_last_errmsg()``), or
            ``""``.
        function: name of the C function that failed, or ``None``.
    """

    def __init__(self, code: int, message: str = "", function: Optional[str] = None) -> None:
        self.code: Union[ErrorCode, int] = code
        try:
            self.code = ErrorCode(code)
        except ValueError:
            pass
        self.message = message
        self.function = function
        text = "%s: %s" % (_strerror(code), message) if message else _strerror(code)
        super().__init__("%s: %s" % (function, text) if function else text)


class InvalidArgumentError(Error, ValueError):
    """``LBC_ERR_INVALID_ARGUMENT``: a NULL/None argument or an out-of-range value."""


class InvalidTargetError(Error, ValueError):
    """``LBC_ERR_INVALID_TARGET``: the target string could not be parsed."""


class UnsupportedError(Error):
    """``LBC_ERR_UNSUPPORTED``: valid, but not supported by this library version."""


class UnknownOptionError(Error, ValueError):
    """``LBC_ERR_UNKNOWN_OPTION``: an option key the library does not know."""


class ClosedError(Error, ValueError):
    """``LBC_ERR_CLOSED``: the channel was closed.

    Also raised by the binding itself, without calling the library, when a
    closed :class:`lbchannel.Channel` is used. Subclasses :class:`ValueError`,
    like operations on a closed Python file.
    """


class ResourceError(Error):
    """``LBC_ERR_RESOURCE``: out of memory, threads or file descriptors."""


class MessageTooLargeError(Error, ValueError):
    """``LBC_ERR_MESSAGE_TOO_LARGE``: the request exceeds ``max_send_message_size``."""


class InvalidMetadataError(Error, ValueError):
    """``LBC_ERR_INVALID_METADATA``: a metadata key or value gRPC does not allow."""


class OutOfRangeError(Error, IndexError):
    """``LBC_ERR_OUT_OF_RANGE``: an index out of range."""


class InternalError(Error):
    """``LBC_ERR_INTERNAL``: a bug in lbchannel; the message says more."""


class ResolutionError(Error):
    """``LBC_ERR_RESOLUTION``: eager resolution found no endpoint in time."""


class RecursiveCallError(Error, RuntimeError):
    """``LBC_ERR_RECURSIVE_CALL``: a blocking call from the channel's own log callback."""


class WouldBlockError(Error, TimeoutError):
    """``LBC_ERR_WOULD_BLOCK``: a streaming send or receive found nothing
    ready (no room, no message) before its timeout. Not a failure of the call."""


class CallFinishedError(Error):
    """``LBC_ERR_CALL_FINISHED``: the call has ended (see its ``code()``);
    nothing more can be sent."""


class SendClosedError(Error):
    """``LBC_ERR_SEND_CLOSED``: the send side of the call was already closed."""


class ForkedError(Error):
    """``LBC_ERR_FORKED``: the channel (or call) was opened in the parent process
    before ``os.fork()``; the child cannot use it (its I/O thread stayed in the
    parent). Open a new :class:`lbchannel.Channel` in the child."""


#: Each code's exception class: the one named after it (INVALID_ARGUMENT: InvalidArgumentError).
_BY_CODE: Dict[int, Type[Error]] = {
    ErrorCode[re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__[:-len("Error")]).upper()]: cls
    for cls in Error.__subclasses__()
}


def _strerror(code: int) -> str:
    """``lbc_strerror(code)`` as a str."""
    return _decode(_native.lbc_strerror(int(code))) or "unknown error"


def _decode(raw: Optional[bytes]) -> str:
    """Decode a C string returned by the library (None → "")."""
    return raw.decode("utf-8", "replace") if raw else ""


def error_for(code: int, message: str = "", function: Optional[str] = None) -> Error:
    """Build (do not raise) the exception instance for an error code."""
    return _BY_CODE.get(code, Error)(code, message, function)


def _check(rc: int, function: Optional[str] = None) -> None:
    """Raise the matching :class:`Error` when ``rc`` is not ``LBC_OK``.

    Must be called right after the C call that returned ``rc``, on the same
    thread, with no other ``lbc_*`` call in between: the detailed message is
    read from ``lbc_last_errmsg()``, which is per-thread and valid only until
    the next call into the library.
    """
    if rc != 0:
        raise error_for(rc, _decode(_native.lbc_last_errmsg()), function)
