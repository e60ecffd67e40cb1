"""Loading of ``liblbchannel`` and the ctypes bindings of its C API.

Every function declared in ``include/lbchannel.h`` becomes a module global, bound from
its C prototype in :data:`_PROTOTYPES` with explicit ``argtypes`` and ``restype`` (ctypes'
default ``int`` return type would truncate pointers). :class:`ctypes.CDLL` releases the
GIL during every call, so a blocking ``lbc_unary`` does not stop other Python threads.

Search order (see :func:`load`):

1. the path in the environment variable ``LBCHANNEL_LIBRARY`` — when it is
   set, nothing else is tried, so a wrong override fails loudly instead of
   silently picking up another copy of the library;
2. a ``liblbchannel.so*`` file next to this package;
3. ``ctypes.util.find_library("lbchannel")``;
4. ``liblbchannel.so.1`` through the dynamic loader's search path.
"""

import ctypes
import ctypes.util
import glob
import os
import re
from ctypes import POINTER, Structure, c_char_p, c_double, c_int, c_int64, c_size_t, c_ubyte, c_uint, c_void_p
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

#: Environment variable naming the library file to load.
ENV_VAR = "LBCHANNEL_LIBRARY"

#: The C API version this binding was written against (LBC_VERSION_NUM, 0xMMmmpp).
REQUIRED_VERSION_NUM = 0x010100


def _opaque(name: str) -> Any:
    """The pointer type of an opaque ``struct NAME``. Distinct Structure subclasses (rather
    than c_void_p) make ctypes refuse to pass, say, a metadata pointer where a channel is due."""
    return POINTER(type(name, (Structure,), {"__doc__": "Opaque ``struct %s``." % name}))


lbc_options_p = _opaque("lbc_options")
lbc_metadata_p = _opaque("lbc_metadata")
lbc_channel_p = _opaque("lbc_channel")
lbc_response_p = _opaque("lbc_response")
lbc_address_list_p = _opaque("lbc_address_list")  # valid only during a lookup callback
lbc_cq_p = _opaque("lbc_cq")  # a completion queue
lbc_call_p = _opaque("lbc_call")  # a streaming call
lbc_unary_call_p = _opaque("lbc_unary_call")  # an asynchronous unary call's handle
lbc_connectivity_watch_p = _opaque("lbc_connectivity_watch")  # a connectivity subscription


class lbc_event(Structure):
    """``struct lbc_event``: one event taken from a completion queue.

    Extensible: ``lbc_cq_poll`` is passed ``ctypes.sizeof(lbc_event)`` and fills
    only the fields declared here (a newer library may know more).
    """

    _fields_ = [
        ("tag", c_void_p),  # void *tag
        ("kind", c_int),  # int kind (LBC_EVENT_UNARY / LBC_EVENT_CALL)
        ("flags", c_uint),  # unsigned flags (LBC_CALL_* bits)
        ("response", lbc_response_p),  # lbc_response *response (owned by the receiver)
        # Appended for LBC_EVENT_CONNECTIVITY:
        ("state", c_int),  # int state (lbc_connectivity_state)
        ("old_state", c_int),  # int old_state
        ("address", c_void_p),  # char *address (endpoint events; owned by the receiver: lbc_free)
    ]


#: The ``event_size`` argument of every ``lbc_cq_poll`` call.
LBC_EVENT_SIZE = ctypes.sizeof(lbc_event)


# lbc_event_kind
LBC_EVENT_UNARY, LBC_EVENT_CALL, LBC_EVENT_LOG, LBC_EVENT_LOOKUP, LBC_EVENT_CONNECTIVITY = 1, 2, 3, 4, 5
# lbc_connectivity_state names, indexed by value
CONNECTIVITY_NAMES = ("IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN")
# lbc_event.flags bits of LBC_EVENT_CONNECTIVITY
LBC_CONNECTIVITY_ENDPOINT, LBC_CONNECTIVITY_ADDED, LBC_CONNECTIVITY_REMOVED, LBC_CONNECTIVITY_LAST = 0x1, 0x2, 0x4, 0x8
# lbc_event.flags bits
LBC_CALL_READABLE, LBC_CALL_WRITABLE, LBC_CALL_HEADERS, LBC_CALL_DONE = 0x1, 0x2, 0x4, 0x8
LBC_WATCH_ENDPOINTS = 0x1  # lbc_watch_flag
LBC_SEND_END = 0x1  # lbc_call_send flags
LBC_END = 1  # lbc_call_recv's "no more messages" result

