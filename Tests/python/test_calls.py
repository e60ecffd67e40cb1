"""Unary calls against real grpcio backends: metadata, statuses, deadlines, sizes."""

import os
import time

import grpc
import pytest

ECHO = "/lbtest.Test/Echo"
FAIL = "/lbtest.Test/Fail"
SIZE = "/lbtest.Test/Size"
SLEEP = "/lbtest.Test/Sleep"
WHOAMI = "/lbtest.Test/Whoami"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def channel(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    yield ch
    ch.close()


# -- metadata ------------------------------------------------------------------------


def test_request_and_response_metadata(channel, backends):
    md = [("x-one", "1"), ("x-two", "hello world"), ("x-punct", "a=b; c/d ~!"), ("not-echoed", "z")]
    resp, call = channel.unary_with_call(ECHO, b"payload", timeout=5, metadata=md)
    assert resp == b"payload"
    assert call.code() == grpc.StatusCode.OK
    assert call.details() == ""
    assert call.initial_metadata() == (("x-one", "1"), ("x-two", "hello world"), ("x-punct", "a=b; c/d ~!"))
    trailing = call.trailing_metadata()
    assert trailing[:3] == (
        ("trailer-x-one", "1"),
        ("trailer-x-two", "hello world"),
        ("trailer-x-punct", "a=b; c/d ~!"),
    )
    assert trailing[3][0] == "x-backend" and trailing[3][1] in backends.names
    assert len(trailing) == 4, trailing  # grpc-status / grpc-message are not metadata
    assert call.peer() == backends.by_name(trailing[3][1]).address


def test_repeated_keys_keep_their_order(channel):
    md = [("x-rep", "a"), ("x-rep", "b"), ("x-rep", "c")]
    _, call = channel.unary_with_call(ECHO, b"", timeout=5, metadata=md)
    assert [v for k, v in call.initial_metadata() if k == "x-rep"] == ["a", "b", "c"]


def test_binary_metadata_round_trips_every_byte(channel):
    blob = bytes(range(256)) + b"\x00\xff\x00"
    md = [("x-blob-bin", blob), ("x-zero-bin", b"\x00"), ("x-ff-bin", b"\xff\xff"), ("x-text", "t")]
    _, call = channel.unary_with_call(ECHO, b"", timeout=5, metadata=md)
    initial = dict(call.initial_metadata())
    assert initial["x-blob-bin"] == blob
    assert initial["x-zero-bin"] == b"\x00"
    assert initial["x-ff-bin"] == b"\xff\xff"
    assert isinstance(initial["x-text"], str)
    trailing = dict(call.trailing_metadata())
    assert trailing["trailer-x-blob-bin"] == blob
    assert trailing["trailer-x-zero-bin"] == b"\x00"
    assert trailing["trailer-x-ff-bin"] == b"\xff\xff"


def test_empty_metadata_values(channel):
    _, call = channel.unary_with_call(ECHO, b"", timeout=5, metadata=[("x-e", ""), ("x-e-bin", b"")])
    assert dict(call.initial_metadata()) == {"x-e": "", "x-e-bin": b""}


def test_bytes_value_for_ascii_key(channel):
    _, call = channel.unary_with_call(ECHO, b"", timeout=5, metadata=[("x-b", b"ascii")])
    assert call.initial_metadata() == (("x-b", "ascii"),)


@pytest.mark.parametrize(
    "pair",
    [
        ("x-bad", "héllo"),
        ("x-bad", "日本"),
        ("x-bad", "line\nbreak"),
        ("x-bad", b"\x00"),
        ("x-bad", "\x7f"),
        ("X-Upper", "v"),
        ("bad key", "v"),
        ("x-ü", "v"),
        ("grpc-timeout", "1S"),
        (":path", "/x"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ],
)
def test_invalid_metadata_is_rejected(lbchannel, channel, pair):
    with pytest.raises(lbchannel.InvalidMetadataError) as info:
        channel.unary(ECHO, b"", timeout=5, metadata=[pair])
    assert info.value.code == lbchannel.ErrorCode.INVALID_METADATA
    assert info.value.message


def test_empty_metadata_key_is_rejected(lbchannel, channel):
    with pytest.raises((lbchannel.InvalidMetadataError, lbchannel.InvalidArgumentError)):
        channel.unary(ECHO, b"", timeout=5, metadata=[("", "v")])


def test_metadata_must_be_pairs(channel):
    with pytest.raises(TypeError):
        channel.unary(ECHO, b"", timeout=5, metadata=["x-a"])
    with pytest.raises(TypeError):
        channel.unary(ECHO, b"", timeout=5, metadata=[("x-a", 1)])


# -- status codes --------------------------------------------------------------------


@pytest.mark.parametrize("code", range(1, 17))
def test_every_status_code(lbchannel, channel, code):
    message = "failure number %d: details" % code
    with pytest.raises(lbchannel.RpcError) as info:
        channel.unary(FAIL, ("%d:%s" % (code, message)).encode(), timeout=5)
    err = info.value
    assert err.code() == lbchannel.StatusCode(code).to_grpc()
    assert err.status_code == code
    assert err.details() == message
    assert isinstance(err, grpc.RpcError)
    assert isinstance(err, grpc.Call)


def test_non_ascii_status_message_round_trips(lbchannel, channel):
    message = "héllo wörld ✓ 日本"
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(FAIL, ("9:" + message).encode("utf-8"), timeout=5)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details() == message


def test_status_message_with_percent_and_newline(channel):
    message = "100% sure\r\nsecond line %2F"
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(FAIL, ("3:" + message).encode(), timeout=5)
    assert info.value.details() == message


def test_empty_status_message(channel):
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(FAIL, b"5:", timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert info.value.details() == ""


def test_error_carries_peer_and_metadata(channel, backends):
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(FAIL, b"13:boom", timeout=5)
    assert info.value.peer() in [b.address for b in backends]
    assert isinstance(info.value.initial_metadata(), tuple)
    assert isinstance(info.value.trailing_metadata(), tuple)


def test_unknown_method_is_unimplemented(channel):
    for method in ("/lbtest.Test/NoSuchMethod", "/no.such.Service/Method"):
        with pytest.raises(grpc.RpcError) as info:
            channel.unary(method, b"", timeout=5)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED, method


# -- deadlines -------------------------------------------------------------------------


def test_deadline_exceeded(channel):
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(SLEEP, b"2000", timeout=0.3)
    elapsed = time.monotonic() - t0
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.25 <= elapsed < 1.5, elapsed


def test_deadline_not_reached(channel, backends):
    assert channel.unary(SLEEP, b"100", timeout=5).decode() in backends.names


def test_no_deadline(channel, backends):
    assert channel.unary(SLEEP, b"50", timeout=None).decode() in backends.names


def test_zero_timeout_expires_at_once(channel):
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(SLEEP, b"1000", timeout=0)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 1.0


def test_channel_works_after_deadline(channel, backends):
    with pytest.raises(grpc.RpcError):
        channel.unary(SLEEP, b"1000", timeout=0.1)
    for _ in range(10):
        assert channel.unary(WHOAMI, b"", timeout=5).decode() in backends.names


# -- message sizes ---------------------------------------------------------------------


def test_four_mib_each_way(channel):
    payload = os.urandom(4 * MiB)
    assert channel.unary(ECHO, payload, timeout=20) == payload
    data = channel.unary(SIZE, b"4194304", timeout=20)
    assert len(data) == 4194304 and data == b"x" * 4194304


def test_response_above_default_max_receive_size(channel):
    with pytest.raises(grpc.RpcError) as info:
        channel.unary(SIZE, b"4194305", timeout=20)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The channel (and its connection) survive the refused message.
    assert channel.unary(SIZE, b"10", timeout=5) == b"x" * 10


def test_custom_max_receive_message_size(lbchannel, backends):
    with lbchannel.Channel(backends.target, max_receive_message_size=8 * MiB) as ch:
        assert len(ch.unary(SIZE, b"4194305", timeout=20)) == 4194305
        assert len(ch.unary(SIZE, b"8388608", timeout=20)) == 8388608
        with pytest.raises(grpc.RpcError) as info:
            ch.unary(SIZE, b"8388609", timeout=20)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with lbchannel.Channel(backends.target, max_receive_message_size=100) as ch:
        assert ch.unary(SIZE, b"100", timeout=5) == b"x" * 100
        with pytest.raises(grpc.RpcError) as info:
            ch.unary(SIZE, b"101", timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_large_request_to_large_limit(lbchannel, backends):
    payload = os.urandom(16 * MiB)
    with lbchannel.Channel(backends.target, max_receive_message_size=32 * MiB) as ch:
        assert ch.unary(ECHO, payload, timeout=30) == payload


def test_zero_length_request_and_response(channel, backends):
    resp, call = channel.unary_with_call(ECHO, b"", timeout=5)
    assert resp == b"" and call.code() == grpc.StatusCode.OK
    assert channel.unary(SIZE, b"0", timeout=5) == b""
    assert channel.unary(WHOAMI, b"", timeout=5).decode() in backends.names
    assert channel.unary(ECHO, None, timeout=5) == b""


def test_binary_payload_with_nul_bytes(channel):
    payload = b"\x00\x01\x00\xff" * 1000
    assert channel.unary(ECHO, payload, timeout=5) == payload
