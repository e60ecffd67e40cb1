"""The ``lbchannel`` command (``python -m lbchannel``: call, bench, watch) against real backends.

Backends: ``cli_backend.py`` (grpcio, ``lbcli.Echo`` + health + server
reflection v1alpha / v1 / both / none) on 127.0.0.2..5; DNS: dnsmasq. The
command runs as a subprocess (``watch`` in a pseudo-terminal) with the
library under test.
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

import lbtest_support
from lbtest_support import Backend, BackendError, Dnsmasq, free_port

HERE = lbtest_support.HERE
CLI_BACKEND = HERE / "cli_backend.py"
PYTHON_DIR = lbtest_support.REPO_ROOT / "bindings" / "python"
SAY = "/lbcli.Echo/Say"
REPEAT = "/lbcli.Echo/Repeat"  # server streaming
JOIN = "/lbcli.Echo/Join"  # client streaming
CHAT = "/lbcli.Echo/Chat"  # bidirectional


class CliBackend(Backend):
    """A ``cli_backend.py`` process; ``reflection`` is v1alpha, v1, both or none."""

    def __init__(self, listen, name, gen_dir, reflection):
        super().__init__(listen, name, gen_dir)
        self.reflection = reflection

    def start(self, timeout=20.0):
        import tempfile

        cmd = [sys.executable, str(CLI_BACKEND), "--listen", self.listen, "--name", self.name,
               "--gen-dir", str(self.gen_dir), "--reflection", self.reflection]
        env = dict(os.environ, LBTEST_PARENT_PID=str(os.getpid()), PYTHONUNBUFFERED="1")
        self._log = tempfile.TemporaryFile(prefix="lbtest-cli-backend-")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env)
        with lbtest_support._ALL_LOCK:
            lbtest_support._ALL.append(self)
        line = self._read_line(timeout)
        if line != "READY %s" % self.listen:
            self.kill()
            raise BackendError("cli backend %s: got %r; stderr:\n%s" % (self.name, line, self.stderr()))
        return self


def start_group(gen_dir, reflections, first_host=2):
    hosts = tuple("127.0.0.%d" % (first_host + i) for i in range(len(reflections)))
    for _ in range(3):
        port = free_port(hosts)
        group = [CliBackend("%s:%d" % (h, port), "b%d" % (first_host - 1 + i), gen_dir, r)
                 for i, (h, r) in enumerate(zip(hosts, reflections))]
        try:
            for b in group:
                b.start()
            return group
        except BackendError:
            for b in group:
                b.stop()
    raise RuntimeError("could not start cli backends on %s" % (hosts,))


@pytest.fixture(scope="module")
def cli_gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("lbcli_gen")
    result = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(HERE / "protos"),
                             "--python_out=%s" % out, "--grpc_python_out=%s" % out, "lbcli.proto"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def trio(cli_gen):
    """b1 (reflection v1alpha, like grpcio), b2 (v1 only), b3 (both) on 127.0.0.2..4."""
    group = start_group(cli_gen, ("v1alpha", "v1", "both"))
    yield group
    for b in group:
        b.stop()


@pytest.fixture(scope="module")
def no_reflection(cli_gen):
    """b4 on 127.0.0.5 without server reflection."""
    group = start_group(cli_gen, ("none",), first_host=5)
    yield group[0]
    group[0].stop()


def cli_env(library_path):
    env = dict(os.environ, LBCHANNEL_LIBRARY=str(library_path), COLUMNS="160")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    return env


def cli(library_path, *args, timeout=60, python_flags=(), input=None):
    """Run ``python -m lbchannel ARGS`` (``input`` on its stdin); return the CompletedProcess (text)."""
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([sys.executable, *python_flags, "-m", "lbchannel", *args], capture_output=True,
                          text=True, timeout=timeout, env=cli_env(library_path), **stdin)


def json_stream(text):
    """The JSON documents printed one after another in ``text`` (asserting nothing else is there)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    return docs