# typedef int (*lbc_lookup_fn)(const char *target, lbc_address_list *out, void *user_data);
lbc_lookup_fn = ctypes.CFUNCTYPE(c_int, c_char_p, lbc_address_list_p, c_void_p)
# typedef void (*lbc_log_fn)(int level, const char *message, void *user_data);
lbc_log_fn = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)

# A bytes object of n uninitialised bytes and the address of its contents (CPython's
# documented PyBytes_FromStringAndSize(NULL, n) / PyBytes_AsString): lbc_call_recv_into
# fills it before anyone else sees it, so a message reaches Python with one copy.
# (Prototypes of their own, not ctypes.pythonapi's shared functions, whose types others may set.)
new_bytes = ctypes.PYFUNCTYPE(ctypes.py_object, c_void_p, ctypes.c_ssize_t)(
    ("PyBytes_FromStringAndSize", ctypes.pythonapi))
bytes_address = ctypes.PYFUNCTYPE(c_void_p, ctypes.py_object)(("PyBytes_AsString", ctypes.pythonapi))


def _candidates() -> Iterator[Tuple[str, Optional[str]]]:
    """Yield ``(description, path_or_name)`` pairs in search order."""
    override = os.environ.get(ENV_VAR)
    if override:
        yield ("$%s" % ENV_VAR, override)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "liblbchannel.so*"))):
        yield ("next to the package", path)
    yield ('ctypes.util.find_library("lbchannel")', ctypes.util.find_library("lbchannel"))
    yield ("dynamic loader search path", "liblbchannel.so.1")


def _export(cdll: ctypes.CDLL, where: str, name: str) -> Any:
    """The function ``name`` of ``cdll``; ImportError if the library does not export it."""
    try:
        return getattr(cdll, name)
    except AttributeError:
        raise ImportError(
            "%s does not export %s(), which every lbchannel %d.x library does: not an "
            "lbchannel library" % (where, name, REQUIRED_VERSION_NUM >> 16)
        ) from None


def _check_version(cdll: ctypes.CDLL, where: str) -> None:
    """Raise ImportError unless the loaded library speaks our C API version."""
    fn = _export(cdll, where, "lbc_version_num")
    fn.argtypes = []
    fn.restype = c_int
    num: int = fn()
    major, minor = (num >> 16) & 0xFF, (num >> 8) & 0xFF
    want_major, want_minor = (REQUIRED_VERSION_NUM >> 16) & 0xFF, (REQUIRED_VERSION_NUM >> 8) & 0xFF
    # The ABI policy: the same major, and at least the minor we were written against.
    if major != want_major or minor < want_minor:
        raise ImportError(
            "%s is lbchannel version 0x%06x (%d.%d.%d); this binding needs a library "
            "compatible with 0x%06x (%d.%d.x)"
            % (where, num, major, minor, num & 0xFF, REQUIRED_VERSION_NUM, want_major, want_minor)
        )


def load() -> Tuple[ctypes.CDLL, str]:
    """Find, load and version-check ``liblbchannel``.

    Returns a ``(ctypes.CDLL, path)`` pair. Raises :class:`ImportError`
    listing every location tried (and why each failed) when no compatible
    library can be loaded.
    """
    tried: List[str] = []
    for how, path in _candidates():
        if path is None:
            tried.append("%s: not found" % how)
            continue
        try:
            cdll = ctypes.CDLL(path)
        except OSError as exc:
            tried.append("%s: %s (%s)" % (how, path, exc))
            continue
        _check_version(cdll, path)
        return cdll, path
    raise ImportError(
        "could not load liblbchannel; tried:\n  "
        + "\n  ".join(tried)
        + "\nSet %s to the path of liblbchannel.so, or install the library "
        "(make install) so the dynamic loader finds it." % ENV_VAR
    )


lib, library_path = load()


#: C type (spaces around ``*`` removed, ``const`` kept) → ctypes type. An ``lbc_X`` handle is
#: ``lbc_X_p``; ``const char *`` / ``const void *`` arguments take bytes; an owned ``char **``
#: result is ``void **`` so that the pointer can be handed back to ``lbc_free``.
_C_TYPES: Dict[str, Any] = {
    "void": None, "int": c_int, "unsigned": c_uint, "size_t": c_size_t, "int64_t": c_int64, "double": c_double,
    "lbc_lb_policy": c_int, "lbc_lookup_fn": lbc_lookup_fn, "lbc_log_fn": lbc_log_fn, "lbc_event*": POINTER(lbc_event),
    "char*": c_char_p, "const char*": c_char_p, "const void*": c_char_p, "void*": c_void_p,
    "char**": POINTER(c_void_p), "void**": POINTER(c_void_p), "const char**": POINTER(c_char_p),
    "const char*const*": POINTER(c_char_p), "const uint8_t*": POINTER(c_ubyte),
    "const uint8_t**": POINTER(POINTER(c_ubyte)), "int*": POINTER(c_int), "size_t*": POINTER(c_size_t),
}
_C_TYPES.update({const + name[:-2] + stars: ptr if stars == "*" else POINTER(ptr)
                 for name, ptr in list(globals().items()) if name.startswith("lbc_") and name.endswith("_p")
                 for const in ("", "const ") for stars in ("*", "**")})


