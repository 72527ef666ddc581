"""What the operator does for one DesignateDR, through the application core; kopf only calls it (``handlers.py``).

- :func:`render_pools`: each database region's pools.yml into its Secret (on create and update, and again whenever
  the recorded state of the world changes);
- :class:`Watch`: the controller's observe -> decide -> act round (:class:`dnsdr.app.control.Controller` over the
  Kubernetes state store and the resource's Secrets), after the requests its annotations make, then status, Events
  and metrics. The Lease the state store takes around a failover is what keeps two operators from acting at once:
  kopf elects no leader.

Errors keep their two kinds (:class:`~dnsdr.domain.errors.RetryLater`, :class:`~dnsdr.domain.errors.NeedsOperator`);
the handlers map them to kopf's once.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from dnsdr.adapters.kube_objects import KubeObjects
from dnsdr.adapters.kube_secrets import KubeSecrets
from dnsdr.adapters.state import StateStore
from dnsdr.app.control import Controller, MonitorSource, acknowledge, monitor_source, monitor_url, pause, resume
from dnsdr.app.observe import SerialSummary
from dnsdr.app.operations import ProgressSink
from dnsdr.app.settings import KubeState, Settings
from dnsdr.domain.detection import MonitorView
from dnsdr.domain.errors import DnsdrError, InvalidInput
from dnsdr.domain.journal import StepRecord
from dnsdr.domain.plan import Step
from dnsdr.domain.pools import render_pools_yaml
from dnsdr.domain.spec import DesignateDR, SecretLookup
from dnsdr.operator import objects, status
from dnsdr.operator.crd import GROUP, PLURAL, VERSION
from dnsdr.operator.metrics import MetricsHub
from dnsdr.operator.resource import Request, Resource, read
from dnsdr.operator.status import Event

log = logging.getLogger("dnsdr.operator")
EventSink = Callable[[Event], None]
STALLED_FAILOVER = 1800.0


class InvalidSpec(InvalidInput):
    """The resource's spec is not a valid DesignateDR (the CRD's schema cannot check everything the model does)."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(f"{resource.reference} is not a valid DesignateDR ({len(resource.problems)} problems): "
                         + "; ".join(resource.problems[:20]))


@dataclass
class OperatorContext:
    """What every resource's handlers share, built once at startup (kopf's memo)."""

    api: client.ApiClient
    objects: KubeObjects
    metrics: MetricsHub = field(default_factory=MetricsHub)
    interval: float | None = None  # seconds between rounds; default each spec's policy.probeIntervalSeconds
    sweep_every: float = 30.0  # seconds between zone serial sweeps (they read every zone)
    secrets_ttl: float = 30.0
    secrets_dir: Path | None = None  # for file references only
    clock: Callable[[], float] = time.time
    watches: dict[tuple[str, str], Watch] = field(default_factory=dict)
    threads: dict[tuple[str, str], RoundThread] = field(default_factory=dict)

    def secrets(self, namespace: str) -> KubeSecrets:
        return KubeSecrets(self.api, namespace, ttl=self.secrets_ttl, directory=self.secrets_dir)

    def settings(self, namespace: str, lookup: SecretLookup) -> Settings:
        return Settings(kube=KubeState(self.api, namespace), lookup=lookup, secrets_dir=self.secrets_dir)

    def controller(self, spec: DesignateDR, settings: Settings, monitor: MonitorSource,
                   on_step: ProgressSink) -> Controller:
        return Controller(spec, settings, monitor, clock=self.clock, on_step=on_step)

    def stop_rounds(self, timeout: float) -> list[str]:
        """Stop every resource's rounds and wait up to ``timeout`` for them to end (at exit: a daemon thread still
        writing while the interpreter finalizes can abort it); the resources whose round goes on."""
        threads = list(self.threads.items())
        for _, thread in threads:
            thread.stop.set()
        deadline = time.monotonic() + timeout
        for _, thread in threads:
            thread.done.wait(max(0.0, deadline - time.monotonic()))
        return sorted(f"{ns}/{name}" for (ns, name), t in threads if not t.done.is_set())

    def health(self) -> dict[str, Any]:
        """For the liveness probe: every watch's last round; ``stalled`` lists watches whose loop stopped."""
        now = time.monotonic()
        stalled = sorted(f"{ns}/{name}" for (ns, name), w in list(self.watches.items()) if w.stalled(now))
        return {"resources": len(self.watches), "stalled": stalled}


def valid_spec(resource: Resource) -> DesignateDR:
    if resource.spec is None:
        raise InvalidSpec(resource)
    return resource.spec


def render_pools(ctx: OperatorContext, resource: Resource, store: StateStore,
                 lookup: SecretLookup) -> tuple[list[dict[str, Any]], list[str]]:
    """Each database region's pools.yml into its Secret: the status entries, and the Secrets actually written."""
    spec = valid_spec(resource)
    states = objects.pools_states(spec, store.load_cluster())
    written = []
    for pools in states:
        body = objects.pools_secret(resource, pools, render_pools_yaml(spec, pools.state, lookup))
        if ctx.objects.apply_secret(body, objects.DIGEST):
            written.append(body["metadata"]["name"])
    return objects.pools_status(resource, states), written


