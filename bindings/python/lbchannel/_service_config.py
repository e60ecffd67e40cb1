"""grpcio's service config for lbchannel channels.

grpcio users configure retries, hedging and health checking with a JSON service
config passed as the ``grpc.service_config`` channel argument. :func:`expand`
turns it into lbchannel options so the same configuration works unchanged:

* the JSON text goes to the ``service_config`` option, which the library parses
  (``methodConfig`` entries with ``retryPolicy`` / ``hedgingPolicy``, and
  ``retryThrottling``; see ``include/lbchannel.h``);
* ``healthCheckConfig.serviceName`` becomes the ``health_check_service`` option
  (unless that option is given too);
* ``grpc.enable_retries`` set to a false value drops the retry, hedging and
  throttling parts (grpcio's switch); a true value changes nothing.

::

    config = {"methodConfig": [{"name": [{"service": "pkg.Echo"}],
                                "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s",
                                                "maxBackoff": "1s", "backoffMultiplier": 2,
                                                "retryableStatusCodes": ["UNAVAILABLE"]}}]}
    channel = lbchannel.insecure_channel(target, options=[("grpc.service_config", json.dumps(config))])
"""

import json
from typing import Any, Dict

_KEYS = ("grpc.service_config", "service_config")


def _load(value: Any) -> Any:
    """The parsed config, or None when it is not JSON (the library then reports why)."""
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else value)
    except (TypeError, ValueError):
        return None


def expand(options: Dict[str, Any]) -> Dict[str, Any]:
    """``options`` with ``grpc.service_config`` / ``service_config`` (JSON text,
    bytes or a dict) and ``grpc.enable_retries`` turned into lbchannel options.
    Other keys are returned unchanged; the input is not modified."""
    if not any(k in options for k in _KEYS + ("grpc.enable_retries",)):
        return options
    out = dict(options)
    enable = out.pop("grpc.enable_retries", True)
    given = [k for k in _KEYS if k in out]
    if len(given) > 1:
        raise ValueError("give either grpc.service_config or service_config, not both")
    if not given:
        return out
    raw = out.pop(given[0])
    config = _load(raw)
    if config is None:
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
