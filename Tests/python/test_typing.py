"""The binding's types (issue 12 §5): ``mypy --strict`` passes on the package and on a
user's script that uses every public call shape (typing/usage.py), and reports exactly
the expected errors for deliberate misuse (typing/misuse.py, ``# E: code`` markers).

grpcio's types come from the ``types-grpcio`` stubs (see lbchannel/_grpc.py); mypy and
the stubs are installed, pinned, by .ci/deps.sh. Static checks only: no library needed.
"""

import os
import re
import subprocess
import sys

from lbtest_support import REPO_ROOT

BINDINGS = REPO_ROOT / "bindings" / "python"
TYPING = REPO_ROOT / "Tests" / "python" / "typing"


def _mypy(*paths):
    """Run ``mypy --strict`` on ``paths``; return (exit code, error lines)."""
    env = dict(os.environ, MYPYPATH=str(BINDINGS))
    cache = REPO_ROOT / ".build" / "mypy-cache"
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-color-output", "--cache-dir", str(cache),
                             *map(str, paths)], capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT)
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    return result.returncode, errors, result.stdout + result.stderr


def test_package_and_user_script_pass_mypy_strict():
    rc, errors, out = _mypy(BINDINGS / "lbchannel", TYPING / "usage.py")
    assert rc == 0 and not errors, out
    assert re.search(r"Success: no issues found in \d+ source files", out), out


def test_misuse_is_reported_with_the_expected_error_codes():
    source = (TYPING / "misuse.py").read_text().splitlines()
    expected = set()
    for number, line in enumerate(source, 1):
        marker = re.search(r"# E: ([\w,-]+)$", line)
        if marker:
            expected |= {(number, code) for code in marker.group(1).split(",")}
    assert len(expected) >= 15, expected
    rc, errors, out = _mypy(TYPING / "misuse.py")
    assert rc == 1, out
    reported = set()
    for line in errors:
        m = re.match(r".*misuse\.py:(\d+): error: .*\[([\w-]+)\]$", line)
        assert m, "an error outside misuse.py or without a code: %s" % line
        reported.add((int(m.group(1)), m.group(2)))
    assert reported == expected, "missing: %s\nunexpected: %s\n%s" % (
        sorted(expected - reported), sorted(reported - expected), out)
