"""One round of the controller: observe -> decide -> act, on the application core.

The controller's own view (each database: reachable? the candidate's IO thread and heartbeat age,
measurable only because the database adapters live across rounds), the monitor's verdict and the
state store (epoch, cool-down, pause, acknowledgements, the last semi-sync sample) go into the pure
decision (:mod:`dnsdr.domain.detection`) and the automation gate (:mod:`dnsdr.domain.automation`).
It acts only on region-lost, only when the policy says automatic, with the same failover engine
and journal as ``dnsdr promote``, under the state store's lease: two controllers, or a controller
and a person, never act at once. A failover journaled as running when the controller starts (it
was killed mid-way) is resumed before anything else. A run that finds the failover already done by
another holder of the lease (:class:`~dnsdr.engine.errors.Superseded`) is "not acting", not a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from dnsdr.adapters.http_json import HttpJsonError, get_json
from dnsdr.adapters.mysql import Timeouts
from dnsdr.adapters.state import LockedError, StateStore
from dnsdr.adapters.state.base import local_holder_dead
from dnsdr.app.observe import AdapterFactory, DatabaseRow, Observer, default_factory_with
from dnsdr.app.operations import NothingToDo, OperationRequest, ProgressSink, execute, prepare
from dnsdr.app.settings import Settings
from dnsdr.domain import automation
from dnsdr.domain.automation import Action, ActionKind, ControlRecord, Policy, SemiSyncSample
from dnsdr.domain.detection import Decision, DetectorState, MonitorView, Sample, Verdict, decide
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.journal import Journal, Outcome, StepRecord
from dnsdr.domain.plan import Operation, Step
from dnsdr.domain.replication import ReplicationState
from dnsdr.domain.spec import DesignateDR, FailoverMode
from dnsdr.domain.witness import MonitorUnavailable, parse_verdict
from dnsdr.engine.errors import Superseded

log = logging.getLogger("dnsdr.controller")

# What the monitor says now: per-region views (None when it did not answer), and why not.
MonitorSource = Callable[[], tuple[dict[str, MonitorView] | None, str]]
FailoverRunner = Callable[[str], str]


def monitor_url(spec: DesignateDR, given: str | None = None) -> str | None:
    """The monitor's /verdict: ``given``, else the monitor region's endpoint in the spec (None: no monitor)."""
    if given:
        return given
    if spec.monitor_region is None:
        return None
    where = spec.region(spec.monitor_region).monitor
    return None if where is None else f"http://{where}/verdict"


def monitor_source(url: str | None, interval: float) -> MonitorSource:
    """Reads the monitor's verdict each round, waiting at most one interval (0.5-3 s)."""
    def fetch() -> tuple[dict[str, MonitorView] | None, str]:
        if url is None:
            return None, "no monitor configured (spec.monitor and the monitor region's endpoint)"
        try:
            return parse_verdict(get_json(url, timeout=max(0.5, min(interval, 3.0))), time.time()), ""
        except (HttpJsonError, MonitorUnavailable) as exc:
            return None, str(exc)
    return fetch


@dataclass(frozen=True)
class RoundReport:
    at: float
    primary: str
    candidate: str | None
    decision: Decision
    action: Action
    outcome: str = ""
    databases: dict[str, ReplicationState] = field(default_factory=dict)
    control: ControlRecord = field(default_factory=ControlRecord)
    epoch: int | None = None
    monitor: dict[str, MonitorView] | None = None
    rows: tuple[DatabaseRow, ...] = ()
    run: Journal | None = None  # the journal of a failover this round ran or resumed

    @property
    def errant(self) -> dict[str, int]:
        return {r.region: len(r.errant or ()) for r in self.rows}


def round_factory(interval: float) -> AdapterFactory:
    """Database adapters whose every wait fits in a round: a hung server (SIGSTOP, a silent cut) must
    cost the controller about one interval, not the 10 s read timeout `dnsdr status` can afford."""
    wait = max(1.0, min(3.0, interval))
    return partial(default_factory_with, Timeouts(connect=wait, read=wait, write=wait))


def policy_of(spec: DesignateDR) -> Policy:
    p = spec.policy
    return Policy(automatic=p.failover is FailoverMode.AUTOMATIC, cooldown_seconds=p.cooldown_seconds,
                  accept_data_loss=p.accept_data_loss)


