"""grpcio's channel arguments (``options=[(key, value), ...]``) as lbchannel options.

The one table of grpcio channel-argument names that lbchannel understands, used by
:func:`lbchannel.insecure_channel`, :func:`lbchannel.secure_channel` and their
:mod:`lbchannel.aio` counterparts:

=======================================  =======================================================
grpcio key                               lbchannel option
=======================================  =======================================================
``grpc.lb_policy_name``                  ``lb_policy``
``grpc.max_receive_message_length``      ``max_receive_message_size`` (-1: no limit)
``grpc.max_send_message_length``         ``max_send_message_size`` (-1: no limit)
``grpc.primary_user_agent``              ``user_agent``
``grpc.default_authority``               ``authority``
``grpc.ssl_target_name_override``        ``tls_server_name``
``grpc.keepalive_time_ms``               ``keepalive_time_ms``
``grpc.keepalive_timeout_ms``            ``keepalive_timeout_ms``
``grpc.keepalive_permit_without_calls``  ``keepalive_permit_without_calls`` (0/1)
``grpc.per_rpc_retry_buffer_size``       ``retry_buffer_bytes``
``grpc.service_config``                  ``service_config`` (+ ``health_check_service``)
``grpc.enable_retries``                  0 drops the service config's retry and hedging policies
=======================================  =======================================================

Any other ``grpc.*`` key raises :class:`lbchannel.UnknownOptionError` (also a
``ValueError``) naming the key and listing the supported ones, before anything is
opened: lbchannel does not silently ignore a setting the caller relies on. Keys
without the ``grpc.`` prefix are lbchannel option names and pass through (the
library rejects unknown ones with the same exception).

grpcio's service config works unchanged (:func:`expand_service_config`, when the
channel opens): ``grpc.service_config`` / ``service_config`` (JSON text, bytes or a dict)
goes to the ``service_config`` option, which the library parses (``methodConfig`` entries
with ``retryPolicy`` / ``hedgingPolicy``, and ``retryThrottling``; see
``include/lbchannel.h``); its ``healthCheckConfig.serviceName`` becomes the
``health_check_service`` option (unless that option is given too); ``grpc.enable_retries``
set to a false value drops the retry, hedging and throttling parts (grpcio's switch)::

    config = {"methodConfig": [{"name": [{"service": "pkg.Echo"}],
                                "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s",
                                                "maxBackoff": "1s", "backoffMultiplier": 2,
                                                "retryableStatusCodes": ["UNAVAILABLE"]}}]}
    channel = lbchannel.insecure_channel(target, options=[("grpc.service_config", json.dumps(config))])
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, TypedDict, Union

from ._errors import ErrorCode, UnknownOptionError


class ChannelOptions(TypedDict, total=False):
    """The lbchannel options, keyword arguments of :class:`lbchannel.Channel` and the
    ``*_channel`` functions (sync and aio). Each is passed to ``lbc_options_set(key,
    str(value))`` (bools as ``"true"``/``"false"``); ``include/lbchannel.h`` gives the
    ranges and defaults. Durations are in milliseconds, sizes in bytes."""

    # balancing: least_request (default), round_robin, pick_first, peak_ewma,
    # weighted_round_robin (weights as "ADDRESS;weight=N" in set_endpoints / lookup
    # answers, or SRV weights)
    lb_policy: str
    least_request_choice_count: int
    peak_ewma_decay_ms: int
    connect_timeout_ms: int
    wait_for_ready: bool
    max_send_message_size: int
    max_receive_message_size: int
    backoff_initial_ms: int
    backoff_multiplier: float
    backoff_jitter: float
    backoff_max_ms: int
    backoff_reset_after_ms: int
    authority: str
    user_agent: str
    stream_window_bytes: int
    stream_send_buffer_bytes: int
    # discovery
    discovery_interval_ms: int
    min_reresolution_interval_ms: int
    dns_use_ttl: bool
    dns_ttl_floor_ms: int
    dns_srv: bool
    dns_timeout_ms: int
    empty_answer: str  # "keep" | "apply"
    resolution: str  # "lazy" | "eager"
    eager_timeout_ms: int
    # TLS (PEM values may be bytes; see also lbchannel.secure_channel)
    tls: bool
    tls_ca_file: str
    tls_ca_dir: str
    tls_ca_pem: Union[str, bytes]
    tls_cert_file: str
    tls_key_file: str
    tls_cert_pem: Union[str, bytes]
    tls_key_pem: Union[str, bytes]
    tls_server_name: str
    tls_min_version: str
    tls_session_resumption: bool
    # outlier ejection (0 = off), slow start (0 = off), subsetting (0 = all endpoints)
    outlier_consecutive_failures: int
    outlier_base_ejection_ms: int
    outlier_max_ejection_ms: int
    outlier_max_ejection_percent: int
    outlier_status_codes: str  # e.g. "UNAVAILABLE,13"
    outlier_failure_percentage: int
    outlier_interval_ms: int
    outlier_request_volume: int
    slow_start_window_ms: int
    slow_start_min_weight_percent: int
    subset_size: int
    subset_client_id: str
    # keepalive PINGs (gRFC A8): 0 = off (the default); a PING unanswered for
    # keepalive_timeout_ms declares the connection dead; a GOAWAY "too_many_pings"
    # doubles keepalive_time_ms
    keepalive_time_ms: int
    keepalive_timeout_ms: int
    keepalive_permit_without_calls: bool
    # retries and hedging (gRFC A6, off by default); a call's attempts / attempt_peers()
    # tell where its attempts went
    retry_max_attempts: int
    retry_initial_backoff_ms: int
    retry_max_backoff_ms: int
    retry_backoff_multiplier: float
    retry_jitter: float
    retry_status_codes: str  # e.g. "UNAVAILABLE,RESOURCE_EXHAUSTED"
    retry_throttle_max_tokens: int
    retry_throttle_token_ratio: float
    retry_buffer_bytes: int
    hedging_max_attempts: int
    hedging_delay_ms: int
    hedging_non_fatal_codes: str
    # a gRPC service config (JSON text, bytes or a dict; see expand_service_config below):
    # its healthCheckConfig.serviceName becomes health_check_service
    service_config: Union[str, bytes, Dict[str, Any]]
    # grpc.health.v1 service name; any string ("" too) turns health checking on:
    # only SERVING endpoints are picked (stats() "health")
    health_check_service: str

#: What an ``options`` argument holds: grpcio's ``(key, value)`` pairs.
Options = Optional[Iterable[Tuple[str, Any]]]

_INT32_MAX = 2**31 - 1


def _message_length(value: Any) -> Any:
    """grpcio's -1 (no limit) is the largest size lbchannel accepts."""
    return _INT32_MAX if isinstance(value, int) and not isinstance(value, bool) and value < 0 else value


