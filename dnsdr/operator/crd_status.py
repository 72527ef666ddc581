"""The DesignateDR's status schema and printer columns: what the operator reports, described for ``kubectl explain``.

The status document is built by :mod:`dnsdr.operator.status`; the API server prunes any field not declared here, so a
test writes a full status and reads every field back.
"""

from __future__ import annotations

from typing import Any

from dnsdr.domain.detection import Verdict
from dnsdr.operator.schema import Schema, array, flag, integer, number, obj, text, timestamp

CONDITION_TYPES = ("Ready", "Replicating", "DNSConverged", "FailoverInProgress", "Degraded", "Paused")
HEALTH = (*(v.value for v in Verdict), "invalid", "unknown")


def _s(description: str) -> Schema:
    return text(description, min_length=0)


def _strings(description: str) -> Schema:
    return array(description, _s("One line."))


def condition() -> Schema:
    return obj("A condition, by Kubernetes' conventions.", {
        "type": _s(f"One of {', '.join(CONDITION_TYPES)}."),
        "status": text("True, False or Unknown.", enum=("True", "False", "Unknown")),
        "reason": _s("Why, in one CamelCase word."),
        "message": _s("Why, for a person."),
        "lastTransitionTime": timestamp("When status last changed."),
        "observedGeneration": integer("The spec generation this condition was computed from."),
    }, required=["type", "status"])


def region_status() -> Schema:
    return obj("One database region as the last round saw it.", {
        "name": _s("The region."),
        "role": _s("primary or replica (as dnsdr expects it)."),
        "health": _s("healthy, degraded, unhealthy or unreachable."),
        "reachable": flag("The operator reached the database."),
        "writable": flag("Open for writes (read_only off)."),
        "ioRunning": flag("The replica's IO thread runs."),
        "sqlRunning": flag("The replica's SQL thread runs."),
        "lagSeconds": number("Seconds_Behind_Master of the replica."),
        "heartbeatAgeSeconds": number("Seconds since the replica last heard from its source."),
        "semiSyncActive": flag("The primary's semi-synchronous replication is active."),
        "semiSyncWaitPoint": _s("AFTER_SYNC or AFTER_COMMIT."),
        "transactionsBehindPrimary": integer("Transactions the replica has yet to apply."),
        "errantTransactions": integer("Transactions the replica holds that the primary never had."),
        "reasons": _strings("What is wrong, if anything."),
    }, required=["name"])


def serials_status() -> Schema:
    return obj("Zone serial drift: every zone of the primary's Designate database against every target.", {
        "databaseRegion": _s("Whose database the serials were compared with."),
        "zones": integer("Zones compared."),
        "inSync": flag("Every target serves every zone at its current serial."),
        "stuck": integer("Zones PENDING or ERROR in Designate."),
        "sweptAt": timestamp("When the sweep ran."),
        "error": _s("Why the sweep could not run."),
        "targets": array("Per target: zones by serial class.", obj("One target.", {
            "target": _s("The backend."),
            "inSync": integer("Zones at the current serial."),
            "behind": integer("Zones at an older serial."),
            "ahead": integer("Zones at a newer serial."),
            "missing": integer("Zones it does not serve."),
            "unreachable": integer("Zones it did not answer for."),
        }, required=["target"]), map_keys=["target"]),
    })


def operation_status() -> Schema:
    step = obj("One step of the run.", {
        "name": _s("The step."),
        "status": _s("pending, started, done, skipped or failed."),
        "startedAt": timestamp("When it started."),
        "finishedAt": timestamp("When it ended."),
        "seconds": number("How long it took."),
        "attempts": integer("Times it was attempted (resumed runs retry it)."),
        "detail": _s("What it did or why it failed."),
    }, required=["name", "status"])
    return obj("The last failover, switchover or rejoin: its timeline from the journal.", {
        "runId": _s("The run."),
        "operation": _s("failover, switchover or rejoin."),
        "from": _s("The region it moved from."),
        "to": _s("The region it moved to."),
        "outcome": _s("running, succeeded, failed, refused or abandoned."),
        "startedAt": timestamp("When it started."),
        "finishedAt": timestamp("When it ended."),
        "epoch": integer("The epoch it recorded."),
        "leaseToken": integer("The fencing token of the lease it held."),
        "notes": _strings("Failures and risks it recorded."),
        "steps": array("Every step, in order.", step),
    })