def reconcile(ctx: OperatorContext, body: Mapping[str, Any]) -> list[str]:
    """On create and update: validate the spec and render the pools Secrets; the Secrets written."""
    resource = read(body)
    spec = valid_spec(resource)
    settings = ctx.settings(resource.namespace, ctx.secrets(resource.namespace))
    _, written = render_pools(ctx, resource, settings.store(spec), settings.resolver)
    return written


class Watch:
    """One resource's rounds; lives as long as its daemon and keeps what must outlive a round."""

    def __init__(self, ctx: OperatorContext, sink: EventSink) -> None:
        self.ctx = ctx
        self.sink = sink
        self.resource: Resource | None = None
        self.controller: Controller | None = None
        self.generation = -1
        self.lookup: KubeSecrets | None = None
        self.monitor_error = ""
        self.last_verdict: str | None = None
        self.last_outcome: str | None = None
        self.last_problems: tuple[str, ...] | None = None
        self.pools_key: tuple[Any, ...] | None = None
        self.pools: list[dict[str, Any]] = []
        self.serials: SerialSummary | None = None
        self.swept_at: float | None = None
        self._last_sweep = float("-inf")
        self.started = time.monotonic()
        self.round_started: float | None = None
        self.round_ended: float | None = None

    def stalled(self, now: float) -> bool:
        """No round ended for three intervals (at least a minute), unless one runs: a failover takes minutes, and
        half an hour is the most it may."""
        if self.round_started is not None:
            return now - self.round_started > STALLED_FAILOVER
        return now - (self.round_ended or self.started) > max(3 * self.interval, 60.0)

    def run(self, body: Mapping[str, Any]) -> None:
        """One round, timed for the liveness probe; errors propagate (the handler maps and logs them)."""
        self.round_started = time.monotonic()
        try:
            self.round(body)
        finally:
            self.round_started, self.round_ended = None, time.monotonic()

    @property
    def interval(self) -> float:
        spec = self.resource.spec if self.resource else None
        return self.ctx.interval or (spec.policy.probe_interval_seconds if spec else 5.0)

    # ------------------------------------------------------------ the controller for the current generation

    def _monitor(self, spec: DesignateDR) -> MonitorSource:
        fetch = monitor_source(monitor_url(spec), self.interval)

        def remembered() -> tuple[dict[str, MonitorView] | None, str]:
            views, error = fetch()
            self.monitor_error = error
            return views, error
        return remembered

    def _controller(self, resource: Resource, spec: DesignateDR) -> Controller:
        if self.controller is None or resource.generation != self.generation:
            self.close()
            self.lookup = self.ctx.secrets(resource.namespace)
            settings = self.ctx.settings(resource.namespace, self.lookup)
            self.controller = self.ctx.controller(spec, settings, self._monitor(spec), self._on_step)
            self.generation, self.pools_key = resource.generation, None
            if self.last_verdict is None:
                self.last_verdict = str(resource.status.get("health") or "") or None
        return self.controller

    def close(self) -> None:
        if self.controller is not None:
            self.controller.close()
            self.controller = None

    # ------------------------------------------------------------ a round

    def round(self, body: Mapping[str, Any]) -> None:
        resource = self.resource = read(body)
        if resource.spec is None:
            self._invalid(resource)
            return
        self.last_problems = None
        controller = self._controller(resource, resource.spec)
        self._apply(resource, controller.store)
        report = controller.round()
        now = self.ctx.clock()
        if time.monotonic() - self._last_sweep >= self.ctx.sweep_every and report.rows:
            self._last_sweep = time.monotonic()
            t0 = time.monotonic()
            self.serials, self.swept_at = controller.observer.serials(report.primary), now
            self.ctx.metrics.member(resource.namespace, resource.name).observe_serials(self.serials,
                                                                                        time.monotonic() - t0)
        journal = controller.store.load_journal()
        doc = status.round_status(report, resource.spec, controller.policy, generation=resource.generation,
                                  previous=resource.status, journal=journal, serials=self.serials,
                                  swept_at=self.swept_at, monitor_error=self.monitor_error, now=now)
        self._render_pools(resource, controller)
        doc["pools"] = self.pools
        self._write(resource, doc)
        for event in (status.decision_event(self.last_verdict, report), status.outcome_event(report,
                                                                                             self.last_outcome)):
            if event is not None:
                self.sink(event)
        self.last_verdict, self.last_outcome = report.decision.verdict.value, report.outcome
        metrics = self.ctx.metrics.member(resource.namespace, resource.name)
        metrics.observe_round(report, controller.policy, resource.spec.policy.max_lag_seconds)
        metrics.observe_journal(journal, now)

    def _render_pools(self, resource: Resource, controller: Controller) -> None:
        """Again whenever the spec or the recorded state changed (a failover, a rejoin), and until it once worked."""
        cluster = controller.store.load_cluster()
        key = (resource.generation, None if cluster is None else (cluster.primary, tuple(cluster.lost),
                                                                  tuple(cluster.kept), tuple(cluster.fenced)))
        if key == self.pools_key:
            return
        assert self.lookup is not None
        try:
            self.pools, written = render_pools(self.ctx, resource, controller.store, self.lookup)
        except DnsdrError as exc:  # a credential Secret not there yet: status still tells the rest; retried next round
            if self.pools_key != ("failed", str(exc)):
                self.sink(Event(status.WARNING, "PoolsNotRendered", str(exc)[:1000]))
            self.pools_key = ("failed", str(exc))
            return
        self.pools_key = key
        if written:
            states = ", ".join(f"{p['region']}: {p['worldState']}" for p in self.pools)
            self.sink(Event(status.NORMAL, "PoolsRendered", f"wrote {', '.join(written)} ({states})"))

    def _apply(self, resource: Resource, store: StateStore) -> None:
        """The requests the annotations make (each once per value), recorded in status.requests."""
        applied: dict[str, str] = {}
        for request in resource.requests():
            self._request(request, store)
            applied[request.key] = request.value
        if applied:
            self._write(resource, {"requests": applied})

    def _request(self, request: Request, store: StateStore) -> None:
        if request.kind == "pause":
            pause(store, request.reason)
            self.sink(Event(status.NORMAL, "Paused", f"automatic failover paused: {request.reason}"))
        elif request.kind == "resume":
            resume(store)
            self.sink(Event(status.NORMAL, "Resumed", "automatic failover resumed"))
        else:
            acknowledge(store, self.ctx.clock())
            self.sink(Event(status.NORMAL, "Acknowledged", "the last automatic failover is acknowledged: its "
                                                           "cool-down no longer holds the next one back"))

    def _invalid(self, resource: Resource) -> None:
        self.close()
        self._write(resource, status.invalid_status(resource.problems, resource.generation, resource.status,
                                                    self.ctx.clock()))
        if resource.problems != self.last_problems:
            self.sink(Event(status.WARNING, "InvalidSpec", str(InvalidSpec(resource))[:1000]))
        self.last_problems, self.last_verdict = resource.problems, "invalid"

    def failed(self, error: str) -> None:
        """A round raised: say so in status (best effort) and carry on next round."""
        if self.resource is None:
            return
        doc = {"message": f"round failed: {error}"[:1000], "lastRoundTime": status.iso(self.ctx.clock())}
        try:
            self._write(self.resource, doc)
        except Exception as exc:  # the API server may be what failed; the log has both
            log.warning("cannot report the failed round of %s: %s", self.resource.reference, exc)

    def _write(self, resource: Resource, doc: dict[str, Any]) -> None:
        self.ctx.objects.patch_status(GROUP, VERSION, PLURAL, resource.namespace, resource.name, doc)

    # ------------------------------------------------------------ during a failover (the round blocks)

    def _on_step(self, event: str, step: Step, record: StepRecord) -> None:
        found = status.step_event(event, step.name, step.region, record)
        if found is not None:
            self.sink(found)
        resource, controller = self.resource, self.controller
        if resource is None or controller is None:
            return
        try:
            journal = controller.store.load_journal()
            if journal is not None:
                self._write(resource, status.progress_status(journal, resource.status, resource.generation,
                                                             self.ctx.clock()))
        except Exception as exc:  # progress is a courtesy: the failover must not stop for it
            log.warning("cannot report failover progress of %s: %s", resource.reference, exc)


