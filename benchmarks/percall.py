#!/usr/bin/env python3
"""Client instructions per blocking unary call, by policy and endpoint count (callgrind).

    python3 benchmarks/percall.py [--async] LIB POLICY N [CALLS_A CALLS_B]

With --async: per lbc_unary_async call, one outstanding, polled with lbc_cq_poll from
the same thread (lbc_load --async).

Starts one grpcio echo server (bench.Echo/Unary) listening on N ports of 127.0.0.1,
builds benchmarks/lbc_load.c against LIB (a liblbchannel.so), and runs it under
callgrind twice (CALLS_A and CALLS_B calls, one thread) with instrumentation switched
on only after the warm-up (--instr-atstart=no, then callgrind_control at lbc_load's
WARM handshake). Prints (Ir(B) - Ir(A)) / (B - A): the client's instructions per call,
channel setup and teardown cancelled out. $WARMUP sets the warm-up calls (default 300;
use several per endpoint for large N, e.g. 6000 for N = 1000: a young connection
exchanges extra HTTP/2 frames). Needs valgrind and grpcio; much faster than make bench.
LIB is profiled as a copy stripped of debug info (valgrind 3.19 cannot read its DWARF).
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def serve(n, base):
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(lambda r, c: r)}),))
    for i in range(n):
        if server.add_insecure_port("127.0.0.1:%d" % (base + i)) != base + i:
            sys.exit("cannot listen on port %d" % (base + i))
    server.start()
    print("READY", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve(int(sys.argv[2]), int(sys.argv[3]))
    args = [x for x in sys.argv[1:] if x != "--async"]
    mode = ["--async"] if "--async" in sys.argv[1:] else []
    lib, policy, n = os.path.abspath(args[0]), args[1], int(args[2])
    a, b = (int(args[3]), int(args[4])) if len(args) > 4 else (1000, 2000)
    work = tempfile.mkdtemp(prefix="lbc-percall.")
    # valgrind 3.19 cannot read the library's DWARF ("unhandled dwarf2 abbrev form"):
    # profile a copy without debug info (symbol names stay).
    # Named as its SONAME, which the driver records and the loader looks for.
    soname = subprocess.run(["objdump", "-p", lib], capture_output=True, text=True).stdout
    soname = next((l.split()[1] for l in soname.splitlines() if l.split()[:1] == ["SONAME"]), "liblbchannel.so")
    copy = os.path.join(work, soname)
    shutil.copyfile(lib, copy)
    subprocess.check_call(["strip", "--strip-debug", copy])
    load = os.path.join(work, "lbc_load")
    subprocess.check_call(["gcc", "-O2", "-std=gnu11", "-pthread", "-I" + os.path.join(ROOT, "include"), "-I" + HERE,
                           os.path.join(HERE, "lbc_load.c"), "-o", load, "-L" + work, "-l:" + soname,
                           "-Wl,-rpath," + work])
    base = 10000 + random.randrange(8000)  # below the ephemeral range
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(base)], stdout=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "READY":
            sys.exit("echo server did not start")
        target = "ipv4:" + ",".join("127.0.0.1:%d" % (base + i) for i in range(n))
        totals = []
        for calls in (a, b):
            out = os.path.join(work, "callgrind.%d" % calls)
            env = dict(os.environ, LBC_BENCH_READY_TIMEOUT_S="180", LBC_BENCH_POLICY=policy)
            p = subprocess.Popen(["valgrind", "--tool=callgrind", "--quiet", "--instr-atstart=no",
                                  "--callgrind-out-file=" + out, load, *mode, "--target", target, "--threads", "1",
                                  "--calls", str(calls), "--warmup-calls", os.environ.get("WARMUP", "300"),
                                  "--deadline-ms", "60000", "--expect-endpoints", str(n), "--handshake"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            if p.stdout.readline().strip() != "WARM":
                sys.exit("lbc_load did not warm up")
            subprocess.check_call(["callgrind_control", "-i", "on", str(p.pid)], stdout=subprocess.DEVNULL)
            p.stdin.write("go\n")
            p.stdin.flush()
            result = p.communicate(timeout=1800)[0]
            if p.returncode != 0 or '"errors":0' not in result.replace(" ", ""):
                sys.exit("lbc_load failed: %s" % result)
            with open(out) as f:
                totals.append(next(int(line.split()[1]) for line in f if line.startswith(("totals:", "summary:"))))
        print("%s n=%d%s: %.0f instructions per call" % (policy, n, " async" if mode else "",
                                                       (totals[1] - totals[0]) / (b - a)))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
