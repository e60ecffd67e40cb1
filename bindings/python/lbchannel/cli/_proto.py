"""Message types from ``.proto`` files (``--proto FILE -I DIR``), compiled at run time.

The compiler is ``grpcio-tools``' bundled protoc (``grpc_tools.protoc``, in
the ``cli`` extra), run in-process to write a descriptor set with every
import (``--include_imports``); its bundled well-known types
(``google/protobuf/*.proto``) are on the include path.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped, import-not-found, unused-ignore]

from ._deps import require
from ._errors import CliError

__all__ = ["compile_pool"]


def compile_pool(protos: "Sequence[str]", includes: "Sequence[str]") -> Any:
    """A ``DescriptorPool`` with the messages and services of ``protos`` and their imports.

    Without ``includes`` each file's directory is the include path.
    Raises :class:`CliError` when a file is missing or does not compile
    (protoc's own messages go to stderr).
    """
    require("grpc_tools")
    import importlib.resources

    from grpc_tools import protoc  # type: ignore[import-untyped, import-not-found, unused-ignore]

    for path in protos:
        if not os.path.isfile(path):
            raise CliError("--proto %s: no such file" % path)
    # protoc maps a file to the include directory that is a textual prefix of
    # its path: make both absolute so that "-I protos protos/x.proto" and
    # "-I $PWD/protos protos/x.proto" both work.
    files = [os.path.abspath(p) for p in protos]
    paths = [os.path.abspath(p) for p in includes] or sorted({os.path.dirname(f) for f in files})
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory(prefix="lbchannel-proto-") as tmp:
        out = os.path.join(tmp, "set.pb")
        args = ["protoc", "--include_imports", "--descriptor_set_out=%s" % out]
        args += ["-I%s" % p for p in paths] + ["-I%s" % well_known] + files
        rc = protoc.main(args)
        if rc != 0 or not os.path.exists(out):
            raise CliError("protoc could not compile %s (its messages are above)" % " ".join(protos))
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in fds.file:  # --include_imports writes imports first
        pool.Add(proto)
    return pool
