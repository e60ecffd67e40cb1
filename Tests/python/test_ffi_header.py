"""include/lbchannel.h as an FFI parser sees it (issue 10 §10).

``cc -E -P -DLBC_NO_SYSTEM_INCLUDES`` must give text that Python cffi's ``cdef``
accepts as is; every constant an FFI needs must survive preprocessing (enum
constants, not ``#define``s), with the values the C compiler sees; and the
declarations must work against the real library.
"""

import os
import re
import shutil
import subprocess

import cffi  # installed by make deps (.ci/deps.sh)

from lbtest_support import REPO_ROOT

HEADER = REPO_ROOT / "include" / "lbchannel.h"
#: The only #defines allowed in the header: the include guard, the deprecation
#: macro, the version macros (C's #if idiom) and LBC_EVENT_MIN_SIZE (a sizeof).
ALLOWED_DEFINES = {"LBCHANNEL_H", "LBC_DEPRECATED", "LBC_VERSION", "LBC_VERSION_NUM", "LBC_EVENT_MIN_SIZE"}


def _compiler():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler (cc) on PATH"
    return cc


def _preprocessed():
    out = subprocess.run([_compiler(), "-E", "-P", "-DLBC_NO_SYSTEM_INCLUDES", "-x", "c", str(HEADER)],
                         check=True, capture_output=True, text=True)
    return out.stdout


def _c_values(names):
    """The constants' values as the C compiler computes them (with system includes)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "values.c")
        exe = os.path.join(tmp, "values")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include "lbchannel.h"\nint main(void) {\n')
            for n in names:
                f.write(f'  printf("%s %lld\\n", "{n}", (long long)({n}));\n')
            f.write('  printf("sizeof_lbc_event %zu\\n", sizeof(lbc_event));\n  return 0;\n}\n')
        subprocess.run([_compiler(), "-I", str(HEADER.parent), "-o", exe, src], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def test_header_has_no_constant_defines():
    defines = set(re.findall(r"^\s*#\s*define\s+(\w+)", HEADER.read_text(), re.M))
    assert defines <= ALLOWED_DEFINES, f"constants as #define (make them enum constants): {defines - ALLOWED_DEFINES}"


def test_preprocessed_header_has_no_system_declarations_or_extensions():
    text = _preprocessed()
    assert "__attribute__" not in text and "extern \"C\"" not in text
    assert not re.search(r"\btypedef\b[^;]*\bsize_t\s*;", text), "a system header leaked into the output"
    assert "lbc_cq_poll" in text and "LBC_CALL_DONE" in text


def test_cffi_cdef_accepts_the_preprocessed_header_and_calls_the_library(library_path):
    ffi = cffi.FFI()
    ffi.cdef(_preprocessed())
    lib = ffi.dlopen(library_path)
    enums = [name for name in dir(lib) if name.startswith("LBC_")]
    for required in ("LBC_CALL_READABLE", "LBC_CALL_WRITABLE", "LBC_CALL_HEADERS", "LBC_CALL_DONE",
                     "LBC_SEND_END", "LBC_END", "LBC_ERR_FORKED", "LBC_EVENT_UNARY", "LBC_STATUS_UNAUTHENTICATED"):
        assert required in enums, f"{required} did not survive preprocessing"
    c = _c_values(enums)
    for name in enums:
        assert getattr(lib, name) == c[name], f"{name}: cffi {getattr(lib, name)} != C {c[name]}"
    assert ffi.sizeof("lbc_event") == c["sizeof_lbc_event"]
    # The declarations work against the real library.
    header_version = re.search(r'#define LBC_VERSION "([^"]+)"', HEADER.read_text()).group(1)
    assert ffi.string(lib.lbc_version()).decode() == header_version
    assert ffi.string(lib.lbc_strerror(lib.LBC_ERR_CLOSED)) == ffi.string(lib.lbc_strerror(-5)) != b"unknown error"
    out = ffi.new("lbc_channel **")
    assert lib.lbc_channel_open(b"xds:///x", ffi.NULL, out) == lib.LBC_ERR_UNSUPPORTED
    assert out[0] == ffi.NULL
    assert b"xds" in ffi.string(lib.lbc_last_errmsg())
    opts = ffi.new("lbc_options **")
    assert lib.lbc_options_new(opts) == lib.LBC_OK
    assert lib.lbc_options_set_lb_policy(opts[0], lib.LBC_LB_ROUND_ROBIN) == lib.LBC_OK
    assert lib.lbc_options_set(opts[0], b"no_such_option", b"1") == lib.LBC_ERR_UNKNOWN_OPTION
    lib.lbc_options_free(opts[0])
    cq = ffi.new("lbc_cq **")
    assert lib.lbc_cq_new(cq) == lib.LBC_OK
    events = ffi.new("lbc_event[4]")
    assert lib.lbc_cq_poll(cq[0], events, ffi.sizeof("lbc_event"), 4, 0) == 0
    lib.lbc_cq_free(cq[0])
