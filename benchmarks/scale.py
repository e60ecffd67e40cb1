#!/usr/bin/env python3
"""Many-endpoint rows of `make bench` (issue #11: scaling, memory, stats, system calls).

    python3 benchmarks/scale.py --lib LIB --bin DIR [--only scale,mem,stats,sys] [--out FILE]

One grpcio echo server process (bench.Echo/Unary echoes its request bytes) listens
on many addresses: 127.0.0.2-127.0.0.201 x as many ports as needed. Cases:

  scale  instructions per blocking call (callgrind, like benchmarks/percall.py: Ir at
         CALLS_B calls minus Ir at CALLS_A, instrumentation on after the warm-up) with
         10 and 1,000 endpoints, for round_robin and least_request (BENCH_SCALE_POLICIES
         for others); the row is the 1,000 / 10 ratio.
  mem    lbc_scale memory: 200 endpoints, one 1 MiB call each, then idle: heap in use
         (mallinfo2) and RSS per connection, with and without malloc_trim.
  stats  lbc_scale stats: 1,000 endpoints; call latency with another thread polling
         lbc_channel_stats_json back to back, and the stats call's own time.
  sys    system calls (strace -c -f) and context switches (wait4 rusage) per blocking
         call at 1 outstanding, 4 endpoints: (count at CALLS_B - count at CALLS_A) / diff;
         and the same for the async path ("async, 1 outstanding": lbc_load --async,
         lbc_unary_async + lbc_cq_poll from one thread), and per round trip of a stream
         ping-pong with a blocking receive ("sys_stream": lbc_stream --blocking);
         four gRPC C++ echo backends (DIR/echo_server) pinned to CPU 0, the client to
         CPU 1, as in the runner (grpcio when echo_server is not built).

The grpcio server runs with BDP probing off (BENCH_SCALE_BDP_PROBE=1 turns it on): with
it, a gRPC server PINGs on the first DATA of a connection that was quiet for a while,
which at 1,000 endpoints and one call at a time is nearly every call: one more read and
write per call on the client (peer behaviour, not client work that grows with n).

Prints progress on stderr and writes the results as JSON (--out).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOSTS = 200  # 127.0.0.2 .. 127.0.0.201


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def addresses(n, base):
    """n endpoints: host 127.0.0.(2 + i % 200), port base + i // 200."""
    return [f"127.0.0.{2 + i % HOSTS}:{base + i // HOSTS}" for i in range(n)]


def serve(n, base):
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 8 << 20), 
                                  ("grpc.http2.bdp_probe", int(os.environ.get("BENCH_SCALE_BDP_PROBE", "0"))),
                                  ("grpc.max_send_message_length", 8 << 20)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(lambda r, c: r),
                       "Stream": grpc.stream_stream_rpc_method_handler(lambda it, c: (m for m in it))}),))
    for a in addresses(n, base):
        if server.add_insecure_port(a) == 0:
            sys.exit(f"cannot listen on {a}")
    server.start()
    print("READY", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


class Server:
    """The echo server process for n endpoints (ports below the ephemeral range)."""

    def __init__(self, n):
        import random
        self.n = n
        self.base = 10000 + random.randrange(8000)
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(self.base)],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "READY":
            self.close()
            raise RuntimeError(f"echo server for {n} endpoints did not start")
        self.target = "ipv4:" + ",".join(addresses(n, self.base))

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class CppServers:
    """n gRPC C++ echo backends (benchmarks/echo_server.cc) on 127.0.0.1, pinned to CPU 0
    like the runner's; the clients then run pinned to CPU 1."""

    def __init__(self, exe, n):
        self.procs, ports = [], []
        try:
            for _ in range(n):
                p = subprocess.Popen(["taskset", "-c", "0", exe, "--port", "0"], stdout=subprocess.PIPE, text=True)
                self.procs.append(p)
                line = p.stdout.readline().split()
                if len(line) != 2 or line[0] != "PORT":
                    raise RuntimeError("echo_server did not start")
                ports.append(int(line[1]))
        except Exception:
            self.close()
            raise
        self.target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()


def driver_env(lib_dir, **extra):
    env = dict(os.environ, LD_LIBRARY_PATH=lib_dir, LBC_BENCH_READY_TIMEOUT_S="180")
    env.update(extra)
    return env


