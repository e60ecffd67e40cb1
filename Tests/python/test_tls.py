"""TLS against real peers: grpcio servers with ssl_server_credentials (one requiring
client certificates) behind a dnsmasq name, certificates made at test time with the
``openssl`` command (tls_certs.py). Every failure names its cause in the RPC status,
the endpoint's last error and the log callback."""

import os
from pathlib import Path
import shutil
import socket
import ssl
import subprocess
import threading
import time

import grpc
import pytest

import tls_certs
from interop_support import start_interop_servers
from lbtest_support import Backend, BackendSet, Dnsmasq, HOSTS, free_port, wait_until
from test_interop import _stream_request

WHOAMI = "/lbtest.Test/Whoami"
FDX = "/grpc.testing.TestService/FullDuplexCall"
LONE_HOST = "127.0.0.5"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The certificates of tls_certs.make_pki."""
    return tls_certs.make_pki(tmp_path_factory.mktemp("pki"))


def _tls_env(pki, cert="server", client_ca=None, extra=None):
    env = {"LBTEST_TLS_CERT": str(pki / (cert + ".pem")), "LBTEST_TLS_KEY": str(pki / (cert + ".key"))}
    if client_ca:
        env["LBTEST_TLS_CLIENT_CA"] = str(pki / (client_ca + ".pem"))
    env.update(extra or {})
    return env


@pytest.fixture
def dns(tmp_path):
    """A dnsmasq for ``svc.test``; ``dns.point(ips)`` sets its answer."""
    server = Dnsmasq(tmp_path)
    server.start()

    def point(ips):
        server.set_hosts([(ip, "svc.test") for ip in ips])

    server.point = point
    yield server
    server.stop()


def _target(dns, port):
    return "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, port)


@pytest.fixture
def lone(pki, gen_dir, dns):
    """``lone(cert=..., client_ca=...)``: one TLS backend on 127.0.0.5 named by svc.test;
    returns ``(backend, target)``."""
    started = []

    def start(cert="server", client_ca=None, plaintext=False, extra=None):
        port = free_port((LONE_HOST,))
        env = dict(extra or {}) if plaintext else _tls_env(pki, cert, client_ca, extra)
        b = Backend("%s:%d" % (LONE_HOST, port), "lone", gen_dir, env).start()
        started.append(b)
        dns.point([LONE_HOST])
        return b, _target(dns, port)

    yield start
    for b in started:
        b.stop()


def _creds(lbchannel, pki, roots="ca", client=None):
    kw = {"root_certificates": (pki / (roots + ".pem")).read_bytes()}
    if client:
        kw["certificate_chain"] = (pki / (client + ".pem")).read_bytes()
        kw["private_key"] = (pki / (client + ".key")).read_bytes()
    return lbchannel.ssl_channel_credentials(**kw)


class Logs:
    """A log callback collecting lines."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def __call__(self, level, message):
        with self.lock:
            self.lines.append(message)

    def has(self, *fragments):
        with self.lock:
            return any(all(f in line for f in fragments) for line in self.lines)


def _fails_unavailable(ch, logs, *fragments):
    """One call ends UNAVAILABLE naming every fragment; so do the endpoint's last
    error and a log line. Returns the status message."""
    with pytest.raises(grpc.RpcError) as info:
        ch.unary(WHOAMI, b"", timeout=10)
    err = info.value
    assert err.code() == grpc.StatusCode.UNAVAILABLE, err
    for f in fragments:
        assert f in err.details(), (f, err.details())
    last = ch.endpoints()[0]["last_error"] or ""
    for f in fragments:
        assert f in last, (f, last)
    assert wait_until(lambda: logs.has(*fragments), 5), logs.lines
    return err.details()


# -- a balanced TLS channel ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_backends(pki, gen_dir):
    bs = BackendSet(gen_dir, env=_tls_env(pki)).start()
    yield bs
    bs.stop()


def test_balanced_tls_channel_over_three_backends(lbchannel, pki, tls_backends, dns):
    dns.point(HOSTS)
    port = int(tls_backends[0].address.rsplit(":", 1)[1])
    with lbchannel.secure_channel(_target(dns, port), _creds(lbchannel, pki), lb_policy="round_robin") as ch:
        assert wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 3 or
                          ch.unary(WHOAMI, b"", timeout=5) is None, 10)
        names = {ch.unary(WHOAMI, b"", timeout=5).decode() for _ in range(30)}
        assert names == {"b1", "b2", "b3"}
        echo = ch.unary("/lbtest.Test/Echo", b"x" * 100_000, timeout=5)
        assert echo == b"x" * 100_000
        for e in ch.endpoints():
            assert e["tls"]["full_handshakes"] >= 1, e
            assert e["last_error"] is None, e


