"""Server misbehaviour: every bad answer becomes a clear gRPC status, never a crash or a hang.

Project rule: "Bad input gets a clear error and loses nothing: oversized or
malformed frames from a server ... — an error code or exception with a
message, never a crash or a hang." The expected statuses follow gRPC's
doc/http-grpc-status-mapping.md and doc/PROTOCOL-HTTP2.md.

The server is ``rawh2_server.RawH2Server``: a raw h2c server built on the
pure-Python ``h2`` package (PyPI ``h2``), or raw bytes where ``h2`` refuses
to produce the malformed thing. Each test

* opens ``lbchannel.Channel("ipv4:127.0.0.1:PORT")`` on one misbehaving server,
* makes one call and asserts the exact status code, a non-empty message and
  how long it took (every call runs under a hang guard),
* then makes the server behave and asserts the same channel serves again
  (or that a second, well-behaved endpoint of the channel keeps serving).
"""

import json
import re
import socket
import threading
import time

import h2.errors
import pytest

from lbtest_support import run_with_timeout, wait_until
from rawh2_server import (RESPONSE_HEADERS, RawH2Server, grpc_frame, headers_without_status, informational_then,
                          ok_handler)

METHOD = "/x.Y/Z"
REQUEST = b"req"
GOOD_REPLY = b"ok:" + REQUEST
#: A library call that has not returned after this long is a hang.
HANG_LIMIT = 8.0
MB = 1024 * 1024


# -- fixtures and helpers ------------------------------------------------------------


@pytest.fixture
def make_server():
    """``make_server(handler=ok_handler, raw=None)`` → a started RawH2Server (stopped after the test)."""
    servers = []

    def make(handler=ok_handler, raw=None):
        s = RawH2Server(handler=handler, raw=raw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def open_channel(open_channel):
    """conftest's ``open_channel`` with a quick connection backoff."""

    def make(target, **options):
        options.setdefault("backoff_initial_ms", 100)
        options.setdefault("backoff_jitter", 0)
        options.setdefault("backoff_max_ms", 400)
        return open_channel(target, **options)

    return make


class Outcome:
    """The result of one guarded unary call."""

    def __init__(self, code, details, elapsed, response=None, peer=""):
        self.code = code  # status name, e.g. "INTERNAL"
        self.details = details
        self.elapsed = elapsed
        self.response = response
        self.peer = peer

    def __repr__(self):
        return "<%s %r after %.3fs>" % (self.code, self.details, self.elapsed)


def call(channel, timeout=3.0, request=REQUEST):
    """One ``channel.unary`` under a hang guard; never raises an RpcError (returns it as an Outcome)."""
    t0 = time.monotonic()
    try:
        resp, c = run_with_timeout(channel.unary_with_call, HANG_LIMIT, METHOD, request, timeout=timeout)
    except TimeoutError:
        pytest.fail("lbchannel hung: unary(timeout=%s) did not return within %.0fs" % (timeout, HANG_LIMIT))
    except Exception as exc:
        if not hasattr(exc, "status_code"):
            raise
        return Outcome(exc.status_code.name, exc.details(), time.monotonic() - t0, None, exc.peer())
    return Outcome("OK", c.details(), time.monotonic() - t0, resp, c.peer())


def expect_status(channel, code, timeout=3.0, within=None, details=None):
    """Call once; assert the status ``code``, a sensible message, and (optionally) the elapsed time."""
    out = call(channel, timeout=timeout)
    assert out.code == code, "expected %s, got %r" % (code, out)
    assert out.details.strip(), "status %s came with an empty message" % code
    assert out.details.isprintable(), out
    if details is not None:
        assert re.search(details, out.details, re.I), "message %r does not match %r" % (out.details, details)
    limit = within if within is not None else timeout + 1.0
    assert out.elapsed < limit, "took %.2fs (limit %.2fs): %r" % (out.elapsed, limit, out)
    return out


def expect_ok(channel, server=None):
    out = call(channel)
    assert out.code == "OK", out
    assert out.response == GOOD_REPLY
    if server is not None:
        assert out.peer == server.address
    return out


def behave(server):
    """Make the server well-behaved again (HTTP/2, OK answers)."""
    server.raw = None
    server.handler = ok_handler


def assert_serves_again(channel, server, immediately=True):
    """After the misbehaviour: the server behaves, and the same channel gets OK from it.

    ``immediately``: the very next call must succeed (the misbehaviour was
    confined to one stream); otherwise the channel may first need to
    reconnect (connection-level misbehaviour), within a few seconds.
    """
    behave(server)
    if immediately:
        expect_ok(channel, server)
        return
    last = []

    def ok():
        out = call(channel, timeout=1.0)
        last[:] = [out]
        return out.code == "OK"

    assert wait_until(ok, 5.0, interval=0.05), "channel did not recover: last call %r, endpoints %r" % (
        last, channel.endpoints())
    expect_ok(channel, server)


# -- handler building blocks ---------------------------------------------------------


def respond(headers=RESPONSE_HEADERS, data=(), trailers=(("grpc-status", "0"),)):
    """A handler sending ``headers``, each DATA chunk of ``data``, then ``trailers`` (None: END_STREAM on the last DATA)."""

    def handler(stream):
        stream.send_headers(list(headers), end_stream=not data and trailers is None)
        for i, chunk in enumerate(data):
            stream.send_data(chunk, end_stream=trailers is None and i == len(data) - 1)
        if trailers is not None:
            stream.send_trailers(list(trailers))

    return handler


# -- 0. the request itself is well-formed (strict servers reject it otherwise) -----------


def test_request_pseudo_headers_precede_regular_headers(make_server, open_channel):
    # RFC 9113 section 8.3: "All pseudo-header fields MUST appear in a field
    # block before all regular field lines"; a request breaking this is
    # malformed and strict servers (h2 with validation, nghttp2's HTTP
    # messaging checks) reset it with PROTOCOL_ERROR. rawh2_server accepts it
    # anyway (validate_inbound_headers=False) and records the wire order.
    server = make_server()
    ch = open_channel(server.target)
    expect_ok(ch, server)
    names = [name for name, _ in server.requests[0][2]]
    pseudo = [i for i, n in enumerate(names) if n.startswith(":")]
    regular = [i for i, n in enumerate(names) if not n.startswith(":")]
    assert max(pseudo) < min(regular), "pseudo-headers after regular headers: %s" % names
    headers = dict(server.requests[0][2])
    assert headers[":method"] == "POST" and headers[":path"] == METHOD and headers[":scheme"] == "http"
    assert headers["content-type"] == "application/grpc" and headers["te"] == "trailers"


# -- 1. HTTP status without grpc-status --------------------------------------------

HTTP_MAPPING = [
    (400, "INTERNAL"),
    (401, "UNAUTHENTICATED"),
    (403, "PERMISSION_DENIED"),
    (404, "UNIMPLEMENTED"),
    (429, "UNAVAILABLE"),
    (502, "UNAVAILABLE"),
    (503, "UNAVAILABLE"),
    (504, "UNAVAILABLE"),
    (500, "UNKNOWN"),
]


@pytest.mark.parametrize("http_status,code", HTTP_MAPPING)
def test_http_status_without_grpc_status(make_server, open_channel, http_status, code):
    # A HEADERS-only answer (END_STREAM on the headers), as a proxy or an HTTP server gives.
    server = make_server(respond([(":status", str(http_status)), ("content-type", "text/plain")], trailers=None))
    ch = open_channel(server.target)
    expect_status(ch, code, details=str(http_status))
    assert_serves_again(ch, server)


@pytest.mark.parametrize("http_status,code", [(404, "UNIMPLEMENTED"), (503, "UNAVAILABLE"), (429, "UNAVAILABLE")])
def test_http_status_with_html_body(make_server, open_channel, http_status, code):
    # What nginx/Envoy really send: a non-gRPC body. The body is not gRPC
    # framing and must not turn the HTTP mapping into a framing error.
    body = b"<html><body><h1>%d</h1></body></html>" % http_status
    server = make_server(respond([(":status", str(http_status)), ("content-type", "text/html")],
                                 data=[body], trailers=None))
    ch = open_channel(server.target)
    expect_status(ch, code, details=str(http_status))
    assert_serves_again(ch, server)


# -- 2. missing grpc-status -----------------------------------------------------------


def test_end_stream_on_data_without_trailers(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"resp")], trailers=None))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="status")
    assert_serves_again(ch, server)


