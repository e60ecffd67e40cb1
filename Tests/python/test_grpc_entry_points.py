"""grpcio-shaped entry points: insecure_channel/secure_channel with grpcio's ``options``
pairs (sync and asyncio), ``grpc.intercept_channel`` on the sync channel, and
``interceptors=`` on lbchannel.aio channels — against real grpcio backends."""

import asyncio
import collections
import json

import grpc
import pytest
from grpc import aio

import lbchannel.aio  # noqa: F401  (the lbchannel fixture is the package; this loads .aio)

from lbchannel._options import GRPC_OPTION_NAMES


# -- options ------------------------------------------------------------------------


def test_every_mapped_grpc_key_is_accepted(lbchannel, backends):
    values = {
        "grpc.lb_policy_name": "pick_first",
        "grpc.max_receive_message_length": 1 << 20,
        "grpc.max_send_message_length": -1,
        "grpc.primary_user_agent": "ua-test/1.0",
        "grpc.default_authority": "svc.test",
        "grpc.ssl_target_name_override": "svc.test",
        "grpc.keepalive_time_ms": 30000,
        "grpc.keepalive_timeout_ms": 5000,
        "grpc.keepalive_permit_without_calls": 0,
        "grpc.per_rpc_retry_buffer_size": 65536,
        "grpc.service_config": json.dumps({"loadBalancingConfig": []}),
        "grpc.enable_retries": 1,
    }
    assert set(values) == set(GRPC_OPTION_NAMES)
    # A TLS setting on a plaintext channel is refused (grpcio would ignore it).
    with pytest.raises(lbchannel.InvalidArgumentError, match="tls_server_name"):
        lbchannel.insecure_channel(backends.target, options=[("grpc.ssl_target_name_override", "svc.test")])
    del values["grpc.ssl_target_name_override"]  # test_tls covers it on secure_channel
    for key, value in values.items():
        with lbchannel.insecure_channel(backends.target, options=[(key, value)]) as ch:
            assert ch.unary("/lbtest.Test/Echo", b"k", timeout=5) == b"k", key


def test_options_take_effect(lbchannel, backends):
    options = [("grpc.lb_policy_name", "round_robin"), ("grpc.keepalive_time_ms", 20000),
               ("grpc.keepalive_permit_without_calls", 1), ("grpc.max_receive_message_length", 100),
               ("grpc.max_send_message_length", 50)]
    with lbchannel.insecure_channel(backends.target, options=options) as ch:
        stats = ch.stats()
        assert stats["policy"] == "round_robin"
        assert stats["keepalive"]["time_ms"] == 20000
        assert stats["keepalive"]["permit_without_calls"] is True
        assert ch.unary("/lbtest.Test/Size", b"100", timeout=5) == b"x" * 100
        with pytest.raises(lbchannel.RpcError) as err:
            ch.unary("/lbtest.Test/Size", b"101", timeout=5)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert ch.unary("/lbtest.Test/Echo", b"y" * 50, timeout=5) == b"y" * 50
        with pytest.raises(lbchannel.MessageTooLargeError, match="max_send_message_size"):
            ch.unary("/lbtest.Test/Echo", b"y" * 51, timeout=5)
    # -1 is grpcio's "no limit"; keyword options win over the pairs.
    with lbchannel.insecure_channel(backends.target, options=[("grpc.max_receive_message_length", -1),
                                                              ("grpc.lb_policy_name", "pick_first")],
                                    lb_policy="round_robin") as ch:
        assert len(ch.unary("/lbtest.Test/Size", b"3000000", timeout=10)) == 3000000
        assert ch.stats()["policy"] == "round_robin"


