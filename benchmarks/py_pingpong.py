#!/usr/bin/env python3
"""Large-message ping-pong on one stream: lbchannel's Python binding vs grpcio.

  py_pingpong.py [--server ECHO_SERVER] [--sizes 65536,1048576] [--runs 3] [--seconds 2]

Starts one C++ echo backend (benchmarks/echo_server.cc, built by `make bench`
into .build-bench/bench/echo_server) pinned to CPU 0, then for each message
size runs ``py_load.py --stream`` (send one message on a bidi stream, wait for
its echo) with each client pinned to CPU 1, ``--runs`` times alternating the
clients, and prints the best and the median throughput of each in MB/s (message
bytes received per second, 10^6) and lbchannel/grpcio of the best (on a shared,
loaded machine the best run is the one least disturbed by others), and the
client's CPU time per round trip (less sensitive to other load). What it measures on the client side is mostly the copies of
a received message: lbchannel reads each one straight into the bytes object
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
        print("| message | lbchannel MB/s best (median) | grpcio MB/s best (median) | ratio of best "
              "| client CPU µs per round trip, lbchannel / grpcio (least) |")
        print("|---|---|---|---|---|")
        for size in (int(s) for s in a.sizes.split(",")):
            runs: "dict[str, list[tuple[float, float]]]" = {"lbchannel": [], "grpcio": []}
            for _ in range(a.runs):
                for client in runs:
                    runs[client].append(run_client(client, target, size, a.seconds))
            lbc, grpcio = ([r[0] for r in runs[c]] for c in ("lbchannel", "grpcio"))
            cpu_lbc, cpu_grpcio = (min(r[1] for r in runs[c]) for c in ("lbchannel", "grpcio"))
            label = "%d KiB" % (size // 1024) if size < 1 << 20 else "%d MiB" % (size >> 20)
            print("| %s | %.0f (%.0f) | %.0f (%.0f) | %.2fx | %.0f / %.0f |" % (
                label, max(lbc), statistics.median(lbc), max(grpcio), statistics.median(grpcio),
                max(lbc) / max(grpcio), cpu_lbc, cpu_grpcio), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