def test_trailers_without_grpc_status(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"resp")], trailers=[("x-other", "1")]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="status")
    assert_serves_again(ch, server)


# -- 3. grpc-status that is not a valid code --------------------------------------------


@pytest.mark.parametrize("value", ["abc", "99", "-1", ""])
def test_invalid_grpc_status(make_server, open_channel, value):
    server = make_server(respond(data=[grpc_frame(b"resp")], trailers=[("grpc-status", value)]))
    ch = open_channel(server.target)
    expect_status(ch, "UNKNOWN")
    assert_serves_again(ch, server)


def test_invalid_grpc_status_keeps_server_message(make_server, open_channel):
    server = make_server(respond(trailers=[("grpc-status", "99"), ("grpc-message", "custom trouble")]))
    ch = open_channel(server.target)
    expect_status(ch, "UNKNOWN", details="custom trouble")
    assert_serves_again(ch, server)


# -- 4. oversized message --------------------------------------------------------------------


def test_prefix_announcing_100mb_fails_before_the_body(make_server, open_channel):
    # The prefix announces 100 MB, then a few bytes, then nothing: the client
    # must give up on the prefix alone (waiting for the body would run into
    # the deadline instead).
    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        stream.send_data(grpc_frame(b"x" * 10, announced_length=100 * MB))
        time.sleep(4)  # keep the stream open, no END_STREAM

    server = make_server(handler)
    ch = open_channel(server.target)
    out = expect_status(ch, "RESOURCE_EXHAUSTED", timeout=5.0, within=1.0, details="larger than max")
    assert str(100 * MB) in out.details and str(4 * MB) in out.details, out
    assert_serves_again(ch, server)


def test_message_just_above_configured_limit(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"y" * 1025)]))
    ch = open_channel(server.target, max_receive_message_size=1024)
    out = expect_status(ch, "RESOURCE_EXHAUSTED", details="larger than max")
    assert "1025" in out.details and "1024" in out.details, out
    # Exactly at the limit is fine.
    server.handler = respond(data=[grpc_frame(b"y" * 1024)])
    out = call(ch)
    assert out.code == "OK" and out.response == b"y" * 1024, out