def wait_for_log(backend, pattern, timeout=10.0):
    """Wait until the backend's stderr matches ``pattern``; return the match (None after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        match = re.search(pattern, backend.stderr())
        if match or time.monotonic() > deadline:
            return match
        time.sleep(0.05)


# -- call -------------------------------------------------------------------------------


def test_call_by_reflection_v1alpha_prints_json_and_peer(library_path, trio):
    b1 = trio[0]
    r = cli(library_path, "call", "ipv4:" + b1.address, SAY, "-d", '{"text": "hello"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"text": "hello", "backend": "b1"}
    assert "peer %s  OK" % b1.address in r.stderr


def test_call_by_reflection_v1(library_path, trio):
    b2 = trio[1]  # serves grpc.reflection.v1 only
    r = cli(library_path, "call", "ipv4:" + b2.address, "lbcli.Echo.Say", "-d", '{"text": "v1"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["backend"] == "b2"


def test_call_by_reflection_in_a_mixed_fleet(library_path, trio):
    # b1 serves only v1alpha, b2 only v1: each reflection call lands on one of them.
    target = "ipv4:%s,%s" % (trio[0].address, trio[1].address)
    for _ in range(5):
        r = cli(library_path, "call", target, SAY, "-d", '{"text": "mixed"}', "-q")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["backend"] in ("b1", "b2")
        assert r.stderr == ""  # -q: no peer line


def test_call_sends_metadata(library_path, trio):
    r = cli(library_path, "call", "ipv4:" + trio[0].address, SAY, "-d", "{}",
            "-H", "x-trace: abc", "-H", "X-Two:2", "-v")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metadata"] == {"x-trace": "abc", "x-two": "2"}
    assert "headers:" in r.stderr and "trailers:" in r.stderr


def test_call_deadline_exceeded_exit_code(library_path, trio):
    started = time.monotonic()
    r = cli(library_path, "call", "ipv4:" + trio[0].address, SAY, "-d", '{"sleep": "5s"}', "--deadline", "300ms")
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "DEADLINE_EXCEEDED" in r.stderr
    assert r.stdout == ""
    assert time.monotonic() - started < 5


def test_call_status_code_is_exit_status(library_path, trio):
    r = cli(library_path, "call", "ipv4:" + trio[0].address, SAY, "-d", '{"text": "nope", "failCode": 9}')
    assert r.returncode == 9
    assert "FAILED_PRECONDITION: nope" in r.stderr and "peer %s" % trio[0].address in r.stderr


def test_call_unknown_method_and_service(library_path, trio):
    target = "ipv4:" + trio[0].address
    r = cli(library_path, "call", target, "/lbcli.Echo/Shout")
    assert r.returncode == 12
    assert "service lbcli.Echo has no method Shout (its methods: Chat, Join, Repeat, Say)" in r.stderr
    r = cli(library_path, "call", target, "/lbcli.Nobody/Say")
    assert r.returncode == 5
    assert "lbcli.Nobody" in r.stderr


def test_call_with_proto_when_the_server_has_no_reflection(library_path, no_reflection):
    target = "ipv4:" + no_reflection.address
    r = cli(library_path, "call", target, SAY, "-d", '{"text": "x"}')
    assert r.returncode == 12
    assert "no reflection service" in r.stderr and "--proto" in r.stderr
    r = cli(library_path, "call", target, SAY, "-d", '{"text": "x", "sleep": "0.001s"}',
            "--proto", str(HERE / "protos" / "lbcli.proto"), "-I", str(HERE / "protos"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"text": "x", "backend": "b4"}


def test_call_bad_input_exits_64(library_path, trio):
    target = "ipv4:" + trio[0].address
    r = cli(library_path, "call", target, SAY, "-d", '{"nosuchfield": 1}')
    assert r.returncode == 64 and "does not fit lbcli.SayRequest" in r.stderr
    r = cli(library_path, "call", target, SAY, "-o", "lb_policy=bogus")
    assert r.returncode == 64 and "lb_policy" in r.stderr
    r = cli(library_path, "call", target, SAY, "-d", '{"text": "a"} {"text": "b"}')
    assert r.returncode == 64 and "/lbcli.Echo/Say is a unary method: it takes one request, -d holds 2" in r.stderr
    r = cli(library_path, "call", target, SAY, "-d", "[1]")
    assert r.returncode == 64 and "message 1 is not a JSON object" in r.stderr
    r = cli(library_path, "call", target, SAY, "--proto", "/nonexistent/x.proto")
    assert r.returncode == 64 and "no such file" in r.stderr
    r = cli(library_path, "call", target)
    assert r.returncode == 64


# -- call: streaming methods ------------------------------------------------------------


def test_call_server_streaming_prints_each_response(library_path, trio):
    b1 = trio[0]
    r = cli(library_path, "call", "ipv4:" + b1.address, REPEAT, "-d", '{"text": "tick", "count": 4}',
            "-H", "x-trace: s1", "-v")
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"text": "tick %d/4" % i, "backend": "b1"} for i in range(1, 5)]
    assert r.stdout.count("\n{") == 3  # indented documents, one after another, as for a unary response
    assert re.search(r"peer %s  OK  [0-9.]+ ms  4 responses" % re.escape(b1.address), r.stderr), r.stderr
    assert "headers:" in r.stderr and "trailers:" in r.stderr


def test_call_server_streaming_prints_responses_as_they_arrive(library_path, trio):
    # 20 responses 100 ms apart: the first is on stdout long before the call ends.
    args = [sys.executable, "-m", "lbchannel", "call", "ipv4:" + trio[0].address, REPEAT,
            "-d", '{"text": "slow", "count": 20, "sleep": "0.1s"}']
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(library_path), stdin=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        first = [proc.stdout.readline() for _ in range(4)]
        first_at = time.monotonic() - started
        assert json.loads("".join(first)) == {"text": "slow 1/20", "backend": "b1"}
        rest, err = proc.communicate(timeout=30)
        total = time.monotonic() - started
        assert proc.returncode == 0, err
        assert len(json_stream(rest)) == 19
        assert total - first_at >= 1.5, (first_at, total)  # 19 more responses came 100 ms apart
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_call_client_streaming_sends_every_object_of_d(library_path, trio):
    b2 = trio[1]
    r = cli(library_path, "call", "ipv4:" + b2.address, JOIN,
            "-d", '{"text": "cs-one"}\n{"text": "cs-two"}{"text": "cs-three"}')
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"text": "cs-one cs-two cs-three", "backend": "b2"}]
    assert re.search(r"peer %s  OK  [0-9.]+ ms\n" % re.escape(b2.address), r.stderr), r.stderr
    # No -d: a client stream of no message.
    r = cli(library_path, "call", "ipv4:" + b2.address, JOIN)
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"backend": "b2"}]


def test_call_bidirectional_streaming_echoes(library_path, trio):
    b3 = trio[2]
    r = cli(library_path, "call", "ipv4:" + b3.address, CHAT, "-d", '{"text": "bd-a"} {"text": "bd-b"} {"text": "bd-c"}')
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"text": t, "backend": "b3"} for t in ("bd-a", "bd-b", "bd-c")]
    assert re.search(r"peer %s  OK  [0-9.]+ ms  3 responses" % re.escape(b3.address), r.stderr), r.stderr


def test_call_streaming_requests_from_stdin(library_path, trio):
    target = "ipv4:" + trio[0].address
    r = cli(library_path, "call", target, JOIN, "-d", "@-", input='{"text": "in-1"}\n{"text": "in-2"}\n')
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"text": "in-1 in-2", "backend": "b1"}]
    r = cli(library_path, "call", target, CHAT, "-d", "@-", input='  {"text": "in-3"}  {"text": "in-4"}  ')
    assert r.returncode == 0, r.stderr
    assert [d["text"] for d in json_stream(r.stdout)] == ["in-3", "in-4"]
    r = cli(library_path, "call", target, REPEAT, "-d", "@-", input='{"text": "in-5", "count": 2}')
    assert r.returncode == 0, r.stderr
    assert [d["text"] for d in json_stream(r.stdout)] == ["in-5 1/2", "in-5 2/2"]


def test_call_streaming_status_is_exit_status(library_path, trio):
    b1 = trio[0]
    target = "ipv4:" + b1.address
    r = cli(library_path, "call", target, REPEAT, "-d", '{"text": "boom", "count": 2, "failCode": 9}')
    assert r.returncode == 9, (r.stdout, r.stderr)
    assert [d["text"] for d in json_stream(r.stdout)] == ["boom 1/2", "boom 2/2"]  # printed before the status
    assert "FAILED_PRECONDITION: boom (after 2 responses) (peer %s)" % b1.address in r.stderr
    r = cli(library_path, "call", target, CHAT, "-d", '{"text": "ok"} {"text": "denied", "failCode": 7}')
    assert r.returncode == 7, (r.stdout, r.stderr)
    assert json_stream(r.stdout) == [{"text": "ok", "backend": "b1"}]
    assert "PERMISSION_DENIED: denied (after 1 response)" in r.stderr
    r = cli(library_path, "call", target, JOIN, "-d", '{"text": "x"} {"text": "gone", "failCode": 5}')
    assert r.returncode == 5 and r.stdout == ""
    assert "NOT_FOUND: gone (peer %s)" % b1.address in r.stderr
    # The deadline applies to the whole stream.
    started = time.monotonic()
    r = cli(library_path, "call", target, REPEAT, "-d", '{"text": "late", "count": 100, "sleep": "0.1s"}',
            "--deadline", "2s")
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "DEADLINE_EXCEEDED" in r.stderr
    assert 1 <= len(json_stream(r.stdout)) < 100  # the stream would take 10 s
    assert time.monotonic() - started < 9


def test_call_streaming_checks_every_request_before_sending(library_path, trio):
    b2 = trio[1]
    target = "ipv4:" + b2.address
    for data, error in (('{"text": "never-sent-1"} {"text": ', "message 2 is not valid JSON"),
                        ('{"text": "never-sent-2"} {"text": "x"} 7', "message 3 is not a JSON object"),
                        ('{"text": "never-sent-3"} {"nosuch": 1}', "request 2 of 2 does not fit lbcli.SayRequest")):
        for method in (JOIN, CHAT):
            r = cli(library_path, "call", target, method, "-d", data)
            assert r.returncode == 64, (r.stdout, r.stderr)
            assert error in r.stderr and r.stdout == "" and "peer" not in r.stderr
    # A later call on the same backend is logged; none of the refused ones was.
    r = cli(library_path, "call", target, JOIN, "-d", '{"text": "sent-after"}')
    assert r.returncode == 0, r.stderr
    assert wait_for_log(b2, r"Join got sent-after"), b2.stderr()[-2000:]
    assert "never-sent" not in b2.stderr()


def test_call_streaming_with_proto_files(library_path, no_reflection):
    r = cli(library_path, "call", "ipv4:" + no_reflection.address, REPEAT, "-d", '{"text": "p", "count": 2}',
            "--proto", str(HERE / "protos" / "lbcli.proto"))
    assert r.returncode == 0, r.stderr
    assert json_stream(r.stdout) == [{"text": "p 1/2", "backend": "b4"}, {"text": "p 2/2", "backend": "b4"}]


@pytest.mark.parametrize("method", [REPEAT, CHAT])
def test_call_streaming_ctrl_c_cancels_and_exits_130(library_path, trio, method):
    b3 = trio[2]
    name = method.rsplit("/", 1)[1]
    marker = "ctrl-c-%s" % name
    # Repeat: 1000 responses 50 ms apart; Chat: the server holds the stream 60 s after the request.
    data = ('{"text": "%s", "count": 1000, "sleep": "0.05s"}' if method == REPEAT else
            '{"text": "%s", "sleep": "60s"}') % marker
    args = [sys.executable, "-m", "lbchannel", "call", "ipv4:" + b3.address, method, "-d", data]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(library_path), stdin=subprocess.DEVNULL)
    try:
        if method == REPEAT:
            assert proc.stdout.readline() == "{\n"  # the stream is running
        else:
            assert wait_for_log(b3, r"Chat got %s" % marker), b3.stderr()[-2000:]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 130, (out, err)
        assert "Traceback" not in err
        # The server saw the call cancelled (RST_STREAM), long before it would have ended.
        assert wait_for_log(b3, r"%s %s cancelled" % (name, marker)), b3.stderr()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_call_streaming_into_a_closed_pipe_cancels_and_exits_141(library_path, trio):
    # lbchannel call ... | head -2: stdout closes while responses still come.
    b1 = trio[0]
    args = [sys.executable, "-m", "lbchannel", "call", "ipv4:" + b1.address, REPEAT,
            "-d", '{"text": "closed-pipe", "count": 100000}']
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(library_path), stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline() == "{\n"
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(15) == 141, err
        assert "Traceback" not in err
        assert wait_for_log(b1, r"Repeat closed-pipe cancelled"), b1.stderr()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_bench_and_watch_refuse_streaming_methods(library_path, trio):
    target = "ipv4:" + trio[0].address
    r = cli(library_path, "bench", target, CHAT, "-n", "1")
    assert r.returncode == 64
    assert "/lbcli.Echo/Chat is a bidirectional-streaming method: bench calls unary methods only" in r.stderr
    r = cli(library_path, "watch", target, "--once", "--method", REPEAT, "-d", "{}")
    assert r.returncode == 64
    assert "/lbcli.Echo/Repeat is a server-streaming method: watch calls unary methods only" in r.stderr


def test_missing_dependency_names_the_extra(library_path):
    # -S: no site-packages, so rich, protobuf and grpcio-reflection are missing.
    r = cli(library_path, "call", "ipv4:127.0.0.2:1", SAY, python_flags=("-S",))
    assert r.returncode == 64
    assert "pip install 'lbchannel[cli]'" in r.stderr and "rich" in r.stderr, r.stderr


# -- bench ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["threads", "futures"])
def test_bench_json_splits_calls_over_three_backends(library_path, trio, engine):
    target = "ipv4:" + ",".join(b.address for b in trio)
    r = cli(library_path, "bench", target, SAY, "-d", '{"text": "load"}', "-c", "16", "-n", "600",
            "-o", "lb_policy=round_robin", "--format", "json", "--engine", engine)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["calls"] == 600
    assert report["status"] == {"OK": 600}
    assert set(report["backends"]) == {b.address for b in trio}
    for address, n in report["backends"].items():
        assert 150 <= n <= 250, report["backends"]  # round_robin: about 200 each
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert sum(b["count"] for b in report["histogram"]) == 600
    assert report["calls_per_s"] > 0


@pytest.mark.parametrize("engine", ["threads", "futures"])
def test_bench_counts_status_codes(library_path, trio, engine):
    target = "ipv4:" + trio[0].address
    r = cli(library_path, "bench", target, SAY, "-d", '{"text": "down", "failCode": 14}', "-c", "4", "-n", "40",
            "--format", "json", "--engine", engine)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == {"UNAVAILABLE": 40}
    assert report["errors"] == {"UNAVAILABLE: down": 40}


def test_bench_text_report_for_a_duration(library_path, trio):
    target = "ipv4:" + ",".join(b.address for b in trio)
    r = cli(library_path, "bench", target, SAY, "-c", "8", "-z", "1s")
    assert r.returncode == 0, r.stderr
    for heading in ("Summary", "calls/s", "percentiles", "p99", "Latency histogram", "Status codes", "Backends"):
        assert heading in r.stdout
    calls = int(re.search(r"calls\s+(\d+) in", r.stdout).group(1))
    assert calls > 0
    for b in trio:
        assert b.address in r.stdout


# -- watch ------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class PtyProcess:
    """The command in a pseudo-terminal of 160x50; :meth:`read_until` collects its screen output."""

    def __init__(self, args, env):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        env = dict(env, TERM="xterm-256color")
        env.pop("COLUMNS", None)
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.text = ""

    def read_until(self, pattern, timeout):
        """Read until ``pattern`` (a regex) is in the output seen since the start; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.text)
            if match:
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    return re.search(pattern, self.text)
                self.text += _ANSI.sub("", chunk.decode("utf-8", "replace"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)


def test_watch_in_a_terminal_shows_a_new_endpoint_after_a_dns_change(library_path, trio, tmp_path):
    b1, b2 = trio[0], trio[1]
    port = int(b1.address.rsplit(":", 1)[1])
    dns = Dnsmasq(tmp_path).start([("127.0.0.2", "svc.test")])
    term = None
    try:
        target = "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, port)
        term = PtyProcess([sys.executable, "-m", "lbchannel", "watch", target, "--rate", "40",
                           "--duration", "60", "-o", "discovery_interval_ms=300"], cli_env(library_path))
        assert term.read_until(r"endpoint added %s" % re.escape(b1.address), 20), term.text[-3000:]
        assert term.read_until(r"%s\s*│\s*READY" % re.escape(b1.address), 20), term.text[-3000:]
        seen = len(term.text)
        dns.set_hosts([("127.0.0.2", "svc.test"), ("127.0.0.3", "svc.test")])  # scale up
        assert term.read_until(r"endpoint added %s" % re.escape(b2.address), 20), term.text[-3000:]
        # The new replica takes traffic: its row shows calls the watch sent answered there.
        row = r"%s\s*│\s*READY\s*│[^│]*│\s*(\d+)\s*│[^│]*│[^│]*│[^│]*│[^│]*│[^│]*│\s*([1-9]\d*)\s*│" % re.escape(b2.address)
        match = term.read_until(row, 20)
        assert match, term.text[-3000:]
        assert "discovery events" in term.text[seen:]
        dns.set_hosts([("127.0.0.3", "svc.test")])  # b1 leaves
        assert term.read_until(r"endpoint removed %s" % re.escape(b1.address), 20), term.text[-3000:]
        dns.set_hosts([])  # the name stays, without addresses: an empty answer
        assert term.read_until(r"lookup answered no address", 20), term.text[-3000:]
        os.killpg(term.proc.pid, signal.SIGINT)
        assert term.proc.wait(15) == 0
    finally:
        if term is not None:
            term.close()
        dns.stop()


def test_watch_once_prints_a_snapshot(library_path, trio):
    target = "ipv4:" + ",".join(b.address for b in trio)
    r = cli(library_path, "watch", target, "--once", "--duration", "1.5s", "--rate", "30")
    assert r.returncode == 0, r.stderr
    for b in trio:
        assert "endpoint added %s" % b.address in r.stdout
        assert b.address in r.stdout
    assert re.search(r"sent: OK \d+", r.stdout), r.stdout


def test_watch_calls_a_method_given_as_json(library_path, trio):
    target = "ipv4:" + trio[2].address
    r = cli(library_path, "watch", target, "--once", "--duration", "2s", "--rate", "20",
            "--method", SAY, "-d", '{"text": "w"}')
    assert r.returncode == 0, r.stderr
    assert "%s at 20/s" % SAY in r.stdout
    sent = int(re.search(r"sent: OK (\d+)", r.stdout).group(1))
    assert sent >= 5, r.stdout
    r = cli(library_path, "watch", target, "--once", "--method", SAY, "-d", '{"nosuch": 1}')
    assert r.returncode == 64 and "does not fit" in r.stderr


# -- pure parts -------------------------------------------------------------------------


def test_events_from_stats_diffs(lbchannel):
    from lbchannel.cli._events import diff

    a = {"endpoints": [{"address": "10.0.0.1:1", "state": "READY"}],
         "discovery": {"errors": 0, "empty_answers": 0}}
    b = {"endpoints": [{"address": "10.0.0.1:1", "state": "TRANSIENT_FAILURE", "last_error": "refused"},
                       {"address": "10.0.0.2:1", "state": "CONNECTING", "ejected": False}],
         "discovery": {"errors": 1, "empty_answers": 1, "last_error": "NXDOMAIN"}}
    assert diff(None, a) == ["endpoint added 10.0.0.1:1 (READY)"]
    assert diff(a, b) == [
        "10.0.0.1:1 READY -> TRANSIENT_FAILURE: refused",
        "endpoint added 10.0.0.2:1 (CONNECTING)",
        "lookup failed: NXDOMAIN (keeping the last endpoints)",
        "lookup answered no address (empty_answer policy applies)",
    ]
    assert diff(b, a) == ["10.0.0.1:1 TRANSIENT_FAILURE -> READY", "endpoint removed 10.0.0.2:1"]


def test_json_documents(lbchannel):
    from lbchannel.cli._errors import CliError
    from lbchannel.cli._parse import json_documents

    assert json_documents('{"a": 1}{"b": [1, {"c": "}"}]}\n\t {} ') == ['{"a": 1}', '{"b": [1, {"c": "}"}]}', "{}"]
    assert json_documents("") == [] == json_documents(" \n")
    for bad, message in (('{"a": 1} {', "message 2 is not valid JSON: Expecting property name"),
                         ('{} "x"', "message 2 is not a JSON object"), ("{} }", "message 2 is not valid JSON")):
        with pytest.raises(CliError, match=message):
            json_documents(bad)


def test_parse_values(lbchannel):
    from lbchannel.cli._errors import CliError
    from lbchannel.cli._parse import channel_options, duration, metadata, method_path

    assert duration("250ms") == 0.25 and duration("2m") == 120 and duration("1.5") == 1.5
    assert method_path("pkg.Svc/M") == "/pkg.Svc/M" == method_path("pkg.Svc.M")
    assert metadata(["k: v", "a-bin: AAE="]) == [("k", "v"), ("a-bin", b"\x00\x01")]
    assert channel_options(["lb_policy=round_robin"]) == {"lb_policy": "round_robin"}
    for bad in (lambda: duration("soon"), lambda: metadata(["novalue"]), lambda: method_path("/x"),
                lambda: channel_options(["x"]), lambda: metadata(["k-bin: !!"])):
        with pytest.raises(CliError):
            bad()
