"""Fixtures for the streaming, asyncio and interop tests: gRPC interop servers.

* ``interop_pb``: ``(empty_pb2, messages_pb2, test_pb2_grpc)`` generated once
  per session by grpc_tools.protoc from ``Tests/interop/proto/grpc/testing``.
* ``interop_servers``: three ``Tests/interop/server.py`` processes (grpc.aio,
  so thousands of concurrent streams are fine) on 127.0.0.2..4, named s1..s3;
  every response carries the trailer ``x-lbtest-server: <name>``. Shared by
  the session: tests must not stop them.

Imported by conftest.py so the fixtures are visible to every test module.
"""

import os
import selectors
import subprocess
import sys
import tempfile
import time

import pytest

from lbtest_support import HOSTS, REPO_ROOT

INTEROP_DIR = REPO_ROOT / "Tests" / "interop"
INTEROP_SERVER = INTEROP_DIR / "server.py"
PROTO_DIR = INTEROP_DIR / "proto" / "grpc" / "testing"
PROTOS = ("empty.proto", "messages.proto", "test.proto")


class InteropServer:
    """One ``Tests/interop/server.py`` process listening on ``host:0``."""

    def __init__(self, host, name, env=None):
        self.host = host
        self.name = name
        self.env = dict(env or {})  # e.g. LBTEST_TLS_CERT / LBTEST_TLS_KEY: serve TLS
        self.proc = None
        self.address = None
        self._log = None

    def spawn(self):
        env = dict(os.environ, LBTEST_PARENT_PID=str(os.getpid()), PYTHONUNBUFFERED="1", **self.env)
        self._log = tempfile.TemporaryFile(prefix="lbtest-interop-")
        self.proc = subprocess.Popen(
            [sys.executable, str(INTEROP_SERVER), "--listen", "%s:0" % self.host, "--name", self.name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        return self

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        buf = b""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if sel.select(left):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    buf += chunk
        finally:
            sel.close()
        line = buf.split(b"\n", 1)[0].decode("utf-8", "replace")
        if not line.startswith("READY %s:" % self.host):
            self.stop()
            raise RuntimeError("interop server %s did not start: %r; stderr:\n%s" % (self.name, line, self.stderr()))
        self.address = line.split()[1]
        return self

    def stderr(self):
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()


class InteropServers:
    """Three interop servers; ``target`` is the ipv4: target of all of them."""

    def __init__(self, servers):
        self.servers = servers

    @property
    def target(self):
        return "ipv4:" + ",".join(s.address for s in self.servers)

    @property
    def names(self):
        return [s.name for s in self.servers]

    def name_of(self, address):
        for s in self.servers:
            if s.address == address:
                return s.name
        raise KeyError(address)

    def __iter__(self):
        return iter(self.servers)

    def __len__(self):
        return len(self.servers)


def generate(out_dir):
    """Compile the interop protos into ``out_dir`` (empty_pb2, messages_pb2, test_pb2[_grpc])."""
    from grpc_tools import protoc

    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        "-I" + str(PROTO_DIR),
        "-I" + include,
        "--python_out=%s" % out_dir,
        "--grpc_python_out=%s" % out_dir,
    ] + [str(PROTO_DIR / p) for p in PROTOS]
    rc = protoc.main(args)
    assert rc == 0, "protoc failed (%d) on %s" % (rc, PROTO_DIR)


@pytest.fixture(scope="session")
def interop_pb(tmp_path_factory):
    """``(empty_pb2, messages_pb2, test_pb2_grpc)`` for grpc.testing.TestService."""
    if not INTEROP_SERVER.exists() or not (PROTO_DIR / "test.proto").exists():
        pytest.fail("the interop server or protos are missing under %s" % INTEROP_DIR)
    out = tmp_path_factory.mktemp("interop_gen")
    generate(out)
    sys.path.insert(0, str(out))
    import empty_pb2
    import messages_pb2
    import test_pb2_grpc

    return empty_pb2, messages_pb2, test_pb2_grpc


def start_interop_servers(env=None):
    """Generator: three interop servers s1..s3 on 127.0.0.2..4 (``env`` adds to
    their environment), yielded as InteropServers and stopped afterwards."""
    servers = [InteropServer(host, "s%d" % (i + 1), env=env) for i, host in enumerate(HOSTS)]
    try:
        for s in servers:
            s.spawn()
        for s in servers:
            s.wait_ready()
    except BaseException:
        for s in servers:
            s.stop()
        raise
    yield InteropServers(servers)
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def interop_servers(interop_pb):
    """Three interop servers s1..s3 on 127.0.0.2..4 shared by the session."""
    yield from start_interop_servers()
