"""Status and Events as pure functions of a round: the six conditions for each verdict, transition times kept while a
condition holds, per-region replication, serial drift, the last operation's timeline, and Events only for changes."""

from __future__ import annotations

from typing import Any

import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.app.control import RoundReport, policy_of
from dnsdr.app.observe import DatabaseRow, SerialSummary
from dnsdr.domain.automation import Action, ActionKind, ControlRecord
from dnsdr.domain.detection import Decision, MonitorView, Verdict
from dnsdr.domain.journal import Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.operator import status
from dnsdr.operator.crd_status import CONDITION_TYPES
from tests.conftest import EXAMPLE

SPEC: DesignateDR = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
PRIMARY = ReplicationState("127.0.1.1:3306", "mariadb", True, semi_sync=SemiSync(True, True, 1, wait_point="AFTER_SYNC"))


def replica(lag: float = 0.0, io: str = "Yes") -> ReplicationState:
    return ReplicationState("127.0.2.1:3306", "mariadb", True, read_only=True,
                            channel=Channel("127.0.1.1", 3306, io_running=io, sql_running="Yes", lag_seconds=lag))


def rows(r2: ReplicationState, errant: tuple[str, ...] = ()) -> tuple[DatabaseRow, ...]:
    health = "healthy" if r2.reachable and not errant else "unhealthy"
    return (DatabaseRow("r1", "primary", "healthy", (), None, None, PRIMARY),
            DatabaseRow("r2", "replica", health, () if health == "healthy" else ("broken",), 0, errant or None, r2))


def report(verdict: Verdict = Verdict.HEALTHY, reasons: tuple[str, ...] = ("r1 is up from every vantage point",),
           r2: ReplicationState | None = None, control: ControlRecord | None = None, outcome: str = "",
           action: Action | None = None, run: Journal | None = None, errant: tuple[str, ...] = (),
           observed: bool = True) -> RoundReport:
    return RoundReport(at=1000.0, primary="r1", candidate="r2", decision=Decision(verdict, "r1", reasons, 0, 1000.0),
                       action=action or Action(ActionKind.NONE, verdict.value), outcome=outcome,
                       control=control or ControlRecord(), epoch=3,
                       monitor={"r1": MonitorView("r1", False, True, ("every probe of r1 succeeded",))},
                       rows=rows(r2 or replica(), errant) if observed else (), run=run)


def conditions(r: RoundReport, serials: SerialSummary | None = None, journal: Journal | None = None) -> dict[str, Any]:
    return {c.type: (c.status, c.reason) for c in status.round_conditions(r, SPEC, serials, journal)}


def test_a_healthy_round() -> None:
    found = conditions(report(), SerialSummary("r1", 12, True, {"r1-pdns": {"in_sync": 12}}))
    assert found == {"Ready": ("True", "Healthy"), "Replicating": ("True", "Replicating"),
                     "DNSConverged": ("True", "InSync"), "FailoverInProgress": ("False", "Idle"),
                     "Degraded": ("False", "Healthy"), "Paused": ("False", "ManualPolicy")}


def test_each_verdict_and_replication_problem() -> None:
    assert conditions(report(Verdict.DEGRADED, ("r2 lags",), r2=replica(lag=30)))["Replicating"] == \
        ("False", "LagOverPolicy")
    degraded = conditions(report(Verdict.DEGRADED, ("r2 lags",)))
    assert (degraded["Ready"], degraded["Degraded"]) == (("True", "Degraded"), ("True", "Degraded"))
    uncertain = conditions(report(Verdict.UNCERTAIN, ("vantage points disagree",)))
    assert (uncertain["Ready"], uncertain["Degraded"]) == (("False", "Uncertain"), ("True", "Uncertain"))
    lost = conditions(report(Verdict.REGION_LOST, ("every vantage point agrees",), r2=replica(io="Connecting")))
    assert (lost["Ready"], lost["Replicating"]) == (("False", "RegionLost"), ("False", "ReplicationStopped"))
    gone = ReplicationState.unreachable("127.0.2.1:3306", "mariadb", "refused")
    assert conditions(report(r2=gone))["Replicating"] == ("False", "ReplicaUnreachable")
    assert conditions(report(errant=("0-2-5",)))["Replicating"] == ("False", "ErrantTransactions")
    assert conditions(report(observed=False))["Replicating"] == ("Unknown", "NotObserved")
    paused = conditions(report(control=ControlRecord(paused=True, paused_reason="maintenance")))
    assert paused["Paused"] == ("True", "Paused")


def test_dns_drift_names_each_target_and_stuck_zones() -> None:
    drift = status.dns_condition(SerialSummary("r1", 10, False, {"r1-pdns": {"in_sync": 10},
                                                                 "r2-bind": {"in_sync": 7, "behind": 2, "missing": 1}},
                                               stuck=1))
    assert (drift.status, drift.reason) == ("False", "Drift")
    assert drift.message == "r2-bind: 2 behind, 1 missing; 1 zones PENDING or ERROR in Designate"
    assert status.dns_condition(None).status == "Unknown"
    assert status.dns_condition(SerialSummary("r1", error="refused")).reason == "SweepFailed"


def _journal(outcome: Outcome = Outcome.SUCCEEDED) -> Journal:
    steps = [StepRecord("fence-database", StepStatus.SKIPPED, 100.0, 100.5, 1, "r1 unreachable"),
             StepRecord("promote", StepStatus.DONE if outcome is not Outcome.RUNNING else StepStatus.STARTED, 101.0,
                        102.25 if outcome is not Outcome.RUNNING else None, 1, "r2 writable")]
    return Journal("run1", "failover", "r1", "r2", "f", 100.0, steps=steps, outcome=outcome,
                   finished_at=None if outcome is Outcome.RUNNING else 130.0, epoch=4, lease_token=7)