def test_tls_channel_follows_dns_churn(lbchannel, pki, tls_backends, dns):
    from lbtest_support import wait_only

    dns.point(HOSTS[:2])
    port = int(tls_backends[0].address.rsplit(":", 1)[1])
    with lbchannel.secure_channel(_target(dns, port), _creds(lbchannel, pki), lb_policy="round_robin",
                                  discovery_interval_ms=200) as ch:
        assert set(wait_only(ch, {"b1", "b2"}, timeout=10)) == {"b1", "b2"}
        dns.point(HOSTS[1:])  # b1 leaves, b3 joins: verified against svc.test like the others
        assert set(wait_only(ch, {"b2", "b3"}, timeout=10)) == {"b2", "b3"}
        e3 = [e for e in ch.endpoints() if e["address"] == tls_backends[2].address][0]
        assert e3["tls"]["full_handshakes"] == 1 and e3["last_error"] is None, e3


def test_tls_grpc_stubs_and_metadata(lbchannel, pki, tls_backends, dns, pb):
    lbtest_pb2, lbtest_pb2_grpc = pb
    dns.point(HOSTS)
    port = int(tls_backends[0].address.rsplit(":", 1)[1])
    with lbchannel.secure_channel(_target(dns, port), _creds(lbchannel, pki)) as ch:
        stub = lbtest_pb2_grpc.GreeterStub(ch)
        reply = stub.SayHello(lbtest_pb2.HelloRequest(name="tls"), timeout=5)
        assert reply.message.startswith("Hello, tls from b")
        response, call = ch.unary_unary("/lbtest.Test/Echo").with_call(
            b"m", metadata=[("x-tls", "yes")], timeout=5)
        assert response == b"m"
        assert ("x-tls", "yes") in list(call.initial_metadata())


@pytest.fixture(scope="module")
def tls_interop(pki, interop_pb):
    yield from start_interop_servers(env=_tls_env(pki))


def test_tls_streaming_over_three_interop_servers(lbchannel, pki, tls_interop, interop_pb):
    pb = interop_pb[1]
    target = tls_interop.target
    with lbchannel.Channel(target, tls=True, tls_ca_file=str(pki / "ca.pem"),
                           tls_server_name="svc.test", lb_policy="round_robin") as ch:
        servers = set()
        for _ in range(6):
            with ch.stream(FDX, timeout=10) as call:
                for size in (10, 70_000, 3):
                    call.send(_stream_request(pb, size).SerializeToString())
                    raw = call.recv(timeout=10)
                    assert len(pb.StreamingOutputCallResponse.FromString(raw).payload.body) == size
                call.close_send()
                assert call.recv(timeout=10) is None
                assert call.code() == grpc.StatusCode.OK
                servers.add(dict(call.trailing_metadata()).get("x-lbtest-server"))
        assert servers == {"s1", "s2", "s3"}


def test_aio_secure_channel(lbchannel, pki, tls_backends, dns):
    import asyncio
    import lbchannel.aio

    dns.point(HOSTS)
    port = int(tls_backends[0].address.rsplit(":", 1)[1])

    async def main():
        async with lbchannel.aio.secure_channel(_target(dns, port), _creds(lbchannel, pki)) as ch:
            replies = await asyncio.gather(*(ch.unary(WHOAMI, b"", timeout=5) for _ in range(12)))
            return {r.decode() for r in replies}

    assert asyncio.run(main()) <= {"b1", "b2", "b3"}


# -- trust and names ---------------------------------------------------------------------


def test_ca_file_and_ca_dir_options(lbchannel, pki, lone, tmp_path):
    _, target = lone()
    with lbchannel.Channel(target, tls=True, tls_ca_file=str(pki / "ca.pem")) as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    shutil.copy(pki / "ca.pem", cadir / "ca.pem")
    subprocess.run(["openssl", "rehash", str(cadir)], check=True)
    with lbchannel.Channel(target, tls=True, tls_ca_dir=str(cadir)) as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"


def test_untrusted_ca(lbchannel, pki, lone):
    _, target = lone()
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki, roots="rogue-ca"), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "certificate verify failed", "unable to get local issuer certificate")


def test_system_roots_do_not_trust_the_test_ca(lbchannel, pki, lone):
    _, target = lone()
    logs = Logs()
    with lbchannel.Channel(target, tls=True, log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "certificate verify failed", "unable to get local issuer certificate")


def test_wrong_host_name(lbchannel, pki, lone):
    _, target = lone(cert="other")
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "certificate verify failed", "hostname mismatch", '"svc.test"')


