"""Zone serial convergence, pure: compare what each DNS target serves with what Designate expects.

A failover is only finished when every live zone is served at the database's serial or later by
every surviving target, and operators need to see which zones are behind, missing or ahead where.
This module holds the comparison (RFC 1982), the per-pair classes and the summaries; the prober
(:mod:`dnsdr.adapters.dns_prober`) and the database reader (:mod:`dnsdr.adapters.designate_db`) only
feed it, so every rule here is testable without a network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from dnsdr.domain.spec import DesignateDR

SERIAL_BITS = 32
_HALF = 1 << (SERIAL_BITS - 1)
_MOD = 1 << SERIAL_BITS

# Rcodes that mean "this server does not serve the zone (now)" rather than "no answer".
MISSING_RCODES = frozenset({"NXDOMAIN", "REFUSED", "NOTAUTH", "SERVFAIL"})


def serial_compare(a: int, b: int) -> int | None:
    """RFC 1982 comparison of two 32-bit serials: -1 (a < b), 0, 1 (a > b), or None (undefined).

    Serials are Unix times in Designate, so plain integer order would mostly work, but a backend
    restored from an old dump or a wrapped serial must compare as the secondaries themselves do.
    """
    a %= _MOD
    b %= _MOD
    if a == b:
        return 0
    diff = (b - a) % _MOD
    if diff == _HALF:
        return None
    return -1 if diff < _HALF else 1


def serial_at_least(served: int, expected: int) -> bool:
    """True when ``served`` is ``expected`` or later in RFC 1982 order."""
    return serial_compare(served, expected) in (0, 1)


class PairClass(StrEnum):
    IN_SYNC = "in_sync"
    BEHIND = "behind"
    AHEAD = "ahead"  # lost writes (old primary) or clock skew: needs a forced retransfer
    MISSING = "missing"
    UNREACHABLE = "unreachable"  # no valid answer: timeouts, network errors, bad answers


CLASSES: tuple[PairClass, ...] = tuple(PairClass)


class Observation(NamedTuple):
    """What one target said about one zone: a serial, an rcode, or why there was no valid answer."""

    serial: int | None = None
    rcode: str | None = None
    error: str | None = None


def classify(expected: int, seen: Observation) -> PairClass:
    """The class of one (zone, target) pair. Only a validated SOA serial can be in sync."""
    if seen.serial is not None:
        cmp = serial_compare(seen.serial, expected)
        if cmp == 0:
            return PairClass.IN_SYNC
        # Undefined (exactly 2^31 apart) is grouped with "ahead": secondaries will not fetch by
        # themselves, so the fix is the same forced retransfer.
        return PairClass.BEHIND if cmp == -1 else PairClass.AHEAD
    if seen.rcode in MISSING_RCODES:
        return PairClass.MISSING
    return PairClass.UNREACHABLE


@dataclass(frozen=True)
class ExpectedZone:
    """A live zone as Designate's database has it."""

    id: str
    name: str
    serial: int
    status: str = "ACTIVE"
    action: str = "NONE"
    pool_id: str = ""
    type: str = "PRIMARY"
    project_id: str = ""  # the zone's owner (Designate's tenant_id): a re-push acts in that project

    @property
    def stuck(self) -> bool:
        return self.status in ("PENDING", "ERROR")


@dataclass(frozen=True)
class Target:
    """One DNS server to sweep; ``name`` is ``region/backend`` so it is unique across regions."""

    name: str
    region: str
    host: str
    port: int = 53


def targets_from_spec(spec: DesignateDR, regions: Iterable[str] | None = None) -> tuple[Target, ...]:
    """The polled nameservers of the given regions (all by default), named after their backends.

    A name is the backend's name (``host:port`` for a nameserver without one), prefixed with
    ``region/`` only when it would otherwise be ambiguous.
    """
    wanted = set(regions) if regions is not None else None
    found: list[tuple[str, str, str, int]] = []
    for region in spec.regions:
        if wanted is not None and region.name not in wanted:
            continue
        names = {(b.dns.host, b.dns.port): b.name for b in region.backends}
        for ns in region.polled_nameservers:
            found.append((names.get((ns.host, ns.port), str(ns)), region.name, ns.host, ns.port))
    labels = [f[0] for f in found]
    return tuple(Target(label if labels.count(label) == 1 else f"{region}/{label}", region, host, port)
                 for label, region, host, port in found)


def targets_of_state(spec: DesignateDR, lost: Iterable[str], kept: Iterable[str]) -> tuple[Target, ...]:
    """The nameservers that serve the pool in a state: those of every region not lost, plus the kept
    backends of lost regions (what a failover's proofs must cover)."""
    lost_set, kept_set = set(lost), set(kept)
    everyone = targets_from_spec(spec)
    kept_dns = {(b.dns.host, b.dns.port) for r in spec.regions if r.name in lost_set for b in r.backends
                if b.name in kept_set}
    return tuple(t for t in everyone if t.region not in lost_set or (t.host, t.port) in kept_dns)


class PairResult(NamedTuple):
    zone: str
    target: str
    cls: PairClass
    expected: int
    serial: int | None
    rcode: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"zone": self.zone, "target": self.target, "class": str(self.cls), "expected": self.expected,
                "serial": self.serial, "rcode": self.rcode, "error": self.error}


# Worst first: what an operator should look at before anything else.
_SEVERITY = {PairClass.UNREACHABLE: 0, PairClass.MISSING: 1, PairClass.AHEAD: 2, PairClass.BEHIND: 3,
             PairClass.IN_SYNC: 4}


