"""``dnsdr divergence``: what a returning region holds that the primary lacks, in DNS terms; export; replay.

:func:`find` compares the returning region's Designate database with the recorded primary's (see
:mod:`dnsdr.domain.divergence`). :func:`replay` re-applies the missing changes through the primary
region's Designate API, never silently: without ``apply`` it only says what it would do. Each change
is made idempotent by reading first (a zone that exists is not created again, a recordset already
at the old value is left alone), so a replay can be run again after any failure. It then waits until
every nameserver that serves the pool in the recorded state answers with the replayed data.
Conflicts, zone deletions and zone attribute changes are listed and never replayed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dnsdr.adapters.designate_api import DEFAULT_PROJECT, DesignateApi, DesignateApiError, RecordSet, Zone
from dnsdr.adapters.designate_snapshot import read_divergence
from dnsdr.adapters.dns_lookup import canonical, rrset_values
from dnsdr.adapters.keystone import designate_api
from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.secrets import SecretError, resolve
from dnsdr.adapters.state import StateStore, holder_id
from dnsdr.app.operations import current_primary
from dnsdr.domain.divergence import Change, ChangeKind, Divergence
from dnsdr.domain.errors import IncompleteError, InvalidInput, NeedsOperator, RetryLater
from dnsdr.domain.journal import Outcome
from dnsdr.domain.replication import errant_transactions
from dnsdr.domain.serials import Target, targets_of_state
from dnsdr.domain.spec import DesignateDR, SecretLookup
from dnsdr.engine.executor import unfinished_message

ApiFactory = Callable[[str, str], DesignateApi]  # (region, project) -> client


class ReplayNotServed(IncompleteError):
    """Replayed through the API, but not every nameserver serves it yet; running it again is safe."""


def find(spec: DesignateDR, store: StateStore, resolver: SecretLookup, region: str) -> Divergence:
    """Compare ``region``'s Designate data with the recorded primary's."""
    primary = current_primary(spec, store)
    if region not in spec.region_names:
        raise InvalidInput(f"unknown region {region!r} (known: {', '.join(spec.region_names)})")
    if region == primary:
        raise InvalidInput(f"{region} is the primary; name the returning region")
    old_db, new_db = spec.region(region).database, spec.region(primary).database
    if old_db is None or new_db is None:
        raise InvalidInput(f"{region} or {primary} has no database")
    try:
        old, new = adapter_for(old_db, resolver=resolver), adapter_for(new_db, resolver=resolver)
    except SecretError as exc:
        raise InvalidInput(f"cannot resolve a database credential: {exc}") from None
    old_state, new_state = old.observe(), new.observe()
    for name, state in ((region, old_state), (primary, new_state)):
        if not state.reachable:
            raise RetryLater(f"{name}'s database is unreachable: {state.error}")
    return read_divergence(old.connector, new.connector, old_state, new_state, region, primary, old_db.schema,
                           spec.pool.id, errant_transactions(old_state, new_state))


@dataclass(frozen=True)
class Replayed:
    change: Change
    outcome: str        # what was done (or would be), or why not
    done: bool = False  # changed the primary (or already as wanted): waited for on the nameservers

    def to_dict(self) -> dict[str, Any]:
        return {**self.change.to_dict(), "outcome": self.outcome}


def _same(rs: RecordSet, change: Change) -> bool:
    assert change.old is not None
    return tuple(sorted(rs.records)) == change.old.records and rs.ttl == change.old.ttl


class _Replayer:
    def __init__(self, api: Callable[[str], DesignateApi], apply: bool) -> None:
        self.api = api
        self.apply = apply

    def zone(self, change: Change) -> Zone | None:
        return self.api(change.tenant_id).find_zone(change.zone)

    def one(self, change: Change) -> Replayed:
        if not change.replayable:
            why = ("conflict: the primary changed it too since the split; resolve by hand" if change.conflict else
                   "zone deletions are not replayed: delete the zone by hand if it should go"
                   if change.kind is ChangeKind.ZONE_DELETED else "zone attributes are not replayed: set them by hand")
            return Replayed(change, f"not replayed ({why})")
        api, zone = self.api(change.tenant_id), self.zone(change)
        if change.kind is ChangeKind.ZONE_CREATED:
            assert change.old is not None
            if zone is not None:
                return Replayed(change, "already there", True)
            if self.apply:
                api.create_zone(change.zone, change.old.email, change.old.ttl)
            return Replayed(change, "created" if self.apply else "would create", self.apply)
        if zone is None:
            return Replayed(change, f"zone {change.zone} is not on the primary" if self.apply else
                            "would create (once its zone is created)")
        found = [r for r in api.list_recordsets(zone.id, name=change.name, type=change.type)
                 if r.name == change.name and r.type == change.type]
        if change.kind is ChangeKind.RECORDSET_DELETED:
            if not found:
                return Replayed(change, "already absent", True)
            if self.apply:
                api.delete_recordset(zone.id, found[0].id)
            return Replayed(change, "deleted" if self.apply else "would delete", self.apply)
        assert change.old is not None
        if found and _same(found[0], change):
            return Replayed(change, "already as on the returning side", True)
        if self.apply and found:
            api.update_recordset(zone.id, found[0].id, list(change.old.records), change.old.ttl)
        elif self.apply:
            api.create_recordset(zone.id, change.name, change.type, list(change.old.records), change.old.ttl)
        verb = "update" if found else "create"
        return Replayed(change, f"{verb}d" if self.apply else f"would {verb}", self.apply)


def serving(spec: DesignateDR, store: StateStore) -> tuple[Target, ...]:
    """The nameservers that serve the pool in the recorded state."""
    cluster = store.load_cluster()
    return targets_of_state(spec, cluster.lost if cluster else (), cluster.kept if cluster else ())


def _served(change: Change, target: Target) -> bool:
    if change.kind is ChangeKind.ZONE_CREATED:
        return bool(rrset_values(target.host, target.port, change.zone, "SOA"))
    got = rrset_values(target.host, target.port, change.name, change.type)
    if change.kind is ChangeKind.RECORDSET_DELETED:
        return got == frozenset()
    assert change.old is not None
    return got == canonical(change.type, change.old.records, change.zone)


def wait_served(done: Sequence[Replayed], targets: Sequence[Target], timeout: float,
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait until every target serves every replayed change; the seconds it took."""
    start = clock()
    waiting = {(i, t.name) for i, r in enumerate(done) for t in targets}
    by_name = {t.name: t for t in targets}
    while True:
        waiting = {(i, name) for i, name in waiting if not _served(done[i].change, by_name[name])}
        if not waiting:
            return clock() - start
        if clock() - start > timeout:
            first = sorted(waiting)[:5]
            raise ReplayNotServed(f"{len(waiting)} replayed changes not served within {timeout:g} s, e.g. "
                                  + "; ".join(f"{done[i].change.name} {done[i].change.type or 'SOA'} on {name}"
                                              for i, name in first)
                                  + "; run the same command again (a replay is idempotent)")
        sleep(0.5)


