"""Connectivity without polling (lbc_channel_connectivity, lbc_channel_watch_connectivity)
against real grpcio backends: killed, restarted, pushed in and out of the set.

The watches are driven through ctypes directly (``lbchannel._native``), on a completion
queue of the test's own; ``Channel.connectivity()`` is the binding's getter.
"""

import ctypes
import time

from lbtest_support import wait_until


class Watch:
    """A connectivity watch on its own completion queue, recording every event."""

    def __init__(self, native, channel, flags=0, tag=7):
        self.n = native
        self.tag = tag
        self.cq = native.lbc_cq_p()
        assert native.lbc_cq_new(ctypes.byref(self.cq)) == 0
        self.watch = native.lbc_connectivity_watch_p()
        rc = native.lbc_channel_watch_connectivity(channel._handle, self.cq, tag, flags, ctypes.byref(self.watch))
        assert rc == 0, rc
        self.events = []  # dicts: state, old, address, flags
        self._buf = (native.lbc_event * 16)()

    def poll(self, timeout_ms):
        n = self.n.lbc_cq_poll(self.cq, self._buf, self.n.LBC_EVENT_SIZE, 16, timeout_ms)
        assert n >= 0, n
        names = self.n.CONNECTIVITY_NAMES
        for ev in self._buf[:n]:
            assert ev.kind == self.n.LBC_EVENT_CONNECTIVITY and ev.tag == self.tag
            address = None
            if ev.address:
                address = ctypes.string_at(ev.address).decode()
                self.n.lbc_free(ev.address)
            self.events.append(
                {"state": names[ev.state], "old": names[ev.old_state], "address": address, "flags": ev.flags}
            )
        return n

    def wait(self, predicate, timeout):
        """Poll until ``predicate(event)`` holds for a new event; returns it (None on timeout)."""
        end = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for ev in self.events[seen:]:
                if predicate(ev):
                    return ev
            seen = len(self.events)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.poll(int(left * 1000) + 1)

    def channel_events(self):
        return [e for e in self.events if not e["flags"] & self.n.LBC_CONNECTIVITY_ENDPOINT]

    def endpoint_events(self, address):
        return [e for e in self.events if e["address"] == address]

    def free(self):
        self.n.lbc_connectivity_watch_free(self.watch)
        self.n.lbc_cq_free(self.cq)


def channel_change(state):
    return lambda ev: ev["address"] is None and ev["state"] == state


def assert_continuous(events):
    """Each change starts where the previous one of the same subject ended."""
    last = {}
    for ev in events:
        key = ev["address"]
        if key in last and not ev["flags"] & 0x2:  # ADDED starts a new life
            assert ev["old"] == last[key], (ev, last[key])
        last[key] = ev["state"]


def test_channel_state_follows_backends_dying_and_returning(lbchannel, fresh_backends):
    from lbchannel import _native

    bs = fresh_backends
    ch = lbchannel.Channel(bs.target, backoff_initial_ms=100, backoff_max_ms=300, backoff_jitter=0)
    w = Watch(_native, ch, flags=_native.LBC_WATCH_ENDPOINTS)
    try:
        first = ch.connectivity()
        assert first in ("IDLE", "CONNECTING", "READY")
        if first != "READY":
            assert w.wait(channel_change("READY"), 15), w.events
        assert ch.connectivity() == "READY"
        assert wait_until(lambda: all(ch.connectivity(b.address) == "READY" for b in bs), 10)

        for b in bs:
            b.kill()
        ev = w.wait(channel_change("TRANSIENT_FAILURE"), 20)
        assert ev is not None, w.channel_events()
        assert ch.connectivity() == "TRANSIENT_FAILURE"
        for b in bs:
            states = [e["state"] for e in w.endpoint_events(b.address)]
            assert "TRANSIENT_FAILURE" in states, (b.address, states)
            assert ch.connectivity(b.address) in ("TRANSIENT_FAILURE", "CONNECTING")

        for b in bs:
            b.restart()
        assert w.wait(channel_change("READY"), 20), w.channel_events()
        assert ch.connectivity() == "READY"
    finally:
        ch.close()
    last = w.wait(lambda ev: ev["flags"] & _native.LBC_CONNECTIVITY_LAST, 5)
    w.poll(200)  # nothing follows the last event
    w.free()
    assert last is not None and last["state"] == "SHUTDOWN", w.events[-3:]
    assert w.events[-1] is last
    assert ch.connectivity() == "SHUTDOWN"
    channel_states = [e["state"] for e in w.channel_events()]
    assert channel_states[-4:] == ["TRANSIENT_FAILURE", "CONNECTING", "READY", "SHUTDOWN"] or (
        "TRANSIENT_FAILURE" in channel_states and channel_states[-2:] == ["READY", "SHUTDOWN"]
    ), channel_states
    assert_continuous(w.events)


def test_endpoint_events_for_pushed_sets(lbchannel, backends):
    from lbchannel import _native

    a, b = backends[0].address, backends[1].address
    ch = lbchannel.Channel("manual:")
    w = Watch(_native, ch, flags=_native.LBC_WATCH_ENDPOINTS, tag=9)
    try:
        assert ch.connectivity() == "IDLE"  # a manual: channel waits for its first push
        assert ch.connectivity(a) == "SHUTDOWN"  # not in the set
        ch.set_endpoints([a, b])
        assert w.wait(channel_change("READY"), 15), w.events
        added = [e["address"] for e in w.events if e["flags"] & _native.LBC_CONNECTIVITY_ADDED]
        assert sorted(added) == sorted([a, b])
        assert wait_until(lambda: ch.connectivity(a) == ch.connectivity(b) == "READY", 10)

        ch.set_endpoints([b])
        removed = w.wait(lambda ev: ev["flags"] & _native.LBC_CONNECTIVITY_REMOVED, 5)
        assert removed is not None, w.events
        assert removed["address"] == a and removed["state"] == "SHUTDOWN" and removed["old"] == "READY"
        assert ch.connectivity(a) == "SHUTDOWN"
        assert ch.connectivity(b) == "READY"
        assert ch.connectivity() == "READY"

        ch.set_endpoints([])
        assert w.wait(channel_change("TRANSIENT_FAILURE"), 5), w.events  # nothing left to serve
        assert ch.connectivity() == "TRANSIENT_FAILURE"
    finally:
        w.free()  # before close: the LAST event reports the state at that moment
        ch.close()
    assert_continuous(w.events)


def test_watch_free_posts_one_last_event(lbchannel):
    from lbchannel import _native

    ch = lbchannel.Channel("manual:")
    w = Watch(_native, ch, tag=3)
    _native.lbc_connectivity_watch_free(w.watch)
    assert w.poll(1000) == 1
    assert w.events == [{"state": "IDLE", "old": "IDLE", "address": None, "flags": _native.LBC_CONNECTIVITY_LAST}]
    ch.close()
    assert w.poll(200) == 0  # the freed watch gets nothing at close
    _native.lbc_cq_free(w.cq)


def test_connectivity_errors(lbchannel):
    import pytest

    ch = lbchannel.Channel("manual:")
    with pytest.raises(lbchannel.InvalidArgumentError, match="lbc_channel_endpoint_connectivity"):
        ch.connectivity("not an address")
    ch.close()
    assert ch.connectivity() == "SHUTDOWN"
    with pytest.raises(lbchannel.ClosedError):
        ch.connectivity("127.0.0.1:1")