def _severity_key(p: PairResult) -> tuple[int, int, str]:
    lag = 0 if p.serial is None else -abs(p.expected - p.serial)
    return (_SEVERITY[p.cls], lag, p.zone)


@dataclass(frozen=True)
class SweepReport:
    """Every (zone, target) pair of one sweep, classified; summaries are computed on demand."""

    zones: tuple[ExpectedZone, ...]
    targets: tuple[Target, ...]
    pairs: tuple[PairResult, ...]
    seconds: float = 0.0
    queries: int = 0
    stats: Mapping[str, int] = field(default_factory=dict)

    def counts(self, target: str | None = None, region: str | None = None) -> dict[str, int]:
        names = {t.name for t in self.targets if region is None or t.region == region}
        out = {str(c): 0 for c in CLASSES}
        for p in self.pairs:
            if (target is None or p.target == target) and p.target in names:
                out[p.cls] += 1
        return out

    def per_target(self) -> dict[str, dict[str, int]]:
        out = {t.name: {str(c): 0 for c in CLASSES} for t in self.targets}
        for p in self.pairs:
            out[p.target][p.cls] += 1
        return out

    def per_region(self) -> dict[str, dict[str, int]]:
        region_of = {t.name: t.region for t in self.targets}
        out = {r: {str(c): 0 for c in CLASSES} for r in dict.fromkeys(region_of.values())}
        for p in self.pairs:
            out[region_of[p.target]][p.cls] += 1
        return out

    def drift(self) -> list[PairResult]:
        """Every pair not in sync, worst first."""
        return sorted((p for p in self.pairs if p.cls is not PairClass.IN_SYNC), key=_severity_key)

    def worst(self, target: str, limit: int = 5) -> list[PairResult]:
        return [p for p in self.drift() if p.target == target][:limit]

    def stuck_zones(self) -> list[ExpectedZone]:
        """Zones Designate itself has not finished: PENDING (in flight or lost) or ERROR."""
        return sorted((z for z in self.zones if z.stuck), key=lambda z: (z.status, z.name))

    @property
    def in_sync(self) -> bool:
        return all(p.cls is PairClass.IN_SYNC for p in self.pairs)

    def laggards(self, min_serials: Mapping[str, int], targets: Iterable[str] | None = None) -> list[str]:
        """Why :meth:`converged` is false: one line per offending (zone, target) pair."""
        wanted = {t.name for t in self.targets} if targets is None else set(targets)
        seen: dict[tuple[str, str], PairResult] = {(p.zone, p.target): p for p in self.pairs}
        out: list[str] = []
        for zone, minimum in min_serials.items():
            key_zone = normalise_name(zone)
            for t in sorted(wanted):
                p = seen.get((key_zone, t))
                if p is None:
                    out.append(f"{key_zone} on {t}: not probed")
                elif p.serial is None or not serial_at_least(p.serial, minimum):
                    got = p.serial if p.serial is not None else (p.rcode or p.error or p.cls)
                    out.append(f"{key_zone} on {t}: {got}, want >= {minimum}")
        return out

    def converged(self, min_serials: Mapping[str, int], targets: Iterable[str] | None = None) -> bool:
        """Every zone in ``min_serials`` served by every target (default all swept) at that serial or later.

        ``min_serials`` maps zone name to the database's serial; this is the exit test of a failover,
        so a pair that was not probed, or got no validated answer, is not converged.
        """
        return not self.laggards(min_serials, targets)

    def to_dict(self, worst: int = 10, include_pairs: bool = False) -> dict[str, Any]:
        drift = self.drift()
        out: dict[str, Any] = {
            "zones": len(self.zones), "targets": [t.name for t in self.targets], "queries": self.queries,
            "seconds": round(self.seconds, 3), "in_sync": self.in_sync, "totals": self.counts(),
            "per_target": self.per_target(), "per_region": self.per_region(),
            "worst": {t.name: [p.to_dict() for p in drift if p.target == t.name][:worst] for t in self.targets},
            "stuck": [{"id": z.id, "name": z.name, "status": z.status, "action": z.action, "serial": z.serial}
                      for z in self.stuck_zones()],
            "stats": dict(self.stats),
        }
        if include_pairs:
            out["pairs"] = [p.to_dict() for p in self.pairs]
        return out


def normalise_name(name: str) -> str:
    """Zone names compare lower-case with one trailing dot, as Designate stores them."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def build_report(zones: Sequence[ExpectedZone], targets: Sequence[Target],
                 observations: Sequence[Sequence[Observation]], *, seconds: float = 0.0, queries: int = 0,
                 stats: Mapping[str, int] | None = None) -> SweepReport:
    """Classify ``observations[t][z]`` (target-major, aligned with ``targets`` and ``zones``)."""
    if len(observations) != len(targets):
        raise ValueError("one observation list per target")
    pairs: list[PairResult] = []
    for target, seen in zip(targets, observations, strict=True):
        if len(seen) != len(zones):
            raise ValueError(f"{target.name}: {len(seen)} observations for {len(zones)} zones")
        tname = target.name
        for zone, obs in zip(zones, seen, strict=True):
            pairs.append(PairResult(normalise_name(zone.name), tname, classify(zone.serial, obs), zone.serial,
                                    obs.serial, obs.rcode, obs.error))
    return SweepReport(tuple(zones), tuple(targets), tuple(pairs), seconds, queries, dict(stats or {}))
