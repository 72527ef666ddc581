"""Sweep every live zone's SOA serial on the chosen targets against the primary's Designate database."""

from __future__ import annotations

from dataclasses import dataclass

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import ProbeOptions, sweep
from dnsdr.app.observe import Observer, observed_primary
from dnsdr.domain.errors import InvalidInput, RetryLater
from dnsdr.domain.serials import SweepReport, targets_from_spec
from dnsdr.domain.spec import DesignateDR, SecretLookup


@dataclass(frozen=True)
class SerialSweep:
    database_region: str
    report: SweepReport

    @property
    def drift(self) -> bool:
        """Some pair not in sync, or a zone in ERROR in Designate."""
        return not self.report.in_sync or any(z.status == "ERROR" for z in self.report.zones)


def sweep_serials(spec: DesignateDR, resolver: SecretLookup, regions: tuple[str, ...] = (),
                  db_region: str | None = None, options: ProbeOptions | None = None) -> SerialSweep:
    for r in (*regions, *((db_region,) if db_region else ())):
        if r not in spec.region_names:
            raise InvalidInput(f"unknown region {r!r}; the spec has {', '.join(spec.region_names)}")
    if db_region is None:
        observer = Observer(spec, resolver)
        db_region = observed_primary(spec, observer.databases())
    source = spec.region(db_region)
    if source.database is None:
        raise InvalidInput(f"region {source.name} has no database in the spec; choose one with --db-region")
    targets = targets_from_spec(spec, regions or None)
    if not targets:
        raise InvalidInput("no nameservers to sweep in the chosen regions")
    options = options or ProbeOptions()
    zones = read_zones(source.database, resolver(source.database.password), timeout=max(options.timeout * 5, 5.0))
    try:
        report = sweep(zones, targets, options)
    except OSError as exc:
        raise RetryLater(f"sweep failed: {exc.strerror or exc}") from None
    return SerialSweep(source.name, report)