# -- 5. compressed flag without grpc-encoding --------------------------------------------


def test_compressed_flag_without_encoding(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"resp", compressed=True)]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="compress")
    assert_serves_again(ch, server)


def test_invalid_flag_byte(make_server, open_channel):
    server = make_server(respond(data=[b"\x07" + grpc_frame(b"resp")[1:]]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="flag")
    assert_serves_again(ch, server)


# -- 6. wrong number of messages ---------------------------------------------------------------


def test_two_messages_in_two_data_frames(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"one"), grpc_frame(b"two")]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="more than one")
    assert_serves_again(ch, server)


def test_two_messages_in_one_data_frame(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"one") + grpc_frame(b"two")]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="more than one")
    assert_serves_again(ch, server)


def test_zero_messages_with_ok(make_server, open_channel):
    server = make_server(respond(data=()))  # headers, then trailers grpc-status 0
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="no response message")
    assert_serves_again(ch, server)


def test_trailers_only_ok_without_message(make_server, open_channel):
    server = make_server(respond(RESPONSE_HEADERS + [("grpc-status", "0")], trailers=None))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="no response message")
    assert_serves_again(ch, server)


# -- 7. truncated message ------------------------------------------------------------------------


def test_stream_ends_in_the_middle_of_a_message(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"0123456789", announced_length=100)]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="middle of a message")
    assert_serves_again(ch, server)


def test_stream_ends_in_the_middle_of_a_prefix(make_server, open_channel):
    server = make_server(respond(data=[b"\x00\x00\x00"]))
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL", details="middle of a message")
    assert_serves_again(ch, server)


# -- 8. RST_STREAM ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error_code,code",
    [
        (h2.errors.ErrorCodes.CANCEL, "CANCELLED"),
        (h2.errors.ErrorCodes.INTERNAL_ERROR, "INTERNAL"),
        (h2.errors.ErrorCodes.PROTOCOL_ERROR, "INTERNAL"),
        (h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, "RESOURCE_EXHAUSTED"),
    ],
)
def test_rst_stream(make_server, open_channel, error_code, code):
    server = make_server(lambda stream: stream.reset(error_code))
    ch = open_channel(server.target)
    expect_status(ch, code)
    assert_serves_again(ch, server)


def test_rst_stream_after_response_headers(make_server, open_channel):
    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        stream.send_data(grpc_frame(b"resp"))
        stream.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)

    server = make_server(handler)
    ch = open_channel(server.target)
    expect_status(ch, "INTERNAL")
    assert_serves_again(ch, server)


def test_refused_stream_is_retried_transparently_once(make_server, open_channel):
    seen = []

    def handler(stream):
        seen.append(stream.stream_id)
        if len(seen) == 1:
            stream.reset(h2.errors.ErrorCodes.REFUSED_STREAM)
        else:
            ok_handler(stream)

    server = make_server(handler)
    ch = open_channel(server.target)
    out = call(ch)
    assert out.code == "OK" and out.response == GOOD_REPLY, out
    assert len(seen) == 2 and server.connections == 1, (seen, server.connections)
    expect_ok(ch, server)


def test_refused_stream_every_time_gives_unavailable(make_server, open_channel):
    server = make_server(lambda stream: stream.reset(h2.errors.ErrorCodes.REFUSED_STREAM))
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", details="REFUSED_STREAM")
    # One transparent retry, not a loop.
    assert len(server.requests) == 2, server.requests
    assert_serves_again(ch, server)


# -- 9. GOAWAY -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("then_close", [False, True], ids=["goaway", "goaway_then_close"])
def test_goaway_last_stream_0_before_answering_is_retried(make_server, open_channel, then_close):
    # Connection 0 answers the request with GOAWAY(last_stream_id=0) (and may then
    # drop the connection): the server never processed the stream, so the call
    # goes to a new connection.
    def handler(stream):
        if stream.conn.index == 0:
            stream.conn.goaway(last_stream_id=0)
            if then_close:
                stream.conn.close()
        else:
            ok_handler(stream)

    server = make_server(handler)
    ch = open_channel(server.target)
    out = call(ch)
    assert out.code == "OK" and out.response == GOOD_REPLY, out
    assert out.elapsed < 2.0, out
    if not then_close:
        assert [r[0] for r in server.requests] == [0, 1], server.requests
    expect_ok(ch, server)


def test_goaway_on_every_connection_fails_unavailable(make_server, open_channel):
    server = make_server(lambda stream: stream.conn.goaway(last_stream_id=0))
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", timeout=3.0, within=2.0)
    assert len(server.requests) == 2, server.requests  # one transparent retry, no loop
    assert_serves_again(ch, server, immediately=False)


def test_goaway_covering_the_stream_then_close_is_not_retried(make_server, open_channel):
    # GOAWAY(last_stream_id = this stream): the server may have processed it,
    # so it must not be retried; the connection then drops.
    def handler(stream):
        if stream.conn.index == 0:
            stream.conn.goaway(last_stream_id=stream.stream_id)
            time.sleep(0.05)
            stream.conn.close()
        else:
            ok_handler(stream)

    server = make_server(handler)
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE")
    assert len(server.requests) == 1, server.requests
    assert_serves_again(ch, server, immediately=False)


