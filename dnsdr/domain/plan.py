"""Failover, switchover and rejoin as data: ordered steps the executor runs, journals and checks.

A plan is pure and deterministic for a (spec, operation, regions) triple, so a resumed run can
verify it is continuing the same plan (``Plan.fingerprint``). Each step names its kind (the
executor maps a kind to precondition, action and check), the server it changes and, for
``--dry-run``, what it would change there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.pools import WorldState, check_state, masters_for
from dnsdr.domain.spec import DesignateDR, RegionSpec


class Operation(StrEnum):
    FAILOVER = "failover"
    SWITCHOVER = "switchover"
    REJOIN = "rejoin"


class StepKind(StrEnum):
    ASSESS = "assess"                      # observe and apply the safety gates; changes nothing
    FENCE_DATABASE = "fence-database"      # read_only, kill sessions, prove writes fail
    STOP_DESIGNATE = "stop-designate"      # application-layer fence of a region
    CATCH_UP = "catch-up"                  # wait until the candidate applied all it received
    PROMOTE = "promote"                    # detach and make writable
    BUMP_EPOCH = "bump-epoch"              # record the new epoch on the new primary
    REPLICATE_FROM = "replicate-from"      # make a database a replica of the new primary
    REBUILD_DATABASE = "rebuild-database"  # a diverged returning database becomes a copy of the primary
    REPOINT_DESIGNATE = "repoint-designate"  # point a region's Designate at the new primary, restart
    APPLY_POOLS = "apply-pools"            # render, dry-run and apply with designate-manage
    RESTART_WORKER = "restart-worker"      # designate-worker caches pools; make it reload them
    REWRITE_MASTERS = "rewrite-masters"    # backend zones' masters + forced retransfer
    FENCE_BACKEND = "fence-backend"        # a lost region's backend that still answers stops serving the pool
    VERIFY_SERIALS = "verify-serials"      # every live zone on every surviving target
    VERIFY_WRITE = "verify-write"          # a write through the API reaches every surviving target
    VERIFY_CLEAN = "verify-clean"          # every zone ACTIVE in Designate and served at the DB serial


@dataclass(frozen=True)
class Step:
    name: str
    kind: StepKind
    region: str
    target: str
    changes: str
    # Step parameters as sorted (key, value) pairs: hashable, JSON-friendly, order-stable.
    params: tuple[tuple[str, str], ...] = ()

    def param(self, key: str) -> str:
        return dict(self.params)[key]


@dataclass(frozen=True)
class Plan:
    operation: Operation
    spec_name: str
    from_region: str
    to_region: str
    final_state: WorldState
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def fingerprint(self) -> str:
        """A short hash of the plan: a resumed run must be executing exactly the same plan."""
        data = [self.operation.value, self.from_region, self.to_region, [asdict(s) for s in self.steps]]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


class PlanError(InvalidInput):
    """The operation makes no sense for this spec (unknown region, same region, no database)."""


def _db_region(spec: DesignateDR, name: str, role: str) -> RegionSpec:
    if name not in spec.region_names:
        raise PlanError(f"unknown {role} region {name!r} (known: {', '.join(spec.region_names)})")
    region = spec.region(name)
    if region.database is None or region.designate is None:
        raise PlanError(f"{role} region {name!r} has no database or no Designate")
    return region


def _db(region: RegionSpec) -> str:
    assert region.database is not None
    return f"{region.name} {region.database.flavour.value} {region.database.endpoint}"


def _backend_steps(spec: DesignateDR, state: WorldState, regions: list[RegionSpec]) -> list[Step]:
    steps = []
    for region in [*regions, *(r for r in spec.regions if r.name in state.lost)]:
        masters = masters_for(spec, state, region)
        for backend in region.backends:
            if region.name in state.lost and backend.name in state.fenced:
                steps.append(Step(
                    name=f"fence-backend-{backend.name}", kind=StepKind.FENCE_BACKEND, region=region.name,
                    target=f"{backend.type} {backend.name} {backend.dns}",
                    changes="remove every zone of the pool from it (it still answers, but the lost region's data "
                            "is stale), and prove it answers for none",
                    params=(("backend", backend.name),),
                ))
                continue
            if region.name in state.lost and backend.name not in state.kept:
                continue
            steps.append(Step(
                name=f"rewrite-masters-{backend.name}",
                kind=StepKind.REWRITE_MASTERS,
                region=region.name,
                target=f"{backend.type} {backend.name} {backend.dns}",
                changes="set masters of every secondary zone to " + ", ".join(str(m) for m in masters)
                + "; create zones the backend lacks; retransfer what changed",
                params=(("backend", backend.name),),
            ))
    return steps


def _designate_tail(
    spec: DesignateDR, state: WorldState, surviving: list[RegionSpec], pools_first: bool
) -> list[Step]:
    """Masters, serial proof, the canary write, pools and worker restarts: shared by all operations.

    After a failover the surviving targets already hold every zone, so the data plane and the
    write path are proven before the pool update. That update marks every zone of the pool for a
    new serial, and designate-producer works through them oldest first, 100 every 5 s: a canary
    written after it would wait behind all of them (about 50 s for 1,000 zones) although writes
    are served long before. A rejoining region's targets miss the zones created while it was
    away: the pool comes first there, and the canary last. A failover that keeps a lost region's
    backends applies the pool before the canary too (Designate's bind9 driver would otherwise
    point a kept BIND back at the lost mdns on the canary's update).
    """
    live_targets = [b.name for r in surviving for b in r.backends]
    live_targets += [b.name for r in spec.regions if r.name in state.lost for b in r.backends if b.name in state.kept]
    pools = [Step(
        name="apply-pools", kind=StepKind.APPLY_POOLS, region=state.primary,
        target=f"designate-manage in {state.primary}",
        changes=f"pool update to {state.describe()}: targets {', '.join(live_targets)}",
    )]
    pools += [Step(
        name=f"restart-worker-{r.name}", kind=StepKind.RESTART_WORKER, region=r.name,
        target=f"designate-worker in {r.name}", changes="restart so it reloads the pool",
    ) for r in surviving if r.designate is not None]
    data_plane = _backend_steps(spec, state, surviving)
    data_plane.append(Step(
        name="verify-serials", kind=StepKind.VERIFY_SERIALS, region=state.primary,
        target="targets " + ", ".join(live_targets),
        changes="nothing (retransfers zones still behind or ahead)",
    ))
    canary = Step(
        name="verify-write", kind=StepKind.VERIFY_WRITE, region=state.primary,
        target=f"designate-api in {state.primary}",
        changes="creates a TXT recordset in a dnsdr canary zone and waits until every target serves it",
    )
    clean = Step(
        name="verify-clean", kind=StepKind.VERIFY_CLEAN, region=state.primary,
        target="Designate in " + state.primary + " and targets " + ", ".join(live_targets),
        changes="nothing (re-pushes zones left PENDING or ERROR, retransfers copies behind); ends when every zone "
                "is ACTIVE and served by every target at the database's serial",
    )
    return [*_ordered(pools, data_plane, canary, pools_first, bool(state.kept)), clean]


def _ordered(pools: list[Step], data_plane: list[Step], canary: Step, pools_first: bool, kept: bool) -> list[Step]:
    if pools_first:
        return [*pools, *data_plane, canary]
    if kept:
        # Designate's bind9 driver re-sets a zone's masters from the stored pool on every update: until
        # the new pool is stored, the canary's own update would point a kept BIND back at the lost mdns.
        return [*data_plane, *pools, canary]
    return [*data_plane, canary, *pools]


def _repoint_steps(regions: list[RegionSpec], new_primary: RegionSpec) -> list[Step]:
    assert new_primary.database is not None
    return [Step(
        f"repoint-designate-{r.name}", StepKind.REPOINT_DESIGNATE, r.name, f"Designate services in {r.name}",
        f"database connection -> {new_primary.database.endpoint}; restart",
    ) for r in regions if r.designate is not None]


def _assess(operation: Operation, old: str, new: str) -> Step:
    return Step(name="assess", kind=StepKind.ASSESS, region=new, target=f"databases of {old} and {new}",
                changes="nothing (observes replication and applies the safety gates)",
                params=(("operation", operation.value),))


def failover_plan(spec: DesignateDR, old: str, new: str, kept: frozenset[str] = frozenset(),
                  fenced: frozenset[str] = frozenset()) -> Plan:
    """Region ``old`` is lost; promote ``new`` and serve from the surviving regions only.

    ``kept`` and ``fenced`` name ``old``'s backends that still answer (the failover's assessment):
    kept ones stay in the pool, re-pointed at the new primary's mdns; fenced ones lose every zone.
    """
    if old == new:
        raise PlanError("the region to promote is already the primary")
    old_region, new_region = _db_region(spec, old, "old primary"), _db_region(spec, new, "candidate")
    state = WorldState(primary=new, lost=frozenset({old}), kept=kept, fenced=fenced)
    check_state(spec, state)
    surviving = [r for r in spec.regions if r.name != old and (r.designate or r.backends)]
    steps = [
        _assess(Operation.FAILOVER, old, new),
        Step("fence-database", StepKind.FENCE_DATABASE, old, _db(old_region),
             "read_only=1, kill client sessions, prove writes fail (skipped if unreachable)"),
        Step(f"stop-designate-{old}", StepKind.STOP_DESIGNATE, old, f"Designate services in {old}",
             "stop api, central, worker, producer, mdns (skipped if unreachable)"),
        Step("catch-up", StepKind.CATCH_UP, new, _db(new_region),
             "stops its IO thread when the old primary is unreachable (fence from the replica side: a "
             "partitioned old primary collects no more semi-sync acknowledgements); waits until the relay log "
             "is applied"),
        Step("promote", StepKind.PROMOTE, new, _db(new_region),
             "stop replication, reset replica configuration, read_only=0, prove a write"),
        Step("bump-epoch", StepKind.BUMP_EPOCH, new, _db(new_region), "epoch + 1 recorded with primary=" + new),
    ]
    steps += _repoint_steps(surviving, new_region)
    steps += _designate_tail(spec, state, surviving, pools_first=False)
    return Plan(Operation.FAILOVER, spec.name, old, new, state, tuple(steps))


def switchover_plan(spec: DesignateDR, old: str, new: str) -> Plan:
    """Planned move of the primary with zero loss; ``old`` becomes a replica of ``new``."""
    if old == new:
        raise PlanError(f"{new} is already the primary")
    old_region, new_region = _db_region(spec, old, "current primary"), _db_region(spec, new, "target")
    state = WorldState(primary=new)
    surviving = [r for r in spec.regions if r.designate or r.backends]
    steps = [
        _assess(Operation.SWITCHOVER, old, new),
        Step("fence-database", StepKind.FENCE_DATABASE, old, _db(old_region),
             "read_only=1, kill client sessions, prove writes fail"),
        Step("catch-up", StepKind.CATCH_UP, new, _db(new_region),
             f"nothing (waits until {new} executed everything {old} committed)"),
        Step("promote", StepKind.PROMOTE, new, _db(new_region),
             "stop replication, reset replica configuration, read_only=0, prove a write"),
        Step("bump-epoch", StepKind.BUMP_EPOCH, new, _db(new_region), "epoch + 1 recorded with primary=" + new),
        Step(f"replicate-{old}", StepKind.REPLICATE_FROM, old, _db(old_region),
             f"become a GTID replica of {new} (semi-sync, read_only)", params=(("source", new),)),
    ]
    steps += _repoint_steps(surviving, new_region)
    steps += _designate_tail(spec, state, surviving, pools_first=False)
    return Plan(Operation.SWITCHOVER, spec.name, old, new, state, tuple(steps))


def rejoin_plan(spec: DesignateDR, returning: str, primary: str, discard: bool = False) -> Plan:
    """Bring ``returning`` back as a replica of ``primary`` and restore its targets.

    ``discard`` (``--force discard-divergence``) adds the rebuild of its database from the primary,
    the only way a database holding writes the primary lacks can replicate from it again.
    """
    if returning == primary:
        raise PlanError(f"{returning} is the primary; nothing to rejoin")
    back, prim = _db_region(spec, returning, "returning"), _db_region(spec, primary, "primary")
    state = WorldState(primary=primary)
    surviving = [r for r in spec.regions if r.designate or r.backends]
    steps = [
        _assess(Operation.REJOIN, returning, primary),
        Step("fence-database", StepKind.FENCE_DATABASE, returning, _db(back),
             "read_only=1, kill client sessions (it must not take writes while it catches up)"),
        Step(f"stop-designate-{returning}", StepKind.STOP_DESIGNATE, returning,
             f"Designate services in {returning}", "stop until its database has caught up"),
    ]
    if discard:
        steps.append(Step(
            f"rebuild-{returning}", StepKind.REBUILD_DATABASE, returning, _db(back),
            f"only if it holds transactions {primary} lacks: every database but the system ones replaced by a "
            f"consistent copy of {primary}'s, binlog reset; its divergent writes are DISCARDED",
            params=(("source", primary),)))
    steps += [
        Step(f"replicate-{returning}", StepKind.REPLICATE_FROM, returning, _db(back),
             f"become a GTID replica of {primary} (semi-sync, read_only)", params=(("source", primary),)),
        Step(f"repoint-designate-{returning}", StepKind.REPOINT_DESIGNATE, returning,
             f"Designate services in {returning}",
             f"database connection -> {prim.database.endpoint if prim.database else ''}; start"),
    ]
    steps += _designate_tail(spec, state, surviving, pools_first=True)
    return Plan(Operation.REJOIN, spec.name, returning, primary, state, tuple(steps))