def replay(spec: DesignateDR, store: StateStore, divergence: Divergence, apply: bool, *,
           resolver: SecretLookup = resolve, api_factory: ApiFactory | None = None, timeout: float = 180.0,
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> list[Replayed]:
    """Re-apply ``divergence``'s replayable changes through the primary's API (only say what, unless ``apply``)."""
    primary = current_primary(spec, store)
    if primary != divergence.primary:
        raise NeedsOperator(f"the recorded primary is now {primary}, not {divergence.primary}: compare again")
    region = spec.region(primary)
    if region.designate is None:
        raise InvalidInput(f"{primary} runs no Designate API to replay through")
    clients: dict[str, DesignateApi] = {}

    def _api(region_name: str, project: str) -> DesignateApi:
        return designate_api(spec, region_name, resolver, project_id=project, sudo=True)

    def api(project: str) -> DesignateApi:
        if project not in clients:  # the zone's own project, so a created zone belongs where it did
            clients[project] = (api_factory or _api)(primary, project or DEFAULT_PROJECT)
        return clients[project]

    ordered = sorted(divergence.changes, key=lambda c: not c.is_zone)
    try:
        if not apply:
            return [_Replayer(api, False).one(c) for c in ordered]
        journal = store.load_journal()
        if journal is not None and journal.outcome in (Outcome.RUNNING, Outcome.FAILED) and journal.changed_anything:
            raise NeedsOperator(unfinished_message(journal))
        with store.hold(holder_id("dnsdr-replay")):
            results = [_Replayer(api, True).one(c) for c in ordered]
    except DesignateApiError as exc:
        raise RetryLater(f"replay through {primary}'s API stopped: {exc}; run the same command again") from None
    finally:
        for client in clients.values():
            client.close()
    wait_served([r for r in results if r.done], serving(spec, store), timeout, clock, sleep)
    return results