# -- 10. connection-level misbehaviour ----------------------------------------------------------------


def _http1_reply(sock, index):
    sock.settimeout(2)
    try:
        sock.recv(65536)  # the client preface + SETTINGS
    except socket.timeout:
        pass
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request")


def _garbage(sock, index):
    sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 4)


@pytest.mark.parametrize("raw", [_http1_reply, _garbage], ids=["http1_reply", "binary_garbage"])
def test_not_http2_gives_unavailable_with_protocol_error(make_server, open_channel, raw):
    server = make_server(raw=raw)
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", within=2.0, details=r"protocol|HTTP/2|SETTINGS|frame")
    assert_serves_again(ch, server, immediately=False)


def test_server_never_sends_settings_connect_timeout(make_server, open_channel):
    server = make_server(raw=lambda sock, index: None)  # accept, read, never write
    ch = open_channel(server.target, connect_timeout_ms=500)
    expect_status(ch, "UNAVAILABLE", timeout=5.0, within=1.5, details="connect timeout")
    assert_serves_again(ch, server, immediately=False)


def test_server_closes_connection_after_request(make_server, open_channel):
    server = make_server(lambda stream: stream.conn.close())
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", within=2.0, details="closed")
    assert_serves_again(ch, server, immediately=False)


def test_server_closes_connection_in_the_middle_of_a_message(make_server, open_channel):
    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        stream.send_data(grpc_frame(b"0123456789", announced_length=100))
        time.sleep(0.05)
        stream.conn.close()

    server = make_server(handler)
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", within=2.0)
    assert_serves_again(ch, server, immediately=False)


def test_raw_frame_too_large_for_client(make_server, open_channel):
    # A DATA frame longer than the client's SETTINGS_MAX_FRAME_SIZE (16384),
    # written as raw bytes (h2 refuses to build it): a connection error.
    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        payload = grpc_frame(b"z" * 20000)
        header = len(payload).to_bytes(3, "big") + b"\x00\x00" + stream.stream_id.to_bytes(4, "big")
        stream.conn.write_raw(header + payload)

    server = make_server(handler)
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", within=2.0)
    assert_serves_again(ch, server, immediately=False)


# -- 11. headers ------------------------------------------------------------------------------------


def _incompressible(size):
    """``size`` printable bytes that HPACK's Huffman code cannot shrink much (mostly 6- to 8-bit codes)."""
    alphabet = "BCDFGHJKLMNPQRSVWXYZ"
    return "".join(alphabet[(i * 7) % len(alphabet)] for i in range(size))


def test_huge_response_header(make_server, open_channel):
    # One 100 KB header value: above nghttp2's HPACK limit for one field, a
    # connection error (COMPRESSION_ERROR) on the client side.
    server = make_server(respond(RESPONSE_HEADERS + [("x-huge", _incompressible(100_000))],
                                 data=[grpc_frame(b"resp")]))
    ch = open_channel(server.target)
    # The pure-Python server needs about a second to HPACK-encode the field (more on a
    # loaded machine): the deadline is generous so only the status is in question.
    expect_status(ch, "UNAVAILABLE", timeout=6.0)
    assert_serves_again(ch, server, immediately=False)


def test_huge_trailer(make_server, open_channel):
    server = make_server(respond(data=[grpc_frame(b"resp")],
                                 trailers=[("grpc-status", "0"), ("x-huge", _incompressible(100_000))]))
    ch = open_channel(server.target)
    expect_status(ch, "UNAVAILABLE", timeout=6.0)  # see test_huge_response_header
    assert_serves_again(ch, server, immediately=False)


@pytest.mark.parametrize("where", ["headers", "trailers"])
def test_header_list_above_the_advertised_limit_is_an_error(make_server, open_channel, where):
    # The client advertises SETTINGS_MAX_HEADER_LIST_SIZE = 65536; the server
    # sends 100 KB of metadata in 20 fields of 5000 bytes each (every field
    # far below any per-field limit). gRPC clients fail such a response
    # (grpc-core: RESOURCE_EXHAUSTED) rather than buffering any amount of
    # metadata a server sends.
    big = [("x-big-%02d" % i, "v" * 5000) for i in range(20)]
    if where == "headers":
        handler = respond(RESPONSE_HEADERS + big, data=[grpc_frame(b"resp")])
    else:
        handler = respond(data=[grpc_frame(b"resp")], trailers=[("grpc-status", "0")] + big)
    server = make_server(handler)
    ch = open_channel(server.target)
    out = call(ch)
    assert out.code in ("RESOURCE_EXHAUSTED", "INTERNAL", "UNAVAILABLE"), (
        "a %d-byte %s block was accepted although the client advertised a 65536-byte limit: %r"
        % (sum(len(k) + len(v) + 32 for k, v in big), where, out))
    assert out.details.strip(), out
    assert_serves_again(ch, server, immediately=False)


@pytest.mark.parametrize(
    "raw,decoded",
    [
        ("%zz%", "%zz%"),
        ("bad %zz% then %41%42 and 100%", "bad %zz% then AB and 100%"),
        ("%E2%9C%93 %e2%9c%93", "\u2713 \u2713"),
        ("%FF%FE", "\ufffd\ufffd"),
    ],
)
def test_grpc_message_percent_decoding_is_lenient(make_server, open_channel, raw, decoded):
    server = make_server(respond(trailers=[("grpc-status", "3"), ("grpc-message", raw)]))
    ch = open_channel(server.target)
    out = call(ch)
    assert out.code == "INVALID_ARGUMENT", out
    assert out.details == decoded
    assert_serves_again(ch, server)