def _ctype(decl: str) -> Any:
    return _C_TYPES[re.sub(r"\s*\*\s*", "*", decl.strip())]


def _bind(prototypes: str) -> None:
    """Bind each C prototype of ``prototypes`` (one a line; ``//`` starts a comment) to the
    module global of its name, with ``restype`` and ``argtypes`` from :data:`_C_TYPES`."""
    for line in prototypes.splitlines():
        line = line.split("//")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"(.+?)\s*\b(lbc_\w+)\((.*)\);", line)
        if m is None:
            raise ValueError("_native.py: not a C prototype: %r" % line)
        ret, name, params = m.groups()
        try:
            restype = _ctype(ret)
            # Each parameter without its name: "const char *key" -> "const char *".
            argtypes = [] if params == "void" else [_ctype(re.sub(r"\w+$", "", p)) for p in params.split(",")]
        except KeyError as exc:
            raise ValueError("_native.py: no ctypes type for C type %s in %r" % (exc, line)) from None
        fn = _export(lib, library_path, name)
        fn.restype, fn.argtypes = restype, argtypes
        globals()[name] = fn


if TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        """For mypy only, which cannot see the functions :func:`_bind` adds at import: it
        types them as ``Any``. Not defined at run time: CPython does not specialize
        attribute loads on a module with ``__getattr__``, and every call reads one."""
        ...