def _flag(value: Any) -> Any:
    """grpcio passes booleans as the ints 0 and 1."""
    return bool(value) if isinstance(value, int) else value


def _same(value: Any) -> Any:
    return value


#: grpcio channel-argument name -> (lbchannel option, value conversion).
#: ``grpc.service_config`` and ``grpc.enable_retries`` keep their names: they are
#: expanded by :func:`expand_service_config` when the channel opens.
GRPC_OPTION_NAMES: Dict[str, Tuple[str, Callable[[Any], Any]]] = {
    "grpc.lb_policy_name": ("lb_policy", _same),
    "grpc.max_receive_message_length": ("max_receive_message_size", _message_length),
    "grpc.max_send_message_length": ("max_send_message_size", _message_length),
    "grpc.primary_user_agent": ("user_agent", _same),
    "grpc.default_authority": ("authority", _same),
    "grpc.ssl_target_name_override": ("tls_server_name", _same),
    "grpc.keepalive_time_ms": ("keepalive_time_ms", _same),
    "grpc.keepalive_timeout_ms": ("keepalive_timeout_ms", _same),
    "grpc.keepalive_permit_without_calls": ("keepalive_permit_without_calls", _flag),
    "grpc.per_rpc_retry_buffer_size": ("retry_buffer_bytes", _same),
    "grpc.service_config": ("grpc.service_config", _same),
    "grpc.enable_retries": ("grpc.enable_retries", _flag),
}


def channel_options(options: Options, keywords: ChannelOptions) -> Dict[str, Any]:
    """grpcio's ``options`` pairs translated to lbchannel options, then ``keywords``
    (lbchannel options), which win on a clash.

    Raises:
        lbchannel.UnknownOptionError: a ``grpc.*`` key not in :data:`GRPC_OPTION_NAMES`.
        TypeError: ``options`` is not an iterable of ``(str, value)`` pairs.
    """
    if isinstance(options, (str, bytes, dict)):
        raise TypeError("options must be a sequence of (key, value) pairs, as in grpcio, not %s"
                        % type(options).__name__)
    merged: Dict[str, Any] = {}
    for pair in () if options is None else options:
        if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError("each option must be a (str, value) pair, not %r" % (pair,))
        key, value = pair
        if not key.startswith("grpc."):
            merged[key] = value
        elif key in GRPC_OPTION_NAMES:
            name, convert = GRPC_OPTION_NAMES[key]
            merged[name] = convert(value)
        else:
            raise UnknownOptionError(ErrorCode.UNKNOWN_OPTION,
                                     "grpcio channel option %r has no lbchannel equivalent (supported: %s)"
                                     % (key, ", ".join(sorted(GRPC_OPTION_NAMES))))
    merged.update(keywords)
    return merged


def expand_service_config(options: Dict[str, Any]) -> Dict[str, Any]:
    """``options`` with ``grpc.service_config`` / ``service_config`` (JSON text,
    bytes or a dict) and ``grpc.enable_retries`` turned into lbchannel options.
    Other keys are returned unchanged; the input is not modified."""
    out = dict(options)
    enable = out.pop("grpc.enable_retries", True)
    given = [k for k in ("grpc.service_config", "service_config") if k in out]
    if len(given) > 1:
        raise ValueError("give either grpc.service_config or service_config, not both")
    if not given:
        return out
    raw = out.pop(given[0])
    try:
        config = raw if isinstance(raw, dict) else json.loads(
            raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw)
    except (TypeError, ValueError):
        out["service_config"] = raw  # not JSON: let the library say what is wrong
        return out
    if isinstance(config, dict):
        health = config.get("healthCheckConfig")
        if isinstance(health, dict) and isinstance(health.get("serviceName"), str):
            out.setdefault("health_check_service", health["serviceName"])
        if not enable:
            config = dict(config)
            config.pop("retryThrottling", None)
            config["methodConfig"] = [
                {k: v for k, v in entry.items() if k not in ("retryPolicy", "hedgingPolicy")}
                if isinstance(entry, dict) else entry
                for entry in config.get("methodConfig", [])
            ]
    out["service_config"] = json.dumps(config) if (isinstance(raw, dict) or not enable) else raw
    return out
