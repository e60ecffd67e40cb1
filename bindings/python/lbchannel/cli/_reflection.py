"""Message types from gRPC server reflection, asked over the lbchannel channel itself.

The reflection RPC (``ServerReflectionInfo``, bidirectional streaming) runs
on :meth:`lbchannel.Channel.stream`, with only the reflection protobuf
messages of ``grpcio-reflection``; grpcio's transport is not used. The
``grpc.reflection.v1`` service is tried first, then ``v1alpha`` (grpcio's
servers offer only v1alpha): both carry the same messages on the wire.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped, import-not-found, unused-ignore]
from grpc_reflection.v1alpha import reflection_pb2  # type: ignore[import-untyped, import-not-found, unused-ignore]

from ._channel import ChannelLike, Metadata, rpc_error_types, status_int, status_name
from ._errors import RpcFailure

__all__ = ["REFLECTION_METHODS", "fetch_pool"]

#: The reflection methods tried, in order.
REFLECTION_METHODS = (
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
)

_UNIMPLEMENTED = 12


class _NoSuchService(Exception):
    """This reflection version is not served (UNIMPLEMENTED) by ``peer``."""

    def __init__(self, peer: str) -> None:
        super().__init__(peer)
        self.peer = peer


def fetch_pool(channel: ChannelLike, symbol: str, timeout: "float | None", metadata: Metadata) -> Any:
    """A ``DescriptorPool`` holding the file that defines ``symbol`` (e.g. ``"pkg.Svc"``)
    and every file it imports, asked from the server by reflection.

    Raises :class:`RpcFailure`: UNIMPLEMENTED when the server serves neither
    reflection version, the reflection call's status when it fails, NOT_FOUND
    (or the server's error code) when the server does not know ``symbol``.
    """
    # Each reflection call goes to one endpoint. In a fleet where only some
    # servers offer one version (a rolling upgrade) keep asking, in the order
    # v1, v1alpha, v1alpha, v1, ... (so that neither alternating nor repeated
    # picks keep pairing a server with the version it lacks), until every
    # endpoint has said UNIMPLEMENTED to both or the attempts run out.
    endpoints = {str(e.get("address")) for e in channel.stats().get("endpoints") or ()}
    attempts = min(16, max(2, 4 * len(endpoints)))
    refused: "set[tuple[str, str]]" = set()
    for attempt in range(attempts):
        method = REFLECTION_METHODS[(attempt + attempt // 2) % 2]
        try:
            files = _fetch_files(channel, method, symbol, timeout, metadata)
        except _NoSuchService as exc:
            refused.add((exc.peer, method))
            if all((e, m) in refused for e in endpoints or {exc.peer} for m in REFLECTION_METHODS):
                break
            continue
        return _pool(files)
    raise RpcFailure(
        _UNIMPLEMENTED,
        "the server offers no reflection service (grpc.reflection.v1 or v1alpha): "
        "give the .proto files with --proto",
    )


def _fetch_files(channel: ChannelLike, method: str, symbol: str, timeout: "float | None",
                 metadata: Metadata) -> "dict[str, Any]":
    """Ask for ``symbol``'s file, then for every import not sent yet; name -> FileDescriptorProto."""
    files: "dict[str, Any]" = {}
    _, local_error = rpc_error_types()
    call = channel.stream(method, metadata=list(metadata) or None, timeout=timeout)
    try:
        def ask(request: Any, what: str) -> None:
            try:
                call.send(request.SerializeToString())
            except local_error:  # the call ended already (e.g. UNIMPLEMENTED): its status tells
                pass
            data = call.recv()
            if data is None:
                code = status_int(call.code())
                if code == _UNIMPLEMENTED:
                    raise _NoSuchService(call.peer())
                raise RpcFailure(code, "server reflection failed: %s: %s" % (status_name(code), call.details()),
                                 call.peer())
            response = reflection_pb2.ServerReflectionResponse.FromString(data)
            if response.HasField("error_response"):
                error = response.error_response
                raise RpcFailure(error.error_code or 5,
                                 "server reflection: %s: %s" % (what, error.error_message or status_name(error.error_code)),
                                 call.peer())
            for raw in response.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files.setdefault(proto.name, proto)

        ask(reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol), "unknown symbol %s" % symbol)
        while True:
            missing = sorted({dep for f in files.values() for dep in f.dependency if dep not in files})
            if not missing:
                break
            ask(reflection_pb2.ServerReflectionRequest(file_by_filename=missing[0]), "unknown file %s" % missing[0])
            if missing[0] not in files:
                raise RpcFailure(5, "server reflection did not send %s" % missing[0], call.peer())
        call.close_send()
    finally:
        call.close()
    return files


def _pool(files: "dict[str, Any]") -> Any:
    """A new ``DescriptorPool`` with ``files`` added, imports first."""
    pool = descriptor_pool.DescriptorPool()
    added: "set[str]" = set()

    def add(name: str) -> None:
        if name in added:
            return
        added.add(name)
        proto = files[name]
        for dep in proto.dependency:
            add(dep)
        pool.Add(proto)

    for name in sorted(files):
        add(name)
    return pool