#: Every function declared in ``include/lbchannel.h``, its prototype copied from there one a
#: line (in the header's order, under its section titles), bound by :func:`_bind`.
_PROTOTYPES = """
// Version
const char *lbc_version(void);
int lbc_version_num(void);
// Errors (API misuse and local failures; not RPC outcomes)
const char *lbc_strerror(int code);
const char *lbc_last_errmsg(void);
void lbc_free(void *ptr);
// gRPC status codes (the outcome of an RPC)
const char *lbc_status_name(int status);
// Options
int lbc_options_new(lbc_options **out);
void lbc_options_free(lbc_options *opts);
int lbc_options_set(lbc_options *opts, const char *key, const char *value);
int lbc_options_set_lb_policy(lbc_options *opts, lbc_lb_policy policy);
int lbc_options_set_connect_timeout_ms(lbc_options *opts, int64_t ms);
int lbc_options_set_wait_for_ready(lbc_options *opts, int enabled);
int lbc_options_set_max_message_sizes(lbc_options *opts, int64_t max_send, int64_t max_receive);
int lbc_options_set_backoff(lbc_options *opts, int64_t initial_ms, double multiplier, double jitter, int64_t max_ms);
int lbc_options_set_authority(lbc_options *opts, const char *authority);
int lbc_options_set_keepalive(lbc_options *opts, int64_t time_ms, int64_t timeout_ms, int permit_without_calls);
int lbc_options_set_retry_policy(lbc_options *opts, int max_attempts, int64_t initial_backoff_ms, int64_t max_backoff_ms, double multiplier, double jitter);
int lbc_options_set_retry_throttle(lbc_options *opts, int max_tokens, double token_ratio);
int lbc_options_set_retry_buffer_bytes(lbc_options *opts, int64_t bytes);
int lbc_options_set_hedging(lbc_options *opts, int max_attempts, int64_t delay_ms);
// TLS
int lbc_options_set_tls(lbc_options *opts, int enabled);
int lbc_options_set_tls_roots(lbc_options *opts, const char *ca_file, const char *ca_dir, const char *ca_pem, size_t ca_pem_len);
int lbc_options_set_tls_client_cert_files(lbc_options *opts, const char *cert_file, const char *key_file);
int lbc_options_set_tls_client_cert_pem(lbc_options *opts, const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len);
int lbc_options_set_tls_server_name(lbc_options *opts, const char *name);
// Discovery hooks and logging
int lbc_address_list_add(lbc_address_list *list, const char *address);
int lbc_address_list_set_error(lbc_address_list *list, const char *message);
int lbc_options_set_lookup(lbc_options *opts, lbc_lookup_fn fn, void *user_data);
int lbc_options_set_log_callback(lbc_options *opts, lbc_log_fn fn, void *user_data);
int lbc_options_set_log_queue(lbc_options *opts, lbc_cq *cq, void *tag);
int lbc_options_set_lookup_queue(lbc_options *opts, lbc_cq *cq, void *tag);
// Metadata (gRPC request/response headers and trailers)
int lbc_metadata_new(lbc_metadata **out);
void lbc_metadata_free(lbc_metadata *md);
int lbc_metadata_add(lbc_metadata *md, const char *key, const void *value, size_t value_len);
size_t lbc_metadata_count(const lbc_metadata *md);
int lbc_metadata_get(const lbc_metadata *md, size_t index, const char **key, const uint8_t **value, size_t *value_len);
// Channel
int lbc_channel_open(const char *target, const lbc_options *opts, lbc_channel **out);
void lbc_channel_close(lbc_channel *ch);
const char *lbc_channel_errmsg(const lbc_channel *ch);
int lbc_channel_next_log(lbc_channel *ch, int *level, char **message);
int lbc_channel_answer_lookup(lbc_channel *ch, const char *const *addresses, size_t count, const char *error);
// (any thread; the binding uses lbc_last_errmsg: a Python thread stays on its OS thread)
int lbc_channel_errmsg_copy(const lbc_channel *ch, char *buf, size_t size);
int lbc_channel_set_endpoints(lbc_channel *ch, const char *const *addresses, size_t count);
int lbc_channel_stats_json(lbc_channel *ch, char **json_out);
int lbc_channel_reload_tls(lbc_channel *ch);
// Unary calls
int lbc_unary(lbc_channel *ch, const char *method, const void *request, size_t request_len, const lbc_metadata *metadata, int64_t timeout_ms, lbc_response **out);
void lbc_response_free(lbc_response *resp);
int lbc_response_status(const lbc_response *resp);
const char *lbc_response_message(const lbc_response *resp);
const uint8_t *lbc_response_data(const lbc_response *resp, size_t *len);
const lbc_metadata *lbc_response_headers(const lbc_response *resp);
const lbc_metadata *lbc_response_trailers(const lbc_response *resp);
const char *lbc_response_peer(const lbc_response *resp);
int lbc_response_attempts(const lbc_response *resp);
const char *lbc_response_attempt_peer(const lbc_response *resp, int index);
// Completion queues: asynchronous notification
int lbc_cq_new(lbc_cq **out);
void lbc_cq_free(lbc_cq *cq);
int lbc_cq_fd(const lbc_cq *cq);
int lbc_cq_poll(lbc_cq *cq, lbc_event *events, size_t event_size, int max, int64_t timeout_ms);
int lbc_unary_async(lbc_channel *ch, const char *method, const void *request, size_t request_len, const lbc_metadata *metadata, int64_t timeout_ms, lbc_cq *cq, void *tag, lbc_unary_call **out);
int lbc_unary_call_cancel(lbc_unary_call *call);
void lbc_unary_call_free(lbc_unary_call *call);
int lbc_unary_cancel(lbc_cq *cq, void *tag);
// Connectivity: the channel's state, without polling
int lbc_channel_connectivity(const lbc_channel *ch);
int lbc_channel_endpoint_connectivity(const lbc_channel *ch, const char *address);
int lbc_channel_watch_connectivity(lbc_channel *ch, lbc_cq *cq, void *tag, unsigned flags, lbc_connectivity_watch **out);
void lbc_connectivity_watch_free(lbc_connectivity_watch *watch);
// Streaming calls
int lbc_call_start(lbc_channel *ch, const char *method, const lbc_metadata *metadata, int64_t timeout_ms, lbc_cq *cq, void *tag, lbc_call **out);
int lbc_call_send(lbc_call *call, const void *message, size_t len, unsigned flags, int64_t timeout_ms);
int lbc_call_close_send(lbc_call *call);
int lbc_call_recv(lbc_call *call, int64_t timeout_ms, void **message, size_t *len);
int lbc_call_recv_into(lbc_call *call, int64_t timeout_ms, void *buf, size_t cap, size_t *len);
int lbc_call_headers(lbc_call *call, int64_t timeout_ms, const lbc_metadata **out);
int lbc_call_finish(lbc_call *call, int64_t timeout_ms, int *status, const char **message, const lbc_metadata **trailers);
int lbc_call_cancel(lbc_call *call);
int lbc_call_set_events(lbc_call *call, unsigned events);
const char *lbc_call_peer(const lbc_call *call);
int lbc_call_attempts(const lbc_call *call);
const char *lbc_call_attempt_peer(const lbc_call *call, int index);
void lbc_call_free(lbc_call *call);
"""
_bind(_PROTOTYPES)
