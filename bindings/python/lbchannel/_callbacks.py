"""Python callables behind the C callbacks ``lbc_lookup_fn`` and ``lbc_log_fn``
(STYLE.md, "Callbacks"): the :class:`lbchannel.Channel` keeps each ``CFUNCTYPE`` object
alive until ``lbc_channel_close`` returns; no exception ever unwinds into C (a failed
lookup is reported with ``lbc_address_list_set_error``, kept in
:attr:`LookupHook.last_error` and logged); callbacks run on the library's threads
(throwaway Python threads for ctypes) and must not close their own channel (checked).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from . import _native
from ._errors import _decode


_logger = logging.getLogger("lbchannel")
_state = threading.local()


#: ``lookup(target) -> addresses`` (an iterable of str, or one str).
LookupFn = Callable[[str], Union[Iterable[str], str]]


def in_callback(*hooks: object) -> bool:
    """True if the calling thread is running one of ``hooks`` right now."""
    running = getattr(_state, "running", ())
    return any(h is not None and h in running for h in hooks)


@contextlib.contextmanager
def _running(hook: object) -> Iterator[None]:
    """Marks the current thread as running ``hook`` (see :func:`in_callback`)."""
    _state.running = getattr(_state, "running", ()) + (hook,)
    try:
        yield
    finally:
        _state.running = _state.running[:-1]


class LogLevel(enum.IntEnum):
    """The C ``lbc_log_level`` enum."""

    DEBUG = 0
    INFO = 1
    WARNING = 2
    ERROR = 3

    def to_logging(self) -> int:
        """The matching :mod:`logging` level (the one of the same name)."""
        return int(getattr(logging, self.name))


#: ``log(level, message)``.
LogFn = Callable[[LogLevel, str], None]


class LookupHook:
    """Wraps ``lookup(target: str) -> iterable of address str`` as an ``lbc_lookup_fn``.

    Addresses are ``"10.0.0.1:50051"``, ``"[::1]:50051"`` or ``"unix:/path"``.
    Raising any exception marks the lookup failed (the channel keeps its last
    known endpoints and retries with backoff); the exception's text becomes
    the library's error message.
    """

    def __init__(self, fn: LookupFn) -> None:
        if not callable(fn):
            raise TypeError("lookup must be callable, got %r" % (fn,))
        self.fn = fn
        #: The exception the most recent lookup raised, or None after a success.
        self.last_error: Optional[BaseException] = None
        self.cfunc = _native.lbc_lookup_fn(self._trampoline)

    def _trampoline(self, target: Optional[bytes], out: Any, _user_data: Any) -> int:
        with _running(self):
            try:
                addresses = self.fn(_decode(target))
                if isinstance(addresses, (str, bytes)):
                    addresses = [addresses]
                for address in addresses:
                    raw = address.encode("utf-8") if isinstance(address, str) else address
                    if _native.lbc_address_list_add(out, raw) != 0:
                        raise ValueError("lookup returned an unusable address %r: %s"
                                         % (raw, _decode(_native.lbc_last_errmsg())))
                self.last_error = None
                return 0
            except BaseException as exc:  # never unwind into C
                self.last_error = exc
                try:
                    text = ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")
                    _native.lbc_address_list_set_error(out, text)
                    _logger.warning("lbchannel lookup callback failed: %s", text.decode("utf-8", "replace"))
                except BaseException:
                    pass
                return 1


class LogHook:
    """Wraps ``log(level: LogLevel, message: str)`` as an ``lbc_log_fn``.

    ``True`` instead of a callable forwards every line to the
    :mod:`logging` logger ``"lbchannel"``. Runs on the channel's I/O thread:
    keep it quick. Exceptions are swallowed (and counted in :attr:`errors`).
    """

    def __init__(self, fn: Union[LogFn, bool]) -> None:
        if fn is True:
            fn = self._to_logging
        if not callable(fn):
            raise TypeError("log_callback must be callable or True, got %r" % (fn,))
        self.fn: LogFn = fn
        #: Exceptions raised by the callback (they never reach C).
        self.errors = 0
        self.cfunc = _native.lbc_log_fn(self._trampoline)

    @staticmethod
    def _to_logging(level: LogLevel, message: str) -> None:
        _logger.log(level.to_logging(), "%s", message)

    def _trampoline(self, level: int, message: Optional[bytes], _user_data: Any) -> None:
        with _running(self):
            try:
                self.fn(LogLevel(level) if 0 <= level <= 3 else LogLevel.INFO, _decode(message))
            except BaseException:  # never unwind into C
                self.errors += 1