def callgrind_per_call(load, lib_dir, target, n, policy, calls=(1000, 4000)):
    """Client instructions per blocking call (percall.py's method)."""
    totals = []
    warm = str(max(300, 6 * n))  # young connections exchange extra frames
    with tempfile.TemporaryDirectory(prefix="lbc-scale.") as work:
        for c in calls:
            out = os.path.join(work, f"callgrind.{c}")
            p = subprocess.Popen(["valgrind", "--tool=callgrind", "--quiet", "--instr-atstart=no",
                                  "--callgrind-out-file=" + out, load, "--target", target, "--threads", "1",
                                  "--calls", str(c), "--warmup-calls", warm, "--deadline-ms", "60000",
                                  "--expect-endpoints", str(n), "--handshake"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=driver_env(lib_dir, LBC_BENCH_POLICY=policy))
            if p.stdout.readline().strip() != "WARM":
                p.kill()
                raise RuntimeError(f"lbc_load {policy} n={n} did not warm up")
            subprocess.check_call(["callgrind_control", "-i", "on", str(p.pid)], stdout=subprocess.DEVNULL)
            p.stdin.write("go\n")
            p.stdin.flush()
            res = p.communicate(timeout=3600)[0]
            if p.returncode != 0 or '"errors":0' not in res.replace(" ", ""):
                raise RuntimeError(f"lbc_load {policy} n={n} failed: {res}")
            with open(out) as f:
                totals.append(next(int(l.split()[1]) for l in f if l.startswith(("totals:", "summary:"))))
    return (totals[1] - totals[0]) / (calls[1] - calls[0])


def strace_counts(load, lib_dir, target, calls, async_mode=False, stream=False):
    """(system calls, context switches) of lbc_load making `calls` blocking calls (or
    async calls, one outstanding, polled with lbc_cq_poll), or with `stream` of
    lbc_stream --blocking making `calls` round trips on one stream (send, then a
    blocking lbc_call_recv)."""
    mode = ["--async"] if async_mode else []
    if stream:
        load, mode = os.path.join(os.path.dirname(load), "lbc_stream"), ["--blocking"]
    with tempfile.NamedTemporaryFile(prefix="lbc-strace.") as f:
        cmd = ["taskset", "-c", "1", "strace", "-f", "-c", "-o", f.name, load, *mode, "--target", target, "--threads", "1",
               "--calls", str(calls), "--warmup-calls", "200", "--deadline-ms", "60000",
               "--expect-endpoints", "4"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=driver_env(lib_dir))
        p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"strace lbc_load failed ({p.returncode})")
        text = open(f.name).read()
    m = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(\d+)?\s*total", text, re.M)
    total = int(m.group(1)) if m else None
    by_name = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]) and parts[-1] != "total":
            by_name[parts[-1]] = int(parts[3])
    # Context switches without strace (it adds its own): the driver's rusage.
    p = subprocess.Popen(["taskset", "-c", "1", load, *mode, "--target", target, "--threads", "1", "--calls", str(calls),
                          "--warmup-calls", "200", "--deadline-ms", "60000", "--expect-endpoints", "4"],
                         stdout=subprocess.DEVNULL, env=driver_env(lib_dir))
    _, status, ru = os.wait4(p.pid, 0)
    return total, by_name, ru.ru_nvcsw + ru.ru_nivcsw


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve(int(sys.argv[2]), int(sys.argv[3]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="liblbchannel.so (its directory must hold liblbchannel.so.0)")
    ap.add_argument("--bin", required=True, help="directory of lbc_load and lbc_scale")
    ap.add_argument("--only", default="scale,mem,stats,sys")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # run the finally blocks
    only = [x for x in a.only.split(",") if x]
    lib_dir = os.path.dirname(os.path.abspath(a.lib))
    load, scale = os.path.join(a.bin, "lbc_load"), os.path.join(a.bin, "lbc_scale")
    results = {}
    # valgrind 3.19 cannot read the library's DWARF: profile a copy without debug info.
    cg_dir = tempfile.mkdtemp(prefix="lbc-scale-lib.")
    try:
        if "scale" in only:
            shutil.copyfile(os.path.join(lib_dir, "liblbchannel.so.0"), os.path.join(cg_dir, "liblbchannel.so.0"))
            subprocess.check_call(["strip", "--strip-debug", os.path.join(cg_dir, "liblbchannel.so.0")])
            policies = os.environ.get("BENCH_SCALE_POLICIES", "round_robin,least_request").split(",")
            rows = {}
            for n in (10, 1000):
                srv = Server(n)
                try:
                    for pol in policies:
                        t0 = time.monotonic()
                        ir = callgrind_per_call(load, cg_dir, srv.target, n, pol)
                        rows.setdefault(pol, {})[str(n)] = ir
                        log(f"scale {pol} n={n}: {ir:.0f} instructions per call ({time.monotonic() - t0:.0f} s)")
                finally:
                    srv.close()
            results["scale"] = rows
        if "mem" in only:
            srv = Server(200)
            try:
                p = subprocess.run([scale, "memory", srv.target, "200", str(1 << 20)], capture_output=True,
                                   text=True, env=driver_env(lib_dir), timeout=600)
            finally:
                srv.close()
            if p.returncode != 0:
                raise RuntimeError(f"lbc_scale memory failed: {p.stderr[-2000:]}")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            n, h, rss = r["endpoints"], r["heap"], r["rss_kib"]
            r.update({"idle_heap_per_conn": (h[1] - h[0]) / n, "after_heap_per_conn": (h[2] - h[0]) / n,
                      "idle_rss_per_conn": (rss[1] - rss[0]) * 1024 / n,
                      "after_rss_per_conn": (rss[2] - rss[0]) * 1024 / n,
                      "after_trim_rss_per_conn": (rss[3] - rss[0]) * 1024 / n})
            results["mem"] = r
            log(f"mem: per connection after a 1 MiB call: heap {r['after_heap_per_conn'] / 1024:.1f} KiB, "
                f"RSS {r['after_rss_per_conn'] / 1024:.1f} KiB ({r['after_trim_rss_per_conn'] / 1024:.1f} KiB "
                f"after malloc_trim); idle before: heap {r['idle_heap_per_conn'] / 1024:.1f} KiB")
        if "stats" in only:
            srv = Server(1000)
            try:
                p = subprocess.run([scale, "stats", srv.target, "1000", os.environ.get("BENCH_STATS_SECONDS", "3")],
                                   capture_output=True, text=True, env=driver_env(lib_dir), timeout=900)
            finally:
                srv.close()
            if p.returncode != 0:
                raise RuntimeError(f"lbc_scale stats failed: {p.stderr[-2000:]}")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            results["stats"] = r
            log(f"stats: I/O thread {r['io_thread_us_per_stats']:.0f} us per lbc_channel_stats_json (caller {r['caller_us_per_stats']:.0f} us); "
                f"call p99.9 {r['quiet']['p999_us']:.0f} -> {r['polled']['p999_us']:.0f} us, "
                f"max {r['quiet']['max_us']:.0f} -> {r['polled']['max_us']:.0f} us")
        if "sys" in only:
            cpp = os.path.join(a.bin, "echo_server")
            srv = CppServers(cpp, 4) if os.path.exists(cpp) else Server(4)
            try:
                ca, cb = 2000, 4000
                counts = {}
                for name, async_mode, stream in (("sys", False, False), ("sys_async", True, False),
                                                 ("sys_stream", False, True)):
                    counts[name] = (strace_counts(load, lib_dir, srv.target, ca, async_mode, stream),
                                    strace_counts(load, lib_dir, srv.target, cb, async_mode, stream))
            finally:
                srv.close()
            for name, ((sa, na, xa), (sb, nb, xb)) in counts.items():
                per = {k: (nb.get(k, 0) - na.get(k, 0)) / (cb - ca) for k in nb}
                results[name] = {"syscalls_per_call": (sb - sa) / (cb - ca), "csw_per_call": (xb - xa) / (cb - ca),
                                 "by_syscall": {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.05}}
                what = {"sys": "blocking", "sys_async": "async, 1 outstanding",
                        "sys_stream": "stream ping-pong, blocking recv, per round trip"}[name]
                log(f"{name} ({what}): {results[name]['syscalls_per_call']:.2f} system calls, "
                    f"{results[name]['csw_per_call']:.2f} context switches per call {results[name]['by_syscall']}")
    finally:
        shutil.rmtree(cg_dir, ignore_errors=True)
        if a.out:
            with open(a.out, "w") as f:
                json.dump(results, f, indent=1)
    if not a.out:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