# -- 12. slow server ---------------------------------------------------------------------------------


def test_trickling_response_hits_the_deadline(make_server, open_channel):
    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        for b in grpc_frame(b"a" * 100):
            if stream.server.stopping:
                return
            stream.send_data(bytes([b]))  # raises once the client has reset the stream
            time.sleep(0.1)
        stream.send_trailers([("grpc-status", "0")])

    server = make_server(handler)
    ch = open_channel(server.target)
    out = expect_status(ch, "DEADLINE_EXCEEDED", timeout=0.5, within=1.5, details="deadline")
    assert out.elapsed >= 0.45, out
    assert_serves_again(ch, server)


def test_headers_never_come_hits_the_deadline(make_server, open_channel):
    server = make_server(lambda stream: time.sleep(3))
    ch = open_channel(server.target)
    expect_status(ch, "DEADLINE_EXCEEDED", timeout=0.5, within=1.5, details="deadline")
    assert_serves_again(ch, server)


# -- a bad stream loses nothing else on its connection --------------------------------------------


@pytest.mark.parametrize("bad", ["oversized", "two_messages", "rst_internal", "bad_flag"])
def test_bad_stream_does_not_disturb_a_concurrent_call(make_server, open_channel, bad):
    # Request b"slow" is answered correctly after 0.4 s; meanwhile a second
    # call on the same connection gets a broken answer. Only that one fails.
    def handler(stream):
        if stream.request_message() != b"bad":
            if stream.request_message() == b"slow":
                time.sleep(0.4)
            ok_handler(stream)
            return
        if bad == "rst_internal":
            stream.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)
            return
        stream.send_headers(RESPONSE_HEADERS)
        if bad == "oversized":
            stream.send_data(grpc_frame(b"x", announced_length=100 * MB))
            time.sleep(1.0)
            return
        if bad == "two_messages":
            stream.send_data(grpc_frame(b"one") + grpc_frame(b"two"))
        else:
            stream.send_data(b"\x05" + grpc_frame(b"x")[1:])
        stream.send_trailers([("grpc-status", "0")])

    server = make_server(handler)
    ch = open_channel(server.target)
    expect_ok(ch, server)  # connection up
    box = {}
    slow = threading.Thread(target=lambda: box.setdefault("out", call(ch, timeout=3.0, request=b"slow")))
    slow.start()
    assert wait_until(lambda: len(server.requests) >= 2, 2.0)  # b"slow" is in the server
    out = call(ch, timeout=3.0, request=b"bad")
    expected = {"oversized": "RESOURCE_EXHAUSTED"}.get(bad, "INTERNAL")
    assert out.code == expected and out.details.strip(), out
    assert out.elapsed < 0.4, out
    slow.join(HANG_LIMIT)
    assert not slow.is_alive()
    assert box["out"].code == "OK" and box["out"].response == b"ok:slow", box["out"]
    assert server.connections == 1  # the connection survived
    expect_ok(ch, server)


# -- a well-behaved second endpoint keeps serving --------------------------------------------------


def test_good_endpoint_keeps_serving_next_to_a_misbehaving_one(make_server, open_channel):
    bad = make_server(respond(data=[grpc_frame(b"one"), grpc_frame(b"two")]))
    good = make_server()
    ch = open_channel("ipv4:%s,%s" % (bad.address, good.address), lb_policy="round_robin")
    assert wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 2, 3.0), ch.endpoints()
    outcomes = [call(ch) for _ in range(6)]
    by_peer = {}
    for out in outcomes:
        by_peer.setdefault(out.peer, set()).add(out.code)
    assert by_peer == {bad.address: {"INTERNAL"}, good.address: {"OK"}}, outcomes
    assert all(o.response == GOOD_REPLY for o in outcomes if o.code == "OK")


def test_good_endpoint_serves_while_the_other_speaks_garbage(make_server, open_channel):
    bad = make_server(raw=_http1_reply)
    good = make_server()
    ch = open_channel("ipv4:%s,%s" % (bad.address, good.address), lb_policy="round_robin")
    for _ in range(5):
        expect_ok(ch, good)
    stats = {e["address"]: e for e in ch.endpoints()}
    assert stats[bad.address]["state"] in ("TRANSIENT_FAILURE", "CONNECTING"), stats
    assert stats[good.address]["state"] == "READY", stats


def test_server_ends_the_call_while_the_client_still_sends(lbchannel):
    # The server answers with its status (END_STREAM, and no RST_STREAM: RFC 9113
    # §8.1 makes that optional) while the client's send side is still open. The
    # call must end with the server's status at once, not hang until its deadline.
    def early_error(stream):
        stream.send_headers(list(RESPONSE_HEADERS))
        stream.send_trailers([("grpc-status", "9"), ("grpc-message", "not now")])

    with RawH2Server(handler=early_error, on_headers=True) as server:
        with lbchannel.Channel(server.target) as ch:
            t0 = time.monotonic()
            with ch.stream(METHOD, timeout=20) as call:
                call.send(b"first")                     # the send side stays open
                with pytest.raises(lbchannel.RpcError) as info:
                    for _ in call:
                        pass
            elapsed = time.monotonic() - t0
    assert info.value.code().name == "FAILED_PRECONDITION", info.value
    assert info.value.details() == "not now"
    assert elapsed < 5.0, "the call ended only after %.1f s" % elapsed


