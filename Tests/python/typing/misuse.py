"""Deliberate misuse of lbchannel's typed API: ``mypy --strict`` must report exactly the
errors marked ``# E: code[,code]`` on their lines (checked by test_typing.py). Not executed."""

from __future__ import annotations

import lbchannel
import lbchannel.aio


async def misuse() -> None:
    lbchannel.Channel(42, lb_polcy=object())  # E: arg-type,call-arg
    ch = lbchannel.Channel("ipv4:127.0.0.2:50051", keepalive_time_ms="10000")  # E: arg-type
    ch.unary("/pkg.Svc/M", b"", metadata={"x-key": "value"})  # E: dict-item
    ch.unary("/pkg.Svc/M", b"", metadata=[("x-key", 1)])  # E: list-item
    ch.unary("/pkg.Svc/M", "text")  # E: arg-type
    ch.unary("/pkg.Svc/M", b"", timeout="1s")  # E: arg-type
    count: int = ch.unary("/pkg.Svc/M", b"")  # E: assignment
    greet = ch.unary_unary("/pkg.Svc/M", request_serializer=str.encode, response_deserializer=bytes.decode)
    greet(b"bytes, not str")  # E: arg-type
    ch.unary_unary("/pkg.Svc/M").with_cal(b"")  # E: attr-defined
    ch.subscribe(lambda: None)  # E: arg-type,misc
    lbchannel.insecure_channel("dns:///svc:50051", options={"grpc.lb_policy_name": "round_robin"})  # E: dict-item
    lbchannel.ssl_channel_credentials(root_certificates=1)  # E: arg-type
    lbchannel.aio.Channel("dns:///svc:50051", interceptors=[object()])  # E: list-item
    aio_ch = lbchannel.aio.insecure_channel("dns:///svc:50051", max_receive_message_sise=1)  # E: call-arg
    reply: str = await aio_ch.unary_unary("/pkg.Svc/M")(b"")  # E: assignment
    print(count, reply)
