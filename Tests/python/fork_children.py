"""Fork children from a process that uses lbchannel, and report how they fared.

    python3 fork_children.py TARGET CHILDREN [--parallel P] [--busy] [--cold] [--alarm S]
                             [--no-parent-check]

The parent loads the library, opens a channel to TARGET (a Tests/python/backend.py
backend) and makes a call on it, so the library's I/O thread runs and the Swift
runtime is warm in the forking thread. With --cold it only loads the library (the
case that livelocked: the child's first channel is the first to run the runtime's
lazy initialisation, from two threads). Then it forks CHILDREN children, at most P
at a time, with plain ``os.fork()`` (no exec: what multiprocessing's "fork" start
method and pre-forking servers do). With --busy another thread of the parent keeps
calling on the parent's channel while it forks. Each child, under ``alarm(S)``:

1. uses the parent's channel (not with --cold or --no-parent-check): must raise
   ``lbchannel.ForkedError`` naming the parent's pid (exit 3 otherwise);
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


def child(parent_channel, target, alarm, parent_check=True):
    signal.alarm(alarm)
    parent_pid = os.getppid()
    try:
        if not parent_check:
            raise lbchannel.ForkedError(lbchannel.ErrorCode.FORKED, "process %d before fork()" % parent_pid)
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
    if parent_check:
        parent_channel.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("children", type=int)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--alarm", type=int, default=10)
    ap.add_argument("--cold", action="store_true", help="the parent opens no channel before forking")
    ap.add_argument("--no-parent-check", action="store_true",
                    help="do not touch the parent's channel in the children (to measure old builds)")
    args = ap.parse_args()

    channel = None
    if not args.cold:
        channel = lbchannel.Channel(args.target)
        channel.unary(WHOAMI, b"", timeout=5)
    stop = threading.Event()
    busy = None
    if args.busy and channel is not None:
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
                    code = child(channel, args.target, args.alarm, channel is not None and not args.no_parent_check)
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
    if channel is not None:
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
