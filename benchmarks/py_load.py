#!/usr/bin/env python3
"""Python load driver: lbchannel's Python binding or grpcio's sync client.

Same schedule and JSON output as the C drivers (see load_common.h): N threads
each looping one blocking unary call on one shared channel (round_robin over
the same ipv4: target), warm-up, optional stdin handshake, measured window with
per-call time.perf_counter_ns() samples and getrusage(RUSAGE_SELF) CPU.

  py_load.py --client lbchannel|grpcio --target T --threads N --seconds S [--handshake]

--stream: instead, one bidi stream (bench.Echo/Stream) driven ping-pong from one
thread (send one message, receive its echo), like lbc_stream/grpc_stream with
--window 1: lbchannel's raw ``Channel.stream(method)`` call (send/recv of bytes)
vs grpcio's ``stream_stream`` fed by a queue-backed request iterator. Between
warm-up and the measured window nothing is in flight; after it the send side is
closed and the status checked.
"""
import argparse
import json
import queue
import resource
import sys
import threading
import time

METHOD = "/bench.Echo/Unary"
STREAM_METHOD = "/bench.Echo/Stream"
RR_CONFIG = '{"loadBalancingConfig":[{"round_robin":{}}]}'


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["lbchannel", "grpcio"], required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup-ms", type=int, default=500)
    ap.add_argument("--payload", type=int, default=32)
    ap.add_argument("--deadline-ms", type=int, default=10000)
    ap.add_argument("--handshake", action="store_true")
    ap.add_argument("--stream", action="store_true")
    a = ap.parse_args()
    if a.stream:
        return stream_main(a)

    payload = bytes((ord("a") + i % 26) for i in range(a.payload))
    req = b"\x0a" + bytes([a.payload]) + payload
    timeout = a.deadline_ms / 1000.0

    if a.client == "lbchannel":
        import lbchannel

        ch = lbchannel.Channel(a.target, lb_policy="round_robin")
        version = getattr(lbchannel, "__version__", "?")

        def call():
            return ch.unary(METHOD, req, timeout=timeout)

        n_expected = len(a.target.split(":", 1)[1].split(","))
        deadline = time.monotonic() + 10
        while True:
            try:
                ready = sum(1 for e in ch.endpoints() if e.get("state") == "READY")
            except Exception:  # noqa: BLE001 - stats shape is informative only
                ready = n_expected
            if ready >= n_expected or time.monotonic() > deadline:
                break
            time.sleep(0.002)
    else:
        import grpc

        version = grpc.__version__
        ch = grpc.insecure_channel(a.target, options=[("grpc.service_config", RR_CONFIG)])
        grpc.channel_ready_future(ch).result(timeout=10)
        stub = ch.unary_unary(METHOD)

        def call():
            return stub(req, timeout=timeout)

    errors = [0] * a.threads
    samples = [[] for _ in range(a.threads)]
    warm_stop = threading.Event()
    stop = threading.Event()
    b1 = threading.Barrier(a.threads + 1)
    b2 = threading.Barrier(a.threads + 1)
    printed = [0]

    def one(idx):
        try:
            resp = call()
            return len(resp) == len(req)
        except Exception as e:  # noqa: BLE001
            if printed[0] < 5:
                printed[0] += 1
                print(f"py_load: call failed: {e!r}", file=sys.stderr)
            return False

    def worker(idx):
        while not warm_stop.is_set():
            one(idx)
        b1.wait()
        b2.wait()
        s = samples[idx]
        clock = time.perf_counter_ns
        while not stop.is_set():
            t0 = clock()
            if one(idx):
                s.append(clock() - t0)
            else:
                errors[idx] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.threads)]
    for t in threads:
        t.start()
    time.sleep(a.warmup_ms / 1000.0)
    warm_stop.set()
    b1.wait()
    if a.handshake:
        print("WARM", flush=True)
        sys.stdin.readline()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter_ns()
    b2.wait()
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join()
    t1 = time.perf_counter_ns()
    cpu1 = cpu_seconds()

    allv = sorted(v for s in samples for v in s)
    n = len(allv)
    wall = (t1 - t0) / 1e9
    cpu = cpu1 - cpu0
    out = {
        "client": "lbchannel-py" if a.client == "lbchannel" else "grpcio",
        "version": version,
        "target": a.target,
        "threads": a.threads,
        "calls": n,
        "errors": sum(errors),
        "wall_s": wall,
        "cps": n / wall if wall > 0 else 0,
        "p50_us": allv[n // 2] / 1e3 if n else 0,
        "p99_us": allv[(n * 99) // 100] / 1e3 if n else 0,
        "mean_us": sum(allv) / n / 1e3 if n else 0,
        "cpu_s": cpu,
        "cpu_us_per_call": cpu * 1e6 / n if n else 0,
    }
    print(json.dumps(out), flush=True)
    ch.close()


def encode_msg(payload):
    n, hdr = len(payload), bytearray(b"\x0a")
    while True:
        if n < 0x80:
            hdr.append(n)
            break
        hdr.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(hdr) + payload


def wait_ready(ch, target):
    n_expected = len(target.split(":", 1)[1].split(","))
    deadline = time.monotonic() + 10
    while True:
        try:
            ready = sum(1 for e in ch.endpoints() if e.get("state") == "READY")
        except Exception:  # noqa: BLE001
            ready = n_expected
        if ready >= n_expected or time.monotonic() > deadline:
            return
        time.sleep(0.002)


def stream_main(a):
    payload = bytes((ord("a") + i % 26) for i in range(a.payload))
    req = encode_msg(payload)
    if a.client == "lbchannel":
        import lbchannel

        version = getattr(lbchannel, "__version__", "?")
        ch = lbchannel.Channel(a.target, lb_policy="round_robin")
        wait_ready(ch, a.target)
        call = ch.stream(STREAM_METHOD)

        def rt():
            call.send(req)
            return call.recv()

        def finish():
            call.close_send()
            extra = 0
            while call.recv() is not None:
                extra += 1
            code = call.code()  # grpc.StatusCode when grpcio is installed, else lbchannel's
            ok = getattr(code, "name", None) == "OK" or code == 0
            call.close()
            return extra, ok
    else:
        import grpc

        version = grpc.__version__
        ch = grpc.insecure_channel(a.target, options=[("grpc.service_config", RR_CONFIG)])
        grpc.channel_ready_future(ch).result(timeout=10)
        q = queue.SimpleQueue()
        responses = ch.stream_stream(STREAM_METHOD)(iter(q.get, None))

        def rt():
            q.put(req)
            return next(responses)

        def finish():
            q.put(None)
            extra = sum(1 for _ in responses)
            return extra, responses.code() == grpc.StatusCode.OK

    end = time.monotonic() + a.warmup_ms / 1000.0
    while time.monotonic() < end:
        rt()
    if a.handshake:
        print("WARM", flush=True)
        sys.stdin.readline()
    samples, errors = [], 0
    clock = time.perf_counter_ns
    cpu0 = cpu_seconds()
    t0 = clock()
    end = t0 + int(a.seconds * 1e9)
    while True:
        s0 = clock()
        if s0 >= end:
            break
        resp = rt()
        if resp is not None and len(resp) == len(req):
            samples.append(clock() - s0)
        else:
            errors += 1
    t1 = clock()
    cpu1 = cpu_seconds()
    extra, ok = finish()
    errors += extra + (0 if ok else 1)
    allv = sorted(samples)
    n = len(allv)
    wall = (t1 - t0) / 1e9
    cpu = cpu1 - cpu0
    print(json.dumps({
        "client": "lbchannel-py" if a.client == "lbchannel" else "grpcio",
        "version": version, "target": a.target, "threads": 1, "calls": n, "errors": errors,
        "wall_s": wall, "cps": n / wall if wall > 0 else 0,
        "p50_us": allv[n // 2] / 1e3 if n else 0,
        "p99_us": allv[(n * 99) // 100] / 1e3 if n else 0,
        "mean_us": sum(allv) / n / 1e3 if n else 0,
        "cpu_s": cpu, "cpu_us_per_call": cpu * 1e6 / n if n else 0,
        "mode": "stream", "payload": a.payload, "window": 1, "bytes_per_msg": len(req),
        "mbps": n * a.payload / wall / 1e6 if wall > 0 else 0,
    }), flush=True)
    ch.close()


if __name__ == "__main__":
    main()
