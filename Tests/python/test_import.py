"""Loading the library: search order, error messages, version check, prototypes."""

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from lbtest_support import REPO_ROOT

HEADER = REPO_ROOT / "include" / "lbchannel.h"
BINDINGS = REPO_ROOT / "bindings" / "python"


def _import_in_subprocess(library, code="import lbchannel; print(lbchannel.version())"):
    env = dict(os.environ, LBCHANNEL_LIBRARY=library, PYTHONPATH=str(BINDINGS))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def _compile(tmp_path, source):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler (cc, gcc or clang) is needed to build the fake library"
    src = tmp_path / "fake.c"
    src.write_text(source)
    out = tmp_path / "libfake.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(out), str(src)], check=True, timeout=60)
    return str(out)


def test_missing_library_is_an_import_error_naming_the_path(tmp_path):
    missing = str(tmp_path / "nope" / "liblbchannel.so")
    result = _import_in_subprocess(missing)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert missing in result.stderr
    assert "LBCHANNEL_LIBRARY" in result.stderr


def test_library_without_lbc_symbols_is_rejected():
    libc = ctypes.util.find_library("c")
    result = _import_in_subprocess(libc)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "lbc_version_num" in result.stderr


@pytest.mark.parametrize(
    "num, accepted",
    [(0x000100, False), (0x020000, False), (0x000000, False), (0x010000, False), (0x010100, True), (0x010109, True), (0x010300, True)],
)
def test_version_check_right_after_loading(tmp_path, num, accepted):
    # A fake library exporting only lbc_version_num(): if accepted, the import
    # goes on to the prototypes and fails on the first missing symbol instead.
    lib = _compile(tmp_path, "int lbc_version_num(void) { return 0x%06x; }\n" % num)
    result = _import_in_subprocess(lib)
    assert result.returncode != 0
    assert "ImportError" in result.stderr, result.stderr
    if accepted:
        # Past the version check; it fails on the first symbol the fake lacks.
        assert "does not export lbc_version()" in result.stderr, result.stderr
    else:
        assert "ImportError" in result.stderr, result.stderr
        assert "0x%06x" % num in result.stderr, result.stderr


def _header_declarations():
    """``{name: (return type, is_pointer)}`` for every function in lbchannel.h."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    decls = {}
    for m in re.finditer(r"^\s*(?:const\s+)?([a-z_0-9]+)\s*(\*?)\s*(lbc_[a-z0-9_]+)\s*\(", text, flags=re.M):
        decls[m.group(3)] = (m.group(1), bool(m.group(2)))
    return decls


def test_every_header_function_is_bound_with_explicit_types(lbchannel):
    from lbchannel import _native

    decls = _header_declarations()
    assert len(decls) >= 30, decls
    for name, (ret, is_pointer) in sorted(decls.items()):
        fn = getattr(_native, name, None)
        assert fn is not None, "%s is declared in lbchannel.h but not bound" % name
        assert fn.argtypes is not None, "%s has no argtypes" % name
        if is_pointer:
            assert fn.restype not in (None, ctypes.c_int, ctypes.c_long), "%s returns a pointer" % name
        elif ret == "void":
            assert fn.restype is None, name
        elif ret == "int":
            assert fn.restype is ctypes.c_int, name
        elif ret == "size_t":
            assert fn.restype is ctypes.c_size_t, name
        else:
            pytest.fail("unexpected return type %s of %s" % (ret, name))


def test_bound_prototypes_are_the_headers_word_for_word(lbchannel):
    from lbchannel import _native

    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    header = {" ".join(m.group(0).split())
              for m in re.finditer(r"^(?:const\s+)?\w+\s*\*?\s*lbc_\w+\s*\([^;]*\);", text, flags=re.M)}
    bound = {line.split("//")[0].strip() for line in _native._PROTOTYPES.splitlines()} - {""}
    assert len(header) >= 30, header
    assert bound == header, "only in _native: %s\nonly in lbchannel.h: %s" % (
        sorted(bound - header), sorted(header - bound))


def test_version_matches_header(lbchannel):
    text = HEADER.read_text()
    want = re.search(r'#define LBC_VERSION "([^"]+)"', text).group(1)
    want_num = int(re.search(r"#define LBC_VERSION_NUM (0x[0-9a-fA-F]+)", text).group(1), 16)
    assert lbchannel.version() == want
    assert lbchannel.version_num() == want_num
    major, minor, patch = (int(x) for x in want.split("."))
    assert want_num == (major << 16) | (minor << 8) | patch


def test_library_path_is_the_one_under_test(lbchannel, library_path):
    assert os.path.realpath(lbchannel.library_path) == os.path.realpath(library_path)


def test_strerror_and_status_names(lbchannel):
    from lbchannel import _native

    for code in lbchannel.ErrorCode:
        text = _native.lbc_strerror(int(code))
        assert text, code
    assert _native.lbc_strerror(-12345) == b"unknown error"
    assert _native.lbc_status_name(14) == b"UNAVAILABLE"
    for code in lbchannel.StatusCode:
        assert _native.lbc_status_name(int(code)).decode() == code.name
    assert _native.lbc_status_name(99) == b"UNKNOWN_CODE"
    assert _native.lbc_last_errmsg() is not None


def test_free_and_destructors_accept_null(lbchannel):
    from lbchannel import _native

    _native.lbc_free(None)
    _native.lbc_options_free(None)
    _native.lbc_metadata_free(None)
    _native.lbc_channel_close(None)
    _native.lbc_response_free(None)
    assert _native.lbc_metadata_count(None) == 0
    assert _native.lbc_response_status(None) == 3  # INVALID_ARGUMENT for NULL


def test_metadata_object_round_trip(lbchannel):
    from lbchannel import _metadata, _native

    md = _metadata.build([("x-a", "1"), ("x-b-bin", b"\x00\xff\x00"), ("x-empty", "")])
    try:
        assert _native.lbc_metadata_count(md) == 3
        assert _metadata.read(md) == (("x-a", "1"), ("x-b-bin", b"\x00\xff\x00"), ("x-empty", ""))
        key = ctypes.c_char_p()
        val = ctypes.POINTER(ctypes.c_ubyte)()
        n = ctypes.c_size_t()
        rc = _native.lbc_metadata_get(md, 3, ctypes.byref(key), ctypes.byref(val), ctypes.byref(n))
        assert rc == lbchannel.ErrorCode.OUT_OF_RANGE
    finally:
        _native.lbc_metadata_free(md)


def test_native_module_keeps_attribute_loads_fast(lbchannel):
    # Every call reads several _native.lbc_* attributes. CPython (3.11+) does not specialize
    # attribute loads on a module that defines __getattr__; the hook that lets mypy type the
    # functions _bind() adds exists only for the type checker (it cost 5-9 % CPU per unary
    # call from Python when it was defined at run time).
    from lbchannel import _native

    assert "__getattr__" not in vars(_native)
    assert callable(_native.lbc_unary) and _native.lbc_unary.argtypes
