"""Safety gates for failover, switchover and rejoin (DESIGN.md §3), as pure functions.

A gate either passes, or refuses with a reason and, where an operator may knowingly accept the
risk, the name of the ``--force`` that overrides exactly that refusal. Some refusals can never be
forced: promoting while the old primary is healthy and writable would create two primaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dnsdr.domain.divergence import Divergence, counted


class Force(StrEnum):
    ERRANT = "errant-transactions"     # promote a candidate that holds transactions its source never had
    RELAY_TIMEOUT = "relay-log-timeout"  # promote before the relay log was fully applied
    OLD_PRIMARY_ALIVE = "old-primary-alive"  # the candidate still hears from an old primary we cannot reach
    # rejoin a region holding writes the primary lacks: rebuild it from the primary, discarding them
    DISCARD_DIVERGENCE = "discard-divergence"


@dataclass(frozen=True)
class DatabaseView:
    """What the gates need to know about one database, distilled from an observation."""

    region: str
    reachable: bool
    writable: bool = False
    is_replica: bool = False
    # The candidate's replication channel still receives from its source (IO running, fresh heartbeat).
    source_alive: bool = False
    replication_running: bool = False
    lag_seconds: float | None = None
    errant: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    force: Force | None = None

    def render(self) -> str:
        hint = f" (override with --force {self.force.value})" if self.force else " (cannot be forced)"
        return self.message + hint


@dataclass(frozen=True)
class Verdict:
    refusals: tuple[Refusal, ...] = ()
    overridden: tuple[Refusal, ...] = ()
    risks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return not self.refusals


def _decide(found: list[Refusal], forces: frozenset[Force], risks: list[str]) -> Verdict:
    refused = tuple(r for r in found if r.force is None or r.force not in forces)
    overridden = tuple(r for r in found if r.force is not None and r.force in forces)
    risks = risks + [f"forced past: {r.message}" for r in overridden]
    return Verdict(refused, overridden, tuple(risks))


def failover_gates(old: DatabaseView, candidate: DatabaseView, forces: frozenset[Force]) -> Verdict:
    found: list[Refusal] = []
    risks: list[str] = []
    if not candidate.reachable:
        found.append(Refusal("candidate-unreachable",
                             f"candidate {candidate.region} is unreachable: {candidate.error or 'no answer'}"))
    if old.reachable and old.writable:
        found.append(Refusal(
            "old-primary-writable",
            f"old primary {old.region} is reachable and writable: promoting {candidate.region} would create two "
            f"writable primaries; use `dnsdr switchover --to {candidate.region}` for a planned move",
        ))
    if not old.reachable and candidate.source_alive:
        found.append(Refusal(
            "old-primary-alive",
            f"dnsdr cannot reach {old.region}, but {candidate.region} still receives replication from it: "
            f"this looks like a partition, not a loss",
            Force.OLD_PRIMARY_ALIVE,
        ))
    if candidate.errant:
        found.append(Refusal(
            "errant-transactions",
            f"candidate {candidate.region} holds transactions its source never had: {', '.join(candidate.errant)}",
            Force.ERRANT,
        ))
    if not old.reachable:
        risks.append(f"{old.region} could not be fenced (unreachable); it must stay down or be rejoined, "
                     "and its database must start read-only")
    return _decide(found, forces, risks)


def catch_up_gate(region: str, applied: bool, remaining: str, forces: frozenset[Force]) -> Verdict:
    if applied:
        return Verdict()
    refusal = Refusal("relay-log-timeout",
                      f"{region} did not apply its relay log in time; still missing {remaining or 'unknown'}",
                      Force.RELAY_TIMEOUT)
    return _decide([refusal], forces, [])


def switchover_gates(old: DatabaseView, candidate: DatabaseView, max_lag: float) -> Verdict:
    found: list[Refusal] = []
    for view in (old, candidate):
        if not view.reachable:
            found.append(Refusal("unreachable", f"{view.region} is unreachable ({view.error or 'no answer'}); "
                                 "a switchover needs both; use `dnsdr promote` for a failover"))
    if old.reachable and old.is_replica:
        found.append(Refusal("not-primary", f"{old.region} is a replica, not the primary"))
    if candidate.reachable and not candidate.replication_running:
        found.append(Refusal("not-replicating", f"{candidate.region} is not replicating from {old.region}"))
    if candidate.errant:
        found.append(Refusal("errant-transactions",
                             f"{candidate.region} holds transactions {old.region} never had: "
                             f"{', '.join(candidate.errant)}; a zero-loss switchover is impossible"))
    if candidate.lag_seconds is not None and candidate.lag_seconds > max_lag:
        found.append(Refusal("lagging", f"{candidate.region} lags {candidate.lag_seconds:g} s "
                             f"(maxLagSeconds {max_lag:g}); retry once it caught up"))
    return _decide(found, frozenset(), [])


def rejoin_gates(returning: DatabaseView, primary: DatabaseView, forces: frozenset[Force] = frozenset(),
                 divergence: Divergence | None = None, unknown: str = "") -> Verdict:
    """A region may rejoin only when it holds nothing the primary lacks, or that is knowingly discarded.

    ``divergence`` is what its errant transactions mean in DNS terms (None when it holds none, or when
    the comparison failed: ``unknown`` says why). Both refusals point at ``dnsdr divergence``, which
    shows and replays the changes; ``--force discard-divergence`` makes the rejoin rebuild the region's
    database from the primary, which is the only way it can replicate again.
    """
    found: list[Refusal] = []
    r, p = returning.region, primary.region
    if not returning.reachable:
        found.append(Refusal("unreachable", f"{r} is unreachable ({returning.error or 'no answer'})"))
    if not primary.reachable:
        found.append(Refusal("primary-unreachable", f"primary {p} is unreachable"))
    elif not primary.writable or primary.is_replica:
        found.append(Refusal("primary-not-primary", f"{p} is not a writable primary"))
    if returning.errant:
        meaning = (f"; in DNS terms they change nothing {p} lacks (see `dnsdr divergence --region {r}`)"
                   if divergence is not None and not divergence.lost else
                   f"; review them with `dnsdr divergence --region {r}`")
        found.append(Refusal(
            "diverged",
            f"{r} holds transactions {p} never had: {', '.join(returning.errant)}; they were never replicated "
            f"(lost writes){meaning}; it cannot replicate from {p} until it is rebuilt from it, which discards them",
            Force.DISCARD_DIVERGENCE,
        ))
    if divergence is not None and divergence.lost:
        listing = "\n      ".join(divergence.lines())
        found.append(Refusal(
            "designate-divergence",
            f"{r}'s Designate database holds {counted(len(divergence.changes), 'change')} {p} never received:\n      "
            f"{listing}\n    replay them through {p}'s API with `dnsdr divergence --region {r} --replay --yes`, "
            "or discard them",
            Force.DISCARD_DIVERGENCE,
        ))
    if unknown:
        found.append(Refusal("divergence-unknown", f"cannot tell what {r}'s errant transactions changed in "
                             f"Designate: {unknown}", Force.DISCARD_DIVERGENCE))
    return _decide(found, forces, [])
