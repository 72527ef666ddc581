"""The journal of one run and the cluster record it leaves behind, as plain data.

Each step is recorded as started before its action and as done (or failed, skipped) after its
check: a run killed anywhere leaves a journal that says exactly where to resume. The cluster
record holds the epoch and the current primary; every failover or switchover bumps the epoch, so a
returning old primary can be told it is stale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class StepStatus(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    ABANDONED = "abandoned"  # an unfinished run a person chose not to resume (``dnsdr journal abandon``)


@dataclass
class StepRecord:
    name: str
    status: StepStatus = StepStatus.PENDING
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    detail: str = ""

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round(self.finished_at - self.started_at, 3)


@dataclass
class Journal:
    run_id: str
    operation: str
    from_region: str
    to_region: str
    fingerprint: str
    started_at: float
    forces: list[str] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    outcome: Outcome = Outcome.RUNNING
    finished_at: float | None = None
    epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    spec_name: str = ""
    lease_token: int | None = None
    # A failover's assessment of the lost region's backends that still answered, so a resumed run
    # rebuilds exactly the plan it started (the assessment itself may have changed meanwhile).
    kept: list[str] = field(default_factory=list)
    fenced: list[str] = field(default_factory=list)

    def record(self, name: str) -> StepRecord:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def finished(self) -> bool:
        return self.outcome is not Outcome.RUNNING

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for step in data["steps"]:
            step["seconds"] = self.record(step["name"]).seconds
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Journal:
        steps = [
            StepRecord(
                name=s["name"], status=StepStatus(s["status"]), started_at=s.get("started_at"),
                finished_at=s.get("finished_at"), attempts=int(s.get("attempts", 0)), detail=s.get("detail", ""),
            )
            for s in data.get("steps", [])
        ]
        return cls(
            run_id=data["run_id"], operation=data["operation"], from_region=data["from_region"],
            to_region=data["to_region"], fingerprint=data["fingerprint"], started_at=float(data["started_at"]),
            forces=list(data.get("forces", [])), steps=steps, outcome=Outcome(data.get("outcome", "running")),
            finished_at=data.get("finished_at"), epoch=data.get("epoch"), notes=list(data.get("notes", [])),
            spec_name=str(data.get("spec_name", "")), lease_token=data.get("lease_token"),
            kept=[str(x) for x in data.get("kept", [])], fenced=[str(x) for x in data.get("fenced", [])],
        )

    @property
    def changed_anything(self) -> bool:
        """Whether a step that changes something started: until then the run can be dropped safely."""
        return any(s.status is not StepStatus.PENDING and s.name != "assess" for s in self.steps)

    @property
    def last_step(self) -> StepRecord | None:
        """The step the run stopped at (failed or started), else the last one done."""
        for s in self.steps:
            if s.status in (StepStatus.FAILED, StepStatus.STARTED):
                return s
        done = [s for s in self.steps if s.status is not StepStatus.PENDING]
        return done[-1] if done else None


@dataclass
class ClusterRecord:
    """Who is primary now, what is lost, and the epoch: the durable outcome of every run."""

    primary: str
    epoch: int = 0
    lost: list[str] = field(default_factory=list)
    last_run_id: str | None = None
    kept: list[str] = field(default_factory=list)  # lost regions' backends kept in the pool
    fenced: list[str] = field(default_factory=list)  # lost regions' backends that answer for no zone

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterRecord:
        return cls(primary=str(data["primary"]), epoch=int(data.get("epoch", 0)),
                   lost=[str(x) for x in data.get("lost", [])], last_run_id=data.get("last_run_id"),
                   kept=[str(x) for x in data.get("kept", [])], fenced=[str(x) for x in data.get("fenced", [])])
