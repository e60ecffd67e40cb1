"""Parsing of the command-line values: durations, metadata, channel options, method names, request data."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys

from ._errors import CliError

__all__ = ["duration", "metadata", "channel_options", "method_path", "request_text", "json_documents"]

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """``"30s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or plain seconds (``"1.5"``) as seconds.

    >>> duration("500ms")
    0.5
    """
    match = _DURATION.match(text)
    if match is None:
        raise CliError("not a duration: %r (use e.g. 500ms, 30s, 2m)" % text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def metadata(items: "list[str] | None") -> "list[tuple[str, str | bytes]]":
    """``-H key:value`` texts as metadata pairs; values of ``-bin`` keys are base64 text."""
    pairs: "list[tuple[str, str | bytes]]" = []
    for item in items or ():
        key, sep, value = item.partition(":")
        key = key.strip().lower()
        if not sep or not key:
            raise CliError("bad header %r: use -H key:value" % item)
        value = value.strip()
        if key.endswith("-bin"):
            try:
                pairs.append((key, base64.b64decode(value, validate=True)))
            except binascii.Error:
                raise CliError("header %s: a -bin value must be base64 text" % key) from None
        else:
            pairs.append((key, value))
    return pairs


def channel_options(items: "list[str] | None") -> "dict[str, str]":
    """``-o key=value`` texts as channel options (any ``lbc_options_set`` key)."""
    options: "dict[str, str]" = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError("bad channel option %r: use -o key=value" % item)
        options[key.strip()] = value.strip()
    return options


def method_path(text: str) -> str:
    """``/pkg.Svc/Method``, ``pkg.Svc/Method`` or ``pkg.Svc.Method`` as ``/pkg.Svc/Method``.

    >>> method_path("grpc.health.v1.Health.Check")
    '/grpc.health.v1.Health/Check'
    """
    name = text.strip().lstrip("/")
    if "/" in name:
        service, _, method = name.partition("/")
    else:
        service, _, method = name.rpartition(".")
    if not service or not method or "/" in method:
        raise CliError("bad method %r: use /package.Service/Method" % text)
    return "/%s/%s" % (service, method)


def request_text(data: "str | None") -> str:
    """The request JSON of ``-d``: the text itself, ``@FILE`` for a file's content, ``@-`` for stdin."""
    if data is None:
        return "{}"
    if data.startswith("@"):
        if data == "@-":
            return sys.stdin.read()
        try:
            with open(data[1:], encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise CliError("cannot read request data: %s" % exc) from None
    return data


def json_documents(text: str) -> "list[str]":
    """The JSON objects of ``text``, concatenated or separated by whitespace (as grpcurl's ``-d``),
    each as its own text; the whole text is checked before anything is sent.

    Raises :class:`CliError` naming the message (and line and column) that is
    not valid JSON or not a JSON object.

    >>> json_documents('{"a": 1} {"a": 2}{}')
    ['{"a": 1}', '{"a": 2}', '{}']
    """
    decoder = json.JSONDecoder()
    documents: "list[str]" = []
    at = _JSON_SPACE.match(text, 0).end()  # type: ignore[union-attr]  # matches the empty string
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise CliError("request data: message %d is not valid JSON: %s" % (len(documents) + 1, exc)) from None
        if not isinstance(value, dict):
            raise CliError("request data: message %d is not a JSON object: %s"
                           % (len(documents) + 1, text[at:end][:40]))
        documents.append(text[at:end])
        at = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
    return documents