def test_service_config_and_enable_retries(lbchannel, backends):
    config = {"methodConfig": [{"name": [{"service": "lbtest.Test"}],
                                "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s",
                                                "maxBackoff": "0.05s", "backoffMultiplier": 2,
                                                "retryableStatusCodes": ["UNAVAILABLE"]}}]}
    for enable, attempts in ((1, 3), (0, 1)):
        options = [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", enable)]
        with lbchannel.insecure_channel(backends.target, options=options) as ch:
            with pytest.raises(lbchannel.RpcError) as err:
                ch.unary("/lbtest.Test/Fail", b"14:down", timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert err.value.attempts == attempts


@pytest.mark.parametrize("key", ["grpc.so_reuseport", "grpc.http2.max_pings_without_data",
                                 "grpc.max_metadata_size"])
def test_unsupported_grpc_key_is_a_clear_error(lbchannel, key):
    for open_channel in (lbchannel.insecure_channel, lbchannel.aio.insecure_channel):
        with pytest.raises(lbchannel.UnknownOptionError) as err:
            open_channel("ipv4:127.0.0.2:1", options=[(key, 0)])
        assert isinstance(err.value, ValueError)
        assert key in str(err.value) and "no lbchannel equivalent" in str(err.value)
        assert "grpc.lb_policy_name" in str(err.value)  # lists what is supported
    creds = lbchannel.ssl_channel_credentials()
    with pytest.raises(lbchannel.UnknownOptionError):
        lbchannel.secure_channel("ipv4:127.0.0.2:1", creds, options=[(key, 0)])


def test_malformed_options(lbchannel):
    with pytest.raises(TypeError):
        lbchannel.insecure_channel("ipv4:127.0.0.2:1", options={"grpc.lb_policy_name": "round_robin"})
    with pytest.raises(TypeError):
        lbchannel.insecure_channel("ipv4:127.0.0.2:1", options=[("grpc.lb_policy_name",)])
    with pytest.raises(lbchannel.UnknownOptionError):  # a non-grpc key goes to the library
        lbchannel.insecure_channel("ipv4:127.0.0.2:1", options=[("lb_polcy", "round_robin")])
    with pytest.raises(lbchannel.InvalidArgumentError):  # a bad value too
        lbchannel.insecure_channel("ipv4:127.0.0.2:1", options=[("grpc.lb_policy_name", "magic")])


def test_aio_insecure_channel_options(lbchannel, backends):
    async def main():
        async with lbchannel.aio.insecure_channel(
                backends.target, options=[("grpc.lb_policy_name", "round_robin"),
                                          ("grpc.max_receive_message_length", 10)]) as ch:
            assert ch.stats()["policy"] == "round_robin"
            assert await ch.unary("/lbtest.Test/Size", b"10", timeout=5) == b"x" * 10
            with pytest.raises(grpc.RpcError) as err:
                await ch.unary("/lbtest.Test/Size", b"11", timeout=5)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    asyncio.run(main())


# -- grpc.intercept_channel on the sync channel ----------------------------------------------


class _Details(collections.namedtuple("_Details", "method timeout metadata credentials wait_for_ready compression"),
               grpc.ClientCallDetails):
    pass


class SyncInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                      grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Records each call, adds ``x-ic: <tag>`` metadata and maps method ``/x/Echo``
    to ``/lbtest.Test/Echo`` (so a call only works if the new details are used)."""

    def __init__(self, tag):
        self.tag = tag
        self.seen = []

    def _details(self, shape, d):
        self.seen.append((shape, d.method))
        method = "/lbtest.Test/Echo" if d.method == "/x/Echo" else d.method
        md = list(d.metadata or ()) + [("x-ic", self.tag)]
        return _Details(method, d.timeout, md, d.credentials, d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details("uu", details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details("us", details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details("su", details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details("ss", details), request_iterator)


def test_intercept_channel_sync_all_shapes(lbchannel, backends):
    first, second = SyncInterceptor("a"), SyncInterceptor("b")
    base = lbchannel.Channel(backends.target)
    ch = grpc.intercept_channel(base, first, second)
    try:
        echo = ch.unary_unary("/x/Echo")
        assert echo(b"hi", timeout=5) == b"hi"
        reply, call = echo.with_call(b"wc", timeout=5)
        assert reply == b"wc" and call.code() == grpc.StatusCode.OK
        assert ("x-ic", "a") in call.initial_metadata() and ("x-ic", "b") in call.initial_metadata()
        assert echo.future(b"fut", timeout=5).result() == b"fut"
        names = set(backends.names)
        out = list(ch.unary_stream("/lbtest.Test/EchoStream")(b"u", timeout=5))
        assert len(out) == 1 and out[0].split(b":")[1] == b"u" and out[0].split(b":")[0].decode() in names
        reply = ch.stream_unary("/lbtest.Test/EchoStream")(iter([b"s"]), timeout=5)
        assert reply.endswith(b":s")
        out = list(ch.stream_stream("/lbtest.Test/EchoStream")(iter([b"1", b"2"]), timeout=5))
        assert [m.split(b":")[1] for m in out] == [b"1", b"2"]
        with pytest.raises(grpc.RpcError) as err:
            ch.unary_unary("/lbtest.Test/Fail")(b"5:missing", timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and err.value.details() == "missing"
        shapes = [s for s, _ in first.seen]
        assert shapes == ["uu", "uu", "uu", "us", "su", "ss", "uu"]
        assert second.seen == [(s, "/lbtest.Test/Echo" if m == "/x/Echo" else m) for s, m in first.seen]
    finally:
        ch.close()
    assert base.closed


# -- interceptors= on lbchannel.aio ---------------------------------------------------------


class AioInterceptor(aio.UnaryUnaryClientInterceptor, aio.UnaryStreamClientInterceptor,
                     aio.StreamUnaryClientInterceptor, aio.StreamStreamClientInterceptor):
    def __init__(self, tag):
        self.tag = tag
        self.seen = []

    def _details(self, shape, d):
        self.seen.append((shape, d.method))
        method = b"/lbtest.Test/Echo" if d.method == b"/x/Echo" else d.method
        md = aio.Metadata(*(tuple(d.metadata or ()) + (("x-ic", self.tag),)))
        return aio.ClientCallDetails(method, d.timeout, md, d.credentials, d.wait_for_ready)

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._details("uu", details), request)

    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._details("us", details), request)

    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(self._details("su", details), request_iterator)

    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(self._details("ss", details), request_iterator)


class OnlyUnary(aio.UnaryUnaryClientInterceptor):
    """Answers without calling the server (grpc.aio wraps a plain response)."""

    async def intercept_unary_unary(self, continuation, details, request):
        if request == b"short-circuit":
            return b"from the interceptor"
        return await continuation(details, request)


def test_aio_interceptors_all_shapes(lbchannel, backends):
    first, second = AioInterceptor("a"), AioInterceptor("b")

    async def main():
        async with lbchannel.aio.insecure_channel(backends.target, interceptors=[first, OnlyUnary(), second]) as ch:
            echo = ch.unary_unary("/x/Echo")
            assert isinstance(echo, aio.UnaryUnaryMultiCallable)
            assert isinstance(ch.stream_stream("/x/Echo"), aio.StreamStreamMultiCallable)
            call = echo(b"hi", timeout=5)
            assert await call == b"hi"
            assert await call.code() == grpc.StatusCode.OK
            md = await call.initial_metadata()
            assert md.get_all("x-ic") == ["a", "b"]
            assert await echo(b"short-circuit", timeout=5) == b"from the interceptor"
            out = [m async for m in ch.unary_stream("/lbtest.Test/EchoStream")(b"u", timeout=5)]
            assert len(out) == 1 and out[0].endswith(b":u")
            assert (await ch.stream_unary("/lbtest.Test/EchoStream")(iter([b"s"]), timeout=5)).endswith(b":s")
            bidi = ch.stream_stream("/lbtest.Test/EchoStream")
            out = [m async for m in bidi(iter([b"1", b"2"]), timeout=5)]
            assert [m.split(b":")[1] for m in out] == [b"1", b"2"]
            call = bidi(timeout=5)  # reader/writer style through the interceptors
            await call.write(b"w1")
            await call.write(b"w2")
            await call.done_writing()
            assert [(await call.read()).split(b":")[1], (await call.read()).split(b":")[1]] == [b"w1", b"w2"]
            assert await call.read() is aio.EOF
            assert await call.code() == grpc.StatusCode.OK
            with pytest.raises(grpc.RpcError) as err:
                await ch.unary_unary("/lbtest.Test/Fail")(b"5:missing", timeout=5)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND and err.value.details() == "missing"

    asyncio.run(main())
    assert [s for s, _ in first.seen] == ["uu", "uu", "us", "su", "ss", "ss", "uu"]
    assert second.seen[0] == ("uu", b"/lbtest.Test/Echo")
    assert len(second.seen) == len(first.seen) - 1  # the short-circuited call stopped before it


def test_aio_channel_rejects_other_objects(lbchannel):
    with pytest.raises(ValueError, match="Interceptor must be"):
        lbchannel.aio.Channel("ipv4:127.0.0.2:1", interceptors=[object()])
    with pytest.raises(ValueError, match="Interceptor must be"):
        lbchannel.aio.insecure_channel("ipv4:127.0.0.2:1", interceptors=[SyncInterceptor("sync")])