class Controller:
    """Holds what must live across rounds: database adapters, the detector state, the store."""

    def __init__(self, spec: DesignateDR, settings: Settings, monitor: MonitorSource,
                 clock: Callable[[], float] = time.time, observer: Observer | None = None,
                 on_step: ProgressSink | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.store: StateStore = settings.store(spec)
        self.monitor = monitor
        self.clock = clock
        self.observer = observer or Observer(spec, settings.resolver, round_factory(spec.policy.probe_interval_seconds))
        self.detector = DetectorState()
        self.policy = policy_of(spec)
        self.on_step = on_step  # told of every failover step as it starts and ends (the operator's Events)

    # ------------------------------------------------------------ observe

    def _roles(self, states: dict[str, ReplicationState]) -> tuple[str, str | None]:
        """The primary (recorded, else the one writable non-replica, else the spec's) and its candidate."""
        cluster = self.store.load_cluster()
        writable = [n for n, s in states.items() if s.writable and not s.is_replica]
        primary = cluster.primary if cluster else (writable[0] if len(writable) == 1 else self.spec.primary_region)
        others = [r.name for r in self.spec.database_regions if r.name != primary]
        following = [n for n in others if (ch := states[n].channel) is not None and states[n].reachable
                     and self._is_source(primary, ch.source_host, ch.source_port)]
        chosen = following or others
        return primary, chosen[0] if chosen else None

    def _is_source(self, region: str, host: str, port: int) -> bool:
        db = self.spec.region(region).database
        return db is not None and (db.endpoint.host, db.endpoint.port) == (host, port)

    def _sample(self, now: float, states: dict[str, ReplicationState], rows: tuple[DatabaseRow, ...], primary: str,
                candidate: str | None, monitor: dict[str, MonitorView] | None, monitor_error: str) -> Sample:
        p = states[primary]
        sees: bool | None = None
        evidence = ""
        if candidate is not None and states[candidate].reachable:
            ch = states[candidate].channel
            if ch is not None and self._is_source(primary, ch.source_host, ch.source_port):
                sees = ch.source_alive
                age = "-" if ch.heartbeat_age_seconds is None else f"{ch.heartbeat_age_seconds:.1f} s"
                evidence = (f"{candidate}'s replica: IO {ch.io_running}, heartbeat age {age}"
                            + (f", error {ch.last_io_errno}: {ch.last_io_error}" if ch.last_io_errno else ""))
            else:
                evidence = f"{candidate} does not replicate from {primary}: no opinion"
        elif candidate is not None:
            evidence = f"{candidate}'s database is unreachable ({states[candidate].error}): no opinion"
        problems = tuple(f"{r.region}: {reason}" for r in rows if r.health != "healthy" for reason in r.reasons)
        view = None if monitor is None else monitor.get(primary)
        return Sample(at=now, primary=primary, candidate=candidate or "-", primary_db_reachable=p.reachable,
                      primary_db_error=p.error or "", replica_sees_source=sees, replica_evidence=evidence,
                      monitor=view, monitor_error=monitor_error or ("" if view else f"no verdict for {primary}"),
                      problems=problems)

    def _remember_semi_sync(self, now: float, primary: str, state: ReplicationState) -> ControlRecord:
        if not state.reachable or state.is_replica:
            return self.store.load_control()
        sample = SemiSyncSample(primary, state.semi_sync.source_active, state.semi_sync.wait_point, now)
        current = self.store.load_control()
        old = current.semi_sync
        if old is not None and (old.region, old.active, old.wait_point) == (sample.region, sample.active,
                                                                             sample.wait_point):
            return current
        return self.store.update_control(lambda c: replace(c, semi_sync=sample))

    # ------------------------------------------------------------ act

    def _unfinished_failover(self) -> Journal | None:
        journal = self.store.load_journal()
        if journal is None or journal.operation != Operation.FAILOVER.value or journal.outcome is not Outcome.RUNNING:
            return None
        return journal

    def _held_elsewhere(self) -> str | None:
        """Who holds the operation lease now, if anyone alive does: then preparing a run (assessing the lost region,
        a preflight with designate-manage) is wasted work beside the holder's. Only a shortcut: acquiring the lease
        by compare-and-swap is what keeps two runs apart."""
        lease = self.store.current_lease()
        if lease is None or not lease.live(self.clock()) or local_holder_dead(lease.holder):
            return None
        return (f"another dnsdr run ({lease.holder}) holds the operation lease (token {lease.token}) for "
                f"{lease.expires_at - self.clock():.0f} s more")

    def failover(self, candidate: str) -> tuple[str, Journal | None]:
        """Run (or resume) the failover to ``candidate`` like `dnsdr promote`; what happened, and its journal."""
        if (holder := self._held_elsewhere()) is not None:
            raise LockedError(holder)
        prepared = prepare(self.spec, OperationRequest(Operation.FAILOVER, candidate), self.store,
                           self.settings.resolver)
        if isinstance(prepared, NothingToDo):
            return prepared.message, None
        try:
            result = execute(prepared, on_event=self._step)
        finally:
            prepared.close()
        journal = result.journal
        return (f"failover {prepared.plan.from_region} -> {candidate} succeeded (run {journal.run_id}, "
                f"epoch {journal.epoch})"), journal

    def _step(self, event: str, step: Step, record: StepRecord) -> None:
        _log_step(event, step, record)
        if self.on_step is not None:
            self.on_step(event, step, record)

    def _act(self, now: float, action: Action, candidate: str | None) -> tuple[str, Journal | None]:
        if action.kind is not ActionKind.FAILOVER or candidate is None:
            return "", None
        try:
            outcome, journal = self.failover(candidate)
        except (LockedError, Superseded) as exc:  # another run holds the lease, or already did it
            log.warning("not acting: %s", exc)
            return f"not acting: {exc}", None
        except DnsdrError as exc:
            error = str(exc)
            self.store.update_control(lambda c: automation.after_failure(c, self.policy, now, error))
            log.error("automatic failover failed: %s", error)
            return f"failover failed: {error}", self.store.load_journal()
        if journal is not None:
            self.store.update_control(lambda c: automation.after_success(c, self.clock()))
        self.detector = DetectorState()
        log.warning("automatic failover: %s", outcome)
        return outcome, journal

    # ------------------------------------------------------------ the round

    def round(self) -> RoundReport:
        now = self.clock()
        unfinished = self._unfinished_failover()
        control = self.store.load_control()
        if unfinished is not None and self.policy.automatic and not control.paused:
            log.warning("resuming the unfinished failover %s -> %s (run %s)", unfinished.from_region,
                        unfinished.to_region, unfinished.run_id)
            action = Action(ActionKind.FAILOVER, f"resume the unfinished failover (run {unfinished.run_id})")
            outcome, run = self._act(now, action, unfinished.to_region)
            decision = Decision(Verdict.REGION_LOST, unfinished.from_region, (action.reason,), 0, now)
            return RoundReport(now, unfinished.to_region, None, decision, action, outcome,
                               control=self.store.load_control(), run=run)
        states = self.observer.databases()
        primary, candidate = self._roles(states)
        monitor, monitor_error = self.monitor()
        control = self._remember_semi_sync(now, primary, states[primary])
        rows = self.observer.rows(states, primary)
        sample = self._sample(now, states, rows, primary, candidate, monitor, monitor_error)
        self.detector, decision = decide(self.detector, sample, self.spec.policy.consecutive_failures)
        action = automation.next_action(decision, control, self.policy, now)
        if action.kind is ActionKind.ALERT:
            log.warning("%s", action.reason, extra={"region": primary})
        outcome, run = self._act(now, action, candidate)
        cluster = self.store.load_cluster()
        return RoundReport(now, primary, candidate, decision, action, outcome, states, self.store.load_control(),
                           cluster.epoch if cluster else None, monitor, rows, run)

    def close(self) -> None:
        self.observer.close()


def _log_step(event: str, step: object, record: object) -> None:
    name = getattr(step, "name", "?")
    log.info("step %s: %s %s", name, event, getattr(record, "detail", ""), extra={"step": name})


# ------------------------------------------------------------ pause, resume, acknowledge


def pause(store: StateStore, reason: str) -> ControlRecord:
    return store.update_control(lambda c: replace(c, paused=True, paused_reason=reason))


def resume(store: StateStore) -> ControlRecord:
    return store.update_control(lambda c: replace(c, paused=False, paused_reason=""))


def acknowledge(store: StateStore, now: float | None = None) -> ControlRecord:
    """Lift the cool-down after an automatic failover (and forget a failed attempt's back-off)."""
    at = time.time() if now is None else now
    return store.update_control(lambda c: replace(automation.acknowledged(c, at), failed_attempts=0,
                                                  next_attempt_at=None, last_error=""))