def run_rounds(one: Watch, body: Mapping[str, Any], stop: threading.Event,
               logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """One round per interval until ``stop``; a round that fails is logged and reported in status, and the next one
    runs on time: the loop outlives anything a round meets."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            one.run(body)
        except DnsdrError as exc:
            logger.warning("round failed: %s", exc)
            one.failed(str(exc))
        except Exception as exc:  # the traceback goes to the log
            logger.exception("round failed unexpectedly")
            one.failed(f"{type(exc).__name__}: {exc}")
        stop.wait(max(0.0, one.interval - (time.monotonic() - started)))


class RoundThread:
    """A resource's rounds in a thread of their own, as long as the resource lives.

    Not in kopf's executor: a loop that lasts as long as the resource (and a failover that takes minutes) would hold
    one of its workers, and the interpreter joins those at exit, which a worker that ran a failover was seen to hang
    (CPython 3.11). Ours is a daemon thread: a failover cut short by the process ending resumes from its journal.
    The thread runs in a copy of the caller's context, where kopf keeps what posting an Event needs.
    """

    def __init__(self, one: Watch, body: Mapping[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any],
                 name: str, on_exit: Callable[[], None] = lambda: None) -> None:
        self.one, self.body, self.logger, self.on_exit = one, body, logger, on_exit
        self.stop = threading.Event()
        self.done = threading.Event()
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._run,), name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            run_rounds(self.one, self.body, self.stop, self.logger)
        finally:
            self.one.close()
            self.on_exit()
            self.done.set()
