"""Channel construction, options, targets, bad input and the closed-channel contract."""

import gc
import threading
import time

import grpc
import pytest

from lbtest_support import run_with_timeout

WHOAMI = "/lbtest.Test/Whoami"


# -- options -------------------------------------------------------------------------


def test_every_documented_option_is_accepted(lbchannel, backends):
    options = dict(
        lb_policy="round_robin",
        connect_timeout_ms=5000,
        wait_for_ready=False,
        max_send_message_size=1 << 20,
        max_receive_message_size=1 << 22,
        backoff_initial_ms=500,
        backoff_multiplier=1.5,
        backoff_jitter=0.1,
        backoff_max_ms=10000,
        authority="svc.test:50051",
        user_agent="lbtest/1.0",
    )
    with lbchannel.Channel(backends.target, **options) as ch:
        assert ch.unary(WHOAMI, b"", timeout=5).decode() in backends.names


@pytest.mark.parametrize("value", [True, False, 1, 0, "true", "false", "1", "0"])
def test_boolean_option_forms(lbchannel, backends, value):
    lbchannel.Channel(backends.target, wait_for_ready=value).close()


@pytest.mark.parametrize("policy", ["least_request", "round_robin", "pick_first"])
def test_each_lb_policy_is_accepted_and_reported(lbchannel, backends, policy):
    with lbchannel.Channel(backends.target, lb_policy=policy) as ch:
        assert ch.unary(WHOAMI, b"", timeout=5).decode() in backends.names
        assert ch.stats()["policy"] == policy


def test_unknown_option_key(lbchannel, backends):
    with pytest.raises(lbchannel.UnknownOptionError) as info:
        lbchannel.Channel(backends.target, no_such_option=1)
    assert info.value.code == lbchannel.ErrorCode.UNKNOWN_OPTION
    assert isinstance(info.value, lbchannel.Error)
    assert "no_such_option" in str(info.value)


@pytest.mark.parametrize(
    "key, value",
    [
        ("lb_policy", "fastest"),
        ("lb_policy", ""),
        ("connect_timeout_ms", 0),
        ("connect_timeout_ms", -5),
        ("connect_timeout_ms", "soon"),
        ("wait_for_ready", "maybe"),
        ("max_send_message_size", -1),
        ("max_receive_message_size", 2147483648),
        ("max_receive_message_size", "4MiB"),
        ("backoff_initial_ms", 0),
        ("backoff_multiplier", 0.5),
        ("backoff_jitter", 1.5),
        ("backoff_jitter", -0.1),
        ("backoff_max_ms", "x"),
        ("lb_policy", None),  # NULL value
    ],
)
def test_bad_option_value(lbchannel, backends, key, value):
    with pytest.raises(lbchannel.InvalidArgumentError) as info:
        lbchannel.Channel(backends.target, **{key: value})
    assert info.value.code == lbchannel.ErrorCode.INVALID_ARGUMENT
    assert info.value.message, "the library gave no detailed message (lbc_last_errmsg)"


def test_backoff_max_below_initial_is_rejected(lbchannel, backends):
    # Order matters for the pair check: set initial first, then a smaller max.
    with pytest.raises(lbchannel.InvalidArgumentError):
        lbchannel.Channel(backends.target, backoff_initial_ms=5000, backoff_max_ms=1000)


# -- targets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "ipv4:",
        "ipv4:127.0.0.1:",
        "ipv4:127.0.0.1:99999",
        "ipv4:127.0.0.1:-1",
        "ipv4:127.0.0.1:http",
        "ipv4:256.0.0.1:50051",
        "ipv4:1.2.3:50051",
        "ipv4:localhost:50051",
        "ipv4:127.0.0.1:50051,",
        "ipv4:127.0.0.1:50051,,127.0.0.2:50051",
        "ipv6:",
        "ipv6:[::1",
        "ipv6:[::1]:",
        "ipv6:[::1]:70000",
        "ipv6:[not-an-address]:50051",
        "unix:",
    ],
)
def test_malformed_target(lbchannel, target):
    with pytest.raises(lbchannel.InvalidTargetError) as info:
        lbchannel.Channel(target)
    assert info.value.code == lbchannel.ErrorCode.INVALID_TARGET
    assert info.value.message, "no detailed message for %r" % target


