"""Deterministic subsetting (``subset_size``, ``subset_client_id``): a channel over 50
endpoints connects to exactly ``subset_size`` of them, the same ones for the same id."""

import select
import socket
import threading
import time

from lbtest_support import wait_until


class _Listeners:
    """TCP listeners on 127.0.0.1 (one per port) that record which ports were connected to."""

    def __init__(self, count):
        self.socks = []
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            s.setblocking(False)
            self.socks.append(s)
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.connected = set()
        self.accepted = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            ready, _, _ = select.select(self.socks, [], [], 0.05)
            for s in ready:
                try:
                    conn, _ = s.accept()
                except OSError:
                    continue
                with self.lock:
                    self.connected.add(s.getsockname()[1])
                    self.accepted.append(conn)  # held open, never answered

    def seen(self):
        with self.lock:
            return set(self.connected)

    def reset(self):
        with self.lock:
            self.connected.clear()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks + self.accepted:
            s.close()


def test_channel_over_50_endpoints_connects_to_exactly_the_subset(lbchannel):
    listeners = _Listeners(50)
    try:
        target = "ipv4:" + ",".join("127.0.0.1:%d" % p for p in listeners.ports)
        options = dict(subset_size=5, subset_client_id="client-7", connect_timeout_ms=300, backoff_initial_ms=100)
        with lbchannel.Channel(target, **options) as ch:
            stats = ch.stats()
            ports = {int(e["address"].rsplit(":", 1)[1]) for e in stats["endpoints"]}
            assert len(ports) == 5, stats["endpoints"]
            assert stats["subset"] == {"size": 5, "discovered_endpoints": 50, "client_id": "client-7"}, stats["subset"]
            assert wait_until(lambda: listeners.seen() == ports, 5), (listeners.seen(), ports)
            time.sleep(1.0)  # reconnection attempts go to the same five, never elsewhere
            assert listeners.seen() == ports, (listeners.seen(), ports)
        listeners.reset()
        with lbchannel.Channel(target, **options) as ch:  # same id: same subset
            again = {int(e["address"].rsplit(":", 1)[1]) for e in ch.endpoints()}
        assert again == ports
        others = []
        for i in range(3):
            with lbchannel.Channel(target, subset_size=5, subset_client_id="other-%d" % i) as ch:
                others.append({int(e["address"].rsplit(":", 1)[1]) for e in ch.endpoints()})
        assert any(o != ports for o in others), (ports, others)
        with lbchannel.Channel(target, subset_size=5) as ch:  # random id by default
            stats = ch.stats()
        assert len(stats["endpoints"]) == 5 and stats["subset"]["client_id"] is None, stats
    finally:
        listeners.close()


def test_subset_options_are_checked(lbchannel):
    import pytest

    for key, value in (("subset_size", -1), ("subset_client_id", ""), ("subset_client_id", "a b")):
        with pytest.raises(lbchannel.InvalidArgumentError):
            lbchannel.Channel("ipv4:127.0.0.1:1", **{key: value})
