"""Helpers for lbchannel's Python integration tests: backend processes, ports, waits.

Everything here has a timeout: a broken library or backend makes a test
fail, never hang.
"""

import collections
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BACKEND = HERE / "backend.py"
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")

#: Every backend process started by this test run, for the final cleanup.
_ALL = []
_ALL_LOCK = threading.Lock()


def free_port(hosts=HOSTS):
    """A TCP port nobody listens on at any of ``hosts`` right now (bind-tested)."""
    for _ in range(100):
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            first.bind((hosts[0], 0))
            port = first.getsockname()[1]
            others = []
            try:
                for host in hosts[1:]:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    others.append(s)
                    s.bind((host, port))
            except OSError:
                continue
            finally:
                for s in others:
                    s.close()
            return port
        finally:
            first.close()
    raise RuntimeError("no port free on all of %s" % (hosts,))


class BackendError(RuntimeError):
    """A backend did not come up."""


class Backend:
    """One ``backend.py`` process on ``host:port`` (or ``unix:path``) named ``name``."""

    def __init__(self, listen, name, gen_dir=None, env=None):
        self.listen = listen
        self.name = name
        self.gen_dir = gen_dir
        self.env = dict(env or {})
        self.proc = None
        self._log = None

    @property
    def address(self):
        """The address as lbchannel reports it (``host:port``, or the unix listen string)."""
        return self.listen

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20.0):
        """Start the process and wait for its ``READY`` line."""
        if self.running:
            raise RuntimeError("backend %s already running" % self.name)
        cmd = [sys.executable, str(BACKEND), "--listen", self.listen, "--name", self.name]
        if self.gen_dir:
            cmd += ["--gen-dir", str(self.gen_dir)]
        env = dict(os.environ, LBTEST_PARENT_PID=str(os.getpid()), PYTHONUNBUFFERED="1", **self.env)
        self._log = tempfile.TemporaryFile(prefix="lbtest-backend-")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        with _ALL_LOCK:
            _ALL.append(self)
        line = self._read_line(timeout)
        expected = "READY %s" % self.listen
        if line != expected:
            self.kill()
            raise BackendError(
                "backend %s on %s: expected %r, got %r; stderr:\n%s"
                % (self.name, self.listen, expected, line, self.stderr())
            )
        return self

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "<timeout after %.0fs>" % timeout
                if not sel.select(left):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    return "<exited with %s>" % self.proc.wait(timeout=5)
                buf += chunk
        finally:
            sel.close()
        return buf.split(b"\n", 1)[0].decode("utf-8", "replace")

    def _logged_ids(self, prefix):
        ids = set()
        for line in self.stderr().splitlines():
            if line.startswith(prefix):
                for field in line.split()[2:]:
                    if field.startswith("id="):
                        ids.add(field[3:])
        return ids

    def handled_request_ids(self):
        """x-request-id values of the RPCs whose handler ran (needs LBTEST_LOG_RPCS=1)."""
        return self._logged_ids("RPC ")

    def matched_request_ids(self):
        """x-request-id values of the calls the server accepted, handler run or not (LBTEST_LOG_RPCS=1)."""
        return self._logged_ids("CALL ")

    def stderr(self):
        """What the process wrote to stderr so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def kill(self):
        """SIGKILL and reap. Safe to call when not running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            if self.proc.stdout:
                self.proc.stdout.close()

    def terminate(self, timeout=10.0):
        """SIGTERM (graceful stop) and wait; returns the exit code (None if it did not exit)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Terminate gracefully, kill if that takes too long."""
        if self.running:
            if self.terminate(timeout=7) is None:
                self.kill()
        self.kill()  # reap + close pipes

    def restart(self, timeout=20.0):
        """Start again on the same address (after kill/terminate)."""
        self.stop()
        return self.start(timeout)


class BackendSet:
    """Three backends ``b1``..``b3`` on 127.0.0.2..4, same port on each."""

    def __init__(self, gen_dir, names=("b1", "b2", "b3"), hosts=HOSTS, env=None):
        self.gen_dir = gen_dir
        self.names = names
        self.hosts = hosts
        self.env = env
        self.backends = []

    def start(self, attempts=3):
        last = None
        for _ in range(attempts):
            port = free_port(self.hosts)
            self.backends = [
                Backend("%s:%d" % (host, port), name, self.gen_dir, self.env)
                for host, name in zip(self.hosts, self.names)
            ]
            try:
                for b in self.backends:
                    b.start()
                return self
            except BackendError as exc:  # port taken in between: try another
                last = exc
                self.stop()
        raise last

    def stop(self):
        for b in self.backends:
            b.stop()

    def __iter__(self):
        return iter(self.backends)

    def __getitem__(self, i):
        return self.backends[i]

    def __len__(self):
        return len(self.backends)

    @property
    def target(self):
        """``ipv4:a:p,b:p,c:p`` for lbchannel."""
        return "ipv4:" + ",".join(b.address for b in self.backends)

    @property
    def grpc_target(self):
        """The first backend's address, for a plain grpcio channel."""
        return self.backends[0].address

    def by_name(self, name):
        for b in self.backends:
            if b.name == name:
                return b
        raise KeyError(name)


def stop_all():
    """Kill every backend this run started (session teardown / atexit)."""
    with _ALL_LOCK:
        procs = list(_ALL)
        _ALL.clear()
    for b in procs:
        try:
            b.kill()
        except Exception:
            pass


