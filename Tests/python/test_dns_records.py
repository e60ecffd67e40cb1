"""DNS record features beyond A/AAAA re-resolution: SRV records (dns_srv), honouring
the records' TTL (dns_use_ttl, dns_ttl_floor_ms), and the system resolver
(dns:///localhost:PORT through /etc/hosts).

Real components: grpcio backends and dnsmasq started here.
"""

import time

import pytest

from lbtest_support import Backend, Dnsmasq, count_names, free_port, wait_until

WHOAMI = "/lbtest.Test/Whoami"


def _names(channel, n=60):
    return count_names(channel, n)


@pytest.fixture
def two_ports(gen_dir):
    """Two backends on 127.0.0.2 with different ports (SRV records carry ports)."""
    started = []
    try:
        for name in ("s1", "s2"):
            b = Backend("127.0.0.2:%d" % free_port(("127.0.0.2",)), name, gen_dir=gen_dir)
            b.start()
            started.append(b)
        yield started
    finally:
        for b in started:
            b.stop()


def test_srv_records_give_hosts_and_ports(lbchannel, two_ports, tmp_path):
    s1, s2 = two_ports
    port1, port2 = (int(b.address.rsplit(":", 1)[1]) for b in (s1, s2))
    dns = Dnsmasq(tmp_path, extra_args=[
        "--srv-host=_grpc._tcp.svc.test,one.svc.test,%d" % port1,
        "--srv-host=_grpc._tcp.svc.test,two.svc.test,%d" % port2,
    ])
    dns.start([("127.0.0.2", "one.svc.test"), ("127.0.0.2", "two.svc.test")])
    try:
        target = "dns://127.0.0.1:%d/_grpc._tcp.svc.test" % dns.port
        with lbchannel.Channel(target, dns_srv=True, lb_policy="round_robin") as ch:
            assert wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 2, 10), ch.endpoints()
            addresses = sorted(e["address"] for e in ch.endpoints())
            assert addresses == sorted([s1.address, s2.address])
            counts = _names(ch)
            assert counts == {"s1": 30, "s2": 30}, counts
    finally:
        dns.stop()


def test_srv_name_without_records_is_an_empty_answer(lbchannel, tmp_path):
    dns = Dnsmasq(tmp_path).start([("127.0.0.2", "one.svc.test")])
    try:
        target = "dns://127.0.0.1:%d/_grpc._tcp.nothing.svc.test" % dns.port
        with lbchannel.Channel(target, dns_srv=True, discovery_interval_ms=200) as ch:
            assert wait_until(lambda: ch.stats()["discovery"]["resolutions"] >= 1, 5)
            disc = ch.stats()["discovery"]
            assert disc["last_result"] == "empty" and disc["empty_answers"] >= 1, disc
            assert ch.endpoints() == []
    finally:
        dns.stop()


@pytest.fixture
def backend_pair(gen_dir):
    """b1 on 127.0.0.2 and b2 on 127.0.0.3, same port."""
    port = free_port(("127.0.0.2", "127.0.0.3"))
    started = []
    try:
        for host, name in (("127.0.0.2", "b1"), ("127.0.0.3", "b2")):
            b = Backend("%s:%d" % (host, port), name, gen_dir=gen_dir)
            b.start()
            started.append(b)
        yield port, started
    finally:
        for b in started:
            b.stop()


def test_ttl_drives_re_resolution_when_asked(lbchannel, backend_pair, tmp_path):
    """With dns_use_ttl a 1 s TTL re-resolves long before a 60 s interval; without it, not."""
    port, _ = backend_pair
    dns = Dnsmasq(tmp_path, local_ttl=1).start([("127.0.0.2", "svc.test")])
    try:
        target = "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, port)
        with lbchannel.Channel(target, dns_use_ttl=True, dns_ttl_floor_ms=500,
                               discovery_interval_ms=60000, min_reresolution_interval_ms=60000) as honours, \
             lbchannel.Channel(target, discovery_interval_ms=60000,
                               min_reresolution_interval_ms=60000) as ignores:
            for ch in (honours, ignores):
                assert wait_until(lambda: _names(ch, 4) == {"b1": 4}, 10)
            dns.set_hosts([("127.0.0.3", "svc.test")])
            t0 = time.monotonic()
            assert wait_until(lambda: _names(honours, 4) == {"b2": 4}, 5), honours.endpoints()
            elapsed = time.monotonic() - t0
            print("[timing] TTL 1 s: DNS change -> traffic on the new backend %.2f s" % elapsed)
            assert elapsed < 3.0
            # The channel that ignores TTLs keeps the old answer until its 60 s interval.
            assert _names(ignores, 20) == {"b1": 20}
            assert ignores.stats()["discovery"]["resolutions"] == 1
    finally:
        dns.stop()


