"""Fork children from a process that uses lbchannel, and report how they fared.

    python3 fork_children.py TARGET CHILDREN [--parallel P] [--busy] [--alarm S]

The parent loads the library, opens a channel to TARGET (a Tests/python/backend.py
backend) and makes a call on it, so the library's I/O thread runs and the Swift
runtime is warm in the forking thread. Then it forks CHILDREN children, at most P
at a time, with plain ``os.fork()`` (no exec: what multiprocessing's "fork" start
method and pre-forking servers do). With --busy another thread of the parent keeps
calling on the parent's channel while it forks. Each child, under ``alarm(S)``:

1. uses the parent's channel: must raise ``lbchannel.ForkedError`` naming the
   parent's pid (exit 3 otherwise);
2. opens its own channel to TARGET and makes a call: must succeed (exit 4);
3. closes both channels (must return: a hang is caught by the alarm) and exits 0.

Prints one JSON line: {"children", "ok", "hung", "failed", "codes", "seconds"};
"hung" counts children ended by SIGALRM. Exits 0.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time

import lbchannel

WHOAMI = "/lbtest.Test/Whoami"


def child(parent_channel, target, alarm):
    signal.alarm(alarm)
    parent_pid = os.getppid()
    try:
        parent_channel.unary(WHOAMI, b"", timeout=5)
        return 3
    except lbchannel.ForkedError as e:
        if "process %d before fork()" % parent_pid not in str(e):
            sys.stderr.write("child %d: unexpected message: %s\n" % (os.getpid(), e))
            return 3
    except BaseException as e:  # noqa: BLE001  (reported through the exit code)
        sys.stderr.write("child %d: parent channel: %r\n" % (os.getpid(), e))
        return 3
    try:
        with lbchannel.Channel(target) as ch:
            ch.unary(WHOAMI, b"", timeout=5)
    except BaseException as e:  # noqa: BLE001
        sys.stderr.write("child %d: own channel: %r\n" % (os.getpid(), e))
        return 4
    parent_channel.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("children", type=int)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--alarm", type=int, default=10)
    args = ap.parse_args()

    channel = lbchannel.Channel(args.target)
    channel.unary(WHOAMI, b"", timeout=5)
    stop = threading.Event()
    busy = None
    if args.busy:
        def load():
            while not stop.is_set():
                try:
                    channel.unary(WHOAMI, b"", timeout=5)
                except lbchannel.RpcError:
                    pass
        busy = threading.Thread(target=load, daemon=True)
        busy.start()

    start = time.monotonic()
    running = {}
    codes = {}
    started = 0
    while started < args.children or running:
        while started < args.children and len(running) < args.parallel:
            pid = os.fork()
            if pid == 0:
                code = 5
                try:
                    code = child(channel, args.target, args.alarm)
                finally:
                    os._exit(code)
            running[pid] = True
            started += 1
        pid, status = os.wait()
        if running.pop(pid, None):
            code = os.waitstatus_to_exitcode(status)
            codes[code] = codes.get(code, 0) + 1
    seconds = time.monotonic() - start
    stop.set()
    if busy is not None:
        busy.join(10)
    channel.close()
    print(json.dumps({
        "children": args.children,
        "ok": codes.get(0, 0),
        "hung": codes.get(-signal.SIGALRM, 0),
        "failed": args.children - codes.get(0, 0) - codes.get(-signal.SIGALRM, 0),
        "codes": {str(k): v for k, v in sorted(codes.items())},
        "seconds": round(seconds, 2),
    }))


if __name__ == "__main__":
    main()
