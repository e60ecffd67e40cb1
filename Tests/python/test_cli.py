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


def cli(library_path, *args, timeout=60, python_flags=()):
    """Run ``python -m lbchannel ARGS``; return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, *python_flags, "-m", "lbchannel", *args], capture_output=True,
                          text=True, timeout=timeout, env=cli_env(library_path), stdin=subprocess.DEVNULL)


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
    assert "service lbcli.Echo has no method Shout (its methods: Chat, Say)" in r.stderr
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
    r = cli(library_path, "call", target, "/lbcli.Echo/Chat")
    assert r.returncode == 64 and "streaming" in r.stderr
    r = cli(library_path, "call", target, SAY, "--proto", "/nonexistent/x.proto")
    assert r.returncode == 64 and "no such file" in r.stderr
    r = cli(library_path, "call", target)
    assert r.returncode == 64


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
