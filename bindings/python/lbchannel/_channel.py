"""The :class:`Channel`: a load-balanced gRPC channel owning an ``lbc_channel*``."""

import ctypes
import json
import threading
from typing import Any, Callable

from . import _callbacks, _metadata, _native, _service_config
from ._call import EventPump, NativeCall, call_from_response, timeout_ms as _timeout_ms
from . import _errors
from ._errors import ClosedError, ErrorCode, _check
from ._grpc_interface import UnaryUnaryMultiCallable
from ._streaming import (
    StreamingCall,
    StreamStreamMultiCallable,
    StreamUnaryMultiCallable,
    UnaryStreamMultiCallable,
    request_bytes,
    start_consumer,
)
from ._status import Call, ChannelBase as _ChannelBase, RpcError

__all__ = ["Channel"]



def _text(value, what):
    """str/bytes/None → bytes/None for a ``const char *`` argument."""
    if value is None:
        return None  # NULL: the library reports LBC_ERR_INVALID_ARGUMENT
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))
    if b"\0" in data:
        # C would see the text cut short at the NUL: refuse it rather than send less.
        raise ValueError("%s contains a NUL character: %r" % (what, value))
    return data


def _option_text(value):
    """The text form of an option value, as lbc_options_set() wants it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return _text(value if isinstance(value, bytes) else str(value), "option value")


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw else ""


class Channel(_ChannelBase):
    """A client-side load-balanced gRPC channel.

    One HTTP/2 connection per endpoint of ``target``; every RPC goes to an
    endpoint picked by the channel's ``lb_policy``. Thread-safe: share one
    channel between threads (blocking calls release the GIL).

    Args:
        target: ``"ipv4:ADDR:PORT[,ADDR:PORT...]"``, ``"ipv6:[ADDR]:PORT[,...]"``,
            ``"unix:PATH"``, ``"dns:///HOST:PORT"`` (or ``"HOST:PORT"``),
            ``"dns://DNS_IP:DNS_PORT/HOST:PORT"``, ``"manual:"`` (endpoints
            only from :meth:`set_endpoints`), or any text with ``lookup``
            (see ``include/lbchannel.h``).
        lookup: optional ``lookup(target) -> iterable of addresses``
            (``"10.0.0.1:50051"``, ``"[::1]:50051"``, ``"unix:/path"``) used
            instead of DNS, called on the library's discovery schedule from a
            library thread; raise to report a failed lookup.
        log_callback: optional ``log(level: LogLevel, message: str)``
            receiving the channel's log lines (from the thread running its I/O
            work, never two at once), or ``True``
            to forward them to the ``logging`` logger ``"lbchannel"``.
        **options: channel options, each passed to ``lbc_options_set(key,
            str(value))`` (bools as ``"true"``/``"false"``): ``lb_policy``,
            ``connect_timeout_ms``, ``wait_for_ready``,
            ``max_send_message_size``, ``max_receive_message_size``,
            ``backoff_initial_ms``, ``backoff_multiplier``,
            ``backoff_jitter``, ``backoff_max_ms``, ``authority``,
            ``user_agent``, ``stream_window_bytes``, ``stream_send_buffer_bytes``,
            and for discovery ``discovery_interval_ms``,
            ``min_reresolution_interval_ms``, ``dns_use_ttl``,
            ``dns_ttl_floor_ms``, ``dns_srv``, ``dns_timeout_ms``,
            ``empty_answer``, ``resolution``, ``eager_timeout_ms``; for TLS
            ``tls``, ``tls_ca_file``, ``tls_ca_dir``, ``tls_ca_pem``,
            ``tls_cert_file``, ``tls_key_file``, ``tls_cert_pem``,
            ``tls_key_pem``, ``tls_server_name``, ``tls_min_version``,
            ``tls_session_resumption`` (PEM values may be bytes; see also
            :func:`lbchannel.secure_channel`);
            for balancing ``lb_policy`` is ``"least_request"`` (default),
            ``"round_robin"``, ``"pick_first"``, ``"peak_ewma"`` or
            ``"weighted_round_robin"`` (weights as ``"ADDRESS;weight=N"`` in
            :meth:`set_endpoints` and lookup answers, or SRV weights), with
            ``least_request_choice_count``, ``peak_ewma_decay_ms``, and
            outlier ejection ``outlier_consecutive_failures`` (0 = off),
            ``outlier_base_ejection_ms``, ``outlier_max_ejection_ms``,
            ``outlier_max_ejection_percent``, ``outlier_status_codes``
            (e.g. ``"UNAVAILABLE,13"``), ``outlier_failure_percentage`` (0 = off),
            ``outlier_interval_ms``, ``outlier_request_volume``, slow start ``slow_start_window_ms``
            (0 = off) with ``slow_start_min_weight_percent``, and subsetting ``subset_size``
            (0 = all endpoints) with ``subset_client_id``; keepalive PINGs
            (gRFC A8) ``keepalive_time_ms`` (0 = off, the default),
            ``keepalive_timeout_ms`` (default 20000) and
            ``keepalive_permit_without_calls``: a server that leaves a PING
            unanswered that long is declared dead (its calls end UNAVAILABLE, the
            endpoint reconnects with backoff); after a GOAWAY "too_many_pings"
            the channel doubles its keepalive time (see :meth:`stats`);
            retries and hedging
            (gRFC A6, off by default) ``retry_max_attempts``,
            ``retry_initial_backoff_ms``, ``retry_max_backoff_ms``,
            ``retry_backoff_multiplier``, ``retry_jitter``,
            ``retry_status_codes`` (e.g. ``"UNAVAILABLE,RESOURCE_EXHAUSTED"``),
            ``retry_throttle_max_tokens``, ``retry_throttle_token_ratio``,
            ``retry_buffer_bytes``, ``hedging_max_attempts``,
            ``hedging_delay_ms``, ``hedging_non_fatal_codes``, and
            ``service_config`` — a gRPC service config as JSON text or a dict;
            grpcio's ``grpc.service_config`` is accepted too, its
            ``healthCheckConfig.serviceName`` becomes ``health_check_service``
            (see :mod:`lbchannel._service_config`). A call's
            ``attempts`` / ``attempt_peers()`` tell where its attempts went;
            health checking
            ``health_check_service`` (a grpc.health.v1 service name; any
            string, ``""`` included, turns it on; only SERVING endpoints
            are picked; see :meth:`stats` ``health``).

    Raises:
        lbchannel.InvalidTargetError, lbchannel.UnsupportedError,
        lbchannel.UnknownOptionError, lbchannel.InvalidArgumentError, ...

    Example::

        with lbchannel.Channel("ipv4:127.0.0.2:50051,127.0.0.3:50051",
                               lb_policy="round_robin") as ch:
            reply = ch.unary("/pkg.Service/Method", b"request", timeout=2.0)

    The channel also implements ``grpc.Channel`` (unary and streaming
    methods), so grpcio-generated stubs work on it unchanged.

    After ``os.fork()`` (multiprocessing's "fork" start method), the child may
    open and use its own channels; a channel opened in the parent raises
    :class:`lbchannel.ForkedError` there, and closing it in the child only
    forgets it (the parent's channel is unaffected).
    """

    def __init__(self, target, lookup=None, log_callback=None, **options):
        self._handle = None
        self._lock = threading.Lock()
        self._pump: "EventPump | None" = None
        self._target = target
        # The C library may call these until lbc_channel_close() returns:
        # the channel keeps them (and their CFUNCTYPE objects) alive.
        self._lookup = _callbacks.LookupHook(lookup) if lookup is not None else None
        self._log = _callbacks.LogHook(log_callback) if log_callback not in (None, False) else None
        options = _service_config.expand(options)
        opts = _native.lbc_options_p()
        _check(_native.lbc_options_new(ctypes.byref(opts)), "lbc_options_new")
        try:
            for key, value in options.items():
                _check(
                    _native.lbc_options_set(opts, _text(key, "option key"), _option_text(value)),
                    "lbc_options_set(%s)" % key,
                )
            if self._lookup is not None:
                _check(
                    _native.lbc_options_set_lookup(opts, self._lookup.cfunc, None),
                    "lbc_options_set_lookup",
                )
            if self._log is not None:
                _check(
                    _native.lbc_options_set_log_callback(opts, self._log.cfunc, None),
                    "lbc_options_set_log_callback",
                )
            handle = _native.lbc_channel_p()
            _check(
                _native.lbc_channel_open(_text(target, "target"), opts, ctypes.byref(handle)),
                "lbc_channel_open",
            )
        finally:
            _native.lbc_options_free(opts)
        self._handle = handle

    # -- lifetime -----------------------------------------------------------

    @property
    def target(self):
        """The target the channel was opened with."""
        return self._target

    @property
    def closed(self):
        """True once :meth:`close` has been called."""
        return self._handle is None

    def _live_handle(self):
        handle = self._handle
        if handle is None:
            raise ClosedError(ErrorCode.CLOSED, "the channel is closed")
        return handle

    def close(self):
        """Close the channel. Idempotent; safe from any thread.

        RPCs still in flight on other threads end with ``CANCELLED``; every
        later use of this object raises :class:`lbchannel.ClosedError`. Waits
        for a running lookup callback to return. Raises RuntimeError when
        called from inside a lookup or log callback (the C API forbids it).
        """
        if _callbacks.in_callback(self._lookup, self._log):
            raise RuntimeError("a channel cannot be closed from inside its lookup or log callback")
        with self._lock:
            handle, self._handle = self._handle, None
            pump, self._pump = self._pump, None
        if handle is not None:
            _native.lbc_channel_close(handle)  # ends the pump's watch: its thread wakes and ends
        if pump is not None:
            pump.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __del__(self):
        # Fallback for channels nobody closed. During interpreter shutdown the
        # module globals may already be gone; never raise from __del__.
        try:
            handle = self.__dict__.get("_handle")
            if handle is None:
                return
            self._handle = None
            pump = self.__dict__.get("_pump")
            hooks = (self.__dict__.get("_lookup"), self.__dict__.get("_log"))
            if _callbacks.in_callback(*hooks):
                # Collected inside its own callback: closing here would wait
                # for ourselves. Close from another thread, keeping the
                # callbacks alive until lbc_channel_close() returns.
                threading.Thread(
                    target=lambda h=handle, keep=hooks: _native.lbc_channel_close(h),
                    name="lbchannel-close",
                    daemon=True,
                ).start()
            else:
                _native.lbc_channel_close(handle)
            if pump is not None:
                pump.close()
        except Exception:
            pass

    def __repr__(self):
        return "<lbchannel.Channel %r%s>" % (self._target, " closed" if self.closed else "")

    # -- calls ----------------------------------------------------------------

    def _invoke(self, method: str, request: Any, timeout: "float | None", metadata: Any) -> Call:
        """Run one unary RPC; return the finished :class:`Call` (any status)."""
        handle = self._live_handle()
        method_b = _text(method, "method")
        payload = request_bytes(request)
        timeout_ms = _timeout_ms(timeout)
        md = _metadata.build(metadata)
        resp = _native.lbc_response_p()
        try:
            rc = _native.lbc_unary(handle, method_b, payload, len(payload), md, timeout_ms, ctypes.byref(resp))
            _check(rc, "lbc_unary")
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)
        return call_from_response(resp)

    def _start_unary(self, method: str, request: Any, timeout: "float | None", metadata: Any,
                     target: Any) -> Any:
        """Start an ``lbc_unary_async`` call whose result the event thread hands to
        ``target.complete(resp)``; return its ``lbc_unary_call*``."""
        handle = self._live_handle()
        method_b = _text(method, "method")
        payload = request_bytes(request)
        timeout_ms = _timeout_ms(timeout)
        queue = self._get_pump().queue
        md = _metadata.build(metadata)
        call = _native.lbc_unary_call_p()
        tag = queue.register(target)
        try:
            rc = _native.lbc_unary_async(handle, method_b, payload, len(payload), md, timeout_ms,
                                         queue.handle, ctypes.c_void_p(tag), ctypes.byref(call))
            if rc != 0:
                queue.unregister(tag)
                _check(rc, "lbc_unary_async")
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)
        return call

    def unary_with_call(self, method, request, timeout=None, metadata=None):
        """Run a unary RPC; return ``(response_bytes, call)``.

        ``call`` is an :class:`lbchannel.Call` with ``code()``, ``details()``,
        ``initial_metadata()``, ``trailing_metadata()``, ``peer()``, and
        ``attempts`` / ``attempt_peers()`` (retries and hedged copies).
        Arguments and errors as for :meth:`unary`.
        """
        call = self._invoke(method, request, timeout, metadata)
        if call._status != 0:
            raise RpcError.from_call(call)
        return call._response, call

    # -- streaming calls ------------------------------------------------------------

    def _get_pump(self) -> EventPump:
        with self._lock:
            if self._handle is None:
                raise ClosedError(ErrorCode.CLOSED, "the channel is closed")
            if self._pump is None:
                self._pump = EventPump(self._handle)
            return self._pump

    def _start_native_call(self, method, metadata, timeout):
        """Start an ``lbc_call`` bound to this channel's event thread; return its NativeCall."""
        handle = self._live_handle()
        method_b = _text(method, "method")
        timeout_ms = _timeout_ms(timeout)
        pump = self._get_pump()
        md = _metadata.build(metadata)
        native = NativeCall(timeout)
        pump.queue.register(native)
        try:
            native.start(handle, method_b, md, timeout_ms, pump.queue.handle)
            # The pump only needs LBC_CALL_DONE: not woken for every message.
            _native.lbc_call_set_events(native._handle, 0)
        except BaseException:
            pump.queue.unregister(native)
            raise
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)
        return native

    def stream(self, method, metadata=None, timeout=None):
        """Start a streaming call (any shape) on raw bytes; return a :class:`lbchannel.StreamingCall`.

        The call stays on the endpoint picked when it starts. ``timeout`` is
        the deadline of the whole call in seconds. Use it as a context
        manager::

            with channel.stream("/pkg.Svc/Chat", timeout=10) as call:
                call.send(b"hello")
                call.close_send()
                for message in call:   # raises lbchannel.RpcError if the call fails
                    print(message)
            print(call.code(), call.trailing_metadata())

        Raises lbchannel.ClosedError, InvalidArgumentError,
        InvalidMetadataError. An RPC failure (no endpoint, UNIMPLEMENTED, ...)
        is the call's status, not an exception here.
        """
        return StreamingCall(self._start_native_call(method, metadata, timeout), method)

    def server_stream(self, method, request, timeout=None, metadata=None):
        """Server streaming on raw bytes: send ``request``, return a
        :class:`StreamingCall` to iterate for the responses (bytes)."""
        data = request_bytes(request)
        call = self.stream(method, metadata, timeout)
        try:
            call._native.send_blocking(data, end=True)
        except Exception as exc:  # the call already ended: iteration reports its status
            if not isinstance(exc, (_errors.CallFinishedError, _errors.SendClosedError)):
                call.close()
                raise
        return call

    def client_stream(self, method, requests, timeout=None, metadata=None):
        """Client streaming on raw bytes: send every message of the iterable
        ``requests`` (consumed on a helper thread, with back-pressure) and
        return the response bytes. Raises lbchannel.RpcError on failure."""
        return self.client_stream_with_call(method, requests, timeout, metadata)[0]

    def client_stream_with_call(self, method, requests, timeout=None, metadata=None):
        """As :meth:`client_stream`; return ``(response_bytes, call)``."""
        mc = StreamUnaryMultiCallable(self, method, None, None)
        return mc.with_call(iter(requests), timeout=timeout, metadata=metadata)

    def bidi_stream(self, method, requests, timeout=None, metadata=None):
        """Bidirectional streaming on raw bytes: ``requests`` (an iterable of
        bytes) is consumed on a helper thread; return a :class:`StreamingCall`
        to iterate for the responses."""
        call = self.stream(method, metadata, timeout)
        start_consumer(call._native, iter(requests), None)
        return call

    def unary(self, method, request, timeout=None, metadata=None):
        """Run a unary RPC and return the response message bytes.

        Args:
            method: ``"/package.Service/Method"``.
            request: the serialized request (bytes-like; ``b""`` is fine).
            timeout: deadline in seconds from now (float); ``None`` for none.
            metadata: a sequence of ``(key, value)`` pairs; values are str,
                or bytes (required for keys ending in ``-bin``).

        Raises:
            lbchannel.RpcError: the RPC ended with a status other than OK
                (``e.code()``, ``e.details()``, ``e.trailing_metadata()``).
            lbchannel.ClosedError: the channel is closed.
            lbchannel.Error: bad arguments (``InvalidArgumentError``,
                ``InvalidMetadataError``, ``MessageTooLargeError``, ...).
        """
        return self.unary_with_call(method, request, timeout, metadata)[0]

    # -- discovery ------------------------------------------------------------------

    def set_endpoints(self, addresses):
        """Replace the endpoint set (push discovery; ``lbc_channel_set_endpoints``).

        ``addresses``: an iterable of ``"10.0.0.1:50051"``, ``"[::1]:50051"``
        or ``"unix:/path"`` texts, each optionally with ``";weight=N"`` for
        ``weighted_round_robin``; all are validated first and nothing changes
        on error (:class:`lbchannel.InvalidArgumentError`). An empty iterable
        empties the set. New endpoints start connecting; removed ones finish
        their RPCs and close. With DNS or a lookup the next resolution
        replaces a pushed set: open the channel with ``"manual:"`` for
        push-only discovery.
        """
        handle = self._live_handle()
        if isinstance(addresses, (str, bytes)):
            raise TypeError("set_endpoints wants an iterable of addresses, not a single string")
        encoded = [_text(a, "address") for a in addresses]
        array = (ctypes.c_char_p * max(1, len(encoded)))(*encoded)
        _check(_native.lbc_channel_set_endpoints(handle, array, len(encoded)), "lbc_channel_set_endpoints")

    @property
    def lookup_error(self):
        """The exception the most recent lookup callback raised (None after a success or without lookup)."""
        return self._lookup.last_error if self._lookup is not None else None

    # -- introspection ----------------------------------------------------------

    def stats(self):
        """A snapshot of the channel as a dict (``lbc_channel_stats_json``).

        Keys include ``target``, ``policy``, ``endpoints`` (a list of dicts
        with ``address``, ``state`` — IDLE, CONNECTING, READY,
        TRANSIENT_FAILURE — ``in_flight``, ``calls_started``,
        ``calls_failed``, ``connect_failures``, the balancer's ``cost``,
        ``pickable``, ``free_streams``, ``ejected``, ``ejections``, ``health``
        — None when health checking is off, else PENDING, SERVING,
        NOT_SERVING, FAILED or UNIMPLEMENTED — ...),
        ``waiting_calls``, ``ejected_endpoints``, ``keepalive`` (None when
        keepalive is off; ``time_ms`` doubles after a too_many_pings GOAWAY; each
        endpoint has its own ``keepalive`` counters: ``pings_sent``,
        ``pings_acked``, ``last_rtt_us``, ``dead_connections``, ...) and ``discovery``; see
        ``lbc_channel_stats_json`` in ``include/lbchannel.h``.
        """
        handle = self._live_handle()
        out = ctypes.c_void_p()
        _check(_native.lbc_channel_stats_json(handle, ctypes.byref(out)), "lbc_channel_stats_json")
        try:
            text = ctypes.string_at(out.value).decode("utf-8") if out.value else "{}"
        finally:
            _native.lbc_free(out)
        return json.loads(text)

    def reload_tls(self) -> None:
        """Re-read the channel's TLS files (``tls_ca_file``, ``tls_cert_file``,
        ``tls_key_file``, ...) for new connections (``lbc_channel_reload_tls``);
        existing connections keep working with the old ones.

        Raises:
            lbchannel.InvalidArgumentError: a file cannot be used (nothing changes)
                or the channel is plaintext.
            lbchannel.ClosedError: the channel is closed.
        """
        handle = self._live_handle()
        _check(_native.lbc_channel_reload_tls(handle), "lbc_channel_reload_tls")

    def endpoints(self):
        """The per-endpoint list of :meth:`stats` (``stats()["endpoints"]``)."""
        return self.stats().get("endpoints", [])

    # -- grpc.Channel interface ----------------------------------------------------

    def unary_unary(
        self,
        method,
        request_serializer=None,
        response_deserializer=None,
        _registered_method=False,
        **kwargs,
    ):
        """``grpc.Channel.unary_unary``: a multi-callable for a unary method.

        ``request_serializer``/``response_deserializer`` default to bytes in,
        bytes out. The result supports ``__call__``, ``with_call`` and
        ``future`` with grpcio's signatures.
        """
        return UnaryUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        """``grpc.Channel.unary_stream``: a server-streaming multi-callable.

        Calling it returns an iterator of responses that is also a
        ``grpc.Call`` and ``grpc.Future`` (like grpcio's rendezvous).
        """
        return UnaryStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None,
                     _registered_method=False, **kwargs):
        """``grpc.Channel.stream_unary``: a client-streaming multi-callable
        (``__call__``, ``with_call``, ``future``); the request iterator is
        consumed on a helper thread."""
        return StreamUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None,
                      _registered_method=False, **kwargs):
        """``grpc.Channel.stream_stream``: a bidirectional-streaming multi-callable."""
        return StreamStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def connectivity(self, address: "str | None" = None) -> str:
        """The channel's connectivity state: ``"IDLE"``, ``"CONNECTING"``,
        ``"READY"``, ``"TRANSIENT_FAILURE"`` or ``"SHUTDOWN"`` (once closed)
        (``lbc_channel_connectivity``: no round trip to the I/O thread).

        With ``address`` (``"127.0.0.2:50051"``, as for
        :meth:`update_endpoints`): that endpoint's state, ``"SHUTDOWN"`` when it
        is not in the set (``lbc_channel_endpoint_connectivity``); raises
        :class:`lbchannel.ClosedError` on a closed channel and
        :class:`lbchannel.InvalidArgumentError` (a ValueError) for an address
        that does not parse.
        The aggregation rules are in ``include/lbchannel.h`` (lbc_connectivity_state).
        """
        handle = self._handle
        if address is None:
            if handle is None:
                return "SHUTDOWN"
            rc = _native.lbc_channel_connectivity(handle)
        else:
            handle = self._live_handle()
            rc = _native.lbc_channel_endpoint_connectivity(handle, address.encode("utf-8"))
        if rc < 0:
            _check(rc, "lbc_channel_connectivity" if address is None else "lbc_channel_endpoint_connectivity")
        return _native.CONNECTIVITY_NAMES[rc]

    def subscribe(self, callback: "Callable[[Any], None]", try_to_connect: bool = False) -> None:
        """``grpc.Channel.subscribe``: call ``callback(state)`` with the current
        connectivity state and then on every change, until :meth:`unsubscribe`.

        The state is a ``grpc.ChannelConnectivity`` (its name without grpcio)
        as :meth:`connectivity` describes it; the last is SHUTDOWN, when the
        channel closes. Changes come from the library's connectivity watch
        (``lbc_channel_watch_connectivity``), no polling; callbacks run on the
        channel's event thread, one at a time (keep them short), and what they
        raise is logged to the ``"lbchannel"`` logger. ``try_to_connect`` is
        accepted for grpcio's sake: the channel always connects at once. Makes
        ``grpc.channel_ready_future(channel)`` work.
        """
        self._get_pump().subscribe(callback)

    def unsubscribe(self, callback: "Callable[[Any], None]") -> None:
        """``grpc.Channel.unsubscribe``: stop calling ``callback`` (unknown ones are ignored)."""
        pump = self._pump
        if pump is not None:
            pump.unsubscribe(callback)
