"""Large messages over real sockets: request bytes go out without extra copies (NGHTTP2
DATA frames under NO_COPY, borrowed from the call's buffer and gathered with sendmsg),
received messages are assembled in place. Against grpcio backends
(Tests/python/backend.py), plaintext and TLS, through a proxy that reads slowly (so
the client's socket fills and writes end mid-frame), with cancellation and freeing
while frames wait for the socket, and retries that resend buffered bodies.

Every reply is compared byte for byte with what was sent (random bytes, so a frame
sent twice, lost or out of order cannot go unnoticed)."""

import random
import socket
import threading

import pytest

from lbtest_support import wait_all_ready
from test_tls import _creds, _target as _tls_target, _tls_env, dns, pki  # noqa: F401 (fixtures)
from lbtest_support import BackendSet, HOSTS

ECHO = "/lbtest.Test/Echo"
ECHO_STREAM = "/lbtest.Test/EchoStream"
RETRY = dict(retry_max_attempts=3, retry_initial_backoff_ms=5, retry_max_backoff_ms=20,
             retry_status_codes="UNAVAILABLE")
SIZES = (16383, 16384, 16385, 65536 + 7, 1 << 20, 3 << 20)


def _bytes(n, seed):
    return random.Random(seed).randbytes(n)


def _echo_stream(ch, messages, timeout=30):
    """One EchoStream call sending ``messages``; the replies without the backend's prefix."""
    with ch.stream(ECHO_STREAM, timeout=timeout) as call:
        for m in messages:
            call.send(m)
        call.close_send()
        replies = list(call)
        assert call.code().name == "OK", (call.code(), call.details())
    return [r.split(b":", 1)[1] for r in replies], call


