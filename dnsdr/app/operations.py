"""Plan and run the operations that change who serves: failover, switchover, rejoin.

:func:`prepare` turns a request into a plan against the current state (or says there is nothing to
do), builds the runtime (resolving credentials, so a bad one fails before anything changes) and
offers the safety verdict for a dry run; :func:`execute` runs it under the state store's lease with
progress events. Every error is a :class:`~dnsdr.domain.errors.DnsdrError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dnsdr.adapters.state import StateStore
from dnsdr.app.assessment import Assessment, assess_lost_region
from dnsdr.app.preflight import PreflightError, PreflightReport, preflight
from dnsdr.domain.journal import Outcome, StepRecord
from dnsdr.domain.plan import Operation, Plan, Step, failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DesignateDR, SecretLookup
from dnsdr.engine.context import RunContext
from dnsdr.engine.executor import Executor, RunResult
from dnsdr.engine.registry import build_handlers
from dnsdr.engine.runtime import Runtime

ProgressSink = Callable[[str, Step, StepRecord], None]


@dataclass(frozen=True)
class OperationRequest:
    """``region`` is the one to promote (failover), to move to (switchover) or returning (rejoin)."""

    operation: Operation
    region: str
    from_region: str | None = None  # failover only: the lost primary, default the current one
    forces: frozenset[Force] = frozenset()


@dataclass(frozen=True)
class Preview:
    allowed: bool
    refusals: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "refusals": list(self.refusals), "overridden": list(self.overridden),
                "risks": list(self.risks)}


@dataclass
class Prepared:
    """A plan ready to run, with its runtime; ``close()`` when done."""

    spec: DesignateDR
    plan: Plan
    store: StateStore
    runtime: Runtime
    forces: frozenset[Force] = field(default_factory=frozenset)
    # A failover's look at what still runs in the lost region (None: taken from a journaled run).
    assessment: Assessment | None = None

    def preflight(self, manage_dry_run: bool = True) -> PreflightReport:
        """The checks that must pass before the first change (see :mod:`dnsdr.app.preflight`)."""
        return preflight(self.spec, self.plan, self.store, self.runtime.resolver, manage_dry_run=manage_dry_run)

    def preview(self) -> Preview:
        verdict = self.runtime.verdict()
        return Preview(verdict.allowed, tuple(r.render() for r in verdict.refusals),
                       tuple(r.render() for r in verdict.overridden), tuple(verdict.risks))

    def close(self) -> None:
        self.runtime.close()


@dataclass(frozen=True)
class NothingToDo:
    message: str


def current_primary(spec: DesignateDR, store: StateStore) -> str:
    record = store.load_cluster()
    return record.primary if record else spec.primary_region


Assess = Callable[[DesignateDR, str, SecretLookup], Assessment]


def plan_for(spec: DesignateDR, request: OperationRequest, store: StateStore, resolver: SecretLookup | None = None,
             assess: Assess | None = None) -> tuple[Plan | NothingToDo, Assessment | None]:
    """The plan for ``request`` given the recorded primary; PlanError when it makes no sense.

    A failover first assesses the old primary region (``assess``, when a resolver is given) unless an
    unfinished run of the same failover is journaled: that run's kept and fenced backends are reused,
    so resuming rebuilds exactly the plan it started.
    """
    if request.operation is Operation.FAILOVER:
        old = request.from_region or current_primary(spec, store)
        if old == request.region and request.from_region is None:
            return NothingToDo(f"{request.region} is already the primary (recorded in {store.location}); "
                               "nothing to do"), None
        journal = store.load_journal()
        if journal is not None and journal.outcome in (Outcome.RUNNING, Outcome.FAILED) \
                and (journal.operation, journal.from_region, journal.to_region) == ("failover", old, request.region):
            return failover_plan(spec, old, request.region, frozenset(journal.kept), frozenset(journal.fenced)), None
        assessment = (assess or assess_lost_region)(spec, old, resolver) if resolver is not None else None
        kept = assessment.kept if assessment else frozenset()
        fenced = assessment.fenced if assessment else frozenset()
        return failover_plan(spec, old, request.region, kept, fenced), assessment
    if request.operation is Operation.SWITCHOVER:
        return switchover_plan(spec, current_primary(spec, store), request.region), None
    return rejoin_plan(spec, request.region, current_primary(spec, store),
                       discard=Force.DISCARD_DIVERGENCE in request.forces), None


def prepare(spec: DesignateDR, request: OperationRequest, store: StateStore, resolver: SecretLookup,
            runtime_factory: Callable[..., Runtime] | None = None,
            assess: Assess | None = None) -> Prepared | NothingToDo:
    planned, assessment = plan_for(spec, request, store, resolver, assess)
    if isinstance(planned, NothingToDo):
        return planned
    cluster = store.load_cluster()
    runtime = (runtime_factory or Runtime)(spec, planned, request.forces, resolver=resolver,
                                           recorded_epoch=cluster.epoch if cluster else 0)
    return Prepared(spec, planned, store, runtime, request.forces, assessment)


def execute(prepared: Prepared, on_event: ProgressSink | None = None, ctx: RunContext | None = None,
            checked: PreflightReport | None = None) -> RunResult:
    """Run (or resume) the plan after its preflight (``checked`` if the caller already ran it).

    Raises PreflightError before any change, then Refused, StepFailed, LockedError, ... with the
    journal saved.
    """
    report = checked or prepared.preflight()
    if not report.ok:
        raise PreflightError(list(report.problems))
    ctx = ctx or RunContext()
    for risk in prepared.assessment.risks if prepared.assessment else ():
        ctx.add_risk(risk)
    executor = Executor(prepared.plan, prepared.store, build_handlers(prepared.runtime, ctx), prepared.forces,
                        on_event=on_event, ctx=ctx)
    return executor.run()
