"""A unary method's message types, and JSON <-> protobuf bytes for its request and response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, message_factory  # type: ignore[import-untyped, import-not-found, unused-ignore]

from ._errors import CliError, RpcFailure

__all__ = ["MethodSchema", "resolve"]


@dataclass(frozen=True)
class MethodSchema:
    """The request and response classes of one unary method.

    Example::

        schema = resolve(pool, "/lbtest.Greeter/SayHello")
        payload = schema.encode('{"name": "x"}')
        print(schema.decode(response_bytes))
    """

    path: str
    request_class: Any
    response_class: Any

    @property
    def request_type(self) -> str:
        return str(self.request_class.DESCRIPTOR.full_name)

    def encode(self, text: str) -> bytes:
        """The request JSON (proto3 JSON mapping) as protobuf bytes; a mismatch is a :class:`CliError`."""
        try:
            message = json_format.Parse(text, self.request_class())
        except json_format.ParseError as exc:
            raise CliError("the request does not fit %s: %s" % (self.request_type, exc)) from None
        return bytes(message.SerializeToString())

    def decode(self, data: bytes) -> str:
        """The response bytes as indented JSON (a :class:`CliError` when they do not parse)."""
        try:
            message = self.response_class.FromString(data)
        except Exception as exc:  # google.protobuf.message.DecodeError
            raise CliError("the response is not a valid %s: %s" % (self.response_class.DESCRIPTOR.full_name, exc),
                           13) from None
        return str(json_format.MessageToJson(message, indent=2))


def resolve(pool: Any, path: str) -> MethodSchema:
    """The schema of ``path`` (``/pkg.Svc/Method``) in ``pool``.

    Raises :class:`RpcFailure` NOT_FOUND for an unknown service, UNIMPLEMENTED
    for a method the service does not have, and :class:`CliError` for a
    streaming method (the command calls unary methods).
    """
    service_name, _, method_name = path.lstrip("/").partition("/")
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        raise RpcFailure(5, "unknown service %s" % service_name) from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        known = ", ".join(sorted(service.methods_by_name)) or "none"
        raise RpcFailure(12, "service %s has no method %s (its methods: %s)" % (service_name, method_name, known))
    if method.client_streaming or method.server_streaming:
        raise CliError("%s is a streaming method: the command calls unary methods only" % path)
    return MethodSchema(
        path,
        message_factory.GetMessageClass(method.input_type),
        message_factory.GetMessageClass(method.output_type),
    )
