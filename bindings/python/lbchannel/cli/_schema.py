"""A method's message types and shape, and JSON <-> protobuf for its requests and responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, message_factory  # type: ignore[import-untyped, import-not-found, unused-ignore]

from ._errors import CliError, RpcFailure

__all__ = ["MethodSchema", "resolve"]


@dataclass(frozen=True)
class MethodSchema:
    """The request and response classes of one method, and whether each side streams.

    Example::

        schema = resolve(pool, "/lbtest.Greeter/SayHello")
        payload = schema.encode('{"name": "x"}')
        print(schema.decode(response_bytes))
    """

    path: str
    request_class: Any
    response_class: Any
    client_streaming: bool = False
    server_streaming: bool = False

    @property
    def request_type(self) -> str:
        return str(self.request_class.DESCRIPTOR.full_name)

    @property
    def kind(self) -> str:
        """``"unary"``, ``"server-streaming"``, ``"client-streaming"`` or ``"bidirectional-streaming"``."""
        if self.client_streaming:
            return "bidirectional-streaming" if self.server_streaming else "client-streaming"
        return "server-streaming" if self.server_streaming else "unary"

    def require_unary(self, command: str) -> None:
        """Raise :class:`CliError` unless the method is unary (``bench`` and ``watch`` call unary methods only)."""
        if self.kind != "unary":
            raise CliError("%s is a %s method: %s calls unary methods only (lbchannel call runs every "
                           "method shape)" % (self.path, self.kind, command))

    def message(self, text: str, label: str = "the request") -> Any:
        """One request JSON (proto3 JSON mapping) as a message; a mismatch is a :class:`CliError`."""
        try:
            return json_format.Parse(text, self.request_class())
        except json_format.ParseError as exc:
            raise CliError("%s does not fit %s: %s" % (label, self.request_type, exc)) from None

    def messages(self, documents: "list[str]") -> "list[Any]":
        """Every request JSON of ``documents`` as a message (all checked before any is sent)."""
        if len(documents) == 1:
            return [self.message(documents[0])]
        return [self.message(text, "request %d of %d" % (i, len(documents)))
                for i, text in enumerate(documents, 1)]

    def to_json(self, message: Any) -> str:
        """A response message as indented JSON (as :meth:`decode` prints it)."""
        return str(json_format.MessageToJson(message, indent=2))

    def encode(self, text: str) -> bytes:
        """The request JSON (proto3 JSON mapping) as protobuf bytes; a mismatch is a :class:`CliError`."""
        return bytes(self.message(text).SerializeToString())

    def decode(self, data: bytes) -> str:
        """The response bytes as indented JSON (a :class:`CliError` when they do not parse)."""
        try:
            message = self.response_class.FromString(data)
        except Exception as exc:  # google.protobuf.message.DecodeError
            raise CliError("the response is not a valid %s: %s" % (self.response_class.DESCRIPTOR.full_name, exc),
                           13) from None
        return self.to_json(message)


def resolve(pool: Any, path: str) -> MethodSchema:
    """The schema of ``path`` (``/pkg.Svc/Method``) in ``pool``.

    Raises :class:`RpcFailure` NOT_FOUND for an unknown service and
    UNIMPLEMENTED for a method the service does not have.
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
    return MethodSchema(
        path,
        message_factory.GetMessageClass(method.input_type),
        message_factory.GetMessageClass(method.output_type),
        bool(method.client_streaming),
        bool(method.server_streaming),
    )
