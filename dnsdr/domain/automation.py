"""Whether a region-lost decision may turn into an automatic failover now, and what to remember.

Safety over speed: the policy must say ``automatic``; the controller must not be paused; one
automatic failover per cool-down window, lifted early only by an acknowledgement (orchestrator's
``RecoveryPeriodBlockSeconds`` + ack); a failed attempt is retried with back-off, separately from the
cool-down, so a failure never silently eats the window (orchestrator #1509). And data safety:
MariaDB's default semi-sync wait point is AFTER_COMMIT and semi-sync silently falls back to async
after its timeout, so an automatic failover refuses unless the last sample of the primary before
the loss showed semi-sync active with the AFTER_SYNC wait point, or the policy accepts data loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from dnsdr.domain.detection import Decision, Verdict

AFTER_SYNC = "AFTER_SYNC"


class ActionKind(StrEnum):
    NONE = "none"
    FAILOVER = "failover"
    ALERT = "alert"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "reason": self.reason}


@dataclass(frozen=True)
class SemiSyncSample:
    """The primary's semi-sync as last seen while it was reachable."""

    region: str
    active: bool
    wait_point: str
    at: float

    @property
    def safe(self) -> bool:
        return self.active and self.wait_point.upper() == AFTER_SYNC


@dataclass(frozen=True)
class ControlRecord:
    """The controller's durable memory: pause, cool-down, acknowledgements, retries, last semi-sync."""

    paused: bool = False
    paused_reason: str = ""
    last_auto_failover_at: float | None = None
    acknowledged_at: float | None = None
    failed_attempts: int = 0
    next_attempt_at: float | None = None
    last_error: str = ""
    semi_sync: SemiSyncSample | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ControlRecord:
        ss = data.get("semi_sync")
        return cls(
            paused=bool(data.get("paused", False)), paused_reason=str(data.get("paused_reason", "")),
            last_auto_failover_at=_float(data.get("last_auto_failover_at")),
            acknowledged_at=_float(data.get("acknowledged_at")), failed_attempts=int(data.get("failed_attempts", 0)),
            next_attempt_at=_float(data.get("next_attempt_at")), last_error=str(data.get("last_error", "")),
            semi_sync=None if not ss else SemiSyncSample(str(ss["region"]), bool(ss["active"]), str(ss["wait_point"]),
                                                         float(ss["at"])),
        )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Policy:
    automatic: bool
    cooldown_seconds: float
    accept_data_loss: bool = False
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 600.0


def cooldown_until(control: ControlRecord, policy: Policy) -> float | None:
    """When the cool-down after the last automatic failover ends (None: no cool-down in force)."""
    last = control.last_auto_failover_at
    if last is None or (control.acknowledged_at is not None and control.acknowledged_at >= last):
        return None
    return last + policy.cooldown_seconds


def next_action(decision: Decision, control: ControlRecord, policy: Policy, now: float) -> Action:
    if decision.verdict is Verdict.UNCERTAIN:
        return Action(ActionKind.ALERT, "uncertain: " + decision.reasons[0])
    if decision.verdict is not Verdict.REGION_LOST:
        return Action(ActionKind.NONE, decision.verdict.value)
    lost = decision.region
    if not policy.automatic:
        return Action(ActionKind.ALERT, f"{lost} is lost; failover is manual: run `dnsdr promote`")
    if control.paused:
        return Action(ActionKind.ALERT, f"{lost} is lost; automatic failover is paused"
                      + (f" ({control.paused_reason})" if control.paused_reason else "") + ": `dnsdr resume`")
    until = cooldown_until(control, policy)
    if until is not None and now < until:
        left = until - now
        return Action(ActionKind.ALERT, f"{lost} is lost; the cool-down after the last automatic failover lasts "
                      f"{left:.0f} s more: `dnsdr ack` allows the next one")
    if control.next_attempt_at is not None and now < control.next_attempt_at:
        return Action(ActionKind.ALERT, f"{lost} is lost; the last attempt failed ({control.last_error}); "
                      f"retrying in {control.next_attempt_at - now:.0f} s")
    sample = control.semi_sync
    if not policy.accept_data_loss:
        if sample is None or sample.region != lost:
            return Action(ActionKind.ALERT, f"{lost} is lost, but its semi-sync state before the loss is unknown: "
                          "acknowledged writes may be lost; promote by hand, or set policy.acceptDataLoss")
        if not sample.safe:
            state = "active" if sample.active else "OFF (fell back to async)"
            return Action(ActionKind.ALERT, f"{lost} is lost, but its last sample showed semi-sync {state} with wait "
                          f"point {sample.wait_point}: acknowledged writes may be lost; promote by hand, or set "
                          "policy.acceptDataLoss")
    return Action(ActionKind.FAILOVER,
                  f"{lost} is lost: every vantage point agrees for {decision.agreeing_rounds} rounds")


def after_success(control: ControlRecord, now: float) -> ControlRecord:
    return replace(control, last_auto_failover_at=now, failed_attempts=0, next_attempt_at=None, last_error="")


def after_failure(control: ControlRecord, policy: Policy, now: float, error: str) -> ControlRecord:
    attempts = control.failed_attempts + 1
    delay = min(policy.retry_base_seconds * 2 ** (attempts - 1), policy.retry_max_seconds)
    return replace(control, failed_attempts=attempts, next_attempt_at=now + delay, last_error=error[:300])


def acknowledged(control: ControlRecord, now: float) -> ControlRecord:
    return replace(control, acknowledged_at=now)


__all__ = ["Action", "ActionKind", "ControlRecord", "Policy", "SemiSyncSample", "acknowledged", "after_failure",
           "after_success", "cooldown_until", "next_action"]