class SlowProxy:
    """A TCP proxy to ``backend`` that reads from the client in 4 KiB pieces with a
    pause after each (small receive buffer): the client's socket fills up, so its
    writes are partial and end anywhere, inside frame headers and payloads."""

    def __init__(self, backend):
        host, port = backend.rsplit(":", 1)
        self.backend = (host, int(port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.backend)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    @staticmethod
    def _pump(src, dst, slow):
        import time
        try:
            while True:
                data = src.recv(4096 if slow else 1 << 16)
                if not data:
                    break
                dst.sendall(data)
                if slow:
                    time.sleep(0.0002)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()
        for s in self.sockets:
            s.close()


def test_unary_echo_of_large_messages_is_byte_exact(backends, open_channel):
    ch = open_channel(backends.target, lb_policy="round_robin", max_receive_message_size=8 << 20)
    for i, size in enumerate(SIZES):
        data = _bytes(size, i)
        assert ch.unary(ECHO, data, timeout=30) == data, size


def test_stream_of_large_and_small_messages_keeps_order(backends, open_channel):
    ch = open_channel(backends.target, lb_policy="round_robin", max_receive_message_size=8 << 20)
    messages = [_bytes(1 << 20, 1), b"s", _bytes(700_000, 2), b"", _bytes(1_500_000, 3)] + \
               [_bytes(n, 10 + n) for n in range(1, 40)]
    for _ in range(3):
        replies, _ = _echo_stream(ch, messages)
        assert replies == messages


def test_concurrent_large_calls_share_one_connection(backends, open_channel):
    ch = open_channel("ipv4:" + backends[0].address, max_receive_message_size=8 << 20)
    errors = []

    def worker(k):
        try:
            for j in range(3):
                data = _bytes(600_000 + 1000 * k + j, 100 * k + j)
                assert ch.unary(ECHO, data, timeout=30) == data
            replies, _ = _echo_stream(ch, [_bytes(300_000, k), _bytes(5, k), _bytes(200_000, k + 1)])
            assert replies == [_bytes(300_000, k), _bytes(5, k), _bytes(200_000, k + 1)]
        except Exception as exc:  # reported on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert ch.endpoints()[0]["last_error"] is None


def test_partial_writes_through_a_slow_reader(backends, open_channel):
    proxy = SlowProxy(backends[0].address)
    try:
        ch = open_channel("ipv4:" + proxy.address, max_receive_message_size=8 << 20)
        for i, size in enumerate((1 << 20, 3 << 20, 70_001)):
            data = _bytes(size, 50 + i)
            assert ch.unary(ECHO, data, timeout=60) == data, size
        messages = [_bytes(900_000, 60), b"x", _bytes(1_200_000, 61)]
        assert _echo_stream(ch, messages, timeout=60)[0] == messages
        assert ch.endpoints()[0]["last_error"] is None
    finally:
        proxy.close()


@pytest.mark.parametrize("how", ["cancel", "free"])
def test_cancel_or_free_while_large_frames_wait_for_the_socket(backends, open_channel, how):
    """The call goes away while its DATA frames are queued (borrowed) or announced to
    nghttp2: the bytes stay valid until written, or the stream is reset; either way
    the connection stays healthy and later calls on it are exact."""
    proxy = SlowProxy(backends[0].address)
    try:
        ch = open_channel("ipv4:" + proxy.address, max_receive_message_size=8 << 20,
                          stream_send_buffer_bytes=8 << 20)
        warm = _bytes(1000, 0)
        assert ch.unary(ECHO, warm, timeout=30) == warm
        for i in range(6):
            call = ch.stream(ECHO_STREAM, timeout=30)
            call.send(_bytes(2 << 20, 70 + i))
            call.send(_bytes(1 << 20, 80 + i))
            if how == "cancel":
                call.cancel()
                assert call.code().name == "CANCELLED"
            call.close()
        data = _bytes(1 << 20, 99)
        assert ch.unary(ECHO, data, timeout=60) == data
        replies = _echo_stream(ch, [data, b"after"], timeout=60)[0]
        assert replies == [data, b"after"]
        assert ch.endpoints()[0]["last_error"] is None, ch.endpoints()[0]
    finally:
        proxy.close()


def test_retried_calls_resend_their_buffered_bodies(make_backends, open_channel):
    backends = make_backends([{"LBTEST_FAIL_ALL": "14"}, {}, {}])
    ch = open_channel("ipv4:" + ",".join(b.address for b in backends), lb_policy="round_robin",
                      retry_buffer_bytes=4 << 20, max_receive_message_size=8 << 20, **RETRY)
    assert wait_all_ready(ch, 3, timeout=10), ch.endpoints()
    retried = 0
    for i in range(9):
        data = _bytes(1 << 20, 200 + i)
        reply, call = ch.unary_with_call(ECHO, data, timeout=30)
        assert reply == data
        messages = [_bytes(300_000, 300 + i), _bytes(3, i), _bytes(400_000, 400 + i)]
        replies, scall = _echo_stream(ch, messages)
        assert replies == messages
        retried += (call.attempts > 1) + (scall.attempts > 1)
    assert retried >= 3, retried


@pytest.fixture(scope="module")
def tls_backends(pki, gen_dir):  # noqa: F811
    bs = BackendSet(gen_dir, env=_tls_env(pki)).start()
    yield bs
    bs.stop()


def test_large_messages_over_tls(lbchannel, pki, tls_backends, dns):  # noqa: F811
    dns.point(HOSTS)
    port = int(tls_backends[0].address.rsplit(":", 1)[1])
    with lbchannel.secure_channel(_tls_target(dns, port), _creds(lbchannel, pki), lb_policy="round_robin",
                                  max_receive_message_size=8 << 20) as ch:
        for i, size in enumerate(SIZES):
            data = _bytes(size, 500 + i)
            assert ch.unary(ECHO, data, timeout=30) == data, size
        messages = [_bytes(1 << 20, 600), b"t", _bytes(2_000_000, 601), _bytes(17, 602)]
        assert _echo_stream(ch, messages)[0] == messages
        call = ch.stream(ECHO_STREAM, timeout=30)
        call.send(_bytes(3 << 20, 603))
        call.cancel()
        call.close()
        data = _bytes(1 << 20, 604)
        assert ch.unary(ECHO, data, timeout=30) == data
        for e in ch.endpoints():
            assert e["last_error"] is None, e
