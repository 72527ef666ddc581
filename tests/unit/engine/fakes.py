"""Fakes for the step handlers: servers that change state as real ones do, in virtual time.

* :class:`VirtualClock` gives a run context whose ``sleep`` advances the clock instantly.
* :class:`FakeNode` is one MariaDB server as the engine sees it through ``DatabaseAdapter``
  (observe, fence, catch_up, promote, repoint) plus the epoch row; :class:`FakeCluster` holds one
  per region of the spec and is the runtime's node factory.
* :class:`FakeControllers` records every service-control call and fails those it is told to.

The DNS data plane and the Designate API are faked in ``tests/unit/engine/steps/dns_fakes.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dnsdr.adapters.mysql import DatabaseError, OperationRefused, UnreachableError
from dnsdr.adapters.mysql.epoch import EpochRecord
from dnsdr.adapters.mysql.rebuild import RebuildResult
from dnsdr.adapters.service_control import START_ORDER, STOP_ORDER, ServiceControlError
from dnsdr.domain import gtid
from dnsdr.domain.divergence import Divergence, Snapshot, Split, compare
from dnsdr.domain.plan import Plan, Step
from dnsdr.domain.replication import (
    CatchUpResult,
    Channel,
    FenceResult,
    PromoteResult,
    ReplicationState,
    RepointResult,
    errant_transactions,
)
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, Endpoint, RegionSpec, SecretRef
from dnsdr.engine.context import RunContext
from dnsdr.engine.executor import StepHandler
from dnsdr.engine.runtime import Runtime

WALL0 = 1_800_000_000.0
RUN_ID = "run-0001"


def resolver(ref: SecretRef) -> str:
    """Secrets resolve to a recognisable value per key."""
    return f"pw:{ref.secret_key}"


@dataclass
class VirtualClock:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def context(self, run_id: str = RUN_ID) -> RunContext:
        return RunContext(clock=self.clock, wall=self.wall, sleep=self.sleep, run_id=run_id)


def make_runtime(spec: DesignateDR, plan: Plan, cluster: FakeCluster, controllers: FakeControllers | None = None,
                 *, forces: frozenset[Force] = frozenset(), recorded_epoch: int = 0,
                 verify_timeout: float = 180.0, rebuilder: FakeRebuilder | None = None) -> Runtime:
    return Runtime(spec, plan, forces, resolver=resolver, node_factory=cluster.node_factory,
                   controller_factory=(controllers or FakeControllers()).factory, recorded_epoch=recorded_epoch,
                   verify_timeout=verify_timeout, rebuilder=rebuilder or FakeRebuilder())


def run_step(handler: StepHandler, step: Step) -> str:
    """What the executor does with one step: precondition, check, act, and the check must then pass."""
    handler.precondition(step)
    if handler.check(step) is None:
        return "already in effect"
    detail = handler.act(step)
    missing = handler.check(step)
    assert missing is None, f"{step.name}: acted but check says {missing}"
    return detail


# ---------------------------------------------------------------- databases


def _missing(target: str, have: str) -> str:
    return gtid.mariadb_missing(gtid.parse_mariadb_gtids(target), gtid.parse_mariadb_gtids(have))


class FakeNode:
    """A MariaDB server (gtid_strict_mode on). Positions are MariaDB GTID lists such as ``0-1-100``."""

    flavour = "mariadb"

    def __init__(self, spec: DatabaseSpec, server_id: int, clock: VirtualClock) -> None:
        self.spec = spec
        self.endpoint = str(spec.endpoint)
        self.server_id = server_id
        self.clock = clock
        self.up = True
        self.read_only = False
        self.source: Endpoint | None = None  # the replication channel, when configured
        self.io_running = "Yes"
        self.sql_running = "Yes"
        self.lag: float | None = 0.0
        self.heartbeat_age: float | None = 0.5
        self.binlog_pos = ""     # gtid_binlog_pos
        self.binlog_state = ""   # gtid_binlog_state
        self.current_pos = ""    # gtid_current_pos (what is applied)
        self.received = ""       # the channel's Gtid_IO_Pos
        self.client_sessions = 3
        # Knobs: what the server does when asked.
        self.fence_provable = True     # False: an account bypasses read_only (the probe write went through)
        self.applies_relay_log = True  # False: catch_up times out
        self.replication_starts = True
        self.calls: list[str] = []
        self.epoch: EpochRecord | None = None

    # --- shaping the server

    def as_primary(self, pos: str) -> FakeNode:
        self.read_only, self.source = False, None
        self.binlog_pos = self.binlog_state = self.current_pos = self.received = pos
        return self

    def as_replica(self, source: Endpoint, applied: str, received: str | None = None) -> FakeNode:
        self.read_only, self.source = True, source
        self.binlog_pos = self.binlog_state = self.current_pos = applied
        self.received = received if received is not None else applied
        return self

    def client_write(self, gtid_text: str) -> None:
        """A client commits here (on a replica: an errant transaction)."""
        self.binlog_pos = self.current_pos = gtid_text
        self.binlog_state = f"{self.binlog_state},{gtid_text}" if self.binlog_state else gtid_text

    # --- DatabaseAdapter

    def _session(self, what: str) -> None:
        self.calls.append(what)
        if not self.up:
            raise UnreachableError(self.endpoint, "Can't connect to MySQL server (111 Connection refused)")

    def observe(self) -> ReplicationState:
        if not self.up:
            return ReplicationState.unreachable(self.endpoint, self.flavour, f"{self.endpoint}: connection refused",
                                               at=self.clock.wall())
        channel = None
        if self.source is not None:
            channel = Channel(
                source_host=self.source.host, source_port=self.source.port, io_running=self.io_running,
                sql_running=self.sql_running, lag_seconds=self.lag, received=self.received,
                executed=self.current_pos, unapplied=gtid.mariadb_distance(gtid.parse_mariadb_gtids(self.received),
                                                                gtid.parse_mariadb_gtids(self.current_pos)),
                heartbeat_period=1.0,
                heartbeat_age_seconds=self.heartbeat_age, using_gtid="Slave_Pos")
        return ReplicationState(
            endpoint=self.endpoint, flavour=self.flavour, reachable=True, version="11.4.2-MariaDB",
            server_id=self.server_id, read_only=self.read_only, gtid_strict_mode=True,
            gtid_binlog_pos=self.binlog_pos, gtid_binlog_state=self.binlog_state, gtid_current_pos=self.current_pos,
            gtid_slave_pos=self.current_pos if channel else "", channel=channel, observed_at=self.clock.wall())

    def fence(self) -> FenceResult:
        self._session("fence")
        was = self.read_only
        self.read_only = True
        killed, self.client_sessions = self.client_sessions, 0
        proof = ("a write by account 'repl' was refused as read-only" if self.fence_provable
                 else "account 'repl' bypasses read_only (the server went past the read-only check: 1142)")
        return FenceResult(self.endpoint, not was or killed > 0,
                           f"fenced: read-only, {killed} client sessions killed", (proof,),
                           write_refused=self.fence_provable, proof=proof, killed_sessions=killed)

    def stop_io_thread(self) -> str:
        self._session("stop_io_thread")
        if self.source is None:
            return "not a replica: nothing to stop"
        was, self.io_running = self.io_running, "No"
        return "IO thread already stopped" if was == "No" else f"IO thread stopped (was {was})"

    def catch_up(self, timeout: float, until: str | None = None) -> CatchUpResult:
        self._session(f"catch_up({timeout:g}, until={until})")
        target = until if until is not None else self.received
        remaining = _missing(target, self.current_pos)
        if not remaining:
            return CatchUpResult(self.endpoint, False, f"already applied {target}", applied=True, target=target)
        if not self.applies_relay_log or self.sql_running != "Yes":
            self.clock.sleep(timeout)
            return CatchUpResult(self.endpoint, False, f"timed out after {timeout:.1f} s; still missing {remaining}",
                                 applied=False, waited_seconds=timeout, target=target, remaining=remaining)
        self.clock.sleep(0.2)
        self.current_pos = self.binlog_pos = self.binlog_state = target
        if _missing(target, self.received):
            self.received = target
        return CatchUpResult(self.endpoint, False, f"applied {target} after 0.2 s", applied=True,
                             waited_seconds=0.2, target=target)

    def promote(self, allow_unapplied: bool = False) -> PromoteResult:
        self._session(f"promote(allow_unapplied={allow_unapplied})")
        if self.source is None and not self.read_only:
            return PromoteResult(self.endpoint, False, "already a writable primary; nothing changed",
                                 position=self.current_pos)
        details = []
        remaining = _missing(self.received, self.current_pos) if self.source else ""
        if remaining and not allow_unapplied:
            raise OperationRefused(self.endpoint, "refusing to promote: received transactions are not applied yet "
                                   f"({remaining}); run catch_up first", (remaining,))
        if remaining:
            details.append(f"discarded unapplied transactions: {remaining}")
        self.source, self.read_only = None, False
        return PromoteResult(self.endpoint, True, "promoted: now a writable primary (write proven)",
                             tuple(details), write_proven=True, position=self.current_pos)

    def repoint(self, source: DatabaseSpec, source_password: str, source_state: ReplicationState,
                settle_seconds: float = 10.0) -> RepointResult:
        self._session(f"repoint({source.endpoint}, {source_password})")
        src = str(source.endpoint)
        if not source_state.reachable:
            raise OperationRefused(self.endpoint, f"new source {src} is not reachable: {source_state.error}")
        errant = errant_transactions(self.observe(), source_state)
        if errant:
            raise OperationRefused(self.endpoint, f"refusing to replicate from {src}: this server holds "
                                   f"{len(errant)} errant transaction ranges {src} never had: {', '.join(errant)}",
                                   errant)
        if self.source == source.endpoint and self.io_running == "Yes" and self.sql_running == "Yes" \
                and self.read_only:
            return RepointResult(self.endpoint, False, f"already replicating from {src}; nothing changed",
                                 source=src, start_position=self.current_pos)
        self.read_only, self.source = True, source.endpoint
        if not self.replication_starts:
            self.io_running, self.sql_running = "No", "No"
            raise DatabaseError(self.endpoint, f"replication from {src} did not start: IO No 1045 Access denied")
        self.io_running = self.sql_running = "Yes"
        self.received = self.current_pos
        return RepointResult(self.endpoint, True, f"now a read-only GTID replica of {src} from {self.current_pos}",
                             source=src, start_position=self.current_pos)


@dataclass
class FakeRebuilder:
    """Divergence as the test says (default: errant transactions that change nothing in Designate) and a
    rebuild that makes the fake server a copy of its source."""

    result: Divergence | Exception | None = None
    left_interrupted: bool = False
    fail: Exception | None = None
    calls: list[str] = field(default_factory=list)

    def divergence(self, old: Any, new: Any, old_state: ReplicationState, new_state: ReplicationState,
                   returning: str, primary: str, errant: tuple[str, ...]) -> Divergence:
        self.calls.append(f"divergence {returning} {primary} {','.join(errant)}")
        if isinstance(self.result, Exception):
            raise self.result
        return self.result or compare(Snapshot(returning), Snapshot(primary), Split(errant, frozenset()))

    def interrupted(self, node: Any) -> bool:
        return self.left_interrupted

    def rebuild(self, node: Any, source: Any) -> RebuildResult:
        self.calls.append(f"rebuild {node.endpoint} from {source.endpoint}")
        if self.fail is not None:
            raise self.fail
        node.binlog_pos = node.binlog_state = ""
        node.current_pos = source.current_pos
        self.left_interrupted = False
        return RebuildResult(source.current_pos, ("designate", "dnsdr"), (), 42)


class FakeCluster:
    """One fake server per region with a database: r1 is server 1, r2 server 2, and so on."""

    def __init__(self, spec: DesignateDR, clock: VirtualClock) -> None:
        self.nodes: dict[str, FakeNode] = {}
        for i, region in enumerate(spec.regions, start=1):
            if region.database is not None:
                self.nodes[region.name] = FakeNode(region.database, i, clock)
        self.built: list[str] = []  # endpoints the runtime asked the factory for

    def __getitem__(self, region: str) -> FakeNode:
        return self.nodes[region]

    def _by_spec(self, spec: DatabaseSpec) -> FakeNode:
        return next(n for n in self.nodes.values() if n.spec.endpoint == spec.endpoint)

    def node_factory(self, spec: DatabaseSpec, resolve: Any) -> Any:
        resolve(spec.password)
        self.built.append(str(spec.endpoint))
        return self._by_spec(spec)

    def adapter_for(self, spec: DatabaseSpec, **_: Any) -> Any:
        """Stands in for ``dnsdr.adapters.mysql.adapter_for`` (what ``repoint`` builds for the source)."""
        return self._by_spec(spec)


def read_epoch(node: Any) -> EpochRecord | None:
    """In-memory ``read_epoch``: the epoch row lives on the fake node."""
    record: EpochRecord | None = node.epoch
    return record


def write_epoch(node: Any, record: EpochRecord) -> None:
    node.epoch = record


# ---------------------------------------------------------------- service control


class FakeControllers:
    """The controller factory; ``calls`` holds (region, action, detail) in order, ``fail`` (region, action)."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []
        self.fail: dict[tuple[str, str], str] = {}
        self.log = log if log is not None else []

    def factory(self, region: RegionSpec) -> FakeController:
        return FakeController(self, region.name)


class FakeController:
    def __init__(self, owner: FakeControllers, region: str) -> None:
        self.owner, self.region = owner, region

    def _call(self, action: str, detail: Sequence[str]) -> None:
        message = self.owner.fail.get((self.region, action))
        if message is not None:
            raise ServiceControlError(f"{action} in {self.region} failed (exit 255): {message}")
        self.owner.calls.append((self.region, action, tuple(detail)))
        self.owner.log.append(f"{action} {self.region} {','.join(detail)}")

    def stop(self, services: Sequence[str] = STOP_ORDER) -> None:
        self._call("stop", services)

    def start(self, services: Sequence[str] = START_ORDER) -> None:
        self._call("start", services)

    def restart(self, services: Sequence[str]) -> None:
        self._call("restart", services)

    def repoint(self, database: Endpoint) -> None:
        self._call("repoint", [str(database)])
