#!/usr/bin/env python3
"""lbchannel demo: one balanced channel, three real gRPC backends.

    make demo                 # builds the library, then runs this script
    LBCHANNEL_LIBRARY=.build/release/liblbchannel.so python3 examples/demo.py

Starts three test backends (Tests/python/backend.py, grpcio) on 127.0.0.2,
127.0.0.3 and 127.0.0.4, opens an lbchannel.Channel over them and shows, per
backend, how many of the calls each one served:

  1. round_robin: 300 sequential calls;
  2. least_request (the default policy): 300 calls from 8 threads;
  3. a backend is killed, calls keep going to the others; it comes back on the
     same address and the channel reconnects to it (connection backoff);
  4. DNS discovery: svc.test is served by a local dnsmasq; a new replica added
     to DNS gets traffic without reopening the channel, a removed one is drained;
  5. the scenario lbchannel exists for: A and B serve svc.test, A is killed and
     C replaces it in DNS; a live timeline of calls per backend shows the load
     moving to C and settling evenly on B and C.

Every backend started here is stopped on exit, also on Ctrl-C.
"""

import collections
import os
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = os.path.join(ROOT, "Tests", "python", "backend.py")
CALLS = 300

sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
os.environ.setdefault("LBCHANNEL_LIBRARY", os.path.join(ROOT, ".build", "release", "liblbchannel.so"))

import lbchannel  # noqa: E402  (after the path set-up above)


# -- backends -------------------------------------------------------------------