def test_ttl_floor_limits_re_resolution_rate(lbchannel, backend_pair, tmp_path):
    """A TTL of 0 s is clamped to dns_ttl_floor_ms: about one resolution per floor."""
    port, _ = backend_pair
    dns = Dnsmasq(tmp_path, local_ttl=0).start([("127.0.0.2", "svc.test")])
    try:
        target = "dns://127.0.0.1:%d/svc.test:%d" % (dns.port, port)
        with lbchannel.Channel(target, dns_use_ttl=True, dns_ttl_floor_ms=400,
                               discovery_interval_ms=60000) as ch:
            assert wait_until(lambda: ch.stats()["discovery"]["resolutions"] >= 1, 5)
            first = ch.stats()["discovery"]["resolutions"]
            time.sleep(2.0)
            made = ch.stats()["discovery"]["resolutions"] - first
            # 2 s / 400 ms = 5 (give or take scheduling); never a tight loop.
            assert 3 <= made <= 7, made
    finally:
        dns.stop()


def test_system_resolver_reads_etc_hosts(lbchannel, gen_dir):
    """dns:///localhost:PORT uses the system's resolver, which consults /etc/hosts."""
    port = free_port(("127.0.0.1",))
    b = Backend("127.0.0.1:%d" % port, "local", gen_dir=gen_dir)
    b.start()
    try:
        with lbchannel.Channel("dns:///localhost:%d" % port) as ch:
            assert ch.unary(WHOAMI, b"", timeout=5.0) == b"local"
            addresses = [e["address"] for e in ch.endpoints()]
            assert "127.0.0.1:%d" % port in addresses, addresses
            assert ch.stats()["discovery"]["kind"] == "dns"
    finally:
        b.stop()


def _free_port_v4_v6():
    """A TCP port free on both 127.0.0.2 and [::1]."""
    import socket

    for _ in range(50):
        port = free_port(("127.0.0.2",))
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind(("::1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no port free on both 127.0.0.2 and ::1")


def test_a_and_aaaa_records_both_become_endpoints(lbchannel, gen_dir, tmp_path):
    """A name with an A and an AAAA record gives an IPv4 and an IPv6 endpoint."""
    port = _free_port_v4_v6()
    v4 = Backend("127.0.0.2:%d" % port, "v4", gen_dir=gen_dir)
    v6 = Backend("[::1]:%d" % port, "v6", gen_dir=gen_dir)
    v4.start()
    v6.start()
    dns = Dnsmasq(tmp_path).start([("127.0.0.2", "dual.svc.test"), ("::1", "dual.svc.test")])
    try:
        target = "dns://127.0.0.1:%d/dual.svc.test:%d" % (dns.port, port)
        with lbchannel.Channel(target, lb_policy="round_robin") as ch:
            assert wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 2, 10), ch.endpoints()
            assert sorted(e["address"] for e in ch.endpoints()) == sorted(
                ["127.0.0.2:%d" % port, "[::1]:%d" % port])
            assert _names(ch, 40) == {"v4": 20, "v6": 20}
    finally:
        dns.stop()
        v4.stop()
        v6.stop()


def test_srv_weights_drive_weighted_round_robin(lbchannel, two_ports, tmp_path):
    # --srv-host=NAME,TARGET,PORT,PRIORITY,WEIGHT: weights 1 and 3.
    s1, s2 = two_ports
    port1, port2 = (int(b.address.rsplit(":", 1)[1]) for b in (s1, s2))
    dns = Dnsmasq(tmp_path, extra_args=[
        "--srv-host=_grpc._tcp.svc.test,one.svc.test,%d,0,1" % port1,
        "--srv-host=_grpc._tcp.svc.test,two.svc.test,%d,0,3" % port2,
    ])
    dns.start([("127.0.0.2", "one.svc.test"), ("127.0.0.2", "two.svc.test")])
    try:
        target = "dns://127.0.0.1:%d/_grpc._tcp.svc.test" % dns.port
        with lbchannel.Channel(target, dns_srv=True, lb_policy="weighted_round_robin") as ch:
            assert wait_until(lambda: sum(e["state"] == "READY" for e in ch.endpoints()) == 2, 10), ch.endpoints()
            weights = {e["address"]: e["weight"] for e in ch.endpoints()}
            assert weights == {s1.address: 1, s2.address: 3}, weights
            counts = count_names(ch, 400)
        assert abs(counts["s1"] - 100) <= 2 and abs(counts["s2"] - 300) <= 2, counts
    finally:
        dns.stop()
