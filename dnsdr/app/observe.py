"""Observe the deployment: each region's database, the zone serials, who is primary, and whether the
servers, the recorded state and the spec agree.

:class:`Observer` keeps its database adapters between calls, so a long-running front end (the
controller) can measure what only shows across rounds, such as heartbeat staleness.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import sweep
from dnsdr.adapters.mysql import DatabaseAdapter, Timeouts, adapter_for
from dnsdr.adapters.secrets import SecretError
from dnsdr.adapters.state import StateStore
from dnsdr.adapters.tls import TlsError
from dnsdr.domain.automation import ControlRecord
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome
from dnsdr.domain.replication import ReplicationState, assess, errant_transactions, transactions_behind
from dnsdr.domain.serials import targets_from_spec
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, SecretLookup

AdapterFactory = Callable[[DatabaseSpec, SecretLookup], DatabaseAdapter]
OBSERVE_TIMEOUTS = Timeouts(connect=3, read=10, write=10)


def default_factory_with(timeouts: Timeouts, spec: DatabaseSpec, resolver: SecretLookup) -> DatabaseAdapter:
    return adapter_for(spec, timeouts=timeouts, resolver=resolver)


def default_factory(spec: DatabaseSpec, resolver: SecretLookup) -> DatabaseAdapter:
    return default_factory_with(OBSERVE_TIMEOUTS, spec, resolver)


@dataclass(frozen=True)
class DatabaseRow:
    """One region's database as status shows it."""

    region: str
    role: str
    health: str
    reasons: tuple[str, ...]
    transactions_behind_primary: int | None
    errant: tuple[str, ...] | None
    state: ReplicationState

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "role": self.role, "health": self.health, "reasons": list(self.reasons),
                "transactions_behind_primary": self.transactions_behind_primary,
                "errant": None if self.errant is None else list(self.errant), "state": self.state.to_dict()}


@dataclass(frozen=True)
class SerialSummary:
    database_region: str
    zones: int = 0
    in_sync: bool = False
    per_target: dict[str, dict[str, int]] = field(default_factory=dict)
    stuck: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {"database_region": self.database_region, "zones": self.zones, "in_sync": self.in_sync,
                "per_target": self.per_target, "stuck": self.stuck}


@dataclass(frozen=True)
class Agreement:
    """Do the servers, the state store's record and the spec tell the same story about the primary?"""

    agrees: bool
    observed_primary: str | None
    recorded_primary: str | None
    spec_primary: str
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"agrees": self.agrees, "observed_primary": self.observed_primary,
                "recorded_primary": self.recorded_primary, "spec_primary": self.spec_primary,
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Observation:
    name: str
    primary: str
    databases: tuple[DatabaseRow, ...]
    agreement: Agreement
    serials: SerialSummary | None = None
    cluster: ClusterRecord | None = None
    operation: Journal | None = None  # the journal of an unfinished or failed run
    state_error: str | None = None  # the state store could not be read
    control: ControlRecord | None = None  # pause, cool-down, retries of automatic failover

    @property
    def epoch(self) -> int | None:
        return self.cluster.epoch if self.cluster else None

    def to_dict(self) -> dict[str, Any]:
        op = self.operation
        return {
            "name": self.name, "primary_region": self.primary, "databases": [r.to_dict() for r in self.databases],
            "serials": self.serials.to_dict() if self.serials else None, "agreement": self.agreement.to_dict(),
            "epoch": self.epoch, "recorded_primary": self.cluster.primary if self.cluster else None,
            "lost": list(self.cluster.lost) if self.cluster else [],
            "kept": list(self.cluster.kept) if self.cluster else [],
            "fenced": list(self.cluster.fenced) if self.cluster else [],
            "unfinished_operation": None if op is None else {
                "run_id": op.run_id, "operation": op.operation, "from": op.from_region, "to": op.to_region,
                "outcome": op.outcome.value, "stopped_at": op.last_step.name if op.last_step else None,
                "detail": op.last_step.detail if op.last_step else ""},
            "state_error": self.state_error,
            "automation": None if self.control is None else self.control.to_dict(),
        }


def writable_primaries(states: dict[str, ReplicationState]) -> list[str]:
    return [name for name, st in states.items() if st.writable and not st.is_replica]


def observed_primary(spec: DesignateDR, states: dict[str, ReplicationState], recorded: str | None = None) -> str:
    """The region whose database is the one writable non-replica; else the recorded, else the spec's primary.

    After a failover the spec still names the old primary; the servers say who it is now.
    """
    writable = writable_primaries(states)
    if len(writable) == 1:
        return writable[0]
    return recorded or spec.primary_region