def wait_until(predicate, timeout, interval=0.05):
    """Poll ``predicate()`` until truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_all_ready(channel, count, timeout=5.0):
    """Wait until ``count`` endpoints of ``channel`` are READY; return whether they are."""
    return wait_until(
        lambda: sum(1 for e in channel.endpoints() if e.get("state") == "READY") >= count,
        timeout,
    )


def run_with_timeout(fn, limit, /, *args, **kwargs):
    """Run ``fn`` on a daemon thread; return its result or raise its exception.

    Raises TimeoutError if it does not finish in ``limit`` seconds (the
    thread is abandoned), so a hanging library call fails the test instead of
    hanging the run.
    """
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(limit)
    if t.is_alive():
        raise TimeoutError("%s did not return within %.1fs" % (getattr(fn, "__name__", fn), limit))
    if "error" in box:
        raise box["error"]
    return box.get("value")


def free_udp_tcp_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on ``host`` (for a DNS server)."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((host, 0))
            port = u.getsockname()[1]
            t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free UDP+TCP port on %s" % host)


def _make_die_with_parent():
    """A preexec_fn that SIGKILLs the child when the test process dies (Linux).

    prctl is looked up here, in the parent, so the child only makes the call.
    Only used from the main thread (PDEATHSIG follows the forking thread).
    """
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    PR_SET_PDEATHSIG = 1
    sig = int(signal.SIGKILL)
    return lambda: prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


class Dnsmasq:
    """``dnsmasq`` serving a hosts file on 127.0.0.1:<port>; rewrite + :meth:`set_hosts` to change answers."""

    def __init__(self, directory, domain="test", local_ttl=0, extra_args=()):
        self.dir = Path(directory)
        self.domain = domain
        self.local_ttl = local_ttl  # TTL of every answer, seconds
        self.extra_args = list(extra_args)  # e.g. ["--srv-host=_grpc._tcp.svc.test,b1.svc.test,50051"]
        self.hosts_file = self.dir / "hosts"
        self.port = None
        self.proc = None
        self.log = self.dir / "dnsmasq.log"

    def set_hosts(self, entries):
        """Replace the answers: ``entries`` is a list of ``(ip, name)``; reloads a running server."""
        text = "".join("%s %s\n" % (ip, name) for ip, name in entries)
        tmp = self.hosts_file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.hosts_file)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.1)  # let it re-read the file before anyone asks

    def start(self, entries=()):
        import shutil

        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.path.exists(exe):
            raise RuntimeError("dnsmasq not found (Debian package dnsmasq-base)")
        self.set_hosts(entries)
        self.port = free_udp_tcp_port()
        cmd = [
            exe,
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--addn-hosts=%s" % self.hosts_file,
            "--local-ttl=%d" % self.local_ttl,
            "--port=%d" % self.port,
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--pid-file=",
            "--log-facility=-",
            # Authoritative for the test domain: an unknown name is NXDOMAIN
            # and a known name without addresses an empty (NODATA) answer,
            # instead of REFUSED for want of an upstream server.
            "--local=/%s/" % self.domain,
        ] + self.extra_args
        if os.geteuid() == 0:
            cmd.append("--user=root")  # the hosts file is in a private tmp dir
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, preexec_fn=_make_die_with_parent()
        )
        # Ready once it answers a TCP connect on its port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: %s" % self.log.read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dnsmasq did not start: %s" % self.log.read_text())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


WHOAMI = "/lbtest.Test/Whoami"


def count_names(channel, n=30, timeout=5.0):
    """Make ``n`` Whoami calls; return a Counter of the backend names that answered."""
    counts = collections.Counter()
    for _ in range(n):
        counts[channel.unary(WHOAMI, b"", timeout=timeout).decode()] += 1
    return counts


def wait_only(channel, names, timeout=5.0, n=30, interval=0.1):
    """Wait until ``n`` consecutive calls are served by exactly ``names``; return the last counts."""
    import grpc

    last = {}

    def check():
        nonlocal last
        try:
            last = count_names(channel, n)
        except grpc.RpcError as e:
            last = {"error": e.code()}
            return False
        return set(last) == set(names)

    wait_until(check, timeout, interval=interval)
    return last


# -- traffic ------------------------------------------------------------------------------

Rec = collections.namedtuple("Rec", "start end name code details")


class Traffic:
    """Threads calling ``method`` (Whoami by default) back to back, recording every
    outcome with its times as a :data:`Rec` (``name``: the reply text, None on failure)."""

    def __init__(self, channel, threads=1, timeout=2.0, method=WHOAMI, request=b""):
        self.channel = channel
        self.timeout = timeout
        self.method, self.request = method, request
        self._records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        import grpc  # only the threads need it

        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                name = self.channel.unary(self.method, self.request, timeout=self.timeout).decode()
                rec = Rec(t0, time.monotonic(), name, None, "")
            except grpc.RpcError as e:
                rec = Rec(t0, time.monotonic(), None, e.code(), e.details())
            except Exception as e:  # reported by the test as a failure
                rec = Rec(t0, time.monotonic(), None, e, str(e))
            with self._lock:
                self._records.append(rec)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def records(self):
        with self._lock:
            return list(self._records)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        assert not any(t.is_alive() for t in self._threads), "a call did not return"
        return self.records()

    def first_served(self, name, after):
        """End time of the first call started after ``after`` and served by ``name`` (None if none)."""
        ends = [r.end for r in self.records() if r.start >= after and r.name == name]
        return min(ends) if ends else None
