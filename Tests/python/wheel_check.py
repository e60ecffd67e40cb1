#!/usr/bin/env python3
"""Check a wheel made by ``make wheel`` (run by ``make test-wheel``).

Usage::

    python3 Tests/python/wheel_check.py WHEEL VENV_DIR

Creates a fresh venv in VENV_DIR (removed first), installs WHEEL there with pip
(``--no-index``: nothing else is fetched), and with ``LBCHANNEL_LIBRARY`` unset
and ``LD_LIBRARY_PATH`` empty checks that

* the package loads the library copy inside the installed package (not a
  system-wide or build-tree one),
* that copy's libnghttp2, OpenSSL and c-ares resolve to the wheel's own
  ``lbchannel.libs`` (so only the C runtime has to be on the machine), and
* a round_robin channel over two grpcio backends (started here with this
  Python, which has grpcio) makes calls that reach both backends, and
* the ``lbchannel`` console script is installed and, without the ``cli``
  extra, exits 64 naming ``pip install 'lbchannel[cli]'``, and
* ``lbchannel.metrics`` is installed and, without the ``otel`` / ``prometheus``
  extras, its exporters raise ImportError naming them.

Exits non-zero with a message on any failure. Takes a few seconds.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lbtest_support import BackendSet  # noqa: E402

# Run inside the venv: prints what the checks above need, one fact per line.
CLIENT = r"""
import os, sys, time
import lbchannel
print("library", os.path.realpath(lbchannel.library_path))
print("package", os.path.dirname(os.path.realpath(lbchannel.__file__)))
target = sys.argv[1]
names = set()
with lbchannel.Channel(target, lb_policy="round_robin") as ch:
    deadline = time.monotonic() + 10   # until both connections are READY
    while len(names) < 2 and time.monotonic() < deadline:
        names.add(ch.unary("/lbtest.Test/Whoami", b"", timeout=5).decode())
print("backends", ",".join(sorted(names)))
print("grpc", lbchannel.HAVE_GRPC)
"""


def fail(message):
    print("wheel_check: FAIL: %s" % message, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)
    if result.returncode != 0:
        fail("%s exited %d:\n%s%s" % (" ".join(map(str, cmd)), result.returncode, result.stdout, result.stderr))
    return result.stdout


def main():
    if len(sys.argv) != 3:
        fail("usage: wheel_check.py WHEEL VENV_DIR")
    wheel, venv = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    if not wheel.is_file():
        fail("no wheel at %s" % wheel)
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", str(wheel)])

    env = {k: v for k, v in os.environ.items()
           if k not in ("LBCHANNEL_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH", "PYTHONHOME")}
    backends = BackendSet(gen_dir=None, names=("w1", "w2"), hosts=("127.0.0.2", "127.0.0.3")).start()
    try:
        out = run([str(python), "-c", CLIENT, backends.target], env=env, cwd=str(venv))
    finally:
        backends.stop()
    facts = dict(line.split(" ", 1) for line in out.strip().splitlines())

    package = Path(facts["package"])
    library = Path(facts["library"])
    if library.parent != package or not str(package).startswith(str(venv)):
        fail("the package loaded %s, not the copy inside %s" % (library, package))
    if facts["backends"] != "w1,w2":
        fail("round_robin calls reached %r, not both backends" % facts["backends"])

    # The console script is installed; without the `cli` extra it names it.
    script = venv / "bin" / "lbchannel"
    if not script.is_file():
        fail("the wheel installed no %s" % script)
    result = subprocess.run([str(script), "call", "ipv4:127.0.0.2:1", "/a.B/C"], capture_output=True, text=True,
                            timeout=60, env=env, cwd=str(venv))
    if result.returncode != 64 or "pip install 'lbchannel[cli]'" not in result.stderr:
        fail("lbchannel without the cli extra exited %d: %s" % (result.returncode, result.stderr))

    # lbchannel.metrics is in the wheel; without the otel/prometheus extras each
    # exporter names the extra to install.
    for name, extra in (("OpenTelemetryProducer", "otel"), ("PrometheusCollector", "prometheus")):
        result = subprocess.run([str(python), "-c", "import lbchannel.metrics as m; m.%s" % name],
                                capture_output=True, text=True, timeout=60, env=env, cwd=str(venv))
        if result.returncode == 0 or "pip install 'lbchannel[%s]'" % extra not in result.stderr:
            fail("lbchannel.metrics.%s without the %s extra exited %d: %s"
                 % (name, extra, result.returncode, result.stderr))

    # The C libraries come from the wheel, not from the system.
    ldd = run(["ldd", str(library)], env=env)
    libs_dir = package.parent / "lbchannel.libs"
    resolved = {}  # "libssl-59d05945.so.3" -> its real path
    for line in ldd.splitlines():
        name, arrow, rest = line.strip().partition(" => ")
        if arrow and rest.split(" (")[0].startswith("/"):
            resolved[name] = Path(os.path.realpath(rest.split(" (")[0]))
    for prefix in ("libnghttp2", "libssl", "libcrypto", "libcares"):
        paths = [path for name, path in resolved.items() if name.startswith(prefix)]
        if not paths or any(path.parent != libs_dir for path in paths):
            fail("%s does not resolve into %s:\n%s" % (prefix, libs_dir, ldd))
    print("wheel_check: ok: %s (%.1f MB) installed in a fresh venv, loaded %s, "
          "balanced calls over %s (grpcio in the venv: %s) in %.1f s"
          % (wheel.name, wheel.stat().st_size / 1e6, library.name, facts["backends"],
             facts["grpc"], time.monotonic() - started))


if __name__ == "__main__":
    main()
