"""The status a round writes and the Events it posts, as pure functions of what the round saw (no kopf, no I/O).

Conditions follow Kubernetes' conventions: a condition keeps its lastTransitionTime while its status stays, and each
carries the generation it was computed from. Events mark changes only (a decision that changed, each failover step,
a request applied), so ``kubectl describe`` tells the story without repeating every round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dnsdr.app.control import RoundReport
from dnsdr.app.observe import DatabaseRow, SerialSummary
from dnsdr.domain.automation import ControlRecord, Policy, cooldown_until
from dnsdr.domain.detection import Verdict
from dnsdr.domain.journal import Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.spec import DesignateDR, FailoverMode
from dnsdr.domain.yaml_text import clip

MESSAGE_LIMIT = 1000
NORMAL, WARNING = "Normal", "Warning"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # True | False | Unknown
    reason: str
    message: str


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def present(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` without its empty fields: inside a list a null is a value, not "remove" as in a merge patch."""
    return {k: v for k, v in item.items() if v is not None}


def iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _flag(value: bool) -> str:
    return "True" if value else "False"


def merge_conditions(previous: Sequence[Mapping[str, Any]], current: Sequence[Condition], generation: int,
                     now: float) -> list[dict[str, Any]]:
    """``current`` as status conditions; each keeps its lastTransitionTime while its status is unchanged."""
    before = {c.get("type"): c for c in previous if isinstance(c, Mapping)}
    out = []
    for c in current:
        old = before.get(c.type)
        unchanged = old is not None and old.get("status") == c.status and old.get("lastTransitionTime")
        out.append({"type": c.type, "status": c.status, "reason": c.reason, "message": clip(c.message, MESSAGE_LIMIT),
                    "lastTransitionTime": old["lastTransitionTime"] if unchanged and old else iso(now),
                    "observedGeneration": generation})
    return out


# ------------------------------------------------------------------ conditions of a round


def _replicating(report: RoundReport, spec: DesignateDR) -> Condition:
    rows = {r.region: r for r in report.rows}
    candidate = rows.get(report.candidate or "")
    if report.candidate is None or candidate is None:
        return Condition("Replicating", "False", "NoReplica", f"{report.primary} has no replica")
    state, ch = candidate.state, candidate.state.channel
    name = candidate.region
    if not state.reachable:
        return Condition("Replicating", "False", "ReplicaUnreachable", f"{name}: {state.error or 'no answer'}")
    if candidate.errant:
        return Condition("Replicating", "False", "ErrantTransactions",
                         f"{name} holds transactions {report.primary} never had: {', '.join(candidate.errant)}")
    if ch is None or not ch.io_ok or not ch.sql_ok:
        return Condition("Replicating", "False", "ReplicationStopped", "; ".join(candidate.reasons) or
                         f"{name} does not replicate from {report.primary}")
    if ch.lag_seconds is not None and ch.lag_seconds > spec.policy.max_lag_seconds:
        return Condition("Replicating", "False", "LagOverPolicy", f"{name} is {ch.lag_seconds:g} s behind "
                         f"{report.primary} (policy.maxLagSeconds {spec.policy.max_lag_seconds:g})")
    lag = "-" if ch.lag_seconds is None else f"{ch.lag_seconds:g} s"
    return Condition("Replicating", "True", "Replicating", f"{name} replicates from {report.primary}, lag {lag}")


def dns_condition(serials: SerialSummary | None) -> Condition:
    if serials is None:
        return Condition("DNSConverged", "Unknown", "NotSweptYet", "no zone serial sweep has run yet")
    if serials.error is not None:
        return Condition("DNSConverged", "Unknown", "SweepFailed", serials.error)
    if serials.in_sync and not serials.stuck:
        return Condition("DNSConverged", "True", "InSync", f"{serials.zones} zones served at the current serial by "
                         f"every target ({len(serials.per_target)})")
    drift = [f"{target}: " + ", ".join(f"{n} {cls}" for cls, n in sorted(counts.items()) if cls != "in_sync" and n)
             for target, counts in sorted(serials.per_target.items())
             if any(n for cls, n in counts.items() if cls != "in_sync")]
    stuck = [f"{serials.stuck} zones PENDING or ERROR in Designate"] if serials.stuck else []
    return Condition("DNSConverged", "False", "Drift", "; ".join(drift + stuck))


