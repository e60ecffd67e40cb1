"""Conversion between Python metadata and ``lbc_metadata`` lists.

Python side, as in grpcio: a sequence of ``(key, value)`` pairs. Keys are
str (or ASCII bytes). Values of keys ending in ``-bin`` are bytes (a str is
UTF-8 encoded); other values are str (UTF-8 encoded, so anything outside
printable ASCII reaches the library and is rejected there with
:class:`lbchannel.InvalidMetadataError`) or bytes.

Response metadata comes back as a tuple of ``(key, value)`` tuples with
bytes values for ``-bin`` keys and str values otherwise.
"""

from __future__ import annotations

import ctypes
from typing import Any, List, Optional, Tuple, Union

from . import _native
from ._errors import _check
from ._grpc import MetadataArg, MetadataTuple


def c_text(value: object, what: str, binary: bool = False) -> Optional[bytes]:
    """str (UTF-8 encoded) or bytes for a ``const char *`` argument; None stays None
    (NULL: the library reports LBC_ERR_INVALID_ARGUMENT). Refuses a NUL character
    (C would see the text cut short there) unless ``binary`` (a value with a length)."""
    if value is None:
        return None
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))
    if not binary and b"\0" in data:
        raise ValueError("%s contains a NUL character: %r" % (what, value))
    return data


def build(metadata: MetadataArg) -> Any:
    """Create an ``lbc_metadata*`` holding ``metadata``.

    Returns ``None`` (a NULL pointer) for ``None``/empty metadata. The caller
    must release a non-None result with ``lbc_metadata_free``. Raises
    :class:`TypeError` for malformed pairs and :class:`lbchannel.Error` when
    the library refuses a key or value.
    """
    if not metadata:
        return None
    pairs: List[Tuple[bytes, bytes]] = []
    for item in metadata:
        try:
            k, v = item
        except (TypeError, ValueError):
            raise TypeError("metadata must be a sequence of (key, value) pairs, got %r" % (item,)) from None
        key, value = c_text(k, "metadata key"), c_text(v, "metadata value", binary=True)
        if key is None or value is None:
            raise TypeError("metadata %s must be str or bytes, not NoneType" % ("key" if key is None else "value"))
        pairs.append((key, value))
    md = _native.lbc_metadata_p()
    _check(_native.lbc_metadata_new(ctypes.byref(md)), "lbc_metadata_new")
    try:
        for key, value in pairs:
            _check(_native.lbc_metadata_add(md, key, value, len(value)), "lbc_metadata_add")
    except BaseException:
        _native.lbc_metadata_free(md)
        raise
    return md


def read(md: Any) -> MetadataTuple:
    """Copy a borrowed ``const lbc_metadata*`` into a tuple of ``(key, value)``."""
    if not md:
        return ()
    count: int = _native.lbc_metadata_count(md)
    out: List[Tuple[str, Union[str, bytes]]] = []
    key = ctypes.c_char_p()
    value = ctypes.POINTER(ctypes.c_ubyte)()
    length = ctypes.c_size_t()
    for i in range(count):
        _check(_native.lbc_metadata_get(md, i, ctypes.byref(key), ctypes.byref(value), ctypes.byref(length)),
               "lbc_metadata_get")
        k = (key.value or b"").decode("ascii", "replace")
        raw: bytes = ctypes.string_at(value, length.value) if length.value else b""
        out.append((k, raw if k.endswith("-bin") else raw.decode("utf-8", "replace")))  # ASCII is UTF-8
    return tuple(out)