# -- 12. the response path: no OK that dropped data (issue 15, section 3) ------------------------
#
# One rule for unary and streaming calls (README, "How a response becomes a status"):
# 1xx header blocks are skipped; a response header block without :status is
# malformed (INTERNAL, naming it); DATA is read as gRPC messages only from a gRPC
# response (:status 200, content-type application/grpc...), anything else ends
# with the HTTP mapping (200 with a foreign content-type: UNKNOWN) -- never OK.
# grpcio's behaviour against the same server is noted as the reference.


class StreamOutcome:
    """The result of one guarded server-streaming call."""

    def __init__(self, code, details, messages, elapsed):
        self.code = code
        self.details = details
        self.messages = messages
        self.elapsed = elapsed

    def __repr__(self):
        return "<%s %r, %d messages, after %.3fs>" % (self.code, self.details, len(self.messages), self.elapsed)


def stream_call(channel, timeout=3.0, metadata=None, method=METHOD):
    """One server-streaming call (send REQUEST, read every message) under a hang guard."""

    def run():
        messages = []
        t0 = time.monotonic()
        call = channel.server_stream(method, REQUEST, timeout=timeout, metadata=metadata)
        with call:
            try:
                for message in call:
                    messages.append(message)
            except Exception as exc:
                if not hasattr(exc, "status_code"):
                    raise
                return StreamOutcome(exc.status_code.name, exc.details(), messages, time.monotonic() - t0)
            return StreamOutcome("OK", call.details(), messages, time.monotonic() - t0)

    try:
        return run_with_timeout(run, HANG_LIMIT)
    except TimeoutError:
        pytest.fail("lbchannel hung: a streaming call did not end within %.0fs" % HANG_LIMIT)


def expect_stream_status(channel, code, details=None, **kwargs):
    out = stream_call(channel, **kwargs)
    assert out.code == code, "expected %s, got %r" % (code, out)
    if code != "OK":
        assert out.details.strip() and out.details.isprintable(), out
    if details is not None:
        assert re.search(details, out.details, re.I), "message %r does not match %r" % (out.details, details)
    return out


def good_response(stream):
    """The normal answer, built from RESPONSE_HEADERS (one message, grpc-status 0)."""
    stream.send_headers(RESPONSE_HEADERS)
    stream.send_data(grpc_frame(GOOD_REPLY))
    stream.send_trailers([("grpc-status", "0")])


@pytest.mark.parametrize("informational", ["100", "103"])
def test_informational_headers_then_response_unary(make_server, open_channel, informational):
    # grpcio 1.85 (same server): UNKNOWN "Received http2 header with status: 100".
    # gRPC's HTTP mapping skips 1xx. nghttp2 files the final response after a 1xx under
    # NGHTTP2_HCAT_HEADERS (like trailers); it used to be taken as trailers, with
    # every message dropped (unary: INTERNAL "no response message").
    server = make_server(informational_then(good_response, informational))
    ch = open_channel(server.target)
    expect_ok(ch, server)


@pytest.mark.parametrize("informational", ["100", "103"])
def test_informational_headers_then_response_streaming(make_server, open_channel, informational):
    # grpcio 1.85 (same server): UNKNOWN. Used to end OK with 0 messages.
    server = make_server(informational_then(good_response, informational))
    ch = open_channel(server.target)
    out = expect_stream_status(ch, "OK")
    assert out.messages == [GOOD_REPLY], out


def _html_with_message(stream):
    stream.send_headers([(":status", "200"), ("content-type", "text/html")])
    stream.send_data(grpc_frame(GOOD_REPLY))
    stream.send_trailers([("grpc-status", "0")])


def test_foreign_content_type_with_message_and_ok_unary(make_server, open_channel):
    # grpcio 1.85 (same server): OK with the message. lbchannel reads no message from a response
    # that is not gRPC, so it cannot say OK: UNKNOWN, naming the content-type.
    server = make_server(_html_with_message)
    ch = open_channel(server.target)
    expect_status(ch, "UNKNOWN", details="text/html")
    assert_serves_again(ch, server)


def test_foreign_content_type_with_message_and_ok_streaming(make_server, open_channel):
    # grpcio 1.85 (same server): OK with the message. Used to end OK with 0 messages.
    server = make_server(_html_with_message)
    ch = open_channel(server.target)
    out = expect_stream_status(ch, "UNKNOWN", details="text/html")
    assert out.messages == []
    assert_serves_again(ch, server)


@pytest.mark.parametrize("end_stream", [True, False], ids=["trailers-only", "with-data"])
def test_headers_without_status_unary(make_server, open_channel, end_stream):
    # grpcio 1.85 (same server): OK (trailers-only: OK with no message at all; with
    # data: OK with the message). RFC 9113 section 8.3.2: a response without :status
    # is malformed; lbchannel: INTERNAL naming :status.
    server = RawH2Server(handler=lambda s: headers_without_status(s, end_stream, grpc_frame(GOOD_REPLY)),
                        validate_outbound=False)
    try:
        ch = open_channel(server.target)
        expect_status(ch, "INTERNAL", details=":status")
        assert_serves_again(ch, server)
    finally:
        server.stop()


