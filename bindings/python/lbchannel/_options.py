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
"""

from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from ._errors import ErrorCode, UnknownOptionError

__all__ = ["GRPC_OPTION_NAMES", "channel_options"]

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
#: expanded by :mod:`lbchannel._service_config` when the channel opens.
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


def _unknown(key: str) -> UnknownOptionError:
    return UnknownOptionError(
        ErrorCode.UNKNOWN_OPTION,
        "grpcio channel option %r has no lbchannel equivalent (supported: %s)"
        % (key, ", ".join(sorted(GRPC_OPTION_NAMES))),
    )


def channel_options(options: Options, keywords: Dict[str, Any]) -> Dict[str, Any]:
    """grpcio's ``options`` pairs translated to lbchannel options, then ``keywords``
    (lbchannel options, ``lookup``, ``log_callback``, ...), which win on a clash.

    Raises:
        lbchannel.UnknownOptionError: a ``grpc.*`` key not in :data:`GRPC_OPTION_NAMES`.
        TypeError: ``options`` is not an iterable of ``(str, value)`` pairs.
    """
    merged: Dict[str, Any] = {}
    if options is not None:
        if isinstance(options, (str, bytes, dict)):
            raise TypeError("options must be a sequence of (key, value) pairs, as in grpcio, not %s"
                            % type(options).__name__)
        for pair in options:
            if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str):
                raise TypeError("each option must be a (str, value) pair, not %r" % (pair,))
            key, value = pair
            if key.startswith("grpc."):
                if key not in GRPC_OPTION_NAMES:
                    raise _unknown(key)
                name, convert = GRPC_OPTION_NAMES[key]
                merged[name] = convert(value)
            else:
                merged[key] = value
    merged.update(keywords)
    return merged
