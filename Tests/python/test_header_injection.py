"""No header injection (RFC 9113 §8.2.1) and options that mean what the header says.

Each test runs against a real raw HTTP/2 server that records every request it
sees: a refused method, metadata value, authority or user agent must be refused
by the library with an error code *before* anything is sent, and the channel
must keep working afterwards.
"""

import pytest

from lbtest_support import run_with_timeout
from rawh2_server import RawH2Server

METHOD = "/lbtest.Test/Echo"


@pytest.fixture
def server():
    s = RawH2Server()
    yield s
    s.stop()


def _requests(server):
    return [dict(headers) for (_conn, _sid, headers) in server.requests]


@pytest.mark.parametrize(
    "method",
    [
        "/a.B/C\r\nx-injected: 1",
        "/a.B/C\n",
        "/a.B/C\r",
        "/a B/C",
        "/a.B/C\t",
        "/a.B/C\x7f",
        "/a.B/Cé",
    ],
)
def test_method_with_forbidden_bytes_is_refused_before_sending(lbchannel, server, method):
    with lbchannel.Channel(server.target) as ch:
        assert ch.unary(METHOD, b"x", timeout=5) == b"ok:x"
        with pytest.raises(lbchannel.InvalidArgumentError) as info:
            ch.unary(method, b"x", timeout=5)
        assert "visible ASCII" in info.value.message
        # Streaming calls go through the same check.
        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.unary_stream(method)(b"x", timeout=5)
        # API misuse changes no state: the channel still works, and the server
        # saw only the good requests.
        assert ch.unary(METHOD, b"y", timeout=5) == b"ok:y"
    paths = [r[":path"] for r in _requests(server)]
    assert paths == [METHOD, METHOD]


def test_nul_in_method_is_refused_not_cut_short(lbchannel, server):
    # Through ctypes a NUL would end the C string: "/a.B/C\0x" would be sent
    # as "/a.B/C". The binding refuses it instead.
    with lbchannel.Channel(server.target) as ch:
        with pytest.raises(ValueError, match="NUL"):
            ch.unary("/lbtest.Test/Echo\x00/evil", b"x", timeout=5)
        with pytest.raises(ValueError, match="NUL"):
            ch.unary(METHOD, b"x", timeout=5, metadata=[("x-key\x00evil", "v")])
        assert ch.unary(METHOD, b"z", timeout=5) == b"ok:z"
    assert [r[":path"] for r in _requests(server)] == [METHOD]


@pytest.mark.parametrize("value", ["v\r\nx-injected: 1", "v\n", "v\r", "v\x00w", "v\x01"])
def test_metadata_value_with_control_bytes_is_refused(lbchannel, server, value):
    with lbchannel.Channel(server.target) as ch:
        with pytest.raises(lbchannel.InvalidMetadataError):
            ch.unary(METHOD, b"x", timeout=5, metadata=[("x-key", value)])
        # The same bytes are fine in a binary ("-bin") value: they go base64-encoded.
        assert ch.unary(METHOD, b"x", timeout=5, metadata=[("x-key-bin", value.encode())]) == b"ok:x"
    requests = _requests(server)
    assert len(requests) == 1
    assert "x-injected" not in requests[0]
    assert "x-key" not in requests[0]


@pytest.mark.parametrize("key", ["authority", "user_agent"])
@pytest.mark.parametrize("value", ["svc.test\r\nx-injected: 1", "svc\ntest", "svc\rtest"])
def test_authority_and_user_agent_with_line_breaks_are_refused(lbchannel, server, key, value):
    with pytest.raises(lbchannel.InvalidArgumentError) as info:
        lbchannel.Channel(server.target, **{key: value})
    assert "0x0" in info.value.message
    assert server.connections == 0


def test_nul_in_option_value_is_refused_not_cut_short(lbchannel, server):
    with pytest.raises(ValueError, match="NUL"):
        lbchannel.Channel(server.target, authority="svc.test\x00evil")
    with pytest.raises(ValueError, match="NUL"):
        lbchannel.Channel(server.target + "\x00ignored")


def test_authority_and_user_agent_are_sent_as_set(lbchannel, server):
    with lbchannel.Channel(server.target, authority="svc.test:443", user_agent="lbtest/2") as ch:
        assert ch.unary(METHOD, b"x", timeout=5) == b"ok:x"
    (request,) = _requests(server)
    assert request[":authority"] == "svc.test:443"
    assert request["user-agent"].startswith("lbtest/2 lbchannel/")


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "TRUE", "False", " 1", "2"])
def test_boolean_options_accept_only_documented_spellings(lbchannel, server, value):
    # The header documents 1, 0, true and false; anything else is an error, not a guess.
    with pytest.raises(lbchannel.InvalidArgumentError) as info:
        lbchannel.Channel(server.target, wait_for_ready=value)
    assert "1, 0, true or false" in info.value.message


def test_stream_send_buffer_bytes_range_is_enforced(lbchannel, server):
    ch = lbchannel.Channel(server.target, stream_send_buffer_bytes=2147483647)
    run_with_timeout(ch.close, 10)
    with pytest.raises(lbchannel.InvalidArgumentError) as info:
        lbchannel.Channel(server.target, stream_send_buffer_bytes=2147483648)
    assert "2147483647" in info.value.message
    with pytest.raises(lbchannel.InvalidArgumentError):
        lbchannel.Channel(server.target, stream_send_buffer_bytes=-1)


def test_backoff_max_below_initial_is_rejected_in_either_order(lbchannel, server):
    for options in (dict(backoff_initial_ms=5000, backoff_max_ms=1000), dict(backoff_max_ms=500)):
        with pytest.raises(lbchannel.InvalidArgumentError) as info:
            lbchannel.Channel(server.target, **options)
        assert "backoff_max_ms" in info.value.message
