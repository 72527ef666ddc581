"""Start the operator: one API client (from a kubeconfig, or the pod's service account) for everything, the metrics
endpoint, then kopf on :data:`dnsdr.operator.handlers.registry` until SIGTERM.

It runs in the monitor region's cluster, with the monitor and the state store, never in a region that can be lost:
an operator in r1 dies with r1, and one in r2 would take a cut between r1 and r2 for r1's loss. kopf's peering is
not used (``standalone``): with one replica and ``strategy: Recreate`` there is one operator, and if two ever run
the state store's Lease lets only one act.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import kopf
from prometheus_client import start_http_server

from dnsdr.adapters import kube
from dnsdr.adapters.kube_objects import KubeObjects
from dnsdr.domain.spec import Endpoint
from dnsdr.operator import handlers
from dnsdr.operator.actions import OperatorContext

log = logging.getLogger("dnsdr.operator")
STOP_TIMEOUT = 20.0  # seconds the rounds in progress get to end at exit (the pod's grace period is 30)
METRICS = Endpoint("0.0.0.0", 9154)  # the controller's port: one Service and one PrometheusRule fit both


@dataclass(frozen=True)
class OperatorOptions:
    kubeconfig: str | None = None
    namespaces: Sequence[str] = ()  # default: the kubeconfig context's, or the pod's, namespace
    metrics: Endpoint | None = METRICS
    liveness: str | None = "http://0.0.0.0:8080/healthz"
    interval: float | None = None
    sweep_every: float = 30.0
    secrets_ttl: float = 30.0
    secrets_dir: Path | None = None


def run(options: OperatorOptions, stop_flag: threading.Event | None = None,
        ready_flag: threading.Event | None = None) -> None:
    api, default_namespace = kube.connect(options.kubeconfig)
    namespaces = list(options.namespaces) or [default_namespace or "default"]
    context = OperatorContext(api, KubeObjects(api), interval=options.interval, sweep_every=options.sweep_every,
                              secrets_ttl=options.secrets_ttl, secrets_dir=options.secrets_dir)
    if options.metrics is not None:
        start_http_server(options.metrics.port, options.metrics.host, registry=context.metrics.registry)
    settings = kopf.OperatorSettings()
    handlers.configure(settings)
    log.info("watching DesignateDRs in %s as %s", ", ".join(namespaces), api.configuration.host)
    try:
        kopf.run(registry=handlers.registry, settings=settings, standalone=True, namespaces=namespaces,
                 liveness_endpoint=options.liveness, memo=kopf.Memo(context=context), stop_flag=stop_flag,
                 ready_flag=ready_flag)
    finally:
        going_on = context.stop_rounds(STOP_TIMEOUT)
        if going_on:
            log.warning("exiting during a round of %s (a failover cut short resumes from its journal)",
                        ", ".join(going_on))
        kube.close(api)
