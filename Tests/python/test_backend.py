"""The test backend itself, checked with grpcio's own client (no lbchannel needed).

If these fail, every lbchannel test that uses the backend is suspect.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

import lbtest_support
from lbtest_support import Backend, free_port


@pytest.fixture
def grpc_channel(backends):
    ch = grpc.insecure_channel(backends.grpc_target)
    yield ch
    ch.close()


def _unary(ch, method):
    return ch.unary_unary("/lbtest.Test/" + method)


def test_whoami_names_the_backend(backends):
    for b in backends:
        with grpc.insecure_channel(b.address) as ch:
            assert _unary(ch, "Whoami")(b"", timeout=5) == b.name.encode()


def test_echo_returns_request_and_x_metadata(grpc_channel):
    md = [("x-a", "1"), ("x-b-bin", b"\x00\xff"), ("other", "no")]
    resp, call = _unary(grpc_channel, "Echo").with_call(b"abc", metadata=md, timeout=5)
    assert resp == b"abc"
    assert tuple(call.initial_metadata()) == (("x-a", "1"), ("x-b-bin", b"\x00\xff"))
    assert tuple(call.trailing_metadata()) == (
        ("trailer-x-a", "1"),
        ("trailer-x-b-bin", b"\x00\xff"),
        ("x-backend", "b1"),
    )


def test_fail_aborts_with_code_and_utf8_message(grpc_channel):
    with pytest.raises(grpc.RpcError) as info:
        _unary(grpc_channel, "Fail")("7:héllo wörld ✓ 日本".encode(), timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == "héllo wörld ✓ 日本"


def test_sleep_and_size(grpc_channel):
    t0 = time.monotonic()
    assert _unary(grpc_channel, "Sleep")(b"200", timeout=5) == b"b1"
    assert 0.19 <= time.monotonic() - t0 < 2
    assert _unary(grpc_channel, "Size")(b"1234", timeout=5) == b"x" * 1234
    assert _unary(grpc_channel, "Size")(b"0", timeout=5) == b""


def test_greeter_from_generated_code(backends, pb, grpc_channel):
    pb2, pb2_grpc = pb
    stub = pb2_grpc.GreeterStub(grpc_channel)
    assert stub.SayHello(pb2.HelloRequest(name="x"), timeout=5).message == "Hello, x from b1"
    with pytest.raises(grpc.RpcError) as info:
        stub.SayHello(pb2.HelloRequest(name="!5:nobody"), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert info.value.details() == "nobody"


def test_sigterm_exits_zero(gen_dir):
    b = Backend("127.0.0.2:%d" % free_port(), "term", gen_dir).start()
    try:
        assert b.terminate(timeout=10) == 0, b.stderr()
    finally:
        b.kill()


def test_unix_socket_and_no_generated_code():
    path = os.path.join(tempfile.mkdtemp(prefix="lbtest-"), "b.sock")
    b = Backend("unix:" + path, "ux").start()  # no --gen-dir: bytes service only
    try:
        with grpc.insecure_channel("unix:" + path) as ch:
            assert _unary(ch, "Whoami")(b"", timeout=5) == b"ux"
            with pytest.raises(grpc.RpcError) as info:
                ch.unary_unary("/lbtest.Greeter/SayHello")(b"", timeout=5)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        b.stop()


def test_address_in_use_fails_instead_of_sharing(backends):
    cmd = [sys.executable, str(lbtest_support.BACKEND), "--listen", backends[0].address, "--name", "dup"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "READY" not in result.stdout


def test_backend_exits_when_parent_dies(tmp_path):
    # A parent that starts a backend with LBTEST_PARENT_PID and dies at once.
    port = free_port()
    script = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, %r, '--listen', '127.0.0.2:%d', '--name', 'orphan'],"
        " stdout=subprocess.PIPE, env=dict(os.environ, LBTEST_PARENT_PID=str(os.getpid())))\n"
        "print(p.stdout.readline().decode().strip(), p.pid, flush=True)\n"
        "os._exit(0)\n" % (str(lbtest_support.BACKEND), port)
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    ready, _, pid = out.stdout.strip().rpartition(" ")
    assert ready == "READY 127.0.0.2:%d" % port
    pid = int(pid)

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie re-parented to init (or to us) also counts as gone.
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(") ", 1)[1].startswith("Z")
        except OSError:
            return True

    try:
        assert lbtest_support.wait_until(gone, 5), "orphaned backend %d still running" % pid
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
