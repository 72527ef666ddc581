"""Fakes for the DNS steps, in virtual time.

* :class:`FakeDataPlane` stands in for Designate's database (zones and serials), the backends'
  secondary zones (masters) and the serials each DNS target serves; retransfers land after a delay.
* :class:`FakeDesignate` is the Designate API and the TXT answers of the targets for the canary.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from dnsdr.adapters.backends.base import MastersReport, ZoneOutcome, ZoneStatus, canonical
from dnsdr.adapters.designate_api import DesignateApiError, RecordSet, Zone
from dnsdr.domain.serials import ExpectedZone, Observation, SweepReport, Target, build_report
from dnsdr.domain.spec import BackendSpec, DatabaseSpec, DesignateDR, Endpoint
from dnsdr.engine.steps import dns as dns_steps
from tests.unit.engine.fakes import VirtualClock


@dataclass(frozen=True)
class RewriteCall:
    at: float
    backend: str
    zones: tuple[str, ...]
    masters: tuple[str, ...]
    retrieve: tuple[str, ...]
    retrieve_changed: bool
    dry_run: bool


class FakeDataPlane:
    """Designate's zones (``db``), each backend's secondary zones and masters, each target's serials.

    Targets are named after their backends (as ``targets_from_spec`` names them in the example).
    A retransfer makes the target serve the database's serial ``transfer_delay`` seconds later
    (``math.inf``: never).
    """

    def __init__(self, clock: VirtualClock, zones: Sequence[ExpectedZone], backends: Sequence[str],
                 masters: Sequence[str] = ("0.0.0.0:5354",)) -> None:
        self.clock = clock
        self.db: dict[str, ExpectedZone] = {z.name: z for z in zones}
        self.secrets_given: dict[str, dict[str, str]] = {}  # backend -> the secret settings it was given
        self.backend_zones: dict[str, dict[str, frozenset[str]]] = {
            b: {z.name: frozenset(masters) for z in zones} for b in backends}
        self.served: dict[tuple[str, str], int] = {(b, z.name): z.serial for b in backends for z in zones}
        self.unreachable: set[str] = set()
        self.transfer_delay = 0.0
        self.pending: dict[tuple[str, str], float] = {}
        self.backend_error: dict[str, str] = {}
        self.failing: dict[str, set[str]] = {}     # backend -> zones whose rewrite fails
        self.forgetful: set[str] = set()           # backends that acknowledge changes but keep the old masters
        self.create_fails: dict[str, set[str]] = {}
        self.rewrites: list[RewriteCall] = []
        self.created: list[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]] = []
        self.reads: list[tuple[str, str, str | None]] = []
        self.sweeps = 0

    def set_db_serial(self, zone: str, serial: int) -> None:
        z = self.db[zone]
        self.db[zone] = ExpectedZone(z.id, z.name, serial, z.status, z.action, z.pool_id, z.type)

    # --- dnsdr.adapters.designate_db.read_zones

    def read_zones(self, db: DatabaseSpec, password: str | None = None, *, timeout: float = 5.0,
                   pool_id: str | None = None, resolver: Any = None) -> tuple[ExpectedZone, ...]:
        self.reads.append((str(db.endpoint), password or "", pool_id))
        return tuple(sorted(self.db.values(), key=lambda z: z.name))

    # --- dnsdr.adapters.dns_prober.sweep

    def _land_transfers(self) -> None:
        for key, due in list(self.pending.items()):
            if self.clock.now >= due:
                self.served[key] = self.db[key[1]].serial
                del self.pending[key]

    def sweep(self, zones: Sequence[ExpectedZone], targets: Sequence[Target], options: Any = None) -> SweepReport:
        self.sweeps += 1
        self._land_transfers()
        observations = []
        for t in targets:
            row = []
            for z in zones:
                if t.name in self.unreachable:
                    row.append(Observation(error="timeout"))
                elif (t.name, z.name) in self.served:
                    row.append(Observation(serial=self.served[(t.name, z.name)], rcode="NOERROR"))
                else:
                    row.append(Observation(rcode="REFUSED"))
            observations.append(row)
        return build_report(zones, targets, observations, seconds=0.01, queries=len(zones) * len(targets))

    # --- dnsdr.adapters.backends.masters.rewrite_masters / create_missing

    def rewrite_masters(self, backend: BackendSpec, credential: str, zones: Sequence[str], masters: Sequence[Endpoint],
                        retrieve: Collection[str] = (), retrieve_changed: bool = False, dry_run: bool = False,
                        workers: int | None = None, timeout: float = 30.0,
                        secrets: Mapping[str, str] | None = None) -> MastersReport:
        name, shown = backend.name, tuple(str(m) for m in masters)
        self.secrets_given[name] = dict(secrets or {})
        self.rewrites.append(RewriteCall(self.clock.now, name, tuple(zones), shown, tuple(retrieve),
                                         retrieve_changed, dry_run))
        if name in self.backend_error:
            error = self.backend_error[name]
            return MastersReport(name, backend.type, shown, tuple(ZoneOutcome(z, ZoneStatus.FAILED, error)
                                                                  for z in zones), dry_run, error=error)
        have = self.backend_zones[name]
        outcomes = []
        for z in zones:
            if z in self.failing.get(name, set()):
                outcomes.append(ZoneOutcome(z, ZoneStatus.FAILED, "rndc: 'modzone' failed: permission denied"))
            elif z not in have:
                outcomes.append(ZoneOutcome(z, ZoneStatus.MISSING))
            elif have[z] == frozenset(shown):
                outcomes.append(ZoneOutcome(z, ZoneStatus.UNCHANGED))
            else:
                if not dry_run and name not in self.forgetful:
                    have[z] = frozenset(shown)
                outcomes.append(ZoneOutcome(z, ZoneStatus.CHANGED))
        wanted = {canonical(z) for z in retrieve}
        if retrieve_changed:
            wanted |= {canonical(o.zone) for o in outcomes if o.status is ZoneStatus.CHANGED}
        todo = tuple(o.zone for o in outcomes if o.zone in wanted and o.status is not ZoneStatus.MISSING)
        if not dry_run:
            for z in todo:
                self.pending[(name, z)] = self.clock.now + self.transfer_delay
        return MastersReport(name, backend.type, shown, tuple(outcomes), dry_run, retrieved=todo, rewrite_seconds=0.01)

    def create_missing(self, backend: BackendSpec, credential: str, zones: Sequence[tuple[str, str]],
                       masters: Sequence[Endpoint], workers: int = 8,
                       timeout: float = 30.0) -> tuple[tuple[str, ...], tuple[ZoneOutcome, ...]]:
        name, shown = backend.name, tuple(str(m) for m in masters)
        self.created.append((name, tuple(zones), shown))
        created, failed = [], []
        for zone, _ in zones:
            if zone in self.create_fails.get(name, set()):
                failed.append(ZoneOutcome(zone, ZoneStatus.FAILED, "HTTP 422: zone name invalid"))
            else:
                self.backend_zones[name][zone] = frozenset(shown)
                self.pending[(name, zone)] = self.clock.now + self.transfer_delay
                created.append(zone)
        return tuple(created), tuple(failed)


# ---------------------------------------------------------------- Designate API and the canary


@dataclass
class FakeDesignate:
    """Zones and recordsets behind the API; targets serve a recordset ``delay[host]`` s after it was created."""

    clock: VirtualClock
    zones: dict[str, Zone] = field(default_factory=dict)
    recordsets: list[tuple[float, RecordSet]] = field(default_factory=list)
    delay: dict[str, float] = field(default_factory=dict)
    fail_create: str | None = None
    opened: list[str] = field(default_factory=list)
    closed: int = 0
    lookups: list[tuple[str, int, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def api(self, spec: DesignateDR, region: str, resolver: Any = None, **_: Any) -> FakeApi:
        """Stands in for ``keystone.designate_api``: records the region and how the spec authenticates."""
        self.opened.append(f"{region} auth={spec.auth.type.value}")
        return FakeApi(self)

    def add_recordset(self, zone: Zone, name: str, records: Sequence[str], at: float) -> RecordSet:
        rs = RecordSet(f"rs-{next(self._ids)}", zone.id, name, "TXT", tuple(records), 60, "ACTIVE", "NONE")
        self.recordsets.append((at, rs))
        return rs

    def add_zone(self, name: str) -> Zone:
        zone = Zone(f"zone-{next(self._ids)}", name, "ACTIVE", "NONE", 1, "pool", "hostmaster@dnsdr.test", 3600,
                    "dnsdr", "PRIMARY")
        self.zones[name] = zone
        return zone

    def txt_values(self, host: str, port: int, name: str, timeout: float = 2.0) -> tuple[str, ...] | None:
        self.lookups.append((host, port, name))
        values = tuple(r.strip('"') for at, rs in self.recordsets if rs.name == name
                       and self.clock.now >= at + self.delay.get(host, 0.0) for r in rs.records)
        return values or None


class FakeApi:
    def __init__(self, owner: FakeDesignate) -> None:
        self.owner = owner

    def find_zone(self, name: str) -> Zone | None:
        return self.owner.zones.get(name)

    def create_zone(self, name: str, email: str, ttl: int | None = None, description: str | None = None) -> Zone:
        return self.owner.add_zone(name)

    def list_recordsets(self, zone_id: str, **filters: str) -> list[RecordSet]:
        return [rs for _, rs in self.owner.recordsets if rs.zone_id == zone_id
                and all(getattr(rs, k) == v for k, v in filters.items())]

    def create_recordset(self, zone_id: str, name: str, type: str, records: list[str],
                         ttl: int | None = None) -> RecordSet:
        if self.owner.fail_create is not None:
            raise DesignateApiError(503, f"HTTP 503 service_unavailable: {self.owner.fail_create}", "service_unavailable")
        zone = next(z for z in self.owner.zones.values() if z.id == zone_id)
        return self.owner.add_recordset(zone, name, records, self.owner.clock.now)

    def close(self) -> None:
        self.owner.closed += 1


NEVER = math.inf


def install_data_plane(monkeypatch: pytest.MonkeyPatch, plane: FakeDataPlane) -> FakeDataPlane:
    """Route the DNS steps' reads, sweeps, rewrites and creations to ``plane``."""
    monkeypatch.setattr(dns_steps, "read_zones", plane.read_zones)
    monkeypatch.setattr(dns_steps, "sweep", plane.sweep)
    monkeypatch.setattr(dns_steps, "rewrite_masters", plane.rewrite_masters)
    monkeypatch.setattr(dns_steps, "create_missing", plane.create_missing)
    return plane


def install_designate(monkeypatch: pytest.MonkeyPatch, designate: FakeDesignate) -> FakeDesignate:
    monkeypatch.setattr(dns_steps, "designate_api", designate.api)
    monkeypatch.setattr(dns_steps, "txt_values", designate.txt_values)
    return designate