def _failover(journal: Journal | None) -> Condition:
    if journal is None:
        return Condition("FailoverInProgress", "False", "Idle", "no operation recorded")
    run = f"{journal.operation} {journal.from_region} -> {journal.to_region} (run {journal.run_id})"
    if journal.outcome is Outcome.RUNNING:
        at = journal.last_step
        return Condition("FailoverInProgress", "True", "Running",
                         f"{run}: step {at.name} {at.status.value}" if at else run)
    reason = {Outcome.SUCCEEDED: "Succeeded", Outcome.FAILED: "Failed", Outcome.REFUSED: "Refused",
              Outcome.ABANDONED: "Abandoned"}[journal.outcome]
    note = f": {journal.notes[0]}" if journal.notes and journal.outcome is not Outcome.SUCCEEDED else ""
    return Condition("FailoverInProgress", "False", reason, f"{run} {journal.outcome.value}{note}")


def _paused(control: ControlRecord, spec: DesignateDR) -> Condition:
    if control.paused:
        return Condition("Paused", "True", "Paused", control.paused_reason or "automatic failover is paused")
    if spec.policy.failover is FailoverMode.MANUAL:
        return Condition("Paused", "False", "ManualPolicy", "policy.failover is manual: the operator alerts and "
                         "never acts; fail over with `dnsdr promote`")
    return Condition("Paused", "False", "Automatic", "automatic failover is enabled")


def round_conditions(report: RoundReport, spec: DesignateDR, serials: SerialSummary | None,
                     journal: Journal | None) -> list[Condition]:
    verdict, reasons = report.decision.verdict, report.decision.reasons
    first = reasons[0] if reasons else verdict.value
    running = journal is not None and journal.outcome is Outcome.RUNNING
    if running:
        ready = Condition("Ready", "False", "FailingOver", _failover(journal).message)
    elif verdict is Verdict.HEALTHY:
        ready = Condition("Ready", "True", "Healthy", first)
    elif verdict is Verdict.DEGRADED:
        ready = Condition("Ready", "True", "Degraded", f"{report.primary} serves, degraded: {first}")
    elif verdict is Verdict.UNCERTAIN:
        ready = Condition("Ready", "False", "Uncertain", first)
    else:
        ready = Condition("Ready", "False", "RegionLost", report.outcome or report.action.reason)
    degraded = (Condition("Degraded", "False", "Healthy", first) if verdict is Verdict.HEALTHY else
                Condition("Degraded", "True", {"degraded": "Degraded", "uncertain": "Uncertain",
                                               "region-lost": "RegionLost"}[verdict.value], "; ".join(reasons)))
    return [ready, _replicating(report, spec) if report.rows else
            Condition("Replicating", "Unknown", "NotObserved", "this round resumed a failover and observed nothing"),
            dns_condition(serials), _failover(journal), degraded, _paused(report.control, spec)]


def invalid_conditions(problems: Sequence[str]) -> list[Condition]:
    message = f"the spec is not a valid DesignateDR ({len(problems)} problems): " + "; ".join(problems[:20])
    unknown = "the spec is invalid: nothing is observed"
    return [Condition("Ready", "False", "InvalidSpec", message),
            *(Condition(t, "Unknown", "InvalidSpec", unknown) for t in ("Replicating", "DNSConverged")),
            Condition("FailoverInProgress", "False", "InvalidSpec", unknown),
            Condition("Degraded", "True", "InvalidSpec", message),
            Condition("Paused", "Unknown", "InvalidSpec", unknown)]


# ------------------------------------------------------------------ status sections