def test_empty_target(lbchannel):
    with pytest.raises((lbchannel.InvalidTargetError, lbchannel.InvalidArgumentError)):
        lbchannel.Channel("")


@pytest.mark.parametrize("target", ["dns:///x:1", "dns://127.0.0.1:53/svc.test:50051", "localhost:50051", "manual:"])
def test_discovery_targets_open_lazily(lbchannel, target):
    # Lazy resolution (the default): open returns at once, whatever DNS says.
    t0 = time.monotonic()
    with lbchannel.Channel(target) as ch:
        assert time.monotonic() - t0 < 1.0
        assert ch.stats()["discovery"]["kind"] == ("static" if target == "manual:" else "dns")


def test_unresolvable_name_with_eager_resolution(lbchannel):
    t0 = time.monotonic()
    with pytest.raises(lbchannel.ResolutionError) as info:
        lbchannel.Channel("dns:///x:1", resolution="eager", eager_timeout_ms=300)
    assert info.value.code == lbchannel.ErrorCode.RESOLUTION
    assert 0.25 <= time.monotonic() - t0 < 3.0


def test_unresolvable_name_fails_calls_with_unavailable(lbchannel):
    with lbchannel.Channel("dns:///x:1", dns_timeout_ms=500) as ch:
        t0 = time.monotonic()
        with pytest.raises(lbchannel.RpcError) as info:
            ch.unary(WHOAMI, b"", timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - t0 < 4.0


def test_unknown_scheme(lbchannel):
    with pytest.raises(lbchannel.InvalidTargetError):
        lbchannel.Channel("foo://x/svc")


def test_known_but_unimplemented_scheme_is_unsupported(lbchannel):
    with pytest.raises(lbchannel.UnsupportedError, match="xds"):
        lbchannel.Channel("xds:///svc")


def test_none_target_is_invalid_argument(lbchannel):
    with pytest.raises(lbchannel.InvalidArgumentError):
        lbchannel.Channel(None)


def test_failed_open_leaves_nothing_to_close(lbchannel):
    with pytest.raises(lbchannel.Error):
        lbchannel.Channel("ipv4:nonsense")
    gc.collect()  # the half-built object's __del__ must not touch C


def test_unix_target(lbchannel, gen_dir, tmp_path):
    from lbtest_support import Backend

    path = str(tmp_path / "b.sock")
    b = Backend("unix:" + path, "ux", gen_dir).start()
    try:
        for target in ("unix:" + path, "unix://" + path):
            with lbchannel.Channel(target) as ch:
                assert ch.unary(WHOAMI, b"", timeout=5) == b"ux"
    finally:
        b.stop()


def test_ipv6_loopback_target(lbchannel, gen_dir):
    import socket

    from lbtest_support import Backend

    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    b = Backend("[::1]:%d" % port, "v6", gen_dir).start()
    try:
        with lbchannel.Channel("ipv6:[::1]:%d" % port) as ch:
            assert ch.unary(WHOAMI, b"", timeout=5) == b"v6"
    finally:
        b.stop()


# -- bad call arguments ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["lbtest.Test/Whoami", "", "Whoami"])
def test_method_without_leading_slash(lbchannel, backends, method):
    with lbchannel.Channel(backends.target) as ch:
        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.unary(method, b"", timeout=5)
        # API misuse changes no state: the channel still works.
        assert ch.unary(WHOAMI, b"", timeout=5).decode() in backends.names


def test_none_method(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        with pytest.raises(lbchannel.InvalidArgumentError):
            ch.unary(None, b"", timeout=5)


def test_request_must_be_bytes(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        with pytest.raises(TypeError):
            ch.unary(WHOAMI, "text", timeout=5)
        assert ch.unary(WHOAMI, bytearray(b"ab"), timeout=5).decode() in backends.names
        assert ch.unary("/lbtest.Test/Echo", memoryview(b"mv"), timeout=5) == b"mv"


def test_request_above_max_send_message_size(lbchannel, backends):
    with lbchannel.Channel(backends.target, max_send_message_size=1000) as ch:
        assert ch.unary("/lbtest.Test/Echo", b"a" * 1000, timeout=5) == b"a" * 1000
        with pytest.raises(lbchannel.MessageTooLargeError) as info:
            ch.unary("/lbtest.Test/Echo", b"a" * 1001, timeout=5)
        assert info.value.code == lbchannel.ErrorCode.MESSAGE_TOO_LARGE
        assert ch.unary("/lbtest.Test/Echo", b"ok", timeout=5) == b"ok"


# -- close ---------------------------------------------------------------------------------


def test_close_twice_and_use_after_close(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    assert ch.unary(WHOAMI, b"", timeout=5)
    ch.close()
    ch.close()
    assert ch.closed
    with pytest.raises(lbchannel.ClosedError):
        ch.unary(WHOAMI, b"", timeout=5)
    with pytest.raises(ValueError):  # ClosedError is a ValueError, like a closed file
        ch.unary(WHOAMI, b"", timeout=5)
    with pytest.raises(lbchannel.ClosedError):
        ch.stats()
    with pytest.raises(lbchannel.ClosedError):
        ch.endpoints()
    with pytest.raises(lbchannel.ClosedError):
        ch.unary_unary(WHOAMI)(b"", timeout=5)


def test_context_manager_closes(lbchannel, backends):
    with lbchannel.Channel(backends.target) as ch:
        ch.unary(WHOAMI, b"", timeout=5)
    assert ch.closed
    with pytest.raises(lbchannel.ClosedError):
        ch.unary(WHOAMI, b"", timeout=5)


def test_unreferenced_channels_are_collected(lbchannel, backends):
    for _ in range(20):
        ch = lbchannel.Channel(backends.target)
        ch.unary(WHOAMI, b"", timeout=5)
        del ch
        gc.collect()
    # Still healthy afterwards.
    with lbchannel.Channel(backends.target) as ch:
        assert ch.unary(WHOAMI, b"", timeout=5).decode() in backends.names


def test_many_channels_open_and_close_quickly(lbchannel, backends):
    t0 = time.monotonic()
    for _ in range(50):
        lbchannel.Channel(backends.target).close()
    assert time.monotonic() - t0 < 10


def test_close_cancels_rpc_in_flight(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    ch.unary(WHOAMI, b"", timeout=5)
    result = {}

    def slow():
        t0 = time.monotonic()
        try:
            ch.unary("/lbtest.Test/Sleep", b"5000", timeout=15)
            result["outcome"] = "ok"
        except lbchannel.RpcError as e:
            result["outcome"] = e.code()
        except lbchannel.ClosedError:
            result["outcome"] = "closed"
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=slow, daemon=True)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    run_with_timeout(ch.close, 5)
    assert time.monotonic() - t0 < 3, "lbc_channel_close blocked"
    t.join(5)
    assert not t.is_alive(), "an RPC in flight did not end when its channel was closed"
    assert result["outcome"] == grpc.StatusCode.CANCELLED, result
    assert result["elapsed"] < 3, result


def test_close_from_another_thread_while_many_calls_run(lbchannel, backends):
    ch = lbchannel.Channel(backends.target)
    errors = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                ch.unary(WHOAMI, b"", timeout=5)
            except lbchannel.ClosedError:
                return
            except lbchannel.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED:
                    errors.append(e)
                return
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    run_with_timeout(ch.close, 5)
    for t in threads:
        t.join(5)
    stop.set()
    assert not any(t.is_alive() for t in threads), "calls kept running after close"
    assert not errors, errors


def test_huge_durations_mean_never_not_a_crash(lbchannel, backends):
    """INT64_MAX milliseconds for every duration option saturates instead of trapping."""
    huge = str(2**63 - 1)
    with lbchannel.Channel(
        "ipv4:127.0.0.1:1," + backends.target[len("ipv4:"):],
        connect_timeout_ms=huge, backoff_max_ms=huge, backoff_initial_ms=huge,
    ) as ch:
        # One endpoint refuses (backoff of "forever"), the others serve.
        for _ in range(10):
            assert ch.unary("/lbtest.Test/Whoami", b"", timeout=5)
    answers = iter([[a.address for a in backends]] * 1000)
    with lbchannel.Channel(
        "lookup-with-huge-intervals", lookup=lambda target: next(answers),
        discovery_interval_ms=huge, min_reresolution_interval_ms=huge, dns_ttl_floor_ms=huge,
        resolution="eager", eager_timeout_ms=huge,
    ) as ch:
        assert len(ch.endpoints()) == len(backends)
        assert ch.unary("/lbtest.Test/Whoami", b"", timeout=5)
