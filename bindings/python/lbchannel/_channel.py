"""The :class:`Channel`: a load-balanced gRPC channel owning an ``lbc_channel*``."""

from __future__ import annotations

import ctypes
import json
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from . import _callbacks, _metadata, _native, _options
from ._call import Buffer, NativeCall, call_from_response, request_bytes
from ._events import CompletionQueue, EventPump
from ._call import timeout_ms as _timeout_ms
from ._callbacks import LogFn, LookupFn
from ._errors import CallFinishedError, ClosedError, ErrorCode, SendClosedError, _check
from ._grpc import CallBase, ChannelBase, Connectivity, MetadataArg, Req, Resp
from ._grpc_interface import UnaryUnaryMultiCallable
from ._options import ChannelOptions
from ._status import Call, RpcError
from ._streaming import (StreamingCall, StreamStreamMultiCallable, StreamUnaryMultiCallable, UnaryStreamMultiCallable,
                         start_consumer)

if TYPE_CHECKING:
    from typing_extensions import Unpack


_text = _metadata.c_text


def _option_text(value: object) -> Optional[bytes]:
    """The text form of an option value, as lbc_options_set() wants it."""
    if value is None or isinstance(value, bytes):
        return _text(value, "option value")
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return _text(str(value), "option value")


class Channel(ChannelBase):
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
        **options: the channel options of :class:`lbchannel.ChannelOptions`
            (``lb_policy``, ``connect_timeout_ms``, ``wait_for_ready``, discovery,
            TLS, outlier ejection, keepalive, retries and hedging, health checking,
            ``service_config``...), each passed to ``lbc_options_set(key, str(value))``.
            grpcio's ``grpc.service_config`` is accepted too (see
            :func:`lbchannel._options.expand_service_config`). A call's ``attempts`` /
            ``attempt_peers()`` tell where its attempts went.

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

    def __init__(self, target: str, lookup: Optional[LookupFn] = None,
                 log_callback: Union[LogFn, bool, None] = None, **options: Unpack[ChannelOptions]) -> None:
        self._handle: Any = None
        self._lock = threading.Lock()
        self._pump: Optional[EventPump] = None
        self._target = target
        # The C library may call these until lbc_channel_close() returns:
        # the channel keeps them (and their CFUNCTYPE objects) alive.
        self._lookup = _callbacks.LookupHook(lookup) if lookup is not None else None
        self._log = _callbacks.LogHook(log_callback) if log_callback not in (None, False) else None
        expanded = _options.expand_service_config(dict(options))
        opts = _native.lbc_options_p()
        _check(_native.lbc_options_new(ctypes.byref(opts)), "lbc_options_new")
        try:
            for key, value in expanded.items():
                _check(_native.lbc_options_set(opts, _text(key, "option key"), _option_text(value)),
                       "lbc_options_set(%s)" % key)
            if self._lookup is not None:
                _check(_native.lbc_options_set_lookup(opts, self._lookup.cfunc, None), "lbc_options_set_lookup")
            if self._log is not None:
                _check(_native.lbc_options_set_log_callback(opts, self._log.cfunc, None),
                       "lbc_options_set_log_callback")
            handle = _native.lbc_channel_p()
            _check(_native.lbc_channel_open(_text(target, "target"), opts, ctypes.byref(handle)), "lbc_channel_open")
        finally:
            _native.lbc_options_free(opts)
        self._handle = handle

    # -- lifetime -----------------------------------------------------------

    @property
    def target(self) -> str:
        """The target the channel was opened with."""
        return self._target

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._handle is None

    def _live_handle(self) -> Any:
        handle = self._handle
        if handle is None:
            raise ClosedError(ErrorCode.CLOSED, "the channel is closed")
        return handle

    def close(self) -> None:
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

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Fallback for channels nobody closed; never raises (at interpreter shutdown
        # the module globals may be gone).
        try:
            if _callbacks.in_callback(self._lookup, self._log):
                # Collected inside its own callback: closing here would wait for ourselves.
                threading.Thread(target=self.close, name="lbchannel-close", daemon=True).start()
            else:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return "<lbchannel.Channel %r%s>" % (self._target, " closed" if self.closed else "")

    # -- calls ----------------------------------------------------------------

    def _request(self, fn: Any, method: str, payload: Optional[bytes], metadata: MetadataArg,
                 timeout: Optional[float], *rest: Any) -> None:
        """``fn(channel, method, [payload, len,] metadata, timeout_ms, *rest)`` (the head the C
        functions that start a call share), checked; the metadata list is freed after."""
        handle, method_b, timeout_ms = self._live_handle(), _text(method, "method"), _timeout_ms(timeout)
        md = _metadata.build(metadata)
        try:
            if payload is None:
                rc = fn(handle, method_b, md, timeout_ms, *rest)
            else:
                rc = fn(handle, method_b, payload, len(payload), md, timeout_ms, *rest)
            if rc != 0:
                _check(rc, fn.__name__)
        finally:
            if md is not None:
                _native.lbc_metadata_free(md)

    def _invoke(self, method: str, request: Buffer, timeout: Optional[float], metadata: MetadataArg) -> Call:
        """Run one unary RPC; return the finished :class:`Call` (any status)."""
        resp = _native.lbc_response_p()
        self._request(_native.lbc_unary, method, request_bytes(request), metadata, timeout, ctypes.byref(resp))
        return call_from_response(resp)

    def _start_unary(self, method: str, payload: bytes, timeout: Optional[float], metadata: MetadataArg,
                     target: Any, queue: Optional[CompletionQueue] = None) -> Any:
        """Start an ``lbc_unary_async`` call whose result ``queue`` (default: the event
        thread's) hands to ``target``; return its ``lbc_unary_call*``."""
        queue = queue or self._get_pump().queue
        call = _native.lbc_unary_call_p()
        tag = queue.register(target)
        try:
            self._request(_native.lbc_unary_async, method, payload, metadata, timeout, queue.handle,
                          ctypes.c_void_p(tag), ctypes.byref(call))
        except BaseException:
            queue.unregister(tag)
            raise
        return call

    def unary_with_call(self, method: str, request: Buffer, timeout: Optional[float] = None,
                        metadata: MetadataArg = None) -> Tuple[bytes, Call]:
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

    def _start_call(self, native: NativeCall, method: str, metadata: MetadataArg, timeout: Optional[float],
                    queue: CompletionQueue, target: Any) -> None:
        """Start ``native`` (``lbc_call_start``) with its events going to ``target`` on ``queue``."""
        out = _native.lbc_call_p()
        native.tag, native.queue = queue.register(target), queue
        try:
            self._request(_native.lbc_call_start, method, None, metadata, timeout, queue.handle,
                          ctypes.c_void_p(native.tag), ctypes.byref(out))
        except BaseException:
            queue.unregister(native.tag)
            raise
        native.started(out)

    def _start_native_call(self, method: str, metadata: MetadataArg, timeout: Optional[float]) -> NativeCall:
        """Start an ``lbc_call`` bound to this channel's event thread; return its NativeCall."""
        native = NativeCall(timeout)
        self._start_call(native, method, metadata, timeout, self._get_pump().queue, native)
        # The event thread only needs LBC_CALL_DONE (messages are taken with blocking
        # lbc_call_recv): it is not woken for every message.
        _native.lbc_call_set_events(native._handle, 0)
        return native

    def stream(self, method: str, metadata: MetadataArg = None, timeout: Optional[float] = None) -> StreamingCall:
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

    def server_stream(self, method: str, request: Buffer, timeout: Optional[float] = None,
                      metadata: MetadataArg = None) -> StreamingCall:
        """Server streaming on raw bytes: send ``request``, return a
        :class:`StreamingCall` to iterate for the responses (bytes)."""
        data = request_bytes(request)
        call = self.stream(method, metadata, timeout)
        try:
            call._native.send_blocking(data, end=True)
        except Exception as exc:  # the call already ended: iteration reports its status
            if not isinstance(exc, (CallFinishedError, SendClosedError)):
                call.close()
                raise
        return call

    def client_stream(self, method: str, requests: Iterable[Buffer], timeout: Optional[float] = None,
                      metadata: MetadataArg = None) -> bytes:
        """Client streaming on raw bytes: send every message of the iterable
        ``requests`` (consumed on a helper thread, with back-pressure) and
        return the response bytes. Raises lbchannel.RpcError on failure."""
        return self.client_stream_with_call(method, requests, timeout, metadata)[0]

    def client_stream_with_call(self, method: str, requests: Iterable[Buffer], timeout: Optional[float] = None,
                                metadata: MetadataArg = None) -> Tuple[bytes, CallBase]:
        """As :meth:`client_stream`; return ``(response_bytes, call)`` (a ``grpc.Call``)."""
        mc: StreamUnaryMultiCallable[Buffer, bytes] = StreamUnaryMultiCallable(self, method, None, None)
        return mc.with_call(iter(requests), timeout=timeout, metadata=metadata)

    def bidi_stream(self, method: str, requests: Iterable[Buffer], timeout: Optional[float] = None,
                    metadata: MetadataArg = None) -> StreamingCall:
        """Bidirectional streaming on raw bytes: ``requests`` (an iterable of
        bytes) is consumed on a helper thread; return a :class:`StreamingCall`
        to iterate for the responses."""
        call = self.stream(method, metadata, timeout)
        start_consumer(call._native, iter(requests), None)
        return call

    def unary(self, method: str, request: Buffer, timeout: Optional[float] = None,
              metadata: MetadataArg = None) -> bytes:
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

    def set_endpoints(self, addresses: Iterable[str]) -> None:
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
    def lookup_error(self) -> Optional[BaseException]:
        """The exception the most recent lookup callback raised (None after a success or without lookup)."""
        return self._lookup.last_error if self._lookup is not None else None

    # -- introspection ----------------------------------------------------------

    def stats(self) -> Dict[str, Any]:
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
        ``pings_acked``, ``last_rtt_us``, ``dead_connections``, ...), ``discovery`` and
        ``metrics``: per method (``methods``, at most ``max_methods``, then ``"other"``),
        ``attempts_started`` and cumulative latency histograms of ``attempts`` and
        ``calls`` by status (``count``, ``sum_us``, 32 ``buckets`` whose inclusive upper
        bounds are ``latency_bounds_us``, then +Inf) — exported under gRFC A66's names by
        :mod:`lbchannel.metrics`; see ``lbc_channel_stats_json`` in ``include/lbchannel.h``.
        """
        handle = self._live_handle()
        out = ctypes.c_void_p()
        _check(_native.lbc_channel_stats_json(handle, ctypes.byref(out)), "lbc_channel_stats_json")
        try:
            text = ctypes.string_at(out.value).decode("utf-8") if out.value else "{}"
        finally:
            _native.lbc_free(out)
        stats: Dict[str, Any] = json.loads(text)
        return stats

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

    def endpoints(self) -> List[Dict[str, Any]]:
        """The per-endpoint list of :meth:`stats` (``stats()["endpoints"]``)."""
        endpoints: List[Dict[str, Any]] = self.stats().get("endpoints", [])
        return endpoints

    # -- grpc.Channel interface ----------------------------------------------------

    def unary_unary(self, method: str, request_serializer: Optional[Callable[[Req], bytes]] = None,
                    response_deserializer: Optional[Callable[[bytes], Resp]] = None,
                    _registered_method: bool = False) -> UnaryUnaryMultiCallable[Req, Resp]:
        """``grpc.Channel.unary_unary``: a multi-callable for a unary method.

        ``request_serializer``/``response_deserializer`` default to bytes in,
        bytes out. The result supports ``__call__``, ``with_call`` and
        ``future`` with grpcio's signatures.
        """
        return UnaryUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def unary_stream(self, method: str, request_serializer: Optional[Callable[[Req], bytes]] = None,
                     response_deserializer: Optional[Callable[[bytes], Resp]] = None,
                     _registered_method: bool = False) -> UnaryStreamMultiCallable[Req, Resp]:
        """``grpc.Channel.unary_stream``: a server-streaming multi-callable.

        Calling it returns an iterator of responses that is also a
        ``grpc.Call`` and ``grpc.Future`` (like grpcio's rendezvous).
        """
        return UnaryStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_unary(self, method: str, request_serializer: Optional[Callable[[Req], bytes]] = None,
                     response_deserializer: Optional[Callable[[bytes], Resp]] = None,
                     _registered_method: bool = False) -> StreamUnaryMultiCallable[Req, Resp]:
        """``grpc.Channel.stream_unary``: a client-streaming multi-callable
        (``__call__``, ``with_call``, ``future``); the request iterator is
        consumed on a helper thread."""
        return StreamUnaryMultiCallable(self, method, request_serializer, response_deserializer)

    def stream_stream(self, method: str, request_serializer: Optional[Callable[[Req], bytes]] = None,
                      response_deserializer: Optional[Callable[[bytes], Resp]] = None,
                      _registered_method: bool = False) -> StreamStreamMultiCallable[Req, Resp]:
        """``grpc.Channel.stream_stream``: a bidirectional-streaming multi-callable."""
        return StreamStreamMultiCallable(self, method, request_serializer, response_deserializer)

    def connectivity(self, address: Optional[str] = None) -> str:
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

    def subscribe(self, callback: Callable[[Connectivity], None], try_to_connect: bool = False) -> None:
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

    def unsubscribe(self, callback: Callable[[Connectivity], None]) -> None:
        """``grpc.Channel.unsubscribe``: stop calling ``callback`` (unknown ones are ignored)."""
        pump = self._pump
        if pump is not None:
            pump.unsubscribe(callback)
