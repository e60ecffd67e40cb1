"""Export a channel's metrics to OpenTelemetry or Prometheus.

The library counts every call itself — per method, attempts started and latency
histograms of attempts and calls by status; per endpoint, calls, failures,
in-flight calls and latency — and publishes the counts in ``Channel.stats()``
(``"metrics"`` and ``"endpoints"``). The exporters here read that snapshot when
metrics are collected or scraped, under gRPC's standard client metric names
(gRFC A66), so calls do no Python work for metrics:

* :class:`OpenTelemetryProducer` (:mod:`lbchannel.metrics.otel`, needs
  ``opentelemetry-sdk``: ``pip install 'lbchannel[otel]'``)::

      reader = InMemoryMetricReader()   # or PeriodicExportingMetricReader(exporter)
      provider = MeterProvider(metric_readers=[reader])
      OpenTelemetryProducer(channel).attach(reader)

* :class:`PrometheusCollector` (:mod:`lbchannel.metrics.prometheus`, needs
  ``prometheus_client``: ``pip install 'lbchannel[prometheus]'``)::

      prometheus_client.REGISTRY.register(PrometheusCollector(channel))

``pip install 'lbchannel[metrics]'`` installs both. Neither library is imported
by ``import lbchannel`` or ``import lbchannel.metrics``; each is imported when its
class is first used, and a missing one raises :class:`ImportError` naming the
extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .otel import OpenTelemetryProducer
    from .prometheus import PrometheusCollector

__all__ = ["OpenTelemetryProducer", "PrometheusCollector"]

_HOMES = {"OpenTelemetryProducer": ".otel", "PrometheusCollector": ".prometheus"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError("module 'lbchannel.metrics' has no attribute %r" % name)
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
