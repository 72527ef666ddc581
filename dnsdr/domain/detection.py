"""Decide whether the primary region is lost, from several vantage points, never on one failed probe.

Three vantage points look at the primary region each round: the controller itself (can it reach
the primary's database?), the candidate's replica (is its IO thread connected and its heartbeat
fresh?) and the monitor in the third region (do the region's nameservers, mdns, API and database
all fail from outside?). The region is lost only when all three agree for ``consecutive`` rounds
in a row; any dissent, or a vantage point that has no opinion (the monitor unreachable, the
candidate unreachable), is *uncertain*: alert, never act. orchestrator, Patroni and MOCO draw the
same line; k8gb, which decides alone, documents failing over while the primary is healthy.

Pure and typed: time comes in with each sample, so the whole state machine is tested in virtual time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # the primary region serves, but something needs attention
    REGION_LOST = "region-lost"  # every vantage point agrees, for enough rounds
    UNCERTAIN = "uncertain"  # dissent, a missing vantage point, or agreement not yet long enough


@dataclass(frozen=True)
class MonitorView:
    """The monitor's verdict on one region, as it served it (``at`` is the monitor's clock)."""

    region: str
    lost: bool  # every probe of the region failed in the monitor's last round
    healthy: bool  # every probe succeeded
    evidence: tuple[str, ...] = ()
    at: float = 0.0  # when the monitor's round ran, on the consumer's clock (see witness.parse_verdict)


@dataclass(frozen=True)
class Sample:
    """What one round saw, from each vantage point."""

    at: float
    primary: str
    candidate: str
    primary_db_reachable: bool
    primary_db_error: str = ""
    # The candidate's replication channel: True connected and fresh, False source lost (IO thread
    # down or heartbeat stale), None no opinion (the candidate itself is unreachable).
    replica_sees_source: bool | None = None
    replica_evidence: str = ""
    monitor: MonitorView | None = None  # None: the monitor did not answer or its verdict is stale
    monitor_error: str = ""
    problems: tuple[str, ...] = ()  # anything else degraded (lag, semi-sync off, a probe failing)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    region: str
    reasons: tuple[str, ...]
    agreeing_rounds: int
    at: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data


@dataclass(frozen=True)
class DetectorState:
    """Consecutive rounds in which every vantage point said the primary region is down."""

    agreeing_rounds: int = 0
    since: float | None = None


def opinions(sample: Sample) -> dict[str, bool | None]:
    """Each vantage point's answer to "is the primary region down?" (None: no opinion)."""
    return {
        "controller": not sample.primary_db_reachable,
        "replica": None if sample.replica_sees_source is None else not sample.replica_sees_source,
        "monitor": None if sample.monitor is None else sample.monitor.lost,
    }


def _evidence(sample: Sample) -> dict[str, str]:
    monitor = (f"monitor unavailable ({sample.monitor_error})" if sample.monitor is None
               else "monitor: " + ("; ".join(sample.monitor.evidence) or ("down" if sample.monitor.lost else "up")))
    controller = (f"controller cannot reach {sample.primary}'s database ({sample.primary_db_error})"
                  if not sample.primary_db_reachable else f"controller reaches {sample.primary}'s database")
    replica = sample.replica_evidence or (
        f"{sample.candidate}'s replica: " + {True: "source connected", False: "source lost",
                                              None: "unknown (candidate unreachable)"}[sample.replica_sees_source])
    return {"controller": controller, "replica": replica, "monitor": monitor}


def decide(state: DetectorState, sample: Sample, consecutive: int) -> tuple[DetectorState, Decision]:
    """The next detector state and this round's decision about ``sample.primary``."""
    said = opinions(sample)
    evidence = _evidence(sample)
    down = [k for k, v in said.items() if v is True]
    up = [k for k, v in said.items() if v is False]
    silent = [k for k, v in said.items() if v is None]

    if len(down) == len(said):
        rounds = state.agreeing_rounds + 1
        new = DetectorState(rounds, state.since if state.since is not None else sample.at)
        reasons = tuple(evidence[k] for k in said)
        if rounds >= consecutive:
            return new, Decision(Verdict.REGION_LOST, sample.primary,
                                 (f"every vantage point agrees {sample.primary} is down for {rounds} rounds",
                                  *reasons), rounds, sample.at)
        return new, Decision(Verdict.UNCERTAIN, sample.primary,
                             (f"every vantage point agrees {sample.primary} is down, {rounds} of {consecutive} "
                              "rounds so far", *reasons), rounds, sample.at)

    fresh = DetectorState()
    if down:
        why = (f"vantage points disagree about {sample.primary}: down per {', '.join(down)}"
               + (f"; up per {', '.join(up)}" if up else "") + (f"; no opinion from {', '.join(silent)}" if silent
                                                                  else ""))
        return fresh, Decision(Verdict.UNCERTAIN, sample.primary, (why, *(evidence[k] for k in said)), 0, sample.at)
    problems = list(sample.problems)
    problems += [evidence[k] for k in silent]
    if sample.monitor is not None and not sample.monitor.healthy:
        problems.append(evidence["monitor"])
    if problems:
        return fresh, Decision(Verdict.DEGRADED, sample.primary, tuple(problems), 0, sample.at)
    return fresh, Decision(Verdict.HEALTHY, sample.primary, (f"{sample.primary} is up from every vantage point",),
                           0, sample.at)