def agreement(spec: DesignateDR, states: dict[str, ReplicationState], cluster: ClusterRecord | None) -> Agreement:
    writable = writable_primaries(states)
    observed = writable[0] if len(writable) == 1 else None
    recorded = cluster.primary if cluster else None
    reasons: list[str] = []
    if len(writable) > 1:
        reasons.append(f"two writable primaries: {', '.join(writable)}")
    if observed is not None and recorded is not None and observed != recorded:
        reasons.append(f"the servers say {observed} is primary, the recorded state says {recorded}")
    if observed is not None and recorded is None and observed != spec.primary_region:
        reasons.append(f"the servers say {observed} is primary, the spec says {spec.primary_region} "
                       "and no operation was recorded")
    return Agreement(not reasons, observed, recorded, spec.primary_region, tuple(reasons))


class Observer:
    """Observes one spec's deployment; reuse one instance across rounds."""

    def __init__(self, spec: DesignateDR, resolver: SecretLookup, factory: AdapterFactory | None = None) -> None:
        self.spec = spec
        self.resolver = resolver
        self.factory = factory or default_factory
        self._nodes: dict[str, DatabaseAdapter] = {}

    def _node(self, region: str, db: DatabaseSpec) -> DatabaseAdapter:
        if region not in self._nodes:
            self._nodes[region] = self.factory(db, self.resolver)
        return self._nodes[region]

    def _observe(self, region: str, db: DatabaseSpec) -> ReplicationState:
        try:
            return self._node(region, db).observe()
        except SecretError as exc:
            return ReplicationState.unreachable(str(db.endpoint), db.flavour.value, f"credentials: {exc}",
                                                "configuration")
        except TlsError as exc:
            return ReplicationState.unreachable(str(db.endpoint), db.flavour.value, f"TLS: {exc}", "configuration")
        except DnsdrError as exc:
            return ReplicationState.unreachable(str(db.endpoint), db.flavour.value, str(exc))

    def databases(self) -> dict[str, ReplicationState]:
        """Every region's database state now (never raises: an unreachable one is a state)."""
        regions = [(r.name, r.database) for r in self.spec.database_regions if r.database]
        with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
            futures = [pool.submit(self._observe, name, db) for name, db in regions]
            return {name: f.result() for (name, _), f in zip(regions, futures, strict=True)}

    def rows(self, states: dict[str, ReplicationState], primary_name: str) -> tuple[DatabaseRow, ...]:
        primary = states.get(primary_name)
        policy = self.spec.policy
        rows = []
        for r in self.spec.database_regions:
            state = states[r.name]
            expect_replica = r.name != primary_name
            verdict = assess(state, expect_replica=expect_replica, max_lag_seconds=policy.max_lag_seconds,
                             semi_sync_required=policy.semi_sync_required)
            behind: int | None = None
            errant: tuple[str, ...] | None = None
            if expect_replica and primary is not None and primary.reachable and state.reachable:
                behind = transactions_behind(state, primary)
                errant = errant_transactions(state, primary)
            health, reasons = verdict.health.value, list(verdict.reasons)
            if errant:
                health = "unhealthy"
                reasons.insert(0, f"holds transactions the primary never had (errant): {', '.join(errant)}")
            rows.append(DatabaseRow(r.name, "replica" if expect_replica else "primary", health, tuple(reasons),
                                    behind, errant, state))
        return tuple(rows)

    def serials(self, primary: str) -> SerialSummary:
        """Zone serial drift per target against the primary's Designate database (never raises)."""
        db = self.spec.region(primary).database
        if db is None:
            return SerialSummary(primary, error=f"region {primary} has no database")
        try:
            zones = read_zones(db, self.resolver(db.password), timeout=5.0, resolver=self.resolver)
            report = sweep(zones, targets_from_spec(self.spec))
        except (DnsdrError, OSError) as exc:
            return SerialSummary(primary, error=str(exc))
        return SerialSummary(primary, len(zones), report.in_sync, report.per_target(), len(report.stuck_zones()))

    def observe(self, store: StateStore | None = None, with_serials: bool = True) -> Observation:
        cluster, unfinished, state_error, control = None, None, None, None
        if store is not None:
            try:
                control = store.load_control()
                cluster = store.load_cluster()
                journal = store.load_journal()
                if journal is not None and journal.outcome in (Outcome.RUNNING, Outcome.FAILED):
                    unfinished = journal
            except DnsdrError as exc:
                state_error = str(exc)
        states = self.databases()
        primary = observed_primary(self.spec, states, cluster.primary if cluster else None)
        rows = self.rows(states, primary)
        return Observation(
            name=self.spec.name, primary=primary, databases=rows, agreement=agreement(self.spec, states, cluster),
            serials=self.serials(primary) if with_serials else None, cluster=cluster, operation=unfinished,
            state_error=state_error, control=control,
        )

    def close(self) -> None:
        self._nodes.clear()
