#!/usr/bin/env python3
"""Runs every benchmark client against the running backends; writes raw results as JSON.

Started by benchmarks/run.sh, which builds the programs and starts the four echo
backends (pinned to CPU 0). Every client runs pinned to CPU 1. Per run, the cases
are measured in a fixed order with the clients of a case interleaved
(lbchannel, lbchannel async, peer, ...). The servers' counters (bench.Echo/Count:
unary calls, or stream messages echoed for the streaming cases) are read right
before and after each measured window: the drivers warm up, print "WARM" and
wait for a line on stdin before measuring. Then callgrind counts the client's
instructions per call (Ir at 4000 calls minus Ir at 2000 calls, / 2000; one
outstanding call) for lbc_load (blocking and --async) and grpc_load.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

CPU_CLIENT = "1"
UNARY = "/bench.Echo/Unary"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


def decode_msg_payload(data):
    """Payload of a serialized bench.Msg (field 1, bytes); b'' when absent."""
    i, out = 0, b""
    while i < len(data):
        key = data[i]
        i += 1
        n, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if key == 0x0A:
            out = data[i : i + n]
        i += n
    return out


class Backends:
    # Count's request: empty for the unary count, payload "stream" for stream messages.
    REQUEST = {"unary": b"", "stream": b"\x0a\x06stream"}

    def __init__(self, ports, tls_ca=None, tls_name=None):
        self.ports = ports
        if tls_ca:
            with open(tls_ca, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            opts = [("grpc.ssl_target_name_override", tls_name)] if tls_name else []
            self.channels = [grpc.secure_channel(f"127.0.0.1:{p}", creds, options=opts) for p in ports]
        else:
            self.channels = [grpc.insecure_channel(f"127.0.0.1:{p}") for p in ports]
        self.stubs = [c.unary_unary("/bench.Echo/Count") for c in self.channels]

    def counts(self, kind="unary"):
        req = self.REQUEST[kind]
        return [int(decode_msg_payload(s(req, timeout=10)) or b"0") for s in self.stubs]

    def close(self):
        for c in self.channels:
            c.close()


# --------------------------------------------------------------------------- drivers

_current = None  # the running child, killed on SIGTERM


def _on_term(signum, frame):
    raise SystemExit(128 + signum)


def _kill_current():
    p = _current
    if p is not None and p.poll() is None:
        try:
            p.kill()
            p.wait(timeout=5)
        except Exception:  # noqa: BLE001
            pass


def _wait_rusage(p):
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def run_driver(cmd, env, backends, timeout, count_kind="unary"):
    """Run a handshake driver; returns (result dict, per-backend deltas, process CPU s)."""
    global _current
    errf = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(["taskset", "-c", CPU_CLIENT] + cmd, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=errf, text=True, env=env)
    _current = p
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        line = p.stdout.readline()
        if line.strip() != "WARM":
            raise RuntimeError(f"driver did not warm up: {line!r}")
        before = backends.counts(count_kind)
        p.stdin.write("go\n")
        p.stdin.flush()
        out = p.stdout.read()
        after = backends.counts(count_kind)
        cpu_total = _wait_rusage(p)
    finally:
        timer.cancel()
        _kill_current()
        _current = None
    errf.seek(0)
    err = errf.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err[-2000:]}")
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"no result from {' '.join(cmd)}: {out!r} {err[-2000:]}")
    res = json.loads(lines[-1])
    if err.strip():
        res["stderr"] = err.strip()[-1000:]
    return res, [a - b for a, b in zip(after, before)], cpu_total


def grpc_body(path, payload=32):
    msg = b"\x0a" + bytes([payload]) + bytes((ord("a") + i % 26) for i in range(payload))
    with open(path, "wb") as f:
        f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)


_H2_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s")
_H2_REQS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored")
_H2_TIME = re.compile(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_h2load(port, n, body, backends, timeout):
    global _current
    cmd = ["h2load", "-n", str(n), "-c", "1", "-m", "64",
           "-H", "content-type: application/grpc", "-H", "te: trailers",
           "-d", body, f"http://127.0.0.1:{port}{UNARY}"]
    before = backends.counts()
    p = subprocess.Popen(["taskset", "-c", CPU_CLIENT] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    _current = p
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        out = p.stdout.read()
        cpu = _wait_rusage(p)
    finally:
        timer.cancel()
        _kill_current()
        _current = None
    after = backends.counts()
    m1, m2, m3 = _H2_FINISHED.search(out), _H2_REQS.search(out), _H2_TIME.search(out)
    if p.returncode != 0 or not (m1 and m2):
        raise RuntimeError(f"h2load failed ({p.returncode}): {out[-2000:]}")
    wall = float(m1.group(1)) * _UNIT[m1.group(2)]
    done, ok = int(m2.group(3)), int(m2.group(4))
    res = {
        "client": "h2load", "threads": 64, "calls": ok,
        "errors": int(m2.group(5)) + int(m2.group(6)) + (done - ok),
        "wall_s": wall, "cps": ok / wall if wall > 0 else 0,
        "p50_us": None, "p99_us": None,
        "mean_us": float(m3.group(5)) * _UNIT[m3.group(6)] * 1e6 if m3 else None,
        "max_us": float(m3.group(3)) * _UNIT[m3.group(4)] * 1e6 if m3 else None,
        "cpu_s": cpu, "cpu_us_per_call": cpu * 1e6 / ok if ok else None,
        "cmd": shlex.join(cmd),
    }
    return res, [a - b for a, b in zip(after, before)], cpu


# --------------------------------------------------------------------------- callgrind


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def callgrind_env(env, lib, outdir):
    """``env`` with LD_LIBRARY_PATH at a copy of the library without DWARF (the drivers'
    RUNPATH yields to it): valgrind 3.19 cannot read the DWARF 5 the Swift toolchain
    writes ("unhandled dwarf2 abbrev form code 0x25" and then it gives up); the symbol
    table stays, so the function profiles keep their names."""
    d = os.path.join(outdir, "callgrind-lib")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "liblbchannel.so.0")
    shutil.copyfile(lib, dst)
    if shutil.which("strip"):
        subprocess.run(["strip", "--strip-debug", dst], check=True)
    return dict(env, LD_LIBRARY_PATH=d + (os.pathsep + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else ""))


def run_callgrind(name, cmd, outdir, env):
    res = {}
    for calls in (2000, 4000):
        out = os.path.join(outdir, f"callgrind.{name}.{calls}.out")
        full = ["taskset", "-c", CPU_CLIENT, "valgrind", "--tool=callgrind", "--quiet",
                f"--callgrind-out-file={out}"] + cmd + ["--threads", "1", "--calls", str(calls),
                                                         "--warmup-calls", "200",
                                                         "--deadline-ms", "60000"]
        t0 = time.monotonic()
        p = subprocess.run(full, capture_output=True, text=True, env=env, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"callgrind {name} {calls}: {p.stderr[-2000:]}")
        r = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
        if r["errors"]:
            raise RuntimeError(f"callgrind {name} {calls}: {r['errors']} failed calls")
        res[calls] = callgrind_total(out)
        log(f"callgrind {name} calls={calls}: Ir={res[calls]:,} ({time.monotonic() - t0:.0f} s)")
    return {"ir_2000": res[2000], "ir_4000": res[4000],
            "ir_per_call": (res[4000] - res[2000]) / 2000.0,
            "file_4000": os.path.join(outdir, f"callgrind.{name}.4000.out")}


def top_functions(path, n=30, inclusive=True):
    """Top functions by inclusive (or self) Ir from callgrind_annotate, one row per
    function (the same function listed under several source files is merged, keeping
    the largest count), demangled with `swift demangle` when available."""
    if not shutil.which("callgrind_annotate"):
        return []
    p = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                        "--threshold=100", path], capture_output=True, text=True)
    rows = []
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        loc = m.group(3).strip()
        obj = ""
        mo = re.match(r"^(.*) \[([^\]]*)\]$", loc)
        if mo:
            loc, obj = mo.group(1), os.path.basename(mo.group(2))
        func = loc.split(":", 1)[1] if ":" in loc else loc
        rows.append([int(m.group(1).replace(",", "")), float(m.group(2)), func, obj])
        if len(rows) >= 6 * n:
            break
    if rows and shutil.which("swift"):
        names = "\n".join(r[2] for r in rows) + "\n"
        d = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input=names,
                           capture_output=True, text=True)
        dem = d.stdout.splitlines()
        if d.returncode == 0 and len(dem) == len(rows):
            for r, name in zip(rows, dem):
                r[2] = name
    seen, out = set(), []
    for r in rows:
        key = r[2].rstrip("'0123456789") if r[2].endswith(("'2", "'3")) else r[2]
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
        if len(out) >= n:
            break
    return out


# --------------------------------------------------------------------------- versions


def cmd_out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def lbchannel_commit(root):
    """HEAD of the work tree, read from .git without running git (best effort)."""
    try:
        gitdir = os.path.join(root, ".git")
        head = open(os.path.join(gitdir, "HEAD")).read().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            path = os.path.join(gitdir, ref)
            if os.path.exists(path):
                return open(path).read().strip()[:12]
            for line in open(os.path.join(gitdir, "packed-refs")):
                if line.strip().endswith(ref):
                    return line.split()[0][:12]
        return head[:12]
    except Exception:  # noqa: BLE001
        return ""


def environment(root):
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    h2 = cmd_out(["h2load", "--version"])
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "os": cmd_out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "grpcpp": cmd_out(["pkg-config", "--modversion", "grpc++"]),
        "protobuf": cmd_out(["pkg-config", "--modversion", "protobuf"]),
        "h2load": h2.split()[-1] if h2 else "",
        "grpcio": grpc.__version__,
        "python": platform.python_version(),
        "valgrind": cmd_out(["valgrind", "--version"]),
        "swift": (cmd_out(["swift", "--version"]).splitlines() or [""])[0],
        "lbchannel_commit": lbchannel_commit(root),
    }


# --------------------------------------------------------------------------- streaming

# (case id, title, payload bytes, messages in flight)
STREAM_CASES = [
    ("s1", "stream, 32 B, ping-pong (1 in flight)", 32, 1),
    ("s64", "stream, 32 B, up to 64 in flight", 32, 64),
    ("s64k", "stream, 64 KiB, up to 16 in flight", 65536, 16),
]


STREAM_IDS = {c[0] for c in STREAM_CASES}


def in_flight(m):
    """Mean messages (or calls) in flight over a measurement: rate × mean latency."""
    return m["cps"] * (m.get("mean_us") or 0) / 1e6


def matched_window(cmd, measurements, run, cid):
    """`cmd` with its --window set to gRPC C++'s mean in-flight count in this run's `cid`."""
    peer = [m for m in measurements if m["run"] == run and m["case"] == cid and m["label"] == "grpc++"]
    if not peer:
        raise RuntimeError(f"{cid}: no gRPC C++ measurement in run {run + 1} to match")
    window = max(1, round(in_flight(peer[-1])))
    cmd = list(cmd)
    cmd[cmd.index("--window") + 1] = str(window)
    return cmd


def py_stream_available(env):
    """Whether the Python binding has the raw streaming call (Channel.stream)."""
    p = subprocess.run([sys.executable, "-c",
                        "import lbchannel, sys; sys.exit(0 if callable(getattr(lbchannel.Channel, "
                        "'stream', None)) else 1)"], env=env, capture_output=True, timeout=60)
    return p.returncode == 0


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--pyroot", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--callgrind", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tls-ports", default="", help="four TLS echo backends (empty: no TLS rows)")
    ap.add_argument("--tls-ca", default=None)
    ap.add_argument("--tls-name", default="svc.test")
    a = ap.parse_args()
    # BENCH_ONLY=tls,s1: measure only the cases whose id starts with one of these.
    only = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x]

    def selected(cid):
        return not only or any(cid.startswith(x) for x in only)

    signal.signal(signal.SIGTERM, _on_term)

    ports = [int(p) for p in a.ports.split(",")]
    target4 = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)
    target1 = f"ipv4:127.0.0.1:{ports[0]}"
    env = dict(os.environ)
    env["LBCHANNEL_LIBRARY"] = a.lib
    env["PYTHONPATH"] = a.pyroot + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    lbc = os.path.join(a.bin, "lbc_load")
    gpp = os.path.join(a.bin, "grpc_load")
    lbs = os.path.join(a.bin, "lbc_stream")
    gps = os.path.join(a.bin, "grpc_stream")
    pyd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "py_load.py")]
    secs = str(a.seconds)
    timeout = a.seconds + 90
    body = os.path.join(a.bin, "h2load-body.bin")
    grpc_body(body)

    def c_driver(exe, target, n, expect, *extra):
        cmd = [exe, "--target", target, "--threads", str(n), "--seconds", secs, "--handshake"]
        return cmd + (["--expect-endpoints", str(expect)] if exe in (lbc, lbs) else []) + list(extra)

    # (case id, description, [(client label, kind, command or None)])
    cases = []
    for n in (1, 16, 64):
        cases.append((f"c{n}", f"C, 4 backends, {n} outstanding", [
            ("lbchannel-c", "driver", c_driver(lbc, target4, n, 4)),
            ("lbchannel-c-async", "driver", c_driver(lbc, target4, n, 4, "--async")),
            ("grpc++", "driver", c_driver(gpp, target4, n, 0)),
            ("grpc++-async", "driver", c_driver(gpp, target4, n, 0, "--async")),
        ]))
    cases.append(("single64", "C, 1 backend, 64 outstanding", [
        ("lbchannel-c", "driver", c_driver(lbc, target1, 64, 1)),
        ("lbchannel-c-async", "driver", c_driver(lbc, target1, 64, 1, "--async")),
        ("h2load", "h2load", None),
        ("grpc++", "driver", c_driver(gpp, target1, 64, 0)),
    ]))
    for n in (1, 16):
        py = pyd + ["--target", target4, "--threads", str(n), "--seconds", secs, "--handshake"]
        cases.append((f"py{n}", f"Python, 4 backends, {n} thread{'s' if n > 1 else ''}", [
            ("lbchannel-py", "driver", py + ["--client", "lbchannel"]),
            ("grpcio", "driver", py + ["--client", "grpcio"]),
        ]))
    # Streaming: one bidi stream (bench.Echo/Stream) over the 4-backend target.
    py_stream = py_stream_available(env)
    if not py_stream:
        log("Python binding has no raw streaming API (Channel.stream): no Python stream row")
    for cid, title, payload, window in STREAM_CASES:
        clients = [
            ("lbchannel-c", "stream", c_driver(lbs, target4, 1, 4, "--payload", str(payload),
                                               "--window", str(window))),
            ("grpc++", "stream", c_driver(gps, target4, 1, 0, "--payload", str(payload),
                                          "--window", str(window))),
        ]
        if window > 1:
            # gRPC C++'s sync writer blocks, so it keeps fewer than `window` messages in
            # flight; this client runs lbchannel at the mean in-flight count gRPC C++
            # reached in the same run (Little's law: msgs/s × mean latency), so latency
            # is compared at equal concurrency. Its --window is filled in at run time.
            clients.append(("lbchannel-c-matched", "stream-matched",
                            c_driver(lbs, target4, 1, 4, "--payload", str(payload), "--window", "0")))
        if cid == "s1" and py_stream:
            py = pyd + ["--target", target4, "--seconds", secs, "--handshake", "--stream",
                        "--payload", str(payload)]
            clients += [("lbchannel-py", "stream", py + ["--client", "lbchannel"]),
                        ("grpcio", "stream", py + ["--client", "grpcio"])]
        cases.append((cid, title, clients))

    # TLS: the same drivers with TLS on (BENCH_TLS_CA / BENCH_TLS_NAME, tls_common.h)
    # against four TLS echo backends; lbchannel vs gRPC C++ with grpc::SslCredentials.
    tls_ports = [int(p) for p in a.tls_ports.split(",") if p]
    case_ctx = {}
    tls_env = None
    if tls_ports:
        tls_target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in tls_ports)
        tls_env = dict(env, BENCH_TLS_CA=a.tls_ca, BENCH_TLS_NAME=a.tls_name)
        tls_backends = Backends(tls_ports, a.tls_ca, a.tls_name)
        for n in (1, 16, 64):
            cases.append((f"tls{n}", f"TLS, C, 4 backends, {n} outstanding", [
                ("lbchannel-c", "driver", c_driver(lbc, tls_target, n, 4)),
                ("lbchannel-c-async", "driver", c_driver(lbc, tls_target, n, 4, "--async")),
                ("grpc++", "driver", c_driver(gpp, tls_target, n, 0)),
            ]))
            case_ctx[f"tls{n}"] = (tls_env, tls_backends)
        cases.append(("tls-s64", "TLS, stream, 32 B, up to 64 in flight", [
            ("lbchannel-c", "stream", c_driver(lbs, tls_target, 1, 4, "--payload", "32", "--window", "64")),
            ("grpc++", "stream", c_driver(gps, tls_target, 1, 0, "--payload", "32", "--window", "64")),
        ]))
        case_ctx["tls-s64"] = (tls_env, tls_backends)
        STREAM_IDS.add("tls-s64")
    cases = [c for c in cases if selected(c[0])]

    backends = Backends(ports)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {"env": environment(root),
               "config": {"runs": a.runs, "seconds": a.seconds, "ports": ports,
                          "target4": target4, "target1": target1, "payload": 32,
                          "tls_ports": tls_ports, "only": only},
               "cases": [{"id": c[0], "title": c[1], "clients": [x[0] for x in c[2]],
                          "kind": "stream" if c[0] in STREAM_IDS else "unary"} for c in cases],
               "measurements": [], "callgrind": {}}
    try:
        # h2load runs a fixed number of requests: size it to BENCH_SECONDS from a short
        # calibration, then from the previous run's rate.
        h2_rate = 0
        if any(kind == "h2load" for _, _, cl in cases for _, kind, _ in cl):
            cal, _, _ = run_h2load(ports[0], 20000, body, backends, timeout)
            h2_rate = cal["cps"]
            log(f"h2load calibration: {h2_rate:.0f} req/s")
        for run in range(a.runs):
            for cid, title, clients in cases:
                env_c, backends_c = case_ctx.get(cid, (env, backends))
                for label, kind, cmd in clients:
                    if kind == "h2load":
                        n = max(1000, int(h2_rate * a.seconds))
                        res, per, cpu_total = run_h2load(ports[0], n, body, backends, timeout)
                        h2_rate = res["cps"]
                        res["server_count_check"] = "ok" if per[0] == res["calls"] else \
                            f"MISMATCH: server counted {per[0]}, h2load {res['calls']} succeeded"
                    elif kind in ("stream", "stream-matched"):
                        if kind == "stream-matched":
                            cmd = matched_window(cmd, results["measurements"], run, cid)
                        res, per, cpu_total = run_driver(cmd, env_c, backends_c, timeout, "stream")
                        res["server_count_check"] = "ok" if sum(per) == res["calls"] and \
                            sorted(per)[:-1] == [0] * (len(per) - 1) else \
                            f"MISMATCH: servers counted {per}, client received {res['calls']}"
                    else:
                        res, per, cpu_total = run_driver(cmd, env_c, backends_c, timeout)
                    res.update({"run": run, "case": cid, "label": label, "per_backend": per,
                                "process_cpu_s": cpu_total})
                    results["measurements"].append(res)
                    log(f"run {run + 1}/{a.runs} {cid:9s} {label:17s} {res['cps']:9.0f} "
                        f"{'msgs' if kind.startswith('stream') else 'calls'}/s "
                        + (f"{res.get('mbps', 0):8.1f} MB/s " if kind.startswith("stream") else "")
                        + f"p50 {res['p50_us'] or 0:7.0f} us  cpu {res['cpu_us_per_call'] or 0:6.1f} us/call "
                        f"backends {per}" + (f" errors {res['errors']}" if res["errors"] else "")
                        + (f" {res['server_count_check']}" if res.get("server_count_check", "ok") != "ok" else ""))
        if a.callgrind and tls_ports and selected("tls1"):
            cg_tls_env = callgrind_env(tls_env, a.lib, a.bin)
            results["callgrind"]["lbchannel-c-tls"] = run_callgrind(
                "lbc_tls", [lbc, "--target", tls_target, "--expect-endpoints", "4"], a.bin, cg_tls_env)
            results["callgrind"]["grpc++-tls"] = run_callgrind(
                "grpcpp_tls", [gpp, "--target", tls_target], a.bin, cg_tls_env)
        if a.callgrind and selected("c1"):
            cg_env = callgrind_env(env, a.lib, a.bin)
            results["callgrind"]["lbchannel-c"] = run_callgrind(
                "lbc", [lbc, "--target", target4, "--expect-endpoints", "4"], a.bin, cg_env)
            results["callgrind"]["lbchannel-c-async"] = run_callgrind(
                "lbc_async", [lbc, "--target", target4, "--expect-endpoints", "4", "--async"],
                a.bin, cg_env)
            results["callgrind"]["grpc++"] = run_callgrind("grpcpp", [gpp, "--target", target4],
                                                          a.bin, cg_env)
            results["callgrind"]["grpc++-async"] = run_callgrind(
                "grpcpp_async", [gpp, "--target", target4, "--async"], a.bin, cg_env)
            for label, c in results["callgrind"].items():
                if label.endswith("-tls"):
                    continue
                lb = label.startswith("lbchannel")
                c["top_inclusive"] = top_functions(c["file_4000"], 30 if lb else 15)
                c["top_self"] = top_functions(c["file_4000"], 25 if lb else 15, inclusive=False)
    finally:
        _kill_current()
        backends.close()
        if tls_ports:
            tls_backends.close()
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