def test_failover_in_progress_and_its_timeline() -> None:
    running = conditions(report(Verdict.REGION_LOST, ("agreed",)), journal=_journal(Outcome.RUNNING))
    assert (running["Ready"], running["FailoverInProgress"]) == (("False", "FailingOver"), ("True", "Running"))
    done = conditions(report(), journal=_journal())
    assert done["FailoverInProgress"] == ("False", "Succeeded")
    timeline = status.operation_status(_journal())
    assert timeline["steps"][1] == {"name": "promote", "status": "done", "startedAt": "1970-01-01T00:01:41Z",
                                    "finishedAt": "1970-01-01T00:01:42Z", "seconds": 1.25, "attempts": 1,
                                    "detail": "r2 writable"}
    assert (timeline["epoch"], timeline["leaseToken"], timeline["outcome"]) == (4, 7, "succeeded")
    progress = status.progress_status(_journal(Outcome.RUNNING), {"conditions": [
        {"type": "Paused", "status": "False", "reason": "Automatic", "message": "", "lastTransitionTime": "T0"}]},
        2, 200.0)
    assert [(c["type"], c["status"]) for c in progress["conditions"]] == [
        ("Ready", "False"), ("FailoverInProgress", "True"), ("Paused", "False")]
    assert progress["conditions"][2]["lastTransitionTime"] == "T0"


def test_transition_times_hold_while_a_condition_does() -> None:
    first = status.merge_conditions([], [status.Condition("Ready", "True", "Healthy", "ok")], 1, 100.0)
    same = status.merge_conditions(first, [status.Condition("Ready", "True", "Degraded", "lag")], 2, 200.0)
    flipped = status.merge_conditions(same, [status.Condition("Ready", "False", "Uncertain", "?")], 2, 300.0)
    assert [c["lastTransitionTime"] for c in (first[0], same[0], flipped[0])] == [
        "1970-01-01T00:01:40Z", "1970-01-01T00:01:40Z", "1970-01-01T00:05:00Z"]
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("Degraded", 2)


def test_a_round_status_has_every_section() -> None:
    doc = status.round_status(report(), SPEC, policy_of(SPEC), generation=5, previous={}, journal=_journal(),
                              serials=SerialSummary("r1", 3, True, {"r1-pdns": {"in_sync": 3}}), swept_at=900.0,
                              monitor_error="", now=1000.0)
    assert (doc["health"], doc["primary"], doc["candidate"], doc["epoch"], doc["observedGeneration"]) == \
        ("healthy", "r1", "r2", 3, 5)
    r2 = next(r for r in doc["regions"] if r["name"] == "r2")
    assert r2 == {"name": "r2", "role": "replica", "health": "healthy", "reachable": True, "writable": False,
                  "ioRunning": True, "sqlRunning": True, "lagSeconds": 0.0, "transactionsBehindPrimary": 0,
                  "reasons": []}
    r1 = next(r for r in doc["regions"] if r["name"] == "r1")
    assert (r1["semiSyncActive"], r1["semiSyncWaitPoint"]) == (True, "AFTER_SYNC")
    assert doc["serials"]["targets"] == [{"target": "r1-pdns", "inSync": 3, "behind": 0, "ahead": 0, "missing": 0,
                                          "unreachable": 0}]
    assert doc["automation"]["mode"] == "manual" and doc["lastOperation"]["runId"] == "run1"
    assert doc["monitor"]["regions"] == [{"name": "r1", "state": "healthy",
                                          "evidence": ["every probe of r1 succeeded"]}]
    assert [c["type"] for c in doc["conditions"]] == list(CONDITION_TYPES)  # as the CRD documents them


def test_an_invalid_spec() -> None:
    doc = status.invalid_status(["spec.regions[0].backends[0].dns.host: '1.2.3' is not a valid IP address"], 7, {},
                                50.0)
    ready = next(c for c in doc["conditions"] if c["type"] == "Ready")
    assert (doc["health"], ready["status"], ready["reason"]) == ("invalid", "False", "InvalidSpec")
    assert "'1.2.3' is not a valid IP address" in ready["message"]


def test_events_mark_changes_only() -> None:
    healthy = report()
    first = status.decision_event(None, healthy)
    assert first is not None and (first.type, first.reason) == ("Normal", "Decision")
    assert status.decision_event("healthy", healthy) is None
    lost = report(Verdict.REGION_LOST, ("every vantage point agrees r1 is down for 3 rounds",),
                  action=Action(ActionKind.FAILOVER, "r1 is lost"))
    event = status.decision_event("uncertain", lost)
    assert event is not None and event.type == "Warning"
    assert event.message == "uncertain -> region-lost: every vantage point agrees r1 is down for 3 rounds (failover: " \
                            "r1 is lost)"
    record = StepRecord("promote", StepStatus.DONE, 10.0, 11.5, 1, "r2 writable")
    step = status.step_event("done", "promote", "r2", record)
    assert step is not None and step.message == "promote (r2): done in 1.5 s: r2 writable"
    assert status.step_event("already", "promote", "r2", record) is None
    won = report(outcome="failover r1 -> r2 succeeded (run run1, epoch 4)", run=_journal())
    outcome = status.outcome_event(won, None)
    assert outcome is not None and outcome.reason == "FailoverSucceeded"
    lost_race = report(outcome="not acting: another dnsdr run holds the operation lease")
    assert status.outcome_event(lost_race, None) is not None
    assert status.outcome_event(lost_race, lost_race.outcome) is None