@pytest.mark.parametrize("end_stream", [True, False], ids=["trailers-only", "with-data"])
def test_headers_without_status_streaming(make_server, open_channel, end_stream):
    # Used to be taken as a trailers-only OK.
    server = RawH2Server(handler=lambda s: headers_without_status(s, end_stream, grpc_frame(GOOD_REPLY)),
                        validate_outbound=False)
    try:
        ch = open_channel(server.target)
        out = expect_stream_status(ch, "INTERNAL", details=":status")
        assert out.messages == []
    finally:
        server.stop()


def test_unary_rules_hold_for_streams(make_server, open_channel):
    # The same state machine: a partial message, END_STREAM without trailers and a
    # non-200 status end a stream exactly as they end a unary call.
    cases = [
        (respond(data=[grpc_frame(b"0123456789", announced_length=100)]), "INTERNAL", "middle of a message"),
        (respond(data=[grpc_frame(b"resp")], trailers=None), "INTERNAL", "status"),
        (respond([(":status", "503"), ("content-type", "text/html")], data=[b"<html/>"], trailers=None),
         "UNAVAILABLE", "503"),
    ]
    server = make_server()
    ch = open_channel(server.target)
    for handler, code, details in cases:
        server.handler = handler
        expect_stream_status(ch, code, details=details)
        expect_status(ch, code, details=details)


def test_flow_control_violation_is_reported_as_local(make_server, open_channel):
    # The server ignores the stream's window: the client's own HTTP/2 session resets
    # the stream (FLOW_CONTROL_ERROR). No RST_STREAM came from the server, so the
    # status must not say it did.
    window = 16384

    def handler(stream):
        stream.send_headers(RESPONSE_HEADERS)
        message = grpc_frame(b"m" * 1000)
        payload = message * 16  # 16,080 bytes per DATA frame, 5 frames: over the window
        header = len(payload).to_bytes(3, "big") + b"\x00\x00" + stream.stream_id.to_bytes(4, "big")
        for _ in range(5):
            stream.conn.write_raw(header + payload)
        time.sleep(2)

    server = make_server(handler)
    ch = open_channel(server.target, stream_window_bytes=window)

    def run():
        call = ch.server_stream(METHOD, REQUEST, timeout=5)
        with call:
            assert call.wait(4), "the call did not end"  # read nothing: the messages keep the window
            return call.code(), call.details()

    code, details = run_with_timeout(run, HANG_LIMIT)
    assert getattr(code, "name", code) == "INTERNAL", (code, details)
    assert "flow-control" in details and "by the server" not in details, details


# -- 13. calls queued behind SETTINGS_MAX_CONCURRENT_STREAMS=0 (issue 15, section 4) ------------


def _malloc_in_use():
    """Bytes malloc has handed out and not got back (glibc mallinfo2: arena + mmap)."""
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def _queued_timeouts(lbchannel, channel, count, batch=500, timeout_ms=20):
    """Run ``count`` async unary calls (``batch`` at a time) that all time out; return their statuses."""
    import ctypes

    from lbchannel import _native as n

    cq = n.lbc_cq_p()
    assert n.lbc_cq_new(ctypes.byref(cq)) == 0
    events = (n.lbc_event * 64)()
    codes = {}
    try:
        done = 0
        while done < count:
            size = min(batch, count - done)
            for i in range(size):
                rc = n.lbc_unary_async(channel._handle, METHOD.encode(), REQUEST, len(REQUEST), None, timeout_ms,
                                       cq, ctypes.c_void_p(i + 1), None)
                assert rc == 0, rc
            left = size
            deadline = time.monotonic() + 10
            while left and time.monotonic() < deadline:
                got = n.lbc_cq_poll(cq, events, n.LBC_EVENT_SIZE, 64, 1000)
                assert got >= 0, got
                for e in events[:got]:
                    status = n.lbc_response_status(e.response)
                    codes[status] = codes.get(status, 0) + 1
                    n.lbc_response_free(e.response)
                left -= got
            assert left == 0, "%d calls did not end" % left
            done += size
    finally:
        n.lbc_cq_free(cq)
    return codes


def test_calls_queued_behind_a_zero_stream_limit_are_freed(lbchannel, open_channel):
    # A server advertising SETTINGS_MAX_CONCURRENT_STREAMS=0: every call waits for a
    # stream slot that never comes, and ends at its deadline. Each used to stay in
    # the connection's stream table until the channel closed (+1.1 KB per call).
    server = RawH2Server(max_concurrent_streams=0)
    try:
        ch = open_channel(server.target)
        assert call(ch, timeout=1.0).code == "DEADLINE_EXCEEDED"  # connected; the limit is known
        _queued_timeouts(lbchannel, ch, 1000)  # warm-up: pools, caches, the queue's capacity
        gc_before = _malloc_in_use()
        codes = _queued_timeouts(lbchannel, ch, 10000)
        growth = _malloc_in_use() - gc_before
        assert codes == {4: 10000}, codes  # all DEADLINE_EXCEEDED
        assert server.requests == [], "a request was sent past the server's stream limit"
        # 10,000 leaked calls were ~11 MB; allow noise of a few hundred bytes per batch.
        print("malloc in use over 10,000 queued timeouts: %+d bytes" % growth)
        assert growth < 256 * 1024, "malloc in use grew by %d bytes over 10,000 calls" % growth
    finally:
        server.stop()


