"""fork() without exec: children can use the library; the parent's handles fail clearly.

Issue 15 §1: a process that had loaded the library and forked (multiprocessing's
"fork" start method, pre-forking servers) livelocked in some children on their
first channel — two threads spinning in the Swift runtime's once lock, whose PI
futex word held the parent's thread id (the runtime caches it per thread, and the
cache survived fork() in the forking thread). The library's pthread_atfork child
handler now resets that cache. Each test forks 1,000 children through
``fork_children.py`` (each child under alarm(10); ended by SIGALRM = hung) and
requires every one of them to finish its work.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHILDREN = 1000


def run_children(package, target, *flags, children=CHILDREN):
    """Run fork_children.py with the ``lbchannel`` package under test; return its JSON summary."""
    env = dict(os.environ)
    package_dir = str(Path(package.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, str(HERE / "fork_children.py"), target, str(children), "--parallel", "4",
         "--alarm", "10", *flags],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    print(summary)
    if summary["failed"] or summary["hung"]:
        print(proc.stderr[-4000:])
    return summary


@pytest.mark.parametrize("mode", [["--cold"], ["--busy"]], ids=["library_loaded_only", "parent_channel_busy"])
def test_forked_children_open_channels_and_never_hang(lbchannel, backends, mode):
    """--cold: the parent only loaded the library (the case that hung up to 24 % of
    children). --busy: the parent has a channel with calls running on another
    thread while it forks; each child must also get ForkedError from the parent's
    channel, naming the parent's pid, and close it without hanging."""
    summary = run_children(lbchannel, backends.target, *mode)
    assert summary["hung"] == 0, summary
    assert summary["ok"] == CHILDREN, summary


PARENT_CLOSES = r"""
import os, sys, time
import lbchannel

def sockets():
    # Socket inodes of this process's descriptors.
    out = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out

def established(inodes):
    # Which of these TCP sockets are still ESTABLISHED (state 01 of /proc/net/tcp).
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return {r[9] for r in rows if r[9] in inodes and r[3] == "01"}

before = sockets()
ch = lbchannel.Channel(sys.argv[1])
ch.unary("/lbtest.Test/Whoami", b"", timeout=5)
mine = established(sockets() - before)
assert mine, "the channel has no established connection"
pid = os.fork()
if pid == 0:
    time.sleep(6)  # a long-lived worker that never touches the parent's channel
    os._exit(0)
ch.close()
deadline = time.monotonic() + 3
while established(mine) and time.monotonic() < deadline:
    time.sleep(0.02)
left = established(mine)
os.kill(pid, 9)
os.waitpid(pid, 0)
print(len(mine), len(left))
"""


def test_connections_the_parent_closes_close_while_a_child_lives(lbchannel, backends):
    """The fork handler swaps the parent's sockets for /dev/null in the child: when the
    parent closes its channel, its connections close (FIN) at once, though a forked
    child still runs; they used to stay ESTABLISHED until every child had exited."""
    env = dict(os.environ)
    package_dir = str(Path(lbchannel.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", PARENT_CLOSES, backends.target], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    connected, still_open = (int(x) for x in proc.stdout.split())
    assert connected >= 1
    assert still_open == 0, "%d of %d connections stayed open while the child lived" % (still_open, connected)

