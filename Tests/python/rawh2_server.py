"""A tiny raw HTTP/2 (h2c, prior knowledge) server for misbehaviour tests.

Built on the pure-Python ``h2`` state machine (PyPI ``h2``), one thread per
connection, plus one thread per request running the request handler. It
speaks just enough HTTP/2 to let a test send exactly the frames it wants:

* ``server.handler(stream)`` is called for every request once the request
  stream has ended (END_STREAM from the client) — or, with
  ``RawH2Server(on_headers=True)``, as soon as its HEADERS arrive (the body is
  then empty and the client's side still open). ``stream`` has helpers to
  send headers, DATA, trailers, RST_STREAM, GOAWAY, or to drop the TCP
  connection. The handler is looked up at request time, so a test can
  replace it (``server.handler = ok_handler``) to make the server behave
  again on the same connection.
* ``RawH2Server(max_concurrent_streams=N)`` advertises
  SETTINGS_MAX_CONCURRENT_STREAMS=N in its first SETTINGS (0: the client may
  open no stream at all).
* ``RawH2Server(validate_outbound=False)`` lets a handler send header blocks
  ``h2`` would refuse (a response without ``:status``).
* ``informational_then(handler)`` wraps a handler to send a ``:status 100``
  block first; ``headers_without_status`` answers with a HEADERS block that
  has no ``:status``.
* ``RawH2Server(ssl_context=ctx)`` serves TLS (h2 over TLS) instead of h2c.
* ``server.raw`` — when not None, ``raw(sock, index)`` takes over each *new*
  TCP connection instead of HTTP/2 (for things ``h2`` refuses to produce:
  garbage bytes, never sending SETTINGS). ``index`` counts accepted
  connections from 0.
* ``server.on_connect`` — when not None, ``on_connect(conn)`` runs on each new
  HTTP/2 connection right after the server's SETTINGS went out, before any
  request is read: e.g. :func:`goaway_after_settings`,
  :func:`goaway_storm_after_settings`, :func:`close_after_settings`, servers
  that shed every connection as soon as it is established.

Everything is bounded: sockets have timeouts, threads are daemons, and
:meth:`RawH2Server.stop` closes every socket.
"""

import select
import socket
import ssl
import struct
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

__all__ = [
    "RawH2Server",
    "Stream",
    "grpc_frame",
    "ok_handler",
    "RESPONSE_HEADERS",
    "informational_then",
    "headers_without_status",
    "goaway_after_settings",
    "goaway_storm_after_settings",
    "close_after_settings",
]

#: The headers of a normal gRPC response.
RESPONSE_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]


def grpc_frame(payload, compressed=False, announced_length=None):
    """A length-prefixed gRPC message; ``announced_length`` overrides the prefix's length."""
    length = len(payload) if announced_length is None else announced_length
    return struct.pack(">BI", 1 if compressed else 0, length) + payload


def ok_handler(stream):
    """A well-behaved server: echoes ``b"ok:" + request message`` with status OK."""
    stream.send_headers(RESPONSE_HEADERS)
    stream.send_data(grpc_frame(b"ok:" + stream.request_message()))
    stream.send_trailers([("grpc-status", "0")])


def informational_then(handler, status="100"):
    """A handler that first sends an informational (1xx) header block, then runs ``handler``."""

    def wrapped(stream):
        stream.send_headers([(":status", status)])
        handler(stream)

    return wrapped


def headers_without_status(stream, end_stream=True, data=None):
    """A response HEADERS block with no ``:status`` (a malformed response), carrying
    ``grpc-status: 0`` (with END_STREAM), or followed by ``data`` and trailers.
    Needs ``RawH2Server(validate_outbound=False)``."""
    fields = [("content-type", "application/grpc")]
    if end_stream:
        stream.send_headers(fields + [("grpc-status", "0")], end_stream=True)
        return
    stream.send_headers(fields)
    if data is not None:
        stream.send_data(data)
    stream.send_trailers([("grpc-status", "0")])


def goaway_after_settings(conn):
    """``on_connect``: GOAWAY (last stream 0, NO_ERROR) right after SETTINGS; the
    connection stays open until the client closes it."""
    conn.goaway(last_stream_id=0)


