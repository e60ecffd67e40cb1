"""Fixtures for lbchannel's Python integration tests.

* The library: ``$LBCHANNEL_LIBRARY``, else ``.build/release/liblbchannel.so``,
  else ``.build/debug/liblbchannel.so`` (relative to the repository root). The
  ``lbchannel`` package is imported from the installed copy if there is one,
  else from ``bindings/python``.
* ``gen_dir``: lbtest_pb2*.py generated once per session by grpc_tools.protoc.
* ``backends``: three grpcio backends (b1, b2, b3 on 127.0.0.2..4, one port)
  shared by the whole session — tests using them must not stop them.
  ``fresh_backends``: the same, private to one test (kill/restart tests).
* A watchdog ends the run (dumping every thread's stack) if one test takes
  longer than ``$LBTEST_TEST_TIMEOUT`` seconds (default 120): a hanging
  library call must not hang CI. Backends exit on their own when the test
  process dies.
"""

import atexit
import faulthandler
import importlib.util
import os
import subprocess
import sys
import threading

import pytest

import lbtest_support
from lbtest_support import REPO_ROOT, BackendSet
from interop_support import interop_pb, interop_servers  # noqa: F401  (fixtures for the streaming tests)

# -- locating the library and the package ----------------------------------------


def _find_library():
    env = os.environ.get("LBCHANNEL_LIBRARY")
    if env:
        return env
    for flavour in ("release", "debug"):
        path = REPO_ROOT / ".build" / flavour / "liblbchannel.so"
        if path.exists():
            return str(path)
    return None


LIBRARY = _find_library()
if LIBRARY and not os.environ.get("LBCHANNEL_LIBRARY"):
    # The package (and every subprocess a test starts) loads exactly this file.
    os.environ["LBCHANNEL_LIBRARY"] = LIBRARY

BINDINGS_DIR = REPO_ROOT / "bindings" / "python"
if importlib.util.find_spec("lbchannel") is None:
    sys.path.insert(0, str(BINDINGS_DIR))

TEST_TIMEOUT = float(os.environ.get("LBTEST_TEST_TIMEOUT", "120"))

atexit.register(lbtest_support.stop_all)


# -- per-test watchdog -------------------------------------------------------------

_WATCHDOG_FILE = None


def pytest_configure(config):
    global _WATCHDOG_FILE
    # A private copy of the terminal's stderr, so the stack dump is not lost
    # in pytest's output capture when the watchdog ends the process.
    try:
        _WATCHDOG_FILE = os.fdopen(os.dup(sys.__stderr__.fileno()), "w")
    except (OSError, AttributeError, ValueError):
        _WATCHDOG_FILE = sys.__stderr__


def _watchdog_expired(nodeid):
    out = _WATCHDOG_FILE or sys.__stderr__
    try:
        out.write(
            "\n\nlbtest watchdog: %s did not finish within %.0fs; ending the run.\n"
            "Stacks of every thread:\n" % (nodeid, TEST_TIMEOUT)
        )
        out.flush()
        faulthandler.dump_traceback(file=out, all_threads=True)
        out.flush()
    finally:
        lbtest_support.stop_all()
        os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    timer = threading.Timer(TEST_TIMEOUT, _watchdog_expired, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    # Backstop in C, in case the hang holds the GIL.
    faulthandler.dump_traceback_later(TEST_TIMEOUT + 15, exit=True, file=_WATCHDOG_FILE or sys.__stderr__)
    try:
        yield
    finally:
        timer.cancel()
        faulthandler.cancel_dump_traceback_later()


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def library_path():
    """Path of the liblbchannel.so under test (fails the test when there is none)."""
    if not LIBRARY:
        pytest.fail(
            "liblbchannel.so not found: set LBCHANNEL_LIBRARY or build it "
            "(.build/release or .build/debug under %s)" % REPO_ROOT
        )
    if not os.path.exists(LIBRARY) and os.sep in LIBRARY:
        pytest.fail("LBCHANNEL_LIBRARY=%s does not exist" % LIBRARY)
    return LIBRARY


@pytest.fixture(scope="session")
def lbchannel(library_path):
    """The imported ``lbchannel`` package, loaded against ``library_path``."""
    try:
        import lbchannel as module
    except ImportError as exc:
        pytest.fail("import lbchannel failed: %s" % exc)
    return module


@pytest.fixture(scope="session")
def gen_dir(tmp_path_factory):
    """Directory with lbtest_pb2.py and lbtest_pb2_grpc.py (also put on sys.path)."""
    out = tmp_path_factory.mktemp("lbtest_gen")
    protos = lbtest_support.HERE / "protos"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(protos),
            "--python_out=%s" % out,
            "--grpc_python_out=%s" % out,
            "lbtest.proto",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, "protoc failed:\n%s\n%s" % (result.stdout, result.stderr)
    sys.path.insert(0, str(out))
    return out


@pytest.fixture(scope="session")
def pb(gen_dir):
    """``(lbtest_pb2, lbtest_pb2_grpc)`` generated for this session."""
    import lbtest_pb2
    import lbtest_pb2_grpc

    return lbtest_pb2, lbtest_pb2_grpc


@pytest.fixture(scope="session")
def backends(gen_dir):
    """Three backends shared by the session. Do not stop or kill them."""
    bs = BackendSet(gen_dir).start()
    yield bs
    bs.stop()


@pytest.fixture
def open_channel(lbchannel):
    """``open_channel(target, **options)`` → an ``lbchannel.Channel``, closed after the test
    (each close bounded to 10 s, so a hung close fails the test instead of the run)."""
    channels = []

    def make(target, **options):
        ch = lbchannel.Channel(target, **options)
        channels.append(ch)
        return ch

    yield make
    for ch in channels:
        lbtest_support.run_with_timeout(ch.close, 10)


@pytest.fixture
def fresh_backends(gen_dir):
    """Three backends private to one test (may be killed, terminated, restarted)."""
    bs = BackendSet(gen_dir).start()
    yield bs
    bs.stop()


@pytest.fixture
def make_backends(gen_dir):
    """``make_backends([env, ...])``: one backend per env on 127.0.0.2, .3, ... named b1, b2, ..."""
    started = []

    def make(envs):
        hosts = tuple("127.0.0.%d" % (2 + i) for i in range(len(envs)))
        for _ in range(3):
            port = lbtest_support.free_port(hosts)
            group = [lbtest_support.Backend("%s:%d" % (h, port), "b%d" % (i + 1), gen_dir, env)
                     for i, (h, env) in enumerate(zip(hosts, envs))]
            try:
                for b in group:
                    started.append(b)
                    b.start()
                return group
            except lbtest_support.BackendError:
                for b in group:
                    b.stop()
        raise RuntimeError("could not start backends on %s" % (hosts,))

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def dead_target():
    """An ipv4 target of three addresses where nothing listens."""
    port = lbtest_support.free_port()
    return "ipv4:" + ",".join("%s:%d" % (h, port) for h in lbtest_support.HOSTS)
