"""PowerDNS 4 (Designate's ``pdns4`` driver): zones managed through the HTTP API.

Designate's pdns4 driver never updates masters on existing zones and has no ``update_zone``, so
dnsdr does both: one ``GET /zones`` listing, then a ``PUT`` of the masters for each zone that
differs, and ``POST`` of zones it lacks (created while a region was away).

With ``databaseRef`` (PowerDNS's own database, see :mod:`dnsdr.adapters.pdns_db`) the masters are
read and rewritten there instead, one SELECT and one UPDATE for every zone: at 10,000 zones the API
costs PowerDNS more CPU than a failover can spare. Everything else still goes through the API.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dnsdr.adapters.backends.base import (
    BackendDriver,
    ZoneOutcome,
    ZoneStatus,
    canonical,
    parse_hostport,
    wanted_masters,
)
from dnsdr.adapters.pdns_api import PdnsAuthError, PdnsClient, PdnsError, PdnsNotFound, PdnsUnreachable
from dnsdr.adapters.pdns_db import SECONDARY_KINDS, PdnsDatabase, PdnsDatabaseError
from dnsdr.adapters.shown import brief
from dnsdr.domain.spec import BackendKind, BackendSpec, Endpoint, SecretLookup, SecretRef


def _pool_options(backend: BackendSpec, secret: SecretLookup) -> dict[str, str]:
    return {"api_endpoint": backend.control_url, "api_token": secret(backend.credential)}


DATABASE = "databaseRef"

KIND = BackendKind(
    type="pdns4", label="PowerDNS", control_key="api", control_port=8081, credential_key="apiKeyRef",
    pool_options=_pool_options, schemes=("http", "https"), secret_settings=(DATABASE,),
)


def backend(name: str, dns: Endpoint, api: Endpoint, api_key: SecretRef, scheme: str = "http",
            database: SecretRef | None = None) -> BackendSpec:
    """A PowerDNS backend spec, as the parser would build it from ``api``, ``apiKeyRef`` and ``databaseRef``."""
    return BackendSpec(name=name, kind=KIND, dns=dns, control=api, credential=api_key, scheme=scheme,
                       secret_settings=((DATABASE, database),) if database else ())


def pdns_masters(masters: Sequence[Endpoint]) -> list[str]:
    return [str(m) for m in masters]


@dataclass(frozen=True)
class _Zone:
    kind: str
    masters: tuple[str, ...]
    db_id: int = 0  # domains.id, when read from the database


class Pdns4Driver(BackendDriver):
    kind = KIND
    default_workers = 8

    database: PdnsDatabase | None = None

    def connect(self) -> None:
        self.client = PdnsClient(self.backend.control, self.credential, self.backend.scheme or "http",
                                 timeout=self.timeout, workers=self.workers)
        url = self.secrets.get(DATABASE)
        if url:
            self.database = PdnsDatabase(url, timeout=self.timeout)

    def close(self) -> None:
        client: PdnsClient | None = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.database is not None:
            self.database.close()

    def _zones(self) -> dict[str, _Zone]:
        if self.database is None:
            return {canonical(z.name): _Zone(z.kind, z.masters) for z in self.client.list_zones()}
        return {canonical(z.name): _Zone(z.kind, z.masters, z.id) for z in self.database.list_zones()}

    def set_masters(self, zones: Sequence[str], masters: Sequence[Endpoint], dry_run: bool) -> list[ZoneOutcome]:
        have = self._zones()
        want = wanted_masters(masters)
        outcomes: dict[str, ZoneOutcome] = {}
        todo: list[str] = []
        for name in zones:
            zone = have.get(canonical(name))
            if zone is None:
                outcomes[name] = ZoneOutcome(name, ZoneStatus.MISSING, "not on this backend")
                continue
            if zone.kind.lower() not in SECONDARY_KINDS:
                shown = brief(zone.kind, 40, self.hidden)
                outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, f"kind {shown}, not a secondary")
                continue
            try:
                current = frozenset(parse_hostport(m) for m in zone.masters)
            except ValueError:  # PowerDNS listed masters we cannot read: leave the zone alone
                shown = brief(",".join(zone.masters), 80, self.hidden)
                outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, f"masters not address[:port]: {shown}")
                continue
            if current == want:
                outcomes[name] = ZoneOutcome(name, ZoneStatus.UNCHANGED)
            else:
                was = brief(",".join(zone.masters), secrets=self.hidden)
                outcomes[name] = ZoneOutcome(name, ZoneStatus.CHANGED, f"was {was}")
                todo.append(name)
        if not dry_run and self.database is not None and todo:
            try:
                self.database.set_masters([have[canonical(z)].db_id for z in todo], pdns_masters(masters))
            except PdnsDatabaseError as exc:  # one transaction: no zone changed
                for name in todo:
                    outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, str(exc))
        elif not dry_run:
            new = pdns_masters(masters)
            results = self.client.map(lambda z: self.client.set_masters(z, new), todo)
            for name, res in zip(todo, results, strict=True):
                if isinstance(res, PdnsNotFound):
                    outcomes[name] = ZoneOutcome(name, ZoneStatus.MISSING, "deleted meanwhile")
                elif isinstance(res, PdnsError):
                    outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, str(res))
        return [outcomes[z] for z in zones]

    def retransfer(self, zones: Sequence[str]) -> list[object]:
        return list(self.client.map(self.client.axfr_retrieve, zones))

    def create_secondary(self, zones: Sequence[tuple[str, str]], masters: Sequence[Endpoint]) -> list[object]:
        new = pdns_masters(masters)

        def create(name: str) -> None:
            self.client.create_secondary(name, new)
            self.client.axfr_retrieve(name)

        return list(self.client.map(create, [name for name, _ in zones]))

    def remove(self, zones: Sequence[str]) -> list[object]:
        """One zone at a time, each retried on a server error: a zone delete rewrites several tables,
        and PowerDNS on sqlite answers 500 ("database is locked") to deletes that overlap."""

        def delete(name: str) -> None:
            for attempt in range(4):
                try:
                    with contextlib.suppress(PdnsNotFound):  # already gone: the effect is there
                        self.client.delete_zone(name)
                    return
                except PdnsError as exc:
                    if exc.status < 500 or attempt == 3:
                        raise
                    time.sleep(0.1 * 2**attempt)

        results: list[object] = []
        for name in zones:
            try:
                delete(name)
                results.append(None)
            except (PdnsAuthError, PdnsUnreachable):
                raise  # the whole server: every other zone would fail the same way
            except PdnsError as exc:
                results.append(exc)
        return results

    def probe(self) -> None:
        self.client.server_info()