def _region(row: DatabaseRow) -> dict[str, Any]:
    state, ch = row.state, row.state.channel
    return present({"name": row.region, "role": row.role, "health": row.health, "reachable": state.reachable,
            "writable": state.writable, "ioRunning": None if ch is None else ch.io_ok,
            "sqlRunning": None if ch is None else ch.sql_ok, "lagSeconds": None if ch is None else ch.lag_seconds,
            "heartbeatAgeSeconds": None if ch is None else ch.heartbeat_age_seconds,
            "semiSyncActive": state.semi_sync.source_active if row.role == "primary" and state.reachable else None,
            "semiSyncWaitPoint": (state.semi_sync.wait_point or None) if row.role == "primary" else None,
            "transactionsBehindPrimary": row.transactions_behind_primary,
            "errantTransactions": None if row.errant is None else len(row.errant),
            "reasons": [clip(r, 300) for r in row.reasons]})


def serials_status(serials: SerialSummary, swept_at: float) -> dict[str, Any]:
    targets = [{"target": t, "inSync": c.get("in_sync", 0), "behind": c.get("behind", 0), "ahead": c.get("ahead", 0),
                "missing": c.get("missing", 0), "unreachable": c.get("unreachable", 0)}
               for t, c in sorted(serials.per_target.items())]
    return {"databaseRegion": serials.database_region, "zones": serials.zones if serials.error is None else None,
            "inSync": serials.in_sync if serials.error is None else None, "stuck": serials.stuck,
            "sweptAt": iso(swept_at), "error": serials.error, "targets": targets}


def operation_status(journal: Journal) -> dict[str, Any]:
    def step(s: StepRecord) -> dict[str, Any]:
        return present({"name": s.name, "status": s.status.value, "startedAt": iso(s.started_at),
                        "finishedAt": iso(s.finished_at), "seconds": s.seconds, "attempts": s.attempts,
                        "detail": clip(s.detail, 300)})
    return {"runId": journal.run_id, "operation": journal.operation, "from": journal.from_region,
            "to": journal.to_region, "outcome": journal.outcome.value, "startedAt": iso(journal.started_at),
            "finishedAt": iso(journal.finished_at), "epoch": journal.epoch, "leaseToken": journal.lease_token,
            "notes": [clip(n, 300) for n in journal.notes[:10]], "steps": [step(s) for s in journal.steps]}


def automation_status(control: ControlRecord, policy: Policy, spec: DesignateDR, now: float) -> dict[str, Any]:
    until = cooldown_until(control, policy)
    return {"mode": spec.policy.failover.value, "paused": control.paused, "pausedReason": control.paused_reason or None,
            "cooldownUntil": iso(until) if until is not None and until > now else None,
            "failedAttempts": control.failed_attempts, "nextAttemptAt": iso(control.next_attempt_at),
            "lastError": clip(control.last_error, 300) or None}


def monitor_status(report: RoundReport, error: str) -> dict[str, Any]:
    views = report.monitor or {}
    return {"error": clip(error, 300) or None,
            "regions": [{"name": v.region, "state": "lost" if v.lost else "healthy" if v.healthy else "degraded",
                         "evidence": [clip(e, 300) for e in v.evidence[:10]]} for _, v in sorted(views.items())]}


def round_status(report: RoundReport, spec: DesignateDR, policy: Policy, *, generation: int,
                 previous: Mapping[str, Any], journal: Journal | None, serials: SerialSummary | None,
                 swept_at: float | None, monitor_error: str, now: float) -> dict[str, Any]:
    """Every section a round knows; a merge patch of it leaves the others (pools, requests) as they are."""
    decision = report.decision
    status: dict[str, Any] = {
        "observedGeneration": generation, "health": decision.verdict.value, "primary": report.primary,
        "candidate": report.candidate, "epoch": report.epoch, "lastRoundTime": iso(now),
        "message": clip(report.outcome or report.action.reason, MESSAGE_LIMIT),
        "decision": {"verdict": decision.verdict.value, "region": decision.region,
                     "reasons": [clip(r, 300) for r in decision.reasons[:10]],
                     "agreeingRounds": decision.agreeing_rounds},
        "action": {"kind": report.action.kind.value, "reason": clip(report.action.reason, 300),
                   "outcome": clip(report.outcome, 300) or None},
        "conditions": merge_conditions(previous.get("conditions") or [],
                                       round_conditions(report, spec, serials, journal), generation, now),
        "automation": automation_status(report.control, policy, spec, now),
    }
    if report.epoch is None:
        del status["epoch"]  # keep the last known one rather than erase it on a round that read no record
    if report.rows:
        status["regions"] = [_region(r) for r in report.rows]
        status["monitor"] = monitor_status(report, monitor_error)
    if serials is not None and swept_at is not None:
        status["serials"] = serials_status(serials, swept_at)
    if journal is not None:
        status["lastOperation"] = operation_status(journal)
    return status


