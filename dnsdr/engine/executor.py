"""Run a plan step by step: journaled before and after, idempotent, resumable, one run at a time.

For every step the handler's precondition runs first (it may refuse or skip), then its check: if
the effect is already there (a resumed run, a repeated command) the step is recorded as done
without acting again. Otherwise the action runs and the check must then prove the effect. A run
killed anywhere is resumed by running the same command again: done steps are not repeated.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dnsdr.adapters.journal_store import JournalStore
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.plan import Plan, Step, StepKind
from dnsdr.domain.safety import Force, Verdict

# Fault injection for the crash-resume tests: "after-act:<step>" or "after-done:<step>".
CRASH_ENV = "DNSDR_FAULT_CRASH"


class Refused(Exception):
    """A safety gate refused; ``verdict`` says why and what --force could override."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("; ".join(r.render() for r in verdict.refusals))
        self.verdict = verdict


class StepFailed(Exception):
    """A step's action failed or its check could not prove the effect."""


class Skip(Exception):
    """The step does not apply (e.g. the server to fence is unreachable); the reason is journaled."""


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


class Executor:
    def __init__(
        self, plan: Plan, store: JournalStore, handlers: Mapping[StepKind, StepHandler],
        forces: frozenset[Force] = frozenset(), on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.store = store
        self.handlers = handlers
        self.forces = forces
        self.on_event = on_event or (lambda *_: None)
        self.clock = clock
        self.risks: list[str] = []
        self.journal: Journal | None = None

    def _journal(self) -> tuple[Journal, bool]:
        existing = self.store.load_journal()
        if existing is not None and existing.outcome in (Outcome.RUNNING, Outcome.FAILED):
            if existing.fingerprint == self.plan.fingerprint:
                # Resume: a crash left it RUNNING, a failure FAILED; done steps stay done.
                existing.outcome, existing.finished_at = Outcome.RUNNING, None
                existing.forces = sorted(set(existing.forces) | {f.value for f in self.forces})
                return existing, True
            if existing.outcome is Outcome.RUNNING:
                raise StepFailed(
                    f"an unfinished {existing.operation} {existing.from_region}->{existing.to_region} "
                    f"(run {existing.run_id}) is journaled; finish it by running the same command again"
                )
        journal = Journal(
            run_id=uuid.uuid4().hex[:12], operation=self.plan.operation.value, from_region=self.plan.from_region,
            to_region=self.plan.to_region, fingerprint=self.plan.fingerprint, started_at=self.clock(),
            forces=sorted(f.value for f in self.forces), steps=[StepRecord(s.name) for s in self.plan.steps],
        )
        return journal, False

    def run(self) -> RunResult:
        with self.store.lock():
            journal, resumed = self._journal()
            self.journal = journal
            self.store.save_journal(journal)
            try:
                for step in self.plan.steps:
                    record = journal.record(step.name)
                    if record.status in (StepStatus.DONE, StepStatus.SKIPPED):
                        self.on_event("already", step, record)
                        continue
                    self._run_step(journal, step, record)
            except Refused as exc:
                self._finish(journal, Outcome.REFUSED, str(exc))
                raise
            except Exception as exc:
                self._finish(journal, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
                raise
            self._finish(journal, Outcome.SUCCEEDED, "")
            self._record_cluster(journal)
            return RunResult(journal, resumed, self.risks)

    def _run_step(self, journal: Journal, step: Step, record: StepRecord) -> None:
        handler = self.handlers[step.kind]
        record.status, record.started_at, record.finished_at = StepStatus.STARTED, self.clock(), None
        record.attempts += 1
        self.store.save_journal(journal)
        self.on_event("start", step, record)
        try:
            handler.precondition(step)
            missing = handler.check(step)
            if missing is None:
                detail = "already in effect"
            else:
                detail = handler.act(step)
                _crash_if_asked("after-act", step)
                missing = handler.check(step)
                if missing is not None:
                    raise StepFailed(f"{step.name}: the action ran but its effect is not there: {missing}")
            record.status = StepStatus.DONE
        except Skip as exc:
            record.status, detail = StepStatus.SKIPPED, str(exc)
        except (Refused, StepFailed) as exc:
            record.status, record.detail, record.finished_at = StepStatus.FAILED, str(exc), self.clock()
            self.store.save_journal(journal)
            self.on_event("failed", step, record)
            raise
        except Exception as exc:
            record.status, record.finished_at = StepStatus.FAILED, self.clock()
            record.detail = f"{type(exc).__name__}: {exc}"
            self.store.save_journal(journal)
            self.on_event("failed", step, record)
            raise StepFailed(f"{step.name}: {exc}") from exc
        record.detail, record.finished_at = detail, self.clock()
        self.store.save_journal(journal)
        _crash_if_asked("after-done", step)
        self.on_event("done", step, record)

    def _finish(self, journal: Journal, outcome: Outcome, note: str) -> None:
        journal.outcome, journal.finished_at = outcome, self.clock()
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
        ))