def test_queued_call_starts_when_the_server_raises_its_stream_limit(open_channel):
    server = RawH2Server(max_concurrent_streams=0)
    try:
        ch = open_channel(server.target)
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("out", call(ch, timeout=5.0)))
        t.start()
        assert wait_until(lambda: server.h2_connections, 3.0)
        time.sleep(0.3)  # the call is queued on the connection by now
        assert server.requests == []
        server.h2_connections[0].update_settings(MAX_CONCURRENT_STREAMS=10)
        t.join(HANG_LIMIT)
        assert result["out"].code == "OK" and result["out"].response == GOOD_REPLY, result
    finally:
        server.stop()


def test_queued_streaming_call_cancelled_frees_its_place(open_channel):
    server = RawH2Server(max_concurrent_streams=0)
    try:
        ch = open_channel(server.target)
        out = expect_stream_status(ch, "DEADLINE_EXCEEDED", timeout=0.3)
        assert out.elapsed < 2.0, out
        calls = [ch.stream(METHOD, timeout=10) for _ in range(50)]
        for c in calls:
            c.cancel()
        for c in calls:
            assert c.wait(3)
            assert getattr(c.code(), "name", c.code()) == "CANCELLED"
            c.close()
        assert server.requests == []
    finally:
        server.stop()


# -- 14. requests too large to send (issue 15, section 5) -------------------------------------------

BIG_REQUESTS = {
    "64KiB-metadata-value": dict(metadata=[("x-big", "v" * 65536)]),
    "64KiB-metadata-key": dict(metadata=[("k" * 65536, "v")]),
    "10000-metadata-entries": dict(metadata=[("x-m%d" % i, "v") for i in range(10000)]),
    "1MB-method": dict(method="/" + "m" * (1 << 20)),
}


@pytest.mark.parametrize("kind", sorted(BIG_REQUESTS))
def test_request_too_large_to_send_unary(make_server, open_channel, kind):
    # grpcio: RESOURCE_EXHAUSTED against a grpcio server (grpcio 1.85 against this
    # h2 server: DEADLINE_EXCEEDED). HTTP/2 (nghttp2) refuses the header block
    # locally; it used to be reported as the server's REFUSED_STREAM after a
    # transparent retry (UNAVAILABLE, inviting retries that all fail).
    server = make_server()
    ch = open_channel(server.target)
    expect_ok(ch, server)  # connected
    args = BIG_REQUESTS[kind]
    t0 = time.monotonic()
    try:
        run_with_timeout(ch.unary, HANG_LIMIT, args.get("method", METHOD), REQUEST, timeout=5,
                         metadata=args.get("metadata"))
        pytest.fail("a request too large to send succeeded")
    except Exception as exc:
        if not hasattr(exc, "status_code"):
            raise
        assert exc.status_code.name == "RESOURCE_EXHAUSTED", (exc.status_code, exc.details())
        assert "65536" in exc.details() and "by the server" not in exc.details(), exc.details()
    assert time.monotonic() - t0 < 2.0
    assert len(server.requests) == 1, "the oversized request reached the server, or was retried"
    expect_ok(ch, server)  # the connection is fine


@pytest.mark.parametrize("kind", ["64KiB-metadata-value", "1MB-method"])
def test_request_too_large_to_send_streaming(make_server, open_channel, kind):
    server = make_server()
    ch = open_channel(server.target)
    expect_ok(ch, server)
    args = BIG_REQUESTS[kind]
    out = expect_stream_status(ch, "RESOURCE_EXHAUSTED", details="65536", metadata=args.get("metadata"),
                               method=args.get("method", METHOD))
    assert "by the server" not in out.details
    assert len(server.requests) == 1
    expect_ok(ch, server)


# -- a single-response call that ends OK without its response ----------------------------


def test_client_streaming_ok_without_response_is_internal(make_server, open_channel):
    # grpcio: a call with one response that ends OK without it failed (INTERNAL); lbchannel
    # says so on the blocking call, the future and lbchannel.aio alike.
    import asyncio

    import lbchannel.aio

    server = make_server(handler=respond(data=()))
    channel = open_channel(server.target)
    method = channel.stream_unary(METHOD)
    for run in (lambda: method(iter([b"a", b"b"]), timeout=3),
                lambda: method.future(iter([b"a"]), timeout=3).result(5)):
        with pytest.raises(lbchannel.RpcError) as info:
            run()
        assert info.value.status_code == lbchannel.StatusCode.INTERNAL
        assert "without a response" in info.value.details()

    async def aio_call():
        async with lbchannel.aio.Channel(server.target) as ch:
            with pytest.raises(lbchannel.aio.AioRpcError) as info:
                await ch.stream_unary(METHOD)(iter([b"a"]), timeout=3)
            return info.value

    err = asyncio.run(asyncio.wait_for(aio_call(), 10))
    assert err.status_code == lbchannel.StatusCode.INTERNAL and "without a response" in err.details()
