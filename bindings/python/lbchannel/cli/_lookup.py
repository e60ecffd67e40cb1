"""Where a method's message types come from: ``--proto`` files or server reflection."""

from __future__ import annotations

from typing import Sequence

from ._channel import ChannelLike, Metadata
from ._schema import MethodSchema, resolve

__all__ = ["method_schema"]


def method_schema(channel: ChannelLike, path: str, protos: "Sequence[str]", includes: "Sequence[str]",
                  timeout: "float | None", metadata: Metadata) -> MethodSchema:
    """The schema of ``path``: from ``protos`` when given, else by reflection over ``channel``."""
    if protos:
        from ._proto import compile_pool

        pool = compile_pool(protos, includes)
    else:
        from ._reflection import fetch_pool

        pool = fetch_pool(channel, path.lstrip("/").partition("/")[0], timeout, metadata)
    return resolve(pool, path)