def status_schema() -> Schema:
    return obj("What the operator observed and did; written every round.", {
        "observedGeneration": integer("The spec generation the last round used."),
        "health": text("The last decision: " + ", ".join(HEALTH) + ".", enum=HEALTH),
        "primary": _s("The region whose database is primary."),
        "candidate": _s("The region a failover would promote."),
        "epoch": integer("The epoch recorded by the last failover or switchover (the fencing token in the "
                         "databases)."),
        "message": _s("The last round in one line."),
        "lastRoundTime": timestamp("When the last round ended."),
        "decision": obj("The last decision, with its evidence.", {
            "verdict": _s("healthy, degraded, uncertain or region-lost."),
            "region": _s("The region it is about (the primary)."),
            "reasons": _strings("The evidence of each vantage point."),
            "agreeingRounds": integer("Rounds in a row every vantage point said the region is down."),
        }),
        "action": obj("What the last round did about it.", {
            "kind": _s("none, alert or failover."),
            "reason": _s("Why."),
            "outcome": _s("What came of it."),
        }),
        "conditions": array("Ready, Replicating, DNSConverged, FailoverInProgress, Degraded and Paused.",
                            condition(), map_keys=["type"]),
        "regions": array("Per database region: replication.", region_status(), map_keys=["name"]),
        "serials": serials_status(),
        "automation": obj("Automatic failover: policy, pause, cool-down, retries.", {
            "mode": _s("automatic or manual (spec.policy.failover)."),
            "paused": flag("Paused (dnsdr pause, or the dnsdr.io/paused annotation)."),
            "pausedReason": _s("Why."),
            "cooldownUntil": timestamp("Until when the next automatic failover waits for an acknowledgement."),
            "failedAttempts": integer("Failed automatic attempts since the last success."),
            "nextAttemptAt": timestamp("When a failed attempt is retried."),
            "lastError": _s("Why the last attempt failed."),
        }),
        "monitor": obj("The third-region witness's view of each region.", {
            "error": _s("Why its verdict could not be read."),
            "regions": array("Per region.", obj("One region.", {
                "name": _s("The region."),
                "state": _s("healthy, degraded or lost."),
                "evidence": _strings("Its probes."),
            }, required=["name"]), map_keys=["name"]),
        }),
        "lastOperation": operation_status(),
        "pools": array("The rendered pools.yml per database region, in Secrets (they hold API tokens).", obj(
            "One region's pools.", {
                "region": _s("The region whose Designate applies it."),
                "secret": _s("The Secret (key pools.yaml)."),
                "worldState": _s("The state it is for: that region primary, the others lost if it is not primary now."),
                "current": flag("It is the pools.yml of the present state."),
            }, required=["region"]), map_keys=["region"]),
        "requests": obj("The annotations the operator has applied (so each is applied once).", {
            "paused": _s("The dnsdr.io/paused value applied last."),
            "ack": _s("The dnsdr.io/ack value applied last."),
        }),
    })


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Primary", "type": "string", "jsonPath": ".status.primary", "description": "The primary region."},
    {"name": "Epoch", "type": "integer", "jsonPath": ".status.epoch", "description": "The recorded epoch."},
    {"name": "Health", "type": "string", "jsonPath": ".status.health", "description": "The last decision."},
    {"name": "Failover", "type": "string", "jsonPath": ".spec.policy.failover", "priority": 1,
     "description": "automatic or manual."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