class Backend:
    """One Tests/python/backend.py process."""

    def __init__(self, name, host, port=0):
        self.name, self.host, self.port = name, host, port
        self.proc = None

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def start(self, timeout=30.0):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", BACKEND, "--listen", "%s:%d" % (self.host, self.port),
             "--name", self.name],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        ready = {}
        reader = threading.Thread(target=lambda: ready.update(line=self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        line = ready.get("line", "")
        if not line.startswith("READY "):
            self.stop(kill=True)
            raise RuntimeError("backend %s on %s did not start" % (self.name, self.host))
        self.port = int(line.split()[1].rsplit(":", 1)[1])
        return self

    def stop(self, kill=False):
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()  # SIGTERM: graceful (GOAWAY), in-flight RPCs finish
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


BACKENDS = []


def stop_all():
    for b in BACKENDS:
        b.stop()


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# -- output ------------------------------------------------------------------------


def table(title, counts, failed=0, elapsed=None, backends=None):
    total = sum(counts.values()) + failed
    line = "%s: %d calls" % (title, total)
    if elapsed:
        line += " in %.2f s (%.0f calls/s)" % (elapsed, total / elapsed)
    print("\n" + line)
    print("  %-8s %-20s %6s %7s" % ("backend", "address", "calls", "share"))
    for b in backends or BACKENDS:
        n = counts.get(b.name, 0)
        share = 100.0 * n / total if total else 0.0
        print("  %-8s %-20s %6d %6.1f%%  %s" % (b.name, b.address, n, share, "#" * int(share / 2)))
    if failed:
        print("  %-8s %-20s %6d %6.1f%%" % ("failed", "", failed, 100.0 * failed / total))


def endpoint_states(channel):
    return ", ".join("%s %s" % (e["address"], e["state"]) for e in channel.endpoints())


def wait_ready(channel, want, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sum(e["state"] == "READY" for e in channel.endpoints()) >= want:
            return True
        time.sleep(0.05)
    return False


def run_calls(channel, n, threads=1):
    """n Whoami calls over `threads` threads; returns (counts by backend name, failures, seconds)."""
    counts = collections.Counter()
    failures = collections.Counter()
    lock = threading.Lock()

    def worker(k):
        for _ in range(k):
            try:
                name = channel.unary("/lbtest.Test/Whoami", b"", timeout=5.0).decode()
                with lock:
                    counts[name] += 1
            except lbchannel.RpcError as e:
                with lock:
                    failures[str(e.code())] += 1

    start = time.monotonic()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    workers = [threading.Thread(target=worker, args=(k,)) for k in per]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counts, failures, time.monotonic() - start


def report_failures(failures):
    for code, n in sorted(failures.items()):
        print("  %d call(s) ended with %s" % (n, code))


# -- the scenes --------------------------------------------------------------------------


def round_robin_demo(target):
    with lbchannel.Channel(target, lb_policy="round_robin") as ch:
        wait_ready(ch, len(BACKENDS), 10)
        counts, failures, dt = run_calls(ch, CALLS)
        table("1. round_robin, sequential", counts, sum(failures.values()), dt)
        report_failures(failures)


def least_request_demo(target):
    with lbchannel.Channel(target) as ch:  # least_request is the default policy
        wait_ready(ch, len(BACKENDS), 10)
        counts, failures, dt = run_calls(ch, CALLS, threads=8)
        table("2. least_request, 8 threads", counts, sum(failures.values()), dt)
        report_failures(failures)


def failover_demo(target):
    victim = BACKENDS[1]
    with lbchannel.Channel(target, lb_policy="round_robin", backoff_initial_ms=500,
                           backoff_max_ms=2000) as ch:
        wait_ready(ch, len(BACKENDS), 10)
        print("\n3. %s (%s) is killed (SIGKILL)" % (victim.name, victim.address))
        victim.stop(kill=True)
        time.sleep(0.2)
        counts, failures, dt = run_calls(ch, CALLS)
        table("   with %s down" % victim.name, counts, sum(failures.values()), dt)
        report_failures(failures)
        print("   endpoints: %s" % endpoint_states(ch))

        print("\n   %s restarts on %s; the channel reconnects with backoff" % (victim.name, victim.address))
        victim.start()
        t0 = time.monotonic()
        if wait_ready(ch, len(BACKENDS), 15):
            print("   %s READY again after %.1f s" % (victim.name, time.monotonic() - t0))
        else:
            print("   %s not READY after 15 s: %s" % (victim.name, endpoint_states(ch)))
        counts, failures, dt = run_calls(ch, CALLS)
        table("   after the restart", counts, sum(failures.values()), dt)
        report_failures(failures)


class Dnsmasq:
    """dnsmasq serving a hosts file on 127.0.0.1:PORT; rewrite the file, then reload()."""

    def __init__(self, workdir):
        self.hosts = os.path.join(workdir, "hosts")
        self.port = free_port("127.0.0.1")
        self.proc = None

    def write(self, name, addresses):
        with open(self.hosts + ".tmp", "w") as f:
            f.writelines("%s %s\n" % (a, name) for a in addresses)
        os.chmod(self.hosts + ".tmp", 0o644)
        os.replace(self.hosts + ".tmp", self.hosts)

    def start(self, binary):
        self.proc = subprocess.Popen(
            [binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
             "--addn-hosts=" + self.hosts, "--local-ttl=0", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--port=%d" % self.port, "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError("dnsmasq exited with status %s" % self.proc.returncode)
        return self

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)  # re-reads --addn-hosts

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


def free_port(host):
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def dns_discovery_demo():
    """Scene 4: DNS discovery with a local dnsmasq.

    Three more backends d1..d3 on 127.0.0.5..7 share one port; svc.test resolves to
    d1 and d2 at first. The channel (dns://127.0.0.1:PORT/svc.test:PORT, re-resolved
    every 500 ms) spreads calls over them; d3 is added to DNS and gets traffic
    without reopening anything; d1 is removed from DNS and is drained.
    """
    import shutil
    import tempfile

    print("\n4. DNS discovery: svc.test served by a local dnsmasq, re-resolved every 500 ms")
    binary = dnsmasq_binary()
    if binary is None:
        return
    workdir = tempfile.mkdtemp(prefix="lbc-demo-")
    os.chmod(workdir, 0o755)  # dnsmasq reads the hosts file after dropping privileges
    dns = Dnsmasq(workdir)
    try:
        first = Backend("d1", "127.0.0.5").start()
        BACKENDS.append(first)
        group = [first]
        for i, host in ((2, "127.0.0.6"), (3, "127.0.0.7")):
            b = Backend("d%d" % i, host, first.port).start()
            BACKENDS.append(b)
            group.append(b)
        dns.write("svc.test", [group[0].host, group[1].host])
        dns.start(binary)
        target = "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, first.port)
        print("   target: %s" % target)

        with lbchannel.Channel(target, lb_policy="round_robin", discovery_interval_ms=500) as ch:
            def ready():
                return sorted(e["address"] for e in ch.endpoints() if e["state"] == "READY")

            wait_until(lambda: len(ready()) == 2, 10)
            counts, failures, dt = run_calls(ch, CALLS)
            table("   svc.test -> d1, d2", counts, sum(failures.values()), dt, group)
            report_failures(failures)

            dns.write("svc.test", [b.host for b in group])
            dns.reload()
            t0 = time.monotonic()
            if wait_until(lambda: len(ready()) == 3, 10):
                print("\n   d3 added to DNS: READY in the channel after %.1f s" % (time.monotonic() - t0))
            else:
                print("\n   d3 added to DNS: not READY after 10 s: %s" % endpoint_states(ch))
            counts, failures, dt = run_calls(ch, CALLS)
            table("   svc.test -> d1, d2, d3", counts, sum(failures.values()), dt, group)
            report_failures(failures)

            dns.write("svc.test", [group[1].host, group[2].host])
            dns.reload()
            t0 = time.monotonic()
            gone = wait_until(lambda: group[0].address not in ready(), 10)
            print("\n   d1 removed from DNS: %s" % (
                "out of the channel after %.1f s" % (time.monotonic() - t0) if gone
                else "still there after 10 s: %s" % endpoint_states(ch)))
            counts, failures, dt = run_calls(ch, CALLS)
            table("   svc.test -> d2, d3", counts, sum(failures.values()), dt, group)
            report_failures(failures)
            print_discovery(ch)
    finally:
        dns.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def print_discovery(channel):
    """One line of the channel's discovery counters."""
    stats = channel.stats().get("discovery", {})
    print("   discovery: %s" % {k: v for k, v in stats.items() if k in ("kind", "resolutions", "updates", "errors")})


def dnsmasq_binary():
    """Path of dnsmasq, or None (after saying the scene is skipped)."""
    import shutil

    binary = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
    if binary is None:
        print("   skipped: dnsmasq is not installed (Debian: dnsmasq-base; make deps installs it)")
    return binary


def replacement_demo():
    """Scene 5: A is killed and C replaces it in DNS while traffic keeps flowing.

    Layer-4 balancing or a client that resolves once would leave C idle and put
    everything on B; lbchannel re-resolves (early, because A's connection was lost,
    and every discovery interval) and spreads the load over B and C.
    """
    import shutil
    import tempfile

    print("\n5. A killed, C replaces it in DNS: calls per backend, every 250 ms")
    binary = dnsmasq_binary()
    if binary is None:
        return
    workdir = tempfile.mkdtemp(prefix="lbc-demo-")
    os.chmod(workdir, 0o755)
    dns = Dnsmasq(workdir)
    try:
        a = Backend("A", "127.0.0.8").start()
        BACKENDS.append(a)
        b = Backend("B", "127.0.0.9", a.port).start()
        BACKENDS.append(b)
        c = Backend("C", "127.0.0.10", a.port).start()
        BACKENDS.append(c)
        dns.write("svc.test", [a.host, b.host])
        dns.start(binary)
        target = "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, a.port)
        print("   target: %s (discovery every 2 s, early re-resolution on a lost connection)" % target)

        with lbchannel.Channel(target, lb_policy="round_robin", discovery_interval_ms=2000) as ch:
            wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 2, 10)
            window = collections.Counter()
            lock = threading.Lock()
            stop = threading.Event()

            def traffic():
                while not stop.is_set():
                    try:
                        name = ch.unary("/lbtest.Test/Whoami", b"", timeout=2.0).decode()
                    except lbchannel.RpcError as e:
                        name = "failed (%s)" % e.code().name
                    with lock:
                        window[name] += 1

            workers = [threading.Thread(target=traffic) for _ in range(4)]
            for w in workers:
                w.start()
            print("   %6s  %6s %6s %6s  %s" % ("t (s)", "A", "B", "C", "event"))
            start = time.monotonic()
            events = {4: "A killed; DNS now lists B and C"}
            try:
                for tick in range(1, 17):
                    time.sleep(0.25)
                    note = events.get(tick, "")
                    if tick == 4:
                        a.stop(kill=True)
                        dns.write("svc.test", [b.host, c.host])
                        dns.reload()
                    with lock:
                        snapshot = dict(window)
                        window.clear()
                    failed = sum(v for k, v in snapshot.items() if k.startswith("failed"))
                    if failed:
                        note = (note + "; " if note else "") + "%d failed at the kill (in flight on A)" % failed
                    print("   %6.2f  %6d %6d %6d  %s" % (time.monotonic() - start, snapshot.get("A", 0),
                                                       snapshot.get("B", 0), snapshot.get("C", 0), note))
            finally:
                stop.set()
                for w in workers:
                    w.join()
            print("   (losing A triggers an early re-resolution at once, before DNS has changed; C arrives\n"
                  "    with the next one: early re-resolutions run at most once per min_reresolution_interval_ms,\n"
                  "    1 s by default, and A's failing reconnects keep asking for them)")
            print_discovery(ch)
    finally:
        dns.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("lbchannel %s (%s)" % (lbchannel.version(), lbchannel.library_path))
    try:
        for i, host in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4"), start=1):
            BACKENDS.append(Backend("b%d" % i, host).start())
        target = "ipv4:" + ",".join(b.address for b in BACKENDS)
        print("backends: %s" % ", ".join("%s=%s" % (b.name, b.address) for b in BACKENDS))
        print("target:   %s" % target)

        round_robin_demo(target)
        least_request_demo(target)
        failover_demo(target)
        dns_discovery_demo()
        replacement_demo()
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
