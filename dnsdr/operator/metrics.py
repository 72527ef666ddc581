"""The operator's /metrics: the controller's metrics of every watched DesignateDR, labelled
``designatedr="<namespace>/<name>"``, in one exposition (not ``namespace``: Prometheus gives that label to the
scraped target).

Each resource has its own :class:`~dnsdr.app.metrics.ControllerMetrics` (the same names and help as ``dnsdr run``,
so one PrometheusRule fits both); this collector merges them family by family.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from dnsdr.app.metrics import ControllerMetrics


class MetricsHub(Collector):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._members: dict[tuple[str, str], ControllerMetrics] = {}
        self._lock = threading.Lock()
        self.registry.register(self)

    def member(self, namespace: str, name: str) -> ControllerMetrics:
        with self._lock:
            return self._members.setdefault((namespace, name), ControllerMetrics())

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            self._members.pop((namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            members = list(self._members.items())
        merged: dict[str, Metric] = {}
        for (namespace, name), metrics in members:
            for family in metrics.registry.collect():
                out = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type,
                                                            family.unit))
                for s in family.samples:
                    out.add_sample(s.name, {**s.labels, "designatedr": f"{namespace}/{name}"}, s.value,
                                   s.timestamp, s.exemplar)
        yield from merged.values()
