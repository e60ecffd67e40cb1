"""Loading of ``liblbchannel`` and the ctypes prototypes of its C API.

This module binds exactly the functions declared in ``include/lbchannel.h``:
one declaration per C function, its C prototype in a comment above it, and
explicit ``argtypes`` and ``restype`` on every one (ctypes' default ``int``
return type would truncate pointers on 64-bit platforms).

The library is loaded with :class:`ctypes.CDLL`, which releases the GIL for
the duration of every call, so a blocking ``lbc_unary`` on one Python thread
does not stop the others.

Search order (see :func:`load`):

1. the path in the environment variable ``LBCHANNEL_LIBRARY`` — when it is
   set, nothing else is tried, so a wrong override fails loudly instead of
   silently picking up another copy of the library;
2. a ``liblbchannel.so*`` file next to this package;
3. ``ctypes.util.find_library("lbchannel")``;
4. ``liblbchannel.so.1`` through the dynamic loader's search path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from ctypes import POINTER, Structure, c_char_p, c_double, c_int, c_int64, c_size_t, c_ubyte, c_void_p
from typing import Any, Iterator, List, Optional, Tuple

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
        ("flags", ctypes.c_uint),  # unsigned flags (LBC_CALL_* bits)
        ("response", lbc_response_p),  # lbc_response *response (owned by the receiver)
        # Appended for LBC_EVENT_CONNECTIVITY:
        ("state", c_int),  # int state (lbc_connectivity_state)
        ("old_state", c_int),  # int old_state
        ("address", c_void_p),  # char *address (endpoint events; owned by the receiver: lbc_free)
    ]


# lbc_event_kind
LBC_EVENT_UNARY = 1
LBC_EVENT_CALL = 2
LBC_EVENT_LOG = 3
LBC_EVENT_LOOKUP = 4
LBC_EVENT_CONNECTIVITY = 5
# lbc_connectivity_state names, indexed by value
CONNECTIVITY_NAMES = ("IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN")
# lbc_watch_flag
LBC_WATCH_ENDPOINTS = 0x1
# lbc_event.flags bits of LBC_EVENT_CONNECTIVITY
LBC_CONNECTIVITY_ENDPOINT = 0x1
LBC_CONNECTIVITY_ADDED = 0x2
LBC_CONNECTIVITY_REMOVED = 0x4
LBC_CONNECTIVITY_LAST = 0x8
# lbc_event.flags bits
LBC_CALL_READABLE = 0x1
LBC_CALL_WRITABLE = 0x2
LBC_CALL_HEADERS = 0x4
LBC_CALL_DONE = 0x8
# lbc_call_send flags
LBC_SEND_END = 0x1
# lbc_call_recv's "no more messages" result
LBC_END = 1

# typedef int (*lbc_lookup_fn)(const char *target, lbc_address_list *out, void *user_data);
lbc_lookup_fn = ctypes.CFUNCTYPE(c_int, c_char_p, lbc_address_list_p, c_void_p)
# typedef void (*lbc_log_fn)(int level, const char *message, void *user_data);
lbc_log_fn = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)
_c_ubyte_p = POINTER(c_ubyte)
_c_char_p_p = POINTER(c_char_p)


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


def _check_version(cdll: ctypes.CDLL, where: str) -> None:
    """Raise ImportError unless the loaded library speaks our C API version."""
    try:
        fn = cdll.lbc_version_num
    except AttributeError:
        raise ImportError(
            "%s does not export lbc_version_num(); not an lbchannel library" % where
        ) from None
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


def _fn(name: str, restype: Any, argtypes: List[Any]) -> Any:
    """Declare one C function: set its restype/argtypes and return it."""
    try:
        f = getattr(lib, name)
    except AttributeError:
        raise ImportError(
            "%s does not export %s(), which every lbchannel %d.x library does: not an "
            "lbchannel library" % (library_path, name, REQUIRED_VERSION_NUM >> 16)
        ) from None
    f.restype = restype
    f.argtypes = argtypes
    return f


# --- Version ----------------------------------------------------------------

# const char *lbc_version(void);
lbc_version = _fn("lbc_version", c_char_p, [])
# int lbc_version_num(void);
lbc_version_num = _fn("lbc_version_num", c_int, [])

# --- Errors -----------------------------------------------------------------

# const char *lbc_strerror(int code);
lbc_strerror = _fn("lbc_strerror", c_char_p, [c_int])
# const char *lbc_last_errmsg(void);
lbc_last_errmsg = _fn("lbc_last_errmsg", c_char_p, [])
# void lbc_free(void *ptr);
lbc_free = _fn("lbc_free", None, [c_void_p])

# --- Status codes -------------------------------------------------------------

# const char *lbc_status_name(int status);
lbc_status_name = _fn("lbc_status_name", c_char_p, [c_int])

# --- Options ------------------------------------------------------------------

# int lbc_options_new(lbc_options **out);
lbc_options_new = _fn("lbc_options_new", c_int, [POINTER(lbc_options_p)])
# void lbc_options_free(lbc_options *opts);
lbc_options_free = _fn("lbc_options_free", None, [lbc_options_p])
# int lbc_options_set(lbc_options *opts, const char *key, const char *value);
lbc_options_set = _fn("lbc_options_set", c_int, [lbc_options_p, c_char_p, c_char_p])
# int lbc_options_set_lb_policy(lbc_options *opts, lbc_lb_policy policy);
lbc_options_set_lb_policy = _fn("lbc_options_set_lb_policy", c_int, [lbc_options_p, c_int])
# int lbc_options_set_connect_timeout_ms(lbc_options *opts, int64_t ms);
lbc_options_set_connect_timeout_ms = _fn(
    "lbc_options_set_connect_timeout_ms", c_int, [lbc_options_p, c_int64]
)
# int lbc_options_set_wait_for_ready(lbc_options *opts, int enabled);
lbc_options_set_wait_for_ready = _fn("lbc_options_set_wait_for_ready", c_int, [lbc_options_p, c_int])
# int lbc_options_set_max_message_sizes(lbc_options *opts, int64_t max_send, int64_t max_receive);
lbc_options_set_max_message_sizes = _fn(
    "lbc_options_set_max_message_sizes", c_int, [lbc_options_p, c_int64, c_int64]
)
# int lbc_options_set_backoff(lbc_options *opts, int64_t initial_ms, double multiplier,
#                             double jitter, int64_t max_ms);
lbc_options_set_backoff = _fn(
    "lbc_options_set_backoff", c_int, [lbc_options_p, c_int64, c_double, c_double, c_int64]
)
# int lbc_options_set_authority(lbc_options *opts, const char *authority);
lbc_options_set_authority = _fn("lbc_options_set_authority", c_int, [lbc_options_p, c_char_p])
# int lbc_options_set_keepalive(lbc_options *opts, int64_t time_ms, int64_t timeout_ms,
#                               int permit_without_calls);
lbc_options_set_keepalive = _fn(
    "lbc_options_set_keepalive", c_int, [lbc_options_p, c_int64, c_int64, c_int]
)
# int lbc_options_set_retry_policy(lbc_options *opts, int max_attempts, int64_t initial_backoff_ms,
#                                  int64_t max_backoff_ms, double multiplier, double jitter);
lbc_options_set_retry_policy = _fn("lbc_options_set_retry_policy", c_int,
                                   [lbc_options_p, c_int, c_int64, c_int64, c_double, c_double])
# int lbc_options_set_retry_throttle(lbc_options *opts, int max_tokens, double token_ratio);
lbc_options_set_retry_throttle = _fn("lbc_options_set_retry_throttle", c_int, [lbc_options_p, c_int, c_double])
# int lbc_options_set_retry_buffer_bytes(lbc_options *opts, int64_t bytes);
lbc_options_set_retry_buffer_bytes = _fn("lbc_options_set_retry_buffer_bytes", c_int, [lbc_options_p, c_int64])
# int lbc_options_set_hedging(lbc_options *opts, int max_attempts, int64_t delay_ms);
lbc_options_set_hedging = _fn("lbc_options_set_hedging", c_int, [lbc_options_p, c_int, c_int64])

# --- TLS ------------------------------------------------------------------------

# int lbc_options_set_tls(lbc_options *opts, int enabled);
lbc_options_set_tls = _fn("lbc_options_set_tls", c_int, [lbc_options_p, c_int])
# int lbc_options_set_tls_roots(lbc_options *opts, const char *ca_file, const char *ca_dir,
#                               const char *ca_pem, size_t ca_pem_len);
lbc_options_set_tls_roots = _fn(
    "lbc_options_set_tls_roots", c_int, [lbc_options_p, c_char_p, c_char_p, c_char_p, c_size_t]
)
# int lbc_options_set_tls_client_cert_files(lbc_options *opts, const char *cert_file, const char *key_file);
lbc_options_set_tls_client_cert_files = _fn(
    "lbc_options_set_tls_client_cert_files", c_int, [lbc_options_p, c_char_p, c_char_p]
)
# int lbc_options_set_tls_client_cert_pem(lbc_options *opts, const char *cert_pem, size_t cert_len,
#                                         const char *key_pem, size_t key_len);
lbc_options_set_tls_client_cert_pem = _fn(
    "lbc_options_set_tls_client_cert_pem", c_int, [lbc_options_p, c_char_p, c_size_t, c_char_p, c_size_t]
)
# int lbc_options_set_tls_server_name(lbc_options *opts, const char *name);
lbc_options_set_tls_server_name = _fn("lbc_options_set_tls_server_name", c_int, [lbc_options_p, c_char_p])
# int lbc_channel_reload_tls(lbc_channel *ch);
lbc_channel_reload_tls = _fn("lbc_channel_reload_tls", c_int, [lbc_channel_p])

# --- Discovery hooks and logging ------------------------------------------------

# int lbc_address_list_add(lbc_address_list *list, const char *address);
lbc_address_list_add = _fn("lbc_address_list_add", c_int, [lbc_address_list_p, c_char_p])
# int lbc_address_list_set_error(lbc_address_list *list, const char *message);
lbc_address_list_set_error = _fn("lbc_address_list_set_error", c_int, [lbc_address_list_p, c_char_p])
# int lbc_options_set_lookup(lbc_options *opts, lbc_lookup_fn fn, void *user_data);
lbc_options_set_lookup = _fn("lbc_options_set_lookup", c_int, [lbc_options_p, lbc_lookup_fn, c_void_p])
# int lbc_options_set_log_callback(lbc_options *opts, lbc_log_fn fn, void *user_data);
lbc_options_set_log_callback = _fn(
    "lbc_options_set_log_callback", c_int, [lbc_options_p, lbc_log_fn, c_void_p]
)

# --- Metadata -----------------------------------------------------------------

# int lbc_metadata_new(lbc_metadata **out);
lbc_metadata_new = _fn("lbc_metadata_new", c_int, [POINTER(lbc_metadata_p)])
# void lbc_metadata_free(lbc_metadata *md);
lbc_metadata_free = _fn("lbc_metadata_free", None, [lbc_metadata_p])
# int lbc_metadata_add(lbc_metadata *md, const char *key, const void *value, size_t value_len);
lbc_metadata_add = _fn("lbc_metadata_add", c_int, [lbc_metadata_p, c_char_p, c_char_p, c_size_t])
# size_t lbc_metadata_count(const lbc_metadata *md);
lbc_metadata_count = _fn("lbc_metadata_count", c_size_t, [lbc_metadata_p])
# int lbc_metadata_get(const lbc_metadata *md, size_t index, const char **key,
#                      const uint8_t **value, size_t *value_len);
lbc_metadata_get = _fn(
    "lbc_metadata_get",
    c_int,
    [lbc_metadata_p, c_size_t, _c_char_p_p, POINTER(_c_ubyte_p), POINTER(c_size_t)],
)

# --- Channel ------------------------------------------------------------------

# int lbc_channel_open(const char *target, const lbc_options *opts, lbc_channel **out);
lbc_channel_open = _fn("lbc_channel_open", c_int, [c_char_p, lbc_options_p, POINTER(lbc_channel_p)])
# void lbc_channel_close(lbc_channel *ch);
lbc_channel_close = _fn("lbc_channel_close", None, [lbc_channel_p])
# const char *lbc_channel_errmsg(const lbc_channel *ch);
lbc_channel_errmsg = _fn("lbc_channel_errmsg", c_char_p, [lbc_channel_p])
# int lbc_options_set_log_queue(lbc_options *opts, lbc_cq *cq, void *tag);
lbc_options_set_log_queue = _fn("lbc_options_set_log_queue", c_int, [lbc_options_p, lbc_cq_p, c_void_p])
# int lbc_channel_next_log(lbc_channel *ch, int *level, char **message);
lbc_channel_next_log = _fn(
    "lbc_channel_next_log", c_int, [lbc_channel_p, POINTER(c_int), POINTER(c_void_p)])
# int lbc_options_set_lookup_queue(lbc_options *opts, lbc_cq *cq, void *tag);
lbc_options_set_lookup_queue = _fn(
    "lbc_options_set_lookup_queue", c_int, [lbc_options_p, lbc_cq_p, c_void_p])
# int lbc_channel_answer_lookup(lbc_channel *ch, const char *const *addresses, size_t count, const char *error);
lbc_channel_answer_lookup = _fn(
    "lbc_channel_answer_lookup", c_int, [lbc_channel_p, POINTER(c_char_p), c_size_t, c_char_p])
# int lbc_channel_errmsg_copy(const lbc_channel *ch, char *buf, size_t size);
# (the channel's last failure from any thread; Python threads stay on their OS thread,
# so the binding itself uses lbc_last_errmsg.)
lbc_channel_errmsg_copy = _fn(
    "lbc_channel_errmsg_copy", c_int, [lbc_channel_p, ctypes.c_char_p, c_size_t])
# int lbc_channel_set_endpoints(lbc_channel *ch, const char *const *addresses, size_t count);
lbc_channel_set_endpoints = _fn(
    "lbc_channel_set_endpoints", c_int, [lbc_channel_p, POINTER(c_char_p), c_size_t]
)
# int lbc_channel_stats_json(lbc_channel *ch, char **json_out);
# (json_out is declared as void** so the pointer can be handed back to lbc_free.)
lbc_channel_stats_json = _fn("lbc_channel_stats_json", c_int, [lbc_channel_p, POINTER(c_void_p)])

# --- Unary calls --------------------------------------------------------------

# int lbc_unary(lbc_channel *ch, const char *method, const void *request, size_t request_len,
#               const lbc_metadata *metadata, int64_t timeout_ms, lbc_response **out);
lbc_unary = _fn(
    "lbc_unary",
    c_int,
    [lbc_channel_p, c_char_p, c_char_p, c_size_t, lbc_metadata_p, c_int64, POINTER(lbc_response_p)],
)
# void lbc_response_free(lbc_response *resp);
lbc_response_free = _fn("lbc_response_free", None, [lbc_response_p])
# int lbc_response_status(const lbc_response *resp);
lbc_response_status = _fn("lbc_response_status", c_int, [lbc_response_p])
# const char *lbc_response_message(const lbc_response *resp);
lbc_response_message = _fn("lbc_response_message", c_char_p, [lbc_response_p])
# const uint8_t *lbc_response_data(const lbc_response *resp, size_t *len);
lbc_response_data = _fn("lbc_response_data", _c_ubyte_p, [lbc_response_p, POINTER(c_size_t)])
# const lbc_metadata *lbc_response_headers(const lbc_response *resp);
lbc_response_headers = _fn("lbc_response_headers", lbc_metadata_p, [lbc_response_p])
# const lbc_metadata *lbc_response_trailers(const lbc_response *resp);
lbc_response_trailers = _fn("lbc_response_trailers", lbc_metadata_p, [lbc_response_p])
# const char *lbc_response_peer(const lbc_response *resp);
lbc_response_peer = _fn("lbc_response_peer", c_char_p, [lbc_response_p])
# int lbc_response_attempts(const lbc_response *resp);
lbc_response_attempts = _fn("lbc_response_attempts", c_int, [lbc_response_p])
# const char *lbc_response_attempt_peer(const lbc_response *resp, int index);
lbc_response_attempt_peer = _fn("lbc_response_attempt_peer", c_char_p, [lbc_response_p, c_int])

# --- Completion queues ----------------------------------------------------------

# int lbc_cq_new(lbc_cq **out);
lbc_cq_new = _fn("lbc_cq_new", c_int, [POINTER(lbc_cq_p)])
# void lbc_cq_free(lbc_cq *cq);
lbc_cq_free = _fn("lbc_cq_free", None, [lbc_cq_p])
# int lbc_cq_fd(const lbc_cq *cq);
lbc_cq_fd = _fn("lbc_cq_fd", c_int, [lbc_cq_p])
# int lbc_cq_poll(lbc_cq *cq, lbc_event *events, size_t event_size, int max, int64_t timeout_ms);
lbc_cq_poll = _fn("lbc_cq_poll", c_int, [lbc_cq_p, POINTER(lbc_event), c_size_t, c_int, c_int64])
#: The ``event_size`` argument of every ``lbc_cq_poll`` call.
LBC_EVENT_SIZE = ctypes.sizeof(lbc_event)
# int lbc_channel_connectivity(const lbc_channel *ch);
lbc_channel_connectivity = _fn("lbc_channel_connectivity", c_int, [lbc_channel_p])
# int lbc_channel_endpoint_connectivity(const lbc_channel *ch, const char *address);
lbc_channel_endpoint_connectivity = _fn(
    "lbc_channel_endpoint_connectivity", c_int, [lbc_channel_p, c_char_p])
# int lbc_channel_watch_connectivity(lbc_channel *ch, lbc_cq *cq, void *tag, unsigned flags,
#                                    lbc_connectivity_watch **out);
lbc_channel_watch_connectivity = _fn(
    "lbc_channel_watch_connectivity",
    c_int,
    [lbc_channel_p, lbc_cq_p, c_void_p, ctypes.c_uint, POINTER(lbc_connectivity_watch_p)]
)
# void lbc_connectivity_watch_free(lbc_connectivity_watch *watch);
lbc_connectivity_watch_free = _fn(
    "lbc_connectivity_watch_free", None, [lbc_connectivity_watch_p])
# int lbc_unary_async(lbc_channel *ch, const char *method, const void *request, size_t request_len,
#                     const lbc_metadata *metadata, int64_t timeout_ms, lbc_cq *cq, void *tag,
#                     lbc_unary_call **out);
lbc_unary_async = _fn(
    "lbc_unary_async",
    c_int,
    [lbc_channel_p, c_char_p, c_char_p, c_size_t, lbc_metadata_p, c_int64, lbc_cq_p, c_void_p,
     POINTER(lbc_unary_call_p)]
)
# int lbc_unary_call_cancel(lbc_unary_call *call);
lbc_unary_call_cancel = _fn("lbc_unary_call_cancel", c_int, [lbc_unary_call_p])
# void lbc_unary_call_free(lbc_unary_call *call);
lbc_unary_call_free = _fn("lbc_unary_call_free", None, [lbc_unary_call_p])

# int lbc_unary_cancel(lbc_cq *cq, void *tag);
lbc_unary_cancel = _fn("lbc_unary_cancel", c_int, [lbc_cq_p, c_void_p])

# --- Streaming calls ------------------------------------------------------------

# int lbc_call_start(lbc_channel *ch, const char *method, const lbc_metadata *metadata,
#                    int64_t timeout_ms, lbc_cq *cq, void *tag, lbc_call **out);
lbc_call_start = _fn(
    "lbc_call_start",
    c_int,
    [lbc_channel_p, c_char_p, lbc_metadata_p, c_int64, lbc_cq_p, c_void_p, POINTER(lbc_call_p)]
)
# int lbc_call_send(lbc_call *call, const void *message, size_t len, unsigned flags, int64_t timeout_ms);
lbc_call_send = _fn(
    "lbc_call_send", c_int, [lbc_call_p, c_char_p, c_size_t, ctypes.c_uint, c_int64])
# int lbc_call_close_send(lbc_call *call);
lbc_call_close_send = _fn("lbc_call_close_send", c_int, [lbc_call_p])
# int lbc_call_recv(lbc_call *call, int64_t timeout_ms, void **message, size_t *len);
# (message is declared as void** so the buffer can be handed back to lbc_free.)
lbc_call_recv = _fn(
    "lbc_call_recv", c_int, [lbc_call_p, c_int64, POINTER(c_void_p), POINTER(c_size_t)])
# int lbc_call_recv_into(lbc_call *call, int64_t timeout_ms, void *buf, size_t cap, size_t *len);
lbc_call_recv_into = _fn("lbc_call_recv_into", c_int, [lbc_call_p, c_int64, c_void_p, c_size_t, POINTER(c_size_t)])

# A bytes object of n uninitialised bytes and the address of its contents (CPython's
# documented PyBytes_FromStringAndSize(NULL, n) / PyBytes_AsString): lbc_call_recv_into
# fills it before anyone else sees it, so a message reaches Python with one copy.
new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
new_bytes.restype = ctypes.py_object
new_bytes.argtypes = [c_void_p, ctypes.c_ssize_t]
bytes_address = ctypes.pythonapi.PyBytes_AsString
bytes_address.restype = c_void_p
bytes_address.argtypes = [ctypes.py_object]
# int lbc_call_headers(lbc_call *call, int64_t timeout_ms, const lbc_metadata **out);
lbc_call_headers = _fn(
    "lbc_call_headers", c_int, [lbc_call_p, c_int64, POINTER(lbc_metadata_p)])
# int lbc_call_finish(lbc_call *call, int64_t timeout_ms, int *status, const char **message,
#                     const lbc_metadata **trailers);
lbc_call_finish = _fn(
    "lbc_call_finish",
    c_int,
    [lbc_call_p, c_int64, POINTER(c_int), _c_char_p_p, POINTER(lbc_metadata_p)]
)
# int lbc_call_cancel(lbc_call *call);
lbc_call_cancel = _fn("lbc_call_cancel", c_int, [lbc_call_p])
# int lbc_call_set_events(lbc_call *call, unsigned events);
lbc_call_set_events = _fn("lbc_call_set_events", c_int, [lbc_call_p, ctypes.c_uint])
# const char *lbc_call_peer(lbc_call *call);
lbc_call_peer = _fn("lbc_call_peer", c_char_p, [lbc_call_p])
# int lbc_call_attempts(const lbc_call *call);
lbc_call_attempts = _fn("lbc_call_attempts", c_int, [lbc_call_p])
# const char *lbc_call_attempt_peer(const lbc_call *call, int index);
lbc_call_attempt_peer = _fn("lbc_call_attempt_peer", c_char_p, [lbc_call_p, c_int])
# void lbc_call_free(lbc_call *call);
lbc_call_free = _fn("lbc_call_free", None, [lbc_call_p])
