"""Run a plan step by step: journaled before and after, idempotent, resumable, one run at a time.

For every step the handler's precondition runs first (it may refuse or skip), then its check: if
the effect is already there (a resumed run, a repeated command) the step is recorded as done
without acting again. Otherwise the action runs and the check must then prove the effect. A run
killed anywhere is resumed by running the same command again: done steps are not repeated. The
run holds the state store's lease throughout; if the lease is lost it stops before the next step.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dnsdr.adapters.state import StateStore, holder_id
from dnsdr.adapters.state.base import LeaseKeeper
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.plan import Operation, Plan, Step, StepKind
from dnsdr.domain.safety import Force
from dnsdr.engine.context import RunContext
from dnsdr.engine.errors import EngineError, Refused, Skip, StepFailed, Superseded

# Fault injection for the crash-resume tests: "after-act:<step>" or "after-done:<step>".
CRASH_ENV = "DNSDR_FAULT_CRASH"


class StepHandler(Protocol):
    def precondition(self, step: Step) -> None: ...

    def check(self, step: Step) -> str | None:
        """None when the step's effect is in place, else what is still missing."""

    def act(self, step: Step) -> str: ...


EventSink = Callable[[str, Step, StepRecord], None]


@dataclass
class RunResult:
    journal: Journal
    resumed: bool
    risks: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.journal.outcome is Outcome.SUCCEEDED


def _crash_if_asked(moment: str, step: Step) -> None:
    if os.environ.get(CRASH_ENV) == f"{moment}:{step.name}":
        os._exit(137)


def unfinished_message(journal: Journal) -> str:
    """Why a different operation cannot start, and the two ways out."""
    at = journal.last_step
    where = f" at step {at.name} ({at.status.value})" if at else ""
    return (f"an unfinished {journal.operation} {journal.from_region}->{journal.to_region} (run {journal.run_id}) "
            f"stopped{where}; finish it by running that same command again, or drop it knowingly with "
            "`dnsdr journal abandon`")


class Executor:
    def __init__(
        self, plan: Plan, store: StateStore, handlers: Mapping[StepKind, StepHandler],
        forces: frozenset[Force] = frozenset(), on_event: EventSink | None = None,
        ctx: RunContext | None = None, holder: str | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.handlers = handlers
        self.forces = forces
        self.on_event = on_event or (lambda *_: None)
        self.ctx = ctx or RunContext()
        self.holder = holder or holder_id()
        self.journal: Journal | None = None

    @property
    def risks(self) -> list[str]:
        return self.ctx.risks

    def _journal(self) -> tuple[Journal, bool]:
        existing = self.store.load_journal()
        if existing is not None and existing.outcome in (Outcome.RUNNING, Outcome.FAILED):
            if existing.fingerprint == self.plan.fingerprint:
                # Resume: a crash left it RUNNING, a failure FAILED; done steps stay done.
                existing.outcome, existing.finished_at = Outcome.RUNNING, None
                existing.forces = sorted(set(existing.forces) | {f.value for f in self.forces})
                return existing, True
            if existing.changed_anything:
                raise EngineError(unfinished_message(existing))
        self._check_still_current()
        journal = Journal(
            run_id=uuid.uuid4().hex[:12], operation=self.plan.operation.value, from_region=self.plan.from_region,
            to_region=self.plan.to_region, fingerprint=self.plan.fingerprint, started_at=self.ctx.wall(),
            forces=sorted(f.value for f in self.forces), steps=[StepRecord(s.name) for s in self.plan.steps],
            spec_name=self.plan.spec_name, kept=sorted(self.plan.final_state.kept),
            fenced=sorted(self.plan.final_state.fenced),
        )
        return journal, False

    def _check_still_current(self) -> None:
        """Under the lease, before a new run: the primary this plan was made from is still the recorded one.

        Two controllers (or a controller and a person) may both plan a failover from r1; the second to
        get the lease must not run it again after the first succeeded.
        """
        if self.plan.operation not in (Operation.FAILOVER, Operation.SWITCHOVER):
            return
        cluster = self.store.load_cluster()
        if cluster is not None and cluster.primary != self.plan.from_region:
            raise Superseded(f"the recorded primary is now {cluster.primary}, not {self.plan.from_region} as when "
                              f"this {self.plan.operation.value} was planned; nothing was changed")

    def run(self) -> RunResult:
        with self.store.hold(self.holder) as keeper:
            journal, resumed = self._journal()
            self.journal = journal
            self.ctx.run_id = journal.run_id
            self.ctx.epoch = journal.epoch
            journal.lease_token = keeper.token
            self.store.save_journal(journal)
            try:
                for step in self.plan.steps:
                    keeper.check()
                    record = journal.record(step.name)
                    if record.status in (StepStatus.DONE, StepStatus.SKIPPED):
                        self.on_event("already", step, record)
                        continue
                    self._run_step(journal, step, record, keeper)
            except Refused as exc:
                self._finish(journal, Outcome.REFUSED, str(exc))
                raise
            except Exception as exc:
                self._finish(journal, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
                raise
            self._finish(journal, Outcome.SUCCEEDED, "")
            self._record_cluster(journal)
            return RunResult(journal, resumed, self.risks)

    def _run_step(self, journal: Journal, step: Step, record: StepRecord, keeper: LeaseKeeper) -> None:
        handler = self.handlers[step.kind]
        record.status, record.started_at, record.finished_at = StepStatus.STARTED, self.ctx.wall(), None
        record.attempts += 1
        self.store.save_journal(journal)
        self.on_event("start", step, record)
        try:
            handler.precondition(step)
            missing = handler.check(step)
            if missing is None:
                detail = "already in effect"
            else:
                keeper.check()
                detail = handler.act(step)
                _crash_if_asked("after-act", step)
                missing = handler.check(step)
                if missing is not None:
                    raise StepFailed(f"{step.name}: the action ran but its effect is not there: {missing}")
            record.status = StepStatus.DONE
        except Skip as exc:
            record.status, detail = StepStatus.SKIPPED, str(exc)
        except (Refused, StepFailed) as exc:
            self._failed(journal, step, record, str(exc))
            raise
        except Exception as exc:
            self._failed(journal, step, record, f"{type(exc).__name__}: {exc}")
            raise StepFailed(f"{step.name}: {exc}") from exc
        record.detail, record.finished_at = detail, self.ctx.wall()
        journal.epoch = self.ctx.epoch
        self.store.save_journal(journal)
        _crash_if_asked("after-done", step)
        self.on_event("done", step, record)

    def _failed(self, journal: Journal, step: Step, record: StepRecord, detail: str) -> None:
        record.status, record.detail, record.finished_at = StepStatus.FAILED, detail, self.ctx.wall()
        journal.epoch = self.ctx.epoch
        self.store.save_journal(journal)
        self.on_event("failed", step, record)

    def _finish(self, journal: Journal, outcome: Outcome, note: str) -> None:
        journal.outcome, journal.finished_at = outcome, self.ctx.wall()
        if note:
            journal.notes.append(note)
        journal.notes.extend(r for r in self.risks if r not in journal.notes)
        self.store.save_journal(journal)

    def _record_cluster(self, journal: Journal) -> None:
        state = self.plan.final_state
        previous = self.store.load_cluster()
        epoch = journal.epoch if journal.epoch is not None else (previous.epoch if previous else 0)
        self.store.save_cluster(ClusterRecord(
            primary=state.primary, epoch=epoch, lost=sorted(state.lost), last_run_id=journal.run_id,
            kept=sorted(state.kept), fenced=sorted(state.fenced),
        ))