def goaway_storm_after_settings(conn, count=20):
    """``on_connect``: a burst of ``count`` GOAWAY frames right after SETTINGS (the
    first announcing the highest stream id, as a graceful shutdown does, then last
    stream 0 over and over), then the TCP connection is dropped."""
    conn.goaway(last_stream_id=2**31 - 1)
    for _ in range(count - 1):
        conn.write_raw(struct.pack(">I", 8)[1:] + bytes([7, 0]) + struct.pack(">III", 0, 0, 0))
    conn.close()


def close_after_settings(conn):
    """``on_connect``: drop the TCP connection right after SETTINGS (no GOAWAY)."""
    conn.close()


class Stream:
    """One request stream, as seen by a handler."""

    def __init__(self, conn, stream_id, header_list, body):
        self.conn = conn
        self.stream_id = stream_id
        #: Request header fields in wire order: a list of (name, value) str pairs.
        self.header_list = header_list
        #: Request headers as a dict (str -> str), pseudo-headers included.
        self.headers = dict(header_list)
        #: The raw request body (gRPC length-prefixed).
        self.body = body

    def request_message(self):
        """The request message without its 5-byte prefix."""
        return self.body[5:]

    def send_headers(self, headers, end_stream=False):
        self.conn.do(lambda c: c.send_headers(self.stream_id, headers, end_stream=end_stream))

    def send_data(self, data, end_stream=False):
        self.conn.do(lambda c: c.send_data(self.stream_id, data, end_stream=end_stream))

    def send_trailers(self, trailers):
        self.send_headers(trailers, end_stream=True)

    def end_stream(self):
        self.conn.do(lambda c: c.end_stream(self.stream_id))

    def reset(self, error_code):
        self.conn.do(lambda c: c.reset_stream(self.stream_id, error_code=error_code))

    @property
    def server(self):
        return self.conn.server


