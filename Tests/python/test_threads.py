"""One channel shared by many Python threads."""

import collections
import threading
import time

import grpc

ECHO = "/lbtest.Test/Echo"
WHOAMI = "/lbtest.Test/Whoami"


def test_eight_threads_share_one_channel(lbchannel, backends):
    threads_n, calls_n = 8, 200
    errors = []
    served = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)

    with lbchannel.Channel(backends.target) as ch:

        def worker(tid):
            barrier.wait(10)
            local = collections.Counter()
            for i in range(calls_n):
                payload = ("thread %d call %d " % (tid, i)).encode() * (1 + i % 7)
                try:
                    resp, call = ch.unary_with_call(
                        ECHO, payload, timeout=10, metadata=[("x-thread", str(tid)), ("x-call-bin", bytes([i % 256, 0]))]
                    )
                except Exception as e:
                    errors.append((tid, i, repr(e)))
                    continue
                initial = dict(call.initial_metadata())
                trailing = dict(call.trailing_metadata())
                if resp != payload or initial.get("x-thread") != str(tid) or initial.get("x-call-bin") != bytes([i % 256, 0]):
                    errors.append((tid, i, "mismatch", resp[:40], initial))
                local[trailing.get("x-backend")] += 1
            with lock:
                served.update(local)

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        elapsed = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads), "threads still running after 90 s"
        stats = ch.stats()

    assert not errors, errors[:10]
    assert sum(served.values()) == threads_n * calls_n
    assert set(served) == set(backends.names), served
    assert sum(e["calls_started"] for e in stats["endpoints"]) == threads_n * calls_n
    assert all(e["in_flight"] == 0 for e in stats["endpoints"]), stats
    assert elapsed < 60, elapsed


def test_blocking_call_releases_the_gil(lbchannel, backends):
    # While one thread sits in lbc_unary for a second, another thread's calls
    # (and plain Python code) keep running.
    with lbchannel.Channel(backends.target) as ch:
        ch.unary(WHOAMI, b"", timeout=5)
        done = threading.Event()

        def slow():
            ch.unary("/lbtest.Test/Sleep", b"1000", timeout=5)
            done.set()

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        time.sleep(0.1)
        quick = 0
        while not done.is_set() and quick < 20:
            ch.unary(WHOAMI, b"", timeout=5)
            quick += 1
        t.join(5)
        assert quick == 20, "only %d quick calls completed during one slow call" % quick


def test_grpc_futures_in_parallel(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        mc = ch.unary_unary("/lbtest.Test/Sleep")
        t0 = time.monotonic()
        futures = [mc.future(b"300", timeout=5) for _ in range(6)]
        names = [f.result(timeout=10).decode() for f in futures]
        assert time.monotonic() - t0 < 1.5, "futures did not run concurrently"
        assert set(names) <= set(backends.names)
        assert all(f.code() == grpc.StatusCode.OK for f in futures)
