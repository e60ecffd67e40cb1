#!/usr/bin/env python3
"""Large-message ping-pong on one stream: lbchannel's Python binding vs grpcio.

  py_pingpong.py [--server ECHO_SERVER] [--sizes 65536,1048576] [--runs 3] [--seconds 2]

Starts one C++ echo backend (benchmarks/echo_server.cc, built by `make bench`
into .build-bench/bench/echo_server) pinned to CPU 0, then for each message
size runs ``py_load.py --stream`` (send one message on a bidi stream, wait for
its echo) with each client pinned to CPU 1, ``--runs`` times alternating the
clients, and prints the median (min–max) throughput of each in MB/s (message
bytes received per second, 10^6), lbchannel/grpcio of the medians with the
per-run paired ratios, the client's CPU time per round trip (less sensitive to
other load), and each size's target ratio. What it measures on the client side is
mostly the copies of a received message: lbchannel reads each one straight into the bytes object
handed to Python (lbc_call_recv_into, one copy).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_client(client: str, target: str, size: int, seconds: float) -> "tuple[float, float]":
    """One py_load.py --stream run: its throughput in MB/s and the client's CPU
    time (all its threads) per round trip in microseconds."""
    cmd = ["taskset", "-c", "1", sys.executable, os.path.join(HERE, "py_load.py"), "--client", client,
           "--target", target, "--stream", "--payload", str(size), "--seconds", str(seconds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        raise SystemExit("%s: %d errors at %d bytes" % (client, result["errors"], size))
    return result["cps"] * size / 1e6, result["cpu_us_per_call"]


# MB/s ratio to grpcio each message size should reach (the Python 1.0 issue).
TARGETS = {65536: 1.3, 1048576: 1.1}


def spread(vals: "list[float]") -> str:
    return "%.0f (%.0f–%.0f)" % (statistics.median(vals), min(vals), max(vals))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(ROOT, ".build-bench", "bench", "echo_server"))
    ap.add_argument("--sizes", default="65536,1048576")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    server = subprocess.Popen(["taskset", "-c", "0", a.server, "--port", "0", "--addr", "127.0.0.1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit("echo_server did not start: %r" % line)
        target = "ipv4:127.0.0.1:%s" % line.split()[1]
        print("| message | lbchannel MB/s median (min–max) | grpcio MB/s median (min–max) "
              "| ratio of medians [per-run pairs] | client CPU µs per round trip, lbchannel / grpcio "
              "(median) | target | result |")
        print("|---|---|---|---|---|---|---|")
        for size in (int(s) for s in a.sizes.split(",")):
            runs: "dict[str, list[tuple[float, float]]]" = {"lbchannel": [], "grpcio": []}
            for _ in range(a.runs):
                for client in runs:
                    runs[client].append(run_client(client, target, size, a.seconds))
            lbc, grpcio = ([r[0] for r in runs[c]] for c in ("lbchannel", "grpcio"))
            cpu_lbc, cpu_grpcio = (statistics.median(r[1] for r in runs[c]) for c in ("lbchannel", "grpcio"))
            ratio = statistics.median(lbc) / statistics.median(grpcio)
            pairs = [x / y for x, y in zip(lbc, grpcio) if y]
            goal = TARGETS.get(size)
            label = "%d KiB" % (size // 1024) if size < 1 << 20 else "%d MiB" % (size >> 20)
            print("| %s | %s | %s | %.2f× [%.2f–%.2f] | %.0f / %.0f | %s | %s |" % (
                label, spread(lbc), spread(grpcio), ratio, min(pairs), max(pairs), cpu_lbc,
                cpu_grpcio, "≥ %.1f×" % goal if goal else "—",
                "—" if not goal else ("**met**" if ratio >= goal else "**missed**")), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