def test_expired_certificate(lbchannel, pki, lone):
    _, target = lone(cert="expired")
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "certificate verify failed", "certificate has expired")


def test_ip_target_verifies_the_ip_unless_a_server_name_is_given(lbchannel, pki, lone):
    backend, _ = lone()
    target = "ipv4:" + backend.address
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "IP address mismatch", '"%s"' % LONE_HOST)
    with lbchannel.secure_channel(target, _creds(lbchannel, pki),
                                  options=[("grpc.ssl_target_name_override", "svc.test")]) as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"


def test_server_name_override_replaces_the_target_name(lbchannel, pki, lone):
    _, target = lone(cert="other")  # certificate for other.test, DNS name svc.test
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), tls_server_name="other.test") as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"


# -- wrong kind of server -------------------------------------------------------------------


def test_plaintext_server_on_a_tls_channel(lbchannel, pki, lone):
    _, target = lone(plaintext=True)
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "TLS handshake", "plaintext server on a TLS channel")


def test_tls_server_on_a_plaintext_channel(lbchannel, pki, lone):
    _, target = lone()
    logs = Logs()
    with lbchannel.insecure_channel(target, log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "TLS server on a plaintext channel")


class NoH2Server:
    """A TLS server (Python ssl) whose ALPN offers only http/1.1."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.sock = socket.create_server((LONE_HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
            except (OSError, ssl.SSLError):
                pass

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


def test_server_without_alpn_h2(lbchannel, pki, dns):
    server = NoH2Server(pki)
    try:
        dns.point([LONE_HOST])
        logs = Logs()
        with lbchannel.secure_channel(_target(dns, server.port), _creds(lbchannel, pki), log_callback=logs) as ch:
            _fails_unavailable(ch, logs, 'did not select the ALPN protocol "h2"')
    finally:
        server.stop()


# -- mutual TLS -------------------------------------------------------------------------------


def test_mtls_with_client_certificate_files_and_pem(lbchannel, pki, lone):
    _, target = lone(client_ca="ca")
    with lbchannel.secure_channel(target, _creds(lbchannel, pki, client="client")) as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"
    with lbchannel.Channel(target, tls=True, tls_ca_file=str(pki / "ca.pem"),
                           tls_cert_file=str(pki / "client.pem"), tls_key_file=str(pki / "client.key")) as ch:
        assert ch.unary(WHOAMI, b"", timeout=10) == b"lone"


def test_mtls_server_rejects_a_missing_client_certificate(lbchannel, pki, lone):
    _, target = lone(client_ca="ca")
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "the server rejected the client certificate")


def test_mtls_server_rejects_an_untrusted_client_certificate(lbchannel, pki, lone):
    _, target = lone(client_ca="ca")
    logs = Logs()
    with lbchannel.secure_channel(target, _creds(lbchannel, pki, client="rogue-client"), log_callback=logs) as ch:
        _fails_unavailable(ch, logs, "the server rejected the client certificate")


# -- options that cannot work fail lbc_channel_open -------------------------------------------


def test_open_fails_for_unusable_tls_options(lbchannel, pki, tmp_path):
    target = "ipv4:127.0.0.5:1"
    cases = [
        (dict(tls=True, tls_key_file=str(pki / "client.key")), ["tls_key_file", "needs its certificate"]),
        (dict(tls=True, tls_cert_file=str(pki / "client.pem")), ["tls_cert_file", "needs its private key"]),
        (dict(tls=True, tls_ca_file=str(tmp_path / "missing.pem")),
         ["tls_ca_file", str(tmp_path / "missing.pem"), "No such file or directory"]),
        (dict(tls=True, tls_ca_file=str(pki / "ca.key")), ["tls_ca_file", "no certificate found"]),
        (dict(tls=True, tls_cert_file=str(pki / "client.pem"), tls_key_file=str(tmp_path / "nokey.pem")),
         ["tls_key_file", str(tmp_path / "nokey.pem"), "No such file or directory"]),
        (dict(tls=True, tls_cert_file=str(pki / "client.pem"), tls_key_file=str(pki / "client.pem")),
         ["tls_key_file", "no usable private key"]),
        (dict(tls=True, tls_cert_file=str(pki / "client.pem"), tls_key_file=str(pki / "server.key")),
         ["does not match the client certificate"]),
        (dict(tls=True, tls_ca_dir=str(tmp_path / "nodir")), ["tls_ca_dir", "No such file or directory"]),
        (dict(tls_ca_file=str(pki / "ca.pem")), ["tls_ca_file", "TLS is off"]),
    ]
    for options, fragments in cases:
        with pytest.raises(lbchannel.InvalidArgumentError) as info:
            lbchannel.Channel(target, **options)
        for f in fragments:
            assert f in str(info.value), (options, f, str(info.value))
    with pytest.raises(ValueError):
        lbchannel.ssl_channel_credentials(private_key=(pki / "client.key").read_bytes())
    with pytest.raises(lbchannel.InvalidArgumentError):
        lbchannel.Channel(target, tls=True, tls_ca_pem="not a certificate")


# -- rotation ----------------------------------------------------------------------------------


def test_reload_tls_picks_up_replaced_files_and_keeps_connections(lbchannel, pki, gen_dir, dns, tmp_path):
    port = free_port(HOSTS[:2])
    b1 = Backend("%s:%d" % (HOSTS[0], port), "b1", gen_dir, _tls_env(pki)).start()
    b2 = Backend("%s:%d" % (HOSTS[1], port), "b2", gen_dir, _tls_env(pki)).start()
    try:
        dns.point(HOSTS[:2])
        ca_file = tmp_path / "trust.pem"
        shutil.copy(pki / "ca.pem", ca_file)
        logs = Logs()
        with lbchannel.Channel(_target(dns, port), tls=True, tls_ca_file=str(ca_file), lb_policy="round_robin",
                               backoff_initial_ms=100, backoff_max_ms=300, log_callback=logs) as ch:
            assert wait_until(lambda: {ch.unary(WHOAMI, b"", timeout=5) for _ in range(6)} == {b"b1", b"b2"}, 10)
            # Rotation: the CA changes; b2 comes back with a certificate from the new CA.
            shutil.copy(pki / "rogue-ca.pem", ca_file)
            b2.stop()
            b2.env = _tls_env(pki, cert="server-rogue")
            b2.start()

            def b2_rejected():
                e = [x for x in ch.endpoints() if x["address"] == b2.address][0]
                return "unable to get local issuer certificate" in (e["last_error"] or "")

            assert wait_until(b2_rejected, 10), ch.endpoints()  # old trust: refused
            ch.reload_tls()
            assert wait_until(lambda: {ch.unary(WHOAMI, b"", timeout=5) for _ in range(6)} == {b"b1", b"b2"}, 10), \
                ch.endpoints()
            # b1's connection predates the reload and still serves.
            e1 = [x for x in ch.endpoints() if x["address"] == b1.address][0]
            assert e1["tls"]["full_handshakes"] == 1 and e1["connect_failures"] == 0, e1
            assert logs.has("TLS files reloaded")
            # A reload that cannot read its files changes nothing and says why.
            os.remove(ca_file)
            with pytest.raises(lbchannel.InvalidArgumentError, match="No such file or directory"):
                ch.reload_tls()
            assert ch.unary(WHOAMI, b"", timeout=5) in (b"b1", b"b2")
        with lbchannel.Channel("ipv4:127.0.0.5:1") as plain:
            with pytest.raises(lbchannel.InvalidArgumentError, match="does not use TLS"):
                plain.reload_tls()
    finally:
        b1.stop()
        b2.stop()


# -- session resumption -------------------------------------------------------------------------


def _handshakes(ch):
    return ch.endpoints()[0]["tls"]


@pytest.mark.parametrize("resumption", [True, False])
def test_session_resumption_on_reconnect(lbchannel, pki, lone, resumption):
    # The backend sends GOAWAY to every connection after 300 ms: the channel reconnects
    # to the same server process, which accepts its session ticket.
    _, target = lone(extra={"LBTEST_MAX_CONNECTION_AGE_MS": "300"})
    with lbchannel.secure_channel(target, _creds(lbchannel, pki), tls_session_resumption=resumption) as ch:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert ch.unary(WHOAMI, b"", timeout=5) == b"lone"
            h = _handshakes(ch)
            if h["full_handshakes"] + h["resumed_handshakes"] >= 4:
                break
            time.sleep(0.05)
        h = _handshakes(ch)
        assert h["full_handshakes"] + h["resumed_handshakes"] >= 4, h
        if resumption:
            assert h["full_handshakes"] == 1 and h["resumed_handshakes"] >= 3, h
            assert 0 < h["last_resumed_handshake_us"], h
            # Connect to READY contains the handshake.
            assert h["last_resumed_ready_us"] >= h["last_resumed_handshake_us"] > 0, h
            assert h["last_full_ready_us"] >= h["last_full_handshake_us"] > 0, h
            print("\nTLS handshake (ClientHello to Finished): full %d us, resumed %d us"
                  % (h["last_full_handshake_us"], h["last_resumed_handshake_us"]))
        else:
            assert h["resumed_handshakes"] == 0, h


# -- the README's TLS examples run as printed ---------------------------------------------------


def _readme_block(heading, language):
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split(heading, 1)[1]
    return section.split("```%s\n" % language, 1)[1].split("```", 1)[0]


def _example_dir(pki, tmp_path):
    for name in ("ca.pem", "client.pem", "client.key"):
        shutil.copy(pki / name, tmp_path / name)
    return tmp_path


def test_readme_c_tls_example(library_path, pki, lone, tmp_path):
    backend, _ = lone(client_ca="ca")
    prefix = Path(library_path).resolve().parents[1]
    include = prefix / "include"
    if not (include / "lbchannel.h").exists():
        include = Path(__file__).resolve().parents[2] / "include"
    source = tmp_path / "tls_example.c"
    source.write_text(_readme_block("### TLS in C", "c"))
    exe = tmp_path / "tls_example"
    libdir = Path(library_path).resolve().parent
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(exe), str(source), "-I", str(include),
                    str(Path(library_path).resolve()), "-Wl,-rpath," + str(libdir)], check=True)
    run = subprocess.run([str(exe), "ipv4:" + backend.address], cwd=_example_dir(pki, tmp_path),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "%s: OK lone" % backend.address
    # Without the files the open fails and says which file.
    os.remove(tmp_path / "ca.pem")
    run = subprocess.run([str(exe), "ipv4:" + backend.address], cwd=tmp_path, capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 1 and 'tls_ca_file "ca.pem": cannot open' in run.stderr, run.stderr


def test_readme_python_tls_example(lbchannel, pki, lone, tmp_path, capsys):
    backend, _ = lone(client_ca="ca")
    code = _readme_block("### TLS in Python", "python").replace("127.0.0.2:50443", backend.address)
    cwd = os.getcwd()
    os.chdir(_example_dir(pki, tmp_path))
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "b'lone'"
    assert out[1].startswith("{'full_handshakes': 1")


# -- what goes on the wire -------------------------------------------------------------------


def test_scheme_https_authority_and_sni(lbchannel, pki, dns):
    from rawh2_server import RawH2Server

    names = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.set_alpn_protocols(["h2"])
    ctx.sni_callback = lambda sock, name, c: names.append(name)
    with RawH2Server(host=LONE_HOST, ssl_context=ctx) as server:
        dns.point([LONE_HOST])
        with lbchannel.secure_channel(_target(dns, server.port), _creds(lbchannel, pki)) as ch:
            assert ch.unary("/pkg.Svc/M", b"hi", timeout=10) == b"ok:hi"
        with lbchannel.secure_channel(_target(dns, server.port), _creds(lbchannel, pki),
                                      authority="explicit.example:1") as ch:
            assert ch.unary("/pkg.Svc/M", b"hi", timeout=10) == b"ok:hi"
        headers = [dict(h) for _, _, h in server.requests]
    assert names == ["svc.test", "svc.test"]  # SNI: the service host name, not 127.0.0.5
    assert headers[0][":scheme"] == "https"
    assert headers[0][":authority"] == "svc.test:%d" % server.port
    assert headers[1][":authority"] == "explicit.example:1"


def test_tls_handshake_counts_against_the_connect_timeout(lbchannel, pki):
    silent = socket.create_server((LONE_HOST, 0))  # accepts TCP, never answers TLS
    try:
        port = silent.getsockname()[1]
        logs = Logs()
        with lbchannel.secure_channel("ipv4:%s:%d" % (LONE_HOST, port), _creds(lbchannel, pki),
                                      tls_server_name="svc.test", connect_timeout_ms=300,
                                      log_callback=logs) as ch:
            t0 = time.monotonic()
            _fails_unavailable(ch, logs, "connect timeout after 300 ms: the TLS handshake with")
            assert time.monotonic() - t0 < 5
    finally:
        silent.close()


def test_tls12_server_and_min_version(lbchannel, pki, dns):
    from rawh2_server import RawH2Server

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.set_alpn_protocols(["h2"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with RawH2Server(host=LONE_HOST, ssl_context=ctx) as server:
        dns.point([LONE_HOST])
        with lbchannel.secure_channel(_target(dns, server.port), _creds(lbchannel, pki)) as ch:
            assert ch.unary("/pkg.Svc/M", b"v12", timeout=10) == b"ok:v12"
        logs = Logs()
        with lbchannel.secure_channel(_target(dns, server.port), _creds(lbchannel, pki), tls_min_version="1.3",
                                      log_callback=logs) as ch:
            _fails_unavailable(ch, logs, "TLS handshake with", "protocol version")