class Connection:
    """One accepted HTTP/2 connection (server side)."""

    def __init__(self, server, sock, index):
        self.server = server
        self.sock = sock
        self.index = index
        self.lock = threading.Lock()
        self.h2 = h2.connection.H2Connection(
            # validate_inbound_headers=False: accept the request even when its
            # header block breaks RFC 9113 rules (e.g. pseudo-headers after
            # regular ones), so the misbehaviour tests run regardless; the
            # order is recorded (Stream.header_list) for a test to check.
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                             validate_inbound_headers=False,
                                             validate_outbound_headers=server.validate_outbound)
        )
        if server.max_concurrent_streams is not None:
            self.h2.local_settings = h2.settings.Settings(
                client=False,
                initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: server.max_concurrent_streams})
        self.closed = False

    def do(self, fn):
        """Run ``fn(h2_connection)`` under the lock and send what it produced."""
        with self.lock:
            if self.closed:
                raise ConnectionError("connection %d already closed" % self.index)
            fn(self.h2)
            self._flush_locked()

    def _flush_locked(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def goaway(self, last_stream_id=0, error_code=0, debug=b""):
        """Send GOAWAY with ``last_stream_id``."""
        self.do(lambda c: c.close_connection(error_code=error_code, additional_data=debug or None,
                                             last_stream_id=last_stream_id))

    def update_settings(self, **settings):
        """Send a SETTINGS frame, e.g. ``update_settings(MAX_CONCURRENT_STREAMS=10)``."""
        values = {getattr(h2.settings.SettingCodes, k): v for k, v in settings.items()}
        self.do(lambda c: c.update_settings(values))

    def write_raw(self, data):
        """Write bytes outside the h2 state machine."""
        with self.lock:
            self.sock.sendall(data)

    def close(self):
        """Drop the TCP connection at once (no GOAWAY)."""
        with self.lock:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class RawH2Server:
    """An h2c server on 127.0.0.1:<free port>. Use as a context manager or call stop()."""

    def __init__(self, handler=ok_handler, raw=None, host="127.0.0.1", on_headers=False,
                 max_concurrent_streams=None, validate_outbound=True, on_connect=None, ssl_context=None):
        #: With an ``ssl.SSLContext`` (server side, ALPN h2), every connection is TLS.
        self.ssl_context = ssl_context
        self.handler = handler
        self.max_concurrent_streams = max_concurrent_streams
        self.validate_outbound = validate_outbound
        self.raw = raw
        self.on_connect = on_connect
        self.on_headers = on_headers
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)  # accept() wakes up to notice stop()
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets = []
        #: Number of TCP connections accepted so far.
        self.connections = 0
        #: (connection index, stream id, request header list) of every request seen.
        self.requests = []
        #: Exceptions raised by handlers (e.g. sending on a stream the client reset).
        self.handler_errors = []
        #: Every HTTP/2 :class:`Connection` accepted so far (to send SETTINGS, GOAWAY, ...).
        self.h2_connections = []
        self._thread = threading.Thread(target=self._accept_loop, name="rawh2-accept", daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def target(self):
        return "ipv4:" + self.address

    @property
    def stopping(self):
        return self._stopping.is_set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        self._stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._sockets)
            self._sockets.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(2)

    # -- internals ------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self._lock:
                if self._stopping.is_set():
                    sock.close()
                    return
                index = self.connections
                self.connections += 1
                self._sockets.append(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                try:
                    sock.settimeout(5)
                    sock = self.ssl_context.wrap_socket(sock, server_side=True)
                    sock.settimeout(None)
                except OSError:
                    sock.close()
                    continue
            raw = self.raw
            target = self._run_raw if raw is not None else self._run_h2
            args = (sock, index, raw) if raw is not None else (sock, index)
            threading.Thread(target=target, args=args, name="rawh2-conn-%d" % index, daemon=True).start()

    def _run_raw(self, sock, index, raw):
        try:
            raw(sock, index)
        except OSError:
            pass
        finally:
            self.drain_until_closed(sock)

    def drain_until_closed(self, sock, limit=30.0):
        """Read and discard until the peer closes (or the server stops)."""
        deadline = time.monotonic() + limit
        try:
            sock.settimeout(0.1)
        except OSError:  # already closed (Connection.close)
            return
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        try:
            sock.close()
        except OSError:
            pass

    def _run_h2(self, sock, index):
        conn = Connection(self, sock, index)
        self.h2_connections.append(conn)
        pending = {}
        try:
            conn.do(lambda c: c.initiate_connection())
            on_connect = self.on_connect
            if on_connect is not None:
                on_connect(conn)
            sock.settimeout(0.1)
            tls = self.ssl_context is not None
            while not self._stopping.is_set() and not conn.closed:
                try:
                    if tls:
                        # One SSL object must not be read and written by two threads
                        # at once (handlers write through conn.do under conn.lock):
                        # wait for bytes outside the lock, read them under it.
                        if not sock.pending() and not select.select([sock], [], [], 0.1)[0]:
                            continue
                        with conn.lock:
                            data = sock.recv(65536)
                    else:
                        data = sock.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                if not data:
                    break
                with conn.lock:
                    if conn.closed:
                        break
                    try:
                        events = conn.h2.receive_data(data)
                    except h2.exceptions.H2Error:
                        # E.g. frames after our GOAWAY: stop speaking HTTP/2,
                        # just wait for the client to close.
                        events = None
                    if events is None:
                        conn.closed = True
                        break
                    ready = []
                    for ev in events:
                        if isinstance(ev, h2.events.RequestReceived):
                            if self.on_headers:
                                ready.append(Stream(conn, ev.stream_id, list(ev.headers), b""))
                            else:
                                pending[ev.stream_id] = [list(ev.headers), b""]
                        elif isinstance(ev, h2.events.DataReceived):
                            if ev.stream_id in pending:
                                pending[ev.stream_id][1] += ev.data
                            if ev.flow_controlled_length:
                                try:
                                    conn.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                                except h2.exceptions.H2Error:
                                    pass
                        elif isinstance(ev, h2.events.StreamEnded):
                            if ev.stream_id in pending:
                                headers, body = pending.pop(ev.stream_id)
                                ready.append(Stream(conn, ev.stream_id, headers, body))
                        elif isinstance(ev, h2.events.StreamReset):
                            pending.pop(ev.stream_id, None)
                    conn._flush_locked()
                for stream in ready:
                    self.requests.append((index, stream.stream_id, stream.header_list))
                    threading.Thread(target=self._run_handler, args=(stream,),
                                     name="rawh2-stream-%d-%d" % (index, stream.stream_id), daemon=True).start()
        except OSError:
            pass
        finally:
            if not conn.closed or not self._stopping.is_set():
                with conn.lock:
                    conn.closed = True
                self.drain_until_closed(sock)

    def _run_handler(self, stream):
        handler = self.handler
        try:
            handler(stream)
        except Exception as exc:  # recorded for the test to look at
            self.handler_errors.append(exc)
