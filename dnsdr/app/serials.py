"""Sweep every live zone's SOA serial on the chosen targets against the primary's Designate database.

Every backend the spec knows is looked at, not only the chosen ones: one outside the selection
that still answers with a stale serial (a lost region's server that nobody re-pointed or fenced)
is drift too, and is named. A backend a failover fenced (it lost every zone of the pool, as the
recorded state says) is expected to answer for none: that is named, not counted as drift, unless
it answers for a zone again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import ProbeOptions, sweep
from dnsdr.adapters.state import StateStore
from dnsdr.app.observe import Observer, observed_primary
from dnsdr.domain.errors import InvalidInput, RetryLater
from dnsdr.domain.serials import PairClass, PairResult, SweepReport, Target, targets_from_spec
from dnsdr.domain.spec import DesignateDR, SecretLookup

ANSWERING = (PairClass.IN_SYNC, PairClass.BEHIND, PairClass.AHEAD)


@dataclass(frozen=True)
class SerialSweep:
    database_region: str
    report: SweepReport
    fenced: frozenset[str] = frozenset()  # target names a failover fenced
    outside: tuple[PairResult, ...] = field(default_factory=tuple)  # stale answers outside the selection

    def counts_as_drift(self, p: PairResult) -> bool:
        if p.target in self.fenced:
            return p.cls in ANSWERING  # a fenced server must answer for none
        return p.cls is not PairClass.IN_SYNC

    @property
    def fence_breaches(self) -> list[PairResult]:
        return [p for p in self.report.pairs if p.target in self.fenced and p.cls in ANSWERING]

    @property
    def drift(self) -> bool:
        """Some pair not in sync (a fenced server answering, a stale server outside the selection), or a
        zone in ERROR in Designate."""
        return (any(self.counts_as_drift(p) for p in self.report.pairs) or bool(self.outside)
                or any(z.status == "ERROR" for z in self.report.zones))


def _fenced_targets(spec: DesignateDR, store: StateStore | None, targets: tuple[Target, ...]) -> frozenset[str]:
    cluster = store.load_cluster() if store is not None else None
    if cluster is None or not cluster.fenced:
        return frozenset()
    dns = {(b.dns.host, b.dns.port) for r in spec.regions for b in r.backends if b.name in cluster.fenced}
    return frozenset(t.name for t in targets if (t.host, t.port) in dns)


def sweep_serials(spec: DesignateDR, resolver: SecretLookup, regions: tuple[str, ...] = (),
                  db_region: str | None = None, options: ProbeOptions | None = None,
                  store: StateStore | None = None) -> SerialSweep:
    for r in (*regions, *((db_region,) if db_region else ())):
        if r not in spec.region_names:
            raise InvalidInput(f"unknown region {r!r}; the spec has {', '.join(spec.region_names)}")
    if db_region is None:
        observer = Observer(spec, resolver)
        db_region = observed_primary(spec, observer.databases())
    source = spec.region(db_region)
    if source.database is None:
        raise InvalidInput(f"region {source.name} has no database in the spec; choose one with --db-region")
    everyone = targets_from_spec(spec)
    chosen = targets_from_spec(spec, regions or None)
    if not chosen:
        raise InvalidInput("no nameservers to sweep in the chosen regions")
    by_address = {(t.host, t.port): t for t in everyone}
    chosen = tuple(by_address.get((t.host, t.port), t) for t in chosen)  # names as in the whole spec
    others = tuple(t for t in everyone if t not in chosen)
    options = options or ProbeOptions()
    zones = read_zones(source.database, resolver(source.database.password), timeout=max(options.timeout * 5, 5.0),
                       resolver=resolver)
    fenced = _fenced_targets(spec, store, everyone)
    try:
        report = sweep(zones, chosen, options)
        outside = sweep(zones, others, options) if others else None
    except OSError as exc:
        raise RetryLater(f"sweep failed: {exc.strerror or exc}") from None
    stale = tuple(p for p in (outside.pairs if outside else ())
                  if (p.cls in (PairClass.BEHIND, PairClass.AHEAD)) or (p.target in fenced and p.cls in ANSWERING))
    return SerialSweep(source.name, report, fenced, stale)