def invalid_status(problems: Sequence[str], generation: int, previous: Mapping[str, Any],
                   now: float) -> dict[str, Any]:
    message = f"the spec is not a valid DesignateDR: {'; '.join(problems[:20])}"
    return {"observedGeneration": generation, "health": "invalid", "lastRoundTime": iso(now),
            "message": clip(message, MESSAGE_LIMIT),
            "conditions": merge_conditions(previous.get("conditions") or [], invalid_conditions(problems),
                                           generation, now)}


# ------------------------------------------------------------------ events


def decision_event(previous: str | None, report: RoundReport) -> Event | None:
    """An Event when the verdict changed since the last round (or the first round)."""
    verdict = report.decision.verdict.value
    if verdict == previous:
        return None
    reasons = report.decision.reasons
    message = f"{previous or 'start'} -> {verdict}: {reasons[0] if reasons else ''}"
    if report.action.kind.value != "none":
        message += f" ({report.action.kind.value}: {report.action.reason})"
    return Event(NORMAL if verdict == Verdict.HEALTHY.value else WARNING, "Decision", clip(message, MESSAGE_LIMIT))


def step_event(event: str, step_name: str, region: str, record: StepRecord) -> Event | None:
    """An Event for a failover step as it starts, ends or fails (a step already done on resume is not news)."""
    if event == "already":
        return None
    took = f" in {record.seconds:.1f} s" if record.seconds is not None else ""
    if event == "start":
        return Event(NORMAL, "FailoverStep", f"{step_name} ({region}): started (attempt {record.attempts})")
    failed = record.status is StepStatus.FAILED
    text = f"{step_name} ({region}): {record.status.value}{took}" + (f": {record.detail}" if record.detail else "")
    return Event(WARNING if failed else NORMAL, "FailoverStep", clip(text, MESSAGE_LIMIT))


def outcome_event(report: RoundReport, previous_outcome: str | None) -> Event | None:
    """The end of a failover this round ran, or why it did not act (once per distinct reason)."""
    run = report.run
    if run is not None and run.finished:
        ok = run.outcome is Outcome.SUCCEEDED
        return Event(NORMAL if ok else WARNING, "FailoverSucceeded" if ok else "FailoverFailed",
                     clip(report.outcome, MESSAGE_LIMIT))
    if report.outcome.startswith("not acting") and report.outcome != previous_outcome:
        return Event(NORMAL, "NotActing", clip(report.outcome, MESSAGE_LIMIT))
    return None


def progress_status(journal: Journal, previous: Mapping[str, Any], generation: int, now: float) -> dict[str, Any]:
    """What a running failover changes in status between rounds (the round itself blocks until it ends)."""
    kept = [Condition(str(c.get("type")), str(c.get("status")), str(c.get("reason", "")), str(c.get("message", "")))
            for c in previous.get("conditions") or [] if isinstance(c, Mapping)
            and c.get("type") not in ("Ready", "FailoverInProgress")]
    running = _failover(journal)
    current = [Condition("Ready", "False", "FailingOver", running.message), running, *kept]
    return {"health": Verdict.REGION_LOST.value, "message": clip(running.message, MESSAGE_LIMIT),
            "conditions": merge_conditions(previous.get("conditions") or [], current, generation, now),
            "lastOperation": operation_status(journal)}
